"""Schedules: the earliest times of a courier's trips, given which stops go in which trip.

Every backend only says which stops go in which trip and when a trip may leave at the
earliest; :func:`schedule_trips` gives them times the same way for all of them.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from courier.routing.problem import RoutedTrip, RoutingProblem

__all__ = ["earliest_start", "schedule_trips", "trip_stats"]


def earliest_start(windows: tuple[tuple[int, int], ...], arrival_s: int) -> int | None:
    """Return the earliest start of service at or after ``arrival_s``, None if all closed."""
    if not windows:
        return arrival_s
    starts = [max(a, arrival_s) for a, b in windows if b >= arrival_s]
    return min(starts) if starts else None


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
        start = earliest_start(problem.windows_s[node], arrival)
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


def trip_stats(
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
        dist, load = trip_stats(problem, v, nodes)
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
