"""Parcel labels: one per delivered parcel, QR codes that scan, pages that print on A4 and thermal."""

from __future__ import annotations

import base64
import math
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import NEEDS_CHROMIUM, chromium

from courier import labels
from courier.i18n import Text
from courier.io import safe_filename, write_files
from courier.labels import LABELS_PER_SHEET, LabelCode, label_code, label_files, read_label_code
from courier.model import Courier, DayPlan, Parcel, Snap, SortLine, Station, Stop, Trip, Visit
from courier.sortplan import sort_plan

H = 3600
XSS = "<script>window.__xss = 1</script>"
ODD = "快递|02<i>"  # a '|' in an id: the QR fields must not split on it
SHOTS = Path("/tmp/shots")


def _stop(stop_id: str, parcel_ids: tuple[str, ...], address: str, pickups: int = 0) -> Stop:
    snap = Snap(edge=0, fraction=0.5, distance_m=3.0, lon=114.05, lat=22.54)
    return Stop(stop_id=stop_id, parcel_ids=parcel_ids, lon=114.05, lat=22.54, snap=snap,
                service_s=300, windows_s=(), delivery_parcels=len(parcel_ids) - pickups,
                delivery_kg=1.0, delivery_l=5.0, pickup_parcels=pickups, address=address)


def _trip(courier_id: str, trip: int, stop_ids: list[str], start_s: int) -> Trip:
    visits = tuple(Visit(s, i + 1, start_s + 600 * (i + 1), start_s + 600 * (i + 1),
                         start_s + 600 * (i + 1) + 300) for i, s in enumerate(stop_ids))
    return Trip(courier_id, trip, start_s, start_s + 3 * H, visits, distance_m=5000,
                load_parcels=len(visits), load_kg=1.0, load_l=5.0)


def make_plan() -> DayPlan:
    """C1 (小李): 26 deliveries on two trips and a pickup, so two A4 sheets; ODD: two
    deliveries with odd ids; C3: no trip. Bags of 6."""
    roads = ["深南大道", "福华路", "金田路", "益田路", "彩田路", "滨河大道", "红荔路", "新洲路",
             "香蜜湖路", "景田路", "莲花路", "北环大道", "皇岗路"]
    parcels: list[Parcel] = []
    stops: list[Stop] = []
    for i, road in enumerate(roads):
        pids = (f"SF{1000 + 2 * i}", f"SF{1001 + 2 * i}")
        stops.append(_stop(f"S{i + 1}", pids, f"深圳市福田区{road} {i + 1} 号 {i + 2} 栋 {i + 3}0{i} 室"))
        parcels += [Parcel(pid, row=len(parcels) + 2, lon=114.05, lat=22.54,
                           address=stops[-1].address, recipient=f"王{road[0]}",
                           phone=f"1381234{i:02d}{k:02d}") for k, pid in enumerate(pids)]
    # An address a page could run: S3's first parcel.
    parcels[4] = Parcel("SF1004", row=6, lon=114.05, lat=22.54, address=f"金田路 {XSS}",
                        recipient=f"张三 {XSS}", phone="13700002222")
    parcels.append(Parcel("R1", row=40, lon=114.05, lat=22.54, kind="pickup", address="退货"))
    stops[2] = _stop("S3", (*stops[2].parcel_ids, "R1"), stops[2].address, pickups=1)
    odd_ids = ("P|1:%", "包裹2")
    parcels += [Parcel(pid, row=50 + k, lon=114.05, lat=22.54, address="莲花路 9 号")
                for k, pid in enumerate(odd_ids)]
    stops.append(_stop("S20", odd_ids, "莲花路 9 号"))
    couriers = (
        Courier("C1", "etricycle", 40, 200.0, 1000.0, 8 * H, 20 * H, name="小李"),
        Courier(ODD, "van", 40, 200.0, 1000.0, 8 * H, 20 * H, name=f"Bo {XSS}"),
        Courier("C3", "walker", 10, 20.0, 100.0, 8 * H, 20 * H),
    )
    trips = (
        _trip("C1", 1, [f"S{i}" for i in range(1, 9)], 8 * H),
        _trip("C1", 2, [f"S{i}" for i in range(9, 14)], 13 * H),
        _trip(ODD, 1, ["S20"], 8 * H),
    )
    lines = sort_plan(trips, {s.stop_id: s for s in stops}, {p.parcel_id: p for p in parcels},
                      bag_capacity_parcels=6)
    return DayPlan(station=Station(114.05, 22.54, name="福田站"), couriers=couriers,
                   parcels=tuple(parcels), stops=tuple(stops), trips=trips, unassigned=(),
                   rejects=(), sort_lines=lines)


@pytest.fixture(scope="module")
def plan() -> DayPlan:
    return make_plan()


@pytest.fixture(scope="module")
def files(plan: DayPlan) -> dict[str, str]:
    return label_files(plan)


def _codes(page: str) -> list[LabelCode]:
    """The labels' codes in page order, read from their data-code attributes."""
    import html

    return [read_label_code(html.unescape(c)) for c in re.findall(r'data-code="([^"]*)"', page)]


