"""Vehicle routing with OR-Tools: the only module that imports ``ortools``.

The problem is array based (node 0 is the depot, nodes ``1..n`` are stops) so that the station
pipeline and the VRPLIB benchmark run the same engine. Times are integer seconds, distances
integer metres, loads integer parcels, grams and millilitres.

The model in one paragraph: every courier is one OR-Tools vehicle that may pass through up to
``max_trips - 1`` optional reload nodes (copies of the depot with ``reload_s`` of service where
its load returns to zero), so its trips are the pieces between reloads; a time
dimension per vehicle profile carries service + travel with waiting as slack and the windows
as cumul domains; one load dimension per non-empty capacity dimension carries
``pickup - delivery`` from a free start cumul (the load leaving the depot); every stop is in a
disjunction with a drop penalty, a priority stop with a penalty 100 times larger. Stops that no
vehicle can serve are found before the solver and get a reason code (:data:`courier.model.REASONS`).
A lunch break is not in the model: the routes are searched without it, on shifts shortened by
its length, and :func:`place_breaks` then puts it where it makes each courier's day shortest.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from courier.config import SOLVERS
from courier.model import REASONS

__all__ = [
    "PRIORITY_FACTOR",
    "SOLVERS",
    "Break",
    "Drop",
    "RoutedTrip",
    "RoutingProblem",
    "RoutingResult",
    "Vehicle",
    "check_feasible",
    "drop_penalty_of",
    "finish",
    "prechecks",
    "schedule_trips",
    "solve",
]

logger = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

PRIORITY_FACTOR = 100
# Time kept back from the search budget for extracting the result (the search limit is a wall
# clock limit on the search alone).
_EXTRACT_RESERVE_S = 0.05

_FIRST_SOLUTION = routing_enums_pb2.FirstSolutionStrategy
_METAHEURISTIC = routing_enums_pb2.LocalSearchMetaheuristic
_FIRST_SOLUTION_NAMES = (
    "auto",
    "PATH_CHEAPEST_ARC",
    "PARALLEL_CHEAPEST_INSERTION",
    "LOCAL_CHEAPEST_INSERTION",
    "GLOBAL_CHEAPEST_ARC",
    "SAVINGS",
    "CHRISTOFIDES",
    "AUTOMATIC",
)


@dataclass(frozen=True, slots=True)
class Vehicle:
    """One courier, who may do several trips from the depot.

    Parameters
    ----------
    courier_id
        Identifier carried through to the plan.
    profile
        Key into :attr:`RoutingProblem.time_s` and :attr:`RoutingProblem.distance_m`.
    capacity
        Parcels, grams, millilitres on board at any moment.
    shift_start_s, shift_end_s
        The courier leaves the depot no earlier and is back no later (seconds of the day).
    max_trips
        Trips the courier may do, with ``RoutingProblem.reload_s`` at the depot in between.
    fixed_cost
        Objective units added if the courier is used at all.
    break_s, break_window_s
        A lunch break of ``break_s`` seconds (0 = none) that starts inside ``break_window_s``:
        at the station, or on the way between two stops, never during a service.
    """

    courier_id: str
    profile: str
    capacity: tuple[int, int, int]
    shift_start_s: int
    shift_end_s: int
    max_trips: int = 1
    fixed_cost: int = 0
    break_s: int = 0
    break_window_s: tuple[int, int] = (0, 0)


@dataclass(frozen=True, eq=False)
class RoutingProblem:
    """One routing problem: node 0 is the depot (station), nodes ``1..n`` are the stops.

    Parameters
    ----------
    stop_ids
        Length ``n``; ``stop_ids[i - 1]`` names node ``i``.
    service_s
        Length ``n + 1`` service seconds per node, ``service_s[0] == 0``.
    windows_s
        Length ``n + 1``; per node the windows for the start of service, ``()`` = any time.
    delivery, pickup
        ``(n + 1, 3)`` parcels, grams, millilitres delivered (loaded at the depot) and picked up
        (carried back to the depot) at each node.
    priority
        Length ``n + 1``; a priority stop is served whenever it is possible at all.
    vehicles
        The couriers.
    time_s, distance_m
        Per profile ``(n + 1, n + 1)`` travel seconds (service not included) and metres.
    reload_s
        Seconds at the depot between two trips of one courier.
    drop_penalty
        Objective units for leaving out a non-priority stop.
    objective
        ``"time"`` minimises service + travel seconds, ``"distance"`` metres.
    unreachable
        Matrix entries at or above this mean there is no path.
    """

    stop_ids: tuple[str, ...]
    service_s: IntArray
    windows_s: tuple[tuple[tuple[int, int], ...], ...]
    delivery: IntArray
    pickup: IntArray
    priority: BoolArray
    vehicles: tuple[Vehicle, ...]
    time_s: Mapping[str, IntArray]
    distance_m: Mapping[str, IntArray]
    reload_s: int = 600
    drop_penalty: int = 86_400
    objective: Literal["time", "distance"] = "time"
    unreachable: int = int(np.iinfo(np.int64).max // 4)

    @property
    def n_stops(self) -> int:
        """Number of stops (nodes ``1..n``)."""
        return len(self.stop_ids)

    def validate(self) -> None:
        """Raise ``ValueError`` listing every inconsistency of shapes and values."""
        n1 = self.n_stops + 1
        problems: list[str] = []
        if np.shape(self.service_s) != (n1,):
            problems.append(f"service_s has shape {np.shape(self.service_s)}, expected ({n1},)")
        elif int(self.service_s[0]) != 0 or bool(np.any(np.asarray(self.service_s) < 0)):
            problems.append("service_s must be >= 0 with service_s[0] == 0")
        if len(self.windows_s) != n1:
            problems.append(f"windows_s has {len(self.windows_s)} entries, expected {n1}")
        else:
            for node, windows in enumerate(self.windows_s):
                if any(a > b for a, b in windows):
                    problems.append(f"node {node}: a window opens after it closes: {windows}")
        for name in ("delivery", "pickup"):
            arr = np.asarray(getattr(self, name))
            if arr.shape != (n1, 3):
                problems.append(f"{name} has shape {arr.shape}, expected ({n1}, 3)")
            elif bool(np.any(arr < 0)):
                problems.append(f"{name} must be >= 0")
        if np.shape(self.priority) != (n1,):
            problems.append(f"priority has shape {np.shape(self.priority)}, expected ({n1},)")
        for v, veh in enumerate(self.vehicles):
            if veh.profile not in self.time_s or veh.profile not in self.distance_m:
                problems.append(f"vehicle {v}: no time/distance matrix for {veh.profile!r}")
            if veh.max_trips < 1 or veh.shift_end_s < veh.shift_start_s:
                problems.append(f"vehicle {v}: needs max_trips >= 1 and shift_end >= start")
            if any(c < 0 for c in veh.capacity) or veh.fixed_cost < 0:
                problems.append(f"vehicle {v}: capacity and fixed_cost must be >= 0")
            lo, hi = veh.break_window_s
            if veh.break_s < 0 or (
                veh.break_s > 0
                and not (veh.shift_start_s <= lo <= hi and hi + veh.break_s <= veh.shift_end_s)
            ):
                problems.append(f"vehicle {v}: a break must fit in the shift, "
                                f"got {veh.break_s} s from {veh.break_window_s}")
        for name in ("time_s", "distance_m"):
            for profile, mat in getattr(self, name).items():
                if np.shape(mat) != (n1, n1):
                    problems.append(f"{name}[{profile!r}] has shape {np.shape(mat)}")
                elif bool(np.any(np.asarray(mat) < 0)):
                    problems.append(f"{name}[{profile!r}] has negative entries")
        if self.reload_s < 0 or self.drop_penalty < 0:
            problems.append("reload_s and drop_penalty must be >= 0")
        if self.objective not in ("time", "distance"):
            problems.append(f"objective must be 'time' or 'distance', got {self.objective!r}")
        if problems:
            raise ValueError("bad routing problem: " + "; ".join(problems))


@dataclass(frozen=True, slots=True)
class RoutedTrip:
    """One loop of one courier from the depot and back.

    ``nodes`` are stop nodes in visiting order (no depot); ``arrival_s``, ``start_s`` (start of
    service, inside a window) and ``departure_s`` are per node. ``load`` is the peak on board
    per dimension (parcels, grams, millilitres).
    """

    vehicle: int
    trip: int
    nodes: tuple[int, ...]
    arrival_s: tuple[int, ...]
    start_s: tuple[int, ...]
    departure_s: tuple[int, ...]
    depart_s: int
    return_s: int
    distance_m: int
    load: tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Drop:
    """A stop left out, with a key of :data:`courier.model.REASONS`."""

    node: int
    reason_code: str


@dataclass(frozen=True, slots=True)
class Break:
    """A courier's lunch break: ``duration_s`` from ``start_s``."""

    vehicle: int
    start_s: int
    duration_s: int


