"""Street graph, snapping, travel-time matrices and street paths.

OpenStreetMap data (``.osm`` XML, optionally gzip/bzip2 compressed, ``.osm.pbf``, OSMnx
``.graphml``) becomes a :class:`~courier.model.StreetGraph` for one vehicle profile: flat arrays
of OSM nodes and directed straight segments, restricted to the largest strongly connected
component. Points snap to the nearest segment; travel-time matrices between snapped points come
from compiled Dijkstra runs (``scipy.sparse.csgraph``) whose predecessor arrays also give the
street paths for the maps.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import logging
import math
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyproj
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components, dijkstra

from courier.config import VehicleProfile
from courier.errors import InputError
from courier.io import file_sha256
from courier.model import UNREACHABLE, FloatArray, IntArray, Snap, StreetGraph

__all__ = [
    "UNREACHABLE",
    "TravelMatrix",
    "crop",
    "fragment_distance_m",
    "from_networkx",
    "load_graph",
    "project",
    "snap_points",
    "travel_matrix",
    "unproject",
]

logger = logging.getLogger(__name__)


# Bump whenever the graph-building rules or the cache layout change: old caches then miss.
_CACHE_FORMAT = 2
_SUFFIXES = (".osm", ".osm.gz", ".osm.bz2", ".osm.pbf", ".graphml")
_ONEWAY_FORWARD = frozenset({"yes", "true", "1"})
_ONEWAY_REVERSE = frozenset({"-1", "reverse"})
_ONEWAY_NO = frozenset({"no", "false", "0"})
_CLOSED_ACCESS = frozenset({"no", "private"})
_MAXSPEED = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph)?\s*$", re.IGNORECASE)
_MPH_TO_KPH = 1.609344
# Working memory for one chunk of Dijkstra rows (times, predecessors, lengths): bounds the peak
# whatever the number of stops.
_CHUNK_BYTES = 256 * 2**20
_GEOD = pyproj.Geod(ellps="WGS84")
# Edge times and lengths are stored as multiples of these binary quanta (about 4 ms and 12 cm),
# so every path sum is exact in float64 and independent of summation order. That lets one
# Dijkstra run minimise time and, among equally fast paths, length, on the single weight
# time_q * 2**_LEN_BITS + length_q: the low bits carry the length of the fastest path, so no
# second pass over the predecessor trees is needed. Exact while a path stays under 2**53
# quanta: 2**26 time quanta (72 h) and 2**27 length quanta (16,000 km).
_TIME_QUANTA_PER_S = 2.0**8
_LEN_QUANTA_PER_M = 2.0**3
_LEN_BITS = 27
_EXACT_LIMIT = 2.0**53


# --------------------------------------------------------------------------------------------
# Loading


@dataclass(slots=True)
class _Segments:
    """Raw street segments as read from a file, before directing and cleaning."""

    node_id: list[int] = field(default_factory=list)
    node_lon: list[float] = field(default_factory=list)
    node_lat: list[float] = field(default_factory=list)
    seg_u: list[int] = field(default_factory=list)
    seg_v: list[int] = field(default_factory=list)
    seg_way: list[int] = field(default_factory=list)
    way_fwd: list[bool] = field(default_factory=list)
    way_bwd: list[bool] = field(default_factory=list)
    way_speed_kph: list[float] = field(default_factory=list)
    way_name: list[str] = field(default_factory=list)

    def add_way(
        self,
        refs: Sequence[int],
        lons: Sequence[float],
        lats: Sequence[float],
        *,
        fwd: bool,
        bwd: bool,
        speed_kph: float,
        name: str,
    ) -> None:
        if len(refs) < 2:
            return
        way = len(self.way_fwd)
        self.node_id.extend(refs)
        self.node_lon.extend(lons)
        self.node_lat.extend(lats)
        self.seg_u.extend(refs[:-1])
        self.seg_v.extend(refs[1:])
        self.seg_way.extend([way] * (len(refs) - 1))
        self.way_fwd.append(fwd)
        self.way_bwd.append(bwd)
        self.way_speed_kph.append(speed_kph)
        self.way_name.append(name)


def _parse_maxspeed_kph(value: str | None) -> float | None:
    # "50", "50 km/h", "30 mph", "50;60" (lowest wins); "CN:urban", "none", "signals" are not
    # numbers and leave the class speed in charge.
    if not value:
        return None
    speeds = []
    for part in value.split(";"):
        m = _MAXSPEED.match(part)
        if m:
            kph = float(m.group(1)) * (_MPH_TO_KPH if (m.group(2) or "").lower() == "mph" else 1)
            if kph > 0:
                speeds.append(kph)
    return min(speeds) if speeds else None


def _way_rules(
    tags: dict[str, str], profile: VehicleProfile
) -> tuple[bool, bool, float] | None:
    """Return (forward, backward, speed_kph) for a way, or None if closed to this profile."""
    highway = tags.get("highway")
    if highway is None or highway not in profile.speed_kph:
        return None
    if tags.get("access", "").lower() in _CLOSED_ACCESS or tags.get("area", "").lower() == "yes":
        return None
    speed_kph = min(profile.speed_kph[highway], profile.max_speed_kph)
    tag_kph = _parse_maxspeed_kph(tags.get("maxspeed"))
    if tag_kph is not None:
        speed_kph = min(speed_kph, tag_kph)
    fwd = bwd = True
    if profile.oneway:
        oneway = tags.get("oneway", "").lower()
        if oneway in _ONEWAY_FORWARD:
            bwd = False
        elif oneway in _ONEWAY_REVERSE:
            fwd = False
        elif oneway not in _ONEWAY_NO and tags.get("junction", "").lower() in (
            "roundabout",
            "circular",
        ):
            bwd = False
    return fwd, bwd, speed_kph


def _in_bbox(
    lon: float, lat: float, bbox: tuple[float, float, float, float] | None
) -> bool:
    return bbox is None or (bbox[0] <= lon <= bbox[2] and bbox[1] <= lat <= bbox[3])


def _read_osm(path: Path, profile: VehicleProfile, bbox: Any) -> _Segments:
    import osmium  # compiled and streaming; deferred so importing courier stays light

    segs = _Segments()

    class _Handler(osmium.SimpleHandler):
        # Only ways reach Python: node locations stay in osmium's compact C++ index.
        def way(self, w: Any) -> None:
            if w.tags.get("highway") not in profile.speed_kph:
                return  # most ways are buildings and the like: skip before copying tags
            tags = {t.k: t.v for t in w.tags}
            rules = _way_rules(tags, profile)
            if rules is None:
                return
            refs: list[int] = []
            lons: list[float] = []
            lats: list[float] = []
            touches_bbox = bbox is None
            for n in w.nodes:
                loc = n.location
                if not loc.valid():
                    # A node cut off by the extract: end this piece of the way here.
                    self._flush(refs, lons, lats, rules, tags, touches_bbox)
                    refs, lons, lats, touches_bbox = [], [], [], bbox is None
                    continue
                refs.append(n.ref)
                lons.append(loc.lon)
                lats.append(loc.lat)
                touches_bbox = touches_bbox or _in_bbox(loc.lon, loc.lat, bbox)
            self._flush(refs, lons, lats, rules, tags, touches_bbox)

        def _flush(
            self,
            refs: list[int],
            lons: list[float],
            lats: list[float],
            rules: tuple[bool, bool, float],
            tags: dict[str, str],
            touches_bbox: bool,
        ) -> None:
            if touches_bbox:
                segs.add_way(
                    refs, lons, lats, fwd=rules[0], bwd=rules[1], speed_kph=rules[2],
                    name=tags.get("name", ""),
                )

    try:
        _Handler().apply_file(str(path), locations=True)
    except RuntimeError as exc:
        raise InputError(f"cannot read OSM data from {path}: {exc}") from None
    return segs


def _as_list(value: Any) -> list[str]:
    # OSMnx keeps merged attributes as lists; in GraphML it writes them as a Python list
    # literal, e.g. "['primary', 'secondary']".
    if value is None:
        return []
    if isinstance(value, list | tuple | set):
        return [str(v) for v in value]
    text = str(value)
    if text.startswith("["):
        with contextlib.suppress(ValueError, SyntaxError):
            return [str(v) for v in ast.literal_eval(text)]
    return [text]


def _read_graphml(path: Path, profile: VehicleProfile, bbox: Any) -> _Segments:
    import networkx as nx

    try:
        g = nx.read_graphml(path)
    except Exception as exc:  # any parse failure means a bad input file
        raise InputError(f"cannot read GraphML from {path}: {exc}") from None
    return _networkx_segments(g, profile, bbox, source=str(path))


def _node_lonlat(g: Any, source: str) -> dict[Any, tuple[float, float]]:
    """Return every node's (lon, lat) in WGS-84; a projected graph (its ``crs``) is unprojected."""
    xy: dict[Any, tuple[float, float]] = {}
    for node, data in g.nodes(data=True):
        try:
            xy[node] = (float(data["x"]), float(data["y"]))
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{source}: node {node!r} needs x/y (lon/lat) attributes") from None
    crs = g.graph.get("crs")
    try:
        geographic = crs is None or pyproj.CRS.from_user_input(crs).is_geographic
    except pyproj.exceptions.CRSError:
        raise InputError(f"{source}: graph attribute crs {crs!r} is not a coordinate reference "
                         "system; allowed: an EPSG code or WKT, e.g. epsg:4326") from None
    if xy and not geographic:
        to_lonlat = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        nodes = list(xy)
        lon, lat = to_lonlat.transform([xy[n][0] for n in nodes], [xy[n][1] for n in nodes])
        xy = {n: (float(x), float(y)) for n, x, y in zip(nodes, lon, lat, strict=True)}
    return xy


