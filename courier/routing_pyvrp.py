"""The second routing backend, PyVRP: the same :class:`RoutingProblem` in, the same result out.

OR-Tools stays the default (``--solver ortools``): it models everything a station has,
including the lunch break. PyVRP (iterated local search in C++) finds better routes for the
same wall time on the literature benchmarks (see the README), so ``--solver pyvrp`` offers it
for the constraints it models: capacities in several dimensions, pickups, service times, time
windows, shifts, several trips with reloads at the station, vehicle profiles, fixed costs and
optional stops with a penalty. What it cannot model it refuses with ``ValueError`` rather than
plan around silently: a lunch break.

The translation, in one paragraph: one PyVRP location per problem node; one client per active
stop, or one per window in a mutually exclusive group when a stop has several; every client is
optional with its drop penalty as the prize; identical couriers share a vehicle type; a courier
with several trips may reload at the depot ``max_trips - 1`` times, the reload time being the
depot's service time (PyVRP puts it at the start of every trip, so the first trip leaves
``reload_s`` later than OR-Tools would let it: loading the first trip takes time too). The
pre-checks, the schedule and the evaluator are :mod:`courier.routing`'s, so both backends give
reasons and times the same way.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections import defaultdict
from typing import Any

import numpy as np
import pyvrp
from pyvrp.exceptions import PenaltyBoundWarning
from pyvrp.stop import FirstFeasible, MaxIterations, MultipleCriteria, StoppingCriterion

from courier import routing
from courier.routing import RoutedTrip, RoutingProblem, RoutingResult

__all__ = ["solve"]

logger = logging.getLogger(__name__)

# Iterations per unit of ``solution_limit``: PyVRP has no "improving solutions" count, so a
# solution limit becomes an iteration limit, which makes the result depend only on the input
# and the seed.
ITERATIONS_PER_SOLUTION = 200
# Share of the budget for cutting the fleet when a vehicle costs more than any route (the
# vehicles-first convention of the VRPTW benchmarks); the rest improves the distance.
FLEET_SHARE = 0.5
# Time kept back for turning PyVRP's routes into trips.
_EXTRACT_RESERVE_S = 0.05


def solve(
    problem: RoutingProblem,
    *,
    time_limit_s: float,
    seed: int = 0,
    solution_limit: int | None = None,
) -> RoutingResult:
    """Route ``problem`` with PyVRP; same contract as :func:`courier.routing.solve`.

    Called by :func:`courier.routing.solve`, which checks the arguments and validates the
    problem first.

    Raises
    ------
    ValueError
        A lunch break: :func:`courier.routing.solve` routes without breaks and places them
        afterwards, for both backends.
    """
    t0 = time.perf_counter()
    if any(v.break_s for v in problem.vehicles):
        raise ValueError("lunch breaks are placed by routing.solve, not by this backend")
    reasons, allowed = routing.prechecks(problem)
    reasons = dict(reasons)
    active = sorted(allowed)
    trips: list[RoutedTrip] = []
    objective = 0
    status = "NO_STOPS"
    if active and problem.vehicles:
        data, client_node, type_members = _data(problem, active)
        # A deadline on our clock, not MaxRuntime: PyVRP starts that clock after its own set-up
        # (neighbourhoods, a first solution), measured at 0.3 s on 200 stops with windows.
        stop: StoppingCriterion = _Deadline(t0 + time_limit_s - _EXTRACT_RESERVE_S)
        if solution_limit is not None:
            stop = MultipleCriteria([stop, MaxIterations(solution_limit * ITERATIONS_PER_SOLUTION)])
        data, start = _fleet_first(data, t0 + FLEET_SHARE * time_limit_s, seed)
        with warnings.catch_warnings():
            if start is not None:
                # The fleet was cut to the fewest vehicles found, so the search works at the
                # edge of feasibility on purpose; it starts from a feasible solution and keeps
                # the best feasible one, so the penalty warning is not news for the user.
                warnings.simplefilter("ignore", PenaltyBoundWarning)
            result = pyvrp.solve(data, stop=stop, seed=seed, collect_stats=False,
                                 initial_solution=start)
        best = result.best
        status = "FEASIBLE" if best.is_feasible() else "INFEASIBLE"
        raw: list[tuple[int, int, list[int]]] = []
        used = dict.fromkeys(type_members, 0)
        for route in best.routes():
            vtype = route.vehicle_type()
            vehicle = type_members[vtype][used[vtype]]
            used[vtype] += 1
            if not route.is_feasible():
                # Only when the time ran out before PyVRP repaired its start: leave these
                # stops out rather than hand a courier an impossible trip.
                reasons.update({client_node[act.idx]: "no_solution" for act in route.schedule()
                                if act.type == pyvrp.ActivityType.CLIENT})
                continue
            by_trip: dict[int, list[int]] = defaultdict(list)
            first_start: dict[int, int] = {}
            for act in route.schedule():
                if act.type == pyvrp.ActivityType.CLIENT:
                    by_trip[act.trip].append(client_node[act.idx])
                elif act.type == pyvrp.ActivityType.DEPOT:
                    first_start.setdefault(act.trip, int(act.end_time))
            for trip_no in sorted(by_trip):
                raw.append((vehicle, first_start.get(trip_no, 0), by_trip[trip_no]))
        trips = routing.schedule_trips(problem, raw)
        served = {node for trip in trips for node in trip.nodes}
        # PyVRP's uncollected prizes count every unvisited window copy of a stop it served in
        # another window; the penalty is for the stops left out, once each.
        objective = int(best.distance_cost() + best.duration_cost() + best.fixed_vehicle_cost()
                        + sum(routing.drop_penalty_of(problem, node)
                              for node in active if node not in served))
    return routing.finish(problem, reasons, active, trips, objective=objective, status=status,
                          t0=t0)


class _Deadline:
    """Stop when the wall clock passes a moment (a PyVRP stopping criterion)."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def __call__(self, best_cost: int) -> bool:
        return time.perf_counter() >= self.deadline


