"""Split the day's stops among couriers: the station's own districts, or automatic zones."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from scipy.spatial import cKDTree

from courier.errors import InputError
from courier.model import Courier, Stop

# Door-to-door speed used only to weigh travel against service time when balancing work.
_BALANCE_SPEED_M_S = 3.0


@dataclass(frozen=True, slots=True)
class Districting:
    """Which courier serves which stop, and which stops fell outside every given district."""

    courier_of: Mapping[str, str]
    outside: tuple[str, ...] = ()
    method: str = "auto"


def workload_s(stops: Sequence[Stop], xy_m: np.ndarray) -> np.ndarray:
    """Estimate seconds of work per stop: its service time plus the walk to its nearest neighbour.

    The nearest-neighbour distance is what a good route spends reaching a stop, so the sum is
    close to a route's duration without solving it.
    """
    service = np.array([s.service_s for s in stops], dtype=np.float64)
    if len(stops) < 2:
        return service
    dist, _ = cKDTree(xy_m).query(xy_m, k=2)
    return service + dist[:, 1] / _BALANCE_SPEED_M_S


def auto_districts(stops: Sequence[Stop], couriers: Sequence[Courier], *, xy_m: np.ndarray,
                   station_xy_m: tuple[float, float]) -> Districting:
    """Cut the area around the station into one angular sector per courier with equal work.

    Each courier's share of the work is proportional to their shift length. The sweep starts at
    the widest empty angle around the station so that no cluster of stops is cut in two.
    """
    if not stops:
        return Districting(courier_of={})
    work = workload_s(stops, xy_m)
    angle = np.arctan2(xy_m[:, 1] - station_xy_m[1], xy_m[:, 0] - station_xy_m[0])
    order = np.lexsort((np.arange(len(stops)), angle))
    sorted_angle = angle[order]
    gaps = np.diff(np.concatenate([sorted_angle, sorted_angle[:1] + 2 * np.pi]))
    start = (int(np.argmax(gaps)) + 1) % len(order)
    order = np.roll(order, -start)
    shares = np.array([c.shift_end_s - c.shift_start_s for c in couriers], dtype=np.float64)
    bounds = np.cumsum(shares) / shares.sum() * work.sum()
    # A stop goes to the courier whose cumulative share contains the middle of its work.
    mid = np.cumsum(work[order]) - work[order] / 2
    slot = np.minimum(np.searchsorted(bounds, mid, side="right"), len(couriers) - 1)
    courier_of = {stops[i].stop_id: couriers[k].courier_id
                  for i, k in zip(order.tolist(), slot.tolist(), strict=True)}
    return Districting(courier_of=courier_of, method="auto")


def fixed_districts(stops: Sequence[Stop], couriers: Sequence[Courier], *,
                    areas: gpd.GeoDataFrame, xy_m: np.ndarray, crs_metric: str,
                    station_xy_m: tuple[float, float], file: str) -> Districting:
    """Assign stops to the station's own district polygons (a ``courier_id`` column per area).

    A polygon may name several couriers separated by ``;``: its stops are then split among
    them with :func:`auto_districts`. A stop outside every polygon goes to the nearest one and
    is listed in ``outside``.
    """
    if "courier_id" not in areas.columns:
        raise InputError(f"{file}: districts need a 'courier_id' column naming each area's courier(s)")
    known = {c.courier_id for c in couriers}
    names = [tuple(x.strip() for x in str(v).split(";") if x.strip()) for v in areas["courier_id"]]
    unknown = sorted({n for group in names for n in group} - known)
    if unknown:
        raise InputError(
            f"{file}: districts name couriers not in the roster: {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(known))}"
        )
    polys = areas.to_crs(crs_metric).geometry.reset_index(drop=True)
    points = gpd.GeoSeries(shapely.points(xy_m), crs=crs_metric)
    within = gpd.sjoin(gpd.GeoDataFrame(geometry=points), gpd.GeoDataFrame(geometry=polys),
                       predicate="within", how="left")
    # A point on a shared border falls in two polygons: keep the first, deterministically.
    within = within[~within.index.duplicated(keep="first")]
    area_of = within["index_right"].to_numpy()
    outside_idx = np.flatnonzero(np.isnan(area_of.astype(np.float64)))
    if len(outside_idx):
        dist = np.stack([polys.distance(points.iloc[i]).to_numpy() for i in outside_idx])
        area_of = area_of.astype(np.float64)
        area_of[outside_idx] = dist.argmin(axis=1)
    area_of = area_of.astype(np.int64)
    by_id = {c.courier_id: c for c in couriers}
    courier_of: dict[str, str] = {}
    for a, group in enumerate(names):
        members = np.flatnonzero(area_of == a)
        if not len(members) or not group:
            continue
        sub = auto_districts([stops[int(i)] for i in members], [by_id[g] for g in group],
                             xy_m=xy_m[members], station_xy_m=station_xy_m)
        courier_of.update(sub.courier_of)
    return Districting(courier_of=courier_of,
                       outside=tuple(stops[int(i)].stop_id for i in outside_idx), method="fixed")


def district_polygons(courier_of: Mapping[str, str], stops: Sequence[Stop], *, xy_m: np.ndarray,
                      crs_metric: str) -> gpd.GeoDataFrame:
    """Return one polygon per courier around their stops (EPSG:4326), for maps and editing."""
    rows: dict[str, list[int]] = {}
    for i, s in enumerate(stops):
        cid = courier_of.get(s.stop_id)
        if cid is not None:
            rows.setdefault(cid, []).append(i)
    ids = sorted(rows)
    shapes = []
    for cid in ids:
        pts = shapely.multipoints(xy_m[rows[cid]])
        # A concave hull hugs the stops without sending the polygon across empty blocks.
        shapes.append(shapely.concave_hull(pts, ratio=0.4).buffer(40.0))
    frame = gpd.GeoDataFrame({"courier_id": ids, "stops": [len(rows[c]) for c in ids]},
                             geometry=shapes, crs=crs_metric)
    return frame.to_crs(4326)