def _networkx_segments(g: Any, profile: VehicleProfile, bbox: Any, *, source: str) -> _Segments:
    """Return the street segments of a networkx graph as OSMnx builds it (or reads GraphML).

    Nodes need ``x``/``y``; edges are used as present: ``highway`` (a class or a list of
    them) selects and times the edge, ``access``/``area`` may close it, ``maxspeed`` caps it,
    ``geometry`` (shapely or WKT) gives the interior points of a simplified edge, ``name``
    names it. OSMnx graphs are already directed (a two-way street is two edges); only a
    profile that ignores one-way rules adds the reverse.
    """
    node_xy = _node_lonlat(g, source)
    # OSM node ids where the graph has them; other ids and the interior points of simplified
    # edges get negative ids of their own, so both directions of a street share their nodes.
    synthetic: dict[Any, int] = {}

    def node_id(node: Any) -> int:
        if isinstance(node, int | np.integer) or (isinstance(node, str) and node.lstrip("-").isdigit()):
            return int(node)
        return synthetic.setdefault(("node", node), -1 - len(synthetic))

    segs = _Segments()
    for u, v, data in g.edges(data=True):
        classes = [c for c in _as_list(data.get("highway")) if c in profile.speed_kph]
        if not classes:
            continue
        access = {a.lower() for a in _as_list(data.get("access"))}
        if access & _CLOSED_ACCESS or str(data.get("area", "")).lower() == "yes":
            continue
        speed_kph = min(min(profile.speed_kph[c] for c in classes), profile.max_speed_kph)
        for ms in _as_list(data.get("maxspeed")):
            tag_kph = _parse_maxspeed_kph(ms)
            if tag_kph is not None:
                speed_kph = min(speed_kph, tag_kph)
        coords = [node_xy[u], *_interior(data.get("geometry"), source, (u, v)), node_xy[v]]
        if bbox is not None and not any(_in_bbox(x, y, bbox) for x, y in coords):
            continue
        refs = [node_id(u),
                *(synthetic.setdefault((c[0], c[1]), -1 - len(synthetic)) for c in coords[1:-1]),
                node_id(v)]
        segs.add_way(
            refs, [c[0] for c in coords], [c[1] for c in coords], fwd=True,
            bwd=not profile.oneway, speed_kph=speed_kph,
            name="; ".join(_as_list(data.get("name"))),
        )
    return segs


