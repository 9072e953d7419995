"""HTML route maps: one per courier (for a phone, offline) and one overview of the station.

This is the only module that imports folium. folium builds the page, the map and its tiles;
everything else (routes, stops, popups, the stop list, layers) is drawn by a small script of
this module from one JSON argument, put into the page *without* going through folium's
templates. Two reasons for user text, both checked by the tests:

- folium's ``Popup``/``Tooltip`` insert raw HTML (a note ``<img onerror=...>`` would run), and
  ``Popup`` puts it inside a JavaScript template literal, where ``${...}`` runs as code.
- branca renders the output of every ``MacroElement`` a second time as a Jinja template, so a
  layer name or popup holding ``{{ ... }}`` is evaluated by Jinja on the planning machine.

and one for size: folium validates every coordinate in Python and Jinja re-parses the output,
which took 18 s for an overview of 300 couriers with 900k path points; as delta-encoded JSON
it takes ~4 s.

The pages load nothing from the internet but map tiles: folium's CDN links (Leaflet, jQuery,
Bootstrap, Font Awesome, awesome-markers) are dropped and Leaflet's own JS and CSS are inlined
from the ``django-js-lib-leaflet`` package (plain files, no Django needed). Markers are DivIcons,
so no marker images are needed either. Given the street graph, a page also carries the streets
around its routes, drawn under the tiles: where a phone has no signal and the tiles fail, the
courier still sees the streets and their names.

Every word on a page is in the station's language (:class:`courier.i18n.Text`, Chinese by
default), the script's words too: they come in the page's data, not written in the script.
"""

from __future__ import annotations

import base64
import functools
import importlib.resources
import json
import logging
import math
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import folium
import numpy as np
import xyzservices
from branca.element import Element, Figure

from courier.coords import wgs84_to_gcj02
from courier.i18n import ZH, Text
from courier.io import safe_filename
from courier.model import REASONS, DayPlan, Parcel, Stop, StreetGraph, Trip, Visit, Window
from courier.text import esc, hhmm, mask_phone

if TYPE_CHECKING:
    import geopandas

Tiles = Literal["osm", "amap", "none"]

__all__ = ["courier_map", "map_pages", "overview_map"]

logger = logging.getLogger(__name__)

# Tile sources. The attributions are the ones the providers ask for; they are fixed strings.
_TILES: dict[str, dict[str, Any]] = {
    "osm": {
        "url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "attr": "© OpenStreetMap contributors",
        "max_zoom": 19,
    },
    "amap": {
        "url": (
            "https://webrd0{s}.is.autonavi.com/appmaptile"
            "?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}"
        ),
        "attr": "© AutoNavi / Amap",
        "max_zoom": 18,
        "subdomains": "1234",
    },
}

# Colours that stay distinct from each other and readable on light tiles and on no tiles.
_PALETTE = (
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
    "#bcbd22", "#393b79", "#637939", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354",
    "#756bb1", "#636363", "#a55194", "#6b6ecf",
)
_DECIMALS = 6  # ~0.1 m: enough for a map, and keeps large overview pages small
_M_PER_DEG = 111_320.0  # metres per degree of latitude (and of longitude at the equator)

# The street base layer. Measured on the demo (Futian, 2,874 streets between OSM nodes, 641
# lines): a courier page gains 24-30 KB, the overview 31 KB; the budget only bites on a
# city-sized graph.
_STREETS_MARGIN_M = 300.0  # around a page's routes: the side streets next to every stop
# Douglas-Peucker tolerance: 1.5 m is 2.5 px at zoom 18 (0.55 m/px here), under a line's
# width, and takes 45 % of the demo's points away (3,515 -> 1,941).
_STREETS_TOLERANCE_M = 1.5
# At most this much street data on one page (JSON bytes): the longest streets are kept.
_STREETS_BUDGET_BYTES = 200_000
_NAME_MIN_M = 60.0  # a street piece shorter than its label carries no label
# (from zoom, metres to the street's own next label, metres to any other label): below 16
# names would cover the streets; at 16 a four-character name spans ~100 m, at 17 ~55 m, so
# each zoom in adds the names that now have room.
_NAME_TIERS = ((16, 350.0, 100.0), (17, 175.0, 60.0))


# --------------------------------------------------------------------------------------------
# Escaping and formatting


