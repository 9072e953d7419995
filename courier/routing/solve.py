"""solve(): one entry for every backend, so each runs with the same checks, reasons and times.

In order (the problem itself was checked when it was built): the arguments are checked; lunch
breaks are taken out (routes are searched without them, :mod:`courier.routing.breaks`); the
pre-checks run once and give reason codes to the stops no courier can serve; the backend
searches the rest (several seeds in parallel processes with ``workers`` > 1, the best kept);
its trips get their schedule; every stop not on a trip gets a reason; the breaks are placed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

from courier import procs
from courier.routing.backend import (
    BACKENDS,
    FIRST_SOLUTION_NAMES,
    ITERATIONS_PER_SOLUTION,
    Limits,
    Search,
    get_backend,
)
from courier.routing.breaks import place_breaks, without_breaks
from courier.routing.prechecks import prechecks
from courier.routing.problem import Drop, RoutingProblem, RoutingResult
from courier.routing.schedule import schedule_trips

__all__ = ["solve"]

# Placing lunch breaks is a few sweeps over each courier's stops: the share of the time kept.
_BREAKS_SHARE = 0.02
# The least time a search is given, however late it starts.
_MIN_SEARCH_S = 0.01
# Time kept back in a parallel run for the processes to send their results back.
_PARALLEL_RESERVE_S = 0.05


def solve(
    problem: RoutingProblem,
    *,
    time_limit_s: float,
    seed: int = 0,
    solution_limit: int | None = None,
    first_solution: str = "auto",
    workers: int = 1,
    solver: str = "ortools",
    iterations: int | None = None,
) -> RoutingResult:
    """Route the stops over the couriers' trips; return trips, drops with reasons, objective.

    Parameters
    ----------
    problem
        The problem (checked when it was built).
    time_limit_s
        Wall-clock budget in seconds for the whole call, model building included.
    seed
        Seeds the search: OR-Tools permutes the stops in its model (it has no random seed, so
        the order only breaks ties; seed 0 keeps the input order), PyVRP seeds its own search.
    solution_limit
        Stop after this many improving solutions (PyVRP: a number of iterations). With it the
        result depends only on the input and the seed (byte for byte), provided the time
        limit is not reached first.
    first_solution
        ``"auto"`` (insertion with windows or several trips, otherwise cheapest arc) or the
        name of an OR-Tools ``FirstSolutionStrategy``; other backends ignore it.
    workers
        With more than one, that many searches run in separate processes with the seeds
        ``seed, seed + 1, ...`` and the best result wins, ties to the lowest seed. Processes,
        not threads: OR-Tools' search is single-threaded and its Python binding keeps the GIL
        (measured: two threads time out together). The pipeline keeps 1 here and runs
        districts in parallel instead.
    solver
        A name of :data:`courier.routing.backend.BACKENDS`.
    iterations
        A work bound in PyVRP iterations (OR-Tools: one solution per
        :data:`~courier.routing.backend.ITERATIONS_PER_SOLUTION`), over ``solution_limit``.
        The time limit stays a hard cap; ``cut`` in the result says when it ended the search.

    Returns
    -------
    RoutingResult
        Trips renumbered ``1..`` per courier in time order; every stop not on a trip is in
        ``drops`` exactly once.
    """
    t0 = time.perf_counter()
    _check_arguments(time_limit_s=time_limit_s, first_solution=first_solution,
                     workers=workers, solver=solver)
    plain = without_breaks(problem) if any(v.break_s for v in problem.vehicles) else problem
    share = 1 - _BREAKS_SHARE if plain is not problem else 1.0
    deadline = max(t0 + time_limit_s * share, time.perf_counter() + _MIN_SEARCH_S)
    reasons, allowed = prechecks(plain, one_trip_waits=get_backend(solver).one_trip_waits)
    active = sorted(allowed)
    if iterations is None and solution_limit is not None:
        iterations = solution_limit * ITERATIONS_PER_SOLUTION
    limits = Limits(deadline_s=deadline, seed=seed, first_solution=first_solution,
                    iterations=iterations)
    if workers > 1 and active:
        found = _search_parallel(plain, active, allowed, limits, solver=solver, workers=workers)
    else:
        found = get_backend(solver).search(plain, active, allowed, limits)
    result = _finish(plain, {**reasons, **found.reasons}, active, found, t0=t0)
    if plain is not problem:
        result = replace(place_breaks(problem, result), solve_s=time.perf_counter() - t0)
    return result


def _check_arguments(*, time_limit_s: float, first_solution: str, workers: int,
                     solver: str) -> None:
    if time_limit_s <= 0:
        raise ValueError(f"time_limit_s must be > 0, got {time_limit_s}")
    if first_solution not in FIRST_SOLUTION_NAMES:
        raise ValueError(f"first_solution must be one of {FIRST_SOLUTION_NAMES}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if solver not in BACKENDS:
        raise ValueError(f"solver must be one of {tuple(BACKENDS)}, got {solver!r}")


def _finish(problem: RoutingProblem, reasons: Mapping[int, str], active: Sequence[int],
            found: Search, *, t0: float) -> RoutingResult:
    """Schedule the backend's trips and give every active stop not on a trip a reason.

    That is ``dropped`` (left out at a penalty) when the backend found a solution, and
    ``no_solution`` when it found none in its time: more time, not more couriers, helps then.
    """
    trips = schedule_trips(problem, [(v, depart, list(nodes)) for v, depart, nodes in found.trips])
    served = {node for trip in trips for node in trip.nodes}
    unserved = "dropped" if found.found else "no_solution"
    drops = dict(reasons)
    drops.update({node: unserved for node in active if node not in served and node not in drops})
    return RoutingResult(
        trips=tuple(trips),
        drops=tuple(Drop(node, drops[node]) for node in sorted(drops)),
        objective=found.objective,
        solve_s=time.perf_counter() - t0,
        status=found.status,
        cut=found.cut,
    )


def _search_in_process(problem: RoutingProblem, active: Sequence[int],
                       allowed: Mapping[int, Sequence[int]], limits: Limits, deadline_wall_s: float,
                       solver: str) -> Search:
    # Deadlines cross processes as wall-clock time; each process turns it into its own clock.
    here = replace(limits, deadline_s=time.perf_counter() + max(deadline_wall_s - time.time(),
                                                                _MIN_SEARCH_S))
    return get_backend(solver).search(problem, active, allowed, here)


def _search_parallel(problem: RoutingProblem, active: Sequence[int],
                     allowed: Mapping[int, Sequence[int]], limits: Limits, *, solver: str,
                     workers: int) -> Search:
    """Run ``workers`` seeded searches in processes and return the best (lowest objective)."""
    deadline_wall = time.time() + (limits.deadline_s - time.perf_counter()) - _PARALLEL_RESERVE_S
    ctx = procs.forkserver()
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = [pool.submit(_search_in_process, problem, active, allowed,
                               replace(limits, seed=limits.seed + k), deadline_wall, solver)
                   for k in range(workers)]
        results = [f.result() for f in futures]
    # A search that found no solution reports objective 0 with every stop left out: rank it last.
    best = min(results, key=lambda r: (not r.found or not r.trips, r.objective))
    # One seed cut by the clock may have beaten the winner on a rerun.
    return replace(best, cut=any(r.cut for r in results))