def _interior(geometry: Any, source: str, edge: tuple[Any, Any]) -> list[tuple[float, float]]:
    """Return the interior points of an edge's geometry (shapely or WKT), none without one."""
    if geometry is None or geometry == "":
        return []
    try:
        line = geometry if isinstance(geometry, shapely.Geometry) else shapely.from_wkt(str(geometry))
        return [(float(x), float(y)) for x, y in shapely.get_coordinates(line)[1:-1].tolist()]
    except shapely.errors.GEOSException:
        logger.warning("%s: ignoring unreadable geometry on edge %s-%s", source, *edge)
        return []


def from_networkx(g: Any, *, profile: VehicleProfile,
                  bbox: tuple[float, float, float, float] | None = None) -> StreetGraph:
    """Return a networkx street graph (an OSMnx ``MultiDiGraph`` or a ``DiGraph``) for one profile.

    The graph is read as :func:`load_graph` reads an OSMnx ``.graphml`` file: nodes need
    ``x``/``y`` (lon/lat, or metres with a projected ``crs`` graph attribute); edges use
    ``highway``, ``oneway`` (through their direction), ``maxspeed``, ``access``, ``geometry``
    and ``name`` where present. The result keeps the compiled hot path (flat arrays, only the
    largest strongly connected part); :meth:`StreetGraph.to_networkx` gives the prepared graph
    back for looking at (with lengths and this profile's travel times, not the OSM tags).

    Raises
    ------
    InputError
        A node without coordinates, or no street usable by ``profile``.
    """
    source = str(g.graph.get("name") or f"networkx graph ({g.number_of_nodes()} nodes, "
                                        f"{g.number_of_edges()} edges)")
    bbox = _checked_bbox(bbox, source)
    segs = _networkx_segments(g, profile, bbox, source=source)
    return _build_graph(segs, source=source, profile=profile, bbox=bbox)


def _checked_bbox(bbox: Any, source: str) -> tuple[float, float, float, float] | None:
    if bbox is None:
        return None
    w, s, e, n = (float(c) for c in bbox)
    if not (w < e and s < n):
        raise InputError(f"{source}: bbox {bbox} must be (west, south, east, north)")
    return (w, s, e, n)


def _utm_crs(lon: float, lat: float) -> str:
    zone = min(max(math.floor((lon + 180.0) / 6.0) + 1, 1), 60)
    return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"


@functools.lru_cache(maxsize=16)
def _transformers(crs_metric: str) -> tuple[pyproj.Transformer, pyproj.Transformer]:
    fwd = pyproj.Transformer.from_crs("EPSG:4326", crs_metric, always_xy=True)
    inv = pyproj.Transformer.from_crs(crs_metric, "EPSG:4326", always_xy=True)
    return fwd, inv


def _build_graph(
    segs: _Segments, *, source: Path | str, profile: VehicleProfile,
    bbox: tuple[float, float, float, float] | None,
) -> StreetGraph:
    """Turn raw segments into directed, cleaned, strongly connected flat arrays."""
    no_street = InputError(
        f"{source}: no street usable by vehicle profile {profile.name!r}"
        + ("" if bbox is None else f" inside bbox {bbox}")
        + f"; allowed highway classes: {', '.join(sorted(profile.speed_kph))}"
    )
    if not segs.seg_u:
        raise no_street
    all_id = np.asarray(segs.node_id, dtype=np.int64)
    node_id, first = np.unique(all_id, return_index=True)
    lon = np.asarray(segs.node_lon, dtype=np.float64)[first]
    lat = np.asarray(segs.node_lat, dtype=np.float64)[first]
    u = np.searchsorted(node_id, np.asarray(segs.seg_u, dtype=np.int64))
    v = np.searchsorted(node_id, np.asarray(segs.seg_v, dtype=np.int64))
    way = np.asarray(segs.seg_way, dtype=np.int64)
    keep = u != v
    if bbox is not None:
        inside = (lon >= bbox[0]) & (lon <= bbox[2]) & (lat >= bbox[1]) & (lat <= bbox[3])
        keep &= inside[u] | inside[v]
    u, v, way = u[keep], v[keep], way[keep]
    if u.size == 0:
        raise no_street
    _, _, seg_len_m = _GEOD.inv(lon[u], lat[u], lon[v], lat[v])
    seg_len_m = _quantize(np.asarray(seg_len_m, dtype=np.float64), _LEN_QUANTA_PER_M)
    fwd = np.asarray(segs.way_fwd, dtype=bool)[way]
    bwd = np.asarray(segs.way_bwd, dtype=bool)[way]
    speed_mps = np.asarray(segs.way_speed_kph, dtype=np.float64)[way] / 3.6
    e_from = np.concatenate([u[fwd], v[bwd]])
    e_to = np.concatenate([v[fwd], u[bwd]])
    e_len = np.concatenate([seg_len_m[fwd], seg_len_m[bwd]])
    e_time = _quantize(e_len / np.concatenate([speed_mps[fwd], speed_mps[bwd]]),
                       _TIME_QUANTA_PER_S)
    e_way = np.concatenate([way[fwd], way[bwd]])
    # Parallel edges (two ways over the same nodes): keep the fastest, deterministically.
    order = np.lexsort((e_time, e_to, e_from))
    e_from, e_to, e_len, e_time, e_way = (a[order] for a in (e_from, e_to, e_len, e_time, e_way))
    first_of_pair = np.ones(e_from.size, dtype=bool)
    first_of_pair[1:] = (e_from[1:] != e_from[:-1]) | (e_to[1:] != e_to[:-1])
    e_from, e_to, e_len, e_time, e_way = (
        a[first_of_pair] for a in (e_from, e_to, e_len, e_time, e_way)
    )

    n_all = node_id.size
    adjacency = sp.csr_matrix(
        (np.ones(e_from.size, dtype=np.int8), (e_from, e_to)), shape=(n_all, n_all)
    )
    _, labels = connected_components(adjacency, directed=True, connection="strong")
    biggest = int(np.argmax(np.bincount(labels)))
    in_scc = labels == biggest
    if int(in_scc.sum()) < 2:
        raise no_street
    new_index = np.full(n_all, -1, dtype=np.int64)
    new_index[in_scc] = np.arange(int(in_scc.sum()))
    keep_edge = in_scc[e_from] & in_scc[e_to]

    crs = _utm_crs(
        float((lon[in_scc].min() + lon[in_scc].max()) / 2),
        float((lat[in_scc].min() + lat[in_scc].max()) / 2),
    )
    x_all, y_all = _transformers(crs)[0].transform(lon, lat)
    x_all = np.asarray(x_all, dtype=np.float64)
    y_all = np.asarray(y_all, dtype=np.float64)
    # Segments outside the kept component, once per undirected pair.
    frag = ~(in_scc[u] & in_scc[v])
    fu, fv = np.minimum(u[frag], v[frag]), np.maximum(u[frag], v[frag])
    pairs = np.unique(np.stack([fu, fv], axis=1), axis=0) if fu.size else np.empty((0, 2), int)
    fragment_xy_m = np.column_stack(
        [x_all[pairs[:, 0]], y_all[pairs[:, 0]], x_all[pairs[:, 1]], y_all[pairs[:, 1]]]
    ).astype(np.float64)

    names = np.asarray(segs.way_name, dtype=object)[e_way[keep_edge]]
    graph = StreetGraph(
        node_osm_id=node_id[in_scc],
        node_lon=lon[in_scc],
        node_lat=lat[in_scc],
        node_x_m=x_all[in_scc],
        node_y_m=y_all[in_scc],
        edge_from=new_index[e_from[keep_edge]].astype(np.int32),
        edge_to=new_index[e_to[keep_edge]].astype(np.int32),
        edge_length_m=e_len[keep_edge],
        edge_time_s=e_time[keep_edge],
        edge_name=tuple(str(s) for s in names),
        crs_metric=crs,
        profile=profile.name,
        source=str(source),
        fragment_xy_m=fragment_xy_m,
    )
    logger.info(
        "%s: %d nodes, %d edges for %s (%d of %d nodes dropped outside the strongly "
        "connected part)",
        source, graph.n_nodes, graph.n_edges, profile.name, n_all - graph.n_nodes, n_all,
    )
    return graph


