"""Split the day's stops among couriers: the station's own districts, or automatic zones.

Automatic zones grow from one seed per courier along the street network: each stop goes to the
seed it reaches fastest (travel time on the street graph, or straight line / a door-to-door speed
without one) plus a price per courier that rises while the courier's estimated work is above
their share. A last pass moves single boundary stops from the busiest zone to a neighbour (and
into the idlest zone) until max/mean work is within the balance target; vehicle capacity
(capacity x trips) is a hard limit of both passes. With yesterday's assignment, each courier's
seed sits in their old area and taking a stop away from yesterday's courier costs extra, so the
zones move only as far as balance needs.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from courier.config import DETOUR_FACTOR, DistrictConfig
from courier.errors import InputError
from courier.model import Courier, Stop, StreetGraph, Trip

# Door-to-door speed used to turn straight-line metres into seconds when there is no street graph.
_BALANCE_SPEED_M_S = 3.0
# Share of a stop's 4th-nearest-neighbour distance a good route spends reaching it: the TSP
# length 0.7 * sqrt(n * area) per stop is 0.7 / sqrt(density); the 4th neighbour lies at
# sqrt(4 / (pi * density)), so the ratio is 0.7 / 1.128.
_TSP_PER_D4 = 0.62
_MIN_LEG_M = 5.0
# Location keys: a cell of 1/4000 degree (about 25 m) of WGS-84 lon/lat; zones for re-entries:
# a cell of 1/800 degree (about 130 m) when a stop has no zone of its own.
KEY_CELLS_PER_DEG = 4000
ZONE_CELLS_PER_DEG = 800
_M_PER_DEG = 111_320.0

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Districting:
    """Which courier serves which stop, and which stops fell outside every given district.

    ``work_s`` is the estimated work per courier (seconds, auto districts only);
    ``stability`` the share of stops with a known courier yesterday that kept them (``None``
    without ``previous``).
    """

    courier_of: Mapping[str, str]
    outside: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # what the station manager should know about the districts
    method: str = "auto"
    work_s: Mapping[str, float] | None = None
    stability: float | None = None


# --------------------------------------------------------------------------------------------
# Keys that survive from one day to the next


def location_key(lon: float, lat: float) -> str:
    """Return the key of the ~25 m cell (1/4000 degree) holding a WGS-84 point (degrees)."""
    return f"{round(lon * KEY_CELLS_PER_DEG)}:{round(lat * KEY_CELLS_PER_DEG)}"


def previous_assignment(lon: npt.ArrayLike, lat: npt.ArrayLike,
                        courier_ids: Sequence[str]) -> dict[str, str]:
    """Return yesterday's assignment as {location key: courier}, the majority courier per cell.

    Feed it the ``lon``, ``lat`` and ``courier_id`` columns of yesterday's ``stops.csv``. Ties go
    to the lowest courier id, so the result does not depend on the row order.
    """
    lon_a = np.asarray(lon, dtype=np.float64)
    lat_a = np.asarray(lat, dtype=np.float64)
    votes: dict[str, dict[str, int]] = {}
    for x, y, cid in zip(lon_a.tolist(), lat_a.tolist(), courier_ids, strict=True):
        cell = votes.setdefault(location_key(x, y), {})
        cell[cid] = cell.get(cid, 0) + 1
    return {key: min(cell, key=lambda c: (-cell[c], c)) for key, cell in sorted(votes.items())}


def previous_couriers(stops: Sequence[Stop], previous: Mapping[str, str], *,
                      radius_m: float = 250.0) -> list[str | None]:
    """Return yesterday's courier of each stop: of its own cell, else of the nearest cell.

    A stop farther than ``radius_m`` metres from every cell of yesterday gets ``None``. Keys that
    are not location keys (see :func:`location_key`) are ignored.
    """
    cells: list[tuple[int, int]] = []
    owners: list[str] = []
    for key, cid in sorted(previous.items()):
        parts = key.split(":")
        if len(parts) == 2 and all(p.lstrip("-").isdigit() for p in parts):
            cells.append((int(parts[0]), int(parts[1])))
            owners.append(cid)
    if not cells or not stops:
        return [None] * len(stops)
    lat0 = math.radians(float(np.mean([s.lat for s in stops])))
    scale = np.array([_M_PER_DEG * math.cos(lat0), _M_PER_DEG]) / KEY_CELLS_PER_DEG
    tree = cKDTree(np.array(cells, dtype=np.float64) * scale)
    here = np.array([(round(s.lon * KEY_CELLS_PER_DEG), round(s.lat * KEY_CELLS_PER_DEG))
                     for s in stops], dtype=np.float64) * scale
    dist, idx = tree.query(here, distance_upper_bound=radius_m)
    return [owners[int(j)] if np.isfinite(d) else None
            for d, j in zip(dist.tolist(), idx.tolist(), strict=True)]


def stability(courier_of: Mapping[str, str], stops: Sequence[Stop], previous: Mapping[str, str],
              *, radius_m: float = 250.0) -> tuple[float, int]:
    """Return (share of comparable stops whose courier is unchanged, comparable stops).

    A stop is comparable when yesterday had a stop within ``radius_m`` metres (see
    :func:`previous_couriers`) and it is assigned today. The share is 1.0 when none is.
    """
    before = previous_couriers(stops, previous, radius_m=radius_m)
    pairs = [(b, courier_of.get(s.stop_id)) for s, b in zip(stops, before, strict=True)]
    pairs = [(b, a) for b, a in pairs if b is not None and a is not None]
    if not pairs:
        return 1.0, 0
    return sum(1 for b, a in pairs if a == b) / len(pairs), len(pairs)


# --------------------------------------------------------------------------------------------
# Workload


def _stop_loads(stops: Sequence[Stop]) -> FloatArray:
    """Return (n, 3) parcels, kg, litres a courier carries out for each stop."""
    return np.array([(s.delivery_parcels, s.delivery_kg, s.delivery_l) for s in stops],
                    dtype=np.float64).reshape(-1, 3)


def _capacity(couriers: Sequence[Courier]) -> FloatArray:
    """Return (k, 3) what each courier can carry over the day: capacity x trips."""
    return np.array([(c.capacity_parcels * c.max_trips, c.capacity_kg * c.max_trips,
                      c.capacity_l * c.max_trips) for c in couriers], dtype=np.float64).reshape(-1, 3)


def workload_s(stops: Sequence[Stop], xy_m: np.ndarray, *, station_s: FloatArray | None = None,
               stops_per_trip: float | None = None, speed_m_s: float = _BALANCE_SPEED_M_S,
               ) -> FloatArray:
    """Estimate seconds of route time per stop; a district's estimate is the sum over its stops.

    Service time, plus the stop's share of a good tour through its neighbourhood
    (0.62 x the distance to its 4th-nearest neighbour, from TSP length ~ 0.7 sqrt(n area)), plus,
    given ``station_s`` (round trip to the station, s) and ``stops_per_trip``, its share of the
    drive out and back: one per trip, shared by the trip's stops.
    """
    service = np.array([s.service_s for s in stops], dtype=np.float64)
    n = len(stops)
    if n < 2:
        return service
    k = min(4, n - 1)
    dist, _ = cKDTree(xy_m).query(xy_m, k=k + 1)
    leg = np.maximum(dist[:, k] * (_TSP_PER_D4 if k == 4 else 1.0), _MIN_LEG_M)
    work = service + leg / speed_m_s
    if station_s is not None and stops_per_trip:
        work = work + station_s / max(stops_per_trip, 1.0)
    return np.asarray(work, dtype=np.float64)


# --------------------------------------------------------------------------------------------
# Travel times on the street graph


class _Network:
    """Travel times from a few street nodes to the stops, both ways averaged (s)."""

    def __init__(self, graph: StreetGraph, stops: Sequence[Stop]) -> None:
        n = graph.n_nodes
        self.forward = sp.csr_matrix((graph.edge_time_s, (graph.edge_from, graph.edge_to)),
                                     shape=(n, n))
        self.backward = self.forward.T.tocsr()
        edge = np.fromiter((s.snap.edge for s in stops), dtype=np.int64, count=len(stops))
        frac = np.fromiter((s.snap.fraction for s in stops), dtype=np.float64, count=len(stops))
        self.node = np.where(frac >= 0.5, graph.edge_to[edge], graph.edge_from[edge]).astype(np.int64)
        length = float(graph.edge_length_m.sum())
        self.speed_m_s = length / max(float(graph.edge_time_s.sum()), 1e-9) / DETOUR_FACTOR

    def times_s(self, sources: IntArray) -> FloatArray:
        """Return (len(sources), n_stops) mean of out and back travel seconds."""
        out = dijkstra(self.forward, directed=True, indices=sources)[:, self.node]
        back = dijkstra(self.backward, directed=True, indices=sources)[:, self.node]
        t = (out + back) / 2
        # The graph is strongly connected; inf only for a snap outside it: price it high.
        return np.where(np.isfinite(t), t, 1e7)


# --------------------------------------------------------------------------------------------
# Automatic districts


def auto_districts(stops: Sequence[Stop], couriers: Sequence[Courier], *, xy_m: np.ndarray,
                   station_xy_m: tuple[float, float], graph: StreetGraph | None = None,
                   previous: Mapping[str, str] | None = None,
                   options: DistrictConfig | None = None, seed: int = 0) -> Districting:
    """Split stops into one compact zone per courier with balanced work, within capacity.

    Parameters
    ----------
    stops, couriers
        Today's stops and roster. A courier's share of the work is proportional to their shift.
    xy_m
        Stop positions in the graph's metric CRS (metres), one row per stop.
    station_xy_m
        The station in the same CRS.
    graph
        The street graph the stops were snapped to: travel times come from it. Without it,
        straight-line metres at a door-to-door speed of 3 m/s.
    previous
        Yesterday's assignment, {location key: courier} (see :func:`previous_assignment`):
        couriers start from their old area and keep its stops as far as balance allows.
    options
        Balance target, stickiness, rounds (see :class:`courier.config.DistrictConfig`).
    seed
        Seeds the first zone centres.
    """
    options = options or DistrictConfig()
    if not stops or not couriers:
        return Districting(courier_of={}, work_s={c.courier_id: 0.0 for c in couriers})
    n, k = len(stops), len(couriers)
    xy = np.asarray(xy_m, dtype=np.float64).reshape(n, 2)
    net = _Network(graph, stops) if graph is not None else None
    speed = net.speed_m_s if net is not None else _BALANCE_SPEED_M_S
    station = np.asarray(station_xy_m, dtype=np.float64)
    if net is not None:
        st_node = _nearest_node(graph, station) if graph is not None else 0
        station_s = 2 * net.times_s(np.array([st_node]))[0]
    else:
        station_s = 2 * np.hypot(*(xy - station).T) / speed
    load = _stop_loads(stops)
    cap = _capacity(couriers)
    # Stops per trip: how many average stops fill the tightest dimension of an average vehicle.
    per_trip_cap = cap.mean(axis=0) / np.array([c.max_trips for c in couriers]).mean()
    mean_load = np.maximum(load.mean(axis=0), 1e-9)
    stops_per_trip = float(max(1.0, np.min(per_trip_cap / mean_load)))
    work = workload_s(stops, xy, station_s=station_s, stops_per_trip=stops_per_trip,
                      speed_m_s=speed)
    before = previous_couriers(stops, previous, radius_m=options.previous_radius_m) \
        if previous else [None] * n
    roster, couriers = couriers, active_couriers(couriers, float(work.sum()), load.sum(axis=0),
                                                 fill=options.fleet_fill,
                                                 keep={b for b in before if b is not None})
    k = len(couriers)
    cap = _capacity(couriers)
    shift = np.array([c.shift_end_s - c.shift_start_s for c in couriers], dtype=np.float64)
    target = work.sum() * shift / shift.sum()

    index_of = {c.courier_id: j for j, c in enumerate(couriers)}
    prev = np.array([index_of.get(b, -1) if b is not None else -1 for b in before], dtype=np.int64)

    seeds = _initial_seeds(xy, work, prev, k, seed=seed)
    price = np.zeros(k)
    assign = np.zeros(n, dtype=np.int64)
    for _ in range(options.rounds):
        cost = _cost(xy, seeds, net, prev, options.stickiness_s, speed)
        price, assign = _price_balance(cost, work, target, load, cap, price)
        assign = _refine(cost, assign, work, target, load, cap, balance=options.balance)
        new_seeds = _medoids(xy, work, assign, k, seeds)
        if np.array_equal(new_seeds, seeds):
            break
        seeds = new_seeds
    courier_of = {s.stop_id: couriers[int(a)].courier_id for s, a in zip(stops, assign, strict=True)}
    per = np.bincount(assign, weights=work, minlength=k)
    work_of = {c.courier_id: 0.0 for c in roster}
    result_stability = None
    if previous:
        known = prev >= 0
        result_stability = float((assign[known] == prev[known]).mean()) if known.any() else 1.0
    work_of.update({c.courier_id: float(per[j]) for j, c in enumerate(couriers)})
    return Districting(courier_of=courier_of, method="auto", work_s=work_of,
                       stability=result_stability)


def active_couriers(couriers: Sequence[Courier], work_s: float, load: np.ndarray, *,
                    fill: float, keep: Collection[str] = ()) -> list[Courier]:
    """Return the couriers the day needs: enough shift hours for the estimated work at
    ``fill`` (a routed day holds about twice the estimate: windows, waiting, the way to and
    from the station) and enough capacity (x trips) for the load, with a spare courier.

    Couriers in ``keep`` (yesterday's areas) come first, then the longest shifts, then the
    roster's order. ``fill`` 0 uses every courier. Measured against one joint PyVRP search of
    the same days: 3 of 6 couriers on the 900-parcel demo, 70 of 100 on a 20,000-parcel
    Shenzhen day, for estimates of 17.9 h and 410 h of work (fill 0.5 gives 3 and 69).
    """
    if fill <= 0 or not couriers:
        return list(couriers)
    order = sorted(range(len(couriers)), key=lambda j: (
        couriers[j].courier_id not in keep,
        -(couriers[j].shift_end_s - couriers[j].shift_start_s), j))
    hours = 0.0
    chosen: list[int] = []
    need = np.asarray(load, dtype=np.float64)
    have = np.zeros(3)
    for j in order:
        c = couriers[j]
        if hours >= work_s and bool(np.all(have >= need)):
            break
        chosen.append(j)
        hours += (c.shift_end_s - c.shift_start_s) * fill
        have = have + _capacity([c])[0]
    # One more than the estimate asks for: a day short of a courier drops stops, a day
    # with one to spare does not, and the repair can use them all.
    for j in order:
        if len(chosen) >= len(order) or j in chosen:
            continue
        chosen.append(j)
        break
    return [couriers[j] for j in sorted(chosen)]


def _nearest_node(graph: StreetGraph, xy: FloatArray) -> int:
    return int(np.argmin((graph.node_x_m - xy[0]) ** 2 + (graph.node_y_m - xy[1]) ** 2))


def _initial_seeds(xy: FloatArray, work: FloatArray, prev: IntArray, k: int, *,
                   seed: int) -> IntArray:
    """Return one stop index per courier: yesterday's area's medoid, else weighted k-means."""
    n = len(xy)
    rng = np.random.default_rng(seed)
    centres = np.full((k, 2), np.nan)
    for j in range(k):
        mine = prev == j
        if mine.any():
            centres[j] = np.average(xy[mine], axis=0, weights=work[mine])
    free = np.flatnonzero(np.isnan(centres[:, 0]))
    if free.size:
        # k-means++ for couriers without an area yesterday, around the areas that exist.
        fixed = centres[~np.isnan(centres[:, 0])]
        d2 = (np.min(((xy[:, None, :] - fixed[None]) ** 2).sum(-1), axis=1) if len(fixed)
              else np.full(n, np.inf))
        for j in free.tolist():
            p = work * np.where(np.isfinite(d2), d2, 1.0)
            pick = int(rng.choice(n, p=p / p.sum())) if p.sum() > 0 else int(rng.integers(n))
            centres[j] = xy[pick]
            d2 = np.minimum(d2, ((xy - xy[pick]) ** 2).sum(-1))
        movable = np.isin(np.arange(k), free)
        for _ in range(8):  # Lloyd steps move only the new centres
            d = ((xy[:, None, :] - centres[None]) ** 2).sum(-1)
            near = np.argmin(d, axis=1)
            for j in free.tolist():
                mine = near == j
                if mine.any() and movable[j]:
                    centres[j] = np.average(xy[mine], axis=0, weights=work[mine])
    _, idx = cKDTree(xy).query(centres)
    return np.asarray(idx, dtype=np.int64)


def _cost(xy: FloatArray, seeds: IntArray, net: _Network | None, prev: IntArray,
          stickiness_s: float, speed: float) -> FloatArray:
    """Return (k, n) seconds: travel from each courier's seed to each stop, plus stickiness."""
    if net is not None:
        cost = net.times_s(net.node[seeds])
    else:
        cost = np.sqrt(((xy[None, :, :] - xy[seeds][:, None, :]) ** 2).sum(-1)) / speed
    known = prev >= 0
    if stickiness_s and known.any():
        cost = cost + stickiness_s * known[None, :]
        cost[prev[known], np.flatnonzero(known)] -= stickiness_s
    return np.asarray(cost, dtype=np.float64)


def _price_balance(cost: FloatArray, work: FloatArray, target: FloatArray, load: FloatArray,
                   cap: FloatArray, price: FloatArray, *, iterations: int = 100,
                   ) -> tuple[FloatArray, IntArray]:
    """Raise the price of overworked couriers and lower it for idle ones (subgradient steps)."""
    k = cost.shape[0]
    # Small steps: stops at one street node move as a lump, large steps make prices oscillate.
    step = 10.0
    best_price, best_assign, best_gap = price, np.argmin(cost + price[:, None], axis=0), np.inf
    for _ in range(iterations):
        assign = np.argmin(cost + price[:, None], axis=0)
        per = np.bincount(assign, weights=work, minlength=k)
        over = np.max(np.stack([np.bincount(assign, weights=load[:, d], minlength=k) / cap[:, d]
                                for d in range(3)]), axis=0)
        ratio = per / target
        gap = float(max(ratio.max() - 1.0, 1.0 - ratio.min(), over.max() - 1.0))
        if gap < best_gap:
            best_price, best_assign, best_gap = price.copy(), assign, gap
        grad = (ratio - 1.0) + 4.0 * np.maximum(over - 1.0, 0.0)
        price = price + step * grad
    return best_price, np.asarray(best_assign, dtype=np.int64)


def _refine(cost: FloatArray, assign: IntArray, work: FloatArray, target: FloatArray,
            load: FloatArray, cap: FloatArray, *, balance: float) -> IntArray:
    """Move single boundary stops, cheapest first, until work is within ``balance`` of target.

    Takes from the courier furthest above their share (or over capacity) and gives to the one
    furthest below. A move never pushes the receiver over capacity nor above the giver's share
    before the move, so the spread of work shrinks with every move and the loop ends.
    """
    k, n = cost.shape
    assign = assign.copy()
    per: FloatArray = np.bincount(assign, weights=work, minlength=k).astype(np.float64)
    carried: FloatArray = np.stack([np.bincount(assign, weights=load[:, d], minlength=k)
                                    for d in range(3)], 1).astype(np.float64)
    hi, lo = target * balance, target / balance
    for _ in range(2 * n):
        ratio = per / target
        over_cap = np.asarray((carried > cap + 1e-9).any(axis=1))
        moved = False
        # Take from the busiest (or over capacity) courier...
        giver = int(np.argmax(np.where(over_cap, np.inf, ratio)))
        if over_cap[giver] or per[giver] > hi[giver]:
            mine = np.flatnonzero(assign == giver)
            after = (per[:, None] + work[mine][None, :]) / target[:, None]
            room_ok = np.asarray((carried[:, None, :] + load[mine][None, :, :]
                                  <= cap[:, None, :] + 1e-9).all(axis=2))
            if not over_cap[giver]:
                room_ok &= after < ratio[giver]
            room_ok[giver] = False
            delta = np.where(room_ok, cost[:, mine] - cost[giver, mine][None, :], np.inf)
            if np.isfinite(delta).any():
                row, col = np.unravel_index(int(np.argmin(delta)), delta.shape)
                _move(int(mine[col]), giver, int(row), assign, per, carried, work, load)
                moved = True
        # ...and give to the idlest.
        ratio = per / target
        taker = int(np.argmin(ratio))
        if per[taker] < lo[taker]:
            theirs = np.flatnonzero(ratio[assign] > ratio[taker])
            if theirs.size:
                src = assign[theirs]
                fits = ((carried[taker][None, :] + load[theirs] <= cap[taker] + 1e-9).all(axis=1)
                        & ((per[taker] + work[theirs]) / target[taker] < ratio[src]))
                delta = np.where(fits, cost[taker, theirs] - cost[src, theirs], np.inf)
                if np.isfinite(delta).any():
                    best = int(np.argmin(delta))
                    _move(int(theirs[best]), int(src[best]), taker, assign, per, carried, work,
                          load)
                    moved = True
        if not moved:
            break
    return assign


def _move(i: int, a: int, b: int, assign: IntArray, per: FloatArray, carried: FloatArray,
          work: FloatArray, load: FloatArray) -> None:
    assign[i] = b
    per[a] -= work[i]
    per[b] += work[i]
    carried[a] -= load[i]
    carried[b] += load[i]


def _medoids(xy: FloatArray, work: FloatArray, assign: IntArray, k: int,
             seeds: IntArray) -> IntArray:
    """Return the stop nearest each zone's work-weighted centre (the old seed if the zone is empty)."""
    out = seeds.copy()
    for j in range(k):
        mine = np.flatnonzero(assign == j)
        if mine.size:
            centre = np.average(xy[mine], axis=0, weights=work[mine])
            out[j] = int(mine[np.argmin(((xy[mine] - centre) ** 2).sum(-1))])
    return out


# --------------------------------------------------------------------------------------------
# Zone re-entries


def zone_of(stop: Stop) -> str:
    """Return a stop's zone: ``Stop.zone`` if set, else its ~130 m cell (1/800 degree)."""
    if stop.zone:
        return stop.zone
    return f"cell:{math.floor(stop.lon * ZONE_CELLS_PER_DEG)}:{math.floor(stop.lat * ZONE_CELLS_PER_DEG)}"


def zone_reentries(trips: Sequence[Trip], stops: Sequence[Stop]) -> tuple[int, int]:
    """Return (re-entries, routes): how often a trip leaves a zone and later comes back.

    A trip that visits zones A A B A C B has two re-entries (back into A, back into B).
    """
    zone = {s.stop_id: zone_of(s) for s in stops}
    total = 0
    for trip in trips:
        seen: set[str] = set()
        last = None
        for v in trip.visits:
            z = zone[v.stop_id]
            if z != last and z in seen:
                total += 1
            seen.add(z)
            last = z
    return total, len(trips)


# --------------------------------------------------------------------------------------------
# Fixed districts and polygons
def fixed_districts(stops: Sequence[Stop], couriers: Sequence[Courier], *,
                    areas: gpd.GeoDataFrame, xy_m: np.ndarray, crs_metric: str,
                    station_xy_m: tuple[float, float], file: str) -> Districting:
    """Assign stops to the station's own district polygons (a ``courier_id`` column per area).

    A polygon may name several couriers separated by ``;``: its stops are then split among
    them with :func:`auto_districts`. A stop outside every polygon goes to the nearest one and
    is listed in ``outside``. A polygon naming no courier of today's roster is left out (its
    stops go to the nearest other polygon), and a courier without a polygon is not planned:
    both are said in ``notes``, for the terminal and the summary.
    """
    if "courier_id" not in areas.columns:
        raise InputError(f"{file}: districts need a 'courier_id' column naming each area's courier(s)")
    known = {c.courier_id for c in couriers}
    named = [tuple(x.strip() for x in str(v).split(";") if x.strip()) for v in areas["courier_id"]]
    notes = []
    unknown = sorted({n for group in named for n in group} - known)
    if unknown:
        notes.append(f"{file}: district polygons name couriers not on today's roster "
                     f"({', '.join(unknown)}): their areas go to the neighbouring districts")
    without = sorted(known - {n for group in named for n in group})
    if without:
        notes.append(f"{file}: courier(s) {', '.join(without)} have no district polygon: not "
                     "planned today")
    keep = [k for k, group in enumerate(named) if any(n in known for n in group)]
    if not keep:
        raise InputError(f"{file}: no district polygon names a courier of today's roster; "
                         f"allowed: {', '.join(sorted(known))}")
    names = [tuple(n for n in named[k] if n in known) for k in keep]
    polys = areas.to_crs(crs_metric).geometry.iloc[keep].reset_index(drop=True)
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
        # The station named these couriers for this area: every one of them gets a share.
        sub = auto_districts([stops[int(i)] for i in members], [by_id[g] for g in group],
                             xy_m=xy_m[members], station_xy_m=station_xy_m,
                             options=DistrictConfig(fleet_fill=0.0))
        courier_of.update(sub.courier_of)
    return Districting(courier_of=courier_of,
                       outside=tuple(stops[int(i)].stop_id for i in outside_idx), method="fixed",
                       notes=tuple(notes))


# How far district polygons reach beyond the outermost stops, metres: a door just outside
# today's stops still falls in a district tomorrow.
_DISTRICT_MARGIN_M = 150.0


def district_polygons(courier_of: Mapping[str, str], stops: Sequence[Stop], *, xy_m: np.ndarray,
                      crs_metric: str) -> gpd.GeoDataFrame:
    """Return one polygon per courier (EPSG:4326) for maps and editing; they do not overlap.

    Each stop gets the cell of the plane nearer to it than to any other stop (a Voronoi
    diagram); a courier's district is the union of their stops' cells, clipped to the stops'
    area plus a margin. Passed back with ``--districts``, every stop falls in its own
    courier's polygon again, except where couriers share a spot (the first one's cell).
    """
    rows: dict[str, list[int]] = {}
    first_at: dict[tuple[float, float], str] = {}
    for i, s in enumerate(stops):
        cid = courier_of.get(s.stop_id)
        if cid is None:
            continue
        rows.setdefault(cid, []).append(i)
        # Two stops on one spot (one door, two windows) give one cell: the first's courier.
        first_at.setdefault((round(float(xy_m[i, 0]), 3), round(float(xy_m[i, 1]), 3)), cid)
    ids = sorted(rows)
    if not ids:
        return gpd.GeoDataFrame({"courier_id": [], "stops": []}, geometry=[], crs=4326)
    points = np.array(list(first_at))
    owner = list(first_at.values())
    area = shapely.concave_hull(shapely.multipoints(points), ratio=0.4).buffer(_DISTRICT_MARGIN_M)
    # One cell per point, in their order (shapely >= 2.1), also for one or two points.
    cells = list(shapely.get_parts(shapely.voronoi_polygons(
        shapely.multipoints(points), extend_to=area, ordered=True)))
    shapes = []
    for cid in ids:
        mine = [cells[k] for k, o in enumerate(owner) if o == cid]
        shapes.append(shapely.intersection(shapely.union_all(mine), area) if mine
                      else shapely.Polygon())
    frame = gpd.GeoDataFrame({"courier_id": ids, "stops": [len(rows[c]) for c in ids]},
                             geometry=shapes, crs=crs_metric)
    return frame.to_crs(4326)
