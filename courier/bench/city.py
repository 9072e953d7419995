"""`courier bench city`: many synthetic stations on one street network, planned on Dask.

Stations sit at the street nodes nearest the k-means centres of the network's nodes, so they
spread over the streets as a real station network does. One city-wide pool of synthetic
parcels (``courier.synth``, seeded) is split into the stations' Voronoi cells; each station
plans ``parcels_per_station`` parcels of its own cell (a random sample when the cell has
more; the parcels nearest the station, a disc, when the cell has fewer).

Each station is one Dask task (the street graph is scattered to every worker once); inside a
task the station's districts are solved one after the other, so the cluster's cores are the
parallelism. Without a scheduler address a ``LocalCluster`` of 2 single-threaded workers runs
on this machine.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from courier import io
from courier.bench.load import Progress, day_inputs, maxrss_mb, plan_inputs, point_figures, time_exponent
from courier.errors import InputError

if TYPE_CHECKING:
    import pandas as pd
    from distributed import Client

    from courier.model import StreetGraph

_POOL_OVERSAMPLE = 1.5


def station_sites(graph: StreetGraph, stations: int, *, seed: int) -> np.ndarray:
    """Return the node indices of ``stations`` sites spread over the network (k-means of nodes)."""
    from scipy.cluster.vq import kmeans2
    from scipy.spatial import cKDTree

    xy = np.column_stack([graph.node_x_m, graph.node_y_m])
    if stations > len(xy):
        raise InputError(f"--stations {stations}: the network has only {len(xy)} nodes")
    centres, _ = kmeans2(xy, stations, seed=seed, minit="++")
    tree = cKDTree(xy)
    chosen: list[int] = []
    for c in centres:
        # The nearest node not taken yet, so two centres never share a station.
        _, idx = tree.query(c, k=min(len(xy), stations + 1))
        chosen.append(next(int(i) for i in np.atleast_1d(idx) if int(i) not in chosen))
    return np.array(chosen)


def station_days(graph: StreetGraph, sites: np.ndarray, *, parcels_per_station: int,
                 seed: int) -> list[pd.DataFrame]:
    """Return one parcels table per station: its Voronoi cell of a city-wide synthetic pool."""
    from scipy.spatial import cKDTree

    from courier.streets import project
    from courier.synth import synth_parcels

    pool = synth_parcels(graph, parcels=round(len(sites) * parcels_per_station * _POOL_OVERSAMPLE),
                         seed=seed)
    px, py = project(graph, pool["lon"].to_numpy(), pool["lat"].to_numpy())
    pxy = np.column_stack([px, py])
    sxy = np.column_stack([graph.node_x_m[sites], graph.node_y_m[sites]])
    _, cell = cKDTree(sxy).query(pxy)
    pool_tree = cKDTree(pxy)
    rng = np.random.default_rng(seed)
    days = []
    for k in range(len(sites)):
        mine = np.flatnonzero(cell == k)
        if len(mine) >= parcels_per_station:
            take = np.sort(rng.choice(mine, size=parcels_per_station, replace=False))
        else:
            _, near = pool_tree.query(sxy[k], k=parcels_per_station)
            take = np.sort(np.atleast_1d(near))
        day = pool.iloc[take].reset_index(drop=True)
        day["parcel_id"] = [f"S{k + 1:03d}-{i + 1:06d}" for i in range(len(day))]
        days.append(day)
    return days


def _plan_station(graphs: Mapping[str, StreetGraph], index: int, lonlat: tuple[float, float],
                  table: pd.DataFrame, time_limit_s: float, seed: int) -> dict[str, Any]:
    """Plan one station on a Dask worker; return its figures (the plan itself stays there)."""
    from courier.config import PlanConfig
    from courier.synth import synth_couriers

    started = time.perf_counter()
    inputs = day_inputs(graphs, table, synth_couriers(parcels=len(table)), station_lonlat=lonlat)
    # workers=1: a Dask worker process is a daemon and may not start a process pool; the
    # cluster's workers are the parallelism.
    config = PlanConfig(time_limit_s=time_limit_s, seed=seed, workers=1)
    result, plan_s = plan_inputs(inputs, config)
    try:
        from distributed import get_worker

        worker = get_worker().address
    except (ImportError, ValueError):
        worker = f"pid {os.getpid()}"
    return {
        "station": index + 1, "lon": lonlat[0], "lat": lonlat[1], "volume": inputs.day.rows,
        "couriers": len(inputs.day.couriers), "plan_s": round(plan_s, 3),
        "task_s": round(time.perf_counter() - started, 3),
        "timings_s": {k: round(v, 3) for k, v in result.result.timings_s.items()},
        "worker": worker,
        "worker_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        **point_figures(result.summary),
    }


def _plan_station_item(
        _: object, item: tuple[int, tuple[float, float], pd.DataFrame, float, int, StreetGraph],
) -> dict[str, Any]:
    index, lonlat, table, time_limit_s, seed, streets = item
    result = _plan_station({streets.profile: streets}, index, lonlat, table, time_limit_s, seed)
    return {**result, "graph_nodes": streets.n_nodes}


# Of a city-wide time limit, what the stations' plans get: the rest is scheduling and the
# stations' own reading and writing-up.
_CITY_SHARE = 0.9

# Streets kept around a station's parcels: its routes' shortest paths stay inside the crop.
_CROP_MARGINS_M = (1000.0, 3000.0, 9000.0)


def station_crop(graph: StreetGraph, table: pd.DataFrame, site: int) -> StreetGraph:
    """The streets a station's day can use: its parcels' and its own box plus a margin.

    The margin grows (1, 3, 9 km) until the crop's strongly connected part holds the station's
    street node and the nearest street node of all but a few of its parcels: near the edge of
    a box, the streets joining a corner to the rest may run outside it (one of 50 stations on
    Nanshan-Futian lost 6.5 % of its parcels as unreachable at 1 km). Failing that, the whole
    graph.
    """
    from scipy.spatial import cKDTree

    from courier.streets import crop, project

    lon = np.append(table["lon"].to_numpy(dtype=float), graph.node_lon[site])
    lat = np.append(table["lat"].to_numpy(dtype=float), graph.node_lat[site])
    x, y = project(graph, lon, lat)
    _, nearest = cKDTree(np.column_stack([graph.node_x_m, graph.node_y_m])).query(
        np.column_stack([x, y]))
    wanted = graph.node_osm_id[nearest]  # the station's own node is the last one
    for margin_m in _CROP_MARGINS_M:
        dlat = margin_m / 111_320.0
        dlon = dlat / np.cos(np.radians(float(lat.mean())))
        part = crop(graph, (float(lon.min() - dlon), float(lat.min() - dlat),
                            float(lon.max() + dlon), float(lat.max() + dlat)))
        held = np.isin(wanted, part.node_osm_id)
        if held[-1] and held.mean() >= _CROP_HOLDS:
            return part
    return graph


# Of a station's parcels, the share whose nearest street node its crop must hold.
_CROP_HOLDS = 0.995


def station_time_limit(client: Client, city_time_limit_s: float, stations: int) -> float:
    """Each station's share of one time limit for the whole city: the limit x the cluster's
    threads / stations, less a tenth for scheduling and the stations' writing-up."""
    if not city_time_limit_s > 0:
        raise InputError(f"--city-time-limit must be > 0, got {city_time_limit_s}")
    slots = max(1, sum(client.nthreads().values()))
    return round(_CITY_SHARE * city_time_limit_s * slots / max(stations, 1), 2)


