"""Benchmark: travel_matrix against networkx on real Shenzhen streets; cache vs parse.

Run with ``pytest tests/benchmarks -m benchmark -s``. Prints one table; asserts the ratios the
design promises (matrix >= 30x networkx with the same outputs, cache load >= 10x parsing).

networkx gets the same problem: the stops are inserted into the street graph as nodes (each
edge cut at the stops on it), and ``single_source_dijkstra`` from a stop gives the fastest time
and the path, whose length is the distance. Building that networkx graph is not timed.
``COURIER_BENCH_NX_SOURCES`` caps how many sources networkx runs per size (default: all for
1,000 stops, 100 for 5,000); the networkx total is then extrapolated linearly in sources.
"""

from __future__ import annotations

import itertools
import os
import resource
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from conftest import networkx_with_stops

from courier.config import PROFILES
from courier.model import StreetGraph
from courier.streets import load_graph, snap_points, travel_matrix

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
OSM = SHARED / "osm_shenzhen_pcrl" / "shenzhen_nanshan_futian_drive.osm"
PROFILE = PROFILES["etricycle"]

pytestmark = [pytest.mark.benchmark, pytest.mark.shared]


def _networkx_rows(
    g: nx.DiGraph, n: int, sources: Sequence[int]
) -> tuple[np.ndarray, np.ndarray, float]:
    """Return networkx time and distance rows for ``sources`` and the seconds it took."""
    time_s = np.zeros((len(sources), n))
    dist_m = np.zeros((len(sources), n))
    started = time.perf_counter()
    for r, i in enumerate(sources):
        lengths, paths = nx.single_source_dijkstra(g, ("p", i), weight="time")
        for j in range(n):
            path = paths[("p", j)]
            time_s[r, j] = lengths[("p", j)]
            dist_m[r, j] = sum(g.edges[a, b]["length"] for a, b in itertools.pairwise(path))
    return time_s, dist_m, time.perf_counter() - started


def _stops(graph: StreetGraph, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    # Doors near the streets: random street nodes moved up to ~30 m in a random direction.
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, graph.n_nodes, n)
    return (
        graph.node_lon[pick] + rng.uniform(-3e-4, 3e-4, n),
        graph.node_lat[pick] + rng.uniform(-3e-4, 3e-4, n),
    )


def test_matrix_and_cache_benchmark() -> None:
    if not OSM.is_file():
        pytest.skip(f"{OSM} is absent (../shared/data is only in the main checkout and CI)")
    rows: list[str] = []

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        graph = load_graph(OSM, profile=PROFILE)
        parse_s = time.perf_counter() - started
        load_graph(OSM, profile=PROFILE, cache_dir=Path(tmp))  # writes the cache
        cache_times = []
        for _ in range(5):
            started = time.perf_counter()
            cached = load_graph(OSM, profile=PROFILE, cache_dir=Path(tmp))
            cache_times.append(time.perf_counter() - started)
        cache_s = min(cache_times)
    np.testing.assert_array_equal(cached.edge_time_s, graph.edge_time_s)
    rows.append(
        f"load_graph {OSM.name}: {graph.n_nodes} nodes, {graph.n_edges} edges; "
        f"parse {parse_s:.3f} s, cache {cache_s:.4f} s, ratio {parse_s / cache_s:.0f}x"
    )
    assert parse_s / cache_s >= 10

    rows.append(
        f"{'stops':>6} {'paths':>5} {'courier s':>10} {'networkx s':>11} {'nx sources':>10} "
        f"{'ratio':>7} {'peak MB':>8}"
    )
    default_sources = {1000: 1000, 5000: 100}
    for n in (1000, 5000):
        lon, lat = _stops(graph, n, seed=n)
        snaps = snap_points(graph, lon, lat)
        results = {}
        for keep_paths in (False, True):
            tracemalloc.start()
            started = time.perf_counter()
            matrix = travel_matrix(graph, snaps, keep_paths=keep_paths)
            took = time.perf_counter() - started
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            results[keep_paths] = (matrix, took, peak)
        k = min(n, int(os.environ.get("COURIER_BENCH_NX_SOURCES", default_sources[n])))
        sources = np.random.default_rng(n + 1).choice(n, size=k, replace=False).tolist()
        g = networkx_with_stops(graph, snaps)
        nx_t, nx_d, nx_took = _networkx_rows(g, n, sources)
        nx_total = nx_took * n / k
        matrix = results[True][0]
        ours_t, ours_d = matrix.time_s[sources], matrix.distance_m[sources]
        np.testing.assert_allclose(ours_t, np.rint(nx_t), atol=1)
        assert (ours_t == np.rint(nx_t)).mean() > 0.99
        assert (np.abs(ours_d - np.rint(nx_d)) <= 1).mean() > 0.99
        np.testing.assert_array_equal(results[False][0].time_s, matrix.time_s)
        for keep_paths, (_, took, peak) in results.items():
            rows.append(
                f"{n:>6} {'yes' if keep_paths else 'no':>5} {took:>10.2f} {nx_total:>11.1f} "
                f"{k:>10} {nx_total / took:>6.0f}x {peak / 2**20:>8.0f}"
            )
            assert nx_total / took >= 30
        rows.append(
            f"{'':>6} agreement on {k} sources: time exact "
            f"{(ours_t == np.rint(nx_t)).mean():.2%}, distance within 1 m "
            f"{(np.abs(ours_d - np.rint(nx_d)) <= 1).mean():.2%}, max |dt| "
            f"{np.abs(ours_t - np.rint(nx_t)).max():.0f} s, max |dd| "
            f"{np.abs(ours_d - np.rint(nx_d)).max():.0f} m"
        )
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows.append(f"process peak RSS {rss_mb:.0f} MB (networkx graphs included)")
    print("\n" + "\n".join(rows))
