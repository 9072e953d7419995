"""The OR-Tools backend: the only module that imports ``ortools``.

The model in one paragraph: every courier is one OR-Tools vehicle that may pass through up to
``max_trips - 1`` optional reload nodes (copies of the depot with ``reload_s`` of service where
its load returns to zero), so its trips are the pieces between reloads; a time dimension per
vehicle profile carries service + travel with waiting as slack and the windows as cumul
domains; one load dimension per non-empty capacity dimension carries ``pickup - delivery`` from
a free start cumul (the load leaving the depot); every stop is in a disjunction with a drop
penalty, a priority stop with a penalty 100 times larger; stops ready late (a truck's wave)
go only on a trip that leaves from a reload of their ready level (:func:`_add_ready`). A
lunch break is not in the model (:mod:`courier.routing.breaks`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from courier.routing.backend import EXTRACT_RESERVE_S, ITERATIONS_PER_SOLUTION, Limits, Search
from courier.routing.problem import (
    IntArray,
    RoutingProblem,
    drop_penalty_of,
    no_path_cost,
    working_s,
)

__all__ = ["BACKEND"]

logger = logging.getLogger(__name__)

# Time kept back from the search budget for extracting the result (the search limit is a wall
# clock limit on the search alone).
_EXTRACT_RESERVE_S = EXTRACT_RESERVE_S
# A first-solution probe may take at most 1 / this of the time left: a probe that fails to
# insert (it happens with windows and chained trips) leaves time for the next ones.
_PROBE_SHARE = 3
# A search that ends this close to its time limit is taken as cut by it.
_CUT_SLACK_S = 0.02

_FIRST_SOLUTION = routing_enums_pb2.FirstSolutionStrategy
_METAHEURISTIC = routing_enums_pb2.LocalSearchMetaheuristic


class OrTools:
    """OR-Tools routing with guided local search, from the best of a few first solutions."""

    name = "ortools"
    one_trip_waits = False

    def search(self, problem: RoutingProblem, active: Sequence[int],
               allowed: Mapping[int, Sequence[int]], limits: Limits) -> Search:
        """Build the model over ``active`` (permuted by the seed), search, and extract."""
        if not active or not problem.vehicles:
            return Search(trips=(), objective=0, status="NO_STOPS")
        order = _seeded_order(list(active), limits.seed)
        model = _build(problem, order, allowed)
        start = _first_solution(problem, order, model, deadline=limits.deadline_s,
                                first_solution=limits.first_solution)
        remaining = limits.deadline_s - time.perf_counter() - _EXTRACT_RESERVE_S
        solutions = (None if limits.iterations is None
                     else max(1, limits.iterations // ITERATIONS_PER_SOLUTION))
        search_s = max(remaining, 0.001)
        search_end = time.perf_counter() + search_s
        params = _search_parameters(problem, order, time_limit_s=search_s,
                                    solution_limit=solutions,
                                    first_solution=limits.first_solution)
        if start is not None:
            solution = model.routing.SolveFromAssignmentWithParameters(start, params)
            solution = solution if solution is not None else start
        else:
            solution = model.routing.SolveWithParameters(params)
        status = _status_name(model.routing)
        # OR-Tools' status does not tell the time limit from the solution limit: the clock does.
        cut = solutions is not None and time.perf_counter() >= search_end - _CUT_SLACK_S
        if solution is None:
            logger.warning("routing found no solution in its time (%s); every stop is left out",
                           status)
            return Search(trips=(), objective=0, status=status, found=False, cut=cut)
        return Search(trips=tuple(_extract(problem, model, solution)),
                      objective=int(solution.ObjectiveValue()), status=status, cut=cut)


BACKEND = OrTools()


@dataclass(slots=True)
class _Model:
    routing: pywrapcp.RoutingModel
    manager: pywrapcp.RoutingIndexManager
    nodes: list[int]  # model node -> problem node (model node 0 = depot; reloads map to 0)
    reload_of: dict[int, int]  # model node of a reload -> problem vehicle
    time_dim: Any  # RoutingDimension or None
    # With ready times: the ready levels (seconds, ascending), each stop's level (model node ->
    # level, 0 = ready at the start) and each reload's level (the latest wave it leaves with).
    levels_s: tuple[int, ...] = ()
    stop_level: dict[int, int] = field(default_factory=dict)
    reload_level: dict[int, int] = field(default_factory=dict)


def _build(problem: RoutingProblem, active: list[int],
           allowed: Mapping[int, Sequence[int]]) -> _Model:
    """Build the OR-Tools model over the depot, the ``active`` stops and the reload visits.

    One OR-Tools vehicle per courier. A courier with ``max_trips`` > 1 gets ``max_trips - 1``
    optional "reload" nodes: copies of the depot that only they may visit, with ``reload_s`` of
    service, where their load goes back to zero. Trips are the pieces of the route between
    reloads. (Chaining one OR-Tools vehicle per trip with side constraints on the time cumuls
    was measured 500x slower to find a first solution with windows: 4.7 s against 0.009 s for
    58 stops, and it often left every stop out under a short budget.)
    """
    levels, stop_level = _ready_levels(problem, active)
    reload_of: dict[int, int] = {}
    reload_level: dict[int, int] = {}
    nodes = [0, *active]
    for v, veh in enumerate(problem.vehicles):
        # With ready levels, one reload per trip and level: a trip that starts there leaves
        # with the parcels ready by that level's time (see _add_ready); the first trip may
        # leave from one too, after waiting at the station.
        slots = max(veh.max_trips, 1) - (0 if levels and veh.max_trips > 1 else 1)
        for _ in range(slots):
            for level in range(len(levels) + 1 if levels else 1):
                reload_of[len(nodes)] = v
                if levels:
                    reload_level[len(nodes)] = level
                nodes.append(0)
    manager = pywrapcp.RoutingIndexManager(len(nodes), len(problem.vehicles), 0)
    model = _Model(pywrapcp.RoutingModel(manager), manager, nodes, reload_of, None,
                   levels, {m: stop_level[node] for m, node in enumerate(nodes)
                            if m and m not in reload_of}, reload_level)
    time_cb = _add_costs(problem, model)
    if reload_of or _needs_time_dimension(problem, active):
        _add_time(problem, model, time_cb)
        if levels:
            _add_ready(problem, model)
    _add_loads(problem, model)
    _add_drops(problem, model, allowed)
    return model


def _add_costs(problem: RoutingProblem, model: _Model) -> dict[str, int]:
    """Register the arc costs per vehicle; return the transit callback of each profile."""
    routing, idx = model.routing, np.asarray(model.nodes, dtype=np.int64)
    no_path = no_path_cost(problem.horizon_s)
    service = problem.service_s[idx].copy()
    for m in model.reload_of:
        service[m] = problem.reload_s
    time_cb: dict[str, int] = {}
    cost_cb: dict[str, int] = {}
    for profile in sorted({veh.profile for veh in problem.vehicles}):
        travel = np.minimum(problem.time_s[profile][np.ix_(idx, idx)], no_path)
        # Service at the tail node is part of the arc: then the cumul at a node is the start
        # of service there and waiting is slack at the predecessor.
        time_cb[profile] = routing.RegisterTransitMatrix((travel + service[:, None]).tolist())
        if problem.objective == "time":
            cost_cb[profile] = time_cb[profile]
        else:
            cost = _sub_matrix(problem.cost_matrix(profile), idx, no_path)
            cost_cb[profile] = routing.RegisterTransitMatrix(cost)
    for v, veh in enumerate(problem.vehicles):
        routing.SetArcCostEvaluatorOfVehicle(cost_cb[veh.profile], v)
        if veh.fixed_cost:
            routing.SetFixedCostOfVehicle(int(veh.fixed_cost), v)
    return time_cb


def _add_time(problem: RoutingProblem, model: _Model, time_cb: Mapping[str, int]) -> None:
    """One time dimension, per-vehicle transit by profile; slack = waiting for a window."""
    routing, manager = model.routing, model.manager
    horizon = problem.horizon_s
    routing.AddDimensionWithVehicleTransitAndCapacity(
        [time_cb[veh.profile] for veh in problem.vehicles], horizon,
        [horizon] * len(problem.vehicles), False, "time")
    time_dim = routing.GetDimensionOrDie("time")
    model.time_dim = time_dim
    if problem.objective == "time":
        # The courier's paid day, from the shift start (the route starts there, see below) to
        # the last return: waiting inside it costs as much as working. Without a span cost a
        # trip may sit out the day between a morning and an evening window instead of
        # splitting into two trips (measured on the demo: one trip of 35 stops spanning
        # 10.6 h, 27 stops dropped).
        time_dim.SetSpanCostCoefficientForAllVehicles(1)
    for m, node in enumerate(model.nodes[1:], start=1):
        windows = sorted(problem.windows_s[node]) if m not in model.reload_of else []
        if not windows:
            continue
        cumul = time_dim.CumulVar(manager.NodeToIndex(m))
        cumul.SetRange(windows[0][0], max(b for _, b in windows))
        reach = windows[0][1]
        for a, b in windows[1:]:
            if a > reach + 1:
                cumul.RemoveInterval(reach + 1, a - 1)
            reach = max(reach, b)
    for v, veh in enumerate(problem.vehicles):
        lo, hi = working_s(problem, veh)
        # A station's day: the route starts at the shift start, so its span is the paid day.
        # Free to start later, the search moved whole mornings into the afternoon to shorten
        # the span (measured on the demo: first stops a median 218 min after the shift start).
        time_dim.CumulVar(routing.Start(v)).SetRange(lo, lo if problem.objective == "time" else hi)
        time_dim.CumulVar(routing.End(v)).SetRange(lo, hi)


# Ready times beyond this many distinct values are rounded up to this many levels (a trip then
# leaves at the level's time, a little later than its parcels are ready: never earlier).
_MAX_READY_LEVELS = 6


def _ready_levels(problem: RoutingProblem, active: Sequence[int]) -> tuple[tuple[int, ...],
                                                                         dict[int, int]]:
    """Return the ready levels (the distinct ready times after the earliest shift start, at
    most :data:`_MAX_READY_LEVELS`, rounded up) and each stop's level (1.., 0 = ready at the
    start); no levels when no stop is ready after a shift starts."""
    first = min((v.shift_start_s for v in problem.vehicles), default=0)
    ready = {node: int(problem.ready_s[node]) for node in active}
    late = sorted({r for r in ready.values() if r > first})
    if not late:
        return (), dict.fromkeys(active, 0)
    if len(late) > _MAX_READY_LEVELS:
        picks = np.linspace(0, len(late) - 1, _MAX_READY_LEVELS).round().astype(int)
        late = sorted({late[int(i)] for i in picks})
    levels = tuple(late)
    out = {node: (0 if r <= first else 1 + int(np.searchsorted(levels, r)))
           for node, r in ready.items()}
    return levels, out


def _add_ready(problem: RoutingProblem, model: _Model) -> None:
    """No trip leaves the depot before the parcels on it are ready (a truck's wave).

    Only domains and unary transits, no constraint across variables: a reload of level ``l``
    (one copy per level) has its time cumul at least level ``l``'s time less the reload, so a
    trip leaving there leaves at that time or later; a courier's start has the level of the
    waves ready at the shift start. Per level ``l`` a dimension "ready<l>" is 0 along a trip
    that may carry level-``l`` stops and at least 1 along one that may not: a stop of level
    ``l`` or above needs it 0; a start or reload below ``l`` sets it to at least 1 (+1), one
    at or above ``l`` may set it back to 0 (-cap, with the slack taking up the rest). A
    courier whose first parcels come later leaves through a reload of their level (the
    "trips" dimension counts trips that carry parcels, so waiting costs no trip). One with a
    single trip leaves at the shift start (``one_trip_waits`` is False: the search does not
    find the reload-then-stops insertion from a route of early stops, measured on 6 stops).
    (Constraints that tie the departure to the trip's latest ready time across two dimensions
    were measured to stop OR-Tools inserting any late stop: 1.2-2 s for 6 stops, 3 left out.)
    """
    routing, manager, time_dim = model.routing, model.manager, model.time_dim
    levels = model.levels_s
    for m, level in model.reload_level.items():
        if level:
            time_dim.CumulVar(manager.NodeToIndex(m)).SetMin(
                max(levels[level - 1] - problem.reload_s, 0))
    start_level = [int(np.searchsorted(levels, working_s(problem, veh)[0], side="right"))
                   for veh in problem.vehicles]
    count = len(model.reload_level) + 2
    for level in range(1, len(levels) + 1):
        transit = [0] * len(model.nodes)
        for m, lvl in model.reload_level.items():
            transit[m] = -count if lvl >= level else 1
        cb = routing.RegisterUnaryTransitVector(transit)
        routing.AddDimension(cb, count, count, False, f"ready{level}")
        dim = routing.GetDimensionOrDie(f"ready{level}")
        for m in range(1, len(model.nodes)):
            index = manager.NodeToIndex(m)
            if m in model.reload_level:
                if model.reload_level[m] < level:
                    dim.SlackVar(index).SetValue(0)
                continue
            dim.SlackVar(index).SetValue(0)
            if model.stop_level.get(m, 0) >= level:
                dim.CumulVar(index).SetValue(0)
        for v, lvl in enumerate(start_level):
            dim.SlackVar(routing.Start(v)).SetValue(0)
            if lvl >= level:
                dim.CumulVar(routing.Start(v)).SetValue(0)
            else:
                dim.CumulVar(routing.Start(v)).SetMin(1)
    # At most max_trips trips that carry parcels: an arc from the depot or a reload to a stop
    # starts one (an empty first trip, waiting for a wave at the station, does not count).
    n = len(model.nodes)
    starts_trip = np.zeros((n, n), dtype=np.int64)
    heads = [0, *model.reload_of]
    stops = [m for m in range(1, n) if m not in model.reload_of]
    starts_trip[np.ix_(heads, stops)] = 1
    routing.AddDimensionWithVehicleCapacity(
        routing.RegisterTransitMatrix(starts_trip.tolist()), 0,
        [max(veh.max_trips, 1) for veh in problem.vehicles], True, "trips")


def _add_loads(problem: RoutingProblem, model: _Model) -> None:
    """Loads: per dimension (parcels, grams, ml) with any non-zero demand."""
    idx = np.asarray(model.nodes, dtype=np.int64)
    delivery = problem.delivery[idx].copy()
    pickup = problem.pickup[idx].copy()
    delivery[0] = pickup[0] = 0
    for m in model.reload_of:
        delivery[m] = pickup[m] = 0
    for d in range(3):
        if not (delivery[:, d].any() or pickup[:, d].any()):
            continue
        caps = [int(veh.capacity[d]) for veh in problem.vehicles]
        if model.reload_of:
            _add_reload_load(model, d, delivery[:, d] + pickup[:, d], caps)
        elif not (delivery[:, d].any() and pickup[:, d].any()):
            # Only one direction: a plain capacity dimension from zero is exact.
            demand = delivery[:, d] if delivery[:, d].any() else pickup[:, d]
            cb = model.routing.RegisterUnaryTransitVector(demand.tolist())
            model.routing.AddDimensionWithVehicleCapacity(cb, 0, caps, True, f"load{d}")
        else:
            _add_mixed_load(model, d, delivery[:, d], pickup[:, d], caps)


def _add_reload_load(model: _Model, d: int, demand: IntArray, caps: list[int]) -> None:
    """Load counted since the last reload, zeroed at a reload: a reload has a demand of minus
    the capacity and the slack there (0 elsewhere) takes up the rest. Deliveries and pickups
    of a trip add up, which is safe (the peak on board is never more) and exact when a trip has
    only one kind."""
    routing, manager = model.routing, model.manager
    demand = demand.copy()
    for m, v in model.reload_of.items():
        demand[m] = -caps[v]
    cb = routing.RegisterUnaryTransitVector(demand.tolist())
    routing.AddDimensionWithVehicleCapacity(cb, max(caps), caps, True, f"load{d}")
    load = routing.GetDimensionOrDie(f"load{d}")
    for m in range(1, len(model.nodes)):
        if m not in model.reload_of:
            load.SlackVar(manager.NodeToIndex(m)).SetValue(0)
    for v in range(len(caps)):
        load.SlackVar(routing.Start(v)).SetValue(0)


def _add_mixed_load(model: _Model, d: int, delivery: IntArray, pickup: IntArray,
                    caps: list[int]) -> None:
    """Mixed, one trip per courier: on board = the start cumul (load leaving the depot) plus
    pickup - delivery so far; cumul in [0, cap] keeps every point of the trip within capacity.
    The start cumul must be the whole trip's delivery, taken from a delivered-so-far dimension:
    without that the solver could "load" less than it hands over."""
    routing = model.routing
    cb = routing.RegisterUnaryTransitVector((pickup - delivery).tolist())
    routing.AddDimensionWithVehicleCapacity(cb, 0, caps, False, f"load{d}")
    onboard = routing.GetDimensionOrDie(f"load{d}")
    cb_del = routing.RegisterUnaryTransitVector(delivery.tolist())
    routing.AddDimensionWithVehicleCapacity(cb_del, 0, caps, True, f"delivered{d}")
    delivered = routing.GetDimensionOrDie(f"delivered{d}")
    for v in range(len(caps)):
        routing.solver().Add(
            onboard.CumulVar(routing.Start(v)) == delivered.CumulVar(routing.End(v))
        )


def _add_drops(problem: RoutingProblem, model: _Model,
               allowed: Mapping[int, Sequence[int]]) -> None:
    """Every stop optional at its drop penalty, on its allowed vehicles; reloads free."""
    routing, manager = model.routing, model.manager
    for m in range(1, len(model.nodes)):
        index = manager.NodeToIndex(m)
        if m in model.reload_of:
            routing.AddDisjunction([index], 0)
            routing.VehicleVar(index).SetValues([-1, model.reload_of[m]])
            continue
        node = model.nodes[m]
        routing.AddDisjunction([index], drop_penalty_of(problem, node))
        vs = list(allowed[node])
        if len(vs) < len(problem.vehicles):
            # SetAllowedVehiclesForIndex rejects every Python list in ortools 9.15 (its
            # absl::Span<const int> has no SWIG typemap); restricting the vehicle variable is
            # the same constraint (-1 = not performed, left to the disjunction).
            routing.VehicleVar(index).SetValues([-1, *vs])


def _needs_time_dimension(problem: RoutingProblem, active: Sequence[int]) -> bool:
    """Return False when no time constraint can bind (plain CVRP), to keep the model small.

    Time binds if there are windows, several trips, or a shift shorter than the longest route
    imaginable (every active stop once, each left by its longest arc).
    """
    if any(problem.windows_s[i] for i in active) or problem.windows_s[0] or problem.has_ready:
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
        # Ready times need a reload before the late stops: insertion finds those.
        multi_trip = any(v.max_trips > 1 for v in problem.vehicles) or problem.has_ready
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


def _status_name(routing: pywrapcp.RoutingModel) -> str:
    try:
        return str(routing_enums_pb2.RoutingSearchStatus.Value.Name(routing.status()))
    except ValueError:
        return f"STATUS_{routing.status()}"


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
        params = _search_parameters(problem, active, time_limit_s=remaining / _PROBE_SHARE,
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


def _extract(problem: RoutingProblem, model: _Model,
             solution: Any) -> list[tuple[int, int, tuple[int, ...]]]:
    """Return (vehicle, earliest depot departure, stop nodes) of every trip in the assignment.

    Trips are the pieces of a vehicle's route between reloads; the schedule is recomputed
    afterwards (:func:`courier.routing.schedule.schedule_trips`).
    """
    routing, manager, time_dim = model.routing, model.manager, model.time_dim
    raw: list[tuple[int, int, tuple[int, ...]]] = []
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
                    raw.append((v, depart, tuple(nodes)))
                if routing.IsEnd(index):
                    break
                nodes = []
                # The next trip leaves after the reload; schedule_trips recomputes it.
                back = int(solution.Min(time_dim.CumulVar(index))) if time_dim is not None else 0
                depart = back + problem.reload_s if time_dim is not None else depart
            else:
                nodes.append(model.nodes[m])
            index = solution.Value(routing.NextVar(index))
    return raw
