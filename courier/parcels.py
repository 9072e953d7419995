"""Parcels in: validation that loses nothing (parcels, couriers, lockers), and stops."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from courier.config import LOCKER_CAPACITY_PARCELS, LUNCH_MAX_MIN, MAX_TRIPS, PlanConfig, VehicleProfile
from courier.errors import InputError, Problem
from courier.model import Courier, Locker, Parcel, Reject, Snap, Stop, Window
from courier.text import parse_time_s

PARCEL_REQUIRED = ("parcel_id", "lon", "lat")
PARCEL_OPTIONAL = (
    "weight_kg", "volume_l", "window_start", "window_end", "windows", "kind", "priority",
    "locker_ok", "address", "recipient", "phone", "notes", "ready_at", "wave",
)
COURIER_REQUIRED = (
    "courier_id", "vehicle", "capacity_parcels", "capacity_kg", "shift_start", "shift_end",
)
COURIER_OPTIONAL = ("capacity_l", "max_trips", "name", "lunch_from", "lunch_to", "lunch_min")

# Beyond these a value is a typo or a unit mix-up (grams for kilograms), not a parcel.
MAX_WEIGHT_KG = 1000.0
MAX_VOLUME_L = 5000.0
DEFAULT_WEIGHT_KG = 1.0
DEFAULT_VOLUME_L = 5.0
DEFAULT_CAPACITY_L = 1500.0  # an e-tricycle's cargo box is about 1.5 m3

_TRUE = {"1", "true", "yes", "y", "t", "是"}
_FALSE = {"", "0", "false", "no", "n", "f", "否"}
# A window end left empty: open until the latest time of day accepted.
_OPEN_END_S = 48 * 3600


def _parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError("not a yes/no value; allowed: 1/0, true/false, yes/no")


def _parse_windows(start: str, end: str, windows: str) -> tuple[Window, ...]:
    spans: list[Window] = []
    if windows.strip():
        for part in windows.split(";"):
            if "-" not in part:
                raise ValueError("windows must look like 09:00-11:00;14:00-16:00")
            a, b = part.split("-", 1)
            spans.append((parse_time_s(a), parse_time_s(b)))
    if start.strip() or end.strip():
        a_s = parse_time_s(start) if start.strip() else 0
        b_s = parse_time_s(end) if end.strip() else _OPEN_END_S
        spans.append((a_s, b_s))
    for a_s, b_s in spans:
        if b_s < a_s:
            raise ValueError("the window ends before it starts")
    return tuple(sorted(set(spans)))


def _check_columns(table: pd.DataFrame, *, file: str, required: Sequence[str],
                   optional: Sequence[str], what: str) -> None:
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise InputError(
            f"{file}: the {what} file lacks required column(s) {', '.join(missing)}. "
            f"Required: {', '.join(required)}; optional: {', '.join(optional)}. "
            f"Found: {', '.join(c for c in table.columns if c != '__row__') or 'none'}."
        )


def _ready_s(ready_at: str, wave: str, waves_s: Sequence[int],
             bad: list[tuple[str, str, str]]) -> int:
    """When a parcel can be loaded: its ``ready_at`` time, its ``wave``'s time (1 = the first
    of ``waves_s``), the later of the two when both are given; 0 when neither is."""
    ready = 0
    if ready_at:
        try:
            ready = parse_time_s(ready_at)
        except ValueError as exc:
            bad.append(("ready_at", ready_at, str(exc)))
    if wave:
        if not waves_s:
            bad.append(("wave", wave, "a wave number needs the waves' times, as in --waves "
                                      "06:30,10:30,14:00"))
        elif not (wave.isdigit() and 1 <= int(wave) <= len(waves_s)):
            bad.append(("wave", wave, f"not a wave number; allowed: 1-{len(waves_s)} "
                                      f"(--waves gives {len(waves_s)})"))
        else:
            ready = max(ready, int(waves_s[int(wave) - 1]))
    return ready


def validate_parcels(table: pd.DataFrame, *, file: str, waves_s: Sequence[int] = (),
                     ) -> tuple[tuple[Parcel, ...], tuple[Reject, ...]]:
    """Split a table of parcel rows into valid parcels and rejects (one per bad row).

    Every row ends in exactly one of the two. A row with several problems is rejected once,
    naming every problem. A repeated ``parcel_id`` keeps its first row; later ones are rejected.
    ``waves_s`` are the trucks' ready times (seconds of the day) that a ``wave`` column numbers.
    """
    _check_columns(table, file=file, required=PARCEL_REQUIRED, optional=PARCEL_OPTIONAL,
                   what="parcels")
    cols = {c: (table[c].tolist() if c in table.columns else [""] * len(table))
            for c in (*PARCEL_REQUIRED, *PARCEL_OPTIONAL)}
    rows = table["__row__"].tolist()
    parcels: list[Parcel] = []
    rejects: list[Reject] = []
    first_row: dict[str, int] = {}
    for i, row in enumerate(rows):
        get = {c: str(v[i]).strip() for c, v in cols.items()}
        bad: list[tuple[str, str, str]] = []  # field, value, reason
        pid = get["parcel_id"]
        if not pid:
            bad.append(("parcel_id", "", "missing parcel id"))
        elif pid in first_row:
            bad.append(("parcel_id", pid, f"duplicate parcel id (first seen in row {first_row[pid]})"))
        lon = _number(get["lon"], "lon", -180.0, 180.0, bad, required=True)
        lat = _number(get["lat"], "lat", -90.0, 90.0, bad, required=True)
        weight = _number(get["weight_kg"], "weight_kg", 0.0, MAX_WEIGHT_KG, bad,
                         default=DEFAULT_WEIGHT_KG)
        volume = _number(get["volume_l"], "volume_l", 0.0, MAX_VOLUME_L, bad,
                         default=DEFAULT_VOLUME_L)
        windows: tuple[Window, ...] = ()
        try:
            windows = _parse_windows(get["window_start"], get["window_end"], get["windows"])
        except ValueError as exc:
            value = get["windows"] or f"{get['window_start']}-{get['window_end']}"
            bad.append(("window", value, str(exc)))
        kind = get["kind"].lower() or "delivery"
        if kind not in ("delivery", "pickup"):
            bad.append(("kind", get["kind"], "unknown kind; allowed: delivery, pickup"))
        ready = _ready_s(get["ready_at"], get["wave"], waves_s, bad)
        flags = {}
        for name in ("priority", "locker_ok"):
            try:
                flags[name] = _parse_bool(get[name])
            except ValueError as exc:
                bad.append((name, get[name], str(exc)))
        if bad:
            rejects.append(Reject(
                row=int(row), parcel_id=pid,
                field=";".join(b[0] for b in bad),
                value=";".join(b[1] for b in bad),
                reason="; ".join(b[2] for b in bad),
            ))
            if pid and pid not in first_row and not any(b[0] == "parcel_id" for b in bad):
                # A rejected row still claims its id, so a later row with it is a duplicate.
                first_row[pid] = int(row)
            continue
        first_row[pid] = int(row)
        parcels.append(Parcel(
            parcel_id=pid, row=int(row), lon=lon, lat=lat, weight_kg=weight, volume_l=volume,
            windows_s=windows, kind="pickup" if kind == "pickup" else "delivery",
            priority=flags["priority"], locker_ok=flags["locker_ok"], address=get["address"],
            recipient=get["recipient"], phone=get["phone"], notes=get["notes"], ready_s=ready,
        ))
    return tuple(parcels), tuple(rejects)


# A pattern has to fit at least this share of the rows before the terminal names it.
_HINT_SHARE = 0.5
_DECIMAL_COMMA = re.compile(r"^-?\d+,\d+$")


def coordinate_hints(table: pd.DataFrame) -> list[str]:
    """Say what is wrong with the coordinates when most rows share one mistake: lon and lat
    swapped, degrees times a million, or a decimal comma."""
    if "lon" not in table.columns or "lat" not in table.columns or table.empty:
        return []
    lon_text = table["lon"].astype(str).str.strip()
    lat_text = table["lat"].astype(str).str.strip()
    lon = pd.to_numeric(lon_text, errors="coerce")
    lat = pd.to_numeric(lat_text, errors="coerce")
    n = len(table)
    hints = []
    swapped = (lat.abs() > 90) & (lat.abs() <= 180) & (lon.abs() <= 90)
    if swapped.sum() >= _HINT_SHARE * n:
        i = int(swapped.to_numpy().argmax())
        hints.append(f"lon and lat look swapped in {int(swapped.sum())} of {n} rows (row "
                     f"{table['__row__'].iloc[i]}: lat {lat_text.iloc[i]} is a longitude): "
                     "exchange the two columns' names")
    micro = (lon.abs() > 180) & ((lon / 1e6).abs() <= 180) & ((lat / 1e6).abs() <= 90)
    if micro.sum() >= _HINT_SHARE * n:
        i = int(micro.to_numpy().argmax())
        hints.append(f"coordinates look like degrees x 1,000,000 in {int(micro.sum())} of {n} "
                     f"rows ({lon_text.iloc[i]} = {float(lon.iloc[i]) / 1e6:g} degrees): "
                     "divide them by 1,000,000")
    comma = lon_text.str.match(_DECIMAL_COMMA) | lat_text.str.match(_DECIMAL_COMMA)
    if comma.sum() >= _HINT_SHARE * n:
        i = int(comma.to_numpy().argmax())
        hints.append(f"decimal commas in {int(comma.sum())} of {n} rows ({lon_text.iloc[i]}): "
                     "write decimal points, 114.05 not 114,05")
    return hints


def rejects_brief(rejects: Sequence[Reject], *, top: int = 3) -> list[tuple[str, int]]:
    """The most common reasons rows were rejected, with their counts."""
    counts: dict[str, int] = {}
    for r in rejects:
        key = r.reason.split("; allowed")[0] if "m from the nearest street" not in r.reason \
            else "too far from every street"
        counts[key] = counts.get(key, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]


def _number(text: str, field: str, low: float, high: float, bad: list[tuple[str, str, str]],
            *, required: bool = False, default: float = 0.0) -> float:
    if not text:
        if required:
            bad.append((field, "", f"missing {field}"))
        return default
    try:
        value = float(text)
    except ValueError:
        bad.append((field, text, f"not a number; allowed: a number from {low:g} to {high:g}"))
        return default
    if not math.isfinite(value) or not low <= value <= high:
        bad.append((field, text, f"out of range; allowed: {low:g} to {high:g}"))
        return default
    return value


def validate_couriers(table: pd.DataFrame, *, file: str,
                      profiles: Mapping[str, VehicleProfile]) -> tuple[Courier, ...]:
    """Return the roster, or raise one InputError listing every bad courier field."""
    _check_columns(table, file=file, required=COURIER_REQUIRED, optional=COURIER_OPTIONAL,
                   what="couriers")
    problems: list[Problem] = []
    couriers: list[Courier] = []
    seen: set[str] = set()
    for record in table.to_dict("records"):
        row = int(record["__row__"])
        get = {k: str(record.get(k, "") or "").strip() for k in (*COURIER_REQUIRED, *COURIER_OPTIONAL)}
        bad: list[tuple[str, str, str]] = []  # field, value, what is allowed
        courier = _courier(get, seen, profiles, bad)
        problems.extend(Problem(file, row, f, v, a) for f, v, a in bad)
        if courier is not None and not problems:
            couriers.append(courier)
    if problems:
        raise InputError(f"{file}: bad courier roster", tuple(problems))
    if not couriers:
        raise InputError(f"{file}: the courier roster is empty; at least one courier is needed")
    return tuple(couriers)


# Other names people give the vehicle kinds.
_VEHICLE_ALIASES = {"tricycle": "etricycle", "ebike": "etricycle", "foot": "walk",
                    "walker": "walk", "walking": "walk"}


def _courier(get: Mapping[str, str], seen: set[str], profiles: Mapping[str, VehicleProfile],
             bad: list[tuple[str, str, str]]) -> Courier | None:
    """Return the courier of one roster row, or None with its problems added to ``bad``."""
    cid = get["courier_id"]
    if not cid:
        bad.append(("courier_id", cid, "a non-empty id"))
    elif cid in seen:
        bad.append(("courier_id", cid, "each courier once (duplicate id)"))
    seen.add(cid)
    vehicle = get["vehicle"].lower().replace("-", "").replace("_", "")
    vehicle = _VEHICLE_ALIASES.get(vehicle, vehicle)
    if vehicle not in profiles:
        bad.append(("vehicle", get["vehicle"], f"one of {', '.join(sorted(profiles))}"))
    numbers = _roster_numbers(get, bad)
    times = _roster_times(get, ("shift_start", "shift_end"), bad, required=True)
    if len(times) == 2 and times["shift_end"] <= times["shift_start"]:
        bad.append(("shift_end", get["shift_end"], "a time after shift_start"))
    lunch = _roster_times(get, ("lunch_from", "lunch_to"), bad, required=False)
    lunch_min = None
    if get["lunch_min"]:
        try:
            lunch_min = int(get["lunch_min"])
            if not 0 <= lunch_min <= LUNCH_MAX_MIN:
                raise ValueError
        except ValueError:
            bad.append(("lunch_min", get["lunch_min"],
                        f"whole minutes from 0 (no lunch) to {LUNCH_MAX_MIN}"))
    lo, hi = lunch.get("lunch_from"), lunch.get("lunch_to")
    if lo is not None and hi is not None and hi < lo:
        bad.append(("lunch_to", get["lunch_to"], "a time at or after lunch_from"))
    if bad:
        return None
    return Courier(
        courier_id=cid, vehicle=vehicle, capacity_parcels=int(numbers["capacity_parcels"]),
        capacity_kg=numbers["capacity_kg"], capacity_l=numbers["capacity_l"],
        shift_start_s=times["shift_start"], shift_end_s=times["shift_end"],
        max_trips=int(numbers["max_trips"]), name=get["name"],
        lunch_min=lunch_min, lunch_from_s=lo, lunch_to_s=hi,
    )


def _roster_numbers(get: Mapping[str, str], bad: list[tuple[str, str, str]]) -> dict[str, float]:
    numbers: dict[str, float] = {}
    for field, low, default in (("capacity_parcels", 1, None), ("capacity_kg", 0.001, None),
                                ("capacity_l", 0.001, DEFAULT_CAPACITY_L),
                                ("max_trips", 1, float(MAX_TRIPS))):
        text = get[field]
        if not text and default is not None:
            numbers[field] = default
            continue
        try:
            numbers[field] = float(text)
            if not math.isfinite(numbers[field]) or numbers[field] < low:
                raise ValueError
        except ValueError:
            bad.append((field, text, f"a number >= {low:g}"))
    return numbers


def _roster_times(get: Mapping[str, str], names: Sequence[str], bad: list[tuple[str, str, str]],
                  *, required: bool) -> dict[str, int]:
    times: dict[str, int] = {}
    for field in names:
        if not get[field] and not required:
            continue
        try:
            times[field] = parse_time_s(get[field])
        except ValueError as exc:
            bad.append((field, get[field], str(exc)))
    return times


def normalise_address(text: str) -> str:
    """Return an address key: full-width folded, spaces and punctuation removed, lower case."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in folded if ch.isalnum())