def _expected(plan: DayPlan, courier_id: str) -> list[LabelCode]:
    lines = sorted((s for s in plan.sort_lines if s.courier_id == courier_id and s.bag > 0),
                   key=lambda s: (s.trip, s.bag, s.load_position))
    return [LabelCode(s.parcel_id, s.courier_id, s.trip, s.bag, s.load_position) for s in lines]


def _file(courier_id: str) -> str:
    return f"labels/labels-{safe_filename(courier_id)}.html"


def test_every_delivered_parcel_has_one_label_in_its_couriers_file_in_sort_order(
        plan: DayPlan, files: dict[str, str]) -> None:
    # C3 has no trip: no page. The pickup R1 gets no label, and the page says so.
    assert set(files) == {_file("C1"), _file(ODD)}
    assert all("/" not in name.removeprefix("labels/") for name in files)
    labelled = Counter(c.parcel_id for page in files.values() for c in _codes(page))
    delivered = {s.parcel_id for s in plan.sort_lines if s.bag > 0}
    assert set(labelled) == delivered and set(labelled.values()) == {1}
    assert "R1" not in labelled and any(s.parcel_id == "R1" for s in plan.sort_lines)
    for cid in ("C1", ODD):
        assert _codes(files[_file(cid)]) == _expected(plan, cid)  # the sorter's order
    c1 = files[_file("C1")]
    assert len(_codes(c1)) == 26 and c1.count("<section class=sheet>") == 2  # 24 + 2
    assert "1件揽收件没有标签" in c1