def _js_data(obj: object) -> str:
    """Serialise ``obj`` as JSON that is safe inside a ``<script>`` element.

    ``<``, ``>`` and ``&`` only occur inside JSON strings, so replacing them by their ``\\u``
    escapes keeps the value and makes ``</script>`` or ``<!--`` in user text harmless.
    """
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for raw, escaped in (
        ("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
        ("\u2028", "\\u2028"), ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, escaped)
    return text


def _windows_text(windows: Sequence[Window], t: Text) -> str:
    if not windows:
        return t("any time")
    return ", ".join(f"{hhmm(a)}–{hhmm(b)}" for a, b in windows)


def _stops_text(n: int, t: Text) -> str:
    return t.n("{n} stop", "{n} stops", n)


def _trips_text(n: int, t: Text) -> str:
    return t.n("{n} trip", "{n} trips", n)


def _parcels_text(n: int, t: Text) -> str:
    return t.n("{n} parcel", "{n} parcels", n)


def _script_text(t: Text) -> dict[str, str]:
    """Return the words the page's script shows, as ``{n}``-style templates (see cmFormat)."""
    return {
        "station": t("Station"),
        "stop": t("Stop {n}"),
        "trip": t("Trip {n}"),
        "districtOf": t("District of {courier}"),
        "districts": esc(t("Districts")),  # HTML: a layer control label
        "notPlannedAt": t("Not planned ({n})"),
        "zoomIn": t("Zoom in"),
        "zoomOut": t("Zoom out"),
        "close": t("Close"),
    }


def _check_tiles(tiles: str) -> None:
    if tiles not in ("osm", "amap", "none"):
        raise ValueError(f"tiles={tiles!r} is not one of 'osm', 'amap', 'none'")


# --------------------------------------------------------------------------------------------
# Coordinates


def _project(tiles: str, lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return display lon/lat arrays: GCJ-02 on Amap tiles (they are drawn in it), else WGS-84."""
    lon_a = np.atleast_1d(np.asarray(lon, dtype=np.float64))
    lat_a = np.atleast_1d(np.asarray(lat, dtype=np.float64))
    if tiles == "amap":
        return wgs84_to_gcj02(lon_a, lat_a)
    return lon_a, lat_a


def _latlon(tiles: str, lonlat: Sequence[tuple[float, float]] | np.ndarray) -> np.ndarray:
    """Return display points as an (n, 2) array of (lat, lon), rounded to ``_DECIMALS``."""
    arr = np.asarray(lonlat, dtype=np.float64).reshape(-1, 2)
    x, y = _project(tiles, arr[:, 0], arr[:, 1])
    return np.round(np.column_stack([y, x]), _DECIMALS)


def _point(tiles: str, lon: float, lat: float) -> tuple[float, float]:
    """Return one display point as (lat, lon), the order Leaflet wants."""
    lat_lon = _latlon(tiles, [(lon, lat)])[0]
    return float(lat_lon[0]), float(lat_lon[1])


def _encode(latlon: np.ndarray) -> list[int]:
    """Return a path as flat integer micro-degree deltas: [lat0, lon0, dlat1, dlon1, ...].

    Street paths are most of an overview page; deltas of neighbouring OSM nodes are a few
    hundred micro-degrees, about a third of the bytes of plain coordinates.
    """
    if len(latlon) == 0:
        return []
    micro = np.rint(latlon * 10**_DECIMALS).astype(np.int64)
    micro[1:] = np.diff(micro, axis=0)
    return [int(v) for v in micro.ravel()]


def _arrows(latlon: np.ndarray, *, max_arrows: int = 30) -> list[list[float]]:
    """Return [lat, lon, bearing_deg] of direction arrows spread evenly along a path.

    The spacing grows with the path so a long trip gets at most ``max_arrows`` markers, but
    never falls under 120 m, where arrows would hide the street.
    """
    if len(latlon) < 2:
        return []
    pts = latlon
    # Local equirectangular metres: exact enough over a delivery district, and angles in it
    # match the (conformal) Web Mercator screen, so the arrows point along the drawn line.
    k = math.cos(math.radians(float(pts[:, 0].mean())))
    dy = np.diff(pts[:, 0]) * 111_320.0
    dx = np.diff(pts[:, 1]) * 111_320.0 * k
    seg = np.hypot(dx, dy)
    total = float(seg.sum())
    if total <= 0:
        return []
    spacing = max(total / max_arrows, 120.0)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    out: list[list[float]] = []
    d = spacing / 2
    while d < total:
        i = min(max(int(np.searchsorted(cum, d, side="right")) - 1, 0), len(seg) - 1)
        if seg[i] > 0:
            f = (d - cum[i]) / seg[i]
            lat = pts[i, 0] + f * (pts[i + 1, 0] - pts[i, 0])
            lon = pts[i, 1] + f * (pts[i + 1, 1] - pts[i, 1])
            bearing = math.degrees(math.atan2(dx[i], dy[i])) % 360
            out.append([round(float(lat), _DECIMALS), round(float(lon), _DECIMALS),
                        round(bearing, 1)])
        d += spacing
    return out


def _simplify(latlon: np.ndarray, tolerance_deg: float) -> np.ndarray:
    """Return the path without the points a line drawn on screen does not need."""
    import shapely

    if len(latlon) < 3:
        return latlon
    line = shapely.simplify(shapely.linestrings(latlon), tolerance_deg, preserve_topology=False)
    return np.asarray(shapely.get_coordinates(line), dtype=np.float64)


def _bounds(chunks: Iterable[np.ndarray]) -> list[list[float]] | None:
    arrays = [c for c in chunks if len(c)]
    if not arrays:
        return None
    pts = np.concatenate(arrays)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return [[float(lo[0]), float(lo[1])], [float(hi[0]), float(hi[1])]]


# --------------------------------------------------------------------------------------------
# Streets: the base layer for a phone without signal


def _chains(pairs: np.ndarray, names: Sequence[str],
            n_nodes: int) -> list[tuple[list[int], str]]:
    """Return the segments ``pairs`` (u, v) joined into chains: (node indices, name).

    A chain goes on through a node where exactly two segments of the same name meet, so it
    runs from junction to junction: one polyline (and one label place) instead of one per
    OSM node pair, which is 43 % of the JSON (demo, unsimplified: 35 KB against 82 KB).
    """
    incident: list[list[int]] = [[] for _ in range(n_nodes)]
    for k, (a, b) in enumerate(pairs.tolist()):
        incident[a].append(k)
        incident[b].append(k)
    seen = np.zeros(len(pairs), dtype=bool)

    def walk(node: int, seg: int) -> list[int]:
        out: list[int] = []
        while True:
            here = incident[node]
            if len(here) != 2:
                return out
            nxt = here[0] if here[1] == seg else here[1]
            if seen[nxt] or names[nxt] != names[seg]:
                return out
            seen[nxt] = True
            a, b = int(pairs[nxt, 0]), int(pairs[nxt, 1])
            node, seg = (b if a == node else a), nxt
            out.append(node)

    chains: list[tuple[list[int], str]] = []
    for k in range(len(pairs)):
        if seen[k]:
            continue
        seen[k] = True
        a, b = int(pairs[k, 0]), int(pairs[k, 1])
        forward = walk(b, k)
        backward = walk(a, k)
        chains.append(([*backward[::-1], a, b, *forward], names[k]))
    return chains


class _Streets:
    """The street graph as display polylines and name labels, built once for many pages.

    Two-way streets are one line, not two; a dual carriageway stays two (they are apart).
    """

    def __init__(self, graph: StreetGraph, tiles: str) -> None:
        import shapely

        u, v = graph.edge_from.astype(np.int64), graph.edge_to.astype(np.int64)
        keep = u != v
        pairs, first = np.unique(np.column_stack([np.minimum(u, v), np.maximum(u, v)])[keep],
                                 axis=0, return_index=True)
        names = [graph.edge_name[i] for i in np.flatnonzero(keep)[first].tolist()]
        chains = _chains(pairs, names, graph.n_nodes)
        self.names = [name for _, name in chains]
        self._midpoints: dict[int, tuple[float, float, float]] = {}  # label places, as needed
        # Simplified in the graph's metric CRS; the node index rides along as z, so the kept
        # points are exact OSM nodes, then projected for the tiles like everything drawn.
        if not chains:
            self.paths: list[np.ndarray] = []
            return
        node = np.concatenate([np.asarray(c, dtype=np.int64) for c, _ in chains])
        owner = np.repeat(np.arange(len(chains)), [len(c) for c, _ in chains])
        lines = shapely.linestrings(
            np.column_stack([graph.node_x_m[node], graph.node_y_m[node], node]), indices=owner)
        self.length_m = np.asarray(shapely.length(lines), dtype=np.float64)
        kept, which = shapely.get_coordinates(
            shapely.simplify(lines, _STREETS_TOLERANCE_M, preserve_topology=False),
            include_z=True, return_index=True)
        kept_node = kept[:, 2].astype(np.int64)
        display = _latlon(tiles, np.column_stack([graph.node_lon[kept_node],
                                                  graph.node_lat[kept_node]]))
        starts = np.searchsorted(which, np.arange(len(chains) + 1))
        self.paths = [display[starts[i]:starts[i + 1]] for i in range(len(chains))]
        self.encoded = [_encode(path) for path in self.paths]
        self.nbytes = np.array([len(json.dumps(e, separators=(",", ":"))) + 1
                                for e in self.encoded], dtype=np.int64)
        boxes = np.array([[*p.min(axis=0), *p.max(axis=0)] for p in self.paths]).reshape(-1, 4)
        self.lo, self.hi = boxes[:, :2], boxes[:, 2:]

    def page_data(self, bounds: list[list[float]] | None) -> dict[str, Any] | None:
        """Return the lines and labels near ``bounds`` (display [[lat, lon], [lat, lon]]).

        Lines are taken within ``_STREETS_MARGIN_M`` of the bounds, longest first until
        ``_STREETS_BUDGET_BYTES``.
        """
        if bounds is None or not self.paths:
            return None
        (lat0, lon0), (lat1, lon1) = bounds
        margin_lat = _STREETS_MARGIN_M / _M_PER_DEG
        margin_lon = margin_lat / math.cos(math.radians((lat0 + lat1) / 2))
        near = ((self.hi[:, 0] >= lat0 - margin_lat) & (self.lo[:, 0] <= lat1 + margin_lat)
                & (self.hi[:, 1] >= lon0 - margin_lon) & (self.lo[:, 1] <= lon1 + margin_lon))
        chosen = np.flatnonzero(near)
        chosen = chosen[np.argsort(-self.length_m[chosen], kind="stable")]
        fits = np.cumsum(self.nbytes[chosen]) <= _STREETS_BUDGET_BYTES
        if not fits.all():
            logger.info("map streets: %d of %d street lines kept within the page budget "
                        "(%d bytes); the shortest are left out",
                        int(fits.sum()), len(chosen), _STREETS_BUDGET_BYTES)
        chosen = chosen[fits]
        return {
            "lines": [self.encoded[i] for i in chosen.tolist()],
            "names": self._labels(chosen),
        }

    def _labels(self, chosen: np.ndarray) -> list[list[Any]]:
        """Return [lat, lon, angle_deg, name, from_zoom] labels amid long named pieces.

        ``chosen`` is longest first, so each street is named on its longest pieces first; a
        label keeps its distance from the others (_NAME_TIERS), and each tier adds labels
        between those of the tiers before.
        """
        named = [i for i in chosen.tolist()
                 if self.names[i] and self.length_m[i] >= _NAME_MIN_M]
        if not named:
            return []
        k = math.cos(math.radians(float(self.paths[named[0]][0, 0]))) * _M_PER_DEG
        cell = max(gap for _, _, gap in _NAME_TIERS)
        grid: dict[tuple[int, int], list[tuple[float, float]]] = {}  # every label, by cell
        own: dict[str, list[tuple[float, float]]] = {}  # each street's labels
        out: list[list[Any]] = []
        done: set[int] = set()
        for zoom, spacing_m, gap_m in _NAME_TIERS:
            for i in named:
                if i in done:
                    continue
                lat, lon, angle = self._midpoint(i)
                x, y = lon * k, lat * _M_PER_DEG
                name = self.names[i]
                if _near(own.get(name, []), x, y, spacing_m):
                    continue
                cx, cy = int(x // cell), int(y // cell)
                if any(_near(grid.get((cx + dx, cy + dy), []), x, y, gap_m)
                       for dx in (-1, 0, 1) for dy in (-1, 0, 1)):
                    continue
                done.add(i)
                grid.setdefault((cx, cy), []).append((x, y))
                own.setdefault(name, []).append((x, y))
                out.append([round(lat, _DECIMALS), round(lon, _DECIMALS), angle, name, zoom])
        return out

    def _midpoint(self, i: int) -> tuple[float, float, float]:
        if i not in self._midpoints:
            self._midpoints[i] = _midpoint(self.paths[i])
        return self._midpoints[i]


def _near(points: Sequence[tuple[float, float]], x: float, y: float, distance: float) -> bool:
    return any(math.hypot(x - a, y - b) < distance for a, b in points)


def _midpoint(path: np.ndarray) -> tuple[float, float, float]:
    """Return (lat, lon, angle_deg) halfway along a display path, the angle of its text.

    The angle is clockwise from east on screen (CSS ``rotate``), within +-90 degrees so the
    text never reads upside down.
    """
    k = math.cos(math.radians(float(path[:, 0].mean())))
    dy = np.diff(path[:, 0])
    dx = np.diff(path[:, 1]) * k
    seg = np.hypot(dx, dy)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    half = cum[-1] / 2
    i = min(int(np.searchsorted(cum, half, side="right")) - 1, len(seg) - 1)
    f = (half - cum[i]) / seg[i] if seg[i] > 0 else 0.0
    lat = float(path[i, 0] + f * (path[i + 1, 0] - path[i, 0]))
    lon = float(path[i, 1] + f * (path[i + 1, 1] - path[i, 1]))
    angle = -math.degrees(math.atan2(dy[i], dx[i]))  # screen y grows downwards
    if angle > 90:
        angle -= 180
    elif angle <= -90:
        angle += 180
    return lat, lon, round(angle, 1)


# --------------------------------------------------------------------------------------------
# Page assembly


class _Verbatim(Element):
    """A fixed string that renders as itself: no Jinja pass, unlike ``branca.Element``."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text

    def render(self, **kwargs: Any) -> str:
        return self._text


class _Inject(Element):
    """Add strings to the page's body and final script.

    Added as the map's last child, its script runs after folium has declared the map, so it
    can refer to it by its variable name.
    """

    def __init__(self, *, body: str = "", script: str = "") -> None:
        super().__init__()
        self._body, self._script = body, script

    def render(self, **kwargs: Any) -> str:
        figure = self.get_root()
        assert isinstance(figure, Figure)
        name = self.get_name()
        if self._body:
            figure.html.add_child(_Verbatim(self._body), name=name + "_body")
        if self._script:
            figure.script.add_child(_Verbatim(self._script), name=name + "_script")
        return ""


def _no_close_tag(text: str, tag: str) -> str:
    # An inlined asset must not end its own <script>/<style> element early.
    return re.sub(rf"</({tag})", r"<\\/\1", text, flags=re.IGNORECASE)


@functools.cache
def _leaflet_assets() -> tuple[str, str]:
    """Return Leaflet's JS and CSS as text, the CSS's images inlined as data: URIs."""
    try:
        root = importlib.resources.files("js_lib_leaflet") / "static" / "js_lib_leaflet"
        js = (root / "leaflet.js").read_text(encoding="utf-8")
        css = (root / "leaflet.css").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise ImportError(
            "courier's maps inline Leaflet from the 'django-js-lib-leaflet' package "
            "(no Django needed): pip install 'django-js-lib-leaflet>=1.9.4,<2'"
        ) from exc

    def data_uri(match: re.Match[str]) -> str:
        png = (root / "images" / match.group(1)).read_bytes()
        return "url(data:image/png;base64," + base64.b64encode(png).decode("ascii") + ")"

    # A relative url(images/...) would be fetched next to the HTML file and fail there.
    css = re.sub(r"url\(['\"]?images/([\w.-]+\.png)['\"]?\)", data_uri, css)
    return _no_close_tag(js, "script"), _no_close_tag(css, "style")


def _base_map(tiles: str, center: tuple[float, float], title: str) -> folium.Map:
    """Return a folium map with the chosen tiles and no CDN links, Leaflet inlined."""
    # The scale bar is ours (metres only, see cmScale), not folium's metric-and-imperial one.
    m = folium.Map(location=list(center), zoom_start=15, tiles=None, control_scale=False)
    # folium would add <script src=CDN> for Leaflet, jQuery, Bootstrap and awesome-markers.
    m.default_js = []
    m.default_css = []
    if tiles != "none":
        spec = _TILES[tiles]
        # A TileProvider, not a URL: folium would search all of xyzservices' providers for a
        # URL string first, which costs more than drawing the whole page.
        provider = xyzservices.TileProvider(
            name=tiles, url=spec["url"], attribution=spec["attr"],
            html_attribution=esc(spec["attr"]), max_zoom=spec["max_zoom"],
            **({"subdomains": spec["subdomains"]} if "subdomains" in spec else {}),
        )
        folium.TileLayer(tiles=provider, name=tiles, control=False).add_to(m)
    js, css = _leaflet_assets()
    figure = m.get_root()
    assert isinstance(figure, Figure)
    figure.title = esc(title)  # rendered once, without a second template pass
    figure.header.add_child(
        _Verbatim(f"<style>{css}</style>\n<style>{_PAGE_CSS}</style>\n<script>{js}</script>"),
        name="courier_leaflet",
    )
    return m


def _finish(m: folium.Map, *, body: str, function: str, data: dict[str, Any], t: Text) -> str:
    """Return the page: folium's map, then our body HTML and one call with the page's data.

    The script's words are added to the data; the page declares its language, so a phone
    picks Chinese glyphs (not Japanese ones) for the Han characters and reads it aloud right.
    """
    data = {**data, "text": _script_text(t)}
    call = f"{function}({m.get_name()}, {_js_data(data)});"
    m.add_child(_Inject(body=body, script=_RUNTIME_JS + "\n" + call))
    page = str(m.get_root().render())
    # branca's Figure writes a bare <html> with no way to give it attributes; it is the
    # page's first element, before any data.
    head = "<!DOCTYPE html>\n<html>"
    assert page.startswith(head), page[:40]
    return f'<!DOCTYPE html>\n<html lang="{t.html_lang}">' + page[len(head):]


# --------------------------------------------------------------------------------------------
# Content


class _Index:
    """Stops and parcels by id, built once per plan (write_maps draws many pages from it)."""

    def __init__(self, plan: DayPlan) -> None:
        self.stops = {s.stop_id: s for s in plan.stops}
        self.parcels = {p.parcel_id: p for p in plan.parcels}
        self.trips: dict[str, list[Trip]] = {}
        for trip in plan.trips:
            self.trips.setdefault(trip.courier_id, []).append(trip)
        for trips in self.trips.values():
            trips.sort(key=lambda trip: trip.trip)

    def stop(self, courier_id: str, trip: Trip, visit: Visit) -> Stop:
        stop = self.stops.get(visit.stop_id)
        if stop is None:
            raise ValueError(
                f"trip {trip.trip} of courier {courier_id!r} visits stop {visit.stop_id!r}, "
                "which is not in plan.stops"
            )
        return stop


def _station_popup(plan: DayPlan, t: Text) -> str:
    station = t("Station")
    name = plan.station.name or station
    return f"<div class='cm-pop'><b>{esc(name)}</b><br>{esc(station)}</div>"


def _links(stop: Stop, t: Text) -> str:
    g_lon, g_lat = wgs84_to_gcj02(stop.lon, stop.lat)
    geo = f"geo:{stop.lat:.6f},{stop.lon:.6f}"  # geo: URIs are WGS-84 by definition
    amap = f"https://uri.amap.com/marker?position={float(g_lon):.6f},{float(g_lat):.6f}"
    # Babel finds no t() inside an f-string: the words are taken out first, here and below.
    open_app, amap_name = esc(t("Open in maps app")), esc(t("Amap"))
    return (
        f"<div class='cm-links'><a href='{esc(geo)}'>{open_app}</a>"
        f"<a href='{esc(amap)}' target='_blank' rel='noopener noreferrer'>{amap_name}</a></div>"
    )


def _aside(text: str) -> str:
    """Return a bracketed remark as HTML to follow a word: "(...)" after a space, while
    full-width brackets (Chinese) bring their own."""
    return (" " if text[:1].isascii() else "") + esc(text)


def _stop_popup(n: int, trip: Trip, visit: Visit, stop: Stop, parcels: dict[str, Parcel],
                t: Text) -> str:
    arrive = f"<b>{hhmm(visit.arrival_s)}</b>"
    if visit.start_s > visit.arrival_s:
        arrive += _aside(t("(hand over from {time})", time=hhmm(visit.start_s)))
    rows = []
    for pid in stop.parcel_ids:
        p = parcels.get(pid)
        who = ""
        if p is not None and (p.recipient or p.phone):
            phone = f" · {esc(mask_phone(p.phone))}" if p.phone else ""
            who = f" — {esc(p.recipient)}{phone}"
        note = (f"<div class='cm-note'>{esc(p.notes)}</div>"
                if p is not None and p.notes else "")
        kind = _aside(t("(pickup)")) if p is not None and p.kind == "pickup" else ""
        rows.append(f"<li><code>{esc(pid)}</code>{kind}{who}{note}</li>")
    # The fields are filled after the (trusted) translation is escaped: an arrival's <b>
    # must stay markup.
    arrive_line = esc(t("Arrive {time}")).replace("{time}", arrive)
    windows = esc(t("Window {windows}", windows=_windows_text(stop.windows_s, t)))
    head, trip_no = esc(t("Stop {n}", n=n)), esc(t("Trip {n}", n=trip.trip))
    return (
        f"<div class='cm-pop'><div class='cm-pop-h'>{head}<span> · {trip_no}</span></div>"
        f"<div>{arrive_line}</div>"
        f"<div>{windows}</div>"
        f"<div class='cm-addr'>{esc(_address(stop, parcels))}</div>"
        f"<ul class='cm-parcels'>{''.join(rows)}</ul>"
        f"{_links(stop, t)}</div>"
    )


def _address(stop: Stop, parcels: dict[str, Parcel]) -> str:
    if stop.address:
        return stop.address
    for pid in stop.parcel_ids:
        p = parcels.get(pid)
        if p is not None and p.address:
            return p.address
    return ""


def courier_map(plan: DayPlan, courier_id: str, *, tiles: Tiles = "osm",
                graph: StreetGraph | None = None, t: Text = ZH) -> str:
    """Return one courier's route map as a complete, offline HTML document.

    Parameters
    ----------
    plan
        The finished plan.
    courier_id
        The courier to draw; must be in ``plan.couriers`` or own a trip.
    tiles
        ``"osm"`` (OpenStreetMap, WGS-84), ``"amap"`` (Amap tiles; every drawn point is shifted
        to GCJ-02) or ``"none"`` (a plain background, e.g. for printing or no signal).
    graph
        The street graph the plan was made on: its streets around the routes (300 m beyond
        them) are drawn under the tiles, with their names from zoom 16, so the map still
        shows the streets where the tiles cannot load. ``None``: routes only.
    t
        The page's language (Chinese by default).
    """
    _check_tiles(tiles)
    streets = _Streets(graph, tiles) if graph is not None else None
    return _courier_page(plan, _Index(plan), courier_id, tiles, streets, t)


def _trip_heading(trip: Trip, color: str, n_stops: int, t: Text) -> tuple[str, str]:
    """Return a trip's layer label and its heading in the stop list (both HTML)."""
    swatch = f"<span class='cm-swatch' style='background:{color}'></span>"
    name = t("Trip {n}", n=trip.trip)
    stops = _stops_text(n_stops, t)
    label = f"{swatch}{esc(name)} · {hhmm(trip.depart_s)}–{hhmm(trip.return_s)} · {esc(stops)}"
    parcels = _parcels_text(trip.load_parcels, t)
    km = t.num(trip.distance_m / 1000, 1)
    heading = t("Trip {n}: leave {depart}, back {back}, {parcels}, {km} km", n=trip.trip,
                depart=hhmm(trip.depart_s), back=hhmm(trip.return_s), parcels=parcels, km=km)
    return label, f"<li class='cm-trip'>{swatch}{esc(heading)}</li>"


def _courier_page(plan: DayPlan, index: _Index, courier_id: str, tiles: str,
                  streets: _Streets | None, t: Text) -> str:
    courier = next((c for c in plan.couriers if c.courier_id == courier_id), None)
    trips = index.trips.get(courier_id, [])
    if courier is None and not trips:
        raise ValueError(f"courier {courier_id!r} is not in the plan")
    station = _point(tiles, plan.station.lon, plan.station.lat)
    who = courier_id + (f" {courier.name}" if courier is not None and courier.name else "")
    m = _base_map(tiles, station, t("Route {courier}", courier=who))

    groups: list[dict[str, Any]] = []
    stop_data: list[dict[str, Any]] = []
    items: list[str] = []
    drawn: list[np.ndarray] = [np.array([station])]
    n = 0
    for g, trip in enumerate(trips):
        color = _PALETTE[g % len(_PALETTE)]
        path = _latlon(tiles, trip.path_lonlat) if trip.path_lonlat else np.empty((0, 2))
        visits = sorted(trip.visits, key=lambda v: v.seq)
        stops = [index.stop(courier_id, trip, v) for v in visits]
        at = _latlon(tiles, [(s.lon, s.lat) for s in stops]) if stops else np.empty((0, 2))
        drawn += [path, at]
        label, heading = _trip_heading(trip, color, len(visits), t)
        groups.append({
            "label": label,
            "color": color,
            "paths": [_encode(path)] if len(path) >= 2 else [],
            "arrows": _arrows(path),
        })
        items.append(heading)
        for visit, stop, (lat, lon) in zip(visits, stops, at.tolist(), strict=True):
            n += 1
            stop_data.append({"n": n, "lat": lat, "lon": lon, "g": g, "dep": visit.departure_s,
                              "popup": _stop_popup(n, trip, visit, stop, index.parcels, t)})
            address = _address(stop, index.parcels) or t("(no address)")
            sub = f"{_parcels_text(len(stop.parcel_ids), t)} · {_windows_text(stop.windows_s, t)}"
            items.append(
                f"<li><button type='button' class='cm-item' data-stop='{n - 1}'>"
                f"<span class='cm-num' style='background:{color}'>{n}</span>"
                f"<span class='cm-time'>{hhmm(visit.arrival_s)}</span>"
                f"<span class='cm-text'><span class='cm-addr'>{esc(address)}</span>"
                f"<span class='cm-sub'>{esc(sub)}</span></span></button></li>"
            )
    if not trips:
        none = esc(t("No stops in this plan."))
        items.append(f"<li class='cm-trip'>{none}</li>")
    count = f"{_stops_text(n, t)} · {_trips_text(len(trips), t)}"
    summary = f"<span class='cm-who'>{esc(who)}</span><span class='cm-count'>{esc(count)}</span>"
    body = (
        f"<details class='cm-panel' id='cm-panel' open><summary>{summary}</summary>"
        f"<ol class='cm-list'>{''.join(items)}</ol></details>"
    )
    bounds = _bounds(drawn)
    data = {
        "groups": groups,
        "stops": stop_data,
        "station": {"lat": station[0], "lon": station[1], "popup": _station_popup(plan, t)},
        "bounds": bounds,
        "collapsed": True,
        "streets": streets.page_data(bounds) if streets is not None else None,
    }
    return _finish(m, body=body, function="courierMap", data=data, t=t)


def _districts_geojson(
    districts: geopandas.GeoDataFrame, tiles: str, colors: dict[str, str]
) -> tuple[dict[str, Any], np.ndarray]:
    """Return the district polygons as GeoJSON in display coordinates, styled per courier,
    and their vertices as (lat, lon) rows, for the map's initial view."""
    import shapely

    gdf = districts
    if "courier_id" not in gdf.columns:
        raise ValueError("districts must have a 'courier_id' column")
    if gdf.crs is not None and not gdf.crs.equals("EPSG:4326"):
        gdf = gdf.to_crs("EPSG:4326")
    features = []
    vertices = [np.empty((0, 2))]
    for cid, geom in zip(gdf["courier_id"], gdf.geometry, strict=True):
        if geom is None or geom.is_empty:
            continue
        if tiles == "amap":
            geom = shapely.transform(
                geom, lambda xy: np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1]))
            )
        vertices.append(shapely.get_coordinates(geom)[:, ::-1])
        features.append({
            "type": "Feature",
            "geometry": shapely.geometry.mapping(geom),
            # Only the colour and the plain id: the id reaches the page via textContent.
            "properties": {"color": colors.get(str(cid), "#777777"), "courier_id": str(cid)},
        })
    return {"type": "FeatureCollection", "features": features}, np.concatenate(vertices)


