"""plan(): the stages of a plan in order, no I/O.

snap to streets -> stops -> districts -> routes (one problem per district, in parallel
processes or on a Dask cluster) -> rebalance (automatic districts) -> sort plan. Each stage is
a function of what the one before handed on; the result is a frozen :class:`DayPlan`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from courier import districts as districting
from courier import streets
from courier.config import Budget, Coords, PlanConfig, Strategy
from courier.coords import gcj02_to_wgs84
from courier.coords import to_wgs84 as coords_to_wgs84
from courier.errors import InputError
from courier.model import (
    REASONS,
    Day,
    DayPlan,
    Parcel,
    Reject,
    SearchWork,
    Snap,
    Station,
    Stop,
    StreetGraph,
    Unassigned,
)
from courier.parcels import SnappedLocker, SnappedParcel, build_stops
from courier.rebalance import Effort, rebalance
from courier.repair import Repaired, Where, repair
from courier.routes import (
    DistrictRoutes,
    DistrictTask,
    RouteOptions,
    iterations_for,
    lanes_after,
    route_districts,
    slots_of,
)
from courier.sortplan import sort_plan

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["Snapped", "plan", "primary_graph", "snap", "to_wgs84"]

log = logging.getLogger(__name__)

# Budget kept back from the user's time limit for assembling the plan after the solves.
_ASSEMBLY_RESERVE_S = 0.3
# The least time the district solves get, however long the stages before them took.
_MIN_ROUTING_S = 0.2
# Share of the routing time kept for trying left-out stops in other couriers' days; every
# courier of a roster up to _REPAIR_ALL_UP_TO is tried, else the _REPAIR_NEAREST nearest.
_REPAIR_SHARE = 0.08
_REPAIR_ALL_UP_TO = 10
_REPAIR_NEAREST = 3
# What a search leaves out for want of room or time; the pre-checks' reasons are final.
_REPAIRABLE = frozenset({"dropped", "no_solution"})
# Cores a work budget is sized for when --workers is not given: the plan must not depend on
# the machine (or the Dask cluster) it runs on, so neither may its amount of work.
_WORK_LANES = 2


def _work_lanes(config: PlanConfig) -> int:
    """Return the cores the work budget is sized for: ``config.workers``, else _WORK_LANES."""
    return config.workers or _WORK_LANES


def _by_work(config: PlanConfig) -> bool:
    """Whether the searches get a work budget sized to the day (a --solution-limit given by
    hand fixes the work instead)."""
    return config.budget == Budget.WORK and config.solution_limit is None


def _fixed_work(config: PlanConfig) -> bool:
    """Whether the work is fixed, by the budget or by a --solution-limit: then how many
    searches run at once must not depend on the machine either."""
    return config.budget == Budget.WORK or config.solution_limit is not None


def _search_slots(config: PlanConfig, client: Client | None) -> int:
    """Return how many searches run side by side: the budget's cores under fixed work, else
    the cluster's threads or this machine's cores (``config.workers``, 0 = all)."""
    if _fixed_work(config):
        return _work_lanes(config)
    return slots_of(client, config.workers or os.cpu_count() or 1)


def _search_s(config: PlanConfig) -> float:
    """Return the nominal seconds of the searches: the time limit less the repair's share."""
    return config.time_limit_s * (1 - _REPAIR_SHARE)


@dataclass(frozen=True, slots=True)
class Snapped:
    """The snap stage's output: the station's snap, the day's stops, and what fell out."""

    station: Snap
    stops: tuple[Stop, ...]
    rejects: tuple[Reject, ...]
    unassigned: tuple[Unassigned, ...]
    warnings: tuple[str, ...]
    profile: str = ""  # of the graph they were snapped on


def primary_graph(graphs: Mapping[str, StreetGraph], day: Day) -> StreetGraph:
    """Return the graph parcels are snapped to: the first courier's vehicle's, else any."""
    first = day.couriers[0].vehicle if day.couriers else ""
    return graphs[first] if first in graphs else next(iter(graphs.values()))


# A progress display: (what is being done, how much of it is done, of how much; 0, 0 when
# that cannot be counted).
Progress = Callable[[str, int, int], None]