@dataclass(frozen=True, eq=False)
class RoutingResult:
    """Trips in (vehicle, trip) order, dropped stops in node order, and how the search went.

    ``breaks`` has one entry per vehicle with ``break_s > 0`` that has at least one trip.
    """

    trips: tuple[RoutedTrip, ...]
    drops: tuple[Drop, ...]
    objective: int
    solve_s: float
    status: str
    breaks: tuple[Break, ...] = ()


# --------------------------------------------------------------------------------------------
# Pre-checks


def drop_penalty_of(problem: RoutingProblem, node: int) -> int:
    """Objective units for leaving a stop out (a priority stop's is PRIORITY_FACTOR times more)."""
    factor = PRIORITY_FACTOR if bool(problem.priority[node]) else 1
    return int(problem.drop_penalty) * factor


def finish(problem: RoutingProblem, reasons: Mapping[int, str], active: Sequence[int],
           trips: Sequence[RoutedTrip], *, objective: int, status: str, t0: float,
           breaks: Sequence[Break] = (), unserved: str = "dropped") -> RoutingResult:
    """Return a backend's result: every active stop not on a trip gets the code ``unserved``.

    That is ``dropped`` (left out at a penalty) when the backend found a solution, and
    ``no_solution`` when it found none in its time: more time, not more couriers, helps then.
    """
    served = {node for trip in trips for node in trip.nodes}
    drops = dict(reasons)
    drops.update({node: unserved for node in active if node not in served and node not in drops})
    return RoutingResult(
        trips=tuple(trips),
        drops=tuple(Drop(node, drops[node]) for node in sorted(drops)),
        objective=objective,
        solve_s=time.perf_counter() - t0,
        status=status,
        breaks=tuple(breaks),
    )


def _earliest_start(windows: tuple[tuple[int, int], ...], arrival_s: int) -> int | None:
    """Return the earliest start of service at or after ``arrival_s``, None if all closed."""
    if not windows:
        return arrival_s
    starts = [max(a, arrival_s) for a, b in windows if b >= arrival_s]
    return min(starts) if starts else None


def prechecks(problem: RoutingProblem) -> tuple[dict[int, str], dict[int, list[int]]]:
    """Find the stops no vehicle can serve, and the vehicles that can serve each other stop.

    Each check narrows the candidate vehicles of a stop; the first check that leaves none
    gives the reason, so the reason is the most basic one (no path before no capacity before
    a closed window before a short shift). Vectorised over (vehicle, stop): a station has
    hundreds of couriers and thousands of stops.

    Returns
    -------
    reasons
        ``{node: reason_code}`` for stops removed before the solver.
    allowed
        ``{node: [vehicle, ...]}`` for the other stops (problem vehicle indices).
    """
    n1 = problem.n_stops + 1
    vehicles = problem.vehicles
    big = problem.unreachable
    never = np.iinfo(np.int64).max // 2  # "no start possible", safe to add a day to
    if not vehicles:
        return dict.fromkeys(range(1, n1), "shift_too_short"), {}
    out_s = np.stack([np.asarray(problem.time_s[v.profile], np.int64)[0] for v in vehicles])
    back_s = np.stack([np.asarray(problem.time_s[v.profile], np.int64)[:, 0] for v in vehicles])
    reach = (out_s < big) & (back_s < big)
    cap = np.asarray([v.capacity for v in vehicles], dtype=np.int64)  # (V, 3)
    delivery = np.asarray(problem.delivery, dtype=np.int64)
    pickup = np.asarray(problem.pickup, dtype=np.int64)
    if any(v.max_trips > 1 for v in vehicles):
        # With reloads a trip's deliveries and pickups share the capacity (see _build).
        fits = np.all((delivery + pickup)[None] <= cap[:, None], axis=2)
    else:
        fits = np.all(delivery[None] <= cap[:, None], axis=2) & np.all(
            pickup[None] <= cap[:, None], axis=2
        )
    shift_start = np.asarray([v.shift_start_s for v in vehicles], dtype=np.int64)[:, None]
    shift_end = np.asarray([v.shift_end_s for v in vehicles], dtype=np.int64)[:, None]
    arrival = np.where(reach, shift_start + np.where(reach, out_s, 0), never)
    start = arrival.copy()
    for node, windows in enumerate(problem.windows_s):
        if node == 0 or not windows:
            continue
        col = arrival[:, node]
        best = np.full_like(col, never)
        for a, b in windows:
            best = np.where((col <= b) & (col < never), np.minimum(best, np.maximum(col, a)), best)
        start[:, node] = best
    is_open = start < never
    service = np.asarray(problem.service_s, dtype=np.int64)[None]
    home = np.where(is_open & reach, start + service + np.where(reach, back_s, 0), never)
    long_enough = home <= shift_end
    reasons: dict[int, str] = {}
    allowed: dict[int, list[int]] = {}
    steps = (
        ("unreachable", reach),
        ("too_big", fits),
        ("window_closed", is_open),
        ("shift_too_short", long_enough),
    )
    for node in range(1, n1):
        mask = np.ones(len(vehicles), dtype=bool)
        for code, ok in steps:
            mask = mask & ok[:, node]
            if not mask.any():
                reasons[node] = code
                break
        else:
            allowed[node] = [int(v) for v in np.flatnonzero(mask)]
    return reasons, allowed


# --------------------------------------------------------------------------------------------
# Model