def overview_map(
    plan: DayPlan,
    *,
    districts: geopandas.GeoDataFrame | None = None,
    tiles: Tiles = "osm",
    graph: StreetGraph | None = None,
    t: Text = ZH,
) -> str:
    """Return the station's overview map (all routes, districts, unplanned parcels) as HTML.

    Parameters
    ----------
    plan
        The finished plan.
    districts
        Optional district polygons with a ``courier_id`` column (any CRS; drawn in WGS-84).
    tiles
        ``"osm"``, ``"amap"`` (everything shifted to GCJ-02) or ``"none"``.
    graph
        The street graph: its streets under the routes where the tiles do not load (as on
        :func:`courier_map`; the longest streets only, if a whole city would make the page
        heavy).
    t
        The page's language (Chinese by default).
    """
    _check_tiles(tiles)
    streets = _Streets(graph, tiles) if graph is not None else None
    return _overview_page(plan, _Index(plan), districts, tiles, streets, t)


def _overview_page(
    plan: DayPlan, index: _Index, districts: geopandas.GeoDataFrame | None, tiles: str,
    streets: _Streets | None, t: Text,
) -> str:
    station = _point(tiles, plan.station.lon, plan.station.lat)
    m = _base_map(tiles, station, t("Plan overview {station}", station=plan.station.name))
    names = {c.courier_id: c.name for c in plan.couriers}
    order = _couriers_with_trips(plan, index)
    colors = {cid: _PALETTE[i % len(_PALETTE)] for i, cid in enumerate(order)}
    drawn: list[np.ndarray] = [np.array([station])]
    groups: list[dict[str, Any]] = []
    dots: list[list[Any]] = []
    for g, cid in enumerate(order):
        trips = index.trips[cid]
        paths = []
        n = 0
        for trip in trips:
            if len(trip.path_lonlat) >= 2:
                # ~1 m: a whole station's street paths stay light enough for a browser.
                path = _simplify(_latlon(tiles, trip.path_lonlat), 1e-5)
                drawn.append(path)
                paths.append(_encode(path))
            visits = sorted(trip.visits, key=lambda v: v.seq)
            stops = [index.stop(cid, trip, v) for v in visits]
            if not stops:
                continue
            at = _latlon(tiles, [(s.lon, s.lat) for s in stops])
            drawn.append(at)
            for visit, stop, (lat, lon) in zip(visits, stops, at.tolist(), strict=True):
                n += 1
                dots.append([g, lat, lon, n, trip.trip, hhmm(visit.arrival_s),
                             _address(stop, index.parcels)])
        who = cid + (f" {names[cid]}" if names.get(cid) else "")
        count = f"{_stops_text(n, t)} · {_trips_text(len(trips), t)}"
        groups.append({
            "label": (f"<span class='cm-swatch' style='background:{colors[cid]}'></span>"
                      f"{esc(who)} · {esc(count)}"),
            "name": who,
            "color": colors[cid],
            "paths": paths,
        })

    # Unplanned parcels, grouped by where they are: at their snapped stop if they got one,
    # else at the parcel's own position; parcels with neither cannot be drawn. Plain arrays,
    # one canvas layer and popups built on a click: a day with thousands left out stays a
    # page of a few MB that draws in a second (the reason's meaning is sent once per code).
    spots: dict[tuple[float, float], list[list[str]]] = {}
    for u in plan.unassigned:
        snapped = index.stops.get(u.stop_id)
        parcel = index.parcels.get(u.parcel_id)
        if snapped is not None:
            lon, lat, address = snapped.lon, snapped.lat, snapped.address
        elif parcel is not None:
            lon, lat, address = parcel.lon, parcel.lat, parcel.address
        else:
            continue
        if parcel is not None and parcel.address:
            address = parcel.address
        spots.setdefault(_point(tiles, lon, lat), []).append([u.parcel_id, u.reason_code, address])
    unassigned = [[round(lat, _DECIMALS), round(lon, _DECIMALS), rows]
                  for (lat, lon), rows in spots.items()]
    # A code's meaning in the page's language; a code without one shows its parcels' reason.
    reasons: dict[str, str] = {}
    for u in plan.unassigned:
        reasons.setdefault(u.reason_code, t(REASONS[u.reason_code])
                           if u.reason_code in REASONS else u.reason)
    if spots:
        drawn.append(np.array(list(spots)))
    district_json = None
    if districts is not None:
        district_json, vertices = _districts_geojson(districts, tiles, colors)
        drawn.append(vertices)
    not_planned = t("Not planned: {parcels}",
                    parcels=_parcels_text(len(plan.unassigned), t))
    bounds = _bounds(drawn)
    data: dict[str, Any] = {
        "groups": groups,
        "dots": dots,
        "unassigned": unassigned,
        "reasons": reasons,
        "unassignedLabel": f"<span class='cm-x-key'></span>{esc(not_planned)}",
        "districts": district_json,
        "station": {"lat": station[0], "lon": station[1], "popup": _station_popup(plan, t)},
        "bounds": bounds,
        "collapsed": False,
        "streets": streets.page_data(bounds) if streets is not None else None,
    }
    return _finish(m, body="", function="overviewMap", data=data, t=t)