def run(*, streets: Path, stations: int, parcels_per_station: int, client: Client,
        time_limit_s: float = 30.0, seed: int = 0, cache_dir: Path | None = None,
        progress: Progress | None = None) -> dict[str, Any]:
    """Plan every station of a synthetic city on ``client``'s cluster; return bench.json contents.

    ``time_limit_s`` is each station's (:func:`station_time_limit` shares a city's among them).
    """
    from courier.cluster import map_shared
    from courier.config import PROFILES
    from courier.streets import load_graph

    if stations < 1 or parcels_per_station < 1:
        raise InputError(f"--stations and --parcels-per-station must be >= 1, got {stations} and "
                         f"{parcels_per_station}")
    started = time.perf_counter()
    graph = load_graph(streets, profile=PROFILES["etricycle"], cache_dir=cache_dir)
    sites = station_sites(graph, stations, seed=seed)
    if progress:
        progress(f"synthesising {stations} x {parcels_per_station} parcels")
    days = station_days(graph, sites, parcels_per_station=parcels_per_station, seed=seed)
    # Each station is routed on its own crop of the city: a shortest-path search costs as much
    # as the graph is large, and a station's stops use only the streets around them.
    if progress:
        progress("cropping the streets of each station")
    items = []
    for k, s in enumerate(sites):
        lonlat = (float(graph.node_lon[s]), float(graph.node_lat[s]))
        items.append((k, lonlat, days[k], time_limit_s, seed, station_crop(graph, days[k], int(s))))
    prepare_s = time.perf_counter() - started

    tick = time.perf_counter()
    done_s: list[float] = []

    def finished(_: int, r: dict[str, Any]) -> None:
        done_s.append(time.perf_counter() - tick)
        if progress:
            progress(f"station {r['station']} planned ({len(done_s)} of {stations})")

    results = map_shared(client, _plan_station_item, None, items, on_result=finished)
    plan_all_s = time.perf_counter() - tick
    results.sort(key=lambda r: r["station"])
    volume_done = np.cumsum([parcels_per_station] * len(done_s))
    worker_peaks: dict[str, float] = {}
    for r in results:
        worker_peaks[r["worker"]] = max(worker_peaks.get(r["worker"], 0.0), r["worker_peak_rss_mb"])
    driver_mb = maxrss_mb()
    plan_s = [r["plan_s"] for r in results]
    totals = {
        "input": sum(r["input"] for r in results),
        "planned": sum(r["planned"] for r in results),
        "unassigned": {},
        "adds_up": all(r["adds_up"] for r in results),
        "distance_km": round(sum(r["distance_km"] for r in results), 1),
    }
    for r in results:
        for code, n in r["unassigned"].items():
            totals["unassigned"][code] = totals["unassigned"].get(code, 0) + n
    return {
        "command": "bench city",
        "streets": str(streets),
        "stations": stations,
        "parcels_per_station": parcels_per_station,
        "parcels": stations * parcels_per_station,
        "seed": seed,
        "time_limit_s_per_station": time_limit_s,
        "workers": dict(client.nthreads()),
        "prepare_s": round(prepare_s, 2),
        "graph_nodes_city": graph.n_nodes,
        "graph_nodes_per_station": {"mean": round(float(np.mean([r["graph_nodes"] for r in results]))),
                                    "max": max(r["graph_nodes"] for r in results)},
        "plan_all_s": round(plan_all_s, 2),
        "total_s": round(time.perf_counter() - started, 2),
        "station_plan_s": {"mean": round(float(np.mean(plan_s)), 2), "min": min(plan_s),
                           "max": max(plan_s)},
        "peak_rss_mb": round(driver_mb + sum(worker_peaks.values()), 1),
        "peak_rss_mb_driver": driver_mb,
        "peak_rss_mb_workers": worker_peaks,
        # Elapsed time to the k-th finished station against the parcels planned by then: the
        # growth of city planning time with volume (1.0 = linear).
        "time_exponent": time_exponent(volume_done.tolist(), done_s),
        "time_exponent_per_station": time_exponent([r["volume"] for r in results], plan_s),
        "completions": [[int(v), round(t, 2)] for v, t in zip(volume_done, done_s, strict=True)],
        "totals": totals,
        "points": results,
    }


