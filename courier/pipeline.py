"""plan(): the stages in order, no I/O. Districts are solved in parallel processes, or on a Dask
cluster when a ``distributed.Client`` is given."""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from courier import districts as districting
from courier import streets
from courier.config import PlanConfig
from courier.coords import gcj02_to_wgs84
from courier.errors import InputError
from courier.model import (
    REASONS,
    Courier,
    Parcel,
    Plan,
    Reject,
    Snap,
    Station,
    Stop,
    StreetGraph,
    Trip,
    Unassigned,
    Visit,
)
from courier.parcels import Locker, SnappedParcel, build_stops
from courier.sortplan import sort_plan

if TYPE_CHECKING:
    from distributed import Client

log = logging.getLogger(__name__)

# Budget kept back from the user's time limit for assembling the plan after the solves.
_ASSEMBLY_RESERVE_S = 0.3


@dataclass(frozen=True, slots=True)
class _Task:
    """One district: the couriers who share it and its stops. Sent to a worker process."""

    couriers: tuple[Courier, ...]
    stops: tuple[Stop, ...]
    station_lonlat: tuple[float, float]
    deadline_epoch_s: float
    seed: int
    solution_limit: int | None
    reload_s: int
    drop_penalty_s: int
    # The graph the stops (and the station) were snapped to, and the station's snap there:
    # on that graph the matrices reuse the snaps instead of snapping every point again.
    snap_profile: str = ""
    station_snap: Snap | None = None
    lunch: tuple[int, int, int] = (0, 0, 0)  # the station's lunch: from, to (s of day), minutes
    solver: str = "ortools"
    # Stops of the districts queued behind this one in its lane (see ``_lanes_after``): a task
    # takes its share of the time left when it starts, so time an earlier district did not
    # use goes to the later ones (see ``_budget_s``).
    queued_stops: int = 0


@dataclass(frozen=True, slots=True)
class _Solved:
    trips: tuple[Trip, ...]
    drops: tuple[tuple[str, str], ...]  # stop_id, reason_code
    matrix_s: float
    solve_s: float
    breaks: tuple[tuple[str, int, int], ...] = ()  # courier_id, lunch start, end (s of day)


_GRAPHS: dict[str, StreetGraph] = {}


def _init_worker(graphs: dict[str, StreetGraph]) -> None:
    # The street graphs reach each worker once, here, not with every task.
    _GRAPHS.clear()
    _GRAPHS.update(graphs)