def _quiet(stage: str, done: int, total: int) -> None:
    """No progress display."""


def plan(day: Day, graphs: Mapping[str, StreetGraph], config: PlanConfig, *,
         client: Client | None = None, progress: Progress = _quiet) -> DayPlan:
    """Plan the day: snap, merge stops, split into districts, route, sort.

    ``graphs`` holds one street graph per vehicle profile used by the roster; the first
    courier's is the one parcels are snapped to. The solves share what is left of
    ``config.time_limit_s`` after the earlier stages. With ``day.previous`` (yesterday's
    assignment) automatic districts stay in yesterday's areas as far as balance allows; with
    ``day.districts`` (polygons) the station's own districts are used. With a Dask ``client``
    the district solves go to its cluster (the street graphs are scattered to every worker
    once) instead of local processes; the plan is the same. With ``config.coords == "gcj02"``
    every input coordinate (parcels, station, lockers) is converted to WGS-84 first, and the
    plan is in WGS-84.
    """
    started = time.perf_counter()
    deadline = started + config.time_limit_s
    if config.coords == Coords.AUTO:
        _check_datum(day, primary_graph(graphs, day))
    # The searches end before the plan's deadline, leaving the repair its share.
    search_deadline = deadline - _REPAIR_SHARE * config.time_limit_s
    if config.coords in (Coords.GCJ02, Coords.BD09):
        day = to_wgs84(day, str(config.coords))
    primary = primary_graph(graphs, day)
    timings: dict[str, float] = {}

    tick = time.perf_counter()
    progress("snapping parcels to the streets", 0, 0)
    snapped = snap(day, primary, config)
    every_stop = snapped.stops
    snapped, over = _within_roster(snapped, day)
    timings["snap_stops"] = time.perf_counter() - tick

    tick = time.perf_counter()
    xy = _project(primary, snapped.stops)
    station_xy = tuple(float(v[0]) for v in streets.project(
        primary, [snapped.station.lon], [snapped.station.lat]))
    joint = strategy_of(day, len(snapped.stops), config) == Strategy.JOINT
    progress("splitting the day into districts" if not joint else "one joint problem", 0, 0)
    if joint:
        # One problem over every courier: who serves which stop is the search's to decide.
        split = districting.Districting(courier_of={}, method="joint")
    elif day.districts is not None:
        split = districting.fixed_districts(snapped.stops, day.couriers, areas=day.districts,
                                            xy_m=xy, crs_metric=primary.crs_metric,
                                            station_xy_m=(station_xy[0], station_xy[1]),
                                            file=day.districts_source)
    else:
        # Automatic zones on the street graph the stops were snapped to.
        split = districting.auto_districts(
            snapped.stops, day.couriers, xy_m=xy, station_xy_m=(station_xy[0], station_xy[1]),
            graph=primary, previous=day.previous, options=config.auto_districts, seed=config.seed)
    timings["districts"] = time.perf_counter() - tick

    tick = time.perf_counter()
    unassigned = list(snapped.unassigned)
    if joint:
        tasks, solved, searched, matrix_s = _route_joint(day, snapped, graphs, config,
                                                         deadline=search_deadline,
                                                         client=client, progress=progress)
        split = replace(split, courier_of={v.stop_id: t.courier_id for s in solved
                                           for t in s.trips for v in t.visits})
    else:
        by_courier: dict[str, list[Stop]] = {}
        for stop in snapped.stops:
            cid = split.courier_of.get(stop.stop_id)
            if cid is None:
                unassigned.extend(_unassign(stop, "no_courier"))
            else:
                by_courier.setdefault(cid, []).append(stop)
        tasks, solved, searched, matrix_s = _route(day, by_courier, snapped, graphs,
                                                   config, deadline=search_deadline,
                                                   client=client, progress=progress)
    if not joint and day.districts is None and len(tasks) >= config.rebalance.min_districts:
        xy_of = {stop.stop_id: (float(xy[i, 0]), float(xy[i, 1]))
                 for i, stop in enumerate(snapped.stops)}
        left = max(0.0, search_deadline - time.perf_counter() - _ASSEMBLY_RESERVE_S)
        progress("evening out the longest days", 0, 0)
        round_work_s = (config.rebalance.share * _search_s(config)
                        / max(config.rebalance.rounds, 1)) if _by_work(config) else None
        effort = Effort(deadline_epoch_s=time.time() + left,
                        slots=_search_slots(config, client), round_work_s=round_work_s)
        evened = rebalance(tasks, solved, xy_of, effort, graphs=graphs, client=client,
                           config=config.rebalance)
        tasks, solved = evened.tasks, evened.solved
        matrix_s += evened.matrix_s
        # The re-solves count on top of the first searches, kept or not.
        searched = replace(searched, solves=searched.solves + evened.resolves,
                           cut=searched.cut + evened.cut,
                           iterations=searched.iterations + evened.iterations)
        split = replace(split, courier_of={**split.courier_of, **{
            stop.stop_id: task.couriers[0].courier_id for task in tasks for stop in task.stops}})
    timings["matrices"] = matrix_s
    timings["routing"] = time.perf_counter() - tick

    tick = time.perf_counter()
    stop_by_id = {s.stop_id: s for s in every_stop}
    progress("trying left-out stops in other couriers' days", 0, 0)
    fixed = _repaired(day, solved, stop_by_id, snapped.station, primary, graphs, config,
                      deadline=deadline)
    timings["repair"] = time.perf_counter() - tick

    tick = time.perf_counter()
    trips = tuple(sorted(fixed.trips, key=lambda t: (t.courier_id, t.trip)))
    taken, tried = set(fixed.inserted), set(fixed.tried)
    for s in solved:
        for stop_id, code in s.drops:
            if stop_id in taken:
                continue
            # "dropped" is a true reason only for a stop the repair tried everywhere near.
            late = code == "dropped" and stop_id not in tried
            unassigned.extend(_unassign(stop_by_id[stop_id], "out_of_time" if late else code))
    split = replace(split, courier_of={**split.courier_of, **{
        v.stop_id: t.courier_id for t in trips for v in t.visits if v.stop_id in taken}})
    lines = sort_plan(trips, stop_by_id, {p.parcel_id: p for p in day.parcels},
                      bag_capacity_parcels=config.bag_capacity_parcels, chutes=config.chutes,
                      courier_order=[c.courier_id for c in day.couriers])
    timings["sort_plan"] = time.perf_counter() - tick
    unassigned.extend(u for stop in over for u in _unassign(stop, "no_courier"))
    searched = replace(searched, repair_cut=fixed.out_of_time)
    notes = [*snapped.warnings, *split.notes, *_outside_warning(split.outside, day.districts_source),
             *(w for s in solved for w in s.warnings), *_cut_warning(searched)]
    return DayPlan(
        station=Station(lon=snapped.station.lon, lat=snapped.station.lat),
        couriers=tuple(day.couriers),
        parcels=tuple(day.parcels),
        stops=every_stop,
        trips=trips,
        unassigned=tuple(sorted(unassigned, key=lambda u: u.parcel_id)),
        rejects=tuple(sorted(snapped.rejects, key=lambda r: r.row)),
        sort_lines=lines,
        districts=dict(split.courier_of),
        timings_s=timings,
        seed=config.seed,
        input_count=day.rows,
        streets_source=primary.source,
        breaks=dict(fixed.breaks),
        warnings=tuple(notes),
        strategy="joint" if joint else "districts",
        repair_tried=len(fixed.tried),
        repair_inserted=len(fixed.inserted),
        search=searched,
    )


