"""The backend protocol: what a routing solver is given and what it gives back, and the registry.

A backend only searches: :func:`courier.routing.solve` (the problem was checked when it was
built) runs the pre-checks once, places lunch breaks, runs several seeds in parallel and turns
what the backend found into scheduled trips with reason codes, the same way for every backend.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from courier.routing.problem import RoutingProblem

__all__ = ["BACKENDS", "EXTRACT_RESERVE_S", "FIRST_SOLUTION_NAMES", "ITERATIONS_PER_SOLUTION",
           "Backend", "Limits", "Search", "get_backend"]

# Time a backend keeps back from its deadline for turning its solution into trips.
EXTRACT_RESERVE_S = 0.05
# PyVRP iterations per unit of ``solution_limit``, and per OR-Tools solution of a work bound:
# neither solver counts the other's unit, so :func:`courier.routing.solve` turns a solution
# limit into iterations and the OR-Tools backend turns iterations back into solutions.
ITERATIONS_PER_SOLUTION = 200
# OR-Tools construction heuristics a caller may ask for ("auto": chosen by the problem).
FIRST_SOLUTION_NAMES = (
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
class Limits:
    """How long and how hard a backend may search.

    ``deadline_s`` is a moment of :func:`time.perf_counter` in the calling process: a hard
    cap. ``iterations`` (PyVRP's unit of work; OR-Tools gets one solution per
    ``ITERATIONS_PER_SOLUTION``), when given, bounds the search by work, so that it depends
    only on the input and the seed when the deadline does not cut it first.
    ``first_solution`` names an OR-Tools construction heuristic (``"auto"``: by the problem);
    other backends ignore it.
    """

    deadline_s: float
    seed: int = 0
    first_solution: str = "auto"
    iterations: int | None = None


@dataclass(frozen=True, slots=True)
class Search:
    """What a backend found.

    ``trips`` are ``(vehicle, earliest depot departure, stop nodes)`` per trip, in any order;
    ``found`` is False when the search found no solution at all in its time (the stops it did
    not serve are then ``no_solution``, not ``dropped``); ``reasons`` gives stops the backend
    left out for a reason of its own. ``cut`` is True when the deadline ended the search before
    its work bound (then a rerun may find another solution).
    """

    trips: tuple[tuple[int, int, tuple[int, ...]], ...]
    objective: int
    status: str
    found: bool = True
    reasons: Mapping[int, str] = field(default_factory=dict)
    cut: bool = False


class Backend(Protocol):
    """A routing solver: one function from a checked problem to the stops of each trip."""

    name: str
    # Whether a courier with a single trip can wait at the station for parcels ready later
    # (the pre-checks give such a courier no later stop when it cannot).
    one_trip_waits: bool

    def search(self, problem: RoutingProblem, active: Sequence[int],
               allowed: Mapping[int, Sequence[int]], limits: Limits) -> Search:
        """Route the ``active`` stops (each on one of its ``allowed`` vehicles) within ``limits``."""
        ...


# Name -> module holding a ``BACKEND``. Imported on first use: PyVRP is not loaded for an
# OR-Tools plan, and no backend module imports the code that dispatches to it.
BACKENDS: dict[str, str] = {
    "ortools": "courier.routing.ortools",
    "pyvrp": "courier.routing.pyvrp",
}
# Every name of courier.config.Solver has a backend here (tests check it).


def get_backend(name: str) -> Backend:
    """Return the backend registered as ``name`` (ValueError naming the choices otherwise)."""
    if name not in BACKENDS:
        raise ValueError(f"solver must be one of {tuple(BACKENDS)}, got {name!r}")
    backend: Backend = importlib.import_module(BACKENDS[name]).BACKEND
    return backend
