"""The routing problem and its result: array based, integer units, checked on construction.

Node 0 is the depot (station), nodes ``1..n`` are stops, so the station pipeline and the VRPLIB
benchmark run the same engine. Times are integer seconds, distances integer metres, loads
integer parcels, grams and millilitres. :func:`problem_from_stops` is the one builder from a
district's stops and couriers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from courier.config import DROP_PENALTY_S, RELOAD_S, LunchConfig
from courier.model import UNREACHABLE, Courier, Stop

__all__ = [
    "PRIORITY_FACTOR",
    "Break",
    "Drop",
    "RoutedTrip",
    "RoutingProblem",
    "RoutingResult",
    "Vehicle",
    "drop_penalty_of",
    "lunch_of",
    "no_path_cost",
    "problem_from_stops",
    "working_s",
]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# A priority stop ("must go today") costs this many times a plain stop to leave out.
PRIORITY_FACTOR = 100
# Integer load units right before the solvers: grams per kilogram, millilitres per litre.
_MILLI = 1000


@dataclass(frozen=True, slots=True)
class Vehicle:
    """One courier, who may do several trips from the depot.

    Parameters
    ----------
    courier_id
        Identifier carried through to the plan.
    profile
        Key into :attr:`RoutingProblem.time_s` and :attr:`RoutingProblem.distance_m`.
    capacity
        Parcels, grams, millilitres on board at any moment.
    shift_start_s, shift_end_s
        The courier leaves the depot no earlier and is back no later (seconds of the day).
    max_trips
        Trips the courier may do, with ``RoutingProblem.reload_s`` at the depot in between.
    fixed_cost
        Objective units added if the courier is used at all.
    break_s, break_window_s
        A lunch break of ``break_s`` seconds (0 = none) that starts inside ``break_window_s``:
        at the station, or on the way between two stops, never during a service.
    """

    courier_id: str
    profile: str
    capacity: tuple[int, int, int]
    shift_start_s: int
    shift_end_s: int
    max_trips: int = 1
    fixed_cost: int = 0
    break_s: int = 0
    break_window_s: tuple[int, int] = (0, 0)

    def problems(self, v: int, profiles: set[str]) -> list[str]:
        """List what is wrong with this vehicle (``v`` is its index, for the message)."""
        out = []
        if self.profile not in profiles:
            out.append(f"vehicle {v}: no time/distance matrix for {self.profile!r}")
        if self.max_trips < 1 or self.shift_end_s < self.shift_start_s:
            out.append(f"vehicle {v}: needs max_trips >= 1 and shift_end >= start")
        if any(c < 0 for c in self.capacity) or self.fixed_cost < 0:
            out.append(f"vehicle {v}: capacity and fixed_cost must be >= 0")
        lo, hi = self.break_window_s
        if self.break_s < 0 or (
            self.break_s > 0
            and not (self.shift_start_s <= lo <= hi and hi + self.break_s <= self.shift_end_s)
        ):
            out.append(f"vehicle {v}: a break must fit in the shift, "
                       f"got {self.break_s} s from {self.break_window_s}")
        return out


def _frozen(values: npt.ArrayLike, dtype: type) -> npt.NDArray[Any]:
    arr: npt.NDArray[Any] = np.array(values, dtype=dtype)  # a copy: the caller's array stays theirs
    arr.flags.writeable = False
    return arr


@dataclass(frozen=True, eq=False)
class RoutingProblem:
    """One routing problem: node 0 is the depot (station), nodes ``1..n`` are the stops.

    Checked on construction (``ValueError`` listing every inconsistency); the arrays are
    read-only copies, so a problem cannot change after it was checked. Change one with
    :func:`dataclasses.replace`, which checks again.

    Parameters
    ----------
    stop_ids
        Length ``n``; ``stop_ids[i - 1]`` names node ``i``.
    service_s
        Length ``n + 1`` service seconds per node, ``service_s[0] == 0``.
    windows_s
        Length ``n + 1``; per node the windows for the start of service, ``()`` = any time.
    delivery, pickup
        ``(n + 1, 3)`` parcels, grams, millilitres delivered (loaded at the depot) and picked up
        (carried back to the depot) at each node.
    priority
        Length ``n + 1``; a priority stop is served whenever it is possible at all.
    vehicles
        The couriers.
    time_s, distance_m
        Per profile ``(n + 1, n + 1)`` travel seconds (service not included) and metres.
    reload_s
        Seconds at the depot between two trips of one courier.
    drop_penalty
        Objective units for leaving out a non-priority stop.
    objective
        ``"time"`` minimises service + travel seconds, ``"distance"`` metres, ``"cost"`` the
        ``arc_cost`` units.
    arc_cost
        Per profile ``(n + 1, n + 1)`` objective units per arc, for ``objective="cost"`` (a
        distance with penalties, say); the trips still report ``distance_m``.
    unreachable
        Matrix entries at or above this mean there is no path.
    ready_s
        Length ``n + 1`` (not given: all zero); a trip carrying node ``i`` leaves the depot at
        ``ready_s[i]`` or later (the parcels' release time: their truck's wave, sorted).
    """

    stop_ids: tuple[str, ...]
    service_s: IntArray
    windows_s: tuple[tuple[tuple[int, int], ...], ...]
    delivery: IntArray
    pickup: IntArray
    priority: BoolArray
    vehicles: tuple[Vehicle, ...]
    time_s: Mapping[str, IntArray]
    distance_m: Mapping[str, IntArray]
    reload_s: int = RELOAD_S
    drop_penalty: int = DROP_PENALTY_S
    objective: Literal["time", "distance", "cost"] = "time"
    arc_cost: Mapping[str, IntArray] | None = None
    unreachable: int = UNREACHABLE
    ready_s: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "stop_ids", tuple(self.stop_ids))
        set_(self, "vehicles", tuple(self.vehicles))
        set_(self, "windows_s", tuple(tuple((int(a), int(b)) for a, b in w)
                                      for w in self.windows_s))
        if len(self.ready_s) == 0:  # not given: every stop ready at the start of the day
            set_(self, "ready_s", np.zeros(len(self.service_s), dtype=np.int64))
        for name, dtype in (("service_s", np.int64), ("ready_s", np.int64), ("delivery", np.int64),
                            ("pickup", np.int64), ("priority", np.bool_)):
            set_(self, name, _frozen(getattr(self, name), dtype))
        for name in ("time_s", "distance_m", "arc_cost"):
            if getattr(self, name) is not None:
                set_(self, name, {k: _frozen(v, np.int64) for k, v in getattr(self, name).items()})
        problems = self.problems()
        if problems:
            raise ValueError("bad routing problem: " + "; ".join(problems))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Rebuilt through the constructor in another process, so it is checked and read-only
        # there too (plain pickling would bring the arrays back writeable).
        return (RoutingProblem, tuple(getattr(self, f.name) for f in fields(self)))

    @property
    def n_stops(self) -> int:
        """Number of stops (nodes ``1..n``)."""
        return len(self.stop_ids)

    @property
    def has_ready(self) -> bool:
        """Whether some stop is ready later than some courier's shift starts."""
        ready = np.asarray(self.ready_s)
        return bool(self.vehicles) and int(ready.max(initial=0)) > min(
            v.shift_start_s for v in self.vehicles)

    def trip_ready_s(self, nodes: Sequence[int]) -> int:
        """Return the earliest a trip over ``nodes`` may leave the depot: its latest ready time."""
        ready = np.asarray(self.ready_s)
        return int(ready[list(nodes)].max(initial=0))

    @property
    def horizon_s(self) -> int:
        """The latest shift end: no time in the problem is later."""
        return max((v.shift_end_s for v in self.vehicles), default=0)

    def problems(self) -> list[str]:
        """List every inconsistency of shapes and values (empty when the problem is sound)."""
        out = self._shape_problems()
        profiles = set(self.time_s) & set(self.distance_m)
        for v, veh in enumerate(self.vehicles):
            out.extend(veh.problems(v, profiles))
        if self.reload_s < 0 or self.drop_penalty < 0:
            out.append("reload_s and drop_penalty must be >= 0")
        if self.objective not in ("time", "distance", "cost"):
            out.append(f"objective must be 'time', 'distance' or 'cost', got {self.objective!r}")
        if (self.objective == "cost") != (self.arc_cost is not None):
            out.append("arc_cost goes with objective 'cost', and only with it")
        elif self.arc_cost is not None:
            out.extend(f"no arc_cost matrix for {p!r}" for p in profiles if p not in self.arc_cost)
        return out

    def _shape_problems(self) -> list[str]:
        """The arrays: their shapes against the number of stops, and no negative entries."""
        n1 = self.n_stops + 1
        out: list[str] = []
        if self.service_s.shape != (n1,):
            out.append(f"service_s has shape {self.service_s.shape}, expected ({n1},)")
        elif int(self.service_s[0]) != 0 or bool(np.any(self.service_s < 0)):
            out.append("service_s must be >= 0 with service_s[0] == 0")
        ready = np.asarray(self.ready_s)
        if ready.shape != (n1,):
            out.append(f"ready_s has shape {ready.shape}, expected ({n1},)")
        elif int(ready[0]) != 0 or bool(np.any(ready < 0)):
            out.append("ready_s must be >= 0 with ready_s[0] == 0")
        if len(self.windows_s) != n1:
            out.append(f"windows_s has {len(self.windows_s)} entries, expected {n1}")
        out.extend(f"node {node}: a window opens after it closes: {windows}"
                   for node, windows in enumerate(self.windows_s)
                   if any(a > b for a, b in windows))
        for name in ("delivery", "pickup"):
            arr = getattr(self, name)
            if arr.shape != (n1, 3):
                out.append(f"{name} has shape {arr.shape}, expected ({n1}, 3)")
            elif bool(np.any(arr < 0)):
                out.append(f"{name} must be >= 0")
        if self.priority.shape != (n1,):
            out.append(f"priority has shape {self.priority.shape}, expected ({n1},)")
        for name in ("time_s", "distance_m", "arc_cost"):
            for profile, mat in (getattr(self, name) or {}).items():
                if mat.shape != (n1, n1):
                    out.append(f"{name}[{profile!r}] has shape {mat.shape}")
                elif bool(np.any(mat < 0)):
                    out.append(f"{name}[{profile!r}] has negative entries")
        return out

    def cost_matrix(self, profile: str) -> IntArray:
        """Return the objective units per arc of ``profile``: seconds, metres or ``arc_cost``."""
        if self.objective == "time":
            return self.time_s[profile]
        if self.objective == "cost" and self.arc_cost is not None:
            return self.arc_cost[profile]
        return self.distance_m[profile]


