"""VROOM (through ``pyvroom``) as the benchmark's baseline: the same instance, the same budget.

The routing issue asks our engine to beat VROOM at the same wall time per instance. Quoting
someone else's figures leaves the conventions unknown (does VROOM count vehicles first?), so
``courier bench vrplib --baseline vroom`` solves each instance with VROOM too, on the same
integer matrices and with the same fixed cost per vehicle, and scores both with the same
independent evaluator. This is a benchmark baseline, not a station backend: it covers what
the literature instances have (one vehicle profile, one trip per vehicle, capacities, service
times, windows, shifts, a fixed cost) and refuses the rest.
"""

from __future__ import annotations

import time
from datetime import timedelta

import numpy as np

from courier.routing.problem import RoutingProblem

__all__ = ["solve_routes"]

# VROOM's matrices are unsigned 32-bit integers.
_UINT32_MAX = int(np.iinfo(np.uint32).max)


def solve_routes(problem: RoutingProblem, *, time_limit_s: float) -> list[list[int]]:
    """Solve ``problem`` with VROOM on one thread; return each used vehicle's stop nodes.

    Exploration level 5 (VROOM's most thorough search) with VROOM's own timeout set to what is
    left of ``time_limit_s`` after building its input.

    Raises
    ------
    ValueError
        The problem has something the baseline does not translate (several profiles or
        trips, pickups) or numbers beyond VROOM's 32-bit matrices.
    """
    import vroom  # optional: the ``bench`` extra

    t0 = time.perf_counter()
    profiles = {v.profile for v in problem.vehicles}
    if len(profiles) != 1 or any(v.max_trips > 1 for v in problem.vehicles) \
            or problem.pickup.any():
        raise ValueError("the VROOM baseline takes one profile, one trip per vehicle, no pickups")
    (profile,) = profiles
    travel = problem.time_s[profile]
    cost = problem.cost_matrix(profile)
    if max(int(travel.max()), int(cost.max())) > _UINT32_MAX:
        raise ValueError("the VROOM baseline needs matrices below 2**32")
    inp = vroom.Input()
    inp.set_durations_matrix("car", travel.astype(np.uint32))
    inp.set_costs_matrix("car", cost.astype(np.uint32))
    for k, veh in enumerate(problem.vehicles):
        inp.add_vehicle(vroom.Vehicle(
            k, start=0, end=0, capacity=list(veh.capacity),
            time_window=vroom.TimeWindow(veh.shift_start_s, veh.shift_end_s),
            costs=vroom.VehicleCosts(fixed=veh.fixed_cost),
        ))
    for node in range(1, problem.n_stops + 1):
        inp.add_job(vroom.Job(
            node, location=node, default_service=int(problem.service_s[node]),
            delivery=[int(x) for x in problem.delivery[node]],
            time_windows=[vroom.TimeWindow(a, b) for a, b in problem.windows_s[node]],
        ))
    left_s = max(0.0, time_limit_s - (time.perf_counter() - t0))
    solution = inp.solve(exploration_level=5, nb_threads=1, timeout=timedelta(seconds=left_s))
    steps = solution.routes
    jobs = steps[steps["type"] == "job"]
    return [[int(node) for node in group["id"]] for _, group in jobs.groupby("vehicle_id", sort=True)]