def _cut_warning(work: SearchWork) -> list[str]:
    """Say when the time limit cut a search bounded by work: a rerun may then differ."""
    if work.budget != Budget.WORK or work.repeatable:
        return []
    what = [f"{work.cut} of {work.solves} searches"] if work.cut else []
    what += ["the repair of left-out stops"] if work.repair_cut else []
    # A longer time limit would not help: the budget grows with it.
    return [f"the time limit cut {' and '.join(what)} before their planned work (this machine "
            f"is slower or busier than the one the work budget is sized for): a rerun may "
            f"give a different plan; --solution-limit N fixes the work by hand"]


def _repaired(day: Day, solved: Sequence[DistrictRoutes], stop_by_id: Mapping[str, Stop],
              station: Snap, primary: StreetGraph, graphs: Mapping[str, StreetGraph],
              config: PlanConfig, *, deadline: float) -> Repaired:
    """Try the stops the searches left out (``dropped``, ``no_solution``) in the nearest
    couriers' final days (:mod:`courier.repair`), in the time kept for it."""
    trips = [t for s in solved for t in s.trips]
    breaks = {cid: (start, end) for s in solved for cid, start, end in s.breaks}
    dropped = [stop_by_id[sid] for s in solved for sid, code in s.drops
               if code in _REPAIRABLE]
    if not dropped:
        return Repaired(trips=tuple(trips), breaks=breaks, inserted=(), tried=())
    nearest = len(day.couriers) if len(day.couriers) <= _REPAIR_ALL_UP_TO else _REPAIR_NEAREST
    fixed = repair(couriers=day.couriers, trips=trips, breaks=breaks, dropped=dropped,
                   stops=stop_by_id, where=Where(station, graphs, primary.profile, config),
                   deadline_s=deadline - _ASSEMBLY_RESERVE_S, nearest=nearest)
    log.info("repair: %d of %d left-out stops taken in (%d tried)", len(fixed.inserted),
             len(dropped), len(fixed.tried))
    return fixed