@dataclass(frozen=True, slots=True)
class RoutedTrip:
    """One loop of one courier from the depot and back.

    ``nodes`` are stop nodes in visiting order (no depot); ``arrival_s``, ``start_s`` (start of
    service, inside a window) and ``departure_s`` are per node. ``load`` is the peak on board
    per dimension (parcels, grams, millilitres).
    """

    vehicle: int
    trip: int
    nodes: tuple[int, ...]
    arrival_s: tuple[int, ...]
    start_s: tuple[int, ...]
    departure_s: tuple[int, ...]
    depart_s: int
    return_s: int
    distance_m: int
    load: tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Drop:
    """A stop left out, with a key of :data:`courier.model.REASONS`."""

    node: int
    reason_code: str


@dataclass(frozen=True, slots=True)
class Break:
    """A courier's lunch break: ``duration_s`` from ``start_s``."""

    vehicle: int
    start_s: int
    duration_s: int


@dataclass(frozen=True, eq=False)
class RoutingResult:
    """Trips in (vehicle, trip) order, dropped stops in node order, and how the search went.

    ``breaks`` has one entry per vehicle with ``break_s > 0`` that has at least one trip;
    ``warnings`` says what the user should know (stops left out to fit a lunch); ``cut`` is
    True when the time limit ended a search bounded by work before its bound (a rerun may then
    give another result).
    """

    trips: tuple[RoutedTrip, ...]
    drops: tuple[Drop, ...]
    objective: int
    solve_s: float
    status: str
    breaks: tuple[Break, ...] = ()
    warnings: tuple[str, ...] = ()
    cut: bool = False


