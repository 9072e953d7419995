"""The PyVRP backend: the only module that imports ``pyvrp``.

PyVRP (iterated local search in C++) finds better routes than OR-Tools for the same wall time
on the literature benchmarks (see the README). It models capacities in several dimensions,
pickups, service times, time windows, shifts, several trips with reloads at the station,
vehicle profiles, fixed costs and optional stops with a penalty; lunch breaks are placed after
routing for both backends (:mod:`courier.routing.breaks`).

The translation, in one paragraph: one PyVRP location per problem node; one client per active
stop, or one per window in a mutually exclusive group when a stop has several; every client is
optional with its drop penalty as the prize; identical couriers share a vehicle type; a courier
with several trips may reload at the depot ``max_trips - 1`` times, the reload time being the
depot's service time (PyVRP puts it at the start of every trip, so the first trip leaves
``reload_s`` later than OR-Tools would let it: loading the first trip takes time too). A stop's
ready time (its truck's wave) is its release time; a route starts at the shift start, so a
courier whose first parcels are ready later waits for them through an empty first trip, which
takes one of the reloads (a one-trip courier's start is free instead). The
pre-checks and the schedule are shared (:func:`courier.routing.solve`), so both backends give
reasons and times the same way, and the same independent evaluator
(:func:`courier.routing.check_feasible`) checks both.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyvrp
from pyvrp.exceptions import PenaltyBoundWarning
from pyvrp.stop import FirstFeasible, MultipleCriteria

from courier.routing.backend import EXTRACT_RESERVE_S, Limits, Search
from courier.routing.problem import RoutingProblem, drop_penalty_of, no_path_cost

__all__ = ["BACKEND"]

logger = logging.getLogger(__name__)

# Share of the budget for cutting the fleet when a vehicle costs more than any route (the
# vehicles-first convention of the VRPTW benchmarks); the rest improves the distance.
FLEET_SHARE = 0.5
# Time kept back for turning PyVRP's routes into trips.
_EXTRACT_RESERVE_S = EXTRACT_RESERVE_S


class PyVrp:
    """PyVRP's iterated local search (C++), cutting the fleet first when vehicles cost."""

    name = "pyvrp"
    one_trip_waits = True

    def search(self, problem: RoutingProblem, active: Sequence[int],
               allowed: Mapping[int, Sequence[int]], limits: Limits) -> Search:
        """Translate the ``active`` stops to PyVRP, search (to the work bound when there is
        one, the deadline a cap; else to the deadline), and read the routes.

        ``allowed`` is not passed on: PyVRP finds by itself that a vehicle cannot serve a stop.
        """
        if not active or not problem.vehicles:
            return Search(trips=(), objective=0, status="NO_STOPS")
        t0 = time.perf_counter()
        active = sorted(active)
        data, client_node, type_members = _data(problem, active)
        work = None if limits.iterations is None else max(1, limits.iterations)
        # A deadline on our clock, not MaxRuntime: PyVRP starts that clock after its own set-up
        # (neighbourhoods, a first solution), measured at 0.3 s on 200 stops with windows.
        deadline = limits.deadline_s - _EXTRACT_RESERVE_S
        if work is None:
            fleet = _Budget(t0 + FLEET_SHARE * (deadline - t0), None)
        else:
            # Under a work bound the fleet's share is iterations too, so that whether the
            # fleet was cut does not depend on the machine's speed; the deadline only caps it.
            fleet = _Budget(deadline, int(FLEET_SHARE * work))
        data, start = _fleet_first(data, fleet, limits.seed)
        stop = _Budget(deadline, None if work is None else max(1, work - fleet.calls))
        with warnings.catch_warnings():
            if start is not None:
                # The fleet was cut to the fewest vehicles found, so the search works at the
                # edge of feasibility on purpose; it starts from a feasible solution and keeps
                # the best feasible one, so the penalty warning is not news for the user.
                warnings.simplefilter("ignore", PenaltyBoundWarning)
            result = pyvrp.solve(data, stop=stop, seed=limits.seed, collect_stats=False,
                                 initial_solution=start)
        best = result.best
        reasons: dict[int, str] = {}
        raw: list[tuple[int, int, tuple[int, ...]]] = []
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
            raw.extend(_trips_of(route, vehicle, client_node))
        served = {node for _, _, nodes in raw for node in nodes}
        # PyVRP's uncollected prizes count every unvisited window copy of a stop it served in
        # another window; the penalty is for the stops left out, once each.
        objective = int(best.distance_cost() + best.duration_cost() + best.fixed_vehicle_cost()
                        + sum(drop_penalty_of(problem, node)
                              for node in active if node not in served))
        # Without a work bound the deadline is the plan's end, not a cut. Under one, the fleet
        # probes and the search share the deadline, and PyVRP asks ``stop`` at least once, so
        # a fleet cut by the clock is a search cut too.
        cut = work is not None and stop.cut
        return Search(trips=tuple(raw), objective=objective,
                      status="FEASIBLE" if best.is_feasible() else "INFEASIBLE", reasons=reasons,
                      cut=cut)


