"""Districts: automatic sectors balance work; the station's own polygons are honoured."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from courier.districts import auto_districts, district_polygons, fixed_districts, workload_s
from courier.errors import InputError
from courier.model import Courier, Snap, Stop


def _stops(xy: np.ndarray, service_s: int = 120) -> list[Stop]:
    snap = Snap(edge=0, fraction=0.0, distance_m=0.0, lon=0.0, lat=0.0)
    return [Stop(stop_id=f"S{i:04d}", parcel_ids=(f"P{i}",), lon=0.0, lat=0.0, snap=snap,
                 service_s=service_s, windows_s=(), delivery_parcels=1, delivery_kg=1.0,
                 delivery_l=1.0) for i in range(len(xy))]


def _couriers(k: int, hours: float = 10) -> list[Courier]:
    return [Courier(courier_id=f"C{i}", vehicle="etricycle", capacity_parcels=100,
                    capacity_kg=100, capacity_l=1000, shift_start_s=8 * 3600,
                    shift_end_s=int((8 + hours) * 3600)) for i in range(k)]


def test_auto_districts_balance_estimated_work() -> None:
    rng = np.random.default_rng(3)
    xy = np.vstack([rng.normal((500, 500), 150, (300, 2)), rng.uniform(-2000, 2000, (300, 2))])
    stops = _stops(xy)
    result = auto_districts(stops, _couriers(6), xy_m=xy, station_xy_m=(0.0, 0.0))
    assert set(result.courier_of) == {s.stop_id for s in stops}
    work = workload_s(stops, xy)
    per = np.zeros(6)
    for i, s in enumerate(stops):
        per[int(result.courier_of[s.stop_id][1:])] += work[i]
    # Contiguous sectors cut at whole stops: each share is within one stop's work of equal.
    assert per.max() - per.min() <= 2 * work.max()


def test_longer_shift_gets_more_work() -> None:
    rng = np.random.default_rng(4)
    xy = rng.uniform(-1000, 1000, (400, 2))
    couriers = [*_couriers(1, hours=4), *_couriers(2, hours=8)[1:]]
    result = auto_districts(_stops(xy), couriers, xy_m=xy, station_xy_m=(0.0, 0.0))
    counts = {c.courier_id: 0 for c in couriers}
    for cid in result.courier_of.values():
        counts[cid] += 1
    assert counts["C0"] < counts["C1"]


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


def test_fixed_districts_reject_unknown_couriers() -> None:
    areas = gpd.GeoDataFrame({"courier_id": ["C9"]}, geometry=[box(0, 0, 1, 1)], crs=4326)
    with pytest.raises(InputError, match="not in the roster: C9"):
        fixed_districts(_stops(np.zeros((1, 2))), _couriers(1), areas=areas,
                        xy_m=np.zeros((1, 2)), crs_metric="EPSG:32650",
                        station_xy_m=(0.0, 0.0), file="d.geojson")