def drop_penalty_of(problem: RoutingProblem, node: int) -> int:
    """Objective units for leaving a stop out (a priority stop's is PRIORITY_FACTOR times more)."""
    factor = PRIORITY_FACTOR if bool(problem.priority[node]) else 1
    return int(problem.drop_penalty) * factor


def working_s(problem: RoutingProblem, veh: Vehicle) -> tuple[int, int]:
    """Return when the courier may leave and must be back: the shift cut to the depot's hours."""
    lo, hi = veh.shift_start_s, veh.shift_end_s
    if problem.windows_s[0]:
        lo = max(lo, min(a for a, _ in problem.windows_s[0]))
        hi = min(hi, max(b for _, b in problem.windows_s[0]))
    return lo, hi


def no_path_cost(horizon_s: int) -> int:
    """Return the arc cost the solvers get for "no path": more than any horizon, so never
    feasible in time, yet far from int64 overflow when a solver adds costs and penalties."""
    return max(horizon_s + 1, 1) * 4 + 1


def lunch_of(courier: Courier, station: LunchConfig) -> tuple[int, tuple[int, int]]:
    """Return a courier's lunch as (seconds, start window), (0, (0, 0)) for none.

    The courier's own lunch fields win over the station's. The window is cut to the shift
    (the lunch must end by the shift's end); a shift that cannot hold it (a half day) has none.
    """
    lo = courier.lunch_from_s if courier.lunch_from_s is not None else station.from_s
    hi = courier.lunch_to_s if courier.lunch_to_s is not None else station.to_s
    minutes = courier.lunch_min if courier.lunch_min is not None else station.minutes
    dur_s = minutes * 60
    lo, hi = max(lo, courier.shift_start_s), min(hi, courier.shift_end_s - dur_s)
    if dur_s <= 0 or hi < lo:
        return 0, (0, 0)
    return dur_s, (lo, hi)