@dataclass(frozen=True, slots=True)
class SnappedParcel:
    parcel: Parcel
    snap: Snap
    x_m: float
    y_m: float


@dataclass(frozen=True, slots=True)
class SnappedLocker:
    """A parcel locker or pickup station, snapped to the streets."""

    locker: Locker
    snap: Snap
    x_m: float
    y_m: float


LOCKER_REQUIRED = ("locker_id", "lon", "lat")
LOCKER_OPTIONAL = ("capacity_parcels", "name")


def validate_lockers(table: pd.DataFrame, *, file: str) -> tuple[Locker, ...]:
    """Return the lockers, or raise one InputError listing every problem."""
    _check_columns(table, file=file, required=LOCKER_REQUIRED, optional=LOCKER_OPTIONAL,
                   what="lockers")
    problems: list[Problem] = []
    out = []
    seen: set[str] = set()
    for record in table.to_dict("records"):
        row = int(record["__row__"])
        get = {k: str(record.get(k, "") or "").strip() for k in (*LOCKER_REQUIRED, *LOCKER_OPTIONAL)}
        bad: list[tuple[str, str, str]] = []
        lid = get["locker_id"]
        if not lid or lid in seen:
            bad.append(("locker_id", lid, "a unique, non-empty id"))
        seen.add(lid)
        lon = _number(get["lon"], "lon", -180.0, 180.0, bad, required=True)
        lat = _number(get["lat"], "lat", -90.0, 90.0, bad, required=True)
        cap = _number(get["capacity_parcels"], "capacity_parcels", 1.0, 1e6, bad,
                      default=float(LOCKER_CAPACITY_PARCELS))
        problems.extend(Problem(file, row, f, v, a) for f, v, a in bad)
        out.append(Locker(locker_id=lid, lon=lon, lat=lat, capacity_parcels=int(cap),
                          name=get["name"]))
    if problems:
        raise InputError(f"{file}: bad lockers", tuple(problems))
    return tuple(out)


