"""Routes: one routing problem per district, solved in parallel processes or on a Dask cluster.

Each district is a :class:`DistrictTask` (its couriers and stops, and when it must be done);
:func:`route_districts` runs them all and returns one :class:`DistrictRoutes` per task, in task
order. A task builds its own travel matrices from the street graph (only its stops, never
all-pairs over the city), routes them with :func:`courier.routing.solve`, and keeps the street
paths of the same Dijkstra runs for the maps.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from courier import procs, routing, streets
from courier.config import DROP_PENALTY_S, RELOAD_S, LunchConfig
from courier.model import Courier, Snap, Stop, StreetGraph, Trip, Visit

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["WORK_SHARE", "DistrictRoutes", "DistrictTask", "RouteOptions", "budget_s",
           "iterations_for", "lanes_after", "matrices_of", "route_districts", "to_trip"]


@dataclass(frozen=True, slots=True)
class RouteOptions:
    """What every district's search shares: seed, limits and the station's rules."""

    seed: int = 0
    solution_limit: int | None = None
    reload_s: int = RELOAD_S
    drop_penalty_s: int = DROP_PENALTY_S
    lunch: LunchConfig = field(default_factory=LunchConfig)
    solver: str = "pyvrp"


@dataclass(frozen=True, slots=True)
class DistrictTask:
    """One district: the couriers who share it and its stops. Sent to a worker process.

    ``snap_profile`` names the graph the stops (and the station) were snapped to, and
    ``station_snap`` is the station's snap there: on that graph the matrices reuse the snaps
    instead of snapping every point again. ``queued_stops`` counts the stops of the districts
    queued behind this one in its lane (:func:`lanes_after`): a task takes its share of the
    time left when it starts, so time an earlier district did not use goes to the later ones
    (:func:`budget_s`). ``iterations`` bounds its search by work (:func:`iterations_for`);
    the time is then only a cap.
    """

    couriers: tuple[Courier, ...]
    stops: tuple[Stop, ...]
    station_lonlat: tuple[float, float]
    deadline_epoch_s: float
    options: RouteOptions = field(default_factory=RouteOptions)
    snap_profile: str = ""
    station_snap: Snap | None = None
    queued_stops: int = 0
    iterations: int | None = None


@dataclass(frozen=True, slots=True)
class DistrictRoutes:
    """A district's routes: trips, dropped stops with reasons, and what the matrices took."""

    trips: tuple[Trip, ...]
    drops: tuple[tuple[str, str], ...]  # stop_id, reason_code
    matrix_s: float
    breaks: tuple[tuple[str, int, int], ...] = ()  # courier_id, lunch start, end (s of day)
    warnings: tuple[str, ...] = ()
    objective: int = 0  # the search's, lunch included: comparable between seeds of one task
    cut: bool = False  # the time cap ended the search before its work bound


# The least search time a district gets, however late it starts: enough for a first solution
# of a small district, so a late district is routed rather than left without a solution.
_MIN_DISTRICT_SEARCH_S = 0.1

_GRAPHS: dict[str, StreetGraph] = {}


def _init_worker(graphs: Mapping[str, StreetGraph]) -> None:
    # The street graphs reach each worker once, here, not with every task.
    _GRAPHS.clear()
    _GRAPHS.update(graphs)


def slots_of(client: Client | None, workers: int) -> int:
    """Return how many districts can be solved at once: the cluster's threads, or ``workers``."""
    if client is not None:
        return max(1, sum(client.nthreads().values()))
    return max(1, workers)