def _quantize(values: FloatArray, quanta_per_unit: float) -> FloatArray:
    return np.asarray(np.rint(values * quanta_per_unit) / quanta_per_unit, dtype=np.float64)


def _suffix(path: Path) -> str | None:
    name = path.name.lower()
    # Longest first so ".osm.gz" is not taken for ".osm".
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    return None


def _cache_key(path: Path, profile: VehicleProfile, bbox: Any) -> str:
    # The key hashes the file's bytes, not its name or mtime: a changed file can never be
    # served from a stale cache.
    digest = hashlib.sha256(file_sha256(path).encode())
    digest.update(repr(profile).encode())
    digest.update(repr(bbox).encode())
    digest.update(f"format={_CACHE_FORMAT}".encode())
    return digest.hexdigest()


_ARRAY_FIELDS = (
    "node_osm_id", "node_lon", "node_lat", "node_x_m", "node_y_m", "edge_from", "edge_to",
    "edge_length_m", "edge_time_s", "fragment_xy_m",
)


def _save_cache(graph: StreetGraph, target: Path) -> None:
    arrays: dict[str, Any] = {name: getattr(graph, name) for name in _ARRAY_FIELDS}
    arrays["edge_name"] = np.asarray(graph.edge_name, dtype=str)
    arrays["crs_metric"] = np.asarray(graph.crs_metric)
    arrays["profile"] = np.asarray(graph.profile)
    arrays["format"] = np.asarray(_CACHE_FORMAT)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("wb") as fh:
            np.savez(fh, **arrays)
        # Atomic rename: a reader never sees a half-written cache file.
        tmp.replace(target)
    except OSError as exc:
        logger.warning("cannot write street cache %s (%s); continuing without it", target, exc)
        with contextlib.suppress(OSError):
            tmp.unlink()


def _load_cache(target: Path, source: Path) -> StreetGraph | None:
    if not target.is_file():
        return None
    try:
        with np.load(target, allow_pickle=False) as data:
            if int(data["format"]) != _CACHE_FORMAT:
                return None
            arrays = {name: data[name] for name in _ARRAY_FIELDS}
            names = data["edge_name"]
            graph = StreetGraph(
                **arrays,
                edge_name=tuple(names.tolist()),
                crs_metric=str(data["crs_metric"]),
                profile=str(data["profile"]),
                source=str(source),
            )
        n, m = graph.n_nodes, graph.n_edges
        consistent = (
            all(a.shape == (n,) for a in (graph.node_lon, graph.node_lat, graph.node_x_m,
                                          graph.node_y_m, graph.node_osm_id))
            and all(a.shape == (m,) for a in (graph.edge_to, graph.edge_length_m,
                                              graph.edge_time_s))
            and len(graph.edge_name) == m
            and graph.fragment_xy_m.ndim == 2
            and graph.fragment_xy_m.shape[1] == 4
            and (m == 0 or (int(graph.edge_from.max()) < n and int(graph.edge_to.max()) < n))
        )
        if not consistent:
            raise ValueError("array shapes do not match")
    except Exception as exc:  # an unreadable cache is rebuilt, never fatal
        logger.warning("street cache %s is unreadable (%s); rebuilding it", target, exc)
        return None
    return graph


