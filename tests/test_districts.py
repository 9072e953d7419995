"""Districts: automatic zones balance work within capacity and stay stable; polygons are honoured."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from courier.config import DistrictConfig
from courier.districts import (
    auto_districts,
    district_polygons,
    fixed_districts,
    location_key,
    previous_assignment,
    previous_couriers,
    stability,
    zone_reentries,
)
from courier.errors import InputError
from courier.model import Courier, Snap, Stop, StreetGraph, Trip, Visit

# Metres per degree at the equator, to give synthetic stops lon/lat consistent with their xy.
_M_PER_DEG = 111_320.0


def _stops(xy: np.ndarray, service_s: int = 120, parcels: int = 1) -> list[Stop]:
    return [Stop(stop_id=f"S{i:04d}", parcel_ids=tuple(f"P{i}-{j}" for j in range(parcels)),
                 lon=float(x) / _M_PER_DEG, lat=float(y) / _M_PER_DEG,
                 snap=Snap(edge=0, fraction=0.0, distance_m=0.0, lon=0.0, lat=0.0),
                 service_s=service_s, windows_s=(), delivery_parcels=parcels,
                 delivery_kg=float(parcels), delivery_l=float(parcels))
            for i, (x, y) in enumerate(xy)]


def _couriers(k: int, hours: float = 10, capacity: int = 100) -> list[Courier]:
    return [Courier(courier_id=f"C{i}", vehicle="etricycle", capacity_parcels=capacity,
                    capacity_kg=100, capacity_l=1000, shift_start_s=8 * 3600,
                    shift_end_s=int((8 + hours) * 3600)) for i in range(k)]


def _city(seed: int, n: int = 600) -> np.ndarray:
    """Stops around a few dense compounds plus a scatter, over 4 km x 4 km."""
    rng = np.random.default_rng(seed)
    hubs = rng.uniform(-1800, 1800, (8, 2))
    dense = hubs[rng.integers(0, 8, n // 2)] + rng.normal(0, 120, (n // 2, 2))
    return np.vstack([dense, rng.uniform(-2000, 2000, (n - n // 2, 2))])


def _ratio(work: dict[str, float]) -> float:
    """Max over mean estimated work of the couriers the day uses (the rest stay at home)."""
    values = np.array([w for w in work.values() if w > 0])
    return float(values.max() / values.mean())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_auto_districts_balance_estimated_work(seed: int) -> None:
    xy = _city(seed)
    stops = _stops(xy)
    result = auto_districts(stops, _couriers(8), xy_m=xy, station_xy_m=(0.0, 0.0))
    assert set(result.courier_of) == {s.stop_id for s in stops}
    assert result.work_s is not None
    assert _ratio(dict(result.work_s)) <= DistrictConfig().balance + 0.02
    used = [w for w in result.work_s.values() if w > 0]
    assert min(used) / np.mean(used) >= 0.9


def test_longer_shift_gets_more_work() -> None:
    rng = np.random.default_rng(4)
    xy = rng.uniform(-1000, 1000, (400, 2))
    couriers = [*_couriers(1, hours=4), *_couriers(2, hours=8)[1:]]
    result = auto_districts(_stops(xy), couriers, xy_m=xy, station_xy_m=(0.0, 0.0))
    assert result.work_s is not None
    assert result.work_s["C1"] / result.work_s["C0"] == pytest.approx(2.0, rel=0.15)


def test_capacity_times_trips_is_never_exceeded() -> None:
    # Three parcels per stop, 300 stops, 6 couriers: 150 parcels each on average; one courier
    # with a small vehicle (40 x 3 trips = 120) must end up with no more than that.
    xy = _city(5, 300)
    stops = _stops(xy, parcels=3)
    couriers = [*_couriers(5, capacity=100), *[
        Courier(courier_id="C5", vehicle="etricycle", capacity_parcels=40, capacity_kg=100,
                capacity_l=1000, shift_start_s=8 * 3600, shift_end_s=18 * 3600)]]
    result = auto_districts(stops, couriers, xy_m=xy, station_xy_m=(0.0, 0.0))
    carried = {c.courier_id: 0 for c in couriers}
    for s in stops:
        carried[result.courier_of[s.stop_id]] += s.delivery_parcels
    for c in couriers:
        assert carried[c.courier_id] <= c.capacity_parcels * c.max_trips


def test_districts_are_compact() -> None:
    # Zones are grown from seeds: a courier's stops lie much closer together than random.
    xy = _city(6)
    stops = _stops(xy)
    result = auto_districts(stops, _couriers(8), xy_m=xy, station_xy_m=(0.0, 0.0))
    label = np.array([int(result.courier_of[s.stop_id][1:]) for s in stops])
    spread = np.mean([xy[label == k].std(axis=0).sum() for k in set(label.tolist())])
    assert spread < 0.5 * xy.std(axis=0).sum()


def test_auto_districts_are_deterministic() -> None:
    xy = _city(7)
    a = auto_districts(_stops(xy), _couriers(8), xy_m=xy, station_xy_m=(0.0, 0.0))
    b = auto_districts(_stops(xy), _couriers(8), xy_m=xy, station_xy_m=(0.0, 0.0))
    assert a.courier_of == b.courier_of


def test_previous_day_keeps_couriers_in_their_areas() -> None:
    # Two days from the same compounds but different parcels: most stops keep their courier.
    couriers = _couriers(8)
    rng = np.random.default_rng(8)
    hubs = rng.uniform(-1800, 1800, (8, 2))

    def day(seed: int) -> np.ndarray:
        r = np.random.default_rng(seed)
        return np.vstack([hubs[r.integers(0, 8, 300)] + r.normal(0, 120, (300, 2)),
                          r.uniform(-2000, 2000, (300, 2))])

    xy1, xy2 = day(1), day(2)
    first = auto_districts(_stops(xy1), couriers, xy_m=xy1, station_xy_m=(0.0, 0.0))
    yesterday = previous_assignment([s.lon for s in _stops(xy1)], [s.lat for s in _stops(xy1)],
                                    [first.courier_of[s.stop_id] for s in _stops(xy1)])
    stops2 = _stops(xy2)
    fresh = auto_districts(stops2, couriers, xy_m=xy2, station_xy_m=(0.0, 0.0))
    kept = auto_districts(stops2, couriers, xy_m=xy2, station_xy_m=(0.0, 0.0),
                          previous=yesterday)
    share, compared = stability(kept.courier_of, stops2, yesterday)
    assert compared > 500
    assert kept.stability == pytest.approx(share)
    assert share >= 0.8
    assert share > stability(fresh.courier_of, stops2, yesterday)[0]
    assert kept.work_s is not None
    assert _ratio(dict(kept.work_s)) <= DistrictConfig().balance + 0.02


def test_previous_couriers_use_the_nearest_cell_within_the_radius() -> None:
    previous = {location_key(0.0, 0.0): "A", location_key(0.01, 0.0): "B"}
    stops = _stops(np.array([[0.0, 0.0], [100.0, 0.0], [1050.0, 0.0], [5000.0, 0.0]]))
    assert previous_couriers(stops, previous, radius_m=250.0) == ["A", "A", "B", None]
    # Majority per cell, ties to the lowest id.
    assert previous_assignment([0.0, 0.0, 0.0], [0.0, 0.0, 0.0], ["B", "A", "B"]) == {
        location_key(0.0, 0.0): "B"}
    assert previous_assignment([0.0, 0.0], [0.0, 0.0], ["B", "A"]) == {
        location_key(0.0, 0.0): "A"}


def test_zone_reentries_count_returns_to_a_zone_left_earlier() -> None:
    stops = [Stop(stop_id=f"S{i}", parcel_ids=(f"P{i}",), lon=0.0, lat=0.0,
                  snap=Snap(edge=0, fraction=0.0, distance_m=0.0, lon=0.0, lat=0.0),
                  service_s=60, windows_s=(), delivery_parcels=1, delivery_kg=1.0,
                  delivery_l=1.0, zone=z) for i, z in enumerate("AABACB")]

    def trip(n: int, order: str) -> Trip:
        visits = tuple(Visit(stop_id=f"S{i}", seq=k, arrival_s=0, start_s=0, departure_s=0)
                       for k, i in enumerate((int(c) for c in order), start=1))
        return Trip(courier_id="C0", trip=n, depart_s=0, return_s=0, visits=visits,
                    distance_m=0, load_parcels=len(visits), load_kg=0.0, load_l=0.0)

    # Zones A A B A C B: back into A once, back into B once.
    assert zone_reentries([trip(1, "012345")], stops) == (2, 1)
    # Zone by zone: A A A B B C: none. Zones are counted per trip, not across trips.
    assert zone_reentries([trip(1, "013254"), trip(2, "0")], stops) == (0, 2)


def _grid_graph(size: int, step_m: float) -> StreetGraph:
    """A two-way street grid of size x size nodes; one row of streets is slow (a barrier)."""
    ij = np.array([(i, j) for j in range(size) for i in range(size)], dtype=np.float64)
    x, y = ij[:, 0] * step_m, ij[:, 1] * step_m
    edges = []
    for j in range(size):
        for i in range(size):
            a = j * size + i
            if i + 1 < size:
                edges += [(a, a + 1), (a + 1, a)]
            if j + 1 < size:
                edges += [(a, a + size), (a + size, a)]
    e = np.array(edges, dtype=np.int32)
    length = np.hypot(x[e[:, 1]] - x[e[:, 0]], y[e[:, 1]] - y[e[:, 0]])
    return StreetGraph(
        node_osm_id=np.arange(len(x), dtype=np.int64), node_lon=x / _M_PER_DEG,
        node_lat=y / _M_PER_DEG, node_x_m=x, node_y_m=y, edge_from=e[:, 0], edge_to=e[:, 1],
        edge_length_m=length, edge_time_s=length / 4.0, edge_name=("",) * len(e),
        crs_metric="EPSG:3857", profile="etricycle", source="grid",
        fragment_xy_m=np.zeros((0, 4)))


def test_auto_districts_on_a_street_graph_balance_and_stay_deterministic() -> None:
    graph = _grid_graph(20, 100.0)
    rng = np.random.default_rng(9)
    edge = rng.integers(0, graph.n_edges, 500)
    frac = rng.random(500)
    fx, fy = graph.node_x_m[graph.edge_from[edge]], graph.node_y_m[graph.edge_from[edge]]
    tx, ty = graph.node_x_m[graph.edge_to[edge]], graph.node_y_m[graph.edge_to[edge]]
    xy = np.column_stack([fx + frac * (tx - fx), fy + frac * (ty - fy)])
    stops = [Stop(stop_id=f"S{i:04d}", parcel_ids=(f"P{i}",), lon=0.0, lat=0.0,
                  snap=Snap(edge=int(edge[i]), fraction=float(frac[i]), distance_m=0.0,
                            lon=0.0, lat=0.0),
                  service_s=90, windows_s=(), delivery_parcels=1, delivery_kg=1.0,
                  delivery_l=1.0) for i in range(500)]
    a = auto_districts(stops, _couriers(6), xy_m=xy, station_xy_m=(950.0, 950.0), graph=graph)
    b = auto_districts(stops, _couriers(6), xy_m=xy, station_xy_m=(950.0, 950.0), graph=graph)
    assert a.courier_of == b.courier_of
    assert a.work_s is not None
    assert _ratio(dict(a.work_s)) <= DistrictConfig().balance + 0.02


def test_fixed_districts_join_polygons_and_list_stops_outside() -> None:
    xy = np.array([[100.0, 100.0], [900.0, 100.0], [1500.0, 100.0], [300.0, 300.0]])
    stops = _stops(xy)
    areas = gpd.GeoDataFrame({"courier_id": ["C0", "C1"]},
                             geometry=[box(0, 0, 500, 500), box(600, 0, 1000, 500)],
                             crs="EPSG:32650").to_crs(4326)
    result = fixed_districts(stops, _couriers(2), areas=areas, xy_m=xy, crs_metric="EPSG:32650",
                             station_xy_m=(0.0, 0.0), file="d.geojson")
    assert result.courier_of == {"S0000": "C0", "S0001": "C1", "S0002": "C1", "S0003": "C0"}
    assert result.outside == ("S0002",)
    polygons = district_polygons(result.courier_of, stops, xy_m=xy, crs_metric="EPSG:32650")
    assert list(polygons["courier_id"]) == ["C0", "C1"]
    assert polygons.crs.to_epsg() == 4326


def test_unknown_couriers_and_couriers_without_a_polygon_are_warnings() -> None:
    xy = np.array([[100.0, 100.0], [900.0, 100.0]])
    areas = gpd.GeoDataFrame({"courier_id": ["C0", "C9"]},
                             geometry=[box(0, 0, 500, 500), box(600, 0, 1000, 500)],
                             crs="EPSG:32650").to_crs(4326)
    result = fixed_districts(_stops(xy), _couriers(2), areas=areas, xy_m=xy,
                             crs_metric="EPSG:32650", station_xy_m=(0.0, 0.0), file="d.geojson")
    # C9's polygon is left out: its stop goes to the nearest known one; C1 has no polygon.
    assert result.courier_of == {"S0000": "C0", "S0001": "C0"}
    assert any("not on today's roster (C9)" in n for n in result.notes)
    assert any("C1 have no district polygon" in n for n in result.notes)
    only_unknown = gpd.GeoDataFrame({"courier_id": ["C9"]}, geometry=[box(0, 0, 1, 1)], crs=4326)
    with pytest.raises(InputError, match="no district polygon names a courier"):
        fixed_districts(_stops(np.zeros((1, 2))), _couriers(1), areas=only_unknown,
                        xy_m=np.zeros((1, 2)), crs_metric="EPSG:32650",
                        station_xy_m=(0.0, 0.0), file="d.geojson")


def test_district_polygons_do_not_overlap_and_hold_their_own_stops() -> None:
    xy = _city(9)
    stops = _stops(xy)
    split = auto_districts(stops, _couriers(6), xy_m=xy, station_xy_m=(0.0, 0.0))
    polygons = district_polygons(split.courier_of, stops, xy_m=xy, crs_metric="EPSG:32650")
    metric = polygons.to_crs("EPSG:32650")
    for i in range(len(metric)):
        for j in range(i + 1, len(metric)):
            assert metric.geometry.iloc[i].intersection(metric.geometry.iloc[j]).area < 1.0
    back = fixed_districts(stops, _couriers(6), areas=polygons, xy_m=xy,
                           crs_metric="EPSG:32650", station_xy_m=(0.0, 0.0), file="d.geojson")
    kept = sum(back.courier_of[s.stop_id] == split.courier_of[s.stop_id] for s in stops)
    assert kept / len(stops) >= 0.95 and not back.outside
    # Two stops, two couriers: two halves, not the whole area twice.
    two = _stops(np.array([[0.0, 0.0], [400.0, 0.0]]))
    halves = district_polygons({"S0000": "C0", "S0001": "C1"}, two,
                               xy_m=np.array([[0.0, 0.0], [400.0, 0.0]]),
                               crs_metric="EPSG:32650").to_crs("EPSG:32650").geometry
    assert halves.iloc[0].intersection(halves.iloc[1]).area < 1.0


def test_a_day_calls_in_the_couriers_it_needs_plus_one() -> None:
    from courier.districts import active_couriers

    roster = [Courier(f"C{i}", "etricycle", 100, 200.0, 1500.0, 8 * 3600, 20 * 3600)
              for i in range(10)]
    load = np.array([150.0, 100.0, 500.0])
    # 30 h of estimated work at half of 12 h shifts: 5 couriers, and one to spare.
    chosen = active_couriers(roster, 30 * 3600.0, load, fill=0.5)
    assert [c.courier_id for c in chosen] == ["C0", "C1", "C2", "C3", "C4", "C5"]
    # Capacity can ask for more than the hours: 900 parcels at 100 x 3 trips each.
    heavy = active_couriers(roster, 3600.0, np.array([900.0, 0.0, 0.0]), fill=0.5)
    assert len(heavy) == 3 + 1
    # Yesterday's couriers come first; fill 0 keeps everyone.
    kept = active_couriers(roster, 6 * 3600.0, load, fill=0.5, keep={"C8", "C9"})
    assert [c.courier_id for c in kept] == ["C8", "C9"]
    assert len(active_couriers(roster, 30 * 3600.0, load, fill=0.0)) == 10