BACKEND = PyVrp()


def _trips_of(route: Any, vehicle: int,
              client_node: Sequence[int]) -> list[tuple[int, int, tuple[int, ...]]]:
    """Return (vehicle, earliest depot departure, stop nodes) of each trip of a PyVRP route."""
    by_trip: dict[int, list[int]] = defaultdict(list)
    first_start: dict[int, int] = {}
    for act in route.schedule():
        if act.type == pyvrp.ActivityType.CLIENT:
            by_trip[act.trip].append(client_node[act.idx])
        elif act.type == pyvrp.ActivityType.DEPOT:
            first_start.setdefault(act.trip, int(act.end_time))
    return [(vehicle, first_start.get(trip_no, 0), tuple(by_trip[trip_no]))
            for trip_no in sorted(by_trip)]


class _Budget:
    """A PyVRP stopping criterion: stop after ``iterations`` calls (one per iteration) or when
    the clock passes ``deadline``, whichever comes first; ``cut`` says it was the clock.

    One object may serve several solves (the fleet probes): the calls add up.
    """

    def __init__(self, deadline: float, iterations: int | None) -> None:
        self.deadline = deadline
        self.iterations = iterations
        self.calls = 0
        self.cut = False

    def spent(self) -> bool:
        """Whether the work or the time is used up (every iteration, and between solves)."""
        if time.perf_counter() >= self.deadline:
            self.cut = True
        return self.cut or (self.iterations is not None and self.calls >= self.iterations)

    def __call__(self, best_cost: int) -> bool:
        self.calls += 1
        return self.spent()


def _fleet_first(data: pyvrp.ProblemData, budget: _Budget,
                 seed: int) -> tuple[pyvrp.ProblemData, pyvrp.Solution | None]:
    """Cut the fleet while every stop can still be served; return it and a solution using it.

    Only when there is one kind of vehicle, with a fixed cost, and no stop with several
    windows. PyVRP's search with a fixed cost per vehicle rarely empties a whole route (measured
    on Gehring-Homberger 200-400 at 30 s: 7 vehicles over the best known on 8 instances), so
    this does what ``pyvrp.minimise_fleet`` does, with every stop required: solve to the first
    feasible solution with one vehicle fewer, again and again, until that fails or the
    ``budget`` (iterations or time) is used up.
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
    while want >= 1 and not budget.spent():
        trial = required.replace(vehicle_types=[fleet.replace(num_available=want)])
        with warnings.catch_warnings():
            # A fleet too small is what this probes for: PyVRP's warning that its penalties hit
            # their bound is the expected answer, not news for the user.
            warnings.simplefilter("ignore", PenaltyBoundWarning)
            res = pyvrp.solve(trial, seed=seed, collect_stats=False,
                              stop=MultipleCriteria([FirstFeasible(), budget]))
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
    horizon = problem.horizon_s
    no_path = no_path_cost(horizon)
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
    # PyVRP holds a trip's start at the depot (its service, the loading, comes after) until
    # the latest release time of its clients; a trip leaves ``ready_s`` or later when the
    # release is the ready time less that service.
    depot_service = problem.reload_s if multi_trip else 0
    ready = np.asarray(problem.ready_s, dtype=np.int64)
    for node in active:
        prize = drop_penalty_of(problem, node)
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
                release_time=max(int(ready[node]) - depot_service, 0),
                prize=prize,
                required=False,
                group=group,
                name=problem.stop_ids[node - 1],
            ))
            client_node.append(node)
        if group is not None:
            groups.append(pyvrp.ClientGroup(members, required=False))

    late = problem.has_ready
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
            # As in OR-Tools: a station's route starts at the shift start, so its duration is
            # the paid day and a late start gains nothing (see courier.routing.ortools).
            # A one-trip courier whose parcels come later waits for them at the station: no
            # reload to wait through, so the start is free (the wait is then not charged).
            start_late=(max(veh.shift_start_s, depot.tw_early)
                        if problem.objective == "time" and (veh.max_trips > 1 or not late)
                        else None),
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
    distances: list[Any] = [np.minimum(problem.cost_matrix(p), no_path) for p in profiles]
    durations: list[Any] = [np.minimum(np.asarray(problem.time_s[p], dtype=np.int64), no_path)
                 for p in profiles]
    data = pyvrp.ProblemData(locations, clients, [depot], vehicle_types, distances, durations,
                             groups=groups)
    return data, client_node, type_members
