"""The manager's report and the sort sheets: KPIs shown, figures drawn, user text escaped."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from courier.i18n import Text
from courier.io import safe_filename as sheet_filename
from courier.io import write_files
from courier.model import (
    Courier,
    DayPlan,
    Parcel,
    Reject,
    Snap,
    Station,
    Stop,
    Trip,
    Unassigned,
    Visit,
)
from courier.report import report_files, sort_sheet_files, summary
from courier.sortplan import sort_plan

XSS = "<img src=x onerror=alert(1)>"
XSS_ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
H = 3600


EN = Text("en")


def write_report(plan: DayPlan, data: dict, out: Path, t: Text = EN) -> Path:
    write_files(out, report_files(plan, data, t=t))
    return out / "report.html"


def write_sort_sheets(plan: DayPlan, out: Path, t: Text = EN) -> list[Path]:
    return write_files(out, sort_sheet_files(plan, t=t))


def _stop(stop_id: str, parcel_ids: tuple[str, ...], *, address: str = "",
          windows_s: tuple[tuple[int, int], ...] = (), pickups: int = 0) -> Stop:
    snap = Snap(edge=0, fraction=0.5, distance_m=3.0, lon=116.4, lat=39.9)
    return Stop(stop_id=stop_id, parcel_ids=parcel_ids, lon=116.4, lat=39.9, snap=snap,
                service_s=300, windows_s=windows_s, delivery_parcels=len(parcel_ids) - pickups,
                delivery_kg=1.0, delivery_l=5.0, pickup_parcels=pickups, address=address)


def _plan() -> DayPlan:
    """Two couriers, three trips, six stops, ten routed parcels (P10 is a pickup).

    C1 trip 1: S1 (P01 P02), S2 (P03, waits 10 min for its window), S3 (P04, pickup P10)
    C1 trip 2: S4 (P05 P06)
    快递/02 trip 1: S5 (P07), S6 (P08 P09, late for its window)
    P11 is unassigned, input row 14 is rejected: 12 input parcels in all.
    """
    couriers = (
        Courier("C1", "van", 6, 100.0, 500.0, 8 * H, 17 * H, name=f"Ann {XSS}"),
        Courier("快递/02", "bike", 4, 30.0, 120.0, 8 * H, 17 * H, name="Bo"),
    )
    addresses = {f"P{i:02d}": f"{i} Main St" for i in range(1, 12)}
    addresses["P03"] = f"7 Elm St {XSS}"
    parcels = tuple(
        Parcel(pid, row=i + 2, lon=116.4, lat=39.9, address=addr,
               kind="pickup" if pid == "P10" else "delivery")
        for i, (pid, addr) in enumerate(addresses.items())
    )
    stops = (
        _stop("S1", ("P01", "P02"), address="1 Main St"),
        _stop("S2", ("P03",), address=f"7 Elm St {XSS}", windows_s=((30600, 32400),)),
        _stop("S3", ("P04", "P10"), address="4 Main St", pickups=1),
        _stop("S4", ("P05", "P06"), address="5 Main St"),
        _stop("S5", ("P07",), address="7 Main St"),
        _stop("S6", ("P08", "P09"), address="8 Main St", windows_s=((28800, 29000),)),
        _stop("S7", ("P11",), address="11 Main St"),
    )
    trips = (
        Trip("C1", 1, 8 * H, 9 * H, (
            Visit("S1", 1, 29400, 29400, 29700),
            Visit("S2", 2, 30000, 30600, 30780),
            Visit("S3", 3, 31200, 31200, 31500),
        ), distance_m=5200, load_parcels=4, load_kg=4.0, load_l=20.0),
        Trip("C1", 2, 33000, 34800, (Visit("S4", 1, 33600, 33600, 33900),),
             distance_m=3100, load_parcels=2, load_kg=2.0, load_l=10.0),
        Trip("快递/02", 1, 8 * H, 31500, (
            Visit("S5", 1, 29100, 29100, 29400),
            Visit("S6", 2, 30000, 30000, 30300),
        ), distance_m=4400, load_parcels=3, load_kg=3.0, load_l=15.0),
    )
    lines = sort_plan(trips, {s.stop_id: s for s in stops}, {p.parcel_id: p for p in parcels},
                      bag_capacity_parcels=2)
    return DayPlan(
        station=Station(116.4, 39.9, name="North hub"), couriers=couriers, parcels=parcels,
        stops=stops, trips=trips,
        unassigned=(Unassigned("P11", "S7", "dropped", f"no room {XSS}"),),
        rejects=(Reject(14, "P12", "lon", "abc", "not a number"),),
        sort_lines=lines, seed=7, input_count=12, streets_source="tiny.osm",
    )


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[DayPlan, Path, list[Path]]:
    plan = _plan()
    out = tmp_path_factory.mktemp("out")
    report = write_report(plan, summary(plan), out)
    sheets = write_sort_sheets(plan, out)
    return plan, report, sheets


def test_report_shows_the_kpis_of_summary(written: tuple[DayPlan, Path, list[Path]]) -> None:
    plan, report, _ = written
    data = summary(plan)
    assert data["parcels"] == {"input": 12, "planned": 10, "unassigned": 1, "rejected": 1,
                               "adds_up": True}
    totals = data["totals"]
    assert totals["distance_m"] == 12700 and totals["duration_s"] == 8700
    text = report.read_text(encoding="utf-8")
    cards = {
        label: value for value, label in
        re.findall(r'<div class="kpi(?: warn)?"><b>([^<]*)</b><span>([^<]*)</span>', text)
    }
    assert cards["parcels planned"] == "10"
    assert cards["parcels unassigned"] == "1"
    assert cards["input rows rejected"] == "1"
    assert cards["km driven"] == "12.7"
    assert cards["courier hours"] == "2.4"  # 8700 s
    assert cards["parcels per courier-hour"] == f"{totals['parcels_per_courier_hour']:.1f}" == "4.1"
    assert cards["stops on time"] == "83.3 %"  # S6 is late: 5 of 6
    assert cards["balance: longest / shortest day over mean"] == "1.38 / 0.62"
    # Unassigned by reason, and the courier table with first departure and last return.
    assert "<td>dropped</td><td class=n>1</td>" in text
    assert re.search(r"<td>C1</td>.*?<td class=n>2</td><td class=n>4</td><td class=n>6</td>"
                     r"<td class=n>8.3</td><td class=n>1.67</td><td class=n>08:00</td>"
                     r"<td class=n>09:40</td>", text)
    for name in ("workload.png", "arrivals.png", "load.png"):
        assert f'src="figures/{name}"' in text


def test_figures_are_real_deterministic_pngs(written: tuple[DayPlan, Path, list[Path]],
                                             tmp_path: Path) -> None:
    from matplotlib.image import imread

    plan, report, _ = written
    for name in ("workload.png", "arrivals.png", "load.png"):
        path = report.parent / "figures" / name
        data = path.read_bytes()
        assert data[:8] == PNG_MAGIC
        assert len(data) > 5000
        pixels = imread(path)
        assert pixels.shape[0] > 300 and pixels.shape[1] > 500
        assert pixels.std() > 0.05  # drawn on, not a blank canvas
    again = write_report(plan, summary(plan), tmp_path)
    for name in ("workload.png", "arrivals.png", "load.png"):
        assert (again.parent / "figures" / name).read_bytes() == \
            (report.parent / "figures" / name).read_bytes()
    assert again.read_text(encoding="utf-8") == report.read_text(encoding="utf-8")


def test_user_text_is_escaped_and_nothing_is_loaded(written: tuple[DayPlan, Path, list[Path]]) -> None:
    _, report, sheets = written
    text = report.read_text(encoding="utf-8")
    assert XSS not in text
    assert f"Ann {XSS_ESCAPED}" in text  # courier name
    assert "capacity and time were used for other stops" in text  # what "dropped" means
    sheet = next(p for p in sheets if p.name == "sort-C1.html").read_text(encoding="utf-8")
    assert XSS not in sheet
    assert f"7 Elm St {XSS_ESCAPED}" in sheet  # address
    assert f"Ann {XSS_ESCAPED}" in sheet
    for page in [text] + [p.read_text(encoding="utf-8") for p in sheets]:
        assert "<script" not in page and "<link" not in page
        assert "http://" not in page and "https://" not in page


def test_sort_sheet_bags_are_in_load_order(written: tuple[DayPlan, Path, list[Path]]) -> None:
    _, _, sheets = written
    text = next(p for p in sheets if p.name == "sort-C1.html").read_text(encoding="utf-8")
    assert "position 1 goes in first" in text
    labels = re.findall(r"<div class=label>([^<]*)</div>", text)
    assert labels == ["C1 · Trip 1 · Bag 1", "C1 · Trip 1 · Bag 2", "C1 · Trip 2 · Bag 1"]
    size = re.search(r"\.label\{font-size:(\d+)px", text)
    assert size is not None and int(size.group(1)) >= 48
    # Trip 1 delivers P01 P02 | P03 P04: positions restart in each bag, 2 1 | 2 1, and a bag
    # is packed from 1 up (its last stop first).
    rows = re.findall(r"<td class='n pos'>(\d+)</td><td class=pid>(P\d\d)</td><td class=n>(\d+)</td>", text)
    assert rows[:4] == [("1", "P02", "1"), ("2", "P01", "1"), ("1", "P04", "3"), ("2", "P03", "2")]
    assert "chute 1" in text
    # The pickup is not in a bag: it is listed apart, to collect on the way.
    bags = text.split("collect on the way")
    assert "P10" not in bags[0] and "P10" in bags[1]
    assert "@media print" in text and "size:A4" in text and "page-break-inside:avoid" in text


def test_sheet_file_names_are_safe(written: tuple[DayPlan, Path, list[Path]]) -> None:
    _, report, every = written
    sheets = [p for p in every if p.name.startswith("sort-")]
    assert [p.parent for p in sheets] == [report.parent / "sheets"] * 2
    assert sheets[0].name == "sort-C1.html"
    assert re.fullmatch(r"sort-___02-[0-9a-f]{8}\.html", sheets[1].name)
    assert "快递/02 · Trip 1 · Bag 1" in sheets[1].read_text(encoding="utf-8")
    for cid in ("../x", "..", "a\\b", "a b", "CON", "x\x00y", "", "/etc/passwd", "a?b"):
        stem = sheet_filename(cid)
        assert stem and re.fullmatch(r"[\w-]+", stem), (cid, stem)
        assert stem != cid or cid == "C1"
    assert sheet_filename("a/b") != sheet_filename("a?b")
    assert sheet_filename("C003") == "C003"


def test_empty_plan_still_writes_a_report_and_sheets(tmp_path: Path) -> None:
    full = _plan()
    plan = DayPlan(station=full.station, couriers=full.couriers, parcels=(), stops=(), trips=(),
                unassigned=(), rejects=(), sort_lines=())
    report = write_report(plan, summary(plan), tmp_path)
    assert "<b>0</b><span>parcels planned" in report.read_text(encoding="utf-8")
    sheets = write_sort_sheets(plan, tmp_path)
    assert len(sheets) == 2
    assert "No parcels for this courier today" in sheets[0].read_text(encoding="utf-8")


def test_chute_sheets_list_the_bags_in_filling_order(
        written: tuple[DayPlan, Path, list[Path]]) -> None:
    _, _, sheets = written
    chutes = [p for p in sheets if p.name.startswith("chute-")]
    assert [p.name for p in chutes] == ["chute-1.html", "chute-2.html"]  # one per courier
    text = chutes[0].read_text(encoding="utf-8")
    assert "<h1>Chute 1</h1>" in text
    labels = re.findall(r"<div class=label>([^<]*)</div>", text)
    assert labels == ["C1 · Trip 1 · Bag 1", "C1 · Trip 1 · Bag 2", "C1 · Trip 2 · Bag 1"]
    ids = re.findall(r"<td class=pid>(P\d\d)</td>", text)
    assert ids == ["P02", "P01", "P04", "P03", "P06", "P05"]  # each bag from position 1 up
    assert "P07" not in text and "P10" not in text  # the other courier's, and the pickup


def test_pages_are_chinese_by_default_and_declare_their_language(tmp_path: Path) -> None:
    plan = _plan()
    report = write_report(plan, summary(plan), tmp_path / "zh", t=Text())
    text = report.read_text(encoding="utf-8")
    assert text.startswith('<!DOCTYPE html>\n<html lang="zh-CN">')
    assert "<span>已安排包裹</span>" in text and "派送计划 – North hub" in text
    assert "parcels planned" not in text
    sheet = write_sort_sheets(plan, tmp_path / "zh", t=Text())[0].read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in sheet and "C1 · 第1趟 · 1号袋" in sheet and "装袋方法" in sheet
    english = write_report(plan, summary(plan), tmp_path / "en").read_text(encoding="utf-8")
    assert english.startswith('<!DOCTYPE html>\n<html lang="en">') and "已安排" not in english