def plan(*, parcels: Sequence[Parcel], rejects: Sequence[Reject], couriers: Sequence[Courier],
         station_lonlat: tuple[float, float], graphs: Mapping[str, StreetGraph],
         config: PlanConfig, areas: Any = None, input_count: int | None = None,
         areas_file: str = "districts", client: Client | None = None,
         previous: Mapping[str, str] | None = None,
         lockers: Sequence[tuple[str, float, float, int, str]] = ()) -> Plan:
    """Plan the day: snap, merge stops, split into districts, route, sort.

    ``graphs`` holds one street graph per vehicle profile used by the roster; the e-tricycle's
    (or the first courier's) is the one parcels are snapped to. ``areas`` is an optional
    GeoDataFrame of district polygons with a ``courier_id`` column. The solves share what is
    left of ``config.time_limit_s`` after the earlier stages. ``previous`` (yesterday's
    assignment, {location key: courier}, see ``districts.previous_assignment``) keeps automatic
    districts in yesterday's areas as far as balance allows.

    With a Dask ``client`` the district solves go to its cluster (the street graphs are
    scattered to every worker once) instead of local processes; the plan is the same.
    ``lockers`` are (locker_id, lon, lat, capacity_parcels, name) rows. With
    ``config.coords == "gcj02"`` every input coordinate (parcels, station, lockers) is converted
    to WGS-84 first, and the plan is in WGS-84.
    """
    started = time.perf_counter()
    if config.coords == "gcj02":
        parcels, station_lonlat, lockers = _to_wgs84(parcels, station_lonlat, lockers)
    deadline = started + config.time_limit_s
    timings: dict[str, float] = {}
    primary = graphs[couriers[0].vehicle] if couriers[0].vehicle in graphs else next(iter(graphs.values()))
    rejects = list(rejects)
    unassigned: list[Unassigned] = []

    tick = time.perf_counter()
    station_snap = streets.snap_points(primary, [station_lonlat[0]], [station_lonlat[1]])[0]
    if station_snap.distance_m > config.max_snap_m:
        raise InputError(
            f"station {station_lonlat[0]:.6f},{station_lonlat[1]:.6f} is {station_snap.distance_m:.0f} m "
            f"from the nearest street of {primary.source}; allowed: within {config.max_snap_m:.0f} m"
        )
    snapped, late_rejects, unreachable = _snap_parcels(parcels, primary, config)
    rejects.extend(late_rejects)
    unassigned.extend(unreachable)
    max_load = (
        max(c.capacity_parcels for c in couriers),
        max(c.capacity_kg for c in couriers),
        max(c.capacity_l for c in couriers),
    )
    stops = build_stops(snapped, config=config, max_load=max_load,
                        lockers=_snap_lockers(lockers, primary, config))
    timings["snap_stops"] = time.perf_counter() - tick

    tick = time.perf_counter()
    lon = np.array([s.snap.lon for s in stops])
    lat = np.array([s.snap.lat for s in stops])
    x, y = streets.project(primary, lon, lat) if len(stops) else (np.zeros(0), np.zeros(0))
    xy = np.column_stack([x, y])
    sx, sy = streets.project(primary, [station_snap.lon], [station_snap.lat])
    station_xy = (float(sx[0]), float(sy[0]))
    if areas is not None:
        split = districting.fixed_districts(stops, couriers, areas=areas, xy_m=xy,
                                            crs_metric=primary.crs_metric,
                                            station_xy_m=station_xy, file=areas_file)
    else:
        # Automatic zones on the street graph the stops were snapped to; ``previous`` is
        # yesterday's {location key: courier} (districts.previous_assignment of its stops.csv).
        split = districting.auto_districts(
            stops, couriers, xy_m=xy, station_xy_m=station_xy, graph=primary,
            previous=previous, options=districting.DistrictOptions(seed=config.seed))
    timings["districts"] = time.perf_counter() - tick

    tick = time.perf_counter()
    by_courier: dict[str, list[Stop]] = {}
    for stop in stops:
        cid = split.courier_of.get(stop.stop_id)
        if cid is None:
            unassigned.extend(_unassign(stop, "no_courier"))
        else:
            by_courier.setdefault(cid, []).append(stop)
    roster = {c.courier_id: c for c in couriers}
    order = sorted(by_courier, key=lambda cid: (-len(by_courier[cid]), cid))
    slots = _cluster_threads(client) if client is not None else config.workers or os.cpu_count() or 1
    workers = max(1, min(slots, len(order)))
    remaining = max(0.2, deadline - time.perf_counter() - _ASSEMBLY_RESERVE_S)
    # Automatic districts keep a share of the time to even out the longest days afterwards.
    rebalance = areas is None and len(order) >= _REBALANCE_MIN_DISTRICTS
    first_s = remaining * (1 - _REBALANCE_SHARE) if rebalance else remaining
    queued = _lanes_after([len(by_courier[cid]) for cid in order], workers)
    tasks = [
        _Task(couriers=(roster[cid],), stops=tuple(by_courier[cid]),
              station_lonlat=(station_snap.lon, station_snap.lat),
              deadline_epoch_s=time.time() + first_s, seed=config.seed,
              solution_limit=config.solution_limit, reload_s=config.reload_s,
              drop_penalty_s=config.drop_penalty_s, snap_profile=primary.profile,
              station_snap=station_snap, lunch=(*config.lunch_window_s, config.lunch_min),
              solver=config.solver, queued_stops=queued[k])
        for k, cid in enumerate(order)
    ]
    solved = _run_tasks(tasks, dict(graphs), workers, client=client)
    matrix_s = sum(s.matrix_s for s in solved)
    if rebalance:
        xy_of = {stop.stop_id: (float(xy[i, 0]), float(xy[i, 1])) for i, stop in enumerate(stops)}
        tasks, solved, more_s = _rebalance(
            tasks, solved, xy_of, time.time() + max(0.0, deadline - time.perf_counter()
                                                    - _ASSEMBLY_RESERVE_S),
            graphs=dict(graphs), slots=slots, client=client)
        matrix_s += more_s
        split = replace(split, courier_of={**split.courier_of, **{
            stop.stop_id: task.couriers[0].courier_id for task in tasks for stop in task.stops}})
    timings["matrices"] = matrix_s
    timings["routing"] = time.perf_counter() - tick

    tick = time.perf_counter()
    stop_by_id = {s.stop_id: s for s in stops}
    trips = tuple(sorted((t for s in solved for t in s.trips), key=lambda t: (t.courier_id, t.trip)))
    for s in solved:
        for stop_id, code in s.drops:
            unassigned.extend(_unassign(stop_by_id[stop_id], code))
    parcel_by_id = {p.parcel_id: p for p in parcels}
    lines = sort_plan(trips, stop_by_id, parcel_by_id,
                      bag_capacity_parcels=config.bag_capacity_parcels)
    timings["sort_plan"] = time.perf_counter() - tick
    return Plan(
        station=Station(lon=station_snap.lon, lat=station_snap.lat),
        couriers=tuple(couriers),
        parcels=tuple(parcels),
        stops=stops,
        trips=trips,
        unassigned=tuple(sorted(unassigned, key=lambda u: u.parcel_id)),
        rejects=tuple(sorted(rejects, key=lambda r: r.row)),
        sort_lines=lines,
        districts=dict(split.courier_of),
        timings_s=timings,
        seed=config.seed,
        input_count=input_count if input_count is not None else len(parcels) + len(rejects),
        streets_source=primary.source,
        breaks={cid: (start, end) for s in solved for cid, start, end in s.breaks},
    )