def crop(graph: StreetGraph, bbox: tuple[float, float, float, float]) -> StreetGraph:
    """Return the part of ``graph`` inside ``bbox`` (W, S, E, N degrees), strongly connected.

    For one station of a city: its matrices need only the streets its stops can use, and a
    shortest-path search over a crop is as much faster as the crop is smaller. Edges with an
    end inside are kept, then the largest strongly connected part of them, with the graph's
    own lengths, times, names and projection (so a crop's routes cost what they cost on the
    whole graph, where the crop holds the shortest paths: give a margin around the stops).

    Raises
    ------
    InputError
        Fewer than two nodes of the graph are inside ``bbox``.
    """
    west, south, east, north = bbox
    inside = ((graph.node_lon >= west) & (graph.node_lon <= east)
              & (graph.node_lat >= south) & (graph.node_lat <= north))
    keep = inside[graph.edge_from] | inside[graph.edge_to]
    u, v = graph.edge_from[keep], graph.edge_to[keep]
    n = graph.n_nodes
    adjacency = sp.csr_matrix((np.ones(u.size, dtype=np.int8), (u, v)), shape=(n, n))
    _, labels = connected_components(adjacency, directed=True, connection="strong")
    used = np.zeros(n, dtype=bool)
    used[u] = used[v] = True
    sizes = np.bincount(labels[used], minlength=n) if used.any() else np.zeros(n, dtype=np.int64)
    biggest = int(np.argmax(sizes))
    in_scc = used & (labels == biggest)
    if int(in_scc.sum()) < 2:
        raise InputError(f"{graph.source}: no connected streets inside bbox {bbox}")
    new_index = np.full(n, -1, dtype=np.int64)
    new_index[in_scc] = np.arange(int(in_scc.sum()))
    edge = np.flatnonzero(keep)[in_scc[u] & in_scc[v]]
    x, y = graph.node_x_m[inside], graph.node_y_m[inside]
    frag = graph.fragment_xy_m
    near = ((frag[:, [0, 2]].max(axis=1) >= x.min()) & (frag[:, [0, 2]].min(axis=1) <= x.max())
            & (frag[:, [1, 3]].max(axis=1) >= y.min()) & (frag[:, [1, 3]].min(axis=1) <= y.max()))
    return StreetGraph(
        node_osm_id=graph.node_osm_id[in_scc],
        node_lon=graph.node_lon[in_scc],
        node_lat=graph.node_lat[in_scc],
        node_x_m=graph.node_x_m[in_scc],
        node_y_m=graph.node_y_m[in_scc],
        edge_from=new_index[graph.edge_from[edge]].astype(np.int32),
        edge_to=new_index[graph.edge_to[edge]].astype(np.int32),
        edge_length_m=graph.edge_length_m[edge],
        edge_time_s=graph.edge_time_s[edge],
        edge_name=tuple(graph.edge_name[i] for i in edge.tolist()),
        crs_metric=graph.crs_metric,
        profile=graph.profile,
        source=f"{graph.source} [{west:.5f},{south:.5f},{east:.5f},{north:.5f}]",
        fragment_xy_m=frag[near],
    )


def load_graph(
    path: Path,
    *,
    profile: VehicleProfile,
    cache_dir: Path | None = None,
    bbox: tuple[float, float, float, float] | None = None,
) -> StreetGraph:
    """Load a street file into a directed graph in metres and seconds for one vehicle profile.

    Parameters
    ----------
    path
        ``.osm``, ``.osm.gz``, ``.osm.bz2``, ``.osm.pbf`` or OSMnx ``.graphml``.
    profile
        Vehicle profile: which ``highway`` classes are open, at which speed (km/h).
    cache_dir
        If given, the prepared graph is stored there as ``.npz`` keyed by the file's content,
        the profile and the bbox, and later loads read it instead of parsing.
    bbox
        ``(west, south, east, north)`` in WGS-84 degrees: keep only segments with an end
        inside.

    Returns
    -------
    StreetGraph
        Only the largest strongly connected component; other segments in ``fragment_xy_m``.
        Edge lengths are geodesic, in multiples of 1/8 m; times in multiples of 1/256 s, so
        path sums are exact (see ``_TIME_QUANTA_PER_S``).

    Raises
    ------
    InputError
        Missing file, unknown file type, or no street usable by ``profile``.
    """
    path = Path(path)
    suffix = _suffix(path)
    if suffix is None:
        raise InputError(
            f"{path}: unknown street file type; allowed: {', '.join(_SUFFIXES)}"
        )
    if not path.is_file():
        raise InputError(f"street file {path} does not exist (allowed: {', '.join(_SUFFIXES)})")
    bbox = _checked_bbox(bbox, str(path))
    target = None
    if cache_dir is not None:
        target = Path(cache_dir) / f"streets-{_cache_key(path, profile, bbox)}.npz"
        cached = _load_cache(target, path)
        if cached is not None:
            logger.info("%s: street graph read from cache %s", path, target)
            return cached
    started = time.perf_counter()
    segs = (
        _read_graphml(path, profile, bbox) if suffix == ".graphml"
        else _read_osm(path, profile, bbox)
    )
    graph = _build_graph(segs, source=path, profile=profile, bbox=bbox)
    logger.info("%s: parsed in %.2f s", path, time.perf_counter() - started)
    if target is not None:
        _save_cache(graph, target)
    return graph


# --------------------------------------------------------------------------------------------
# Derived structures, built once per graph


@dataclass(frozen=True, slots=True, eq=False)
class _Derived:
    """What snapping and routing need, computed once per graph."""

    edge_reverse: npt.NDArray[np.int64]
    segment_edge: npt.NDArray[np.int64]
    segment_tree: shapely.STRtree
    fragment_tree: shapely.STRtree | None