def strategy_of(day: Day, stops: int, config: PlanConfig) -> Strategy:
    """Return how the day is routed: the station's own districts always go district by
    district; ``auto`` is one joint problem up to ``config.joint_max_stops`` stops, unless
    yesterday's areas are to be kept (``day.previous``), which only districts do."""
    if day.districts is not None:
        return Strategy.DISTRICTS
    if config.strategy == Strategy.AUTO:
        small = stops <= config.joint_max_stops
        return Strategy.JOINT if small and not day.previous else Strategy.DISTRICTS
    return Strategy(config.strategy)


def _options(config: PlanConfig, seed_offset: int = 0) -> RouteOptions:
    return RouteOptions(seed=config.seed + seed_offset, solution_limit=config.solution_limit,
                        reload_s=config.reload_s, drop_penalty_s=config.drop_penalty_s,
                        lunch=config.lunch, solver=str(config.solver))


def _route_joint(day: Day, snapped: Snapped,
                 graphs: Mapping[str, StreetGraph], config: PlanConfig, *, deadline: float,
                 client: Client | None, progress: Progress = _quiet,
                 ) -> tuple[list[DistrictTask], list[DistrictRoutes], SearchWork, float]:
    """Route the whole day as one problem: as many seeded searches in parallel as there are
    cores (``config.workers``; worker processes, or tasks on a Dask cluster), the best kept
    (fewest stops left out, then the lowest objective, then the lowest seed). Local and Dask
    runs are the same searches, so they give the same plan under a work budget (as many seeds
    as the budget's cores, each with one core's work)."""
    # This machine's cores under a time budget, not a cluster's: the seeds are one problem.
    slots = _search_slots(config, None)
    remaining = max(_MIN_ROUTING_S, deadline - time.perf_counter() - _ASSEMBLY_RESERVE_S)
    iterations = (iterations_for(len(snapped.stops), _search_s(config)) if _by_work(config)
                  else None)
    tasks = [DistrictTask(couriers=tuple(day.couriers), stops=snapped.stops,
                          station_lonlat=(snapped.station.lon, snapped.station.lat),
                          deadline_epoch_s=time.time() + remaining, options=_options(config, k),
                          snap_profile=snapped.profile, station_snap=snapped.station,
                          iterations=iterations)
             for k in range(slots)]
    progress(f"searching {len(snapped.stops):,} stops x {len(day.couriers)} couriers, "
             f"{slots} seeds", 0, slots)
    solved = route_districts(tasks, graphs, slots, client=client, on_done=lambda d, n: progress(
        f"searching {len(snapped.stops):,} stops x {len(day.couriers)} couriers", d, n))
    best = min(range(slots), key=lambda k: (_dropped_parcels(tasks[k], solved[k]),
                                            solved[k].objective, k))
    # Every seed counts: one the clock cut might have won on a rerun.
    return [tasks[best]], [solved[best]], _searched(config, tasks, solved), sum(
        s.matrix_s for s in solved)


