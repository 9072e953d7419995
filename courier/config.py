"""Parameters as frozen dataclasses, checked on creation, loadable from TOML.

:class:`PlanConfig` is the configuration tree of a plan: the plan's own fields, with the lunch
rule, the automatic districts and the rebalancing as sub-tables (``[lunch]``,
``[auto_districts]``, ``[rebalance]`` in TOML). Clock times are parsed here, once, into seconds
of the day.
"""

from __future__ import annotations

import enum
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from courier.errors import InputError, Problem
from courier.text import hhmm, parse_time_s

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


class Solver(enum.StrEnum):
    """Routing backends (see :mod:`courier.routing.backend`)."""

    ORTOOLS = "ortools"  # OR-Tools' guided local search: every constraint of a station
    PYVRP = "pyvrp"  # the default: PyVRP's iterated local search; lunch placed after routing


class Strategy(enum.StrEnum):
    """How a day is split before routing."""

    AUTO = "auto"  # one joint problem up to joint_max_stops, districts beyond
    DISTRICTS = "districts"  # one problem per courier's district, in parallel
    JOINT = "joint"  # one problem over every courier and stop


class Budget(enum.StrEnum):
    """What ends a search: a deterministic amount of work, or the clock."""

    WORK = "work"  # iterations sized to the day and the time limit; the time limit a hard cap
    TIME = "time"  # search until the time limit: a little better, not the same plan twice


class Coords(enum.StrEnum):
    """Datum of input coordinates."""

    AUTO = "auto"  # WGS-84, refused when the points fit GCJ-02 markedly better
    WGS84 = "wgs84"  # GPS, OpenStreetMap: planned as given
    GCJ02 = "gcj02"  # Chinese map apps (Amap, Tencent); converted to WGS-84 on input
    BD09 = "bd09"  # Baidu Maps; converted to WGS-84 on input


# Defaults shared by the roster, the configuration and the routing problem: one home each.
RELOAD_S = 600  # loading the next trip at the station
MAX_TRIPS = 3  # trips a courier may do in a day when the roster does not say
LUNCH_MAX_MIN = 180  # a longer "lunch" is a typo or a second shift
LOCKER_CAPACITY_PARCELS = 100  # a locker bank's free compartments when the lockers file does not say
# What leaving a stop out costs, in courier seconds. It is above anything one stop can add
# to a day (the span grows by at most the 24 h horizon), so a stop is left out only when no
# courier has the capacity, the shift or the search time for it. With 3 h an evening-window
# stop that kept a courier out from 15:00 to 18:30 cost more than leaving it: the demo
# planned 890 of 900 parcels with idle couriers (900 with 24 h), and a 3,000-parcel day
# still dropped 145 with 80 couriers, so no roster size "cleared" it.
DROP_PENALTY_S = 24 * 3600
# Street distance over straight-line distance in a Chinese city: turns graph speeds into
# door-to-door speeds (districts) and great-circle metres into street metres (history).
DETOUR_FACTOR = 1.3


def _check(checks: Mapping[str, bool], what: str) -> None:
    """Raise one InputError naming every check that failed (``{message: failed}``)."""
    bad = [f"{what}: {message}" for message, failed in checks.items() if failed]
    if bad:
        raise InputError("bad plan parameters: " + "; ".join(bad))


@dataclass(frozen=True, slots=True)
class LunchConfig:
    """The station's lunch rule: ``minutes`` starting between ``from_s`` and ``to_s``.

    Every courier whose shift holds it takes it; the roster's ``lunch_*`` columns override it
    per courier. ``minutes = 0`` means no lunch.
    """

    from_s: int = 11 * 3600
    to_s: int = 13 * 3600 + 1800
    minutes: int = 30

    def __post_init__(self) -> None:
        _check({
            f"minutes must be 0 (no lunch) to {LUNCH_MAX_MIN}, got {self.minutes}":
                not 0 <= self.minutes <= LUNCH_MAX_MIN,
            f"to ({hhmm(self.to_s)}) is before from ({hhmm(self.from_s)})": self.to_s < self.from_s,
            "from and to must be seconds of the day >= 0": min(self.from_s, self.to_s) < 0,
        }, "lunch")

    @classmethod
    def parse(cls, text: str) -> LunchConfig:
        """Read ``FROM-TO/MINUTES`` (e.g. ``11:00-13:30/30``) or ``none``."""
        if text.strip().lower() in ("none", "no", "0", "off"):
            return cls(minutes=0)
        try:
            window, minutes = text.split("/")
            lo, hi = window.split("-")
            return cls(from_s=parse_time_s(lo), to_s=parse_time_s(hi), minutes=int(minutes))
        except ValueError:
            raise InputError(f"--lunch {text!r}: allowed: FROM-TO/MINUTES such as "
                             "11:00-13:30/30, or none") from None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> LunchConfig:
        """Read a ``[lunch]`` table: ``from``/``to`` as ``HH:MM`` (or seconds), ``minutes``."""
        known = {"from", "to", "minutes", "from_s", "to_s"}
        _refuse_unknown(data, known, "lunch")
        values: dict[str, int] = {}
        for key in ("from", "to"):
            raw = data.get(key, data.get(f"{key}_s"))
            if raw is None:
                continue
            if isinstance(raw, bool):
                raise InputError(f"bad plan parameters: lunch.{key} {raw!r}: a time HH:MM")
            try:
                values[f"{key}_s"] = raw if isinstance(raw, int) else parse_time_s(str(raw))
            except ValueError as exc:
                raise InputError(f"bad plan parameters: lunch.{key} {raw!r}: {exc}") from None
        if "minutes" in data:
            values["minutes"] = _whole(data["minutes"], "lunch.minutes")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return {"from": hhmm(self.from_s), "to": hhmm(self.to_s), "minutes": self.minutes}