def problem_from_stops(stops: Sequence[Stop], couriers: Sequence[Courier], *,
                       time_s: Mapping[str, IntArray], distance_m: Mapping[str, IntArray],
                       reload_s: int, drop_penalty_s: int, lunch: LunchConfig) -> RoutingProblem:
    """Return the routing problem of one district: its stops, its couriers, its matrices.

    The matrices are per vehicle profile, ``(n + 1, n + 1)`` with the station as node 0.
    Loads become integers here, once: parcels, grams, millilitres.
    """
    n = len(stops)
    delivery = np.zeros((n + 1, 3), dtype=np.int64)
    pickup = np.zeros((n + 1, 3), dtype=np.int64)
    for i, s in enumerate(stops, start=1):
        delivery[i] = (s.delivery_parcels, round(s.delivery_kg * _MILLI),
                       round(s.delivery_l * _MILLI))
        pickup[i] = (s.pickup_parcels, round(s.pickup_kg * _MILLI), round(s.pickup_l * _MILLI))
    vehicles = []
    for c in couriers:
        break_s, window = lunch_of(c, lunch)
        vehicles.append(Vehicle(
            courier_id=c.courier_id, profile=c.vehicle,
            capacity=(c.capacity_parcels, round(c.capacity_kg * _MILLI),
                      round(c.capacity_l * _MILLI)),
            shift_start_s=c.shift_start_s, shift_end_s=c.shift_end_s, max_trips=c.max_trips,
            break_s=break_s, break_window_s=window,
        ))
    return RoutingProblem(
        stop_ids=tuple(s.stop_id for s in stops),
        service_s=np.array([0, *(s.service_s for s in stops)], dtype=np.int64),
        windows_s=((), *(s.windows_s for s in stops)),
        delivery=delivery,
        pickup=pickup,
        priority=np.array([False, *(s.priority for s in stops)]),
        vehicles=tuple(vehicles),
        time_s=time_s,
        distance_m=distance_m,
        reload_s=reload_s,
        drop_penalty=drop_penalty_s,
        ready_s=np.array([0, *(s.ready_s for s in stops)], dtype=np.int64),
    )