def lunch_of(courier: Courier, station: tuple[int, int, int]) -> tuple[int, tuple[int, int]]:
    """Return a courier's lunch as (seconds, start window), (0, (0, 0)) for none.

    The courier's own lunch fields win over the station's. The window is cut to the shift
    (the lunch must end by the shift's end); a shift that cannot hold it (a half day) has none.
    """
    lo = courier.lunch_from_s if courier.lunch_from_s is not None else station[0]
    hi = courier.lunch_to_s if courier.lunch_to_s is not None else station[1]
    minutes = courier.lunch_min if courier.lunch_min is not None else station[2]
    dur_s = minutes * 60
    lo, hi = max(lo, courier.shift_start_s), min(hi, courier.shift_end_s - dur_s)
    if dur_s <= 0 or hi < lo:
        return 0, (0, 0)
    return dur_s, (lo, hi)


def _to_wgs84(parcels: Sequence[Parcel], station: tuple[float, float],
              lockers: Sequence[tuple[str, float, float, int, str]],
              ) -> tuple[list[Parcel], tuple[float, float], list[tuple[str, float, float, int, str]]]:
    """Convert GCJ-02 input (Chinese map apps) to WGS-84, the datum of OpenStreetMap."""
    lon, lat = gcj02_to_wgs84([p.lon for p in parcels] + [station[0]] + [lk[1] for lk in lockers],
                              [p.lat for p in parcels] + [station[1]] + [lk[2] for lk in lockers])
    n = len(parcels)
    moved = [replace(p, lon=float(lon[i]), lat=float(lat[i])) for i, p in enumerate(parcels)]
    moved_lockers = [(lk[0], float(lon[n + 1 + k]), float(lat[n + 1 + k]), lk[3], lk[4])
                     for k, lk in enumerate(lockers)]
    return moved, (float(lon[n]), float(lat[n])), moved_lockers