def _dropped_parcels(task: DistrictTask, routes: DistrictRoutes) -> int:
    size = {s.stop_id: len(s.parcel_ids) for s in task.stops}
    return sum(size[stop_id] for stop_id, _ in routes.drops)


def _route(day: Day, by_courier: Mapping[str, list[Stop]], snapped: Snapped,
           graphs: Mapping[str, StreetGraph], config: PlanConfig, *,
           deadline: float, client: Client | None, progress: Progress = _quiet,
           ) -> tuple[list[DistrictTask], list[DistrictRoutes], SearchWork, float]:
    """Route every district (largest first); return the tasks, their routes, the count of
    the searches (:func:`_searched`) and the matrix seconds. Automatic districts keep a
    share of the time to even out the longest days afterwards (:mod:`courier.rebalance`)."""
    roster = {c.courier_id: c for c in day.couriers}
    order = sorted(by_courier, key=lambda cid: (-len(by_courier[cid]), cid))
    workers = max(1, min(slots_of(client, config.workers or os.cpu_count() or 1), len(order)))
    remaining = max(_MIN_ROUTING_S, deadline - time.perf_counter() - _ASSEMBLY_RESERVE_S)
    rebalancing = day.districts is None and len(order) >= config.rebalance.min_districts
    first_s = remaining * (1 - config.rebalance.share) if rebalancing else remaining
    queued = lanes_after([len(by_courier[cid]) for cid in order], workers)
    options = _options(config)
    iterations = _district_iterations([len(by_courier[cid]) for cid in order], config,
                                      share=1 - config.rebalance.share if rebalancing else 1.0)
    tasks = [
        DistrictTask(couriers=(roster[cid],), stops=tuple(by_courier[cid]),
                     station_lonlat=(snapped.station.lon, snapped.station.lat),
                     deadline_epoch_s=time.time() + first_s, options=options,
                     snap_profile=snapped.profile, station_snap=snapped.station,
                     queued_stops=queued[k], iterations=iterations[k])
        for k, cid in enumerate(order)
    ]
    progress("routing the districts", 0, len(tasks))
    solved = route_districts(tasks, graphs, workers, client=client,
                             on_done=lambda d, n: progress("routing the districts", d, n))
    return tasks, solved, _searched(config, tasks, solved), sum(s.matrix_s for s in solved)


def _searched(config: PlanConfig, tasks: Sequence[DistrictTask],
              solved: Sequence[DistrictRoutes]) -> SearchWork:
    """Count the searches run: how many, how many the clock cut, and their planned work."""
    return SearchWork(budget=str(config.budget), solves=len(solved),
                      cut=sum(s.cut for s in solved),
                      iterations=sum(t.iterations or 0 for t in tasks))


def _district_iterations(sizes: Sequence[int], config: PlanConfig, *,
                         share: float) -> list[int | None]:
    """Return each district's work budget (None under a time budget): the budget's cores x
    ``share`` of the search seconds, split in proportion to stops, as iterations."""
    if not _by_work(config):
        return [None] * len(sizes)
    core_s = _work_lanes(config) * share * _search_s(config)
    total = max(sum(sizes), 1)
    return [iterations_for(n, core_s * n / total) for n in sizes]


def _project(graph: StreetGraph, stops: Sequence[Stop]) -> np.ndarray:
    if not stops:
        return np.zeros((0, 2))
    x, y = streets.project(graph, [s.snap.lon for s in stops], [s.snap.lat for s in stops])
    return np.column_stack([x, y])


