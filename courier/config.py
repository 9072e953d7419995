"""Parameters as frozen dataclasses, checked on creation, loadable from TOML."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from courier.errors import InputError, Problem

_ROAD_CLASSES = (
    "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link",
    "secondary", "secondary_link", "tertiary", "tertiary_link", "unclassified", "residential",
    "living_street", "service", "road", "track", "pedestrian", "footway", "path", "cycleway",
    "steps", "busway",
)


@dataclass(frozen=True, slots=True)
class VehicleProfile:
    """How one kind of vehicle uses the streets.

    ``speed_kph`` gives a free-flow speed per OSM ``highway`` class; a class absent from it is
    closed to the vehicle. ``max_speed_kph`` caps every speed (and a ``maxspeed`` tag).
    """

    name: str
    speed_kph: dict[str, float]
    max_speed_kph: float
    oneway: bool = True

    def __post_init__(self) -> None:
        bad = {k: v for k, v in self.speed_kph.items() if not v > 0}
        if bad or not self.max_speed_kph > 0:
            raise ValueError(f"profile {self.name!r}: speeds must be positive, got {bad}")


def _speeds(**kph: float) -> dict[str, float]:
    return dict(kph)


# Urban free-flow speeds on a peak day, deliberately below the legal limits: couriers stop and
# start constantly. E-tricycles: Chinese rules cap express tricycles at 15 km/h and keep them off
# motorways and trunk roads, so those classes are absent.
_ETRICYCLE = VehicleProfile(
    name="etricycle",
    speed_kph=_speeds(
        primary=15, primary_link=15, secondary=15, secondary_link=15, tertiary=15,
        tertiary_link=15, unclassified=14, residential=13, living_street=10, service=10,
        road=12, track=8, busway=12, cycleway=12,
    ),
    max_speed_kph=15.0,
)
_VAN = VehicleProfile(
    name="van",
    speed_kph=_speeds(
        motorway=60, motorway_link=40, trunk=45, trunk_link=35, primary=35, primary_link=30,
        secondary=30, secondary_link=25, tertiary=25, tertiary_link=20, unclassified=20,
        residential=18, living_street=10, service=10, road=20, busway=25,
    ),
    max_speed_kph=80.0,
)
_WALK = VehicleProfile(
    name="walk",
    speed_kph=_speeds(
        primary=4.5, primary_link=4.5, secondary=4.5, secondary_link=4.5, tertiary=4.5,
        tertiary_link=4.5, unclassified=4.5, residential=4.5, living_street=4.5, service=4.5,
        road=4.5, track=4.5, pedestrian=4.5, footway=4.5, path=4.5, cycleway=4.5, steps=2.0,
        busway=4.5,
    ),
    max_speed_kph=4.5,
    oneway=False,
)
PROFILES: dict[str, VehicleProfile] = {p.name: p for p in (_ETRICYCLE, _VAN, _WALK)}


def load_profiles(path: Path) -> dict[str, VehicleProfile]:
    """Return the built-in profiles updated from a TOML file.

    The file has one table per profile, e.g. ``[etricycle] max_speed_kph = 12`` and
    ``[etricycle.speed_kph] residential = 10``; a new table name adds a profile.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"cannot read profiles from {path}: {exc}") from None
    profiles = dict(PROFILES)
    problems: list[Problem] = []
    for name, table in data.items():
        base = profiles.get(name, VehicleProfile(name=name, speed_kph={}, max_speed_kph=15.0))
        speeds = dict(base.speed_kph)
        for cls, kph in dict(table.get("speed_kph", {})).items():
            if cls not in _ROAD_CLASSES or not isinstance(kph, int | float) or kph <= 0:
                problems.append(
                    Problem(str(path), None, f"{name}.speed_kph.{cls}", str(kph),
                            f"a positive number for one of {', '.join(_ROAD_CLASSES)}")
                )
                continue
            speeds[cls] = float(kph)
        profiles[name] = replace(
            base,
            speed_kph=speeds,
            max_speed_kph=float(table.get("max_speed_kph", base.max_speed_kph)),
            oneway=bool(table.get("oneway", base.oneway)),
        )
    if problems:
        raise InputError(f"bad vehicle profiles in {path}", tuple(problems))
    return profiles