def _needs_time_dimension(problem: RoutingProblem, active: Sequence[int]) -> bool:
    """Return False when no time constraint can bind (plain CVRP), to keep the model small.

    Time binds if there are windows, several trips, or a shift shorter than the longest route
    imaginable (every active stop once, each left by its longest arc).
    """
    if any(problem.windows_s[i] for i in active) or problem.windows_s[0]:
        return True
    if any(v.max_trips > 1 or v.break_s for v in problem.vehicles):
        return True
    idx = np.asarray([0, *active])
    for veh in problem.vehicles:
        t = problem.time_s[veh.profile][np.ix_(idx, idx)]
        bound = int(problem.service_s[idx].sum()) + int(t.max(axis=1).sum())
        if bound > veh.shift_end_s - veh.shift_start_s:
            return True
    return False


def _sub_matrix(mat: IntArray, idx: IntArray, cap: int) -> list[list[int]]:
    """Return ``mat[idx][:, idx]`` clipped to ``cap`` as nested lists for OR-Tools."""
    sub = np.minimum(np.asarray(mat, dtype=np.int64)[np.ix_(idx, idx)], cap)
    return list(sub.tolist())


def _seeded_order(active: list[int], seed: int) -> list[int]:
    """Return the stops in model order: as given for seed 0, else a seeded permutation.

    OR-Tools routing has no random seed: its search is deterministic for a given model. The
    order of the nodes in the model only breaks ties, so a seed permutes it; a given seed always
    gives the same permutation, hence the same result under a solution limit.
    """
    if seed == 0:
        return list(active)
    rng = np.random.default_rng(seed)
    return [active[i] for i in rng.permutation(len(active))]


@dataclass(slots=True)
class _Model:
    routing: pywrapcp.RoutingModel
    manager: pywrapcp.RoutingIndexManager
    nodes: list[int]  # model node -> problem node (model node 0 = depot; reloads map to 0)
    reload_of: dict[int, int]  # model node of a reload -> problem vehicle
    time_dim: Any  # RoutingDimension or None


def _build(
    problem: RoutingProblem, active: list[int], allowed: dict[int, list[int]]
) -> _Model:
    """Build the OR-Tools model over the depot, the ``active`` stops and the reload visits.

    One OR-Tools vehicle per courier. A courier with ``max_trips`` > 1 gets ``max_trips - 1``
    optional "reload" nodes: copies of the depot that only they may visit, with ``reload_s`` of
    service, where their load goes back to zero. Trips are the pieces of the route between
    reloads. (Chaining one OR-Tools vehicle per trip with side constraints on the time cumuls
    was measured 500x slower to find a first solution with windows: 4.7 s against 0.009 s for
    58 stops, and it often left every stop out under a short budget.)
    """
    vehicles = problem.vehicles
    reload_of: dict[int, int] = {}
    nodes = [0, *active]
    for v, veh in enumerate(vehicles):
        for _ in range(max(veh.max_trips, 1) - 1):
            reload_of[len(nodes)] = v
            nodes.append(0)
    idx = np.asarray(nodes, dtype=np.int64)
    manager = pywrapcp.RoutingIndexManager(len(nodes), len(vehicles), 0)
    routing = pywrapcp.RoutingModel(manager)

    horizon = max(veh.shift_end_s for veh in vehicles)
    # An arc without a path costs more than any horizon, so it is never feasible in time, yet
    # stays far from int64 overflow when OR-Tools adds costs and penalties.
    no_path = max(horizon + 1, 1) * 4 + 1
    service = np.asarray(problem.service_s, dtype=np.int64)[idx]
    for m in reload_of:
        service[m] = problem.reload_s

    profiles = sorted({veh.profile for veh in vehicles})
    time_cb: dict[str, int] = {}
    cost_cb: dict[str, int] = {}
    for profile in profiles:
        travel = np.minimum(
            np.asarray(problem.time_s[profile], dtype=np.int64)[np.ix_(idx, idx)], no_path
        )
        # Service at the tail node is part of the arc: then the cumul at a node is the start
        # of service there and waiting is slack at the predecessor.
        transit = (travel + service[:, None]).tolist()
        time_cb[profile] = routing.RegisterTransitMatrix(transit)
        if problem.objective == "time":
            cost_cb[profile] = time_cb[profile]
        else:
            dist = _sub_matrix(problem.distance_m[profile], idx, no_path)
            cost_cb[profile] = routing.RegisterTransitMatrix(dist)

    for v, veh in enumerate(vehicles):
        routing.SetArcCostEvaluatorOfVehicle(cost_cb[veh.profile], v)
        if veh.fixed_cost:
            routing.SetFixedCostOfVehicle(int(veh.fixed_cost), v)

    # Time: one dimension, per-vehicle transit by profile; slack = waiting for a window.
    time_dim = None
    if reload_of or _needs_time_dimension(problem, active):
        routing.AddDimensionWithVehicleTransitAndCapacity(
            [time_cb[veh.profile] for veh in vehicles],
            horizon,
            [horizon] * len(vehicles),
            False,
            "time",
        )
        time_dim = routing.GetDimensionOrDie("time")
        if problem.objective == "time":
            # Waiting costs a courier's time too: without a span cost a trip may sit out the
            # day between a morning and an evening window instead of splitting into two trips
            # (measured on the demo: one trip of 35 stops spanning 10.6 h, 27 stops dropped).
            time_dim.SetSpanCostCoefficientForAllVehicles(1)
        for m, node in enumerate(nodes[1:], start=1):
            windows = sorted(problem.windows_s[node]) if m not in reload_of else []
            if not windows:
                continue
            cumul = time_dim.CumulVar(manager.NodeToIndex(m))
            cumul.SetRange(windows[0][0], max(b for _, b in windows))
            reach = windows[0][1]
            for a, b in windows[1:]:
                if a > reach + 1:
                    cumul.RemoveInterval(reach + 1, a - 1)
                reach = max(reach, b)
        for v, veh in enumerate(vehicles):
            lo, hi = _working_s(problem, veh)
            time_dim.CumulVar(routing.Start(v)).SetRange(lo, hi)
            time_dim.CumulVar(routing.End(v)).SetRange(lo, hi)

    # Loads: per dimension (parcels, grams, ml) with any non-zero demand.
    delivery = np.asarray(problem.delivery, dtype=np.int64)[idx]
    pickup = np.asarray(problem.pickup, dtype=np.int64)[idx]
    delivery[0] = 0
    pickup[0] = 0
    for m in reload_of:
        delivery[m] = 0
        pickup[m] = 0
    for d in range(3):
        caps = [int(veh.capacity[d]) for veh in vehicles]
        has_del = bool(delivery[:, d].any())
        has_pick = bool(pickup[:, d].any())
        if not (has_del or has_pick):
            continue
        if reload_of:
            # Load counted since the last reload, zeroed at a reload: a reload has a demand
            # of minus the capacity and the slack there (0 elsewhere) takes up the rest.
            # Deliveries and pickups of a trip add up, which is safe (the peak on board is
            # never more) and exact when a trip has only one kind.
            demand = delivery[:, d] + pickup[:, d]
            for m, v in reload_of.items():
                demand[m] = -caps[v]
            cb = routing.RegisterUnaryTransitVector(demand.tolist())
            routing.AddDimensionWithVehicleCapacity(cb, max(caps), caps, True, f"load{d}")
            load = routing.GetDimensionOrDie(f"load{d}")
            for m in range(1, len(nodes)):
                if m not in reload_of:
                    load.SlackVar(manager.NodeToIndex(m)).SetValue(0)
            for v in range(len(vehicles)):
                load.SlackVar(routing.Start(v)).SetValue(0)
            continue
        if not (has_del and has_pick):
            # Only one direction: a plain capacity dimension from zero is exact.
            demand_list = (delivery[:, d] if has_del else pickup[:, d]).tolist()
            cb = routing.RegisterUnaryTransitVector(demand_list)
            routing.AddDimensionWithVehicleCapacity(cb, 0, caps, True, f"load{d}")
            continue
        # Mixed, one trip per courier: on board = the start cumul (load leaving the depot)
        # plus pickup - delivery so far; cumul in [0, cap] keeps every point of the trip
        # within capacity. The start cumul must be the whole trip's delivery, taken from a
        # delivered-so-far dimension: without that the solver could "load" less than it
        # hands over.
        cb = routing.RegisterUnaryTransitVector((pickup[:, d] - delivery[:, d]).tolist())
        routing.AddDimensionWithVehicleCapacity(cb, 0, caps, False, f"load{d}")
        onboard = routing.GetDimensionOrDie(f"load{d}")
        cb_del = routing.RegisterUnaryTransitVector(delivery[:, d].tolist())
        routing.AddDimensionWithVehicleCapacity(cb_del, 0, caps, True, f"delivered{d}")
        delivered = routing.GetDimensionOrDie(f"delivered{d}")
        for v in range(len(vehicles)):
            routing.solver().Add(
                onboard.CumulVar(routing.Start(v)) == delivered.CumulVar(routing.End(v))
            )

    # Drops and allowed vehicles.
    for m in range(1, len(nodes)):
        index = manager.NodeToIndex(m)
        if m in reload_of:
            routing.AddDisjunction([index], 0)
            routing.VehicleVar(index).SetValues([-1, reload_of[m]])
            continue
        node = nodes[m]
        routing.AddDisjunction([index], drop_penalty_of(problem, node))
        vs = allowed[node]
        if len(vs) < len(vehicles):
            # SetAllowedVehiclesForIndex rejects every Python list in ortools 9.15 (its
            # absl::Span<const int> has no SWIG typemap); restricting the vehicle variable is
            # the same constraint (-1 = not performed, left to the disjunction).
            routing.VehicleVar(index).SetValues([-1, *vs])

    return _Model(routing, manager, nodes, reload_of, time_dim)


