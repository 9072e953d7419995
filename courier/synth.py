"""Synthetic peak-day parcels and courier rosters on a real street network, reproducible by seed.

Everything is vectorised with numpy: a million parcels take seconds, not minutes.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from courier.config import MAX_TRIPS
from courier.errors import InputError
from courier.model import Station, StreetGraph
from courier.text import hhmm, parse_time_s


@dataclass(frozen=True, slots=True)
class SynthConfig:
    """How a synthetic day looks. Defaults describe a Chinese urban station.

    A normal day at a city delivery station is a few thousand parcels; the national Double-11
    peak is about 2x a normal day and a courier's workload on the worst days 4-5x, hence
    ``peak_factor``. Parcels cluster at "hotspots" (residential compounds, office towers,
    campuses); parcels per address are heavy-tailed (Pareto), as in real address data.
    """

    normal_day_parcels: int = 3000
    peak_factor: float = 1.0
    hotspots_per_km2: float = 12.0
    hotspot_share: float = 0.8
    hotspot_sigma_m: float = 90.0
    parcels_per_address_mean: float = 2.2
    address_pareto_shape: float = 1.6
    door_offset_m: tuple[float, float] = (5.0, 40.0)
    weight_median_kg: float = 0.9
    weight_sigma: float = 0.9
    litres_per_kg: float = 4.0
    window_share: float = 0.12
    pickup_share: float = 0.05
    locker_ok_share: float = 0.4
    priority_share: float = 0.03
    parcels_per_courier: int = 150
    courier_capacity_parcels: int = 120
    courier_capacity_kg: float = 200.0
    courier_capacity_l: float = 1500.0
    shift: tuple[str, str] = ("08:00", "20:00")

    def __post_init__(self) -> None:
        if self.peak_factor <= 0 or self.normal_day_parcels < 0:
            raise InputError("peak_factor must be > 0 and normal_day_parcels >= 0")
        for name in ("hotspot_share", "window_share", "pickup_share", "locker_ok_share",
                     "priority_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise InputError(f"{name} must be a share from 0 to 1, got {getattr(self, name)}")

    @classmethod
    def from_toml(cls, path: Path) -> SynthConfig:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        known = {f.name for f in fields(cls)}
        if set(data) - known:
            raise InputError(f"{path}: unknown keys {sorted(set(data) - known)}")
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**values)


# Delivery windows customers pick on Chinese platforms: morning, afternoon, evening.
_WINDOWS = (("09:00", "12:00"), ("13:00", "17:00"), ("18:00", "21:00"))
_WINDOWS_S = tuple((parse_time_s(a), parse_time_s(b)) for a, b in _WINDOWS)


def default_station(graph: StreetGraph) -> Station:
    """Return a station at the street node nearest the network's centre."""
    cx, cy = np.median(graph.node_x_m), np.median(graph.node_y_m)
    i = int(np.argmin((graph.node_x_m - cx) ** 2 + (graph.node_y_m - cy) ** 2))
    return Station(lon=float(graph.node_lon[i]), lat=float(graph.node_lat[i]), name="station")