def _couriers_with_trips(plan: DayPlan, index: _Index) -> list[str]:
    """Return the ids of couriers with a trip: roster order first, then any others."""
    order = [c.courier_id for c in plan.couriers if c.courier_id in index.trips]
    seen = set(order)
    order += [cid for cid in index.trips if cid not in seen]
    return order


def map_pages(
    plan: DayPlan,
    *,
    districts: geopandas.GeoDataFrame | None = None,
    tiles: Tiles = "osm",
    graph: StreetGraph | None = None,
    t: Text = ZH,
) -> dict[str, str]:
    """Return ``maps/overview.html`` and one ``maps/courier-<id>.html`` per courier with a trip.

    Keys are paths relative to the plan folder, the overview first; ids are made safe for
    file names by :func:`courier.io.safe_filename`. ``graph`` (the plan's street graph) puts
    the streets around each page's routes into it, for a phone without signal; ``t`` is the
    pages' language (see :func:`courier_map`).
    """
    _check_tiles(tiles)
    index = _Index(plan)
    streets = _Streets(graph, tiles) if graph is not None else None  # once for every page
    pages = {"maps/overview.html": _overview_page(plan, index, districts, tiles, streets, t)}
    for cid in _couriers_with_trips(plan, index):
        pages[f"maps/courier-{safe_filename(cid)}.html"] = _courier_page(
            plan, index, cid, tiles, streets, t)
    return pages


