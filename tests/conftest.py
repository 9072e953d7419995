"""Shared test helpers: paths to fixtures and to the real data beside the repository."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import networkx as nx
import pytest

from courier.model import Snap, StreetGraph

DATA = Path(__file__).parent / "data"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def shared_file(*parts: str) -> Path:
    """Return a file under ../shared/data, or skip the test with the reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not here: {path} (../shared/data is beside the repository in CI)")
    return path


def networkx_with_stops(graph: StreetGraph, snaps: Sequence[Snap]) -> nx.DiGraph:
    """Return the street graph in networkx with every snapped point inserted as a node.

    Every directed edge carrying points is cut into pieces at them (in order along the edge),
    so networkx sees the points ``("p", i)`` as ordinary street nodes: an independent model of
    the part-edge rules in ``streets.travel_matrix``.
    """
    g = nx.DiGraph()
    pairs = {(int(u), int(v)): e for e, (u, v) in enumerate(
        zip(graph.edge_from, graph.edge_to, strict=True))}
    cuts: dict[int, list[tuple[float, object]]] = {}
    for i, s in enumerate(snaps):
        u, v = int(graph.edge_from[s.edge]), int(graph.edge_to[s.edge])
        cuts.setdefault(s.edge, []).append((s.fraction, ("p", i)))
        rev = pairs.get((v, u))
        if rev is not None:
            cuts.setdefault(rev, []).append((1.0 - s.fraction, ("p", i)))
    for e in range(graph.n_edges):
        u, v = int(graph.edge_from[e]), int(graph.edge_to[e])
        t, ln = float(graph.edge_time_s[e]), float(graph.edge_length_m[e])
        chain = [(0.0, u), *sorted(cuts.get(e, []), key=lambda c: c[0]), (1.0, v)]
        for (fa, a), (fb, b) in itertools.pairwise(chain):
            g.add_edge(a, b, time=(fb - fa) * t, length=(fb - fa) * ln)
    return g