def _fleet_first(data: pyvrp.ProblemData, deadline: float,
                 seed: int) -> tuple[pyvrp.ProblemData, pyvrp.Solution | None]:
    """Cut the fleet while every stop can still be served; return it and a solution using it.

    Only when there is one kind of vehicle, with a fixed cost, and no stop with several
    windows. PyVRP's search with a fixed cost per vehicle rarely empties a whole route (measured
    on Gehring-Homberger 200-400 at 30 s: 7 vehicles over the best known on 8 instances), so
    this does what ``pyvrp.minimise_fleet`` does, with every stop required: solve to the first
    feasible solution with one vehicle fewer, again and again, until that fails or time is up.
    The last success starts the main search, with the fleet capped at its number of routes.
    """
    if data.num_vehicle_types != 1 or data.num_groups or not data.vehicle_type(0).fixed_cost:
        return data, None
    clients = [pyvrp.Client(c.location, delivery=list(c.delivery), pickup=list(c.pickup),
                            service_duration=c.service_duration, tw_early=c.tw_early,
                            tw_late=c.tw_late, release_time=c.release_time, required=True,
                            name=c.name) for c in data.clients()]
    required = data.replace(clients=clients)
    fleet = data.vehicle_type(0)
    best: list[list[int]] | None = None
    want = fleet.num_available
    while want >= 1 and time.perf_counter() < deadline:
        trial = required.replace(vehicle_types=[fleet.replace(num_available=want)])
        with warnings.catch_warnings():
            # A fleet too small is what this probes for: PyVRP's warning that its penalties hit
            # their bound is the expected answer, not news for the user.
            warnings.simplefilter("ignore", PenaltyBoundWarning)
            res = pyvrp.solve(trial, seed=seed, collect_stats=False,
                              stop=MultipleCriteria([FirstFeasible(), _Deadline(deadline)]))
        if not res.best.is_feasible():
            break
        routes = [[act.idx for act in r.schedule() if act.type == pyvrp.ActivityType.CLIENT]
                  for r in res.best.routes()]
        best = routes
        want = len(routes) - 1
    if best is None:
        return data, None
    capped = data.replace(vehicle_types=[fleet.replace(num_available=len(best))])
    return capped, pyvrp.Solution(capped, best)


