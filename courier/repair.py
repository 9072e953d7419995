"""Repair: a stop about to be left out is tried in the final day of the couriers nearest it.

The district searches work one district at a time and in limited time, so a stop one district
drops may fit in a neighbour's day. After routing, each dropped stop is inserted where it
lengthens a courier's day least, among the nearest couriers (``nearest``; every courier of a
small roster): the cheapest positions of every trip, and a trip of its own when the courier
has one left. A position stands only if the whole day, lunch placed again, passes the
independent evaluator (:func:`courier.routing.check_feasible`). A stop that fits nowhere
stays ``dropped``: no courier tried could take it.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from courier import routing
from courier.config import PlanConfig
from courier.model import Courier, Snap, Stop, StreetGraph, Trip
from courier.routes import DistrictTask, matrices_of, to_trip

__all__ = ["Repaired", "Where", "repair"]

# Positions per trip that get a full schedule, the cheapest detours first: a stop inserted
# far from where it fits best never wins.
_POSITIONS_PER_TRIP = 8
# Positions, best first without lunch, that get the lunch placed and the evaluator's check:
# placing the lunch is the slow part, and it rarely changes which position is best.
_CHECKED = 3
# Time kept per changed day for writing it out (its street paths) before the deadline.
_FINAL_S = 0.5


@dataclass(frozen=True, slots=True)
class Repaired:
    """The days after repair: trips and lunches of every courier, the stops taken in, those
    tried, and whether the deadline came before every left-out stop was tried."""

    trips: tuple[Trip, ...]
    breaks: Mapping[str, tuple[int, int]]
    inserted: tuple[str, ...]
    tried: tuple[str, ...]
    out_of_time: bool = False


@dataclass(slots=True)
class _Day:
    """One courier's day while stops are tried in it.

    The routing problem holds the courier's stops and every dropped stop that may come to
    them (nodes ``1..``, in that order), built once; ``raw`` is the day as (earliest
    departure, nodes) per trip. ``plain`` is the problem without the lunch break, built with
    it: every position tried is scheduled on it first.
    """

    courier: Courier
    stops: list[Stop]
    raw: list[tuple[int, list[int]]]
    changed: bool = False
    problem: routing.RoutingProblem | None = None
    plain: routing.RoutingProblem | None = None
    matrices: dict[str, Any] = field(default_factory=dict)
    node_of: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Where:
    """Where the days are: the station's snap, the street graphs (per vehicle profile), the
    profile the stops were snapped on, and the plan's configuration (service, lunch, reload)."""

    station: Snap
    graphs: Mapping[str, StreetGraph]
    snap_profile: str
    config: PlanConfig


def repair(*, couriers: Sequence[Courier], trips: Sequence[Trip],
           breaks: Mapping[str, tuple[int, int]], dropped: Sequence[Stop],
           stops: Mapping[str, Stop], where: Where, deadline_s: float,
           nearest: int = 5) -> Repaired:
    """Insert dropped stops into the nearest couriers' days where the evaluator accepts them.

    ``stops`` holds every routed stop by id; ``deadline_s`` is a :func:`time.perf_counter`
    moment after which no more stops are tried (``tried`` says which were). Couriers whose
    day did not change keep their trips (and street paths) as they were.
    """
    days = _days(couriers, trips, stops)
    order = sorted(dropped, key=lambda s: (not s.priority, s.stop_id))
    idle = next((cid for cid, d in days.items() if not d.stops), None)
    # The nearest couriers, and one the day had left at home: a stop nobody near can take
    # may still make a day of its own.
    at = {cid: np.array([(s.snap.lon, s.snap.lat) for s in d.stops]) for cid, d in days.items()}
    candidates = {s.stop_id: [*(c := _nearest(s, at, nearest)),
                              *([idle] if idle is not None and idle not in c else [])]
                  for s in order}
    coming: dict[str, list[Stop]] = {}
    for stop in order:
        for cid in candidates[stop.stop_id]:
            coming.setdefault(cid, []).append(stop)
    inserted: list[str] = []
    tried: list[str] = []
    for stop in order:
        changed_days = sum(1 for d in days.values() if d.changed)
        if time.perf_counter() + _FINAL_S * (changed_days + 1) >= deadline_s:
            break
        for cid in candidates[stop.stop_id]:
            day = days[cid]
            if day.problem is None:
                _build(day, coming[cid], where, keep_paths=False)
            if _insert(day, stop):
                inserted.append(stop.stop_id)
                break
        tried.append(stop.stop_id)
    changed = {cid for cid, d in days.items() if d.changed}
    kept = [t for t in trips if t.courier_id not in changed]
    new_breaks = {cid: b for cid, b in breaks.items() if cid not in changed}
    for cid in sorted(changed):
        day_trips, lunch = _final(days[cid], where)
        kept.extend(day_trips)
        if lunch is not None:
            new_breaks[cid] = lunch
    kept.sort(key=lambda t: (t.courier_id, t.trip))
    return Repaired(trips=tuple(kept), breaks=new_breaks, inserted=tuple(inserted),
                    tried=tuple(tried), out_of_time=len(tried) < len(order))