def _working_s(problem: RoutingProblem, veh: Vehicle) -> tuple[int, int]:
    """Return when the courier may leave and must be back: the shift cut to the depot's hours."""
    lo, hi = veh.shift_start_s, veh.shift_end_s
    if problem.windows_s[0]:
        lo = max(lo, min(a for a, _ in problem.windows_s[0]))
        hi = min(hi, max(b for _, b in problem.windows_s[0]))
    return lo, hi


def _search_parameters(
    problem: RoutingProblem,
    active: list[int],
    *,
    time_limit_s: float,
    solution_limit: int | None,
    first_solution: str,
) -> Any:
    """Return OR-Tools search parameters for the given budget and strategy."""
    params = pywrapcp.DefaultRoutingSearchParameters()
    if first_solution == "auto":
        has_windows = any(problem.windows_s[i] for i in active)
        multi_trip = any(v.max_trips > 1 for v in problem.vehicles)
        # Insertion builds feasible routes where windows and chained trips make arc-by-arc
        # extension fail; without them the cheapest arc is fast and good (measured on X).
        name = (
            "PARALLEL_CHEAPEST_INSERTION" if has_windows or multi_trip else "PATH_CHEAPEST_ARC"
        )
    else:
        name = first_solution
    params.first_solution_strategy = getattr(_FIRST_SOLUTION, name)
    params.local_search_metaheuristic = _METAHEURISTIC.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(max(1, int(time_limit_s * 1000)))
    if solution_limit is not None:
        params.solution_limit = int(solution_limit)
    return params


# --------------------------------------------------------------------------------------------
# Result


def _schedule(
    problem: RoutingProblem, vehicle: int, nodes: Sequence[int], depart_s: int
) -> tuple[list[int], list[int], list[int], int, int]:
    """Return arrival, start, departure per node, the depart and return time of one trip.

    The earliest schedule from ``depart_s``: start = the first window moment at or after the
    arrival. Then the depot departure moves later by the wait at the first stop, so the courier
    waits at the station rather than at the door; later times do not change.
    """
    veh = problem.vehicles[vehicle]
    t = problem.time_s[veh.profile]
    arrivals: list[int] = []
    starts: list[int] = []
    departures: list[int] = []
    now = depart_s
    prev = 0
    for node in nodes:
        arrival = now + int(t[prev, node])
        start = _earliest_start(problem.windows_s[node], arrival)
        if start is None:  # cannot happen for a solver route; keep the arrival
            start = arrival
        arrivals.append(arrival)
        starts.append(start)
        now = start + int(problem.service_s[node])
        departures.append(now)
        prev = node
    return_s = now + int(t[prev, 0])
    if nodes:
        late_depart = starts[0] - int(t[0, nodes[0]])
        if late_depart > depart_s:
            depart_s = late_depart
            arrivals[0] = starts[0]
    return arrivals, starts, departures, depart_s, return_s


def _trip_stats(
    problem: RoutingProblem, vehicle: int, nodes: Sequence[int]
) -> tuple[int, tuple[int, int, int]]:
    """Return the trip distance in metres and the peak on-board load per dimension."""
    d = problem.distance_m[problem.vehicles[vehicle].profile]
    path = [0, *nodes, 0]
    dist = sum(int(d[a, b]) for a, b in itertools.pairwise(path))
    delivery = np.asarray(problem.delivery, dtype=np.int64)
    pickup = np.asarray(problem.pickup, dtype=np.int64)
    on_board = delivery[list(nodes)].sum(axis=0) if nodes else np.zeros(3, np.int64)
    peak = on_board.copy()
    for node in nodes:
        on_board = on_board - delivery[node] + pickup[node]
        peak = np.maximum(peak, on_board)
    return dist, (int(peak[0]), int(peak[1]), int(peak[2]))


def _status_name(routing: pywrapcp.RoutingModel) -> str:
    try:
        return str(routing_enums_pb2.RoutingSearchStatus.Value.Name(routing.status()))
    except ValueError:
        return f"STATUS_{routing.status()}"