def build_stops(items: Sequence[SnappedParcel], *, config: PlanConfig,
                max_load: tuple[int, float, float] | None = None,
                lockers: Sequence[SnappedLocker] = ()) -> tuple[Stop, ...]:
    """Merge parcels for the same door into stops.

    Parcels join a stop when their snapped street points lie within ``merge_radius_m`` of
    each other (transitively), or when they share a normalised address and lie within
    ``address_radius_m``;
    parcels with different time windows stay apart (one visit cannot honour two windows).
    Service time = a base per stop + a time per parcel + the walk from the street to the door
    and back. A door with more parcels than the biggest vehicle carries (``max_load``: parcels,
    kg, litres) is split into several stops, so it is served in several loads, not dropped.

    Lockers: the parcels of a door go to the nearest locker within ``locker_radius_m`` that has
    room when every one of them is a delivery whose recipient consented (``locker_ok``); then
    the courier saves the whole door visit. A door with one parcel that lacks consent is
    visited anyway, so its parcels stay at the door. Without consent a parcel never goes to a
    locker (China's rule since March 2024).
    """
    if not items:
        return ()
    xy = np.array([(it.x_m, it.y_m) for it in items])
    tree = cKDTree(xy)
    pairs = tree.query_pairs(config.merge_radius_m, output_type="ndarray")
    by_address: dict[str, list[int]] = {}
    for i, it in enumerate(items):
        key = normalise_address(it.parcel.address)
        if key:
            by_address.setdefault(key, []).append(i)
    extra = []
    for members in by_address.values():
        for j in members[1:]:
            if math.dist(xy[members[0]], xy[j]) <= config.address_radius_m:
                extra.append((members[0], j))
    edges = np.vstack([pairs.reshape(-1, 2), np.array(extra, dtype=np.int64).reshape(-1, 2)])
    n = len(items)
    adj = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    _, label = connected_components(adj, directed=False)
    # A door's parcels that come on different trucks are different stops: one can go out
    # with the morning while the other waits for its wave.
    groups: dict[tuple[int, tuple[Window, ...], int], list[int]] = {}
    for i, it in enumerate(items):
        groups.setdefault((int(label[i]), it.parcel.windows_s, it.parcel.ready_s), []).append(i)
    at_locker = _to_lockers(items, label, lockers, config)
    if at_locker:
        moved = {i for members in at_locker.values() for i in members}
        groups = {k: kept for k, v in groups.items() if (kept := [i for i in v if i not in moved])}
    # Deterministic ids: stops numbered by the input row of their first parcel.
    ordered = sorted(groups.values(), key=lambda idx: min(items[i].parcel.row for i in idx))
    chunks = [chunk for idx in ordered
              for chunk in _split_load(sorted(idx, key=lambda i: items[i].parcel.row), items,
                                       max_load)]
    stops = []
    for k, members in enumerate(chunks, start=1):
        head = items[members[0]]
        parcels = [items[i].parcel for i in members]
        deliveries = [p for p in parcels if p.kind == "delivery"]
        pickups = [p for p in parcels if p.kind == "pickup"]
        walk_m = max(items[i].snap.distance_m for i in members)
        service = (config.service_per_stop_s + config.service_per_parcel_s * len(parcels)
                   + round(2 * walk_m / config.door_walk_speed_m_s))
        stops.append(Stop(
            stop_id=f"S{k:05d}",
            parcel_ids=tuple(p.parcel_id for p in parcels),
            lon=head.parcel.lon, lat=head.parcel.lat, snap=head.snap,
            service_s=int(service), windows_s=head.parcel.windows_s,
            delivery_parcels=len(deliveries),
            delivery_kg=sum(p.weight_kg for p in deliveries),
            delivery_l=sum(p.volume_l for p in deliveries),
            pickup_parcels=len(pickups),
            pickup_kg=sum(p.weight_kg for p in pickups),
            pickup_l=sum(p.volume_l for p in pickups),
            priority=any(p.priority for p in parcels),
            address=head.parcel.address,
            ready_s=max(p.ready_s for p in parcels),
        ))
    by_id = {lk.locker.locker_id: lk for lk in lockers}
    for lid in sorted(at_locker):
        locker = by_id[lid]
        members = sorted(at_locker[lid], key=lambda i: (items[i].parcel.ready_s,
                                                        items[i].parcel.row))
        by_ready: dict[int, list[int]] = {}
        for i in members:  # one locker stop per truck wave
            by_ready.setdefault(items[i].parcel.ready_s, []).append(i)
        for chunk in (c for part in by_ready.values() for c in _split_load(part, items, max_load)):
            parcels = [items[i].parcel for i in chunk]
            service = (config.locker_service_per_stop_s
                       + config.locker_service_per_parcel_s * len(parcels)
                       + round(2 * locker.snap.distance_m / config.door_walk_speed_m_s))
            stops.append(Stop(
                stop_id=f"S{len(stops) + 1:05d}",
                parcel_ids=tuple(p.parcel_id for p in parcels),
                lon=locker.locker.lon, lat=locker.locker.lat, snap=locker.snap,
                service_s=int(service),
                windows_s=(), delivery_parcels=len(parcels),
                delivery_kg=sum(p.weight_kg for p in parcels),
                delivery_l=sum(p.volume_l for p in parcels),
                priority=any(p.priority for p in parcels),
                address=f"locker {locker.locker.name or locker.locker.locker_id}", zone="locker",
                ready_s=max(p.ready_s for p in parcels),
            ))
    return tuple(stops)


