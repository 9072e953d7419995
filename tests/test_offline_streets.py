"""Streets without a network: the map pages carry the streets around their routes, and Chinese.

A courier's phone often has no signal in a stairwell or a basement garage; the tiles then fail
and the page must still show the streets (and their names) the route runs along.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import NEEDS_CHROMIUM, chromium
from test_maps import EN, decode, make_plan, page_data

from courier import app, maps
from courier.config import PlanConfig
from courier.coords import wgs84_to_gcj02
from courier.i18n import Text
from courier.io import write_files
from courier.model import DayPlan

SHOTS = Path("/tmp/shots")  # screenshots to look at
PAGE_LIMIT_KB = 600  # a courier page is opened on a phone over a weak signal, once a day
# The demo planned briefly: its maps need the streets and some routes, not a good plan.
QUICK = PlanConfig(time_limit_s=3, solution_limit=20, workers=1)


@pytest.fixture(scope="module")
def demo() -> app.Plan:
    return app.run(app.demo_inputs(), QUICK)


@pytest.fixture(scope="module")
def demo_pages(demo: app.Plan) -> dict[str, str]:
    return maps.map_pages(demo.result, districts=demo.districts, graph=demo.graph)


def _courier_pages(pages: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in pages.items() if "/courier-" in k}


def _route_box(data: dict[str, Any]) -> tuple[float, float, float, float]:
    (lat0, lon0), (lat1, lon1) = data["bounds"]
    return lat0, lon0, lat1, lon1


def test_courier_pages_carry_the_streets_around_their_routes(demo: app.Plan,
                                                             demo_pages: dict[str, str]) -> None:
    graph = demo.graph
    # As the pages round (numpy's rounding: half-way cases differ from round()'s).
    nodes = set(map(tuple, np.round(np.column_stack([graph.node_lat, graph.node_lon]),
                                    6).tolist()))
    names = set(graph.edge_name) - {""}
    pages = _courier_pages(demo_pages)
    assert len(pages) >= 2
    for key, page in pages.items():
        streets = page_data(page)["streets"]
        lines = [decode(flat) for flat in streets["lines"]]
        assert len(lines) > 100, key
        points = [p for line in lines for p in line]
        # Simplified, but every point drawn is an OSM node of the graph (no invented corner).
        assert set(points) <= nodes
        # A two-way street is one line, not one per direction.
        segments = [frozenset(pair) for line in lines for pair in itertools.pairwise(line)]
        assert len(segments) == len(set(segments)), key
        # Around the route: within its box and the margin (a line reaching out of it is cut
        # nowhere, so a street's far end may lie out by its own length).
        lat0, lon0, lat1, lon1 = _route_box(page_data(page))
        inside = [lat0 <= lat <= lat1 and lon0 <= lon <= lon1 for lat, lon in points]
        assert sum(inside) > len(points) / 2, key
        margin = 2 * maps._STREETS_MARGIN_M / 111_320
        for line in lines:
            assert any(lat0 - margin <= lat <= lat1 + margin
                       and lon0 - margin / math.cos(math.radians(lat)) <= lon
                       <= lon1 + margin / math.cos(math.radians(lat))
                       for lat, lon in line), key
        # Names where OSM has them, placed on a street, the first ones from zoom 16.
        labels = streets["names"]
        assert len(labels) > 20 and {label[3] for label in labels} <= names
        assert min(label[4] for label in labels) == 16
        assert all(-90 < label[2] <= 90 for label in labels)  # never upside down


def test_demo_courier_pages_stay_small(demo: app.Plan, demo_pages: dict[str, str]) -> None:
    with_kb = [len(p.encode()) / 1024 for p in _courier_pages(demo_pages).values()]
    bare = maps.map_pages(demo.result, districts=demo.districts)
    without_kb = [len(p.encode()) / 1024 for p in _courier_pages(bare).values()]
    sizes = (f"courier pages, KB min/median/max: without streets {min(without_kb):.0f}/"
             f"{statistics.median(without_kb):.0f}/{max(without_kb):.0f}, with "
             f"{min(with_kb):.0f}/{statistics.median(with_kb):.0f}/{max(with_kb):.0f}")
    assert max(with_kb) < PAGE_LIMIT_KB, sizes
    assert min(w - b for w, b in zip(with_kb, without_kb, strict=True)) > 10, sizes
    # The overview gets the streets too and stays light.
    assert len(demo_pages["maps/overview.html"].encode()) / 1024 < PAGE_LIMIT_KB


def test_a_big_graph_keeps_its_longest_streets_within_the_budget(
        demo: app.Plan, monkeypatch: pytest.MonkeyPatch) -> None:
    cid = demo.result.trips[0].courier_id
    full = page_data(maps.courier_map(demo.result, cid, graph=demo.graph))["streets"]
    monkeypatch.setattr(maps, "_STREETS_BUDGET_BYTES", 4_000)
    cut = page_data(maps.courier_map(demo.result, cid, graph=demo.graph))["streets"]
    assert 0 < len(cut["lines"]) < len(full["lines"])
    assert sum(len(json.dumps(line, separators=(",", ":"))) for line in cut["lines"]) <= 4_000

    def length_m(flat: list[int]) -> float:
        pts = np.array(decode(flat))
        k = math.cos(math.radians(float(pts[0, 0])))
        return float(np.hypot(np.diff(pts[:, 0]), np.diff(pts[:, 1]) * k).sum()) * 111_320

    # The kept lines are the longest (1 %: measured here on the simplified lines).
    dropped = [length_m(f) for f in full["lines"] if f not in cut["lines"]]
    assert min(length_m(f) for f in cut["lines"]) >= 0.99 * max(dropped)


def test_streets_follow_the_tiles_projection_and_show_without_tiles(demo: app.Plan) -> None:
    cid = demo.result.trips[0].courier_id
    osm = page_data(maps.courier_map(demo.result, cid, graph=demo.graph))["streets"]
    amap = page_data(maps.courier_map(demo.result, cid, tiles="amap", graph=demo.graph))
    bare = page_data(maps.courier_map(demo.result, cid, tiles="none", graph=demo.graph))
    assert bare["streets"] == osm  # no tiles at all: the streets are the map
    # On Amap tiles every street point is shifted to GCJ-02, as the routes are.
    (lat, lon), *_ = decode(osm["lines"][0])
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    assert decode(amap["streets"]["lines"][0])[0] == pytest.approx(
        (float(g_lat), float(g_lon)), abs=2e-6)
    # Without the graph, the pages are as before: routes only.
    assert page_data(maps.courier_map(demo.result, cid))["streets"] is None


# --------------------------------------------------------------------------------------------
# Chinese first


@pytest.fixture(scope="module")
def small_plan() -> DayPlan:
    return make_plan()


def _shown_text(page: str) -> str:
    """The words a reader sees: the stop list and every string handed to the script."""
    body = re.search(r"<details class='cm-panel'.*?</details>", page, re.DOTALL)
    return (body.group(0) if body else "") + str(page_data(page))


def test_pages_are_chinese_by_default_and_english_on_request(small_plan: DayPlan) -> None:
    zh = maps.courier_map(small_plan, "C1")
    assert zh.startswith('<!DOCTYPE html>\n<html lang="zh-CN">')
    assert "<title>C1 小李 的派送路线</title>" in zh
    first = page_data(zh)["stops"][0]["popup"]
    assert "第1站" in first and "第1趟" in first and "在地图应用中打开" in first
    assert "到达 <b>08:10</b>（08:15 起可交付）" in first and "高德地图" in first
    shown = _shown_text(zh)
    assert "全天" in shown and "3个站点 · 2趟" in shown and "公里" in shown
    for english in ("Stop ", "Trip ", "Arrive", "Window", "Open in maps app", "any time",
                    " parcel", " stops", "leave ", "Station"):
        assert english not in shown, english
    # The script's own words come in the data, as templates it fills in.
    assert page_data(zh)["text"]["stop"] == "第{n}站"
    en = maps.courier_map(small_plan, "C1", t=EN)
    assert en.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert "Open in maps app" in page_data(en)["stops"][0]["popup"]
    assert page_data(en)["text"]["stop"] == "Stop {n}"
    overview = maps.overview_map(small_plan, t=Text("zh"))
    assert overview.startswith('<!DOCTYPE html>\n<html lang="zh-CN">')
    assert "未安排：2件包裹" in page_data(overview)["unassignedLabel"]
    assert "派送计划总览" in overview


# --------------------------------------------------------------------------------------------
# In a browser, offline


@pytest.fixture(scope="module")
def offline_driver() -> Iterator[Any]:
    """Headless Chromium as a 390x844 phone with the network switched off."""
    # Eager: "load" would wait for tiles that never come.
    with chromium("--window-size=390,844", eager=True) as drv:
        drv.execute_cdp_cmd("Network.enable", {})
        drv.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
        drv.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
        yield drv


_STREETS_DRAWN = """
var pane = document.querySelector('.leaflet-cmStreets-pane');
if (!pane) { return null; }
var lines = pane.querySelectorAll('path'), routes = document.querySelectorAll(
  '.leaflet-overlay-pane path');