def _snap_lockers(lockers: Sequence[tuple[str, float, float, int, str]], graph: StreetGraph,
                  config: PlanConfig) -> list[Locker]:
    """Snap lockers to the streets; one farther than the snap limit is left out, with a warning."""
    if not lockers:
        return []
    snaps = streets.snap_points(graph, [lk[1] for lk in lockers], [lk[2] for lk in lockers])
    x, y = streets.project(graph, [s.lon for s in snaps], [s.lat for s in snaps])
    out = []
    for k, (lk, snap) in enumerate(zip(lockers, snaps, strict=True)):
        if snap.distance_m > config.max_snap_m:
            log.warning("locker %s is %.0f m from any street: not used", lk[0], snap.distance_m)
            continue
        out.append(Locker(locker_id=lk[0], lon=lk[1], lat=lk[2], snap=snap, x_m=float(x[k]),
                          y_m=float(y[k]), capacity_parcels=lk[3], name=lk[4]))
    return out


def _unassign(stop: Stop, code: str) -> list[Unassigned]:
    return [Unassigned(parcel_id=pid, stop_id=stop.stop_id, reason_code=code,
                       reason=REASONS[code]) for pid in stop.parcel_ids]


def _snap_parcels(parcels: Sequence[Parcel], graph: StreetGraph, config: PlanConfig,
                  ) -> tuple[list[SnappedParcel], list[Reject], list[Unassigned]]:
    """Snap parcels to the street graph; too far from a street -> reject; near a fragment -> unassigned."""
    if not parcels:
        return [], [], []
    lon = np.array([p.lon for p in parcels])
    lat = np.array([p.lat for p in parcels])
    snaps = streets.snap_points(graph, lon, lat)
    x, y = streets.project(graph, np.array([s.lon for s in snaps]), np.array([s.lat for s in snaps]))
    far = np.array([s.distance_m > config.max_snap_m for s in snaps])
    frag = np.full(len(parcels), np.inf)
    if far.any():
        frag[far] = streets.fragment_distance_m(graph, lon[far], lat[far])
    west, east = float(graph.node_lon.min()), float(graph.node_lon.max())
    south, north = float(graph.node_lat.min()), float(graph.node_lat.max())
    kept: list[SnappedParcel] = []
    rejects: list[Reject] = []
    unreachable: list[Unassigned] = []
    for i, (p, s) in enumerate(zip(parcels, snaps, strict=True)):
        if not far[i]:
            kept.append(SnappedParcel(parcel=p, snap=s, x_m=float(x[i]), y_m=float(y[i])))
        elif frag[i] <= config.max_snap_m:
            unreachable.append(Unassigned(parcel_id=p.parcel_id, stop_id="",
                                          reason_code="unreachable", reason=REASONS["unreachable"]))
        else:
            inside = west <= p.lon <= east and south <= p.lat <= north
            where = ("inside the street network's area" if inside else
                     f"outside the street network's area (lon {west:.5f}..{east:.5f}, "
                     f"lat {south:.5f}..{north:.5f})")
            rejects.append(Reject(
                row=p.row, parcel_id=p.parcel_id, field="lon;lat", value=f"{p.lon};{p.lat}",
                reason=f"{s.distance_m:.0f} m from the nearest street, {where}; allowed: "
                       f"within {config.max_snap_m:.0f} m of a street (check the coordinates "
                       f"and their datum: --coords gcj02 for Chinese map-app coordinates)",
            ))
    return kept, rejects, unreachable


def _cluster_threads(client: Client) -> int:
    return max(1, sum(client.nthreads().values()))


