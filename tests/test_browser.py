"""The map pages in headless Chromium: they work offline, on a phone, and run no user text."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import NEEDS_CHROMIUM, chromium

from courier import maps
from courier.io import write_files
from courier.model import DayPlan

ARTIFACTS = Path(__file__).parent / "artifacts"  # gitignored: screenshots to look at

pytestmark = [pytest.mark.browser, NEEDS_CHROMIUM]

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402
from test_maps import ODD_COURIER, make_plan  # noqa: E402  (tests/ is on sys.path under pytest)


@pytest.fixture(scope="module")
def plan() -> DayPlan:
    return make_plan()


@pytest.fixture(scope="module")
def pages(plan: DayPlan, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import geopandas
    from shapely.geometry import box

    districts = geopandas.GeoDataFrame(
        {"courier_id": ["C1", ODD_COURIER]},
        geometry=[box(114.045, 22.539, 114.058, 22.545), box(114.045, 22.534, 114.058, 22.539)],
        crs="EPSG:4326",
    )
    out = tmp_path_factory.mktemp("maps")
    # Default OSM tiles: they fail offline, on purpose (the pages must work without them).
    paths = write_files(out, maps.map_pages(plan, districts=districts))
    return {p.stem: p for p in paths}


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    # Eager: our scripts run before DOMContentLoaded ends; waiting for "load" would wait for
    # tile requests that cannot succeed offline.
    with chromium("--disable-quic", "--window-size=390,844", eager=True) as drv:
        yield drv


def _open(driver: Any, page: Path, width: int, height: int, *, mobile: bool) -> None:
    # The window size includes no browser chrome only in some headless modes: set the
    # viewport itself, as a phone (or a desktop) would have it.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile,
    })
    # A phone has a touch screen: without it, a synthetic finger swipe scrolls nothing.
    driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled",
                           {"enabled": mobile, "maxTouchPoints": 5 if mobile else 1})
    driver.get_log("browser")  # drop the previous page's messages
    driver.get(page.as_uri())
    WebDriverWait(driver, 10).until(
        lambda d: d.execute_script("return document.querySelectorAll('.leaflet-marker-icon')"
                                   ".length > 0")
    )


def _severe_errors(driver: Any) -> list[str]:
    """Return SEVERE console messages, except tile loads: there is no internet here."""
    return [
        e["message"] for e in driver.get_log("browser")
        if e["level"] == "SEVERE" and "tile.openstreetmap.org" not in e["message"]
    ]


def _no_xss(driver: Any) -> None:
    assert driver.execute_script("return typeof window.__xss") == "undefined"
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018 - reading it is what raises


def _screenshot(driver: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / name))


# The page's clock set to HOUR:00 today and running on from there (Leaflet times its
# animations with it): a Date made with no arguments is then plus the time since.
_CLOCK = """
(function () {
  var Real = Date, then = new Real(); then.setHours(HOUR, 0, 0, 0);
  var shift = then.getTime() - Real.now();
  function Fake() { return arguments.length ? new (Function.prototype.bind.apply(Real,
    [null].concat([].slice.call(arguments))))() : new Real(Real.now() + shift); }
  Fake.now = function () { return Real.now() + shift; };
  Fake.UTC = Real.UTC; Fake.parse = Real.parse;
  Fake.prototype = Real.prototype; window.Date = Fake;
})();
"""


def _open_at(driver: Any, page: Path, hour: int, width: int, height: int, *,
             mobile: bool) -> None:
    """Open the page with its clock at ``hour``:00 (the list opens by the clock)."""
    script = driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                                    {"source": _CLOCK.replace("HOUR", str(hour))})
    try:
        _open(driver, page, width, height, mobile=mobile)
    finally:
        driver.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument",
                               {"identifier": script["identifier"]})


def test_courier_map_on_a_phone(driver: Any, pages: dict[str, Path], plan: DayPlan) -> None:
    # Before the day (05:00): the list opens at stop 1, whatever the time the test runs.
    _open_at(driver, pages["courier-C1"], 5, 390, 844, mobile=True)
    assert driver.execute_script("return [innerWidth, innerHeight]") == [390, 844]
    n_stops = sum(len(t.visits) for t in plan.trips if t.courier_id == "C1")
    markers = driver.find_elements(By.CSS_SELECTOR, ".leaflet-marker-icon.stop-icon")
    assert len(markers) == n_stops
    # Big enough to hit with a thumb, and visible without tiles.
    assert all(m.size["width"] >= 32 and m.size["height"] >= 32 for m in markers)
    assert all(m.is_displayed() for m in markers)
    assert [m.text for m in markers] == [str(i + 1) for i in range(n_stops)]
    # The routes are SVG paths (street path casing + colour per trip), with direction arrows.
    paths = driver.find_elements(By.CSS_SELECTOR, ".leaflet-overlay-pane svg path")
    assert len(paths) >= 2 * 2
    assert driver.find_elements(By.CSS_SELECTOR, ".cm-arrow")
    assert driver.find_elements(By.CSS_SELECTOR, ".station-icon")
    _screenshot(driver, "courier-C1-390x844.png")

    # Tapping stop 2 in the list flies there and opens its popup: the one with the payloads.
    items = driver.find_elements(By.CSS_SELECTOR, ".cm-item")
    assert len(items) == n_stops
    items[1].click()
    popup = WebDriverWait(driver, 5).until(
        lambda d: next(iter(e for e in d.find_elements(By.CSS_SELECTOR,
                                                       ".leaflet-popup-content")
                            if e.is_displayed()), None)
    )
    assert "第2站" in popup.text  # its top is in view, not under the list or off screen
    text = popup.get_attribute("textContent")
    assert "137****2222" in text
    assert '<img src=x onerror="window.__xss=1">' in text  # shown as text, not markup
    assert "</script><script>window.__xss=2</script>" in text
    assert "{{ 7*7 }}" in text and "${window.__xss=3}" in text
    assert not popup.find_elements(By.TAG_NAME, "img")
    links = [a.get_attribute("href") for a in popup.find_elements(By.TAG_NAME, "a")]
    assert links[0].startswith("geo:22.540500,114.056000")
    assert links[1].startswith("https://uri.amap.com/marker?position=")
    time.sleep(0.3)  # let the fly animation settle for the screenshot
    _screenshot(driver, "courier-C1-390x844-popup.png")
    _no_xss(driver)
    assert _severe_errors(driver) == []


LONG_STOPS = 120


@pytest.fixture(scope="module")
def long_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The map of one courier with LONG_STOPS stops on one trip (a Double-11 day)."""
    from courier.model import Courier, Parcel, Snap, Station, Stop, Trip, Visit

    station = Station(lon=114.05, lat=22.54, name="站")
    stops, parcels, visits = [], [], []
    for k in range(LONG_STOPS):
        lon, lat = 114.05 + 0.0004 * (k % 12), 22.541 + 0.0004 * (k // 12)
        stops.append(Stop(stop_id=f"S{k:03d}", parcel_ids=(f"P{k:03d}",), lon=lon, lat=lat,
                          snap=Snap(edge=0, fraction=0.5, distance_m=2.0, lon=lon, lat=lat),
                          service_s=60, windows_s=(), delivery_parcels=1, delivery_kg=1.0,
                          delivery_l=5.0,
                          address=f"福田区 第{k + 1}号楼"))
        parcels.append(Parcel(f"P{k:03d}", k + 2, lon, lat, address=f"福田区 第{k + 1}号楼"))
        t = 8 * 3600 + 240 * (k + 1)
        visits.append(Visit(stop_id=f"S{k:03d}", seq=k + 1, arrival_s=t, start_s=t,
                            departure_s=t + 60))
    path = ((station.lon, station.lat), *((s.lon, s.lat) for s in stops),
            (station.lon, station.lat))
    trip = Trip("L1", 1, 8 * 3600, visits[-1].departure_s + 600, tuple(visits), 30_000,
                LONG_STOPS, float(LONG_STOPS), 5.0 * LONG_STOPS, path)
    plan = DayPlan(station=station, parcels=tuple(parcels), stops=tuple(stops), trips=(trip,),
                   couriers=(Courier("L1", "etricycle", 200, 300.0, 2000.0, 8 * 3600,
                                     20 * 3600, name="小王"),),
                   unassigned=(), rejects=(), sort_lines=())
    out = tmp_path_factory.mktemp("long")
    paths = write_files(out, maps.map_pages(plan))
    return next(p for p in paths if p.stem == "courier-L1")


_SHOWN = """
var el = arguments[0], list = el.closest('.cm-list');
var r = el.getBoundingClientRect(), box = list.getBoundingClientRect();
var x = r.left + r.width / 2, y = r.top + r.height / 2;
var hit = document.elementFromPoint(x, y);
return r.top >= box.top - 1 && r.bottom <= box.bottom + 1 && r.bottom <= innerHeight + 1
  && hit !== null && el.contains(hit);
"""


def _swipe_up(driver: Any, x: float, y: float, distance: float) -> None:
    """A finger put down at (x, y), moved up ``distance`` px in small steps, and lifted."""
    def touch(kind: str, at_y: float) -> None:
        points = [] if kind == "touchEnd" else [{"x": x, "y": at_y, "id": 1}]
        driver.execute_cdp_cmd("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    touch("touchStart", y)
    for step in range(1, 11):
        touch("touchMove", y - distance * step / 10)
    touch("touchEnd", y - distance)


@pytest.mark.parametrize(("width", "height", "mobile"), [(390, 844, True), (1280, 800, False)])
def test_a_long_stop_list_scrolls_to_its_last_stop(driver: Any, long_page: Path, width: int,
                                                   height: int, mobile: bool) -> None:
    _open_at(driver, long_page, 5, width, height, mobile=mobile)  # before the day: at the top
    items = driver.find_elements(By.CSS_SELECTOR, ".cm-item")
    assert len(items) == LONG_STOPS
    assert driver.execute_script(_SHOWN, items[0])
    assert not driver.execute_script(_SHOWN, items[-1])
    pane = "return document.querySelector('.leaflet-map-pane').style.transform"
    map_before = driver.execute_script(pane)
    box = driver.execute_script(
        "var b = document.querySelector('.cm-list').getBoundingClientRect();"
        "return [b.left + b.width / 2,"
        "        (Math.max(b.top, 0) + Math.min(b.bottom, innerHeight)) / 2];")  # on screen
    for _ in range(40):  # swipe up with a finger on a phone, the wheel on a desktop
        if driver.execute_script(_SHOWN, items[-1]):
            break
        if mobile:
            _swipe_up(driver, box[0], box[1], 250)
        else:
            driver.execute_cdp_cmd("Input.dispatchMouseEvent", {
                "type": "mouseWheel", "x": box[0], "y": box[1], "deltaX": 0, "deltaY": 600})
            time.sleep(0.05)
    assert driver.execute_script(_SHOWN, items[-1]), driver.execute_script(
        "var l = document.querySelector('.cm-list'), r = arguments[0].getBoundingClientRect();"
        "return 'the last stop never came into view: list scrollTop ' + l.scrollTop + ' of '"
        " + l.scrollHeight + ', list height ' + l.clientHeight + ', last stop at ' + r.top;",
        items[-1])
    # The list moved, the map behind it did not.
    assert driver.execute_script(pane) == map_before
    _screenshot(driver, f"courier-long-{width}x{height}-last.png")
    scale = driver.find_elements(By.CSS_SELECTOR, ".leaflet-control-scale-line")
    assert len(scale) == 1 and scale[0].text.endswith(("m", "km"))  # metres, no feet
    assert _severe_errors(driver) == []


def test_the_stop_list_opens_at_the_next_stop_and_crowded_stops_are_dots(
        driver: Any, long_page: Path) -> None:
    _open_at(driver, long_page, 12, 390, 844, mobile=True)
    items = driver.find_elements(By.CSS_SELECTOR, ".cm-item")
    # Stop k leaves at 08:00 + 4 min x k + 1 min: at 12:00, stops 1-59 are done.
    nxt = driver.find_elements(By.CSS_SELECTOR, ".cm-item.cm-next")
    assert [e.get_attribute("data-stop") for e in nxt] == ["59"]
    assert driver.execute_script(_SHOWN, items[59])
    assert not driver.execute_script(_SHOWN, items[0])
    # 120 stops 40 m apart at the opening zoom: dots, not overlapping numbered circles.
    container = driver.find_element(By.CSS_SELECTOR, ".leaflet-container")
    assert "cm-crowded" in container.get_attribute("class")
    dot = driver.find_element(By.CSS_SELECTOR, ".stop-icon span")
    assert dot.size["width"] <= 16
    _screenshot(driver, "courier-long-390x844-noon.png")
    zoom_in = driver.find_element(By.CSS_SELECTOR, ".leaflet-control-zoom-in")
    for _ in range(4):
        zoom_in.click()
        time.sleep(0.4)
    assert "cm-crowded" not in container.get_attribute("class")
    assert driver.find_element(By.CSS_SELECTOR, ".stop-icon span").size["width"] >= 32
    assert _severe_errors(driver) == []


# Container pixels of the overview's unplanned dots (canvas circles: no DOM element each).
_UNPLANNED = """
var map = Object.keys(window).filter(function (k) { return k.indexOf('map_') === 0; })
  .map(function (k) { return window[k]; })
  .filter(function (m) { return m && m.getPane; })[0];
var out = [];
map.eachLayer(function (l) {
  if (l instanceof L.CircleMarker && l.options.cmUnplanned) {
    var p = map.latLngToContainerPoint(l.getLatLng());
    out.push([p.x, p.y]);
  }
});
return out;
"""


def _settled(driver: Any, script: str) -> Any:
    """The script's answer once the map has stopped moving (two readings alike)."""
    last = None
    for _ in range(20):
        now = driver.execute_script(script)
        if now == last:
            return now
        last = now
        time.sleep(0.25)
    return last


def test_overview_courier_list_folds_away_on_a_phone(driver: Any, pages: dict[str, Path]) -> None:
    _open(driver, pages["overview"], 390, 844, mobile=True)
    control = driver.find_element(By.CSS_SELECTOR, ".leaflet-control-layers")
    assert "leaflet-control-layers-expanded" not in control.get_attribute("class")
    assert control.size["width"] < 60  # a button, not half the map
    _screenshot(driver, "overview-390x844.png")
    control.click()  # a tap opens it
    WebDriverWait(driver, 5).until(
        lambda d: "leaflet-control-layers-expanded" in control.get_attribute("class"))
    assert _severe_errors(driver) == []


def test_a_station_of_sixty_couriers_fits_beside_its_courier_list(
        driver: Any, plan: DayPlan, tmp_path: Path) -> None:
    # Sixty couriers make the layer list as tall as the window: the map is fitted beside it,
    # not below it (which left the map a strip and zoomed in on a corner).
    import dataclasses

    from courier.model import Courier

    ids = [f"K{k:02d}" for k in range(60)]
    couriers = tuple(Courier(cid, "e-tricycle", 100, 200.0, 1000.0, 28800, 72000) for cid in ids)
    trips = tuple(dataclasses.replace(trip, courier_id=ids[k % 60])
                  for k, trip in enumerate(plan.trips * 20))
    big = dataclasses.replace(plan, couriers=couriers, trips=trips)
    (page,) = write_files(tmp_path, {"overview.html": maps.overview_map(big)})
    _open(driver, page, 1280, 800, mobile=False)
    control = driver.find_element(By.CSS_SELECTOR, ".leaflet-control-layers")
    assert control.size["height"] > 400
    dots = _settled(driver, _UNPLANNED.replace("l.options.cmUnplanned", "!l.options.cmUnplanned"))
    left_of_list = control.location["x"]
    assert dots and all(0 < x < left_of_list and 0 < y < 800 for x, y in dots)
    xs = [x for x, _ in dots]
    assert max(xs) - min(xs) > 200  # the stops spread over the map, not a zoomed-in corner
    assert _severe_errors(driver) == []


def test_overview_map(driver: Any, pages: dict[str, Path], plan: DayPlan) -> None:
    _open(driver, pages["overview"], 1280, 900, mobile=False)
    assert driver.find_elements(By.CSS_SELECTOR, ".leaflet-overlay-pane svg path")
    # The unplanned parcels: one canvas layer of dots (thousands stay fast), two spots here.
    spots = _settled(driver, _UNPLANNED)
    assert len(spots) == 2
    labels = driver.find_elements(By.CSS_SELECTOR, ".leaflet-control-layers-overlays label")
    texts = [label.text for label in labels]
    assert any("C/2<i> {{ 7*7 }}" in t for t in texts)  # escaped, shown literally
    assert any("未安排" in t for t in texts) and "片区" in texts  # Chinese by default
    _screenshot(driver, "overview-1280x900.png")
    # The unplanned parcel far from the streets (the northern one): a click on its dot, as a
    # finger would, opens a popup with the reason and the payload shown as text.
    x, y = min(spots, key=lambda p: p[1])
    pane = driver.find_element(By.CSS_SELECTOR, ".leaflet-container")
    ActionChains(driver).move_to_element_with_offset(
        pane, x - pane.size["width"] / 2, y - pane.size["height"] / 2).click().perform()
    popup = WebDriverWait(driver, 5).until(
        lambda d: d.find_element(By.CSS_SELECTOR, ".leaflet-popup-content")
    )
    assert "snap_too_far" in popup.text
    assert '远方 <img src=x onerror="window.__xss=1">' in popup.text
    # The planned stops share that canvas: their dots still take a click.
    driver.find_element(By.CSS_SELECTOR, ".leaflet-popup-close-button").click()
    dots = _settled(driver, _UNPLANNED.replace("l.options.cmUnplanned", "!l.options.cmUnplanned"))
    x, y = dots[0]
    ActionChains(driver).move_to_element_with_offset(
        pane, x - pane.size["width"] / 2, y - pane.size["height"] / 2).click().perform()
    WebDriverWait(driver, 5).until(lambda d: "第" in d.find_element(
        By.CSS_SELECTOR, ".leaflet-popup-content").text)
    _no_xss(driver)
    assert _severe_errors(driver) == []