def route_districts(tasks: Sequence[DistrictTask], graphs: Mapping[str, StreetGraph],
                    workers: int, *, client: Client | None = None,
                    on_done: Callable[[int, int], None] | None = None) -> list[DistrictRoutes]:
    """Route every task, ``workers`` at a time (or on ``client``'s cluster); task order kept.

    ``on_done(done, total)`` is called as tasks finish (for a progress display).
    """
    done = [0]

    def finished(*_: Any) -> None:
        done[0] += 1
        if on_done is not None:
            on_done(done[0], len(tasks))

    if client is not None:
        from courier.cluster import map_shared

        return map_shared(client, _route_with, dict(graphs), tasks, on_result=finished)
    if workers <= 1 or len(tasks) <= 1:
        out = []
        for t in tasks:
            out.append(route_district(t, graphs))
            finished()
        return out
    # forkserver: workers start clean (no inherited threads) and receive the graphs once.
    ctx = procs.forkserver()
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(dict(graphs),)) as pool:
        # Submitted in order, so the first free worker takes the next task, as lanes_after
        # assumes.
        futures = [pool.submit(_route_here, t) for t in tasks]
        for future in futures:
            future.add_done_callback(finished)
        return [f.result() for f in futures]


def _route_with(graphs: Mapping[str, StreetGraph], task: DistrictTask) -> DistrictRoutes:
    """Route one district with the graphs given (on a Dask worker: resolved from a scatter)."""
    return route_district(task, graphs)


def _route_here(task: DistrictTask) -> DistrictRoutes:
    """Route one district with the graphs this worker process received at start-up."""
    return route_district(task, _GRAPHS)


def lanes_after(sizes: Sequence[int], lanes: int) -> list[int]:
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


def budget_s(task: DistrictTask, now_epoch_s: float) -> float:
    """Return the seconds this district may take (matrices and search), decided when it starts.

    Its share of the time left to the deadline, in proportion to its stops against the stops
    queued behind it in its lane. The share is taken from the clock, not fixed up front: a
    district that finishes early leaves its time to those after it.
    """
    left = task.deadline_epoch_s - now_epoch_s
    mine = max(len(task.stops), 1)
    return left * mine / (mine + task.queued_stops)


# The work budget (PlanConfig.budget "work"): what one core of the reference machine (the
# 2-core CI box) does in WORK_SHARE of a search's time, so a search normally ends well inside
# its time cap and the cap only catches a slow or busy machine. PyVRP iterations per second
# against stops, counted in the stopping criterion of 12 s solves (one core, pinned with
# taskset) of the stops nearest the station on the synthetic Nanshan-Futian 20k day:
# 100 stops 379/s, 200: 236-252/s, 400 (3 couriers): 84-128/s, 800 (6): 71-76/s,
# 1600 (12): 61/s; PyVRP's set-up before the first iteration grows with the square of the
# stops: 0.9 s at 800, 3.6 s at 1600. The model below is at or under those rates (400 stops:
# 102/s against 84-128/s measured); WORK_SHARE is the margin.
WORK_SHARE = 0.5
_ITERATIONS_PER_S_NUMERATOR = 25_000  # iterations/s = this / stops + _ITERATIONS_PER_S_FLOOR
_ITERATIONS_PER_S_FLOOR = 40
_ITERATIONS_PER_S_MAX = 400
_SETUP_S_PER_STOP2 = 1.4e-6
# Even a district started past its time gets this much search: a first solution improved.
_MIN_ITERATIONS = 50


def iterations_for(stops: int, seconds: float) -> int:
    """Return the search iterations (PyVRP's unit of work) for ``stops`` in ``seconds`` of the
    reference core, at :data:`WORK_SHARE` of its speed: the same numbers give the same budget
    on every machine, so the search does the same work everywhere."""
    n = max(stops, 1)
    rate = min(_ITERATIONS_PER_S_MAX, _ITERATIONS_PER_S_NUMERATOR / n + _ITERATIONS_PER_S_FLOOR)
    useful_s = WORK_SHARE * seconds - _SETUP_S_PER_STOP2 * n * n
    return max(_MIN_ITERATIONS, int(useful_s * rate))