def _data(
    problem: RoutingProblem, active: list[int]
) -> tuple[pyvrp.ProblemData, list[int], dict[int, list[int]]]:
    """Return the PyVRP data, the problem node of each client, and the vehicles of each type."""
    vehicles = problem.vehicles
    horizon = max(v.shift_end_s for v in vehicles)
    no_path = max(horizon + 1, 1) * 4 + 1
    multi_trip = any(v.max_trips > 1 for v in vehicles)
    delivery = np.asarray(problem.delivery, dtype=np.int64)
    pickup = np.asarray(problem.pickup, dtype=np.int64)
    dims = [d for d in range(3) if delivery[1:, d].any() or pickup[1:, d].any()]

    n1 = problem.n_stops + 1
    locations = [pyvrp.Location(0, 0) for _ in range(n1)]
    depot_windows = problem.windows_s[0]
    depot = pyvrp.Depot(
        0,
        tw_early=min((a for a, _ in depot_windows), default=0),
        tw_late=max((b for _, b in depot_windows), default=horizon),
        service_duration=problem.reload_s if multi_trip else 0,
    )
    clients: list[pyvrp.Client] = []
    groups: list[pyvrp.ClientGroup] = []
    client_node: list[int] = []
    for node in active:
        prize = routing.drop_penalty_of(problem, node)
        windows = sorted(problem.windows_s[node]) or [(0, horizon)]
        group = len(groups) if len(windows) > 1 else None
        members = []
        for a, b in windows:
            members.append(len(clients))
            clients.append(pyvrp.Client(
                node,
                delivery=[int(delivery[node, d]) for d in dims],
                pickup=[int(pickup[node, d]) for d in dims],
                service_duration=int(problem.service_s[node]),
                tw_early=int(a),
                tw_late=int(b),
                prize=prize,
                required=False,
                group=group,
                name=problem.stop_ids[node - 1],
            ))
            client_node.append(node)
        if group is not None:
            groups.append(pyvrp.ClientGroup(members, required=False))

    profiles = sorted({v.profile for v in vehicles})
    # Identical couriers share one vehicle type; routes come back per type, handed out to the
    # type's couriers in problem order.
    type_keys: dict[tuple[Any, ...], int] = {}
    type_members: dict[int, list[int]] = {}
    vehicle_types: list[pyvrp.VehicleType] = []
    for v, veh in enumerate(vehicles):
        key = (veh.profile, veh.capacity, veh.shift_start_s, veh.shift_end_s, veh.max_trips,
               veh.fixed_cost)
        if key not in type_keys:
            type_keys[key] = len(type_keys)
        type_members.setdefault(type_keys[key], []).append(v)
    for t in type_keys.values():
        v = type_members[t][0]
        veh = vehicles[v]
        vehicle_types.append(pyvrp.VehicleType(
            num_available=len(type_members[t]),
            capacity=[int(veh.capacity[d]) for d in dims],
            fixed_cost=int(veh.fixed_cost),
            tw_early=max(veh.shift_start_s, depot.tw_early),
            tw_late=min(veh.shift_end_s, depot.tw_late),
            unit_distance_cost=1,
            unit_duration_cost=1 if problem.objective == "time" else 0,
            profile=profiles.index(veh.profile),
            reload_depots=[0] if veh.max_trips > 1 else [],
            max_reloads=max(veh.max_trips - 1, 0),
            name=f"type{t}",
        ))
    # The "time" objective is OR-Tools': travel seconds on the arcs plus each route's span.
    # PyVRP's route duration alone leaves driving free while a courier waits for a window
    # (measured on the demo: 103 km against OR-Tools' 54 km for about the same hours), so its
    # "distance" carries travel seconds then; the trips report metres from the problem anyway.
    cost_of = problem.time_s if problem.objective == "time" else problem.distance_m
    distances: list[Any] = [np.minimum(np.asarray(cost_of[p], dtype=np.int64), no_path)
                            for p in profiles]
    durations: list[Any] = [np.minimum(np.asarray(problem.time_s[p], dtype=np.int64), no_path)
                 for p in profiles]
    data = pyvrp.ProblemData(locations, clients, [depot], vehicle_types, distances, durations,
                             groups=groups)
    return data, client_node, type_members
