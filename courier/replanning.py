"""Re-planning the rest of a day: what is done, what is on board, what is free to plan again.

A station re-plans when the next truck comes or a courier is out. Given the earlier plan
(:class:`Earlier`, read from its folder by :func:`courier.io.read_earlier`), the time and what
really happened (:class:`Status`), :func:`state_at` splits the day's parcels into:

- delivered: visits the plan had finished by ``now`` (or that the status file says are done);
- on board: the rest of the trips under way at ``now``; they stay with their courier, in their
  order, and the courier is back at the station when those visits are done;
- free: the parcels of trips not yet started, the earlier plan's left-out parcels, failed
  deliveries (a second attempt, unless ``retry`` is off) and the new parcels; they are
  planned again for the couriers on duty, from when each is back at the station;
- left out at once: parcels returned to their sender, failed ones when there is no retry.

It changes nothing it does not have to: the free parcels carry their earlier courier as the
"previous" assignment, so districts keep them with that courier as far as balance allows
(:mod:`courier.districts`). :func:`changes` lists every parcel whose courier or trip changed,
and why. Pure functions: the folder, the streets and the writing are the caller's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from courier.districts import previous_assignment
from courier.model import REASONS, Courier, DayPlan, Parcel, SortLine, Trip, Unassigned

__all__ = [
    "CHANGE_WHY",
    "Delivered",
    "Earlier",
    "EarlierTrip",
    "EarlierVisit",
    "OnBoard",
    "State",
    "Status",
    "changes",
    "kept_couriers",
    "renumber_trips",
    "state_at",
]

# Why a parcel changed courier or trip (changes.csv ``why``): stable codes other tools read.
CHANGE_WHY = {
    "new_parcel": "a new parcel (the re-plan's parcels file)",
    "was_unassigned": "left out by the earlier plan, planned now",
    "courier_off_duty": "its courier is off duty for the rest of the day",
    "failed_retry": "the delivery failed: a second attempt later today",
    "failed_no_retry": "the delivery failed: no second attempt today (--no-retry)",
    "returned": "returned to its sender",
    "moved": "moved to even out the rest of the day",
    "now_unassigned": "left out of the rest of the day (see unassigned.csv)",
}


@dataclass(frozen=True, slots=True)
class EarlierVisit:
    """One visit of the earlier plan: its stop, parcels, times and place."""

    stop_id: str
    seq: int
    parcel_ids: tuple[str, ...]
    start_s: int
    departure_s: int
    lon: float
    lat: float


@dataclass(frozen=True, slots=True)
class EarlierTrip:
    """One trip of the earlier plan, with the times the plan gave it."""

    courier_id: str
    trip: int
    depart_s: int
    return_s: int
    visits: tuple[EarlierVisit, ...]


@dataclass(frozen=True, slots=True)
class Delivered:
    """A parcel handed over (or collected) before the re-plan, by whom and when."""

    parcel_id: str
    courier_id: str
    trip: int
    at_s: int
    source: str  # "clock" (the plan had done it by now), "status" (the status file says so)


@dataclass(frozen=True, slots=True, eq=False)
class Earlier:
    """What the earlier plan's folder says: the day's inputs, its trips, who had what.

    ``parcels`` are every valid parcel of the day so far (the first plan's and every re-plan's
    new ones); ``assignment`` is parcel -> (courier, trip) of the earlier plan's trips;
    ``unassigned`` the parcels it left out; ``delivered`` what earlier re-plans recorded;
    ``breaks`` the couriers' lunches as planned; ``input_rows`` and ``rejected`` the parcel
    rows read so far and how many of them were rejected.
    """

    parcels: tuple[Parcel, ...]
    couriers: tuple[Courier, ...]
    station_lonlat: tuple[float, float]
    trips: tuple[EarlierTrip, ...]
    assignment: Mapping[str, tuple[str, int]]
    unassigned: frozenset[str]
    delivered: tuple[Delivered, ...] = ()
    breaks: Mapping[str, tuple[int, int]] | None = None
    input_rows: int = 0
    rejected: int = 0
    reload_s: int = 600


@dataclass(frozen=True, slots=True)
class Status:
    """What really happened, from the status file: per parcel ``delivered``, ``failed`` or
    ``returned``; per courier where they are (lon, lat) and when."""

    parcels: Mapping[str, str]
    positions: Mapping[str, tuple[float, float, int]]


@dataclass(frozen=True, slots=True)
class OnBoard:
    """The rest of a trip under way: its visits still to do, with their expected times."""

    courier_id: str
    trip: int
    visits: tuple[EarlierVisit, ...]
    depart_s: int  # when the trip left the station
    back_s: int  # when the courier is back at the station


@dataclass(frozen=True, slots=True, eq=False)
class State:
    """The day at ``now``: delivered, on board, free to plan (with the roster for it)."""

    now_s: int
    delivered: tuple[Delivered, ...]
    on_board: tuple[OnBoard, ...]
    free: tuple[Parcel, ...]
    left_out: tuple[Unassigned, ...]  # returned, failed without a retry
    roster: tuple[Courier, ...]  # the couriers on duty, from when each is back at the station
    trips_done: Mapping[str, int]  # trips each courier has started
    before: Mapping[str, tuple[str, int]]  # the earlier plan's courier and trip per parcel
    why: Mapping[str, str]  # CHANGE_WHY code for free parcels that must move or are new
    previous: Mapping[str, str]  # location key -> courier: the free parcels' earlier couriers
    off_duty: tuple[str, ...]


# Matrix of travel seconds between (lon, lat) points, the station first: the caller's streets.
LegMatrix = Callable[[Sequence[tuple[float, float]]], np.ndarray]


def state_at(earlier: Earlier, now_s: int, *, status: Status | None = None,
             roster: Sequence[Courier] | None = None, new_parcels: Sequence[Parcel] = (),
             retry: bool = True, legs: LegMatrix | None = None,
             lunch_to_s: int = 13 * 3600 + 1800) -> State:
    """Split the day at ``now_s`` (see the module's docstring).

    ``roster`` is the rest of the day's roster (None: the earlier one); a courier missing from
    it is off duty, and their parcels not yet delivered are free from when they could be back
    at the station. ``legs`` gives travel times for couriers whose position the status file
    gives and for couriers off duty on the way (None: the plan's own times, and back at once).
    ``lunch_to_s`` is the station's lunch window end, for couriers without their own.
    """
    status = status or Status(parcels={}, positions={})
    by_id = {p.parcel_id: p for p in earlier.parcels}
    roster = tuple(earlier.couriers if roster is None else roster)
    on_duty = {c.courier_id for c in roster}
    walk = _Walk(earlier, now_s, status, on_duty, legs)
    for trip in sorted(earlier.trips, key=lambda t: (t.courier_id, t.trip)):
        walk.trip(trip)
    for pid in earlier.unassigned:
        if pid not in walk.delivered:
            walk.free_ready.setdefault(pid, by_id[pid].ready_s if pid in by_id else 0)
            walk.why.setdefault(pid, "was_unassigned")
    left_out = walk.apply_status(retry)
    free = [replace(by_id[pid], ready_s=max(by_id[pid].ready_s, ready))
            for pid, ready in sorted(walk.free_ready.items(), key=lambda kv: by_id[kv[0]].row)
            if pid in by_id]
    off_duty = {c.courier_id for c in earlier.couriers} - on_duty
    for p in free:
        if earlier.assignment.get(p.parcel_id, ("", 0))[0] in off_duty:
            walk.why.setdefault(p.parcel_id, "courier_off_duty")
    for p in new_parcels:
        free.append(p)
        walk.why[p.parcel_id] = "new_parcel"
    rest = _rest_roster(roster, earlier, now_s, walk.busy_until, walk.trips_done, lunch_to_s)
    keep = [p for p in free if earlier.assignment.get(p.parcel_id, ("", 0))[0] in on_duty]
    previous = previous_assignment([p.lon for p in keep], [p.lat for p in keep],
                                   [earlier.assignment[p.parcel_id][0] for p in keep])
    return State(now_s=now_s, delivered=tuple(sorted(walk.delivered.values(),
                                                     key=lambda d: d.parcel_id)),
                 on_board=tuple(walk.on_board), free=tuple(free), left_out=tuple(left_out),
                 roster=rest, trips_done=walk.trips_done, before=dict(earlier.assignment),
                 why=walk.why, previous=previous, off_duty=tuple(sorted(off_duty)))


class _Walk:
    """The earlier plan's trips walked up to ``now``: what is delivered, on board, free."""

    def __init__(self, earlier: Earlier, now_s: int, status: Status, on_duty: set[str],
                 legs: LegMatrix | None) -> None:
        self.earlier, self.now_s, self.status, self.on_duty = earlier, now_s, status, on_duty
        self.legs = legs
        self.told = dict(status.parcels)
        self.by_id = {p.parcel_id: p for p in earlier.parcels}
        self.delivered: dict[str, Delivered] = {d.parcel_id: d for d in earlier.delivered}
        self.on_board: list[OnBoard] = []
        self.free_ready: dict[str, int] = {}  # free parcel -> when it is at the station
        self.why: dict[str, str] = {}
        self.trips_done: dict[str, int] = {}
        self.busy_until: dict[str, int] = {}

    def trip(self, trip: EarlierTrip) -> None:
        """One earlier trip: not started (free), done, or under way (on board or back)."""
        cid, now_s, told = trip.courier_id, self.now_s, self.told
        if trip.depart_s > now_s:  # not started: free to change
            for v in trip.visits:
                for pid in v.parcel_ids:
                    self.free_ready[pid] = self.by_id[pid].ready_s if pid in self.by_id else 0
            return
        self.trips_done[cid] = max(self.trips_done.get(cid, 0), trip.trip)
        left = []
        for v in trip.visits:
            done = v.departure_s <= now_s
            for pid in v.parcel_ids:
                said = told.get(pid)
                if said == "delivered" or (done and said is None):
                    self.delivered.setdefault(pid, Delivered(
                        pid, cid, trip.trip, min(v.departure_s, now_s),
                        "status" if said else "clock"))
            # A visit the status file settles (delivered, failed, returned) is not ahead.
            if not done and any(told.get(pid) is None for pid in v.parcel_ids):
                left.append(v)
        if trip.return_s <= now_s and not left:
            self.busy_until[cid] = max(self.busy_until.get(cid, 0), trip.return_s)
            return
        off = cid not in self.on_duty
        back_s = _back_s(self.earlier, trip, left, now_s, self.status.positions.get(cid),
                         self.legs, off=off)
        self.busy_until[cid] = max(self.busy_until.get(cid, 0), back_s)
        if not off:
            visits = tuple(replace(v, parcel_ids=tuple(p for p in v.parcel_ids
                                                       if told.get(p) is None)) for v in left)
            if visits:
                self.on_board.append(OnBoard(cid, trip.trip, visits, trip.depart_s, back_s))
            return
        for v in left:  # back to the station with their courier
            for pid in v.parcel_ids:
                if told.get(pid) is None:
                    self.free_ready[pid] = back_s
                    self.why[pid] = "courier_off_duty"

    def apply_status(self, retry: bool) -> list[Unassigned]:
        """The status file's word on parcels: delivered, failed (again later, or not), returned."""
        left_out: list[Unassigned] = []
        for pid, said in sorted(self.told.items()):
            if pid not in self.by_id:
                continue
            cid, trip_no = self.earlier.assignment.get(pid, ("", 0))
            if said == "delivered":
                self.delivered.setdefault(pid, Delivered(pid, cid, trip_no, self.now_s, "status"))
            elif said == "returned" or not retry:
                self.free_ready.pop(pid, None)
                code = "returned" if said == "returned" else "failed_no_retry"
                left_out.append(Unassigned(pid, "", code, REASONS[code]))
                self.why[pid] = code
            else:  # failed: back at the station with its courier, tried again
                self.free_ready[pid] = max(self.busy_until.get(cid, self.now_s), self.now_s)
                self.why[pid] = "failed_retry"
        for pid in self.delivered:
            self.free_ready.pop(pid, None)
        return left_out


def _back_s(earlier: Earlier, trip: EarlierTrip, left: Sequence[EarlierVisit], now_s: int,
            position: tuple[float, float, int] | None, legs: LegMatrix | None, *,
            off: bool) -> int:
    """When the courier of a trip under way is back at the station.

    On duty without a known position: as planned. With one (the status file), the visits
    left are driven from there in their order, each as long as planned. Off duty: straight
    back from where they are (the last finished visit, or the position given).
    """
    if legs is None or (position is None and not off):
        # As planned; off duty without the streets to say how far: back at once.
        return now_s if off and left else trip.return_s
    done = [v for v in trip.visits if v not in left]
    here = ((position[0], position[1]) if position is not None else
            ((done[-1].lon, done[-1].lat) if done else earlier.station_lonlat))
    at_s = position[2] if position is not None else now_s
    route = [] if off else list(left)
    points = [earlier.station_lonlat, here, *((v.lon, v.lat) for v in route)]
    t = legs(points)
    clock, prev = at_s, 1
    for k, v in enumerate(route, start=2):
        clock += int(t[prev, k]) + (v.departure_s - v.start_s)  # there, and as long as planned
        prev = k
    return int(clock + int(t[prev, 0]))


def _rest_roster(roster: Sequence[Courier], earlier: Earlier, now_s: int,
                 busy_until: Mapping[str, int], trips_done: Mapping[str, int],
                 lunch_to_s: int) -> tuple[Courier, ...]:
    """The couriers on duty for the rest of the day, each from when they are at the station.

    A courier's shift starts when they are back and reloaded (or now, or their shift start);
    trips already started count against ``max_trips``; a lunch already planned before that,
    or whose window has passed, is taken. A courier with no time or trips left is not in it.
    """
    out = []
    for c in roster:
        busy = busy_until.get(c.courier_id)
        start = max(c.shift_start_s, now_s,
                    busy + earlier.reload_s if busy is not None and busy > now_s else now_s)
        trips = c.max_trips - trips_done.get(c.courier_id, 0)
        if trips < 1 or start >= c.shift_end_s:
            continue
        lunch_end = c.lunch_to_s if c.lunch_to_s is not None else lunch_to_s
        planned = (earlier.breaks or {}).get(c.courier_id)
        taken = (planned is not None and planned[0] < start) or lunch_end < start
        out.append(replace(c, shift_start_s=start, max_trips=trips,
                           lunch_min=0 if taken else c.lunch_min))
    return tuple(out)


def renumber_trips(plan: DayPlan, trips_done: Mapping[str, int]) -> DayPlan:
    """Number the rest of the day's trips after the trips each courier has started."""
    def shifted(cid: str, trip: int) -> int:
        return trip + trips_done.get(cid, 0) if trip > 0 else trip

    trips: tuple[Trip, ...] = tuple(replace(t, trip=shifted(t.courier_id, t.trip))
                                    for t in plan.trips)
    lines: tuple[SortLine, ...] = tuple(replace(s, trip=shifted(s.courier_id, s.trip))
                                        for s in plan.sort_lines)
    return replace(plan, trips=trips, sort_lines=lines)


def changes(state: State, plan: DayPlan) -> list[tuple[str, str, str, str, str, str]]:
    """Rows of changes.csv: (parcel, courier and trip before, after, why) for every parcel of
    the rest of the day whose courier or trip changed, new parcels and left-out ones too."""
    after = {s.parcel_id: (s.courier_id, s.trip) for s in plan.sort_lines}
    rows = []
    names = [p.parcel_id for p in state.free] + [u.parcel_id for u in state.left_out]
    for pid in names:
        was = state.before.get(pid)
        now = after.get(pid)
        if was == now and pid not in state.why:
            continue
        code = state.why.get(pid)
        if code is None:
            code = "now_unassigned" if now is None else "moved"
        elif code == "was_unassigned" and now is None:
            continue  # left out before and still: no change
        rows.append((pid, was[0] if was else "", str(was[1]) if was else "",
                     now[0] if now else "", str(now[1]) if now else "", code))
    return rows


def kept_couriers(state: State, rows: Sequence[tuple[str, str, str, str, str, str]],
                  ) -> dict[str, float | int]:
    """How many parcels moved to another courier to even out the day (``moved_courier``), and
    the share of those whose courier is still on duty that kept it (``kept_courier_share``);
    a parcel that only changed trip kept its courier."""
    moved = sum(1 for r in rows if r[5] == "moved" and r[1] and r[1] != r[3])
    before = sum(1 for p in state.free
                 if p.parcel_id in state.before
                 and state.before[p.parcel_id][0] not in state.off_duty)
    return {"moved_courier": moved,
            "kept_courier_share": round(1 - moved / before, 4) if before else 1.0}