def solve(
    problem: RoutingProblem,
    *,
    time_limit_s: float,
    seed: int = 0,
    solution_limit: int | None = None,
    first_solution: str = "auto",
    workers: int = 1,
    solver: str = "ortools",
) -> RoutingResult:
    """Route the stops over the couriers' trips; return trips, drops with reasons, objective.

    Parameters
    ----------
    problem
        The problem; validated first (``ValueError`` on bad shapes).
    time_limit_s
        Wall-clock budget in seconds for the whole call, model building included.
    seed
        Permutes the stops in the model; OR-Tools routing has no random seed, so the seed only
        breaks ties. Seed 0 keeps the input order.
    solution_limit
        Stop after this many improving solutions. With it the result depends only on the input
        and the seed (byte for byte), provided the time limit is not reached first.
    first_solution
        ``"auto"`` (insertion with windows or several trips, otherwise cheapest arc) or the
        name of an OR-Tools ``FirstSolutionStrategy``.
    workers
        With more than one, that many searches run in separate processes with the seeds
        ``seed, seed + 1, ...`` (each permutes the model differently) and the best result
        wins, ties to the lowest seed. Processes, not threads: OR-Tools' search is
        single-threaded and its Python binding keeps the GIL (measured: two threads time out
        together). The pipeline keeps 1 here and runs districts in parallel instead.
    solver
        ``"ortools"`` (this module, every constraint) or ``"pyvrp"``
        (:mod:`courier.routing_pyvrp`: no lunch break; ``first_solution`` does not apply).

    Returns
    -------
    RoutingResult
        Trips renumbered ``1..`` per courier in time order; every stop not on a trip is in
        ``drops`` exactly once.
    """
    t0 = time.perf_counter()
    if time_limit_s <= 0:
        raise ValueError(f"time_limit_s must be > 0, got {time_limit_s}")
    if first_solution not in _FIRST_SOLUTION_NAMES:
        raise ValueError(f"first_solution must be one of {_FIRST_SOLUTION_NAMES}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    problem.validate()
    if any(veh.break_s for veh in problem.vehicles):
        # Route without breaks, then place them (see without_breaks and place_breaks).
        # Placing them is a few sweeps over each courier's stops: keep 2 % of the time for it.
        left_s = time_limit_s * 0.98 - (time.perf_counter() - t0)
        plain = solve(without_breaks(problem), time_limit_s=max(left_s, 0.01), seed=seed,
                      solution_limit=solution_limit, first_solution=first_solution,
                      workers=workers, solver=solver)
        return replace(place_breaks(problem, plain), solve_s=time.perf_counter() - t0)
    if solver == "pyvrp":
        from courier import routing_pyvrp  # imports this module: only when asked for

        if workers > 1:
            return _solve_parallel(problem, time_limit_s=time_limit_s, seed=seed,
                                   solution_limit=solution_limit, first_solution=first_solution,
                                   workers=workers, t0=t0, solver=solver)
        return routing_pyvrp.solve(problem, time_limit_s=time_limit_s, seed=seed,
                                   solution_limit=solution_limit)
    if workers > 1:
        return _solve_parallel(problem, time_limit_s=time_limit_s, seed=seed,
                               solution_limit=solution_limit, first_solution=first_solution,
                               workers=workers, t0=t0)
    return _solve_one(
        problem,
        deadline=t0 + time_limit_s,
        seed=seed,
        solution_limit=solution_limit,
        first_solution=first_solution,
        t0=t0,
    )


def _solve_seed(problem: RoutingProblem, deadline_wall_s: float, seed: int,
                solution_limit: int | None, first_solution: str,
                solver: str = "ortools") -> RoutingResult:
    # Deadlines cross processes as wall-clock time; each process turns it into its own clock.
    t0 = time.perf_counter()
    if solver == "pyvrp":
        from courier import routing_pyvrp

        return routing_pyvrp.solve(problem, time_limit_s=max(deadline_wall_s - time.time(), 0.05),
                                   seed=seed, solution_limit=solution_limit)
    return _solve_one(problem, deadline=t0 + max(deadline_wall_s - time.time(), 0.05),
                      seed=seed, solution_limit=solution_limit,
                      first_solution=first_solution, t0=t0)


def _solve_parallel(problem: RoutingProblem, *, time_limit_s: float, seed: int,
                    solution_limit: int | None, first_solution: str, workers: int,
                    t0: float, solver: str = "ortools") -> RoutingResult:
    """Run ``workers`` seeded searches in processes and return the best (lowest objective)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    deadline_wall = time.time() + time_limit_s - _EXTRACT_RESERVE_S
    ctx = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = [pool.submit(_solve_seed, problem, deadline_wall, seed + k, solution_limit,
                               first_solution, solver) for k in range(workers)]
        results = [f.result() for f in futures]
    # A search that found no solution reports objective 0 with every stop dropped: rank it last.
    best = min(range(workers), key=lambda k: (results[k].objective
                                              if results[k].trips or not problem.n_stops
                                              else np.iinfo(np.int64).max, k))
    chosen = results[best]
    return RoutingResult(trips=chosen.trips, drops=chosen.drops, objective=chosen.objective,
                         solve_s=time.perf_counter() - t0, status=chosen.status,
                         breaks=chosen.breaks)


def _solve_one(
    problem: RoutingProblem,
    *,
    deadline: float,
    seed: int,
    solution_limit: int | None,
    first_solution: str,
    t0: float,
) -> RoutingResult:
    """Pre-check, build, search and extract one solution."""
    reasons, allowed = prechecks(problem)
    active = _seeded_order(sorted(allowed), seed)
    trips: list[RoutedTrip] = []
    objective = 0
    status = "NO_STOPS"
    unserved = "dropped"
    if active and problem.vehicles:
        model = _build(problem, active, allowed)
        start = _first_solution(problem, active, model, deadline=deadline,
                                first_solution=first_solution)
        remaining = deadline - time.perf_counter() - _EXTRACT_RESERVE_S
        params = _search_parameters(
            problem,
            active,
            time_limit_s=max(remaining, 0.001),
            solution_limit=solution_limit,
            first_solution=first_solution,
        )
        if start is not None:
            solution = model.routing.SolveFromAssignmentWithParameters(start, params)
            solution = solution if solution is not None else start
        else:
            solution = model.routing.SolveWithParameters(params)
        status = _status_name(model.routing)
        if solution is None:
            logger.warning("routing found no solution in its time (%s); every stop is left out",
                           status)
            unserved = "no_solution"
        else:
            objective = int(solution.ObjectiveValue())
            trips = _extract(problem, model, solution)
    return finish(problem, reasons, active, trips, objective=objective, status=status, t0=t0,
                  unserved=unserved)


def _unperformed(model: _Model, solution: Any) -> int:
    """Count the stops (not the optional reloads) a solution leaves out."""
    routing, manager = model.routing, model.manager
    return sum(
        1 for m in range(1, len(model.nodes))
        if m not in model.reload_of
        and solution.Value(routing.NextVar(manager.NodeToIndex(m))) == manager.NodeToIndex(m)
    )


def _first_solution(problem: RoutingProblem, active: list[int], model: _Model, *,
                    deadline: float, first_solution: str) -> Any:
    """Return the best first solution of a few construction heuristics, or None.

    With time windows and chained trips, one heuristic can fail to insert anything (measured:
    parallel cheapest insertion left all 58 stops of a 3-trip courier unperformed, and guided
    local search never recovered), while another inserts them all. Each probe stops at its
    first solution, so this costs little; it stops at the first probe that leaves nothing out.
    """
    names = [first_solution] if first_solution != "auto" else []
    for name in ("auto", "LOCAL_CHEAPEST_INSERTION", "PATH_CHEAPEST_ARC",
                 "PARALLEL_CHEAPEST_INSERTION"):
        if name not in names:
            names.append(name)
    best, best_key = None, None
    for name in names:
        remaining = deadline - time.perf_counter() - _EXTRACT_RESERVE_S
        if remaining <= 0.05:
            break
        params = _search_parameters(problem, active, time_limit_s=remaining / 3,
                                    solution_limit=1, first_solution=name)
        params.local_search_metaheuristic = _METAHEURISTIC.GREEDY_DESCENT
        solution = model.routing.SolveWithParameters(params)
        if solution is None:
            continue
        key = (_unperformed(model, solution), solution.ObjectiveValue())
        if best_key is None or key < best_key:
            best, best_key = model.routing.solver().Assignment(solution), key
        if key[0] == 0:
            break
    return best


def _extract(problem: RoutingProblem, model: _Model, solution: Any) -> list[RoutedTrip]:
    """Turn the OR-Tools assignment into trips renumbered per courier in time order, each
    with the earliest schedule of its stops (:func:`schedule_trips`)."""
    routing, manager, time_dim = model.routing, model.manager, model.time_dim
    raw: list[tuple[int, int, list[int]]] = []  # (vehicle, depot departure, nodes)
    for v, veh in enumerate(problem.vehicles):
        index = routing.Start(v)
        depart = (int(solution.Min(time_dim.CumulVar(index))) if time_dim is not None
                  else veh.shift_start_s)
        nodes: list[int] = []
        index = solution.Value(routing.NextVar(index))
        while True:
            m = manager.IndexToNode(index)
            if routing.IsEnd(index) or m in model.reload_of:
                if nodes:
                    raw.append((v, depart, nodes))
                if routing.IsEnd(index):
                    break
                nodes = []
                # The next trip leaves after the reload; schedule_trips recomputes it.
                back = int(solution.Min(time_dim.CumulVar(index))) if time_dim is not None else 0
                depart = back + problem.reload_s if time_dim is not None else depart
            else:
                nodes.append(model.nodes[m])
            index = solution.Value(routing.NextVar(index))
    return schedule_trips(problem, raw)


def schedule_trips(problem: RoutingProblem,
                   raw: Sequence[tuple[int, int, Sequence[int]]]) -> list[RoutedTrip]:
    """Turn (vehicle, earliest depot departure, stop nodes) per trip into scheduled trips.

    Trips are renumbered per courier in time order and given the earliest schedule (see
    :func:`_schedule`); each backend only says which stops go in which trip, and when a trip
    may leave at the earliest.
    """
    raw = sorted(raw, key=lambda r: (r[0], r[1]))
    trips: list[RoutedTrip] = []
    trip_no: dict[int, int] = {}
    last_return: dict[int, int] = {}
    for v, depart, nodes in raw:
        trip_no[v] = trip_no.get(v, 0) + 1
        if v in last_return:
            # The solver keeps its trips reload_s apart; the recomputed (earliest) schedule
            # can only be earlier, so this max is a guard, not a change.
            depart = max(depart, last_return[v] + problem.reload_s)
        arrivals, starts, departures, depart_s, return_s = _schedule(problem, v, nodes, depart)
        last_return[v] = return_s
        dist, load = _trip_stats(problem, v, nodes)
        trips.append(
            RoutedTrip(
                vehicle=v,
                trip=trip_no[v],
                nodes=tuple(nodes),
                arrival_s=tuple(arrivals),
                start_s=tuple(starts),
                departure_s=tuple(departures),
                depart_s=depart_s,
                return_s=return_s,
                distance_m=dist,
                load=load,
            )
        )
    return trips


# --------------------------------------------------------------------------------------------
# Lunch placed after routing


def without_breaks(problem: RoutingProblem) -> RoutingProblem:
    """Return the problem with no breaks and each break's length taken off its shift's end.

    The search then runs on the plain model, which OR-Tools' construction heuristics fill fast
    (measured on 80-110-stop 3-trip districts with windows: under 0.05 s per heuristic without
    a break, 0.3-10 s with one, leaving 15-40 stops out under a 5 s budget). The shortened
    shift keeps room for the lunch that :func:`place_breaks` puts in afterwards.
    """
    return replace(problem, vehicles=tuple(
        replace(veh, break_s=0, break_window_s=(0, 0),
                shift_end_s=_working_s(problem, veh)[1] - veh.break_s) if veh.break_s else veh
        for veh in problem.vehicles))


def place_breaks(problem: RoutingProblem, result: RoutingResult) -> RoutingResult:
    """Give every courier with a break and a route in ``result`` (routed without breaks) its
    break where it makes their day shortest.

    Candidates: at the station before any trip or after the last, on the way out of any
    stop (or the station) when that moment is inside the break window, and at any door
    before the visit (waiting there for the window to open if need be). Each candidate is
    the earliest schedule of the same stops in the same order with the break at that point;
    it stands if every visit still starts inside a window and every trip is back by the end
    of the shift. Stops and their order never change, so distances and loads carry over.
    When no candidate stands, the day that leaves out the fewest stops wins and those stops
    are dropped (measured: never on the 20,000-parcel Shenzhen day; it takes windows that
    pin the visits on both sides of the break window).
    """
    by_vehicle: dict[int, list[RoutedTrip]] = {}
    for trip in result.trips:
        by_vehicle.setdefault(trip.vehicle, []).append(trip)
    trips: list[RoutedTrip] = []
    breaks: list[Break] = []
    dropped: list[int] = []
    extra_s = 0
    for v, own in sorted(by_vehicle.items()):
        veh = problem.vehicles[v]
        if not veh.break_s:
            trips.extend(own)
            continue
        own.sort(key=lambda tr: tr.trip)
        best = _best_day(problem, v, own)
        if best is None:  # a visit longer than the break window around it: nothing fits
            dropped.extend(node for trip in own for node in trip.nodes)
            continue
        (back_s, start_s, placed), left_out = best
        extra_s += (back_s - placed[0].depart_s) - (own[-1].return_s - own[0].depart_s)
        extra_s += sum(drop_penalty_of(problem, node) for node in left_out)
        dropped.extend(left_out)
        trips.extend(placed)
        breaks.append(Break(v, start_s, veh.break_s))
    if dropped:
        logger.warning("%d stops left out to fit lunch breaks", len(dropped))
    trips.sort(key=lambda tr: (tr.vehicle, tr.trip))
    drops = sorted([*result.drops, *(Drop(node, "dropped") for node in dropped)],
                   key=lambda d: d.node)
    objective = result.objective + (extra_s if problem.objective == "time" else 0)
    return RoutingResult(trips=tuple(trips), drops=tuple(drops), objective=objective,
                         solve_s=result.solve_s, status=result.status, breaks=tuple(breaks))


_Day = tuple[int, int, list[RoutedTrip]]  # last return, break start, trips


def _best_day(problem: RoutingProblem, v: int,
              trips: Sequence[RoutedTrip]) -> tuple[_Day, list[int]] | None:
    """Return courier ``v``'s shortest day (last return - first departure) with the break,
    and the stops it leaves out (none unless nothing else fits).

    First with the routed first departure, which has no waiting before it; failing that, from
    the shift start, so that the work before the break moves earlier to make room for it,
    and then the day starts as late as it can without ending later (a search over the first
    departure: the end is non-decreasing in it).
    """
    def span(day: _Day) -> tuple[int, int]:
        return day[0] - day[2][0].depart_s, day[0]

    candidates = _break_candidates(trips)
    days = [d for at in candidates
            if (d := _day_with_break(problem, v, trips, at, trips[0].depart_s)) is not None]
    if days:
        return min(days, key=span), []
    early = _working_s(problem, problem.vehicles[v])[0]
    ranked = sorted(((d[0], i) for i, at in enumerate(candidates)
                     if (d := _day_with_break(problem, v, trips, at, early)) is not None))
    best: _Day | None = None
    for end_s, i in ranked[:_BREAK_SEARCHES]:
        lo_s, hi_s = early, trips[0].depart_s
        while lo_s < hi_s:  # the latest first departure that still ends by end_s
            mid = (lo_s + hi_s + 1) // 2
            d = _day_with_break(problem, v, trips, candidates[i], mid)
            if d is not None and d[0] <= end_s:
                lo_s = mid
            else:
                hi_s = mid - 1
        day = _day_with_break(problem, v, trips, candidates[i], lo_s)
        if day is not None and (best is None or span(day) < span(best)):
            best = day
    if best is not None:
        return best, []
    tries: list[tuple[int, tuple[int, int], _Day, list[int]]] = []
    for at in candidates:
        late: list[int] = []
        if (d := _day_with_break(problem, v, trips, at, early, late)) is not None:
            tries.append((len(late), span(d), d, late))
    if not tries:
        return None
    _, _, day, late = min(tries, key=lambda x: x[:2])
    return day, late


# How many of the earliest-ending break positions get the search over the first departure.
_BREAK_SEARCHES = 5

# Where a break goes: ("station", k, 0) before trip k leaves (k = number of trips: after the
# last is back); ("way", k, p) on leaving for the p-th visit of trip k (p = len: the way back);
# ("door", k, p) at the p-th visit's door before it starts.
_At = tuple[str, int, int]


def _break_candidates(trips: Sequence[RoutedTrip]) -> list[_At]:
    out: list[_At] = [("station", k, 0) for k in range(len(trips) + 1)]
    for k, trip in enumerate(trips):
        out.extend(("way", k, p) for p in range(len(trip.nodes) + 1))
        out.extend(("door", k, p) for p in range(len(trip.nodes)))
    return out


def _day_with_break(problem: RoutingProblem, v: int, trips: Sequence[RoutedTrip],
                    at: _At, depart_s: int, late: list[int] | None = None) -> _Day | None:
    """Return (last return, break start, trips) of the earliest day with the break at ``at``
    and the first trip leaving at ``depart_s`` or later, or None if that breaks a window, the
    break window or the shift end.

    With ``late`` (a list to fill), a visit whose windows have all closed is skipped instead
    and listed there: the day that leaves out the fewest stops when nothing else fits.
    """
    veh = problem.vehicles[v]
    t = problem.time_s[veh.profile]
    lo, hi = veh.break_window_s
    length = veh.break_s
    kind, k_at, p_at = at
    end_s = _working_s(problem, veh)[1]
    brk: int | None = None
    out: list[RoutedTrip] = []
    earliest = depart_s
    for k, trip in enumerate(trips):
        if kind == "station" and k == k_at:
            # After the reload or before it: the gap at the station holds both.
            back = out[-1].return_s if out else veh.shift_start_s
            brk = max(back, lo)
            if brk > hi:
                return None
            earliest = max(earliest + length if out else earliest, brk + length)
        depart = now = earliest
        nodes: list[int] = []
        arrivals, starts, departures = [], [], []
        prev = 0
        on_way = False  # a break taken on leaving prev, before the next visit
        for p, node in enumerate((*trip.nodes, 0)):
            leg = int(t[prev, node])
            if kind == "way" and (k, p) == (k_at, p_at):
                if not lo <= now <= hi:
                    return None
                brk, now, on_way = now, now + length, True
            if node == 0:
                now += leg
                break
            arrival = ready = now + leg
            if on_way and leg == 0:
                arrival -= length  # no way to take it on: it was taken at this door
            anchor = kind == "door" and (k, p) == (k_at, p_at)
            if anchor:
                brk = max(arrival, lo)
                if brk > hi:
                    return None
                ready = brk + length
            start = _earliest_start(problem.windows_s[node], ready)
            if start is None:
                if late is None or anchor:
                    return None
                late.append(node)
                continue
            nodes.append(node)
            on_way = False
            arrivals.append(arrival)
            starts.append(start)
            now = start + int(problem.service_s[node])
            departures.append(now)
            prev = node
        if now > end_s:
            return None
        if not nodes:
            if k == k_at and kind != "station":
                return None
            earliest = now
            continue
        if not (brk is not None and depart <= brk <= starts[0]):
            # Leave later instead of waiting at the first door (as schedule_trips does),
            # unless the break sits in that first gap.
            wait_s = starts[0] - int(t[0, nodes[0]])
            if wait_s > depart:
                depart, arrivals[0] = wait_s, starts[0]
        if len(nodes) == len(trip.nodes):
            one = replace(trip, trip=len(out) + 1, arrival_s=tuple(arrivals),
                          start_s=tuple(starts), departure_s=tuple(departures),
                          depart_s=depart, return_s=now)
        else:
            dist, load = _trip_stats(problem, v, nodes)
            one = RoutedTrip(v, len(out) + 1, tuple(nodes), tuple(arrivals), tuple(starts),
                             tuple(departures), depart, now, dist, load)
        out.append(one)
        earliest = now + problem.reload_s
    if not out:
        return None
    if kind == "station" and k_at == len(trips):
        brk = max(out[-1].return_s, lo)
        if brk > hi:
            return None
    assert brk is not None
    return out[-1].return_s, brk, out


# --------------------------------------------------------------------------------------------
# Independent evaluator


def check_feasible(problem: RoutingProblem, result: RoutingResult) -> list[str]:
    """List every violation of the problem's rules by a result, recomputed without OR-Tools.

    Checks capacity (on-board load with pickups, loaded at the depot), windows, shifts, times
    and distances as reported, trips of one courier in order and ``reload_s`` apart, every stop
    served at most once, and every stop either served or dropped exactly once.

    Returns
    -------
    list[str]
        One message per violation; empty if the result is feasible.
    """
    out: list[str] = []
    n = problem.n_stops
    big = problem.unreachable
    seen: dict[int, int] = {}
    by_vehicle: dict[int, list[RoutedTrip]] = {}
    brk_of: dict[int, Break] = {}
    for one in result.breaks:
        if one.vehicle in brk_of:
            out.append(f"vehicle {one.vehicle}: more than one break")
        brk_of[one.vehicle] = one
    for ti, trip in enumerate(result.trips):
        where = f"trip #{ti} (vehicle {trip.vehicle}, trip {trip.trip})"
        if not 0 <= trip.vehicle < len(problem.vehicles):
            out.append(f"{where}: no such vehicle")
            continue
        veh = problem.vehicles[trip.vehicle]
        by_vehicle.setdefault(trip.vehicle, []).append(trip)
        k = len(trip.nodes)
        if not trip.nodes:
            out.append(f"{where}: empty trip")
            continue
        if not (len(trip.arrival_s) == len(trip.start_s) == len(trip.departure_s) == k):
            out.append(f"{where}: per-node times do not match the nodes")
            continue
        if any(not 1 <= node <= n for node in trip.nodes):
            out.append(f"{where}: node outside 1..{n}: {trip.nodes}")
            continue
        for node in trip.nodes:
            seen[node] = seen.get(node, 0) + 1
        t = problem.time_s[veh.profile]
        d = problem.distance_m[veh.profile]
        path = [0, *trip.nodes, 0]
        for a, b in itertools.pairwise(path):
            if t[a, b] >= big or d[a, b] >= big:
                out.append(f"{where}: no path from node {a} to node {b}")
        if trip.depart_s < veh.shift_start_s:
            out.append(f"{where}: departs at {trip.depart_s} before shift start")
        brk = brk_of.get(trip.vehicle)
        now, prev = trip.depart_s, 0
        for pos, node in enumerate(trip.nodes):
            arrival = now + int(t[prev, node])
            if brk is not None and _in_gap(brk, now, trip.start_s[pos]):
                if trip.start_s[pos] - now < int(t[prev, node]) + brk.duration_s:
                    out.append(f"{where}: no room for the break and the way to node {node}")
                if brk.start_s < arrival:  # taken on the way
                    arrival += brk.duration_s
            if trip.arrival_s[pos] != arrival:
                out.append(f"{where}: node {node} arrival {trip.arrival_s[pos]} != {arrival}")
            start = trip.start_s[pos]
            if start < arrival:
                out.append(f"{where}: node {node} starts at {start} before arrival {arrival}")
            windows = problem.windows_s[node]
            if windows and not any(a <= start <= b for a, b in windows):
                out.append(f"{where}: node {node} starts at {start} outside {windows}")
            departure = start + int(problem.service_s[node])
            if trip.departure_s[pos] != departure:
                out.append(f"{where}: node {node} departure {trip.departure_s[pos]} != {departure}")
            now, prev = max(departure, trip.departure_s[pos]), node
        back = now + int(t[prev, 0])
        if brk is not None and _in_gap(brk, now, trip.return_s):
            back += brk.duration_s
        if trip.return_s < back:
            out.append(f"{where}: return {trip.return_s} before it can be back at {back}")
        if trip.return_s > veh.shift_end_s:
            out.append(f"{where}: back at {trip.return_s} after shift end {veh.shift_end_s}")
        dist = sum(int(d[a, b]) for a, b in itertools.pairwise(path))
        if dist != trip.distance_m:
            out.append(f"{where}: distance {trip.distance_m} != {dist}")
        delivery = np.asarray(problem.delivery, dtype=np.int64)
        pickup = np.asarray(problem.pickup, dtype=np.int64)
        cap = np.asarray(veh.capacity, dtype=np.int64)
        on_board = delivery[list(trip.nodes)].sum(axis=0)
        peak = on_board.copy()
        for node in trip.nodes:
            on_board = on_board - delivery[node] + pickup[node]
            peak = np.maximum(peak, on_board)
        if bool(np.any(peak > cap)):
            out.append(f"{where}: peak load {peak.tolist()} over capacity {cap.tolist()}")
        if tuple(int(x) for x in peak) != tuple(trip.load):
            out.append(f"{where}: reported load {trip.load} != peak {peak.tolist()}")
    for v in range(len(problem.vehicles)):
        out.extend(_check_break(problem, v, by_vehicle.get(v, []), brk_of.get(v)))
    for v, trips in by_vehicle.items():
        veh = problem.vehicles[v]
        if len(trips) > veh.max_trips:
            out.append(f"vehicle {v}: {len(trips)} trips > max_trips {veh.max_trips}")
        ordered = sorted(trips, key=lambda tr: tr.depart_s)
        if [tr.trip for tr in ordered] != list(range(1, len(trips) + 1)):
            out.append(f"vehicle {v}: trips not numbered 1.. in time order")
        for before, after in itertools.pairwise(ordered):
            if after.depart_s < before.return_s + problem.reload_s:
                out.append(
                    f"vehicle {v}: trip {after.trip} departs at {after.depart_s}, less than "
                    f"reload {problem.reload_s} s after trip {before.trip} is back at "
                    f"{before.return_s}"
                )
            lunch = brk_of.get(v)
            if (lunch is not None and _in_gap(lunch, before.return_s, after.depart_s)
                    and after.depart_s - before.return_s < problem.reload_s + lunch.duration_s):
                out.append(f"vehicle {v}: break overlaps the reload before trip {after.trip}")
    for node, count in seen.items():
        if count > 1:
            out.append(f"node {node} served {count} times")
    dropped: dict[int, int] = {}
    for drop in result.drops:
        dropped[drop.node] = dropped.get(drop.node, 0) + 1
        if drop.reason_code not in REASONS:
            out.append(f"node {drop.node}: unknown reason code {drop.reason_code!r}")
    for node, count in dropped.items():
        if count > 1:
            out.append(f"node {node} dropped {count} times")
        if node in seen:
            out.append(f"node {node} both served and dropped")
        if not 1 <= node <= n:
            out.append(f"dropped node {node} outside 1..{n}")
    missing = sorted(set(range(1, n + 1)) - set(seen) - set(dropped))
    if missing:
        out.append(f"nodes neither served nor dropped: {missing}")
    return out


def _in_gap(brk: Break, from_s: int, to_s: int) -> bool:
    """Return True if the break lies wholly between ``from_s`` and ``to_s``."""
    return from_s <= brk.start_s and brk.start_s + brk.duration_s <= to_s


def _check_break(problem: RoutingProblem, v: int, trips: list[RoutedTrip],
                 brk: Break | None) -> list[str]:
    """List violations of vehicle ``v``'s break: missing, outside its window, or overlapping
    a visit or a depot departure/return (it must sit in one gap or at the station)."""
    veh = problem.vehicles[v]
    if brk is None:
        return [f"vehicle {v}: no lunch break"] if veh.break_s and trips else []
    out: list[str] = []
    lo, hi = veh.break_window_s
    if not veh.break_s:
        out.append(f"vehicle {v}: a break it does not have")
    if brk.duration_s != veh.break_s or not lo <= brk.start_s <= hi:
        out.append(f"vehicle {v}: break of {brk.duration_s} s at {brk.start_s}, expected "
                   f"{veh.break_s} s starting in {veh.break_window_s}")
    end = brk.start_s + brk.duration_s
    for trip in trips:
        if end <= trip.depart_s or brk.start_s >= trip.return_s:
            continue
        gaps = list(zip((trip.depart_s, *trip.departure_s),
                        (*trip.start_s, trip.return_s), strict=True))
        if not any(_in_gap(brk, a, b) for a, b in gaps):
            out.append(f"vehicle {v}: break {brk.start_s}-{end} overlaps a visit or the "
                       f"departure or return of trip {trip.trip}")
    return out