def test_codes_drawn_on_every_core_are_the_same_pages(plan: DayPlan, files: dict[str, str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(labels, "_PARALLEL_FROM", 1)  # a big day's path, on this small one
    assert labels.label_files(plan) == files


def test_the_qr_text_is_ascii_and_round_trips_ids_with_separators() -> None:
    line = SortLine(parcel_id="P|1:%中", courier_id="快递|02", trip=2, bag=3, load_position=14,
                    stop_id="S1", seq=5)
    code = label_code(line)
    assert code.isascii() and code.count("|") == 4
    assert code == "P:P%7C1%3A%25%E4%B8%AD|C:%E5%BF%AB%E9%80%92%7C02|T:2|B:3|N:14"
    assert read_label_code(code) == LabelCode("P|1:%中", "快递|02", 2, 3, 14)
    assert read_label_code("P:SF1|C:C1|T:1|B:2|N:3|K:7") == LabelCode("SF1", "C1", 1, 2, 3)
    with pytest.raises(ValueError, match=r"no C: field; B:'x' is not a whole number"):
        read_label_code("P:SF1|T:1|B:x|N:3")


def test_user_text_is_escaped_and_phones_are_masked(files: dict[str, str]) -> None:
    c1, odd = files[_file("C1")], files[_file(ODD)]
    assert "金田路 &lt;script&gt;window.__xss = 1&lt;/script&gt;" in c1
    assert "张三 &lt;script&gt;" in c1
    assert "Bo &lt;script&gt;" in odd and "快递|02&lt;i&gt;" in odd
    for page in files.values():
        assert page.count("<script") == 1  # ours, nothing from the data
        assert "<i>" not in page
    assert "13812340000" not in c1 and "138****0000" in c1
    assert "13700002222" not in c1 and "137****2222" in c1


def test_the_page_is_in_the_stations_language(plan: DayPlan, files: dict[str, str]) -> None:
    zh = files[_file("C1")]
    assert zh.startswith('<!DOCTYPE html><html lang="zh-CN"><head><meta charset=utf-8>')
    assert all(word in zh for word in ("<dt>趟次</dt>", "<dt>袋号</dt>", "<dt>装袋序</dt>", "<dt>站点</dt>", "26张标签", "小李"))
    en = label_files(plan, t=Text("en"))[_file("C1")]
    assert '<html lang="en">' in en
    assert all(word in en for word in ("<dt>Trip</dt>", "<dt>Bag</dt>", "<dt>Position</dt>",
                                       "<dt>Stop</dt>", "26 labels", "1 pickup has no label"))


def test_a_written_plan_holds_a_label_page_per_courier(tmp_path: Path) -> None:
    from conftest import DATA

    from courier import app
    from courier.config import PlanConfig

    inputs = app.read_inputs(streets=DATA / "tiny_town.osm", parcels=DATA / "parcels_tiny.csv",
                             couriers=DATA / "couriers_tiny.csv", station=(114.0, 22.5))
    plan = app.run(inputs, PlanConfig(time_limit_s=10, solution_limit=50, workers=1))
    plan.write(tmp_path, tiles="none")
    lines = [s for s in plan.result.sort_lines if s.bag > 0]
    assert lines
    written = {p.relative_to(tmp_path).as_posix(): p for p in (tmp_path / "labels").glob("*")}
    assert set(written) == {_file(cid) for cid in {s.courier_id for s in lines}}
    codes = [c for p in written.values() for c in _codes(p.read_text(encoding="utf-8"))]
    assert sorted(codes, key=lambda c: c.parcel_id) == sorted(
        (LabelCode(s.parcel_id, s.courier_id, s.trip, s.bag, s.load_position) for s in lines),
        key=lambda c: c.parcel_id)


# --------------------------------------------------------------------------------------------
# In the browser: the codes scan from the screen, and the pages print as they should


browser = NEEDS_CHROMIUM


@pytest.fixture(scope="module")
def pages(files: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("labels")
    write_files(out, files)  # type: ignore[arg-type]
    return out


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    with chromium() as drv:
        yield drv


def _open(driver: Any, page: Path, query: str = "") -> None:
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "screen"})
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": 900, "height": 1200, "deviceScaleFactor": 2, "mobile": False})
    driver.get_log("browser")
    driver.get(page.as_uri() + query)
    # A viewport as tall as the page: the screenshot holds every label.
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": 900, "height": int(height), "deviceScaleFactor": 2, "mobile": False})


def _decode_screenshot(driver: Any, name: str) -> list[LabelCode]:
    import zxingcpp
    from PIL import Image

    SHOTS.mkdir(exist_ok=True)
    path = SHOTS / name
    driver.save_screenshot(str(path))
    with Image.open(path) as image:
        found = zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    return [read_label_code(code.text) for code in found]


def _as_planned(codes: list[LabelCode], expected: list[LabelCode]) -> None:
    by_parcel = {c.parcel_id: c for c in expected}
    for code in codes:
        assert code == by_parcel[code.parcel_id], f"{code} is not the sort plan's {code.parcel_id}"


@browser
@pytest.mark.browser
@pytest.mark.parametrize("fmt", ["a4", "thermal"])
def test_the_qr_codes_scan_from_a_screenshot(plan: DayPlan, pages: Path, driver: Any,
                                             fmt: str) -> None:
    _open(driver, pages / _file("C1"), f"?format={fmt}")
    assert driver.execute_script("return document.body.className") == f"fmt-{fmt}"
    codes = _decode_screenshot(driver, f"labels-{fmt}.png")
    expected = _expected(plan, "C1")
    assert len(codes) >= 4, f"only {len(codes)} QR codes decoded"
    assert len({c.parcel_id for c in codes}) == len(codes)
    _as_planned(codes, expected)  # each names a C1 parcel with its trip, bag and position
    assert not [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert driver.execute_script("return typeof window.__xss") == "undefined"


@browser
@pytest.mark.browser
def test_odd_ids_scan_back_whole(plan: DayPlan, pages: Path, driver: Any) -> None:
    _open(driver, pages / _file(ODD))
    codes = _decode_screenshot(driver, "labels-odd.png")
    assert sorted(codes, key=lambda c: c.parcel_id) == sorted(
        _expected(plan, ODD), key=lambda c: c.parcel_id)


def _pdf_pages(driver: Any) -> list[tuple[float, float]]:
    """Print the page as Chromium does (its @page size) and return each page's size in mm."""
    pdf = base64.b64decode(driver.execute_cdp_cmd("Page.printToPDF", {
        "preferCSSPageSize": True, "printBackground": True})["data"])
    count = len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))
    mm = 25.4 / 72  # PDF points
    boxes = [(float(w) * mm, float(h) * mm) for _x, _y, w, h in (
        m.split() for m in re.findall(rb"/MediaBox\s*\[([^\]]+)\]", pdf))]
    assert len(boxes) == count, "every page has its own MediaBox"
    return boxes


@browser
@pytest.mark.browser
def test_a4_prints_24_labels_a_sheet_and_thermal_one_a_label(pages: Path, driver: Any) -> None:
    page = pages / _file("C1")
    _open(driver, page)
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    style = driver.execute_script(
        "var l = document.querySelector('.label'), s = getComputedStyle(l);"
        "return [getComputedStyle(document.querySelector('.bar')).display, s.width, s.height,"
        " s.breakInside, document.querySelectorAll('.sheet')[0].children.length]")
    assert style[0] == "none"  # no toolbar on paper
    assert math.isclose(float(style[1][:-2]), 70 / 25.4 * 96, abs_tol=0.1)  # 70 x 36 mm
    assert math.isclose(float(style[2][:-2]), 36 / 25.4 * 96, abs_tol=0.1)
    assert style[3] == "avoid" and style[4] == LABELS_PER_SHEET
    a4 = _pdf_pages(driver)
    assert len(a4) == 2  # 26 labels: 24 + 2
    assert all(math.isclose(w, 210, abs_tol=1) and math.isclose(h, 297, abs_tol=1) for w, h in a4)

    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "screen"})
    driver.find_element("css selector", "#format option[value=thermal]").click()
    assert driver.execute_script("return document.body.className") == "fmt-thermal"
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})  # as printing is
    thermal = _pdf_pages(driver)
    assert len(thermal) == 26
    assert all(math.isclose(w, 100, abs_tol=1) and math.isclose(h, 150, abs_tol=1)
               for w, h in thermal)
