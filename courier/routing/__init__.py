"""Vehicle routing: the problem, the pre-checks, the backends, the schedule and the evaluator.

``solve`` is the entry: it runs every backend (:data:`BACKENDS`: OR-Tools, PyVRP) with the
same checks, reason codes and schedules. ``check_feasible`` is the independent evaluator.
"""

from courier.routing.backend import BACKENDS, FIRST_SOLUTION_NAMES, Backend, Limits, Search, get_backend
from courier.routing.breaks import place_breaks, without_breaks
from courier.routing.evaluate import check_feasible
from courier.routing.prechecks import prechecks
from courier.routing.problem import (
    PRIORITY_FACTOR,
    Break,
    Drop,
    RoutedTrip,
    RoutingProblem,
    RoutingResult,
    Vehicle,
    drop_penalty_of,
    lunch_of,
    problem_from_stops,
    working_s,
)
from courier.routing.schedule import schedule_trips
from courier.routing.solve import solve

__all__ = [
    "BACKENDS",
    "FIRST_SOLUTION_NAMES",
    "PRIORITY_FACTOR",
    "Backend",
    "Break",
    "Drop",
    "Limits",
    "RoutedTrip",
    "RoutingProblem",
    "RoutingResult",
    "Search",
    "Vehicle",
    "check_feasible",
    "drop_penalty_of",
    "get_backend",
    "lunch_of",
    "place_breaks",
    "prechecks",
    "problem_from_stops",
    "schedule_trips",
    "solve",
    "without_breaks",
    "working_s",
]
