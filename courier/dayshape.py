"""The shape of a courier's day: when they leave, when they are back, and where the time goes.

A courier's paid day runs from the shift start to the last return. It splits into driving,
service at doors, waiting at doors (for a window to open), lunch, and time at the station
(loading before a trip, waiting there between trips). Plans are judged on it: couriers leave
when their parcels are loaded, nobody stands at a door for hours, the day ends as early as the
work allows.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from courier.model import Courier, Trip

__all__ = ["DayShape", "day_shapes", "totals"]


@dataclass(frozen=True, slots=True)
class DayShape:
    """One courier's day, in seconds; all zero for a courier without trips."""

    courier_id: str
    trips: int
    shift_start_s: int
    first_departure_s: int
    last_return_s: int
    driving_s: int
    service_s: int
    door_wait_s: int
    lunch_s: int
    longest_door_wait_s: int = 0

    @property
    def used(self) -> bool:
        return self.trips > 0

    @property
    def paid_s(self) -> int:
        """Shift start to last return (0 when the courier has no trip)."""
        return self.last_return_s - self.shift_start_s if self.used else 0

    @property
    def late_start_s(self) -> int:
        """First departure after the shift start."""
        return self.first_departure_s - self.shift_start_s if self.used else 0

    @property
    def station_s(self) -> int:
        """Time at the station inside the paid day: before the first trip and between trips
        (loading and waiting), lunch taken there excluded."""
        return max(0, self.paid_s - self.driving_s - self.service_s - self.door_wait_s
                   - self.lunch_s)

    def to_dict(self) -> dict[str, int]:
        return {"paid_day_s": self.paid_s, "late_start_s": self.late_start_s,
                "first_departure_s": self.first_departure_s if self.used else 0,
                "last_return_s": self.last_return_s if self.used else 0,
                "driving_s": self.driving_s, "service_s": self.service_s,
                "door_wait_s": self.door_wait_s, "station_s": self.station_s,
                "lunch_s": self.lunch_s, "longest_door_wait_s": self.longest_door_wait_s}


def _overlap(a: int, b: int, lunch: tuple[int, int] | None) -> int:
    return 0 if lunch is None else max(0, min(b, lunch[1]) - max(a, lunch[0]))


def day_shapes(couriers: Sequence[Courier], trips: Sequence[Trip],
               breaks: Mapping[str, tuple[int, int]]) -> list[DayShape]:
    """Return each courier's day shape (roster order) from their trips and lunch."""
    by: dict[str, list[Trip]] = {}
    for t in trips:
        by.setdefault(t.courier_id, []).append(t)
    out = []
    for c in couriers:
        mine = sorted(by.get(c.courier_id, []), key=lambda t: t.depart_s)
        lunch = breaks.get(c.courier_id)
        driving = service = door = longest = 0
        for t in mine:
            prev = t.depart_s
            for v in t.visits:
                # A lunch on the way or at a door before the visit is lunch, not driving or
                # waiting.
                wait = v.start_s - v.arrival_s - _overlap(v.arrival_s, v.start_s, lunch)
                door += wait
                longest = max(longest, wait)
                driving += v.arrival_s - prev - _overlap(prev, v.arrival_s, lunch)
                service += v.departure_s - v.start_s
                prev = v.departure_s
            driving += t.return_s - prev - _overlap(prev, t.return_s, lunch)
        out.append(DayShape(
            courier_id=c.courier_id, trips=len(mine), shift_start_s=c.shift_start_s,
            first_departure_s=mine[0].depart_s if mine else c.shift_start_s,
            last_return_s=mine[-1].return_s if mine else c.shift_start_s,
            driving_s=driving, service_s=service, door_wait_s=door,
            # Only the part of the lunch inside the paid day (a short day may end before it).
            lunch_s=_overlap(c.shift_start_s, mine[-1].return_s, lunch) if mine else 0,
            longest_door_wait_s=longest))
    return out


def totals(shapes: Sequence[DayShape]) -> dict[str, float]:
    """The day's figures over the couriers used: courier-hours, balance, waiting shares."""
    used = [s for s in shapes if s.used]
    paid = sum(s.paid_s for s in used)
    mean = paid / len(used) if used else 0.0
    return {
        "courier_hours": round(paid / 3600, 3),
        "balance_paid_max_over_mean": round(max(s.paid_s for s in used) / mean, 4) if mean else 0.0,
        "median_late_start_min": round(statistics.median(s.late_start_s for s in used) / 60, 1)
        if used else 0.0,
        "door_wait_share": round(sum(s.door_wait_s for s in used) / paid, 4) if paid else 0.0,
        "station_share": round(sum(s.station_s for s in used) / paid, 4) if paid else 0.0,
        "driving_share": round(sum(s.driving_s for s in used) / paid, 4) if paid else 0.0,
        "longest_door_wait_min": round(max((s.longest_door_wait_s for s in used), default=0) / 60,
                                       1),
    }