def write(result: Mapping[str, Any], out: Path) -> list[Path]:
    """Write bench.json, plots and bench.html of a city run into ``out``."""

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from courier.bench.load import _html, _save, plain_log_ticks

    io.write_json(out / "bench.json", result)
    points = result["points"]
    figures: list[Path] = []
    fig, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
    ax.bar([p["station"] for p in points], [p["plan_s"] for p in points], color="C0")
    ax.set_xlabel("station")
    ax.set_ylabel("planning time, s")
    ax.set_title(f"Per-station planning time ({result['parcels_per_station']} parcels each)")
    ax.grid(True, axis="y", alpha=0.3)
    figures.append(_save(fig, out / "station_plan_s.png"))

    fig, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
    done = sorted((p["station"], p) for p in points)
    dots = ax.scatter([p["lon"] for _, p in done], [p["lat"] for _, p in done],
                      s=[max(5.0, p["planned"] / max(1, result["parcels_per_station"]) * 60)
                         for _, p in done],
                      c=[p["unassigned_share"] * 100 for _, p in done], cmap="viridis_r")
    fig.colorbar(dots, ax=ax, label="unassigned, % of the station's parcels")
    ax.ticklabel_format(useOffset=False)
    ax.set_aspect(1 / np.cos(np.radians(np.mean([p["lat"] for _, p in done]))))
    ax.set_xlabel("lon")
    ax.set_ylabel("lat")
    ax.set_title("Stations (dot size: parcels planned)")
    figures.append(_save(fig, out / "stations.png"))
    fig, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
    vol = np.array([c[0] for c in result["completions"]], dtype=float)
    secs = np.array([c[1] for c in result["completions"]], dtype=float)
    ax.loglog(vol, secs, "o", ms=4, label="stations finished")
    if result.get("time_exponent") is not None:
        slope, icept = np.polyfit(np.log(vol), np.log(secs), 1)
        xs = np.geomspace(vol.min(), vol.max(), 50)
        ax.loglog(xs, np.exp(icept) * xs**slope, "-", color="black", lw=1,
                  label=f"fit: time ∝ volume^{result['time_exponent']:.2f}")
    plain_log_ticks(ax)
    ax.set_xlabel("parcels planned (log)")
    ax.set_ylabel("elapsed planning time, s (log)")
    ax.set_title("City: planning time against volume")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    figures.insert(0, _save(fig, out / "time_vs_volume.png"))
    page = out / "bench.html"
    cols = [("station", "station"), ("volume", "parcels"), ("couriers", "roster"),
            ("plan_s", "plan s"), ("worker", "worker"), ("worker_peak_rss_mb", "worker peak RSS MB"),
            ("km_per_parcel", "km/parcel"), ("parcels_per_courier_hour", "parcels/courier-h"),
            ("unassigned", "unassigned by reason")]
    io.write_text(page, _html(result, [f.name for f in figures], cols=cols))
    return [out / "bench.json", *figures, page]