@dataclass(frozen=True, slots=True)
class DistrictConfig:
    """Knobs of the automatic districts (:func:`courier.districts.auto_districts`).

    ``balance`` is the max/mean (and mean/min) of estimated work per shift-hour the last pass
    aims for; the real routes come out somewhat wider, so it sits below the 1.15 promised for
    them. ``stickiness_s`` is the travel time a stop would have to save to leave yesterday's
    courier; ``previous_radius_m`` how far a stop may be from yesterday's nearest location to
    inherit its courier.
    """

    balance: float = 1.06
    stickiness_s: float = 600.0
    previous_radius_m: float = 250.0
    rounds: int = 2
    # Shift hours a district may fill with estimated work before another courier is called
    # in (courier.districts.active_couriers); 0 gives every courier on the roster a district.
    fleet_fill: float = 0.5

    def __post_init__(self) -> None:
        _check({
            f"balance must be >= 1, got {self.balance}": not self.balance >= 1.0,
            "stickiness_s and previous_radius_m must be >= 0":
                self.stickiness_s < 0 or self.previous_radius_m < 0,
            f"rounds must be >= 1, got {self.rounds}": self.rounds < 1,
            f"fleet_fill must be from 0 to 1, got {self.fleet_fill}":
                not 0 <= self.fleet_fill <= 1,
        }, "auto_districts")


@dataclass(frozen=True, slots=True)
class RebalanceConfig:
    """Evening out automatic districts after routing (:mod:`courier.rebalance`).

    ``share`` of the routing time is kept for it; a courier whose routed day is over
    ``1 + over`` times the mean hands stops to a neighbour with room, in ``rounds`` rounds, for
    at least ``min_districts`` districts; a receiver with less room than ``min_room_s`` (idle
    time plus the part of the mean day it does not work) is not worth a re-solve. The district
    split balances estimated work; routed days differ from it by windows and waiting (measured
    on a 20,000-parcel Shenzhen day: routed days 5.2-8.8 h for estimates within 6 %). Measured
    there at 240 s: balance 1.17 -> 1.11-1.14 (three runs), the longest day 8.8-9.4 h -> 8.2-8.5 h.
    """

    share: float = 0.2
    over: float = 0.08
    min_districts: int = 4
    rounds: int = 3
    min_room_s: int = 900

    def __post_init__(self) -> None:
        _check({
            f"share must be from 0 (off) to below 1, got {self.share}": not 0 <= self.share < 1,
            f"over must be >= 0, got {self.over}": self.over < 0,
            "min_districts, rounds and min_room_s must be >= 0":
                min(self.min_districts, self.rounds, self.min_room_s) < 0,
        }, "rebalance")


_SECTIONS: dict[str, type] = {"lunch": LunchConfig, "auto_districts": DistrictConfig,
                              "rebalance": RebalanceConfig}


