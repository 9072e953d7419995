"""Map pages rendered to HTML and checked by fragments (no browser; see test_browser.py)."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from courier import maps
from courier.coords import wgs84_to_gcj02
from courier.i18n import Text
from courier.io import write_files
from courier.model import (
    REASONS,
    Courier,
    DayPlan,
    Parcel,
    Snap,
    Station,
    Stop,
    Trip,
    Unassigned,
    Visit,
)
from courier.text import esc, mask_phone

# Untrusted text as it may arrive in parcels.csv. The browser test checks that none of it runs.
XSS_IMG = '<img src=x onerror="window.__xss=1">'
XSS_SCRIPT = "</script><script>window.__xss=2</script>"
JINJA = "{{ 7*7 }}"  # branca renders macro output a second time as Jinja: must stay literal
TEMPLATE_LITERAL = "${window.__xss=3}"  # folium's Popup would put this in a JS `...` string
PHONE = "13812345678"

STATION = Station(lon=114.0500, lat=22.5400, name="福田站 <b>hub</b>")
# (lon, lat) of the five stops, a few hundred metres around the station in Futian, Shenzhen.
STOP_LONLAT = {
    "S1": (114.0530, 22.5420),
    "S2": (114.0560, 22.5405),
    "S3": (114.0470, 22.5430),
    "S4": (114.0480, 22.5370),
    "S5": (114.0520, 22.5360),
}
ODD_COURIER = "C/2<i>"  # needs escaping in the page and sanitising in the file name
EN = Text("en")  # the fragments below are checked in English; Chinese is the default


def _stop(stop_id: str, parcel_ids: tuple[str, ...], address: str,
          windows: tuple[tuple[int, int], ...] = ()) -> Stop:
    lon, lat = STOP_LONLAT[stop_id]
    return Stop(
        stop_id=stop_id, parcel_ids=parcel_ids, lon=lon, lat=lat,
        snap=Snap(edge=0, fraction=0.5, distance_m=3.0, lon=lon, lat=lat),
        service_s=120, windows_s=windows, delivery_parcels=len(parcel_ids),
        delivery_kg=1.0 * len(parcel_ids), delivery_l=5.0 * len(parcel_ids), address=address,
    )


def _path(*stop_ids: str) -> tuple[tuple[float, float], ...]:
    """A street-like path station -> stops -> station with an L-shaped corner per leg."""
    pts = [(STATION.lon, STATION.lat)] + [STOP_LONLAT[s] for s in stop_ids]
    pts.append((STATION.lon, STATION.lat))
    out: list[tuple[float, float]] = []
    for (x0, y0), (x1, _) in itertools.pairwise(pts):
        out += [(x0, y0), (x1, y0)]  # the corner: streets are not straight lines
    out.append(pts[-1])
    return tuple(out)


def _visits(start_s: int, *stop_ids: str) -> tuple[Visit, ...]:
    return tuple(
        Visit(stop_id=s, seq=i + 1, arrival_s=start_s + 600 * (i + 1),
              start_s=start_s + 600 * (i + 1) + (300 if i == 0 else 0),
              departure_s=start_s + 600 * (i + 1) + 420)
        for i, s in enumerate(stop_ids)
    )


def make_plan() -> DayPlan:
    """Two couriers (C1 with two trips, an oddly named one with one), five stops, two unplanned."""
    parcels = (
        Parcel("P1", 2, *STOP_LONLAT["S1"], address="深南大道 1 号", recipient="王小明",
               phone=PHONE, notes="放门口 please ring"),
        Parcel("P2", 3, *STOP_LONLAT["S1"], address="深南大道 1 号", recipient="李雷",
               phone="13900001111"),
        Parcel("P3", 4, *STOP_LONLAT["S2"], address=f"福华路 {XSS_IMG}",
               recipient=f"张三 {XSS_SCRIPT}", phone="13700002222",
               notes=f"易碎 {XSS_IMG} {XSS_SCRIPT} {JINJA} {TEMPLATE_LITERAL}"),
        Parcel("P4<b>", 5, *STOP_LONLAT["S3"], address="金田路 8 号", recipient="Ann"),
        Parcel("P5", 6, *STOP_LONLAT["S4"], address="益田路 20 号"),
        Parcel("P6", 7, *STOP_LONLAT["S5"], address="彩田路 3 号", notes=JINJA),
        Parcel("P7", 8, 114.0600, 22.5500, address=f"远方 {XSS_IMG}"),  # never became a stop
        Parcel("P8", 9, *STOP_LONLAT["S5"], address="彩田路 3 号"),
    )
    stops = (
        _stop("S1", ("P1", "P2"), "深南大道 1 号", ((9 * 3600, 12 * 3600),)),
        _stop("S2", ("P3",), f"福华路 {XSS_IMG}"),
        _stop("S3", ("P4<b>",), "金田路 8 号", ((14 * 3600, 18 * 3600), (19 * 3600, 20 * 3600))),
        _stop("S4", ("P5",), "益田路 20 号"),
        _stop("S5", ("P6", "P8"), "彩田路 3 号"),
    )
    couriers = (
        Courier("C1", "e-tricycle", 100, 200.0, 1000.0, 8 * 3600, 20 * 3600, name="小李"),
        Courier(ODD_COURIER, "van", 100, 200.0, 1000.0, 8 * 3600, 20 * 3600, name=JINJA),
        Courier("C3", "walker", 10, 20.0, 100.0, 8 * 3600, 20 * 3600),  # no trip today
    )
    trips = (
        Trip("C1", 1, 8 * 3600, 9 * 3600, _visits(8 * 3600, "S1", "S2"), 2100, 3, 3.0, 15.0,
             _path("S1", "S2")),
        Trip("C1", 2, 13 * 3600, 14 * 3600, _visits(13 * 3600, "S3"), 1200, 1, 1.0, 5.0,
             _path("S3")),
        Trip(ODD_COURIER, 1, 8 * 3600, 9 * 3600, _visits(8 * 3600, "S4", "S5"), 1800, 2, 2.0,
             10.0, _path("S4", "S5")),
    )
    unassigned = (
        Unassigned("P7", "", "snap_too_far", "farther from any street than the snap limit"),
        Unassigned("P8", "S5", "dropped", "dropped <at> a penalty"),
    )
    return DayPlan(station=STATION, couriers=couriers, parcels=parcels, stops=stops, trips=trips,
                unassigned=unassigned, rejects=(), sort_lines=(), input_count=8)


def page_data(page: str) -> dict[str, Any]:
    """Return the JSON the page hands to its script (courierMap/overviewMap)."""
    match = re.search(r"(?:courierMap|overviewMap)\(map_\w+, (\{.*\})\);", page)
    assert match, "page data call not found"
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def decode(flat: list[int]) -> list[tuple[float, float]]:
    """Return the (lat, lon) points of a path as the page encodes it (micro-degree deltas)."""
    lat = lon = 0
    out = []
    for dlat, dlon in zip(flat[::2], flat[1::2], strict=True):
        lat, lon = lat + dlat, lon + dlon
        out.append((lat / 1e6, lon / 1e6))
    return out


@pytest.fixture(scope="module")
def plan() -> DayPlan:
    return make_plan()


@pytest.fixture(scope="module")
def c1_page(plan: DayPlan) -> str:
    return maps.courier_map(plan, "C1", t=EN)


@pytest.fixture(scope="module")
def overview_page(plan: DayPlan) -> str:
    return maps.overview_map(plan, t=EN)


def _all_pages(plan: DayPlan) -> list[str]:
    return [maps.courier_map(plan, "C1"), maps.courier_map(plan, ODD_COURIER),
            maps.overview_map(plan), maps.courier_map(plan, "C1", tiles="amap")]


def test_untrusted_text_never_appears_raw(plan: DayPlan) -> None:
    for page in _all_pages(plan):
        for raw in ("<img src=x", "onerror=\"", "<script>window", "<i>", "<b>hub", "P4<b>"):
            assert raw not in page
        # The only </script> closers are the page's own: one per <script> opened.
        assert page.count("</script>") == page.count("<script>")


def test_untrusted_text_shows_escaped(c1_page: str) -> None:
    data = page_data(c1_page)
    popup = data["stops"][1]["popup"]  # stop 2 = S2 = parcel P3 with the payloads
    assert "&lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;" in popup
    assert "&lt;/script&gt;&lt;script&gt;window.__xss=2&lt;/script&gt;" in popup
    assert "易碎" in popup and "张三" in popup
    assert JINJA in popup  # not evaluated to 49 by a template pass
    assert TEMPLATE_LITERAL in popup
    # The stop list is plain HTML in the body: the address shows escaped there.
    assert "福华路 &lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;" in c1_page


def test_raw_text_in_script_data_is_unicode_escaped(overview_page: str) -> None:
    # The overview's stop dots carry raw text (shown with textContent): in the <script> it
    # cannot close the element or start markup, as < > & are \u escapes.
    assert '福华路 \\u003cimg src=x onerror=\\"window.__xss=1\\"\\u003e' in overview_page
    assert "福华路 " + XSS_IMG in [d[6] for d in page_data(overview_page)["dots"]]


def test_no_jinja_evaluation_of_names(plan: DayPlan) -> None:
    page = maps.courier_map(plan, ODD_COURIER, t=EN)
    assert f"<title>Route {esc(ODD_COURIER)} {JINJA}</title>" in page
    assert f"C/2&lt;i&gt; {JINJA}" in page  # the list header
    assert JINJA in page_data(maps.overview_map(plan))["groups"][1]["name"]


def test_no_external_scripts_or_styles(plan: DayPlan) -> None:
    for page in _all_pages(plan):
        assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.IGNORECASE)
        assert not re.search(r"<link[^>]*href\s*=\s*[\"']?(https?:)?//", page, re.IGNORECASE)
        assert not re.search(r"url\(\s*['\"]?(https?:)?//", page)  # nor from inside the CSS
        for cdn in ("jsdelivr", "cdnjs", "code.jquery", "bootstrapcdn", "font-awesome"):
            assert cdn not in page
        assert "Leaflet 1.9" in page  # inlined from django-js-lib-leaflet
        assert "$(" not in page.replace("$(\\u", "")  # no jQuery left in use


def test_masked_phone(c1_page: str) -> None:
    assert mask_phone(PHONE) == "138****5678"
    assert mask_phone(" 139 0000 1111 ") == "139****1111"
    assert mask_phone("12345") == "***45"
    assert mask_phone("") == ""
    assert "138****5678" in c1_page
    assert PHONE not in c1_page and "13900001111" not in c1_page


def test_numbered_markers_in_visiting_order(plan: DayPlan, c1_page: str) -> None:
    data = page_data(c1_page)
    assert [s["n"] for s in data["stops"]] == [1, 2, 3]  # S1, S2 (trip 1), S3 (trip 2)
    assert [s["g"] for s in data["stops"]] == [0, 0, 1]
    assert (data["stops"][0]["lat"], data["stops"][0]["lon"]) == (22.542, 114.053)
    assert c1_page.count("class='cm-item'") == 3
    assert [d["label"].count("Trip") for d in data["groups"]] == [1, 1]
    other = page_data(maps.courier_map(plan, ODD_COURIER))
    assert [s["n"] for s in other["stops"]] == [1, 2]


def test_popup_content(c1_page: str) -> None:
    first = page_data(c1_page)["stops"][0]["popup"]
    assert "Stop 1" in first and "Trip 1" in first
    assert "08:10" in first and "hand over from 08:15" in first  # arrival, then window wait
    assert "09:00–12:00" in first
    assert "P1" in first and "P2" in first and "王小明" in first and "深南大道 1 号" in first
    assert "放门口 please ring" in first
    third = page_data(c1_page)["stops"][2]["popup"]
    assert "14:00–18:00, 19:00–20:00" in third and "P4&lt;b&gt;" in third


def test_geo_and_amap_links(plan: DayPlan, c1_page: str) -> None:
    popups = [s["popup"] for s in page_data(c1_page)["stops"]]
    for popup, sid in zip(popups, ("S1", "S2", "S3"), strict=True):
        lon, lat = STOP_LONLAT[sid]
        assert f"href='geo:{lat:.6f},{lon:.6f}'" in popup
        g_lon, g_lat = wgs84_to_gcj02(lon, lat)
        assert f"https://uri.amap.com/marker?position={float(g_lon):.6f},{float(g_lat):.6f}" in popup
        # GCJ-02 is a few hundred metres off WGS-84 in Shenzhen: the link is really shifted.
        assert abs(float(g_lon) - lon) > 1e-3


def test_route_follows_the_street_path(c1_page: str) -> None:
    groups = page_data(c1_page)["groups"]
    assert [len(g["paths"]) for g in groups] == [1, 1]  # one street path per trip
    first = decode(groups[0]["paths"][0])
    assert first == [(lat, lon) for lon, lat in _path("S1", "S2")]
    # The L-corner of the first leg (station lat, S1 lon) is only on the street path.
    assert (22.54, 114.053) in first
    for g in groups:
        assert g["arrows"] and all(0 <= a[2] < 360 for a in g["arrows"])
    # The first arrow is on the first leg, going east (90 degrees) along the station's street.
    assert groups[0]["arrows"][0][2] == pytest.approx(90, abs=1)


def test_tiles_options(plan: DayPlan, c1_page: str) -> None:
    assert "tile.openstreetmap.org" in c1_page
    assert "OpenStreetMap contributors" in c1_page
    amap = maps.courier_map(plan, "C1", tiles="amap", t=EN)
    assert "autonavi.com" in amap and "AutoNavi / Amap" in amap
    assert "openstreetmap" not in amap.lower()
    # Every drawn point is shifted to GCJ-02 for Amap tiles: the stops ...
    s1 = page_data(amap)["stops"][0]
    g_lon, g_lat = wgs84_to_gcj02(*STOP_LONLAT["S1"])
    assert (s1["lat"], s1["lon"]) == (round(float(g_lat), 6), round(float(g_lon), 6))
    # ... the station, and the route.
    st = page_data(amap)["station"]
    g_lon, g_lat = wgs84_to_gcj02(STATION.lon, STATION.lat)
    assert (st["lat"], st["lon"]) == (round(float(g_lat), 6), round(float(g_lon), 6))
    shifted = decode(page_data(amap)["groups"][0]["paths"][0])
    g_lon, g_lat = wgs84_to_gcj02(114.053, 22.54)
    assert shifted[1] == pytest.approx((float(g_lat), float(g_lon)), abs=2e-6)
    # The Amap link is GCJ-02 whatever the tiles.
    assert page_data(amap)["stops"][0]["popup"] == page_data(c1_page)["stops"][0]["popup"]
    bare = maps.courier_map(plan, "C1", tiles="none", t=EN)
    assert "L.tileLayer" not in bare and "openstreetmap" not in bare.lower()
    assert page_data(bare)["stops"] == page_data(c1_page)["stops"]
    with pytest.raises(ValueError, match="tiles"):
        maps.courier_map(plan, "C1", tiles="google")  # type: ignore[arg-type]


def test_unknown_and_idle_couriers(plan: DayPlan) -> None:
    with pytest.raises(ValueError, match="nobody"):
        maps.courier_map(plan, "nobody")
    idle = maps.courier_map(plan, "C3", t=EN)
    assert page_data(idle)["stops"] == [] and "No stops in this plan" in idle


def test_overview(plan: DayPlan, overview_page: str) -> None:
    data = page_data(overview_page)
    assert [g["name"] for g in data["groups"]] == ["C1 小李", f"{ODD_COURIER} {JINJA}"]
    assert "C/2&lt;i&gt;" in data["groups"][1]["label"]
    assert len({g["color"] for g in data["groups"]}) == 2
    assert len(data["dots"]) == 5
    assert [len(g["paths"]) for g in data["groups"]] == [2, 1]  # one per trip
    # Simplified for the overview, but every corner of the street path is kept.
    assert decode(data["groups"][0]["paths"][0]) == [
        (lat, lon) for lon, lat in _path("S1", "S2")
    ]
    assert data["districts"] is None
    # P7 never became a stop: drawn at the parcel; P8 at its stop S5.
    # Plain arrays [lat, lon, [[parcel, code, address], ...]]: the page builds the popup as
    # text when it opens, and sends each code's meaning once.
    spots = {(u[0], u[1]): u[2] for u in data["unassigned"]}
    assert set(spots) == {(22.55, 114.06), (22.536, 114.052)}
    (far,) = spots[(22.55, 114.06)]
    assert far[1] == "snap_too_far" and far[2].startswith("远方 <img")
    assert spots[(22.536, 114.052)][0][1] == "dropped"
    assert data["reasons"]["dropped"] == REASONS["dropped"]  # a known code: its meaning
    assert data["reasons"]["snap_too_far"] == next(  # else the parcel's own reason
        u.reason for u in plan.unassigned if u.reason_code == "snap_too_far")
    assert "2 parcels" in data["unassignedLabel"]
    assert "<img" not in overview_page  # the JSON escapes it: nothing to parse as HTML


def test_overview_districts(plan: DayPlan) -> None:
    geopandas = pytest.importorskip("geopandas")
    from shapely.geometry import box

    districts = geopandas.GeoDataFrame(
        {"courier_id": ["C1", ODD_COURIER]},
        geometry=[box(114.045, 22.539, 114.058, 22.545), box(114.045, 22.534, 114.058, 22.539)],
        crs="EPSG:4326",
    )
    data = page_data(maps.overview_map(plan, districts=districts))
    feats = data["districts"]["features"]
    assert [f["properties"]["courier_id"] for f in feats] == ["C1", ODD_COURIER]
    assert feats[0]["properties"]["color"] == data["groups"][0]["color"]
    assert feats[0]["geometry"]["coordinates"][0][0] == [114.058, 22.539]
    # Districts in a metric CRS are brought back to lon/lat; on Amap tiles shifted to GCJ-02.
    amap = page_data(maps.overview_map(plan, districts=districts.to_crs(3857), tiles="amap"))
    x, y = amap["districts"]["features"][0]["geometry"]["coordinates"][0][0]
    g_lon, g_lat = wgs84_to_gcj02(114.058, 22.539)
    assert (x, y) == pytest.approx((float(g_lon), float(g_lat)), abs=1e-7)


def test_safe_filename() -> None:
    assert maps.safe_filename("C1") == "C1"
    assert maps.safe_filename("c-01_x") == "c-01_x"
    names = [maps.safe_filename(c) for c in ("a/b", "a?b", "../etc/passwd", "张三", "", "a" * 200)]
    assert len(set(names)) == len(names)
    for name in names:
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,80}", name), name


def test_write_maps(plan: DayPlan, tmp_path: Path) -> None:
    paths = write_files(tmp_path, maps.map_pages(plan, tiles="none"))
    assert paths[0] == tmp_path / "maps" / "overview.html"
    assert [p.name for p in paths[1:]] == [
        "courier-C1.html", f"courier-{maps.safe_filename(ODD_COURIER)}.html"
    ]  # C3 has no trip: no page
    for p in paths:
        assert p.parent == tmp_path / "maps" and p.is_file()
        page = p.read_text(encoding="utf-8")
        assert page.startswith("<!DOCTYPE html>")
        # Nothing to fetch at view time (the tiles excepted, which are images).
        assert not re.search(r"<script[^>]*src=[\"']?http", page, re.IGNORECASE)
        assert not re.search(r"<link[^>]*href=[\"']?http", page, re.IGNORECASE)


def test_an_overview_with_thousands_left_out_stays_a_few_megabytes(plan: DayPlan) -> None:
    # 30,000 parcels for too few couriers: 30,000 left out at 15,000 spots, each with an
    # address. Drawn as plain arrays and one canvas layer (test_browser clicks one), not a
    # marker and an HTML popup each, which made a 50,000-parcel overview 14.9 MB.
    import dataclasses
    import time

    lons = np.linspace(114.02, 114.09, 150)
    lats = np.linspace(22.52, 22.57, 100)
    parcels = [Parcel(f"X{k:05d}", k + 10, float(lons[k // 2 % 150]),
                      float(lats[k // 300 % 100]), address=f"福田区某某路{k}号")
               for k in range(30_000)]
    left = tuple(Unassigned(p.parcel_id, "", "no_courier", REASONS["no_courier"])
                 for p in parcels)
    big = dataclasses.replace(plan, parcels=plan.parcels + tuple(parcels), unassigned=left)
    tick = time.perf_counter()
    page = maps.overview_map(big, t=EN)
    assert time.perf_counter() - tick < 20
    data = page_data(page)
    assert len(data["unassigned"]) == 15_000
    assert sum(len(spot[2]) for spot in data["unassigned"]) == 30_000
    assert len(page.encode()) < 3_000_000
    assert page.count(REASONS["no_courier"][:30]) <= 1  # the meaning is sent once