def _run_tasks(tasks: Sequence[_Task], graphs: dict[str, StreetGraph],
               workers: int, *, client: Client | None = None) -> list[_Solved]:
    if client is not None:
        return _run_on_dask(tasks, graphs, client)
    if workers <= 1 or len(tasks) <= 1:
        _init_worker(graphs)
        return [_solve_district(t) for t in tasks]
    # forkserver: workers start clean (no inherited threads) and receive the graphs once.
    ctx = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(graphs,)) as pool:
        return list(pool.map(_solve_district, tasks))


def _run_on_dask(tasks: Sequence[_Task], graphs: dict[str, StreetGraph],
                 client: Client) -> list[_Solved]:
    """Solve the districts on a Dask cluster; the graphs reach each worker once; task order kept."""
    from courier.cluster import map_shared

    return map_shared(client, _solve_district_with, graphs, tasks)


def _solve_district_with(graphs: Mapping[str, StreetGraph], task: _Task) -> _Solved:
    """Solve one district with the graphs given (on a Dask worker: resolved from a scatter)."""
    return _solve(task, graphs)


def _solve_district(task: _Task) -> _Solved:
    """Solve one district with the graphs this worker process received at start-up."""
    return _solve(task, _GRAPHS)


# Rebalancing: the share of the routing time kept for it, the day over the mean that makes a
# courier "long", the fewest districts worth it, and the rounds. The district split balances
# estimated work; routed days differ from it by windows and waiting (measured on a
# 20,000-parcel Shenzhen day: routed days 5.2-8.8 h for estimates within 6 %). One pair per two
# cores per round, longest first: with every long courier at once, each re-solve got ~3 s and
# dropped stops, so the pair was thrown away. Measured there at 240 s: balance 1.17 -> 1.11-1.14
# (three runs), the longest day 8.8-9.4 h -> 8.2-8.5 h.
_REBALANCE_SHARE = 0.2
_REBALANCE_OVER = 0.08
_REBALANCE_MIN_DISTRICTS = 4
_REBALANCE_ROUNDS = 3
# Less room than this (idle plus the part of the mean day not worked) is not worth a re-solve.
_REBALANCE_MIN_ROOM_S = 900