def matrices_of(task: DistrictTask, graphs: Mapping[str, StreetGraph], *,
                keep_paths: bool = True) -> dict[str, streets.TravelMatrix]:
    """Return the travel matrix of the station and the task's stops per vehicle profile."""
    matrices: dict[str, streets.TravelMatrix] = {}
    for profile in sorted({c.vehicle for c in task.couriers}):
        graph = graphs[profile]
        if profile == task.snap_profile and task.station_snap is not None:
            snaps: Sequence[Snap] = (task.station_snap, *(s.snap for s in task.stops))
        else:
            # Another vehicle's graph (a van may use roads a tricycle may not): snap again.
            lon = [task.station_lonlat[0], *(s.snap.lon for s in task.stops)]
            lat = [task.station_lonlat[1], *(s.snap.lat for s in task.stops)]
            snaps = streets.snap_points(graph, lon, lat)
        matrices[profile] = streets.travel_matrix(graph, snaps, keep_paths=keep_paths)
    return matrices


def route_district(task: DistrictTask, graphs: Mapping[str, StreetGraph]) -> DistrictRoutes:
    """Build the travel matrices of one district, route it, and turn the result into trips."""
    tick = time.perf_counter()
    share_s = budget_s(task, time.time())
    matrices = matrices_of(task, graphs)
    matrix_s = time.perf_counter() - tick
    opts = task.options
    problem = routing.problem_from_stops(
        task.stops, task.couriers,
        time_s={p: m.time_s for p, m in matrices.items()},
        distance_m={p: m.distance_m for p, m in matrices.items()},
        reload_s=opts.reload_s, drop_penalty_s=opts.drop_penalty_s, lunch=opts.lunch)
    # The share less the matrices' time, never past the plan's deadline.
    budget = max(_MIN_DISTRICT_SEARCH_S, min(share_s - matrix_s, task.deadline_epoch_s - time.time()))
    result = routing.solve(problem, time_limit_s=budget, seed=opts.seed,
                           solution_limit=opts.solution_limit, solver=opts.solver,
                           iterations=task.iterations)
    trips = [to_trip(problem, rt, task.stops, matrices) for rt in result.trips]
    drops = tuple((task.stops[d.node - 1].stop_id, d.reason_code) for d in result.drops)
    breaks = tuple((problem.vehicles[b.vehicle].courier_id, b.start_s, b.start_s + b.duration_s)
                   for b in result.breaks)
    return DistrictRoutes(trips=tuple(trips), drops=drops, matrix_s=matrix_s, breaks=breaks,
                          warnings=result.warnings, objective=result.objective, cut=result.cut)


def to_trip(problem: routing.RoutingProblem, rt: routing.RoutedTrip, stops: Sequence[Stop],
            matrices: Mapping[str, Any] | None) -> Trip:
    """Return a routed trip as the plan's Trip, with its path along the streets when the
    ``matrices`` (per profile, kept paths) are given."""
    vehicle = problem.vehicles[rt.vehicle]
    path: list[tuple[float, float]] = []
    if matrices is not None:
        matrix = matrices[vehicle.profile]
        for a, b in zip((0, *rt.nodes), (*rt.nodes, 0), strict=True):
            leg = matrix.path_lonlat(a, b)
            path.extend(leg[1:] if path else leg)
    visits = tuple(
        Visit(stop_id=stops[node - 1].stop_id, seq=k, arrival_s=rt.arrival_s[k - 1],
              start_s=rt.start_s[k - 1], departure_s=rt.departure_s[k - 1])
        for k, node in enumerate(rt.nodes, start=1)
    )
    served = [stops[node - 1] for node in rt.nodes]
    return Trip(
        courier_id=vehicle.courier_id, trip=rt.trip, depart_s=rt.depart_s,
        return_s=rt.return_s, visits=visits, distance_m=rt.distance_m,
        load_parcels=sum(s.delivery_parcels for s in served),
        load_kg=round(sum(s.delivery_kg for s in served), 3),
        load_l=round(sum(s.delivery_l for s in served), 3),
        path_lonlat=tuple(path),
    )
