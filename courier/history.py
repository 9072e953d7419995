"""Plans against real couriers: replay historical delivery days and plan the same stops.

For every courier-day of a delivery history (LaDe-D records or a plain CSV) the actual stop
sequence (station -> stops in the order of their first delivery -> station) is compared with
two plans of the same stops from the same station by :func:`courier.routing.solve`:

``shortest``
    one vehicle, one trip, no capacity, the shortest tour;
``zone_by_zone``
    the courier's usual order of AOIs (areas of interest), learned from the courier's *other*
    days only (leave-one-day-out), is imposed and the engine orders the stops inside each AOI
    and the connections between them.

There is no street network of these cities here, so every distance is the great-circle
(haversine) distance times a detour factor (1.3 by default: a typical ratio of street to
straight-line distance in a city grid). Actual and planned routes are measured the same way,
so the comparison is fair even though the absolute metres are an estimate. Travel time is
distance over a constant speed; every stop costs the same service time.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from courier.config import DETOUR_FACTOR
from courier.coords import to_wgs84
from courier.errors import InputError, Problem
from courier.io import read_table, write_figure, write_files, write_json, write_text
from courier.text import esc

__all__ = [
    "VARIANTS",
    "HistoryResult",
    "aoi_reentries",
    "aoi_switches",
    "compare",
    "hit_rate",
    "kendall",
    "learn_aoi_positions",
    "read_history",
    "write_outputs",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

VARIANTS = ("actual", "shortest", "zone_by_zone")
HISTORY_COLUMNS = (
    "courier_id", "day", "parcel_id", "lon", "lat", "delivered_s", "aoi", "station_lon", "station_lat",
)
_LADE_REQUIRED = ("order_id", "courier_id", "lng", "lat", "aoi_id", "accept_gps_lng",
                  "accept_gps_lat", "delivery_time", "ds")
_CSV_REQUIRED = ("courier_id", "parcel_id", "lon", "lat", "delivered_at")

_EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)
SAME_STOP_M = 5.0  # parcels of one courier-day closer than this to a stop are that stop
# A year with 29 February, only to turn LaDe's year-less 'MM-DD' into day differences.
_LEAP_YEAR = 2000
_NO_SHIFT_END_S = 10**8
_RETRIES = 3  # a shift so long that time never binds: the engine builds no time model

_LADE_TIME = re.compile(r"^(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$")
_LADE_DS = re.compile(r"^(\d{2})(\d{2})$")
_CSV_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?$")
_MISSING = ("", "nan", "NaN", "NAN", "null", "NULL", "None")


# --------------------------------------------------------------------------------------------
# Reading


def read_history(
    path: Path,
    *,
    fmt: str,
    coords: str = "wgs84",
) -> pd.DataFrame:
    """Read a delivery history into one row per delivered parcel (WGS-84 degrees, seconds).

    Parameters
    ----------
    path
        A LaDe-D file (``fmt="lade"``: ``order_id, ..., lng, lat, aoi_id, ..., accept_gps_lng,
        accept_gps_lat, delivery_time, ..., ds`` with times ``MM-DD HH:MM:SS`` and ``ds`` =
        ``MMDD``) or a plain CSV (``fmt="csv"``: ``courier_id, parcel_id, lon, lat,
        delivered_at`` as ``YYYY-MM-DD HH:MM[:SS]``, optional ``aoi``, ``station_lon``,
        ``station_lat``).
    fmt
        ``"lade"`` or ``"csv"``.
    coords
        Datum of the coordinates in the file; ``"gcj02"`` is converted to WGS-84.

    Returns
    -------
    pandas.DataFrame
        Columns ``courier_id, day, parcel_id, lon, lat, delivered_s, aoi, station_lon,
        station_lat``, sorted by courier, day and delivery time. ``day`` is LaDe's ``ds`` or the
        date of ``delivered_at``; ``delivered_s`` counts seconds from midnight of ``day``; the
        station is per courier-day: the median accept point (LaDe, ``nan`` ignored; the
        courier's median over all days if a day has none) or the median of the given
        ``station_lon/lat`` (plain CSV), else the median of the day's delivery points.

    Raises
    ------
    InputError
        Naming the file, row, field, bad value and what is allowed, for every bad row at once.
    """
    if fmt not in ("lade", "csv"):
        raise ValueError(f"fmt must be 'lade' or 'csv', got {fmt!r}")
    if coords not in ("wgs84", "gcj02", "bd09"):
        raise ValueError(f"coords must be 'wgs84', 'gcj02' or 'bd09', got {coords!r}")
    table = read_table(Path(path))
    if table.empty:
        raise InputError(f"{path}: no delivery rows; the file has a header only")
    name = str(path)
    required = _LADE_REQUIRED if fmt == "lade" else _CSV_REQUIRED
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise InputError(
            f"{name}: required columns missing",
            tuple(Problem(name, 1, c, "", "the header must have this column") for c in missing),
        )
    out = _parse_lade(table, name) if fmt == "lade" else _parse_csv(table, name)
    if coords in ("gcj02", "bd09"):
        out["lon"], out["lat"] = to_wgs84(out["lon"].to_numpy(), out["lat"].to_numpy(), coords)
        has = out["station_lon"].notna().to_numpy()
        s_lon, s_lat = to_wgs84(
            out.loc[has, "station_lon"].to_numpy(), out.loc[has, "station_lat"].to_numpy(), coords
        )
        out.loc[has, "station_lon"] = s_lon
        out.loc[has, "station_lat"] = s_lat
    out = _station_per_day(out)
    out = out.sort_values(["courier_id", "day", "delivered_s", "parcel_id"], kind="stable")
    return out.loc[:, list(HISTORY_COLUMNS)].reset_index(drop=True)


def _float(
    value: str, *, row: int, name: str, column: str, lo: float, hi: float, problems: list[Problem],
    missing_ok: bool = False,
) -> float:
    """Parse one coordinate; NaN for an allowed missing value, else record a problem."""
    text = value.strip()
    if missing_ok and text in _MISSING:
        return math.nan
    try:
        x = float(text)
    except ValueError:
        x = math.nan
    if not (math.isfinite(x) and lo <= x <= hi):
        allowed = f"a number from {lo:g} to {hi:g}" + (" or 'nan'" if missing_ok else "")
        problems.append(Problem(name, row, column, value, allowed))
        return math.nan
    return x


def _parse_lade(table: pd.DataFrame, name: str) -> pd.DataFrame:
    problems: list[Problem] = []
    records: list[tuple[str, str, str, float, float, int, str, float, float]] = []
    cols = {c: table[c].tolist() for c in _LADE_REQUIRED}
    for i, row in enumerate(table["__row__"].tolist()):
        n_before = len(problems)
        order_id = cols["order_id"][i].strip()
        courier_id = cols["courier_id"][i].strip()
        for column, value in (("order_id", order_id), ("courier_id", courier_id)):
            if not value:
                problems.append(Problem(name, row, column, value, "a non-empty id"))
        lon = _float(cols["lng"][i], row=row, name=name, column="lng", lo=-180, hi=180,
                     problems=problems)
        lat = _float(cols["lat"][i], row=row, name=name, column="lat", lo=-90, hi=90,
                     problems=problems)
        s_lon = _float(cols["accept_gps_lng"][i], row=row, name=name, column="accept_gps_lng",
                       lo=-180, hi=180, problems=problems, missing_ok=True)
        s_lat = _float(cols["accept_gps_lat"][i], row=row, name=name, column="accept_gps_lat",
                       lo=-90, hi=90, problems=problems, missing_ok=True)
        ds = cols["ds"][i].strip()
        m_ds = _LADE_DS.match(ds)
        day_date = _month_day(m_ds.group(1), m_ds.group(2)) if m_ds else None
        if day_date is None:
            problems.append(Problem(name, row, "ds", cols["ds"][i], "a date as MMDD, e.g. 0925"))
        text = cols["delivery_time"][i].strip()
        m_t = _LADE_TIME.match(text)
        when = _month_day(m_t.group(1), m_t.group(2)) if m_t else None
        if m_t is None or when is None or not _clock_ok(m_t.group(3), m_t.group(4), m_t.group(5)):
            problems.append(Problem(name, row, "delivery_time", cols["delivery_time"][i],
                                    "a time as MM-DD HH:MM:SS, e.g. 09-25 11:32:00"))
        if len(problems) > n_before:
            continue
        assert m_t is not None and when is not None and day_date is not None
        # The accept day may be before the delivery day; across New Year the year-less dates
        # wrap, so a negative difference means the delivery is in the next year.
        days = (when - day_date).days % 366 if when < day_date else (when - day_date).days
        seconds = days * 86_400 + int(m_t.group(3)) * 3600 + int(m_t.group(4)) * 60 + int(m_t.group(5))
        if math.isnan(s_lon) or math.isnan(s_lat):
            s_lon = s_lat = math.nan
        aoi = cols["aoi_id"][i].strip()
        records.append((courier_id, ds, order_id, lon, lat, seconds,
                        "" if aoi in _MISSING else aoi, s_lon, s_lat))
    return _history_frame(records, problems, table, name, fmt="LaDe-D format", id_field="order_id")


def _parse_csv(table: pd.DataFrame, name: str) -> pd.DataFrame:
    problems: list[Problem] = []
    records: list[tuple[str, str, str, float, float, int, str, float, float]] = []
    has_aoi = "aoi" in table.columns
    has_station = "station_lon" in table.columns and "station_lat" in table.columns
    for i, row in enumerate(table["__row__"].tolist()):
        rec = table.iloc[i]
        n_before = len(problems)
        courier_id = str(rec["courier_id"]).strip()
        parcel_id = str(rec["parcel_id"]).strip()
        for column, value in (("courier_id", courier_id), ("parcel_id", parcel_id)):
            if not value:
                problems.append(Problem(name, row, column, value, "a non-empty id"))
        lon = _float(str(rec["lon"]), row=row, name=name, column="lon", lo=-180, hi=180,
                     problems=problems)
        lat = _float(str(rec["lat"]), row=row, name=name, column="lat", lo=-90, hi=90,
                     problems=problems)
        s_lon = s_lat = math.nan
        if has_station:
            s_lon = _float(str(rec["station_lon"]), row=row, name=name, column="station_lon",
                           lo=-180, hi=180, problems=problems, missing_ok=True)
            s_lat = _float(str(rec["station_lat"]), row=row, name=name, column="station_lat",
                           lo=-90, hi=90, problems=problems, missing_ok=True)
        text = str(rec["delivered_at"]).strip()
        m = _CSV_TIME.match(text)
        ok = False
        if m:
            try:
                day = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
                ok = _clock_ok(m.group(4), m.group(5), m.group(6) or "0")
            except ValueError:
                ok = False
        if not ok:
            problems.append(Problem(name, row, "delivered_at", text,
                                    "a time as YYYY-MM-DD HH:MM[:SS], e.g. 2026-11-11 09:30"))
        if len(problems) > n_before:
            continue
        assert m is not None
        seconds = int(m.group(4)) * 3600 + int(m.group(5)) * 60 + int(m.group(6) or 0)
        if math.isnan(s_lon) or math.isnan(s_lat):
            s_lon = s_lat = math.nan
        aoi = str(rec["aoi"]).strip() if has_aoi else ""
        records.append((courier_id, day.isoformat(), parcel_id, lon, lat, seconds, aoi, s_lon, s_lat))
    return _history_frame(records, problems, table, name, fmt="plain CSV", id_field="parcel_id")


def _history_frame(records: list[Any], problems: list[Problem], table: pd.DataFrame, name: str,
                   *, fmt: str, id_field: str) -> pd.DataFrame:
    """Raise every row problem at once, or return the parsed rows with unique parcel ids."""
    if problems:
        raise InputError(f"{name}: {len({p.row for p in problems})} bad rows ({fmt})",
                         tuple(problems))
    out = pd.DataFrame.from_records(records, columns=list(HISTORY_COLUMNS))
    _check_unique(out, table["__row__"].tolist(), name, id_field)
    return out


def _month_day(month: str, day: str) -> dt.date | None:
    try:
        return dt.date(_LEAP_YEAR, int(month), int(day))
    except ValueError:
        return None


def _clock_ok(h: str, m: str, s: str) -> bool:
    return int(h) < 24 and int(m) < 60 and int(s) < 60


def _check_unique(out: pd.DataFrame, rows: list[int], name: str, column: str) -> None:
    dup = out.duplicated(["courier_id", "day", "parcel_id"], keep="first").to_numpy()
    if dup.any():
        problems = tuple(
            Problem(name, rows[i], column, str(out["parcel_id"].iloc[i]),
                    "an id used once per courier-day")
            for i in np.flatnonzero(dup)
        )
        raise InputError(f"{name}: repeated parcel ids", problems)


def _station_per_day(out: pd.DataFrame) -> pd.DataFrame:
    """Fill ``station_lon/lat`` per courier-day: median of the known values, else fallbacks."""
    keys = ["courier_id", "day"]
    day_med = out.groupby(keys)[["station_lon", "station_lat"]].transform("median")
    courier_med = out.groupby("courier_id")[["station_lon", "station_lat"]].transform("median")
    points_med = out.groupby(keys)[["lon", "lat"]].transform("median")
    points_med.columns = pd.Index(["station_lon", "station_lat"])
    station = day_med.fillna(courier_med).fillna(points_med)
    # Both coordinates come from the same source: the pairs were set missing together.
    out = out.copy()
    out[["station_lon", "station_lat"]] = station.to_numpy()
    return out


# --------------------------------------------------------------------------------------------
# Measures


def kendall(actual: Sequence[str], planned: Sequence[str]) -> float:
    """Return Kendall's tau between two orders of the same stops (1 = same order, -1 = reversed).

    NaN for fewer than two stops.
    """
    from scipy.stats import kendalltau

    if sorted(actual) != sorted(planned):
        raise ValueError("kendall needs two orders of the same stops")
    if len(actual) < 2:
        return math.nan
    where = {s: i for i, s in enumerate(planned)}
    tau = kendalltau(np.arange(len(actual)), [where[s] for s in actual]).statistic
    return float(tau)


def hit_rate(actual: Sequence[str], planned: Sequence[str], k: int = 3) -> float:
    """Return HR@k as in LaDe's route prediction: share of the actual first k among the planned first k."""
    top = actual[:k]
    if not top:
        return math.nan
    return len(set(top) & set(planned[:k])) / len(top)


def aoi_switches(aois: Sequence[str]) -> int:
    """Return how often consecutive stops are in different AOIs."""
    return sum(1 for a, b in itertools.pairwise(aois) if a != b)


def aoi_reentries(aois: Sequence[str]) -> int:
    """Return how often a route comes back into an AOI it has already left."""
    left: set[str] = set()
    count = 0
    for a, b in itertools.pairwise(aois):
        if a != b:
            left.add(a)
            if b in left:
                count += 1
    return count


def _haversine_m(lon: FloatArray, lat: FloatArray) -> FloatArray:
    """Return the great-circle distance matrix in metres between all points."""
    lam, phi = np.radians(lon), np.radians(lat)
    dphi = phi[:, None] - phi[None, :]
    dlam = lam[:, None] - lam[None, :]
    a = np.sin(dphi / 2) ** 2 + np.cos(phi)[:, None] * np.cos(phi)[None, :] * np.sin(dlam / 2) ** 2
    return 2 * _EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


# --------------------------------------------------------------------------------------------
# Courier-days and stops


@dataclass(frozen=True, eq=False)
class _Day:
    """One courier-day: stops in actual order (first delivery), with the station."""

    courier_id: str
    day: str
    stop_ids: tuple[str, ...]
    lon: FloatArray
    lat: FloatArray
    aoi: tuple[str, ...]
    parcels: tuple[int, ...]
    station_lon: float
    station_lat: float

    @property
    def n(self) -> int:
        return len(self.stop_ids)


def _stops(group: pd.DataFrame, courier_id: str, day: str) -> _Day:
    """Merge the parcels of one courier-day into stops, ordered by first delivery time."""
    g = group.sort_values(["delivered_s", "parcel_id"], kind="stable")
    lon = g["lon"].to_numpy(dtype=np.float64)
    lat = g["lat"].to_numpy(dtype=np.float64)
    dist = _haversine_m(lon, lat)
    first: list[int] = []  # row of the first parcel of each stop
    count: list[int] = []
    for i in range(len(g)):
        near = [k for k, j in enumerate(first) if dist[i, j] <= SAME_STOP_M]
        if near:
            count[near[0]] += 1
        else:
            first.append(i)
            count.append(1)
    idx = np.asarray(first, dtype=np.int64)
    return _Day(
        courier_id=courier_id,
        day=day,
        stop_ids=tuple(str(x) for x in g["parcel_id"].to_numpy()[idx]),
        lon=lon[idx],
        lat=lat[idx],
        aoi=tuple(str(x) for x in g["aoi"].to_numpy()[idx]),
        parcels=tuple(count),
        station_lon=float(g["station_lon"].iloc[0]),
        station_lat=float(g["station_lat"].iloc[0]),
    )


def _all_days(history: pd.DataFrame) -> dict[tuple[str, str], _Day]:
    missing = [c for c in HISTORY_COLUMNS if c not in history.columns]
    if missing:
        raise ValueError(f"history lacks columns {missing}; read it with read_history()")
    return {
        (str(c), str(d)): _stops(g, str(c), str(d))
        for (c, d), g in history.groupby(["courier_id", "day"], sort=True)
    }


def _aoi_positions(days: Iterable[_Day]) -> dict[str, float]:
    """Return per AOI its mean relative position (0 = first stop, 1 = last) over the days."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for d in days:
        rel = np.linspace(0.0, 1.0, d.n) if d.n > 1 else np.array([0.5])
        per_day: dict[str, list[float]] = {}
        for a, r in zip(d.aoi, rel, strict=True):
            if a:
                per_day.setdefault(a, []).append(float(r))
        for a, rs in per_day.items():
            sums[a] = sums.get(a, 0.0) + float(np.mean(rs))
            counts[a] = counts.get(a, 0) + 1
    return {a: sums[a] / counts[a] for a in sorted(sums)}


def learn_aoi_positions(history: pd.DataFrame, *, courier_id: str, day: str) -> dict[str, float]:
    """Learn a courier's usual AOI order for one day from the courier's OTHER days only.

    Returns ``{aoi: mean relative position}`` (0 = start of the day, 1 = end) over the actual
    stop sequences of every other day of the courier in ``history`` (leave-one-day-out: the
    scored day is removed before anything is computed).
    """
    mine = history[(history["courier_id"] == courier_id) & (history["day"] != day)]
    return _aoi_positions(_all_days(mine).values())


def _zone_ranks(d: _Day, positions: Mapping[str, float], bands: int | None = None) -> IntArray:
    """Return the learned zone rank of each stop of a day (0 = first zone).

    Each AOI is a zone, ranked by its learned position; with ``bands``, the AOIs whose learned
    positions fall in the same of ``bands`` equal slices of the day form one zone. An AOI the
    courier's other days never saw (or no AOI) joins the zone of the nearest stop whose AOI is
    known; with nothing known, every stop is in zone 0 (no order imposed).
    """
    known = np.array([a in positions for a in d.aoi], dtype=bool)
    if not known.any():
        return np.zeros(d.n, dtype=np.int64)
    pos = np.array([positions.get(a, math.nan) for a in d.aoi], dtype=np.float64)
    if not known.all():
        dist = _haversine_m(d.lon, d.lat)[:, known]
        pos[~known] = pos[known][np.argmin(dist[~known], axis=1)]
    if bands is not None:
        pos = np.minimum(np.floor(pos * bands), bands - 1)
    levels = np.unique(pos)
    return np.searchsorted(levels, pos).astype(np.int64)


# --------------------------------------------------------------------------------------------
# Planning one courier-day


@dataclass(frozen=True, slots=True)
class CompareParams:
    """How courier-days are compared (see :func:`compare`).

    Parameters
    ----------
    min_stops
        Courier-days with fewer stops (parcels within 5 m are one stop) are not scored; they
        still teach the courier's AOI order for the other days.
    service_s
        Seconds per stop, the same for every variant.
    speed_m_s
        Travel speed; travel seconds = metres / speed.
    detour
        Street metres per great-circle metre (no street network here), for every variant.
    time_limit_s
        Engine budget per plan (two plans per courier-day).
    seed, solution_limit
        Passed to :func:`courier.routing.solve`; with a solution limit the result is
        reproducible.
    zone_bands
        ``None``: every AOI is a zone of its own, visited in the learned order. A number:
        AOIs whose learned positions fall in the same of that many equal slices of the day
        form one zone (coarser zones, more freedom for the engine inside each).
    """

    min_stops: int = 10
    service_s: int = 120
    speed_m_s: float = 4.0
    detour: float = DETOUR_FACTOR
    time_limit_s: float = 1.0
    seed: int = 0
    solution_limit: int | None = None
    zone_bands: int | None = None

    def __post_init__(self) -> None:
        if (self.min_stops < 1 or self.service_s < 0 or self.speed_m_s <= 0 or self.detour < 1
                or self.time_limit_s <= 0 or (self.zone_bands is not None and self.zone_bands < 1)):
            raise ValueError("need min_stops >= 1, service_s >= 0, speed_m_s > 0, detour >= 1, "
                             "time_limit_s > 0, zone_bands None or >= 1")


def _matrices(d: _Day, p: CompareParams) -> tuple[IntArray, IntArray]:
    lon = np.concatenate([[d.station_lon], d.lon])
    lat = np.concatenate([[d.station_lat], d.lat])
    dist = np.rint(_haversine_m(lon, lat) * p.detour).astype(np.int64)
    travel = np.rint(dist / p.speed_m_s).astype(np.int64)
    return dist, travel


def _route_cost(order: Sequence[int], dist: IntArray, travel: IntArray, service_s: int) -> tuple[int, int]:
    """Return (metres, seconds) of station -> nodes in order -> station, service included."""
    path = [0, *order, 0]
    metres = sum(int(dist[a, b]) for a, b in itertools.pairwise(path))
    seconds = sum(int(travel[a, b]) for a, b in itertools.pairwise(path))
    return metres, seconds + service_s * len(order)


def _plan(d: _Day, dist: IntArray, travel: IntArray, p: CompareParams, rank: IntArray | None) -> list[int]:
    """Return the planned node order (1..n) of one courier-day from the routing engine.

    With ``rank``, an arc to a stop of an earlier zone costs a penalty larger than any tour, so
    the cheapest tour visits the zones in rank order (each zone once) and the engine only
    chooses the order inside the zones and the connections between them.
    """
    from courier.routing import RoutingProblem, Vehicle, solve

    n = d.n
    cost = dist.copy()
    if rank is not None:
        penalty = int(dist.max()) * (n + 2) + 1
        r = np.concatenate([[-1], rank])
        back = r[None, :] < r[:, None]
        back[:, 0] = False  # returning to the station is never "backwards"
        back[0, :] = False
        cost = cost + penalty * back.astype(np.int64)
    service = np.full(n + 1, p.service_s, dtype=np.int64)
    service[0] = 0
    big = 10**9
    problem = RoutingProblem(
        stop_ids=d.stop_ids,
        service_s=service,
        windows_s=tuple(() for _ in range(n + 1)),
        delivery=np.zeros((n + 1, 3), dtype=np.int64),
        pickup=np.zeros((n + 1, 3), dtype=np.int64),
        priority=np.zeros(n + 1, dtype=bool),
        vehicles=(Vehicle(d.courier_id, "courier", (big, big, big), 0, _NO_SHIFT_END_S),),
        time_s={"courier": travel},
        distance_m={"courier": dist},
        # Metres, plus the zone-order penalty when there is one.
        arc_cost={"courier": cost},
        # Dropping a stop must cost more than any tour, penalties included.
        drop_penalty=int(cost.max()) * (n + 2) + 1,
        objective="cost",
    )
    # A busy machine can starve a small budget before the first solution: retry with more.
    for attempt in range(_RETRIES):
        limit = p.time_limit_s * 4**attempt
        result = solve(problem, time_limit_s=limit, seed=p.seed, solution_limit=p.solution_limit)
        nodes = [node for trip in result.trips for node in trip.nodes]
        if not result.drops and sorted(nodes) == list(range(1, n + 1)):
            return nodes
        logger.warning("courier %s day %s: no full route in %.2f s (%s); retrying",
                       d.courier_id, d.day, limit, result.status)
    if result.drops or sorted(nodes) != list(range(1, n + 1)):
        raise RuntimeError(
            f"courier {d.courier_id} day {d.day}: the engine left stops out "
            f"({[x.node for x in result.drops]}, status {result.status})"
        )
    return nodes


def _score_day(
    task: tuple[_Day, Mapping[str, float], CompareParams],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Plan and measure one courier-day; return its row of the days table and its routes."""
    d, positions, p = task
    dist, travel = _matrices(d, p)
    rank = _zone_ranks(d, positions, p.zone_bands)
    orders = {
        "actual": list(range(1, d.n + 1)),
        "shortest": _plan(d, dist, travel, p, None),
        "zone_by_zone": _plan(d, dist, travel, p, rank),
    }
    row: dict[str, Any] = {
        "courier_id": d.courier_id,
        "day": d.day,
        "stops": d.n,
        "parcels": sum(d.parcels),
        "station_lon": d.station_lon,
        "station_lat": d.station_lat,
        "zones": int(rank.max()) + 1,
    }
    actual_ids = list(d.stop_ids)
    routes: list[dict[str, Any]] = []
    for variant, order in orders.items():
        ids = [d.stop_ids[i - 1] for i in order]
        aois = [d.aoi[i - 1] for i in order]
        metres, seconds = _route_cost(order, dist, travel, p.service_s)
        row[f"{variant}_distance_m"] = metres
        row[f"{variant}_duration_s"] = seconds
        row[f"{variant}_kendall"] = kendall(actual_ids, ids)
        row[f"{variant}_hr3"] = hit_rate(actual_ids, ids)
        row[f"{variant}_aoi_switches"] = aoi_switches(aois)
        row[f"{variant}_aoi_reentries"] = aoi_reentries(aois)
        for seq, node in enumerate(order, start=1):
            routes.append({
                "courier_id": d.courier_id, "day": d.day, "variant": variant, "seq": seq,
                "stop_id": d.stop_ids[node - 1], "lon": float(d.lon[node - 1]),
                "lat": float(d.lat[node - 1]), "aoi": d.aoi[node - 1],
                "parcels": d.parcels[node - 1], "zone": int(rank[node - 1]),
            })
    actual_m = row["actual_distance_m"]
    for variant in VARIANTS[1:]:
        row[f"{variant}_saving_pct"] = (
            100.0 * (1.0 - row[f"{variant}_distance_m"] / actual_m) if actual_m else math.nan
        )
    return row, routes


# --------------------------------------------------------------------------------------------
# Comparing a whole history


@dataclass(frozen=True, eq=False)
class HistoryResult:
    """Actual vs planned routes: one row per courier-day, totals per variant, every route.

    ``days`` has ``courier_id, day, stops, parcels, station_lon, station_lat, zones`` and per
    variant ``<variant>_distance_m, _duration_s, _kendall, _hr3, _aoi_switches,
    _aoi_reentries`` and, for the planned variants, ``_saving_pct`` (vs actual).
    ``totals`` is ``{variant: {...}}`` for ``actual``, ``shortest``, ``zone_by_zone``.
    ``routes`` has one row per variant and stop in visiting order (``seq`` from 1).
    """

    days: pd.DataFrame
    totals: dict[str, dict[str, Any]]
    routes: pd.DataFrame = field(default_factory=pd.DataFrame)
    run_s: float = 0.0


def compare(history: pd.DataFrame, params: CompareParams | None = None, *,
            workers: int = 1, on_done: Callable[[int, int], None] | None = None,
            ) -> HistoryResult:
    """Compare each courier-day's actual route with the shortest and the zone-by-zone plan.

    Parameters
    ----------
    history
        From :func:`read_history`.
    params
        Stops, service, speed, detour, time limit, seed and zones (:class:`CompareParams`).
    workers
        Processes over courier-days (1 = in this process).
    on_done
        Called with (courier-days scored, of how many) as they finish (a progress display).
    """
    t0 = time.perf_counter()
    params = params or CompareParams()
    min_stops = params.min_stops
    all_days = _all_days(history)
    by_courier: dict[str, list[_Day]] = {}
    for d in all_days.values():
        by_courier.setdefault(d.courier_id, []).append(d)
    tasks = [
        (d, _aoi_positions(o for o in by_courier[d.courier_id] if o.day != d.day), params)
        for d in all_days.values()
        if d.n >= min_stops
    ]
    logger.info("history: %d courier-days, %d with >= %d stops", len(all_days), len(tasks), min_stops)
    scored: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []

    def record(one: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
        scored.append(one)
        if on_done is not None:
            on_done(len(scored), len(tasks))

    if workers > 1 and len(tasks) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for one in pool.map(_score_day, tasks, chunksize=4):
                record(one)
    else:
        for t in tasks:
            record(_score_day(t))
    rows = [r for r, _ in scored]
    days = pd.DataFrame(rows, columns=_day_columns())
    routes = pd.DataFrame([x for _, rs in scored for x in rs],
                          columns=["courier_id", "day", "variant", "seq", "stop_id", "lon", "lat",
                                   "aoi", "parcels", "zone"])
    totals = _totals(days, min_stops=min_stops, detour=params.detour)
    run_s = time.perf_counter() - t0
    logger.info("history: compared %d courier-days in %.1f s", len(days), run_s)
    return HistoryResult(days=days, totals=totals, routes=routes, run_s=run_s)


def _day_columns() -> list[str]:
    cols = ["courier_id", "day", "stops", "parcels", "station_lon", "station_lat", "zones"]
    for v in VARIANTS:
        cols += [f"{v}_{m}" for m in ("distance_m", "duration_s", "kendall", "hr3",
                                      "aoi_switches", "aoi_reentries")]
    cols += [f"{v}_saving_pct" for v in VARIANTS[1:]]
    return cols


def _mean(values: pd.Series) -> float | None:
    x = float(values.mean()) if len(values) else math.nan
    return None if math.isnan(x) else x


def _totals(days: pd.DataFrame, *, min_stops: int, detour: float) -> dict[str, dict[str, Any]]:
    actual_m = int(days["actual_distance_m"].sum())
    totals: dict[str, dict[str, Any]] = {}
    for v in VARIANTS:
        t: dict[str, Any] = {
            "distance_m": int(days[f"{v}_distance_m"].sum()),
            "duration_s": int(days[f"{v}_duration_s"].sum()),
            "kendall": _mean(days[f"{v}_kendall"]),
            "hr3": _mean(days[f"{v}_hr3"]),
            "aoi_switches": _mean(days[f"{v}_aoi_switches"]),
            "aoi_reentries": _mean(days[f"{v}_aoi_reentries"]),
        }
        if v != "actual":
            t["saving_pct"] = 100.0 * (1.0 - t["distance_m"] / actual_m) if actual_m else None
        t.update(courier_days=len(days), min_stops=min_stops, detour=detour)
        totals[v] = t
    return totals


# --------------------------------------------------------------------------------------------
# Outputs


def write_outputs(result: HistoryResult, history: pd.DataFrame, out_dir: Path) -> None:
    """Write ``history.json`` (totals), ``history.csv`` (days), ``routes.csv``, ``report.html`` + PNGs."""
    out_dir = Path(out_dir)
    write_json(out_dir / "history.json", result.totals)
    write_files(out_dir, {"history.csv": result.days.to_csv(index=False),
                          "routes.csv": result.routes.to_csv(index=False)})
    images = _plots(result, history, out_dir)
    write_text(out_dir / "report.html", _html(result, images))


def _example_day(days: pd.DataFrame) -> tuple[str, str] | None:
    """Pick a typical day: saving closest to the median, then more stops."""
    if days.empty:
        return None
    gap = (days["shortest_saving_pct"] - days["shortest_saving_pct"].median()).abs()
    order = pd.DataFrame({"gap": gap.round(1), "stops": -days["stops"]}).sort_values(["gap", "stops"])
    row = days.loc[order.index[0]]
    return str(row["courier_id"]), str(row["day"])


def _plots(result: HistoryResult, history: pd.DataFrame, out_dir: Path) -> list[tuple[str, str]]:
    """Draw the PNG plots; return (file name, caption) pairs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    days = result.days
    images: list[tuple[str, str]] = []
    if days.empty:
        return images
    planned = VARIANTS[1:]

    fig, ax = plt.subplots(figsize=(7, 4))
    savings = days[[f"{v}_saving_pct" for v in planned]]
    low = min(-10.0, float(savings.min().min()))
    high = min(100.0, max(10.0, float(savings.max().max())) + 5.0)
    bins = [float(x) for x in np.linspace(low, high, 45)]
    for v in planned:
        ax.hist(days[f"{v}_saving_pct"], bins=bins, histtype="step", linewidth=1.8, label=v)
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_xlabel("distance saving vs actual route (%)")
    ax.set_ylabel("courier-days")
    ax.legend()
    fig.tight_layout()
    write_figure(out_dir / "saving_hist.png", fig)
    plt.close(fig)
    images.append(("saving_hist.png", "Distance saving of each planned route vs the actual one, per day"))

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 4))
    data = [days[f"{v}_kendall"].dropna().to_numpy() for v in planned]
    ax1.boxplot(data)
    ax1.set_xticks(range(1, len(planned) + 1), list(planned))
    ax1.set_ylabel("Kendall tau vs actual order")
    ax1.axhline(0, color="grey", linewidth=0.8)
    means = [float(days[f"{v}_hr3"].mean()) for v in VARIANTS]
    ax2.bar(list(VARIANTS), means, color=["#777777", "#1f77b4", "#ff7f0e"])
    ax2.set_ylabel("mean HR@3")
    ax2.set_ylim(0, 1.05)
    fig.tight_layout()
    write_figure(out_dir / "similarity.png", fig)
    plt.close(fig)
    images.append(("similarity.png", "Similarity of the planned orders to the actual order"))

    pick = _example_day(days)
    if pick is not None:
        courier_id, day = pick
        routes = result.routes[(result.routes["courier_id"] == courier_id) & (result.routes["day"] == day)]
        info = days[(days["courier_id"] == courier_id) & (days["day"] == day)].iloc[0]
        parcels = history[(history["courier_id"] == courier_id) & (history["day"] == day)]
        aois = sorted(set(routes["aoi"]))
        cmap = plt.get_cmap("tab20")
        colour = {a: cmap(i % 20) for i, a in enumerate(aois)}
        fig, axes = plt.subplots(1, 3, figsize=(15, 5.4), sharex=True, sharey=True)
        for ax, v in zip(axes, VARIANTS, strict=True):
            r = routes[routes["variant"] == v].sort_values("seq")
            xs = [info["station_lon"], *r["lon"], info["station_lon"]]
            ys = [info["station_lat"], *r["lat"], info["station_lat"]]
            ax.plot(xs, ys, "-", color="#444444", linewidth=1, zorder=1)
            ax.scatter(parcels["lon"], parcels["lat"], s=6, color="#bbbbbb", zorder=2)
            ax.scatter(r["lon"], r["lat"], s=60, c=[colour[a] for a in r["aoi"]],
                       edgecolors="black", linewidths=0.5, zorder=3)
            for seq, x, y in zip(r["seq"], r["lon"], r["lat"], strict=True):
                ax.annotate(str(seq), (x, y), xytext=(3, 3), textcoords="offset points", fontsize=7)
            ax.plot([info["station_lon"]], [info["station_lat"]], "s", color="red", markersize=9, zorder=4)
            km = info[f"{v}_distance_m"] / 1000
            extra = ""
            if v != "actual":
                extra = f", {info[f'{v}_saving_pct']:.0f}% shorter, tau {info[f'{v}_kendall']:.2f}"
            switches = int(info[f"{v}_aoi_switches"])
            ax.set_title(f"{v}: {km:.1f} km{extra}\n{switches} AOI switches", fontsize=10)
            ax.set_xlabel("lon")
            ax.ticklabel_format(useOffset=False)
            ax.set_aspect(1 / math.cos(math.radians(float(info["station_lat"]))))
        axes[0].set_ylabel("lat")
        fig.suptitle(f"courier {courier_id}, day {day}: {int(info['stops'])} stops "
                     "(red square = station, colour = AOI, numbers = visiting order)")
        fig.tight_layout()
        write_figure(out_dir / "example_day.png", fig)
        plt.close(fig)
        images.append(("example_day.png", f"Example day: courier {courier_id}, day {day}, actual vs planned"))
    return images


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:,.{digits}f}"
    if isinstance(x, int):
        return f"{x:,}"
    return str(x)


def _html(result: HistoryResult, images: list[tuple[str, str]]) -> str:
    e = esc
    totals = result.totals
    metrics = ("distance_m", "duration_s", "saving_pct", "kendall", "hr3", "aoi_switches", "aoi_reentries")
    head = "".join(f"<th>{e(m)}</th>" for m in metrics)
    body = "".join(
        "<tr><th>" + e(v) + "</th>"
        + "".join(f"<td>{e(_fmt(totals[v].get(m), 1 if m == 'saving_pct' else 3))}</td>" for m in metrics)
        + "</tr>"
        for v in VARIANTS
    )
    any_t = totals["actual"]
    figs = "".join(
        f'<figure><img src="{e(name)}" alt="{e(cap)}">'
        f"<figcaption>{e(cap)}</figcaption></figure>"
        for name, cap in images
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>courier: planned vs actual routes</title>
<style>body{{font-family:sans-serif;margin:1.5em;max-width:1100px}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}
img{{max-width:100%}}</style></head><body>
<h1>Planned vs actual courier routes</h1>
<p>{e(_fmt(any_t["courier_days"]))} courier-days with at least {e(_fmt(any_t["min_stops"]))} stops.
Distances are great-circle metres times a detour factor of {e(_fmt(any_t["detour"], 2))} for every
variant; durations are travel at a constant speed plus the same service time per stop.
<em>shortest</em>: the engine's shortest tour of the day's stops from the same station;
<em>zone_by_zone</em>: the courier's usual AOI order learned from the courier's other days,
stops ordered by the engine inside each AOI. Kendall and HR@3 compare each order with the actual one.</p>
<table><tr><th>variant</th>{head}</tr>{body}</table>
{figs}
</body></html>
"""
