"""Shared test helpers: paths to fixtures and to the real data beside the repository."""

from __future__ import annotations

import contextlib
import functools
import itertools
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

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


# Headless Chromium for the page tests (Debian: apt-get install chromium chromium-driver).
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
NEEDS_CHROMIUM = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason=f"headless browser tests need {CHROMIUM} and {CHROMEDRIVER} "
           "(Debian: apt-get install chromium chromium-driver)",
)


@functools.cache
def _has_cjk_font() -> bool:
    """Whether fontconfig (which Chromium on Linux uses) knows a font with Chinese glyphs."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return False
    found = subprocess.run([fc_list, ":lang=zh"], capture_output=True, text=True, check=False)
    return bool(found.stdout.strip())


@contextlib.contextmanager
def chromium(*extra: str, eager: bool = False) -> Iterator[Any]:
    """Yield a headless Chromium driver with its own profile, console logs kept.

    ``extra`` are more command-line flags (a window size, say); ``eager`` returns from a page
    load at DOMContentLoaded, not waiting for tile requests that cannot succeed offline.
    """
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    if not _has_cjk_font():
        # Without one Chromium gives Chinese text no width: names and popups read as empty,
        # and the failures would point at the pages rather than at the machine.
        pytest.fail("no font with Chinese glyphs: the page tests need one "
                    "(Debian: apt-get install fonts-noto-cjk)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    with tempfile.TemporaryDirectory(prefix="courier-chromium-") as profile:
        for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", f"--user-data-dir={profile}", *extra):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        if eager:
            options.page_load_strategy = "eager"
        drv = webdriver.Chrome(options=options, service=webdriver.ChromeService(str(CHROMEDRIVER)))
        drv.set_page_load_timeout(30)
        try:
            yield drv
        finally:
            drv.quit()