# Keyed by id(graph), holding the graph itself so the id cannot be reused while cached.
_DERIVED: OrderedDict[int, tuple[StreetGraph, _Derived]] = OrderedDict()
_DERIVED_MAX = 8
_DERIVED_LOCK = threading.Lock()  # threaded schedulers (Dask) share this module


def _derived(graph: StreetGraph) -> _Derived:
    with _DERIVED_LOCK:
        hit = _DERIVED.get(id(graph))
        if hit is not None and hit[0] is graph:
            _DERIVED.move_to_end(id(graph))
            return hit[1]
    n = graph.n_nodes
    e_from = graph.edge_from.astype(np.int64)
    e_to = graph.edge_to.astype(np.int64)
    key = e_from * n + e_to
    order = np.argsort(key, kind="stable")
    rev_key = e_to * n + e_from
    pos = np.minimum(np.searchsorted(key[order], rev_key), max(key.size - 1, 0))
    found = key[order][pos] == rev_key
    edge_reverse = np.where(found, order[pos], -1).astype(np.int64)
    # One tree geometry per street segment: the lower-numbered of the two directed edges, so
    # ties resolve to the same edge every time.
    segment_edge = np.flatnonzero((edge_reverse < 0) | (edge_reverse > np.arange(key.size)))
    xs, ys = graph.node_x_m, graph.node_y_m
    lines = shapely.linestrings(
        np.stack(
            [
                np.column_stack([xs[e_from[segment_edge]], ys[e_from[segment_edge]]]),
                np.column_stack([xs[e_to[segment_edge]], ys[e_to[segment_edge]]]),
            ],
            axis=1,
        )
    )
    frag = graph.fragment_xy_m
    fragment_tree = None
    if frag.shape[0]:
        fragment_tree = shapely.STRtree(shapely.linestrings(frag.reshape(-1, 2, 2)))
    derived = _Derived(edge_reverse, segment_edge, shapely.STRtree(lines), fragment_tree)
    with _DERIVED_LOCK:
        _DERIVED[id(graph)] = (graph, derived)
        while len(_DERIVED) > _DERIVED_MAX:
            _DERIVED.popitem(last=False)
    return derived


# --------------------------------------------------------------------------------------------
# Projection and snapping


