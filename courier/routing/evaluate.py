"""The independent evaluator: every rule of a routing problem checked again, without a solver.

It shares no code with the backends or the schedule (only the problem and result types), so a
bug in either shows up here as a violation rather than agreeing with itself.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from courier.model import REASONS
from courier.routing.problem import Break, RoutedTrip, RoutingProblem, RoutingResult

__all__ = ["check_feasible"]


def check_feasible(problem: RoutingProblem, result: RoutingResult) -> list[str]:
    """List every violation of the problem's rules by a result, recomputed without OR-Tools.

    Checks capacity (on-board load with pickups, loaded at the depot), windows, shifts, ready
    times (no trip leaves before a stop on it is ready), times
    and distances as reported, trips of one courier in order and ``reload_s`` apart, breaks in
    their windows and outside every visit, every stop served at most once, and every stop
    either served or dropped exactly once.

    Returns
    -------
    list[str]
        One message per violation; empty if the result is feasible.
    """
    out: list[str] = []
    brk_of: dict[int, Break] = {}
    for one in result.breaks:
        if one.vehicle in brk_of:
            out.append(f"vehicle {one.vehicle}: more than one break")
        brk_of[one.vehicle] = one
    seen: dict[int, int] = {}
    by_vehicle: dict[int, list[RoutedTrip]] = {}
    for ti, trip in enumerate(result.trips):
        where = f"trip #{ti} (vehicle {trip.vehicle}, trip {trip.trip})"
        problems = _trip_shape(problem, trip, where)
        out.extend(problems)
        if problems:
            continue
        by_vehicle.setdefault(trip.vehicle, []).append(trip)
        for node in trip.nodes:
            seen[node] = seen.get(node, 0) + 1
        out.extend(_trip_times(problem, trip, brk_of.get(trip.vehicle), where))
        out.extend(_trip_load(problem, trip, where))
    for v in range(len(problem.vehicles)):
        out.extend(_check_break(problem, v, by_vehicle.get(v, []), brk_of.get(v)))
    for v, trips in by_vehicle.items():
        out.extend(_vehicle_day(problem, v, trips, brk_of.get(v)))
    out.extend(_coverage(problem, result, seen))
    return out


def _trip_shape(problem: RoutingProblem, trip: RoutedTrip, where: str) -> list[str]:
    """Return why the trip cannot be checked further (empty when it can)."""
    if not 0 <= trip.vehicle < len(problem.vehicles):
        return [f"{where}: no such vehicle"]
    if not trip.nodes:
        return [f"{where}: empty trip"]
    k = len(trip.nodes)
    if not (len(trip.arrival_s) == len(trip.start_s) == len(trip.departure_s) == k):
        return [f"{where}: per-node times do not match the nodes"]
    n = problem.n_stops
    if any(not 1 <= node <= n for node in trip.nodes):
        return [f"{where}: node outside 1..{n}: {trip.nodes}"]
    return []


def _trip_times(problem: RoutingProblem, trip: RoutedTrip, brk: Break | None,
                where: str) -> list[str]:
    """Paths, arrivals, windows, departures, return, shift and distance of one trip."""
    out: list[str] = []
    veh = problem.vehicles[trip.vehicle]
    t = problem.time_s[veh.profile]
    d = problem.distance_m[veh.profile]
    path = [0, *trip.nodes, 0]
    out.extend(f"{where}: no path from node {a} to node {b}"
               for a, b in itertools.pairwise(path)
               if t[a, b] >= problem.unreachable or d[a, b] >= problem.unreachable)
    if trip.depart_s < veh.shift_start_s:
        out.append(f"{where}: departs at {trip.depart_s} before shift start")
    late = [node for node in trip.nodes if int(problem.ready_s[node]) > trip.depart_s]
    if late:
        out.append(f"{where}: departs at {trip.depart_s} before node(s) {late} are ready "
                   f"(ready at {max(int(problem.ready_s[n]) for n in late)})")
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
    return out


def _trip_load(problem: RoutingProblem, trip: RoutedTrip, where: str) -> list[str]:
    """The load on board at every point of the trip against the capacity, and as reported."""
    out: list[str] = []
    cap = np.asarray(problem.vehicles[trip.vehicle].capacity, dtype=np.int64)
    on_board = problem.delivery[list(trip.nodes)].sum(axis=0)
    peak = on_board.copy()
    for node in trip.nodes:
        on_board = on_board - problem.delivery[node] + problem.pickup[node]
        peak = np.maximum(peak, on_board)
    if bool(np.any(peak > cap)):
        out.append(f"{where}: peak load {peak.tolist()} over capacity {cap.tolist()}")
    if tuple(int(x) for x in peak) != tuple(trip.load):
        out.append(f"{where}: reported load {trip.load} != peak {peak.tolist()}")
    return out


def _vehicle_day(problem: RoutingProblem, v: int, trips: Sequence[RoutedTrip],
                 lunch: Break | None) -> list[str]:
    """A courier's trips: how many, numbered in time order, a reload (and lunch) apart."""
    out: list[str] = []
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
        if (lunch is not None and _in_gap(lunch, before.return_s, after.depart_s)
                and after.depart_s - before.return_s < problem.reload_s + lunch.duration_s):
            out.append(f"vehicle {v}: break overlaps the reload before trip {after.trip}")
    return out


def _coverage(problem: RoutingProblem, result: RoutingResult, seen: dict[int, int]) -> list[str]:
    """Every stop served at most once, dropped at most once, and one or the other."""
    out = [f"node {node} served {count} times" for node, count in seen.items() if count > 1]
    n = problem.n_stops
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
