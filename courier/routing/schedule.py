"""Schedules: the earliest times of a courier's trips, given which stops go in which trip.

Every backend only says which stops go in which trip and when a trip may leave at the
earliest; :func:`schedule_trips` gives them times the same way for all of them.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from courier.routing.problem import RoutedTrip, RoutingProblem, working_s

__all__ = ["earliest_start", "schedule_trips", "trip_stats"]


def earliest_start(windows: tuple[tuple[int, int], ...], arrival_s: int) -> int | None:
    """Return the earliest start of service at or after ``arrival_s``, None if all closed."""
    if not windows:
        return arrival_s
    starts = [max(a, arrival_s) for a, b in windows if b >= arrival_s]
    return min(starts) if starts else None


_Times = tuple[list[int], list[int], list[int], int, int]  # arrivals, starts, departures, out, back


def _earliest(problem: RoutingProblem, vehicle: int, nodes: Sequence[int],
              depart_s: int) -> _Times | None:
    """The earliest schedule of one trip leaving at ``depart_s``: each visit starts at the first
    window moment at or after the arrival; None if a visit finds all its windows closed."""
    t = problem.time_s[problem.vehicles[vehicle].profile]
    arrivals: list[int] = []
    starts: list[int] = []
    departures: list[int] = []
    now, prev = depart_s, 0
    for node in nodes:
        arrival = now + int(t[prev, node])
        start = earliest_start(problem.windows_s[node], arrival)
        if start is None:
            return None
        arrivals.append(arrival)
        starts.append(start)
        now = start + int(problem.service_s[node])
        departures.append(now)
        prev = node
    return arrivals, starts, departures, depart_s, now + int(t[prev, 0])


def _schedule(problem: RoutingProblem, vehicle: int, nodes: Sequence[int],
              depart_s: int) -> _Times:
    """Return arrival, start, departure per node, the depart and return time of one trip.

    The trip comes back as early as it can from ``depart_s`` (the earliest schedule), and
    leaves the station as late as it can without coming back later: a courier whose first
    visits would wait for a window waits at the station, where they can load and sort,
    instead. Long waits were split off first (:func:`_split_waits`): the visits before them
    go out as soon as the courier can leave. What waiting is left sits between two visits
    that windows pin down, in a courier's last trip.
    """
    first = _earliest(problem, vehicle, nodes, depart_s)
    if first is None:  # cannot happen for a solver's route: the evaluator would say so
        return _as_arrived(problem, vehicle, nodes, depart_s)
    back_s = first[4]
    # The return is non-decreasing in the departure: search the latest one that keeps it.
    lo, hi = depart_s, back_s
    while lo < hi:
        mid = (lo + hi + 1) // 2
        late = _earliest(problem, vehicle, nodes, mid)
        if late is not None and late[4] <= back_s:
            lo = mid
        else:
            hi = mid - 1
    best = _earliest(problem, vehicle, nodes, lo)
    return best if best is not None else first


def _as_arrived(problem: RoutingProblem, vehicle: int, nodes: Sequence[int],
                depart_s: int) -> _Times:
    """Each visit started on arrival, windows or not (for a route no window admits)."""
    t = problem.time_s[problem.vehicles[vehicle].profile]
    arrivals: list[int] = []
    departures: list[int] = []
    now, prev = depart_s, 0
    for node in nodes:
        now += int(t[prev, node])
        arrivals.append(now)
        now += int(problem.service_s[node])
        departures.append(now)
        prev = node
    return arrivals, list(arrivals), departures, depart_s, now + int(t[prev, 0])


def _by_vehicle(raw: Sequence[tuple[int, int, Sequence[int]]],
                ) -> list[tuple[int, list[tuple[int, Sequence[int]]]]]:
    """(vehicle, its trips as (departure, nodes) in departure order), by vehicle."""
    by_vehicle: dict[int, list[tuple[int, Sequence[int]]]] = {}
    for v, depart, nodes in raw:
        by_vehicle.setdefault(v, []).append((depart, nodes))
    return [(v, sorted(trips, key=lambda tr: tr[0])) for v, trips in sorted(by_vehicle.items())]


def _split_waits(problem: RoutingProblem, raw: Sequence[tuple[int, int, Sequence[int]]],
                 ) -> list[tuple[int, int, Sequence[int]]]:
    """Split trips at long door waits (the longest first) while the courier has trips left."""
    out: list[tuple[int, int, Sequence[int]]] = []
    for v, trips in _by_vehicle(raw):
        while len(trips) < problem.vehicles[v].max_trips:
            cut = _longest_split(problem, v, trips)
            if cut is None:
                break
            k, i, second_depart_s = cut
            depart, nodes = trips[k]
            trips[k:k + 1] = [(depart, nodes[:i]), (second_depart_s, nodes[i:])]
        out.extend((v, depart, nodes) for depart, nodes in trips)
    return out


def _longest_split(problem: RoutingProblem, v: int, trips: Sequence[tuple[int, Sequence[int]]],
                   ) -> tuple[int, int, int] | None:
    """Return (trip, visit, departure of the second part) of the longest door wait that a
    return to the station can take, or None."""
    t = problem.time_s[problem.vehicles[v].profile]
    best: tuple[int, int, int, int] | None = None  # wait, trip, visit, second departure
    back = None
    for k, (depart, nodes) in enumerate(trips):
        leave = depart if back is None else max(depart, back + problem.reload_s)
        times = _earliest(problem, v, nodes, leave)
        if times is None:
            return None
        arrivals, starts, departures, _, back = times
        for i in range(1, len(nodes)):
            wait = starts[i] - arrivals[i]
            out_again = departures[i - 1] + int(t[nodes[i - 1], 0]) + problem.reload_s
            if (wait >= SPLIT_WAIT_S and out_again + int(t[0, nodes[i]]) <= starts[i]
                    and (best is None or wait > best[0])):
                best = (wait, k, i, out_again)
    return None if best is None else best[1:]


def _split_ready(problem: RoutingProblem, raw: Sequence[tuple[int, int, Sequence[int]]],
                 ) -> list[tuple[int, int, Sequence[int]]]:
    """Send a courier idle at the station out with the parcels that are ready.

    A trip that waits at the station for a later wave while it carries parcels ready before
    it gives those parcels a trip of their own, as soon as the courier is back (or the shift
    starts), when the courier has a trip left and that trip is back, reloaded, before the
    wave's trip leaves, with no door wait longer than :data:`SPLIT_WAIT_S`. The later trip
    keeps its departure and its order (without those stops it is back no later). Both solvers
    see no gain in it: the paid day ends when it ends either way; the recipients and a
    station that wants its couriers out do.
    """
    out: list[tuple[int, int, Sequence[int]]] = []
    for v, trips in _by_vehicle(raw):
        k, free_s = 0, working_s(problem, problem.vehicles[v])[0]
        while k < len(trips):
            depart, nodes = trips[k]
            early = [n for n in nodes if int(problem.ready_s[n]) <= free_s]
            rest = [n for n in nodes if int(problem.ready_s[n]) > free_s]
            times = (_earliest(problem, v, early, free_s)
                     if early and rest and len(trips) < problem.vehicles[v].max_trips else None)
            if (times is not None and times[4] + problem.reload_s <= depart
                    and all(b - a <= SPLIT_WAIT_S for a, b in zip(times[0], times[1],
                                                                   strict=True))):
                trips[k:k + 1] = [(free_s, early), (depart, rest)]
                k += 1
                depart, nodes = trips[k]
            times = _earliest(problem, v, nodes, depart)
            free_s = (times[4] if times is not None else depart) + problem.reload_s
            k += 1
        out.extend((v, depart, nodes) for depart, nodes in trips)
    return out


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


# A courier who would wait at least this long at a door goes back to the station instead and
# comes out again for that visit, when the way back, the reload and the way out fit in the
# wait and the courier has a trip left. The waits are those of the earliest schedule (leaving
# as soon as the courier can), so the visits before the wait go out early rather than the
# whole trip leaving late. Both solvers are indifferent to where a courier waits
# (a wait costs the same at the station as at a door), and the paid day pins the waits that
# windows force: measured on a 1,500-parcel Futian day, 42 % of the paid day stood at doors,
# 248 min at one door.
SPLIT_WAIT_S = 1800


def schedule_trips(problem: RoutingProblem,
                   raw: Sequence[tuple[int, int, Sequence[int]]]) -> list[RoutedTrip]:
    """Turn (vehicle, earliest depot departure, stop nodes) per trip into scheduled trips.

    Trips are renumbered per courier in time order and given the earliest schedule (see
    :func:`_schedule`); each backend only says which stops go in which trip, and when a trip
    may leave at the earliest. A long wait at a door becomes a return to the station and a
    new trip where that fits (:data:`SPLIT_WAIT_S`): the visits keep their times.
    """
    # No trip leaves before its parcels are ready (a backend may report the shift start).
    raw = [(v, max(depart, problem.trip_ready_s(nodes)), nodes) for v, depart, nodes in raw]
    if problem.has_ready:
        raw = _split_ready(problem, raw)
    raw = sorted(_split_waits(problem, raw), key=lambda r: (r[0], r[1]))
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