def snap(day: Day, graph: StreetGraph, config: PlanConfig) -> Snapped:
    """Snap the station, the parcels and the lockers to the streets, and merge doors into stops."""
    station = streets.snap_points(graph, [day.station_lonlat[0]], [day.station_lonlat[1]])[0]
    if station.distance_m > config.max_snap_m:
        raise InputError(
            f"station {day.station_lonlat[0]:.6f},{day.station_lonlat[1]:.6f} is "
            f"{station.distance_m:.0f} m from the nearest street of {graph.source}; allowed: "
            f"within {config.max_snap_m:.0f} m"
        )
    snapped, late_rejects, unreachable = _snap_parcels(day.parcels, graph, config)
    lockers, notes = _snap_lockers(day, graph, config)
    couriers = day.couriers
    max_load = (
        max((c.capacity_parcels for c in couriers), default=1),
        max((c.capacity_kg for c in couriers), default=1.0),
        max((c.capacity_l for c in couriers), default=1.0),
    )
    stops = build_stops(snapped, config=config, max_load=max_load, lockers=lockers)
    return Snapped(station=station, stops=stops, rejects=(*day.rejects, *late_rejects),
                    unassigned=tuple(unreachable), warnings=tuple(notes), profile=graph.profile)


def to_wgs84(day: Day, datum: str = "gcj02") -> Day:
    """Convert GCJ-02 (Amap, Tencent) or BD-09 (Baidu) input to WGS-84, OpenStreetMap's datum."""
    parcels, lockers, station = day.parcels, day.lockers, day.station_lonlat
    lon, lat = coords_to_wgs84(
        [p.lon for p in parcels] + [station[0]] + [lk.lon for lk in lockers],
        [p.lat for p in parcels] + [station[1]] + [lk.lat for lk in lockers], datum)
    n = len(parcels)
    return replace(
        day,
        parcels=tuple(replace(p, lon=float(lon[i]), lat=float(lat[i]))
                      for i, p in enumerate(parcels)),
        station_lonlat=(float(lon[n]), float(lat[n])),
        lockers=tuple(replace(lk, lon=float(lon[n + 1 + k]), lat=float(lat[n + 1 + k]))
                      for k, lk in enumerate(lockers)),
    )


# The datum check: the parcels fit GCJ-02 "markedly better" when their median distance to a
# street drops below this share after converting them, by at least _DATUM_GAIN_M. Measured on
# synthetic doors 5-40 m off the street: WGS-84 points gain nothing from converting (median 14
# -> 43 m on Futian, 12 -> 79 m on Huangpu), GCJ-02 points do (100 -> 14 m, 96 -> 12 m, 31 -> 15
# m on Nanshan's sparser streets).
_DATUM_SHARE = 0.6
_DATUM_GAIN_M = 10.0
_DATUM_SAMPLE = 500


def _within_roster(snapped: Snapped, day: Day) -> tuple[Snapped, list[Stop]]:
    """Keep the stops the roster can carry (parcels, kg and litres, times the trips) when the
    day is clearly more: priority stops first, then the nearest the station; say how far
    short the roster is, in the measure that binds. The rest are left out at once instead of
    after a long search. A stop too big for every vehicle is not counted: the pre-checks give
    it its true reason (too_big), and a bigger roster would not carry it either."""
    need = np.array([[s.delivery_parcels, s.delivery_kg, s.delivery_l] for s in snapped.stops]
                    ).reshape(-1, 3)
    one_trip = np.array([[c.capacity_parcels, c.capacity_kg, c.capacity_l]
                         for c in day.couriers]).reshape(-1, 3)
    have = (one_trip * np.array([[c.max_trips] for c in day.couriers]).reshape(-1, 1)).sum(axis=0)
    carried = np.all(need <= one_trip.max(axis=0, initial=0), axis=1)
    if not len(need) or bool(np.all(need[carried].sum(axis=0) <= have)):
        return snapped, []
    station = np.array([snapped.station.lon, snapped.station.lat])
    order = sorted(np.flatnonzero(carried).tolist(), key=lambda i: (
        not snapped.stops[i].priority,
        float(np.hypot(*(np.array([snapped.stops[i].snap.lon, snapped.stops[i].snap.lat])
                         - station))), i))
    keep, load = set(np.flatnonzero(~carried).tolist()), np.zeros(3)
    for i in order:
        if bool(np.all(load + need[i] <= have)):
            keep.add(i)
            load += need[i]
    total = need[carried].sum(axis=0)
    binds = int(np.argmax(total / np.maximum(have, 1e-9)))
    per_courier = have / max(len(day.couriers), 1)
    wanted = int(np.ceil(np.max(total / np.maximum(per_courier, 1e-9))))
    unit = ("parcels", "kg", "litres")[binds]
    note = (f"this roster carries at most {have[binds]:,.0f} {unit} "
            f"({len(day.couriers)} couriers x capacity x trips) and the day has "
            f"{total[binds]:,.0f}: about {wanted} couriers are needed. The stops nearest "
            f"the station are planned; {len(snapped.stops) - len(keep):,} stops are left out "
            "(no_courier)")
    log.warning(note)
    stops = tuple(s for i, s in enumerate(snapped.stops) if i in keep)
    over = [s for i, s in enumerate(snapped.stops) if i not in keep]
    return replace(snapped, stops=stops, warnings=(*snapped.warnings, note)), over