# --------------------------------------------------------------------------------------------
# Static page parts. They hold no user data: that comes only as escaped JSON arguments.

_PAGE_CSS = """
html, body { margin: 0; padding: 0; }
body { font: 15px/1.35 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans CJK SC",
       "PingFang SC", sans-serif; }
/* Without tiles (offline, or tiles="none") a paper-like background keeps routes readable. */
.leaflet-container { background: #f2efe9; font: inherit; }
.stop-icon, .station-icon, .cm-arrow { background: none; border: none; }
/* Too many stops for numbers at this zoom: dots, centred where the circles were. */
.cm-crowded .stop-icon span { width: 14px; height: 14px; margin: 11px; border-width: 2px;
  font-size: 0; }
.cm-item.cm-next { box-shadow: inset 4px 0 0 #e67e22; }
.stop-icon span { display: flex; align-items: center; justify-content: center;
  width: 36px; height: 36px; box-sizing: border-box; border-radius: 50%; color: #fff;
  font-weight: 700; font-size: 15px; border: 3px solid #fff;
  box-shadow: 0 1px 4px rgba(0,0,0,.55); }
.station-icon div { width: 40px; height: 40px; box-sizing: border-box; border-radius: 8px;
  background: #111; border: 3px solid #fff; box-shadow: 0 1px 4px rgba(0,0,0,.6);
  display: flex; align-items: center; justify-content: center; }
.cm-arrow i { display: block; width: 0; height: 0; border-left: 6px solid transparent;
  border-right: 6px solid transparent; border-bottom: 13px solid #333;
  filter: drop-shadow(0 0 1px #fff) drop-shadow(0 0 1px #fff); }
.cm-x-key { display: inline-block; width: 10px; height: 10px; background: #d62728;
  border: 1.5px solid #fff; border-radius: 50%; box-shadow: 0 0 0 1px #d62728;
  margin-right: 6px; vertical-align: middle; }
.cm-swatch { display: inline-block; width: 14px; height: 6px; border-radius: 3px;
  margin-right: 6px; vertical-align: middle; }
.cm-pop { min-width: 200px; font-size: 14px; }
.cm-pop-h { font-weight: 700; font-size: 16px; margin-bottom: 2px; }
.cm-pop-h span { font-weight: 400; color: #666; font-size: 14px; }
.cm-pop .cm-addr { margin: 4px 0; color: #222; }
.cm-parcels { margin: 4px 0; padding-left: 18px; }
.cm-note { color: #8a4b00; white-space: pre-line; }
.cm-links { display: flex; gap: 8px; margin-top: 6px; }
.cm-links a { flex: 1; text-align: center; padding: 8px 4px; border-radius: 6px;
  background: #1f77b4; color: #fff !important; text-decoration: none; font-weight: 600; }
.cm-dot-pop { white-space: pre-line; }
/* The street base layer's lines: their width follows the zoom (set by cmStreets). */
.leaflet-cmStreets-pane path { stroke-width: var(--cm-street-w, 2px); }
/* Street names of the base layer: small and quiet, a halo keeps them legible on a line. */
.cm-street-name span { position: absolute; white-space: nowrap; font-size: 12px;
  color: #5f594f; text-shadow: 0 0 2px #f2efe9, 0 0 2px #f2efe9, 0 0 3px #f2efe9; }
/* The stop list: a bottom sheet on a phone, a side panel on a wide screen. */
.cm-panel { position: fixed; left: 0; right: 0; bottom: 0; z-index: 1001; max-height: 42vh;
  display: flex; flex-direction: column; background: #fff; border-radius: 12px 12px 0 0;
  box-shadow: 0 -2px 10px rgba(0,0,0,.3); }
.cm-panel summary { display: flex; justify-content: space-between; align-items: center;
  gap: 8px; padding: 12px 14px; min-height: 24px; cursor: pointer; font-weight: 700;
  border-bottom: 1px solid #ddd; list-style: none; }
.cm-panel summary::-webkit-details-marker { display: none; }
.cm-panel summary::after { content: "▾"; font-size: 18px; }
.cm-panel:not([open]) summary::after { content: "▴"; }
.cm-who { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.cm-count { font-weight: 400; color: #555; white-space: nowrap; margin-left: auto; }
/* The list scrolls inside the sheet: a <details> does not lay its content out as a flex
   item in every browser, so the list gets its own height limit (sheet less its summary). A
   swipe or the wheel on it scrolls it, never the map or the page behind. */
.cm-list { list-style: none; margin: 0; padding: 0; overflow-y: auto; flex: 1 1 auto;
  min-height: 0; max-height: calc(42vh - 50px); overscroll-behavior: contain;
  touch-action: pan-y; -webkit-overflow-scrolling: touch; }
.cm-trip { padding: 8px 14px; background: #f3f3f3; font-size: 13px; color: #333; }
.cm-item { display: flex; align-items: center; gap: 10px; width: 100%; min-height: 52px;
  padding: 6px 14px; border: 0; border-bottom: 1px solid #eee; background: #fff;
  text-align: left; font: inherit; cursor: pointer; }
.cm-item:active, .cm-item.cm-active { background: #e8f1fb; }
.cm-num { flex: none; display: flex; align-items: center; justify-content: center;
  width: 32px; height: 32px; border-radius: 50%; color: #fff; font-weight: 700; }
.cm-time { flex: none; font-weight: 700; font-variant-numeric: tabular-nums; }
.cm-text { display: flex; flex-direction: column; min-width: 0; }
.cm-text .cm-addr { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.cm-sub { font-size: 12px; color: #666; }
@media (min-width: 760px) {
  .cm-panel { left: 12px; right: auto; top: 90px; bottom: auto; width: 340px;
    max-height: calc(100vh - 120px); border-radius: 10px; }
  .cm-list { max-height: calc(100vh - 170px); }
}
"""