def _to_lockers(items: Sequence[SnappedParcel], label: np.ndarray, lockers: Sequence[SnappedLocker],
                config: PlanConfig) -> dict[str, list[int]]:
    """Return locker id -> parcels (item indices) that go there instead of their door."""
    if not lockers:
        return {}
    doors: dict[int, list[int]] = {}
    for i in range(len(items)):
        doors.setdefault(int(label[i]), []).append(i)
    tree = cKDTree(np.array([(lk.x_m, lk.y_m) for lk in lockers]))
    room = [lk.locker.capacity_parcels for lk in lockers]
    out: dict[str, list[int]] = {}
    # Doors in input order, so the same file always fills the lockers the same way.
    for members in sorted(doors.values(), key=lambda m: min(items[i].parcel.row for i in m)):
        if not all(items[i].parcel.locker_ok and items[i].parcel.kind == "delivery"
                   for i in members):
            continue
        head = items[members[0]]
        near = tree.query_ball_point((head.x_m, head.y_m), config.locker_radius_m)
        near = sorted(near, key=lambda k: (math.dist((head.x_m, head.y_m),
                                                     (lockers[k].x_m, lockers[k].y_m)), k))
        for k in near:
            if room[k] >= len(members):
                room[k] -= len(members)
                out.setdefault(lockers[k].locker.locker_id, []).extend(members)
                break
    return out


def _split_load(members: list[int], items: Sequence[SnappedParcel],
                max_load: tuple[int, float, float] | None) -> list[list[int]]:
    if max_load is None:
        return [members]
    chunks: list[list[int]] = [[]]
    load = [0.0, 0.0, 0.0]
    for i in members:
        p = items[i].parcel
        add = (1.0, p.weight_kg, p.volume_l)
        if chunks[-1] and any(load[d] + add[d] > max_load[d] for d in range(3)):
            chunks.append([])
            load = [0.0, 0.0, 0.0]
        chunks[-1].append(i)
        load = [load[d] + add[d] for d in range(3)]
    return chunks