def _rebalance(tasks: Sequence[_Task], solved: Sequence[_Solved],
               xy_of: Mapping[str, tuple[float, float]], deadline_epoch_s: float, *,
               graphs: dict[str, StreetGraph], slots: int,
               client: Client | None) -> tuple[list[_Task], list[_Solved], float]:
    """Shorten the longest routed days, in ``_REBALANCE_ROUNDS`` rounds sharing the time left.

    Each round, the longest days over (1 + _REBALANCE_OVER) times the mean (one per two
    slots, so that each re-solve has a core for the whole round) hand stops to a district
    with room (of the three nearest, the most room; never a pair tried
    before): room is the part of the mean day it does not work plus the time it waits. Both
    are solved again; the pair keeps the new plans only if its longer day gets shorter and no
    more stops are dropped. The stops handed over are the long district's dropped ones first,
    then those nearest the other district's centre; as many as bring the long day down to the
    mean without filling more than the other's room, in proportion to stops:
    len(stops) x (day - mean) / day. Returns the tasks, their solutions, and the matrix
    seconds of the new solves.
    """
    out_tasks, out_solved = list(tasks), list(solved)
    tried: set[tuple[int, int]] = set()
    matrix_s = 0.0
    for round_no in range(_REBALANCE_ROUNDS):
        round_end = time.time() + (deadline_epoch_s - time.time()) / (_REBALANCE_ROUNDS - round_no)
        pairs = _pairs(out_tasks, out_solved, xy_of, tried)[:max(1, slots // 2)]
        if not pairs:
            break
        tried.update((o, r) for o, r, _, _ in pairs)
        sizes = [n for _, _, keep, gain in pairs for n in (len(keep), len(gain))]
        workers = max(1, min(slots, len(sizes)))
        queued = _lanes_after(sizes, workers)
        again = [replace(out_tasks[k], stops=tuple(part), deadline_epoch_s=round_end,
                         queued_stops=queued[2 * j + side])
                 for j, (o, r, keep, gain) in enumerate(pairs)
                 for side, (k, part) in enumerate(((o, keep), (r, gain)))]
        redone = _run_tasks(again, graphs, workers, client=client)
        matrix_s += sum(s.matrix_s for s in redone)
        for j, (o, r, _, _) in enumerate(pairs):
            new_o, new_r = redone[2 * j], redone[2 * j + 1]
            before = (max(_day_s(out_solved[o]), _day_s(out_solved[r])),
                      _dropped(out_solved[o]) + _dropped(out_solved[r]))
            after = max(_day_s(new_o), _day_s(new_r)), _dropped(new_o) + _dropped(new_r)
            log.info("rebalance %s -> %s: longer day %.2f -> %.2f h, dropped %d -> %d",
                     out_tasks[o].couriers[0].courier_id, out_tasks[r].couriers[0].courier_id,
                     before[0] / 3600, after[0] / 3600, before[1], after[1])
            if after[0] < before[0] and after[1] <= before[1]:
                out_tasks[o], out_tasks[r] = again[2 * j], again[2 * j + 1]
                out_solved[o], out_solved[r] = new_o, new_r
    return out_tasks, out_solved, matrix_s


def _pairs(tasks: Sequence[_Task], solved: Sequence[_Solved],
           xy_of: Mapping[str, tuple[float, float]],
           tried: set[tuple[int, int]]) -> list[tuple[int, int, list[Stop], list[Stop]]]:
    """Return (long district, receiver, its stops kept, the receiver's stops) for a round.

    A receiver has room for the part of the mean day it does not work plus the time it waits
    (for a window at a door, or at the station for the next trip): a courier out from 10:45
    to 19:00 for morning and evening windows, with two hours of waiting, can take stops
    without coming back later.
    """
    day = [_day_s(s) for s in solved]
    used = [d for d in day if d > 0]
    if len(used) < 2:
        return []
    mean = sum(used) / len(used)
    idle = [_idle_s(s, t.reload_s) for s, t in zip(solved, tasks, strict=True)]
    room = [max(0.0, mean - d) + w for d, w in zip(day, idle, strict=True)]
    centre = [_centre([xy_of[st.stop_id] for st in t.stops]) for t in tasks]
    short = {k for k in range(len(tasks)) if room[k] >= _REBALANCE_MIN_ROOM_S
             and day[k] <= (1 + _REBALANCE_OVER) * mean}
    pairs: list[tuple[int, int, list[Stop], list[Stop]]] = []
    for o in sorted(range(len(tasks)), key=lambda k: (-day[k], k)):
        if day[o] <= (1 + _REBALANCE_OVER) * mean:
            break
        near = sorted((k for k in short if (o, k) not in tried),
                      key=lambda k: (_dist2(centre[o], centre[k]), k))[:3]
        if not near:
            continue
        r = min(near, key=lambda k: (-room[k], _dist2(centre[o], centre[k]), k))
        short.discard(r)
        count = round(len(tasks[o].stops) * (day[o] - mean) / day[o])
        busy = day[r] - idle[r]
        if busy > 0:
            count = min(count, round(len(tasks[r].stops) * room[r] / busy))
        count = max(1, count)
        dropped = {sid for sid, code in solved[o].drops if code == "dropped"}
        # A stop whose windows lie outside the receiver's day would stretch it (one evening
        # stop keeps a courier who was back at 14:00 out until 18:00): those go last.
        receiver = tasks[r].couriers[0]
        hours = _hours_s(solved[r]) or (receiver.shift_start_s, receiver.shift_end_s)
        ranked = sorted(tasks[o].stops, key=lambda st: (
            st.stop_id not in dropped,
            bool(st.windows_s) and not any(a <= hours[1] and b >= hours[0]
                                           for a, b in st.windows_s),
            _dist2(xy_of[st.stop_id], centre[r])))
        moving = {st.stop_id for st in ranked[:count]}
        keep = [st for st in tasks[o].stops if st.stop_id not in moving]
        gain = [*tasks[r].stops, *(st for st in tasks[o].stops if st.stop_id in moving)]
        pairs.append((o, r, keep, gain))
    return pairs


def _idle_s(solved: _Solved, reload_s: int) -> int:
    """Time inside the routed day spent neither travelling, serving, reloading nor at lunch:
    waiting at doors for windows to open, and at the station beyond the reload."""
    lunches = [(start, end) for _, start, end in solved.breaks]

    def waiting(start: int, end: int) -> int:
        return max(0, end - start - sum(max(0, min(end, b) - max(start, a)) for a, b in lunches))

    trips = sorted(solved.trips, key=lambda t: t.depart_s)
    at_doors = sum(waiting(v.arrival_s, v.start_s) for t in trips for v in t.visits)
    at_station = sum(max(0, waiting(prev.return_s, nxt.depart_s) - reload_s)
                     for prev, nxt in itertools.pairwise(trips))
    return at_doors + at_station


def _hours_s(solved: _Solved) -> tuple[int, int] | None:
    """The courier's routed day (first departure, last return); None without trips."""
    if not solved.trips:
        return None
    return min(t.depart_s for t in solved.trips), max(t.return_s for t in solved.trips)


def _day_s(solved: _Solved) -> int:
    """The length of the courier's routed day (0 without trips)."""
    hours = _hours_s(solved)
    return hours[1] - hours[0] if hours else 0


def _dropped(solved: _Solved) -> int:
    return sum(1 for _, code in solved.drops if code == "dropped")


def _centre(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    if not points:
        return (0.0, 0.0)
    return (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))


def _dist2(a: tuple[float, float], b: tuple[float, float]) -> float:
    return (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2


def _lanes_after(sizes: Sequence[int], lanes: int) -> list[int]:
    """Return, per district (in run order), the stops of the districts after it in its lane.

    The districts are dealt to ``lanes`` parallel workers, each to the lane with the fewest
    stops so far, the way a pool hands the next task to the first worker free.
    """
    load = [0] * max(lanes, 1)
    lane_of = []
    for size in sizes:
        lane = min(range(len(load)), key=lambda j: (load[j], j))
        lane_of.append(lane)
        load[lane] += size
    after = [0] * len(sizes)
    seen = [0] * len(load)
    for k in range(len(sizes) - 1, -1, -1):
        after[k] = seen[lane_of[k]]
        seen[lane_of[k]] += sizes[k]
    return after


def _budget_s(task: _Task, now_epoch_s: float) -> float:
    """Return the seconds this district may take (matrices and search), decided when it starts.

    Its share of the time left to the deadline, in proportion to its stops against the stops
    queued behind it in its lane. The share is taken from the clock, not fixed up front: a
    district that finishes early leaves its time to those after it.
    """
    left = task.deadline_epoch_s - now_epoch_s
    mine = max(len(task.stops), 1)
    return left * mine / (mine + task.queued_stops)


def _solve(task: _Task, graphs: Mapping[str, StreetGraph]) -> _Solved:
    """Build the travel matrices of one district, route it, and turn the result into trips."""
    from courier import routing

    tick = time.perf_counter()
    share_s = _budget_s(task, time.time())
    profiles = sorted({c.vehicle for c in task.couriers})
    stops = task.stops
    times: dict[str, Any] = {}
    dists: dict[str, Any] = {}
    matrices: dict[str, streets.TravelMatrix] = {}
    for profile in profiles:
        graph = graphs[profile]
        if profile == task.snap_profile and task.station_snap is not None:
            snaps: Sequence[Snap] = (task.station_snap, *(s.snap for s in stops))
        else:
            # Another vehicle's graph (a van may use roads a tricycle may not): snap again.
            lon = [task.station_lonlat[0], *(s.snap.lon for s in stops)]
            lat = [task.station_lonlat[1], *(s.snap.lat for s in stops)]
            snaps = streets.snap_points(graph, lon, lat)
        matrix = streets.travel_matrix(graph, snaps, keep_paths=True)
        matrices[profile] = matrix
        times[profile] = matrix.time_s
        dists[profile] = matrix.distance_m
    matrix_s = time.perf_counter() - tick

    n = len(stops)
    delivery = np.zeros((n + 1, 3), dtype=np.int64)
    pickup = np.zeros((n + 1, 3), dtype=np.int64)
    for i, s in enumerate(stops, start=1):
        # Integer units right before OR-Tools: parcels, grams, millilitres.
        delivery[i] = (s.delivery_parcels, round(s.delivery_kg * 1000), round(s.delivery_l * 1000))
        pickup[i] = (s.pickup_parcels, round(s.pickup_kg * 1000), round(s.pickup_l * 1000))
    lunch = {c.courier_id: lunch_of(c, task.lunch) for c in task.couriers}
    problem = routing.RoutingProblem(
        stop_ids=tuple(s.stop_id for s in stops),
        service_s=np.array([0, *(s.service_s for s in stops)], dtype=np.int64),
        windows_s=((), *(s.windows_s for s in stops)),
        delivery=delivery,
        pickup=pickup,
        priority=np.array([False, *(s.priority for s in stops)]),
        vehicles=tuple(
            routing.Vehicle(
                courier_id=c.courier_id, profile=c.vehicle,
                capacity=(c.capacity_parcels, round(c.capacity_kg * 1000),
                          round(c.capacity_l * 1000)),
                shift_start_s=c.shift_start_s, shift_end_s=c.shift_end_s, max_trips=c.max_trips,
                break_s=lunch[c.courier_id][0], break_window_s=lunch[c.courier_id][1],
            ) for c in task.couriers
        ),
        time_s=times,
        distance_m=dists,
        reload_s=task.reload_s,
        drop_penalty=task.drop_penalty_s,
    )
    # The share less the matrices' time, never past the plan's deadline.
    budget = max(0.1, min(share_s - matrix_s, task.deadline_epoch_s - time.time()))
    result = routing.solve(problem, time_limit_s=budget, seed=task.seed,
                           solution_limit=task.solution_limit, solver=task.solver)
    trips = []
    for rt in result.trips:
        vehicle = problem.vehicles[rt.vehicle]
        matrix = matrices[vehicle.profile]
        path: list[tuple[float, float]] = []
        for a, b in zip((0, *rt.nodes), (*rt.nodes, 0), strict=True):
            leg = matrix.path_lonlat(a, b)
            path.extend(leg[1:] if path else leg)
        visits = tuple(
            Visit(stop_id=stops[node - 1].stop_id, seq=k, arrival_s=rt.arrival_s[k - 1],
                  start_s=rt.start_s[k - 1], departure_s=rt.departure_s[k - 1])
            for k, node in enumerate(rt.nodes, start=1)
        )
        served = [stops[node - 1] for node in rt.nodes]
        trips.append(Trip(
            courier_id=vehicle.courier_id, trip=rt.trip, depart_s=rt.depart_s,
            return_s=rt.return_s, visits=visits, distance_m=rt.distance_m,
            load_parcels=sum(s.delivery_parcels for s in served),
            load_kg=round(sum(s.delivery_kg for s in served), 3),
            load_l=round(sum(s.delivery_l for s in served), 3),
            path_lonlat=tuple(path),
        ))
    drops = tuple((stops[d.node - 1].stop_id, d.reason_code) for d in result.drops)
    breaks = tuple((problem.vehicles[b.vehicle].courier_id, b.start_s, b.start_s + b.duration_s)
                   for b in result.breaks)
    return _Solved(trips=tuple(trips), drops=drops, matrix_s=matrix_s, solve_s=result.solve_s,
                   breaks=breaks)