def _days(couriers: Sequence[Courier], trips: Sequence[Trip],
          stops: Mapping[str, Stop]) -> dict[str, _Day]:
    days = {c.courier_id: _Day(courier=c, stops=[], raw=[]) for c in couriers}
    for t in sorted(trips, key=lambda t: (t.courier_id, t.depart_s)):
        day = days[t.courier_id]
        nodes = []
        for v in t.visits:
            day.stops.append(stops[v.stop_id])
            nodes.append(len(day.stops))
        day.raw.append((t.depart_s, nodes))
    for day in days.values():
        if day.raw:  # the first trip may leave as early as the shift allows
            day.raw[0] = (day.courier.shift_start_s, day.raw[0][1])
    return days


def _nearest(stop: Stop, at: Mapping[str, np.ndarray], k: int) -> list[str]:
    """The ``k`` couriers whose stops (``at``: lon, lat per courier) come nearest the stop
    (degrees are fine for ranking); couriers without stops last."""
    here = np.array([stop.snap.lon, stop.snap.lat])

    def gap(cid: str) -> float:
        pts = at[cid]
        return float(np.min(np.hypot(*(pts - here).T))) if len(pts) else np.inf

    return sorted(at, key=lambda cid: (gap(cid), cid))[:k]


def _build(day: _Day, extra: Sequence[Stop], where: Where, *, keep_paths: bool) -> None:
    """Build the day's routing problem over its stops and the ``extra`` ones that may come."""
    everyone = [*day.stops, *(s for s in extra if s not in day.stops)]
    task = DistrictTask(couriers=(day.courier,), stops=tuple(everyone),
                        station_lonlat=(where.station.lon, where.station.lat),
                        deadline_epoch_s=0.0, snap_profile=where.snap_profile,
                        station_snap=where.station)
    matrices = matrices_of(task, where.graphs, keep_paths=keep_paths)
    config = where.config
    day.problem = routing.problem_from_stops(
        everyone, (day.courier,), time_s={p: m.time_s for p, m in matrices.items()},
        distance_m={p: m.distance_m for p, m in matrices.items()}, reload_s=config.reload_s,
        drop_penalty_s=config.drop_penalty_s, lunch=config.lunch)
    day.plain = routing.without_breaks(day.problem)
    day.matrices = dict(matrices)
    day.node_of = {s.stop_id: k for k, s in enumerate(everyone, start=1)}


def _options(problem: routing.RoutingProblem, raw: Sequence[tuple[int, list[int]]], new: int,
             max_trips: int) -> list[list[tuple[int, list[int]]]]:
    """Ways of putting node ``new`` into the day's trips, the cheapest detours first per trip,
    and a trip of its own."""
    t = problem.time_s[problem.vehicles[0].profile]
    out: list[tuple[int, list[tuple[int, list[int]]]]] = []
    for k, (depart, nodes) in enumerate(raw):
        path = [0, *nodes, 0]
        detours = sorted((int(t[a, new]) + int(t[new, b]) - int(t[a, b]), p)
                         for p, (a, b) in enumerate(itertools.pairwise(path)))
        for detour, p in detours[:_POSITIONS_PER_TRIP]:
            changed = [*raw[:k], (depart, [*nodes[:p], new, *nodes[p:]]), *raw[k + 1:]]
            out.append((detour, changed))
    if len(raw) < max_trips:
        last = max((d for d, _ in raw), default=problem.vehicles[0].shift_start_s)
        out.append((int(t[0, new]) + int(t[new, 0]), [*raw, (last + 1, [new])]))
    out.sort(key=lambda x: x[0])
    return [option for _, option in out]