def project(
    graph: StreetGraph, lon: npt.ArrayLike, lat: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Project WGS-84 lon/lat (degrees) to the graph's metric CRS (metres)."""
    x, y = _transformers(graph.crs_metric)[0].transform(
        np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    )
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def unproject(
    graph: StreetGraph, x_m: npt.ArrayLike, y_m: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Convert metric coordinates (metres, the graph's CRS) back to WGS-84 lon/lat (degrees)."""
    lon, lat = _transformers(graph.crs_metric)[1].transform(
        np.asarray(x_m, dtype=np.float64), np.asarray(y_m, dtype=np.float64)
    )
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def _points_m(
    graph: StreetGraph, lon: npt.ArrayLike, lat: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    lon_a = np.atleast_1d(np.asarray(lon, dtype=np.float64))
    lat_a = np.atleast_1d(np.asarray(lat, dtype=np.float64))
    if lon_a.shape != lat_a.shape or lon_a.ndim != 1:
        raise ValueError(f"lon and lat must be 1-D of equal length, got {lon_a.shape}, "
                         f"{lat_a.shape}")
    bad = np.flatnonzero(~(np.isfinite(lon_a) & np.isfinite(lat_a)))
    if bad.size:
        raise InputError(f"points {bad[:10].tolist()} have no finite lon/lat")
    return project(graph, lon_a, lat_a)


def snap_points(graph: StreetGraph, lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Snap, ...]:
    """Snap WGS-84 points (degrees) to the nearest street segment; distances in metres.

    Parameters
    ----------
    graph
        The street graph.
    lon, lat
        Point coordinates, 1-D, same length.

    Returns
    -------
    tuple of Snap
        One per point: the directed edge, the fraction along it from ``edge_from`` to
        ``edge_to``, the door-to-street distance (m) and the snapped lon/lat. Ties go to the
        lowest edge index.
    """
    x, y = _points_m(graph, lon, lat)
    if x.size == 0:
        return ()
    derived = _derived(graph)
    hits = derived.segment_tree.query_nearest(shapely.points(x, y), all_matches=True)
    # Lowest tree index (= lowest edge) among equally near segments, per point.
    order = np.lexsort((hits[1], hits[0]))
    point_of_hit, tree_of_hit = hits[0][order], hits[1][order]
    _, first = np.unique(point_of_hit, return_index=True)
    edge = derived.segment_edge[tree_of_hit[first]]
    ax = graph.node_x_m[graph.edge_from[edge]]
    ay = graph.node_y_m[graph.edge_from[edge]]
    dx = graph.node_x_m[graph.edge_to[edge]] - ax
    dy = graph.node_y_m[graph.edge_to[edge]] - ay
    seg_len2 = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(seg_len2 > 0, ((x - ax) * dx + (y - ay) * dy) / seg_len2, 0.0)
    frac = np.clip(frac, 0.0, 1.0)
    sx, sy = ax + frac * dx, ay + frac * dy
    dist_m = np.hypot(x - sx, y - sy)
    slon, slat = unproject(graph, sx, sy)
    return tuple(
        Snap(edge=e, fraction=f, distance_m=d, lon=lo, lat=la)
        for e, f, d, lo, la in zip(
            edge.tolist(), frac.tolist(), dist_m.tolist(), slon.tolist(), slat.tolist(),
            strict=True,
        )
    )


def fragment_distance_m(graph: StreetGraph, lon: npt.ArrayLike, lat: npt.ArrayLike) -> FloatArray:
    """Return the distance (metres) from each WGS-84 point to the nearest dropped fragment.

    A point much nearer a fragment than the kept graph stands on a street nobody can drive to
    and back from ("unreachable"), not in the middle of nowhere ("snap_too_far"). ``inf`` when
    the graph has no fragments.
    """
    x, y = _points_m(graph, lon, lat)
    out = np.full(x.size, np.inf)
    tree = _derived(graph).fragment_tree
    if tree is None or x.size == 0:
        return out
    hits, dist = tree.query_nearest(shapely.points(x, y), return_distance=True)
    np.minimum.at(out, hits[0], dist)
    return out


# --------------------------------------------------------------------------------------------
# Travel matrices and paths


@dataclass(frozen=True, slots=True, eq=False)
class _PathIndex:
    """Shortest-path trees kept from the matrix runs, to draw street paths without rerouting."""

    predecessors: npt.NDArray[np.int32]  # (n, n_nodes + 2n): row i = tree from point i
    direct: frozenset[tuple[int, int]]  # pairs on one segment, driven without a graph node
    n_nodes: int
    node_lon: FloatArray
    node_lat: FloatArray
    snap_lon: FloatArray
    snap_lat: FloatArray


@dataclass(frozen=True, slots=True, eq=False)
class TravelMatrix:
    """Travel times (s) and distances (m) between snapped points, as integers.

    ``time_s[i, j]`` is the fastest time from point i to point j; ``distance_m[i, j]`` the
    length of that fastest path. Both are rounded once with ``np.rint``; unreachable pairs
    hold :data:`UNREACHABLE`; the diagonal is 0.
    """

    time_s: IntArray
    distance_m: IntArray
    _paths: _PathIndex | None = field(default=None, repr=False)

    def path_lonlat(self, i: int, j: int) -> tuple[tuple[float, float], ...]:
        """Return the street path from point i to point j as (lon, lat) pairs in degrees.

        Starts at snap i, follows the street nodes, ends at snap j; empty if unreachable.

        Raises
        ------
        ValueError
            If the matrix was computed with ``keep_paths=False``.
        """
        p = self._paths
        if p is None:
            raise ValueError("this matrix was computed with keep_paths=False: no paths kept")
        n = p.snap_lon.size
        if not (0 <= i < n and 0 <= j < n):
            raise IndexError(f"point index out of range 0..{n - 1}: ({i}, {j})")
        start = (float(p.snap_lon[i]), float(p.snap_lat[i]))
        end = (float(p.snap_lon[j]), float(p.snap_lat[j]))
        if i == j:
            return (start,)
        if (i, j) in p.direct:
            return (start, end)
        if self.time_s[i, j] >= UNREACHABLE:
            return ()
        pred = p.predecessors[i]
        node = int(pred[p.n_nodes + n + j])  # the street node before the target point
        nodes: list[int] = []
        while node < p.n_nodes:
            nodes.append(node)
            node = int(pred[node])
        nodes.reverse()
        return (
            start,
            *zip(p.node_lon[nodes].tolist(), p.node_lat[nodes].tolist(), strict=True),
            end,
        )


def _aug_edges(
    graph: StreetGraph, snaps: Sequence[Snap], edge_reverse: npt.NDArray[np.int64]
) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """Return the graph's edges plus virtual edges of each point's source and target node.

    Point i gets a source node N+i with edges to the street nodes it can drive to (the end of
    its edge, and the start if the reverse edge exists) and a target node N+n+i with edges from
    the nodes it can be reached from. One Dijkstra per point then covers both ways of leaving
    it, and the time to a target node already includes the last part-edge.
    """
    n_nodes, n = graph.n_nodes, len(snaps)
    edge = np.fromiter((s.edge for s in snaps), dtype=np.int64, count=n)
    frac = np.fromiter((s.fraction for s in snaps), dtype=np.float64, count=n)
    rev = edge_reverse[edge]
    has_rev = rev >= 0
    rev_safe = np.where(has_rev, rev, 0)
    e_from = graph.edge_from.astype(np.int64)
    e_to = graph.edge_to.astype(np.int64)
    t, ln = graph.edge_time_s, graph.edge_length_m
    src = n_nodes + np.arange(n)
    dst = n_nodes + n + np.arange(n)
    parts = [
        (e_from, e_to, t, ln),
        # leave along the edge to its end
        (src, e_to[edge], (1 - frac) * t[edge], (1 - frac) * ln[edge]),
        # leave against it, on the reverse edge, to its start
        (src[has_rev], e_from[edge][has_rev], (frac * t[rev_safe])[has_rev],
         (frac * ln[rev_safe])[has_rev]),
        # arrive along the edge from its start
        (e_from[edge], dst, frac * t[edge], frac * ln[edge]),
        # arrive on the reverse edge from its end
        (e_to[edge][has_rev], dst[has_rev], ((1 - frac) * t[rev_safe])[has_rev],
         ((1 - frac) * ln[rev_safe])[has_rev]),
    ]
    rows = np.concatenate([p[0] for p in parts])
    cols = np.concatenate([p[1] for p in parts])
    times = np.concatenate([p[2] for p in parts])
    lens = np.concatenate([p[3] for p in parts])
    return rows, cols, times, lens


def _weight(time_s: FloatArray, length_m: FloatArray) -> FloatArray:
    """Return the lexicographic (time, then length) Dijkstra weight of edges or part-edges."""
    time_q = np.rint(time_s * _TIME_QUANTA_PER_S)
    len_q = np.rint(length_m * _LEN_QUANTA_PER_M)
    return np.asarray(time_q * 2.0**_LEN_BITS + len_q, dtype=np.float64)


def _decode(weight: FloatArray, time_s: IntArray, distance_m: IntArray) -> None:
    """Split lexicographic weights into whole seconds and metres, in place; inf = unreachable."""
    finite = np.isfinite(weight)
    if finite.any() and float(weight[finite].max()) >= _EXACT_LIMIT:
        raise ValueError("paths too long for exact sums (over 72 h or 16,000 km)")
    safe = np.where(finite, weight, 0.0)
    time_q = np.floor(safe / 2.0**_LEN_BITS)
    len_q = safe - time_q * 2.0**_LEN_BITS
    # The one rounding policy: exact sums, rounded once to whole seconds and metres.
    time_s[...] = np.rint(time_q / _TIME_QUANTA_PER_S)
    distance_m[...] = np.rint(len_q / _LEN_QUANTA_PER_M)
    # Set apart from the float arithmetic: float64 cannot hold UNREACHABLE exactly.
    time_s[~finite] = UNREACHABLE
    distance_m[~finite] = UNREACHABLE


def _direct_pairs(
    graph: StreetGraph, snaps: Sequence[Snap], edge_reverse: npt.NDArray[np.int64]
) -> tuple[IntArray, IntArray, FloatArray]:
    """Return (i, j, weight) for pairs on the same street segment, driven directly."""
    n = len(snaps)
    edge = np.fromiter((s.edge for s in snaps), dtype=np.int64, count=n)
    frac = np.fromiter((s.fraction for s in snaps), dtype=np.float64, count=n)
    rev = edge_reverse[edge]
    # Express every point on the lower-numbered edge of its segment.
    flip = (rev >= 0) & (rev < edge)
    seg = np.where(flip, rev, edge)
    pos = np.where(flip, 1 - frac, frac)
    order = np.argsort(seg, kind="stable")
    seg_sorted = order_seg = seg[order]
    starts = np.flatnonzero(np.r_[True, order_seg[1:] != order_seg[:-1]])
    counts = np.diff(np.r_[starts, n])
    group_of = np.repeat(np.arange(starts.size), counts)
    # Every ordered pair inside each group, built with repeats (no per-pair Python loop).
    k = counts[group_of]
    left = np.repeat(np.arange(n), k)
    right = np.repeat(starts[group_of], k) + (np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k))
    keep = left != right
    i, j = order[left[keep]], order[right[keep]]
    s = seg_sorted[left[keep]]
    pi, pj = pos[i], pos[j]
    fwd = pj >= pi
    s_rev = edge_reverse[s]
    ok = fwd | (s_rev >= 0)
    i, j, s, pi, pj, fwd, s_rev = (a[ok] for a in (i, j, s, pi, pj, fwd, s_rev))
    along = np.where(fwd, s, s_rev)
    share = np.abs(pj - pi)
    return i, j, _weight(share * graph.edge_time_s[along], share * graph.edge_length_m[along])


def travel_matrix(
    graph: StreetGraph, snaps: Sequence[Snap], *, keep_paths: bool = True
) -> TravelMatrix:
    """Compute fastest travel times (s) and their distances (m) between snapped points.

    Exact for points part-way along edges: a point can leave along its edge (or against it if
    the street is two-way) and be reached the same ways; two points on one segment may also be
    driven between directly.

    Parameters
    ----------
    graph
        The street graph the points were snapped to.
    snaps
        Snapped points, from :func:`snap_points`.
    keep_paths
        Keep the shortest-path trees (int32, one row of n_nodes + 2n per point) so that
        :meth:`TravelMatrix.path_lonlat` can draw paths; without them memory stays bounded by
        one chunk of rows.

    Returns
    -------
    TravelMatrix
        Integer seconds and metres, rounded once with ``np.rint``; unreachable pairs hold
        :data:`UNREACHABLE`.
    """
    n = len(snaps)
    n_nodes = graph.n_nodes
    if n and max(s.edge for s in snaps) >= graph.n_edges:
        raise ValueError("a snap refers to an edge that is not in this graph")
    derived = _derived(graph)
    m = n_nodes + 2 * n
    rows, cols, times, lens = _aug_edges(graph, snaps, derived.edge_reverse)
    # Explicit zero weights (a point exactly on a node) are kept by csgraph as real edges.
    weight_csr = sp.csr_matrix(
        (_weight(times, lens), (rows, cols)), shape=(m, m), dtype=np.float64
    )
    targets = n_nodes + n + np.arange(n)
    di, dj, dw = _direct_pairs(graph, snaps, derived.edge_reverse)
    direct_used = np.zeros(di.size, dtype=bool)
    time_s = np.empty((n, n), dtype=np.int64)
    distance_m = np.empty((n, n), dtype=np.int64)
    pred_all = np.empty((n, m), dtype=np.int32) if keep_paths else None
    # Rows per chunk: float64 weights + int32 predecessors, bounded whatever n is; every n x n
    # result is filled chunk by chunk, so only the two integer outputs are ever n x n.
    chunk = max(1, min(n, _CHUNK_BYTES // max(12 * m, 1)))
    started = time.perf_counter()
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        sources = n_nodes + np.arange(lo, hi)
        if pred_all is not None:
            dist, pred = dijkstra(
                weight_csr, directed=True, indices=sources, return_predecessors=True
            )
            pred_all[lo:hi] = pred
        else:
            dist = dijkstra(weight_csr, directed=True, indices=sources)
        weight = dist[:, targets]
        del dist
        mine = (di >= lo) & (di < hi)
        better = mine & (dw < weight[np.clip(di - lo, 0, hi - lo - 1), dj])
        weight[di[better] - lo, dj[better]] = dw[better]
        direct_used |= better
        _decode(weight, time_s[lo:hi], distance_m[lo:hi])
    di, dj = di[direct_used], dj[direct_used]
    np.fill_diagonal(time_s, 0)
    np.fill_diagonal(distance_m, 0)
    logger.debug("travel matrix %dx%d in %.2f s", n, n, time.perf_counter() - started)
    paths = None
    if pred_all is not None:
        paths = _PathIndex(
            predecessors=pred_all,
            direct=frozenset(zip(di.tolist(), dj.tolist(), strict=True)),
            n_nodes=n_nodes,
            node_lon=graph.node_lon,
            node_lat=graph.node_lat,
            snap_lon=np.fromiter((s.lon for s in snaps), dtype=np.float64, count=n),
            snap_lat=np.fromiter((s.lat for s in snaps), dtype=np.float64, count=n),
        )
    return TravelMatrix(time_s=time_s, distance_m=distance_m, _paths=paths)