SOLVERS = ("ortools", "pyvrp")
"""Routing backends: OR-Tools (the default, every constraint) and PyVRP (no breaks)."""


@dataclass(frozen=True, slots=True)
class PlanConfig:
    """Every knob of a planning run. Seeds are explicit; nothing is global."""

    time_limit_s: float = 30.0
    seed: int = 0
    solution_limit: int | None = None
    coords: str = "wgs84"
    max_snap_m: float = 300.0
    merge_radius_m: float = 5.0
    service_per_stop_s: int = 60
    service_per_parcel_s: int = 15
    door_walk_speed_m_s: float = 1.2
    locker_radius_m: float = 300.0
    locker_service_per_stop_s: int = 120
    locker_service_per_parcel_s: int = 8
    reload_s: int = 600
    bag_capacity_parcels: int = 25
    # What leaving a stop out costs, in courier seconds. It is above anything one stop can add
    # to a day (the span grows by at most the 24 h horizon), so a stop is left out only when no
    # courier has the capacity, the shift or the search time for it. With 3 h an evening-window
    # stop that kept a courier out from 15:00 to 18:30 cost more than leaving it: the demo
    # planned 890 of 900 parcels with idle couriers (900 with 24 h), and a 3,000-parcel day
    # still dropped 145 with 80 couriers, so no roster size "cleared" it.
    drop_penalty_s: int = 24 * 3600
    # Lunch: a break of lunch_min minutes starting between lunch_from and lunch_to, for every
    # courier whose shift holds it (couriers.csv may set their own); 0 minutes = no lunch.
    lunch_from: str = "11:00"
    lunch_to: str = "13:30"
    lunch_min: int = 30
    solver: str = "ortools"
    workers: int = 0
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems: list[str] = []
        if not self.time_limit_s > 0:
            problems.append(f"time_limit_s must be > 0, got {self.time_limit_s}")
        if self.coords not in ("wgs84", "gcj02"):
            problems.append(f"coords must be wgs84 or gcj02, got {self.coords!r}")
        if self.solution_limit is not None and self.solution_limit < 1:
            problems.append(f"solution_limit must be >= 1, got {self.solution_limit}")
        for name in ("max_snap_m", "merge_radius_m", "door_walk_speed_m_s"):
            if not getattr(self, name) > 0:
                problems.append(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("service_per_stop_s", "service_per_parcel_s", "reload_s", "drop_penalty_s",
                     "locker_radius_m", "locker_service_per_stop_s",
                     "locker_service_per_parcel_s"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.lunch_min <= 180:
            problems.append(f"lunch_min must be 0 (no lunch) to 180 minutes, got {self.lunch_min}")
        try:
            if self.lunch_window_s[1] < self.lunch_window_s[0]:
                problems.append(f"lunch_to {self.lunch_to} is before lunch_from {self.lunch_from}")
        except ValueError as exc:
            problems.append(f"lunch_from/lunch_to: {exc}")
        if self.solver not in SOLVERS:
            problems.append(f"solver must be {' or '.join(SOLVERS)}, got {self.solver!r}")
        if self.bag_capacity_parcels < 1:
            problems.append(f"bag_capacity_parcels must be >= 1, got {self.bag_capacity_parcels}")
        if problems:
            raise InputError("bad plan parameters: " + "; ".join(problems))

    @property
    def lunch_window_s(self) -> tuple[int, int]:
        """The lunch window as seconds of the day (ValueError on a bad time)."""
        from courier.parcels import parse_time_s

        return parse_time_s(self.lunch_from), parse_time_s(self.lunch_to)

    @classmethod
    def from_toml(cls, path: Path, **overrides: Any) -> PlanConfig:
        """Read parameters from a TOML file (keys as the field names); overrides win."""
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InputError(f"cannot read parameters from {path}: {exc}") from None
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(
                f"{path}: unknown parameters {unknown}; allowed: {', '.join(sorted(known))}"
            )
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**data)