def _insert(day: _Day, stop: Stop) -> bool:
    """Try ``stop`` in the day; keep the position whose day ends earliest, then drives least.

    Positions are ranked without lunch (the trips' schedule and the evaluator, cheap), and the
    best few get their lunch placed and are checked again; the first that passes stands.
    """
    problem, plain = day.problem, day.plain
    assert problem is not None and plain is not None
    new = day.node_of[stop.stop_id]
    capacity = np.asarray(plain.vehicles[0].capacity)
    ranked: list[tuple[tuple[int, int], list[tuple[int, list[int]]]]] = []
    for option in _options(problem, day.raw, new, day.courier.max_trips):
        trip = next(nodes for _, nodes in option if new in nodes)
        if bool(np.any(problem.delivery[trip].sum(axis=0) > capacity)):
            continue  # a trip's deliveries are all on board when it leaves: no room
        result = _schedule_checked(plain, option)
        if result is not None:
            ranked.append(((max(tr.return_s for tr in result.trips),
                            sum(tr.distance_m for tr in result.trips)), option))
    ranked.sort(key=lambda x: x[0])
    for _, option in ranked[:_CHECKED]:
        if _evaluated(problem, plain, option) is not None:
            day.stops.append(stop)
            day.raw = option
            day.changed = True
            return True
    return False


def _schedule_checked(plain: routing.RoutingProblem, raw: Sequence[tuple[int, list[int]]],
                      ) -> routing.RoutingResult | None:
    """The day of these trips without lunch, or None if the evaluator objects."""
    served = {n for _, nodes in raw for n in nodes}
    idle = tuple(routing.Drop(n, "dropped") for n in range(1, plain.n_stops + 1)
                 if n not in served)
    trips = routing.schedule_trips(plain, [(0, d, nodes) for d, nodes in raw])
    result = routing.RoutingResult(trips=tuple(trips), drops=idle, objective=0, solve_s=0.0,
                                   status="REPAIR")
    return None if routing.check_feasible(plain, result) else result


def _evaluated(problem: routing.RoutingProblem, plain: routing.RoutingProblem,
               raw: Sequence[tuple[int, list[int]]]) -> routing.RoutingResult | None:
    """The day of these trips with its lunch placed, or None if the evaluator objects.

    ``plain`` is ``problem`` without the break. The nodes on no trip (stops that may come to
    this courier later) count as left out.
    """
    first = _schedule_checked(plain, raw)
    if first is None:
        return None
    result = routing.place_breaks(problem, first)
    if len(result.drops) > len(first.drops) or routing.check_feasible(problem, result):
        return None
    return result


def _final(day: _Day, where: Where) -> tuple[list[Trip], tuple[int, int] | None]:
    """The repaired day as the plan's trips, with street paths, and its lunch."""
    final = replace(day, problem=None, plain=None)
    _build(final, [], where, keep_paths=True)
    assert final.problem is not None and final.plain is not None
    # Node numbers over the day's own stops, in the order they joined it.
    renumber = {day.node_of[s.stop_id]: k for k, s in enumerate(day.stops, start=1)}
    raw = [(d, [renumber[n] for n in nodes]) for d, nodes in day.raw]
    result = _evaluated(final.problem, final.plain, raw)
    assert result is not None, "a repaired day no longer passes the evaluator"
    trips = [to_trip(final.problem, rt, final.stops, final.matrices) for rt in result.trips]
    lunch = next(((b.start_s, b.start_s + b.duration_s) for b in result.breaks), None)
    return trips, lunch