# The page logic, shared by both maps. It receives the map, and data as JSON in which every
# user string is either HTML escaped by Python (popups, labels) or only ever put into the DOM
# with textContent.
_RUNTIME_JS = r"""
function cmDecode(flat) {  // [lat0, lon0, dlat1, dlon1, ...] in micro-degrees -> LatLngs
  var out = [], lat = 0, lon = 0;
  for (var i = 0; i + 1 < flat.length; i += 2) {
    lat += flat[i]; lon += flat[i + 1];
    out.push([lat / 1e6, lon / 1e6]);
  }
  return out;
}
function cmFormat(template, fields) {  // "Stop {n}" with {n: 3} -> "Stop 3", as str.format
  return template.replace(/\{(\w+)\}/g, function (whole, key) {
    return Object.prototype.hasOwnProperty.call(fields, key) ? String(fields[key]) : whole;
  });
}
function cmControls(map, text) {  // Leaflet's own English words, in the page's language
  if (map.zoomControl) { map.removeControl(map.zoomControl); }
  map.zoomControl = L.control.zoom({zoomInTitle: text.zoomIn, zoomOutTitle: text.zoomOut})
    .addTo(map);
  map.on('popupopen', function (e) {  // what a screen reader says for the popup's x
    var close = e.popup.getElement().querySelector('.leaflet-popup-close-button');
    if (close) { close.setAttribute('aria-label', text.close); }
  });
}
function cmStreets(map, streets) {
  // The street graph in panes under the tile pane (z-index 200): tiles that load cover it,
  // and where they fail (no signal, or no tiles at all) it is the map. Names only from a
  // zoom where they have room; they are OSM text, so they reach the DOM as textContent.
  if (!streets || !streets.lines.length) { return; }
  var lines = map.createPane('cmStreets'), names = map.createPane('cmStreetNames');
  lines.style.zIndex = 150;
  names.style.zIndex = 160;
  names.style.pointerEvents = 'none';
  var renderer = L.svg({pane: 'cmStreets', padding: 0.5});
  streets.lines.forEach(function (flat) {
    L.polyline(cmDecode(flat), {pane: 'cmStreets', renderer: renderer, color: '#cdc6b9',
                                weight: 2, opacity: 1, interactive: false}).addTo(map);
  });
  var labels = streets.names.map(function (s) {  // [lat, lon, angle, name, from zoom]
    var el = document.createElement('span');
    el.textContent = s[3];
    // Beside the street, not on it: a route drawn along the street would hide the name.
    el.style.transform = 'translate(-50%, -50%) rotate(' + s[2] + 'deg) translateY(-13px)';
    L.marker([s[0], s[1]], {
      pane: 'cmStreetNames', interactive: false, keyboard: false,
      icon: L.divIcon({className: 'cm-street-name', html: el, iconSize: [0, 0]})
    }).addTo(map);
    return {el: el, zoom: s[4]};
  });
  function zoomed() {
    // Hairlines for the area, then about as wide as the street is: a name fits on it.
    var zoom = map.getZoom();
    var width = zoom >= 18 ? 10 : zoom >= 17 ? 7 : zoom >= 16 ? 4 : zoom >= 15 ? 3 : 2;
    lines.style.setProperty('--cm-street-w', width + 'px');
    labels.forEach(function (l) { l.el.style.display = zoom >= l.zoom ? '' : 'none'; });
  }
  map.on('zoomend', zoomed);
  zoomed();
}
function cmStation(map, s, text) {
  var svg = '<svg width="22" height="22" viewBox="0 0 24 24" aria-hidden="true">' +
    '<path fill="#fff" d="M12 3 2 12h3v8h5v-6h4v6h5v-8h3z"/></svg>';
  return L.marker([s.lat, s.lon], {
    icon: L.divIcon({className: 'station-icon', html: '<div>' + svg + '</div>',
                     iconSize: [40, 40], iconAnchor: [20, 20], popupAnchor: [0, -20]}),
    title: text.station, zIndexOffset: 1000
  }).bindPopup(s.popup).addTo(map);
}
function cmFit(map, bounds, panel, control) {
  if (!bounds) { return; }
  // Keep the route clear of the stop list (below it on a phone, beside it on a wide screen)
  // and of an expanded layer control (top right): below a short one, left of a tall one (a
  // station's 60 couriers fill the height; padding by it left no room for the map).
  var tl = [24, 24], br = [24, 24];
  if (control) {
    var size = map.getSize();
    if (control.offsetHeight < size.y / 3) { tl[1] += control.offsetHeight; }
    else if (control.offsetWidth < size.x / 2) { br[0] += control.offsetWidth; }
  }
  if (panel && panel.open) {
    if (window.innerWidth >= 760) { tl = [panel.offsetLeft + panel.offsetWidth + 12, 24]; }
    else { br = [24, panel.offsetHeight + 24]; }
  }
  map.fitBounds(bounds, {paddingTopLeft: tl, paddingBottomRight: br, maxZoom: 17});
}
function cmGroups(map, groups, casing, weight) {
  // One layer per trip (courier map) or per courier (overview), each with its street paths.
  groups.forEach(function (g) {
    g.layer = L.featureGroup().addTo(map);
    g.paths.forEach(function (flat) {
      var line = cmDecode(flat);
      if (casing) {  // a white casing keeps the route readable on any tiles
        L.polyline(line, {color: '#fff', weight: weight + 3, opacity: 0.9,
                          interactive: false}).addTo(g.layer);
      }
      L.polyline(line, {color: g.color, weight: weight, opacity: 0.85}).addTo(g.layer);
    });
  });
}
function cmOverlays(map, groups, collapsed, extra) {
  var overlays = {};
  groups.forEach(function (g) { overlays[g.label] = g.layer; });
  (extra || []).forEach(function (e) { overlays[e.label] = e.layer; });
  return L.control.layers(null, overlays, {collapsed: collapsed}).addTo(map);
}
function cmScale(map) {  // metres and kilometres: nobody here reads feet
  L.control.scale({imperial: false}).addTo(map);
}
function courierMap(map, data) {
  var panel = document.getElementById('cm-panel');
  cmControls(map, data.text);
  cmScale(map);
  cmStreets(map, data.streets);
  cmGroups(map, data.groups, true, 5);
  data.groups.forEach(function (g) {
    g.arrows.forEach(function (a) {
      L.marker([a[0], a[1]], {
        icon: L.divIcon({className: 'cm-arrow',
          html: '<i style="transform: rotate(' + a[2] + 'deg); border-bottom-color: ' +
                g.color + '"></i>',
          iconSize: [12, 13], iconAnchor: [6, 6]}),
        interactive: false, keyboard: false
      }).addTo(g.layer);
    });
  });
  var markers = data.stops.map(function (s) {
    var g = data.groups[s.g];
    var m = L.marker([s.lat, s.lon], {
      icon: L.divIcon({className: 'stop-icon',
        html: '<span style="background: ' + g.color + '">' + s.n + '</span>',
        iconSize: [36, 36], iconAnchor: [18, 18], popupAnchor: [0, -16]}),
      title: cmFormat(data.text.stop, {n: s.n}), riseOnHover: true, zIndexOffset: 500
    });
    m.bindPopup(s.popup, {maxWidth: 290, autoPanPadding: [16, 16]});
    m.addTo(g.layer);
    return m;
  });
  cmStation(map, data.station, data.text);
  cmOverlays(map, data.groups, data.collapsed);
  cmFit(map, data.bounds, panel);
  function covered() {  // px of the map's bottom hidden by the open stop list on a phone
    return (panel && panel.open && window.innerWidth < 760) ? panel.offsetHeight : 0;
  }
  // Give every popup the room the stop list leaves: scroll inside rather than hide under it.
  map.on('popupopen', function (e) {
    var room = map.getSize().y - covered();
    e.popup.options.maxHeight = Math.max(room - 90, 120);
    e.popup.options.autoPanPaddingBottomRight = [16, covered() + 16];
    e.popup.update();
  });
  function show(i) {
    var s = data.stops[i], m = markers[i], layer = data.groups[s.g].layer;
    if (!map.hasLayer(layer)) { map.addLayer(layer); }
    var zoom = Math.max(map.getZoom(), 16);
    // Put the stop low in the visible part of the map, so its popup opens above it in view.
    var size = map.getSize();
    var target = Math.max(size.y - covered() - 40, size.y / 2);
    var p = map.project([s.lat, s.lon], zoom).add([0, size.y / 2 - target]);
    var opened = false;
    function open() { if (!opened) { opened = true; m.openPopup(); } }
    map.once('moveend', open);
    map.flyTo(map.unproject(p, zoom), zoom, {duration: 0.5});
    setTimeout(open, 900);  // flyTo to where the map already is may not fire moveend
    document.querySelectorAll('.cm-item.cm-active').forEach(function (el) {
      el.classList.remove('cm-active');
    });
    var item = document.querySelector('.cm-item[data-stop="' + i + '"]');
    if (item) { item.classList.add('cm-active'); }
  }
  document.querySelectorAll('.cm-item').forEach(function (el) {
    el.addEventListener('click', function () { show(parseInt(el.dataset.stop, 10)); });
  });
  markers.forEach(function (m, i) {
    m.on('click', function () {
      var item = document.querySelector('.cm-item[data-stop="' + i + '"]');
      if (item && item.scrollIntoView) { item.scrollIntoView({block: 'nearest'}); }
    });
  });
  cmNextStop(data.stops);
  // Numbered circles that overlap cannot be read: small dots until zoomed in far enough.
  function crowd() {
    map.getContainer().classList.toggle('cm-crowded', cmCrowded(map, data.stops, 30));
  }
  map.on('zoomend', crowd);
  crowd();
}
function cmNextStop(stops) {
  // During the day the list opens at the first stop not yet done by the clock, marked.
  var now = new Date();
  var sec = now.getHours() * 3600 + now.getMinutes() * 60 + now.getSeconds();
  if (!stops.length || sec < stops[0].dep - 3600 || sec > stops[stops.length - 1].dep) {
    return;
  }
  var next = 0;
  while (next < stops.length && stops[next].dep <= sec) { next++; }
  var item = document.querySelector('.cm-item[data-stop="' + next + '"]');
  var list = document.querySelector('.cm-list');
  if (!item || !list) { return; }
  item.classList.add('cm-next');
  list.scrollTop = item.parentNode.offsetTop - list.offsetTop;
}
function cmCrowded(map, stops, px) {
  // Median distance on screen from a stop to its nearest neighbour, over at most 300 stops.
  // Every step-th stop of an area spread out stands about sqrt(step) times farther from its
  // nearest sampled neighbour, so the threshold grows by as much.
  var pts = [], step = Math.max(1, Math.ceil(stops.length / 300));
  for (var i = 0; i < stops.length; i += step) {
    pts.push(map.latLngToContainerPoint([stops[i].lat, stops[i].lon]));
  }
  if (pts.length < 2) { return false; }
  var nearest = pts.map(function (a, i) {
    var best = Infinity;
    pts.forEach(function (b, j) { if (i !== j) { best = Math.min(best, a.distanceTo(b)); } });
    return best;
  }).sort(function (a, b) { return a - b; });
  return nearest[Math.floor(nearest.length / 2)] < px * Math.sqrt(step);
}
function cmUnplannedPopup(rows, reasons, text) {  // text only: nothing here is parsed as HTML
  var el = document.createElement('div'), head = document.createElement('div');
  var list = document.createElement('ul'), seen = {};
  el.className = 'cm-pop';
  head.className = 'cm-pop-h';
  head.textContent = cmFormat(text.notPlannedAt, {n: rows.length});
  list.className = 'cm-parcels';
  rows.forEach(function (r) {
    var li = document.createElement('li'), id = document.createElement('code');
    var why = document.createElement('b'), addr = document.createElement('div');
    id.textContent = r[0];
    why.textContent = r[1];
    addr.className = 'cm-addr';
    addr.textContent = r[2];
    li.append(id, ' ', why);
    if (reasons[r[1]] && !seen[r[1]]) { li.append(': ' + reasons[r[1]]); seen[r[1]] = true; }
    li.append(addr);
    list.append(li);
  });
  el.append(head, list);
  return el;
}
function overviewMap(map, data) {
  var extra = [], text = data.text;
  cmControls(map, text);
  cmScale(map);
  cmStreets(map, data.streets);
  if (data.districts && data.districts.features.length) {
    var d = L.geoJSON(data.districts, {
      style: function (f) {
        return {color: f.properties.color, weight: 2, fillColor: f.properties.color,
                fillOpacity: 0.08, dashArray: '6 4'};
      },
      onEachFeature: function (f, layer) {
        var el = document.createElement('div');
        el.textContent = cmFormat(text.districtOf, {courier: f.properties.courier_id});
        layer.bindTooltip(el, {sticky: true});
      }
    }).addTo(map);
    extra.push({label: text.districts, layer: d});
  }
  cmGroups(map, data.groups, false, 4);
  // Many stops: small dots on one canvas keep a station-size plan fast. Its own pane above
  // the districts and routes (SVG, which would take the dots' clicks); unplanned dots share
  // the canvas, since a second one would take every click meant for the first.
  map.createPane('cm-dots').style.zIndex = 450;
  var canvas = L.canvas({padding: 0.5, pane: 'cm-dots'});
  data.dots.forEach(function (s) {
    var g = data.groups[s[0]];
    L.circleMarker([s[1], s[2]], {renderer: canvas, radius: 6, color: '#fff', weight: 1.5,
                                  fillColor: g.color, fillOpacity: 1})
      .bindPopup(function () {
        var el = document.createElement('div');
        el.className = 'cm-dot-pop';
        el.textContent = g.name + '\n' + cmFormat(text.stop, {n: s[3]}) + ' · ' +
                         cmFormat(text.trip, {n: s[4]}) + ' · ' + s[5] +
                         (s[6] ? '\n' + s[6] : '');
        return el;
      })
      .addTo(g.layer);
  });
  if (data.unassigned.length) {
    // Red dots on the stops' canvas, drawn after them so on top; the popup is built when
    // opened.
    var u = L.featureGroup().addTo(map);
    data.unassigned.forEach(function (x) {
      L.circleMarker([x[0], x[1]], {renderer: canvas, radius: 5, color: '#fff', weight: 1.5,
                                    fillColor: '#d62728', fillOpacity: 1, cmUnplanned: true})
        .bindPopup(function () { return cmUnplannedPopup(x[2], data.reasons, text); },
                   {maxWidth: 320})
        .addTo(u);
    });
    extra.push({label: data.unassignedLabel, layer: u});
  }
  cmStation(map, data.station, text);
  // On a phone the courier list would cover half the map: it opens from its button.
  var phone = window.matchMedia && window.matchMedia('(max-width: 700px)').matches;
  var control = cmOverlays(map, data.groups, data.collapsed || phone, extra);
  cmFit(map, data.bounds, null, control.getContainer());
}
"""