def synth_parcels(graph: StreetGraph, *, parcels: int, seed: int,
                  config: SynthConfig = SynthConfig(), waves_s: Sequence[int] = (),
                  wave_shares: Sequence[float] = ()) -> pd.DataFrame:
    """Return ``parcels`` synthetic parcels on the graph's streets as a parcels-CSV table.

    With ``waves_s`` (the trucks' ready times) each parcel comes on one wave, drawn by
    ``wave_shares`` (default: equal), and gets a ``ready_at`` column; a parcel with a window
    comes on a wave ready at least an hour before its window closes.
    """
    from courier.streets import unproject

    rng = np.random.default_rng(seed)
    n = int(parcels)
    seg = _segments(graph)
    length = np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1])
    mid = (seg[:, :2] + seg[:, 2:]) / 2
    area_km2 = max(np.ptp(graph.node_x_m) * np.ptp(graph.node_y_m) / 1e6, 0.05)

    n_addr = max(1, round(n / config.parcels_per_address_mean))
    n_hot = max(3, round(config.hotspots_per_km2 * area_km2))
    prob = length / length.sum()
    hot_edges = rng.choice(len(seg), size=n_hot, p=prob)
    hot_weight = rng.lognormal(0.0, 1.0, n_hot)
    in_hot = rng.random(n_addr) < config.hotspot_share
    # Hotspot addresses scatter around their centre and are put on the nearest street segment;
    # the rest spread over all streets in proportion to street length.
    which = rng.choice(n_hot, size=n_addr, p=hot_weight / hot_weight.sum())
    target = mid[hot_edges[which]] + rng.normal(0.0, config.hotspot_sigma_m, (n_addr, 2))
    _, near = cKDTree(mid).query(target)
    edge = np.where(in_hot, near, rng.choice(len(seg), size=n_addr, p=prob))
    t = rng.random(n_addr)
    px = seg[edge, 0] + t * (seg[edge, 2] - seg[edge, 0])
    py = seg[edge, 1] + t * (seg[edge, 3] - seg[edge, 1])
    # Doors stand back from the street, on either side.
    dx, dy = seg[edge, 2] - seg[edge, 0], seg[edge, 3] - seg[edge, 1]
    norm = np.maximum(np.hypot(dx, dy), 1e-9)
    off = rng.uniform(*config.door_offset_m, n_addr) * rng.choice((-1.0, 1.0), n_addr)
    ax, ay = px - dy / norm * off, py + dx / norm * off

    weight = rng.pareto(config.address_pareto_shape, n_addr) + 1.0
    addr_of = rng.choice(n_addr, size=n, p=weight / weight.sum())
    addr_of.sort(kind="stable")  # an upstream export lists an address's parcels together
    lon, lat = unproject(graph, ax[addr_of], ay[addr_of])

    kg = np.clip(rng.lognormal(np.log(config.weight_median_kg), config.weight_sigma, n), 0.05, 30)
    litres = np.clip(kg * config.litres_per_kg * rng.lognormal(0.0, 0.5, n), 0.2, 150)
    has_window = rng.random(n) < config.window_share
    slot = rng.integers(0, len(_WINDOWS), n)
    starts = np.array([w[0] for w in _WINDOWS])[slot]
    ends = np.array([w[1] for w in _WINDOWS])[slot]
    kind = np.where(rng.random(n) < config.pickup_share, "pickup", "delivery")
    names = np.array(graph.edge_name, dtype=object)
    street = names[edge][addr_of] if len(names) else np.full(n, "", dtype=object)
    street = np.where(street == "", "无名路", street)
    building = addr_of % 40 + 1
    ids = np.char.add("P", np.char.zfill(np.arange(1, n + 1).astype(str), 7))
    phone = np.char.add("13", np.char.zfill(rng.integers(0, 10**9, n).astype(str), 9))
    table = pd.DataFrame({
        "parcel_id": ids,
        "lon": np.round(lon, 6),
        "lat": np.round(lat, 6),
        "weight_kg": np.round(kg, 2),
        "volume_l": np.round(litres, 1),
        "window_start": np.where(has_window, starts, ""),
        "window_end": np.where(has_window, ends, ""),
        "kind": kind,
        "priority": (rng.random(n) < config.priority_share).astype(int),
        "locker_ok": (rng.random(n) < config.locker_ok_share).astype(int),
        "address": pd.Series(street).astype(str) + " " + pd.Series(building).astype(str) + "号楼"
        + " 地址" + pd.Series(addr_of).astype(str),
        "recipient": np.char.add("客户", (addr_of % 9973).astype(str)),
        "phone": phone,
        "notes": "",
    })
    if waves_s:
        # Drawn after everything else, so a day without waves is the same day as before.
        shares = np.asarray(wave_shares or [1.0] * len(waves_s), dtype=float)
        if len(shares) != len(waves_s) or bool(np.any(shares < 0)) or shares.sum() <= 0:
            raise ValueError("wave_shares: one share >= 0 per wave, not all zero")
        wave = rng.choice(len(waves_s), size=n, p=shares / shares.sum())
        ready = np.asarray(waves_s, dtype=np.int64)
        closes = np.where(has_window, np.array([w[1] for w in _WINDOWS_S])[slot], 48 * 3600)
        # The latest wave ready an hour before the window closes (the first if none is).
        latest = np.maximum(np.searchsorted(np.sort(ready), closes - 3600, side="right") - 1, 0)
        order = np.argsort(ready)
        wave = np.where(ready[wave] <= closes - 3600, wave, order[latest])
        table["ready_at"] = [hhmm(r) for r in ready[wave].tolist()]
    return table


def synth_couriers(*, parcels: int, config: SynthConfig = SynthConfig(),
                   couriers: int | None = None, vehicle: str = "etricycle",
                   waves: int = 0) -> pd.DataFrame:
    """Return a roster sized for the day (``parcels_per_courier`` each) unless ``couriers`` is given.

    With ``waves`` trucks a courier may do a trip per wave and two more (the evening windows,
    a second round): measured on a 900-parcel day with three waves, three trips each kept the
    couriers at the station until the second truck (first departure 150 min after the shift
    start), five let them out at once (75 min) and cut the distance by 3.5 %.
    """
    count = couriers if couriers is not None else max(1, -(-parcels // config.parcels_per_courier))
    return pd.DataFrame({
        "courier_id": [f"C{i:03d}" for i in range(1, count + 1)],
        "vehicle": vehicle,
        "capacity_parcels": config.courier_capacity_parcels,
        "capacity_kg": config.courier_capacity_kg,
        "capacity_l": config.courier_capacity_l,
        "shift_start": config.shift[0],
        "shift_end": config.shift[1],
        "max_trips": max(MAX_TRIPS, waves + 2),
    })


def _segments(graph: StreetGraph) -> np.ndarray:
    f, t = graph.edge_from, graph.edge_to
    return np.column_stack([graph.node_x_m[f], graph.node_y_m[f], graph.node_x_m[t],
                            graph.node_y_m[t]])


def synth_lockers(graph: StreetGraph, *, parcels: int, seed: int,
                  per_parcels: int = 150) -> pd.DataFrame:
    """Return parcel lockers on the streets, one per ``per_parcels`` parcels of the day.

    Lockers stand at street nodes spread over the network (a seeded sample, thinned so that no
    two are within 200 m), as at the compounds and campuses where real ones are.
    """
    rng = np.random.default_rng(seed + 7919)  # its own stream: adding lockers keeps parcels
    want = max(1, parcels // per_parcels)
    order = rng.permutation(graph.n_nodes)
    picked: list[int] = []
    for i in order:
        x, y = graph.node_x_m[i], graph.node_y_m[i]
        if all((x - graph.node_x_m[j]) ** 2 + (y - graph.node_y_m[j]) ** 2 >= 200.0**2
               for j in picked):
            picked.append(int(i))
            if len(picked) == want:
                break
    return pd.DataFrame({
        "locker_id": [f"L{k:03d}" for k in range(1, len(picked) + 1)],
        "lon": np.round(graph.node_lon[picked], 6),
        "lat": np.round(graph.node_lat[picked], 6),
        "capacity_parcels": 60,
        "name": [f"快递柜 {k}" for k in range(1, len(picked) + 1)],
    })