def _check_datum(day: Day, graph: StreetGraph) -> None:
    """Refuse input that looks like GCJ-02 given as WGS-84 (exit 2, naming --coords)."""
    if not day.parcels:
        return
    step = max(1, len(day.parcels) // _DATUM_SAMPLE)
    lon = np.array([p.lon for p in day.parcels[::step]])
    lat = np.array([p.lat for p in day.parcels[::step]])
    given = float(np.median([s.distance_m for s in streets.snap_points(graph, lon, lat)]))
    c_lon, c_lat = gcj02_to_wgs84(lon, lat)
    converted = float(np.median([s.distance_m for s in streets.snap_points(graph, c_lon, c_lat)]))
    if converted < _DATUM_SHARE * given and given - converted >= _DATUM_GAIN_M:
        raise InputError(
            f"the parcels' coordinates look like GCJ-02 (Amap, Tencent and most Chinese map "
            f"apps), not WGS-84: as given they lie a median {given:.0f} m from the nearest "
            f"street, converted from GCJ-02 {converted:.0f} m. Plan them with --coords gcj02 "
            "(or bd09 for Baidu); --coords wgs84 plans them as given")


def _snap_lockers(day: Day, graph: StreetGraph,
                  config: PlanConfig) -> tuple[list[SnappedLocker], list[str]]:
    """Snap lockers to the streets; one farther than the snap limit is left out, with a warning."""
    if not day.lockers:
        return [], []
    snaps = streets.snap_points(graph, [lk.lon for lk in day.lockers],
                                [lk.lat for lk in day.lockers])
    x, y = streets.project(graph, [s.lon for s in snaps], [s.lat for s in snaps])
    out: list[SnappedLocker] = []
    far: list[str] = []
    for k, (lk, snap) in enumerate(zip(day.lockers, snaps, strict=True)):
        if snap.distance_m > config.max_snap_m:
            far.append(f"{lk.locker_id} ({snap.distance_m:.0f} m)")
            continue
        out.append(SnappedLocker(locker=lk, snap=snap, x_m=float(x[k]), y_m=float(y[k])))
    notes = []
    if far:
        notes.append(f"{len(far)} locker(s) not used: farther than {config.max_snap_m:.0f} m "
                     f"from any street: {', '.join(far)}")
        log.warning(notes[-1])
    return out, notes


def _outside_warning(outside: Sequence[str], source: str) -> list[str]:
    if not outside:
        return []
    note = (f"{len(outside)} stop(s) lie outside every district of {source}: each went to the "
            f"nearest district (first: {', '.join(outside[:5])})")
    log.warning(note)
    return [note]


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


def empty_plan(day: Day, *, reason: str = "no_courier") -> DayPlan:
    """A day with nothing to route (no parcel, or no courier left): every parcel unassigned
    with ``reason``; a re-plan late in the day comes to this."""
    return DayPlan(
        station=Station(lon=day.station_lonlat[0], lat=day.station_lonlat[1]),
        couriers=tuple(day.couriers), parcels=tuple(day.parcels), stops=(), trips=(),
        unassigned=tuple(Unassigned(parcel_id=p.parcel_id, stop_id="", reason_code=reason,
                                    reason=REASONS[reason]) for p in day.parcels),
        rejects=tuple(sorted(day.rejects, key=lambda r: r.row)), sort_lines=(),
        input_count=day.rows)