var box = {left: Infinity, top: Infinity, right: -Infinity, bottom: -Infinity};
routes.forEach(function (r) {
  var b = r.getBoundingClientRect();
  if (b.width + b.height === 0) { return; }
  box.left = Math.min(box.left, b.left); box.top = Math.min(box.top, b.top);
  box.right = Math.max(box.right, b.right); box.bottom = Math.max(box.bottom, b.bottom);
});
var inside = 0;
lines.forEach(function (p) {
  var b = p.getBoundingClientRect();
  if (b.width + b.height > 0 && b.left < box.right && b.right > box.left &&
      b.top < box.bottom && b.bottom > box.top) { inside++; }
});
var tiles = document.querySelector('.leaflet-tile-pane');
return {lines: lines.length, inside: inside, routes: routes.length,
        stroke: lines.length ? getComputedStyle(lines[0]).stroke : '',
        z: [+getComputedStyle(pane).zIndex, +getComputedStyle(tiles).zIndex,
            +getComputedStyle(document.querySelector('.leaflet-overlay-pane')).zIndex]};
"""

_ZOOM_TO_STATION = """
var zoom = arguments[0];
var map = window[Object.keys(window).filter(function (k) { return /^map_\\w+$/.test(k); })[0]];
map.eachLayer(function (l) {
  if (l.options && l.options.zIndexOffset === 1000) {  // the station marker
    map.setView(l.getLatLng(), zoom, {animate: false});
  }
});
"""

_NAMES_SHOWN = """
var out = [];
document.querySelectorAll('.cm-street-name span').forEach(function (el) {
  var b = el.getBoundingClientRect();
  if (el.style.display !== 'none' && b.width > 0 && b.right > 0 && b.left < innerWidth &&
      b.bottom > 0 && b.top < innerHeight) { out.push(el.textContent); }
});
return out;
"""


def _severe_errors(driver: Any) -> list[str]:
    """Return SEVERE console messages, except the tiles that cannot load offline."""
    return [e["message"] for e in driver.get_log("browser")
            if e["level"] == "SEVERE" and "tile.openstreetmap.org" not in e["message"]]


@pytest.mark.parametrize("tiles", ["osm", "none"])
@pytest.mark.browser
@NEEDS_CHROMIUM
def test_offline_courier_page_draws_the_streets_under_the_route(
        offline_driver: Any, demo: app.Plan, tiles: maps.Tiles,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    driver = offline_driver
    cid = demo.result.trips[0].courier_id
    out = tmp_path_factory.mktemp(f"offline-{tiles}")
    pages = maps.map_pages(demo.result, districts=demo.districts, tiles=tiles, graph=demo.graph)
    paths = {p.stem: p for p in write_files(out, pages)}
    page = paths[f"courier-{maps.safe_filename(cid)}"]
    driver.get_log("browser")  # drop the previous page's messages
    driver.get(page.as_uri())
    WebDriverWait(driver, 10).until(lambda d: d.execute_script(
        "return document.querySelectorAll('.leaflet-marker-icon.stop-icon').length > 0"))
    assert driver.execute_script("return document.documentElement.lang") == "zh-CN"
    drawn = driver.execute_script(_STREETS_DRAWN)
    assert drawn is not None, "no street pane"
    assert drawn["lines"] > 100 and drawn["routes"] >= 2
    assert drawn["inside"] > 50, drawn  # streets where the route is, not somewhere else
    assert drawn["stroke"] == "rgb(205, 198, 185)"  # light grey
    # Under the tiles (which cover it where they load) and so under the routes.
    streets_z, tiles_z, overlay_z = drawn["z"]
    assert streets_z < tiles_z < overlay_z
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SHOTS / f"offline-{tiles}-390x844.png"))
    # No names at the opening zoom; zoomed in near the station they are there, in Chinese.
    driver.execute_script(_ZOOM_TO_STATION, 17)
    time.sleep(0.5)
    names = driver.execute_script(_NAMES_SHOWN)
    assert len(names) >= 3 and all(re.search(r"[\u4e00-\u9fff]", n) for n in names), names
    driver.save_screenshot(str(SHOTS / f"offline-{tiles}-390x844-z17.png"))
    driver.execute_script(_ZOOM_TO_STATION, 14)
    time.sleep(0.3)
    assert driver.execute_script(_NAMES_SHOWN) == []
    assert _severe_errors(driver) == []