@dataclass(frozen=True, slots=True)
class PlanConfig:
    """Every knob of a planning run. Seeds are explicit; nothing is global.

    Sub-tables: :class:`LunchConfig` (``lunch``), :class:`DistrictConfig` (``auto_districts``) and
    :class:`RebalanceConfig` (``rebalance``). ``workers`` 0 means all cores.
    """

    time_limit_s: float = 30.0
    seed: int = 0
    solution_limit: int | None = None
    # Work by default: the same inputs, seed and time limit give the same plan, here or on a
    # Dask cluster, unless the time limit cuts a search (summary.json says so).
    budget: Budget = Budget.WORK
    coords: Coords = Coords.AUTO
    solver: Solver = Solver.PYVRP
    strategy: Strategy = Strategy.AUTO
    # Up to this many stops a day is one joint problem (strategy auto): measured on Futian
    # days of 394 and 642 stops, one joint PyVRP search used 3 and 4 of 6 couriers for
    # 33 h and 44 h, against 64 h over six districts (courier bench station).
    joint_max_stops: int = 2000
    workers: int = 0
    max_snap_m: float = 300.0
    merge_radius_m: float = 5.0
    # Parcels with the same normalised address join one stop when this close: one building
    # entrance, not two towers of a compound that share a street number.
    address_radius_m: float = 50.0
    service_per_stop_s: int = 60
    service_per_parcel_s: int = 15
    door_walk_speed_m_s: float = 1.2
    locker_radius_m: float = 300.0
    locker_service_per_stop_s: int = 120
    locker_service_per_parcel_s: int = 8
    reload_s: int = RELOAD_S
    bag_capacity_parcels: int = 25
    # Chutes of the station's sort wall; 0 = one per courier (courier.sortplan.assign_chutes).
    chutes: int = 0
    drop_penalty_s: int = DROP_PENALTY_S
    lunch: LunchConfig = field(default_factory=LunchConfig)
    auto_districts: DistrictConfig = field(default_factory=DistrictConfig)
    rebalance: RebalanceConfig = field(default_factory=RebalanceConfig)

    def __post_init__(self) -> None:
        problems: list[str] = []
        choices: tuple[tuple[str, type[enum.StrEnum]], ...] = (
            ("coords", Coords), ("solver", Solver), ("strategy", Strategy), ("budget", Budget))
        for name, kind in choices:
            value = getattr(self, name)
            try:
                object.__setattr__(self, name, kind(value))
            except ValueError:
                allowed = ", ".join(k.value for k in kind)
                problems.append(f"{name} must be one of {allowed}, got {value!r}")
        if not self.time_limit_s > 0:
            problems.append(f"time_limit_s must be > 0, got {self.time_limit_s}")
        if self.solution_limit is not None and self.solution_limit < 1:
            problems.append(f"solution_limit must be >= 1, got {self.solution_limit}")
        if self.workers < 0:
            problems.append(f"workers must be >= 0 (0 = all cores), got {self.workers}")
        if self.joint_max_stops < 0:
            problems.append(f"joint_max_stops must be >= 0, got {self.joint_max_stops}")
        for name in ("max_snap_m", "merge_radius_m", "door_walk_speed_m_s"):
            if not getattr(self, name) > 0:
                problems.append(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("service_per_stop_s", "service_per_parcel_s", "reload_s", "drop_penalty_s",
                     "locker_radius_m", "locker_service_per_stop_s", "address_radius_m",
                     "locker_service_per_parcel_s", "chutes"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.bag_capacity_parcels < 1:
            problems.append(f"bag_capacity_parcels must be >= 1, got {self.bag_capacity_parcels}")
        for name, kind in _SECTIONS.items():
            if not isinstance(getattr(self, name), kind):
                problems.append(f"{name} must be a {kind.__name__}, got {getattr(self, name)!r}")
        if problems:
            raise InputError("bad plan parameters: " + "; ".join(problems))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> PlanConfig:
        """Build a configuration from plain values (a TOML document, keyword options).

        Sub-tables may be given as mappings or as their dataclasses; unknown keys are refused
        with the list of allowed ones.
        """
        _refuse_unknown(data, {f.name for f in fields(cls)}, "plan")
        values = dict(data)
        try:
            for name, kind in _SECTIONS.items():
                section = values.get(name)
                if isinstance(section, Mapping):
                    if kind is LunchConfig:
                        values[name] = LunchConfig.from_mapping(section)
                    else:
                        _refuse_unknown(section, {f.name for f in fields(kind)}, name)
                        values[name] = kind(**_typed(kind, section, name))
            return cls(**_typed(cls, values, "plan"))
        except TypeError as exc:
            raise InputError(f"bad plan parameters: {exc}") from None

    @classmethod
    def from_toml(cls, path: Path, **overrides: Any) -> PlanConfig:
        """Read parameters from a TOML file (keys as the field names); overrides win."""
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise InputError(f"cannot read parameters from {path}: {exc}") from None
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_mapping(data)

    def to_dict(self) -> dict[str, Any]:
        """Return every field as plain JSON values (times as HH:MM): enough to plan again."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, LunchConfig):
                out[f.name] = value.to_dict()
            elif is_dataclass(value) and not isinstance(value, type):
                out[f.name] = asdict(value)
            elif isinstance(value, enum.Enum):
                out[f.name] = value.value
            else:
                out[f.name] = value
        return out


def _refuse_unknown(data: Mapping[str, Any], known: set[str], what: str) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        raise InputError(f"unknown {what} parameter(s) {', '.join(unknown)}; "
                         f"allowed: {', '.join(sorted(known))}")


def _typed(kind: type, values: Mapping[str, Any], what: str) -> dict[str, Any]:
    """Check plain values against the number fields of ``kind``: a number where a number
    goes, a whole number where an int goes (2.0 becomes 2); a bool is not a number."""
    out = dict(values)
    problems = []
    for f in fields(kind):
        if f.name not in out or out[f.name] is None or not isinstance(f.type, str):
            continue
        value, wanted = out[f.name], f.type
        if wanted.startswith("int") and (isinstance(value, bool) or not isinstance(value, int)):
            if isinstance(value, float) and value.is_integer():
                out[f.name] = int(value)
            else:
                problems.append(f"{what}.{f.name} must be a whole number, got {value!r}")
        elif wanted.startswith("float") and (isinstance(value, bool)
                                             or not isinstance(value, int | float)):
            problems.append(f"{what}.{f.name} must be a number, got {value!r}")
    if problems:
        raise InputError("bad plan parameters: " + "; ".join(problems))
    return out


def _whole(value: Any, name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InputError(f"bad plan parameters: {name} must be a whole number, got {value!r}") from None
    return number
