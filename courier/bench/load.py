"""`courier bench load`: plan synthetic days of growing volume and report where the time goes.

Every point runs the same stages as ``courier plan`` (validation, ``pipeline.plan``,
``report.summary``) on parcels from ``courier.synth`` with the given seed, so a point can be
replayed with ``courier synth --parcels N --seed S`` and ``courier plan``.

``couriers_needed`` is a bisection over the roster size: a roster "clears the day" when no
parcel is left ``no_courier`` and at most ``CLEARED_SHARE`` of them ``dropped`` (the reasons
more couriers can fix). Each probe is a full plan with a short time limit, scaled with the
roster so that every district gets the same time whatever the roster (districts are one per
courier): without that a larger roster gave each district less time and dropped more, and the
search grew without end (measured: 6,000 parcels still dropped stops with 80 couriers at 15 s,
for 0.4 s per district). The figure is an upper estimate: a longer search may clear the day with
fewer couriers, and the bisection assumes more couriers never hurt. A probe in which a district
found no solution at all (``no_solution``: too little time, not too few couriers) says nothing
about the roster, so it runs again with twice the time, up to ``_PROBE_DOUBLINGS`` times; if it
still finds none, the roster counts as not clearing. The search gives up (None) past 4x the
starting roster.
"""

from __future__ import annotations

import functools
import math
import resource
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from courier import io
from courier.config import MAX_TRIPS, PROFILES, PlanConfig
from courier.errors import InputError
from courier.io import as_table
from courier.text import esc

if TYPE_CHECKING:
    import pandas as pd
    from distributed import Client

    from courier.app import Inputs, Plan
    from courier.model import Courier, StreetGraph

# Share of parcels a roster may leave "dropped" and still clear the day: a short search leaves
# a few stops out even with idle couriers (measured: 3 of 6,000 parcels with 80 couriers, all
# evening-window stops whose courier had time for another trip), which is not a roster figure.
CLEARED_SHARE = 0.002
_MAX_PROBES = 8
_PROBE_DOUBLINGS = 2

Progress = Callable[[str], None]


# --------------------------------------------------------------------------------------------
# Measuring


@contextmanager
def peak_rss() -> Iterator[dict[str, float]]:
    """Sample the resident memory of this process and its children; yield {'mb': peak}.

    ``getrusage`` maxima never go down over a process's life, so a sweep needs a sampler to
    give each point its own peak. The sampler runs every 50 ms; the getrusage peak of this
    process, where it is higher than every sample, is taken as a floor only for the first point.
    """
    import psutil

    me = psutil.Process()
    out = {"mb": 0.0}
    stop = threading.Event()

    def rss_mb() -> float:
        total = 0
        for proc in (me, *me.children(recursive=True)):
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                continue
        return total / 2**20

    def sample() -> None:
        while not stop.is_set():
            out["mb"] = max(out["mb"], rss_mb())
            stop.wait(0.05)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield out
    finally:
        stop.set()
        thread.join()
        out["mb"] = round(max(out["mb"], rss_mb()), 1)


def maxrss_mb() -> float:
    """Return the lifetime peak resident memory of this process plus its waited-for children, MB."""
    # Linux reports kilobytes.
    kb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
          + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return round(kb / 1024, 1)


def time_exponent(volumes: Sequence[float], seconds: Sequence[float]) -> float | None:
    """Return the slope of log(seconds) over log(volumes) (numpy.polyfit), None below 2 volumes."""
    pairs = [(v, s) for v, s in zip(volumes, seconds, strict=True) if v > 0 and s > 0]
    if len({v for v, _ in pairs}) < 2:
        return None
    x = np.log([v for v, _ in pairs])
    y = np.log([s for _, s in pairs])
    return round(float(np.polyfit(x, y, 1)[0]), 3)


# --------------------------------------------------------------------------------------------
# One point


def synth_inputs(graph: StreetGraph, *, parcels: int, couriers: int | None, seed: int) -> Inputs:
    """Synthesise a day as ``courier synth`` does and read it as ``courier plan`` reads files."""
    from courier.synth import synth_couriers, synth_parcels

    return day_inputs({graph.profile: graph}, synth_parcels(graph, parcels=parcels, seed=seed),
                      synth_couriers(parcels=parcels, couriers=couriers))


def day_inputs(graphs: Mapping[str, StreetGraph], parcels: pd.DataFrame, couriers: pd.DataFrame,
               station_lonlat: tuple[float, float] | None = None) -> Inputs:
    """Read tables of a day through the application layer (validated as files are)."""
    from courier.app import read_inputs

    return read_inputs(streets=graphs, parcels=parcels, couriers=couriers, station=station_lonlat)


def with_roster(inputs: Inputs, roster: Sequence[Courier]) -> Inputs:
    """Return the same day with another roster."""
    return replace(inputs, day=replace(inputs.day, couriers=tuple(roster)))


def plan_inputs(inputs: Inputs, config: PlanConfig, *,
                client: Client | None = None) -> tuple[Plan, float]:
    """Plan a day through the application layer; return the plan and its planning seconds.

    Those are the pipeline's own (``timings_s.plan``, as ``courier plan`` reports them), not
    the summary, polygons and versions the application layer adds around it.
    """
    from courier.app import run

    result = run(inputs, config, client=client)
    return result, float(result.summary["timings_s"]["plan"])


def point_figures(summary: Mapping[str, Any]) -> dict[str, Any]:
    """Return the per-point KPIs of bench.json from a plan's summary."""
    planned = summary["parcels"]["planned"]
    km = summary["totals"]["distance_m"] / 1000
    return {
        "planned": planned,
        "input": summary["parcels"]["input"],
        "adds_up": summary["parcels"]["adds_up"],
        "distance_km": round(km, 2),
        "km_per_parcel": round(km / planned, 4) if planned else None,
        "parcels_per_courier_hour": summary["totals"]["parcels_per_courier_hour"],
        "couriers_used": summary["totals"]["couriers_used"],
        "unassigned": dict(summary["unassigned_by_reason"]),
        "unassigned_share": round(summary["parcels"]["unassigned"] / max(1, summary["parcels"]["input"]), 4),
        # The time limit cut a search or the repair: the point's time measures the limit, not
        # the work, so the growth fit leaves it out.
        "cut_by_time_limit": not summary.get("search", {}).get("repeatable", True),
    }


def couriers_needed(inputs: Inputs, *, start: int, config: PlanConfig,
                    client: Client | None = None,
                    progress: Progress | None = None) -> dict[str, Any]:
    """Return the smallest roster (bisection) whose plan leaves no parcel for lack of couriers
    (see the module docstring for what counts). ``config.time_limit_s`` is the probe time
    of the starting roster ``start``.

    Returns ``{"couriers": n or None, "probes": [[n, cleared, probe_s], ...], "bracket": [lo,
    hi]}`` (``probe_s``: the time limit of the probe that decided, after any doublings);
    ``couriers`` is None when even the largest roster tried does not clear the day.
    """
    from courier.parcels import validate_couriers
    from courier.synth import SynthConfig, synth_couriers

    synth = SynthConfig()
    rows = inputs.day.rows
    roster_cache: dict[int, tuple[Courier, ...]] = {}
    probes: list[list[Any]] = []

    def clears(n: int) -> bool:
        if n not in roster_cache:
            roster_cache[n] = validate_couriers(as_table(synth_couriers(parcels=0, couriers=n)),
                                                file="synthetic roster", profiles=PROFILES)
        limit = config.time_limit_s * max(1.0, n / max(start, 1))
        for doubling in range(_PROBE_DOUBLINGS + 1):
            if progress:
                progress(f"roster search: {n} couriers, {limit:g} s")
            result, _ = plan_inputs(with_roster(inputs, roster_cache[n]),
                                    replace(config, time_limit_s=limit), client=client)
            codes = {u.reason_code for u in result.result.unassigned}
            if "no_solution" not in codes or doubling == _PROBE_DOUBLINGS:
                break
            limit *= 2
        dropped = sum(1 for u in result.result.unassigned if u.reason_code == "dropped")
        ok = (not codes & {"no_courier", "no_solution"}
              and dropped <= CLEARED_SHARE * max(rows, 1))
        probes.append([n, ok, limit])
        return ok

    deliveries = sum(1 for p in inputs.day.parcels if p.kind == "delivery")
    # No roster smaller than the parcels over what one courier can carry in a day can clear it.
    lo = max(0, math.ceil(deliveries / (synth.courier_capacity_parcels * MAX_TRIPS)) - 1)
    hi = max(start, lo + 1)
    while not clears(hi):
        # A day that 4x the starting roster cannot clear is dropping stops for want of solver
        # time (short probes), not of couriers: say so (None) rather than grow without end.
        if len(probes) >= _MAX_PROBES or hi * 2 > 4 * max(start, 1):
            return {"couriers": None, "probes": probes, "bracket": [hi, None]}
        lo, hi = hi, hi * 2
    while hi - lo > 1 and len(probes) < _MAX_PROBES:
        mid = (lo + hi) // 2
        if clears(mid):
            hi = mid
        else:
            lo = mid
    return {"couriers": hi, "probes": probes, "bracket": [lo, hi]}


# --------------------------------------------------------------------------------------------
# The sweep


@dataclass(frozen=True, slots=True)
class Sweep:
    """What ``bench load`` plans: the points, the roster, the limits.

    Exactly one of ``volumes`` (parcels per point) and ``peak_factors`` (multiples of
    :attr:`courier.synth.SynthConfig.normal_day_parcels`). ``couriers`` fixes the roster at
    every point (default: sized per point as ``courier synth`` does); ``search`` adds the
    couriers-needed bisection with ``search_time_limit_s`` per probe (default min(time
    limit, 10 s)).
    """

    volumes: tuple[int, ...] | None = None
    peak_factors: tuple[float, ...] | None = None
    couriers: int | None = None
    time_limit_s: float = 30.0
    search_time_limit_s: float | None = None
    search: bool = True
    seed: int = 0
    workers: int = 0
    solution_limit: int | None = None

    def __post_init__(self) -> None:
        if (self.volumes is None) == (self.peak_factors is None):
            raise InputError("give exactly one of --volumes or --peak-factors")
        if self.couriers is not None and self.couriers < 1:
            raise InputError(f"--couriers must be >= 1, got {self.couriers}")
        bad = [v for v, _ in self.points() if v < 1]
        if bad or not self.points():
            raise InputError(f"volumes must be whole numbers >= 1, got {bad or 'none'}")

    def points(self) -> list[tuple[int, float | None]]:
        """Return (parcels, peak factor or None) per point."""
        from courier.synth import SynthConfig

        if self.volumes is not None:
            return [(int(v), None) for v in self.volumes]
        normal = SynthConfig().normal_day_parcels
        return [(round(normal * f), float(f)) for f in self.peak_factors or ()]

    @property
    def search_limit_s(self) -> float | None:
        """Seconds per probe of the roster search (None without the search)."""
        if not self.search:
            return None
        return self.search_time_limit_s or min(self.time_limit_s, 10.0)

    def config(self) -> PlanConfig:
        """The plan configuration of every point."""
        return PlanConfig(time_limit_s=self.time_limit_s, seed=self.seed, workers=self.workers,
                          solution_limit=self.solution_limit)


def run(streets: Path, sweep: Sweep, *, client: Client | None = None,
        cache_dir: Path | None = None, progress: Progress | None = None,
        checkpoint: Callable[[dict[str, Any]], object] | None = None) -> dict[str, Any]:
    """Plan each point of the sweep and return the contents of bench.json.

    ``checkpoint`` receives the result so far after every point (a long sweep that is stopped
    still leaves its finished points behind).
    """
    from courier.streets import load_graph
    from courier.synth import default_station

    graph = load_graph(streets, profile=PROFILES["etricycle"], cache_dir=cache_dir)
    st = default_station(graph)
    config = sweep.config()
    points: list[dict[str, Any]] = []
    for volume, factor in sweep.points():
        if progress:
            progress(f"{volume} parcels: planning")
        inputs = synth_inputs(graph, parcels=volume, couriers=sweep.couriers, seed=sweep.seed)
        inputs = replace(inputs, day=replace(inputs.day, station_lonlat=(st.lon, st.lat)))
        with peak_rss() as mem:
            result, plan_s = plan_inputs(inputs, config, client=client)
        point: dict[str, Any] = {
            "volume": volume, "peak_factor": factor, "couriers": len(inputs.day.couriers),
            "plan_s": round(plan_s, 3),
            "timings_s": {k: round(v, 3) for k, v in result.result.timings_s.items()},
            "peak_rss_mb": mem["mb"],
            **point_figures(result.summary),
        }
        limit = sweep.search_limit_s
        if limit is not None:
            step = functools.partial(_prefixed, progress, f"{volume} parcels") if progress else None
            # The probes have the sweep's budget (the work budget by default, sized to their
            # shorter time limit) and no solution limit.
            probe = replace(config, time_limit_s=limit, solution_limit=None)
            found = couriers_needed(inputs, start=len(inputs.day.couriers), config=probe,
                                    client=client, progress=step)
            point["couriers_needed"] = found["couriers"]
            point["couriers_search"] = found
        points.append(point)
        if checkpoint is not None:
            checkpoint(_result(streets, sweep, points))
    return _result(streets, sweep, points)


def _result(streets: Path, sweep: Sweep, points: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "command": "bench load",
        "streets": str(streets),
        "seed": sweep.seed,
        "time_limit_s": sweep.time_limit_s,
        "search_time_limit_s": sweep.search_limit_s,
        "solution_limit": sweep.solution_limit,
        "budget": str(sweep.config().budget),
        "points": points,
        **growth(points),
        "maxrss_mb": maxrss_mb(),
    }


def growth(points: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The time exponent over the points the time limit did not cut, and a note on those it
    did: a cut point ran into the limit, and a fit through it measures the limit (the sweep
    that printed -0.08 and -0.32 had every point cut)."""
    fair = [p for p in points if not p.get("cut_by_time_limit")]
    cut = [p["volume"] for p in points if p.get("cut_by_time_limit")]
    note = ""
    if cut:
        note = (f"the time limit cut the search at {len(cut)} of {len(points)} point(s) "
                f"({', '.join(map(str, cut))} parcels): their time is the limit's, not the "
                "work's; the exponent is fitted over the others"
                + ("" if len(fair) >= 2 else " (fewer than two: none)")
                + "; give a longer --time-limit")
    return {
        "time_exponent": time_exponent([p["volume"] for p in fair], [p["plan_s"] for p in fair]),
        "time_exponent_points": [p["volume"] for p in fair],
        "cut_points": cut,
        "note": note,
    }


def _prefixed(progress: Progress, prefix: str, text: str) -> None:
    progress(f"{prefix}: {text}")


# --------------------------------------------------------------------------------------------
# Writing: bench.json, plots, bench.html


def write(result: Mapping[str, Any], out: Path) -> list[Path]:
    """Write bench.json, the PNG plots and bench.html into ``out``; return the files written."""
    write_json(result, out)
    figures = _plots(result, out)
    page = out / "bench.html"
    io.write_text(page, _html(result, [f.name for f in figures]))
    return [out / "bench.json", *figures, page]


def write_json(result: Mapping[str, Any], out: Path) -> Path:
    """Write ``out/bench.json``."""
    io.write_json(out / "bench.json", result)
    return out / "bench.json"


def _plots(result: Mapping[str, Any], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    points = result["points"]
    vol = np.array([p["volume"] for p in points], dtype=float)
    written: list[Path] = []

    fig, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
    secs = np.array([p["plan_s"] for p in points])
    ax.loglog(vol, secs, "o-", color="C0", label="whole plan")
    stages = sorted({k for p in points for k in p["timings_s"]} - {"routing"})
    for k, stage in enumerate(["routing", *stages], start=1):
        ys = np.array([p["timings_s"].get(stage, np.nan) for p in points])
        if np.nanmax(ys, initial=0) > 0.01 * secs.max():
            ax.loglog(vol, ys, ".--", color=f"C{k}", alpha=0.8, label=stage)
    cut = np.array([bool(p.get("cut_by_time_limit")) for p in points])
    if cut.any():
        ax.loglog(vol[cut], secs[cut], "x", color="C3", ms=10, mew=2,
                  label="cut by the time limit (not fitted)")
    exp = result.get("time_exponent")
    if exp is not None and (~cut).sum() >= 2:
        slope, icept = np.polyfit(np.log(vol[~cut]), np.log(secs[~cut]), 1)
        xs = np.geomspace(vol.min(), vol.max(), 50)
        ax.loglog(xs, np.exp(icept) * xs**slope, "-", color="black", lw=1,
                  label=f"fit: time ∝ volume^{exp:.2f}")
    ax.set_xlabel("parcels (log)")
    ax.set_ylabel("planning time, s (log)")
    plain_log_ticks(ax, x=False)
    _volume_ticks(ax, vol)
    ax.set_title("Planning time against volume")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    written.append(_save(fig, out / "time_vs_volume.png"))

    if any(p.get("couriers_needed") is not None for p in points):
        fig, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
        use_factor = all(p.get("peak_factor") is not None for p in points)
        fx: list[Any] = [p["peak_factor"] if use_factor else p["volume"] for p in points]
        need = [p.get("couriers_needed") or np.nan for p in points]
        ax.plot(fx, need, "o-", label="couriers needed (roster search)")
        ax.plot(fx, [p["couriers"] for p in points], "s:", color="grey", label="roster planned")
        ax.set_xlabel("peak factor (x a normal day)" if use_factor else "parcels")
        ax.set_ylabel("couriers")
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title("Couriers needed to clear the day within shifts")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        written.append(_save(fig, out / "couriers_needed.png"))

    fig, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
    kpp = [p["km_per_parcel"] if p["km_per_parcel"] is not None else np.nan for p in points]
    ax.plot(vol, kpp, "o-", color="C2")
    ax.set_xscale("log")
    _volume_ticks(ax, vol)
    ax.set_xlabel("parcels (log)")
    ax.set_ylabel("km per planned parcel")
    ax.set_ylim(bottom=0)
    ax.set_title("Distance per parcel")
    ax.grid(True, which="both", alpha=0.3)
    written.append(_save(fig, out / "km_per_parcel.png"))
    return written


def plain_log_ticks(ax: Any, *, x: bool = True, y: bool = True) -> None:
    """Label log axes 2000, 5000, 0.5 rather than 2x10^3."""
    from matplotlib.ticker import FuncFormatter

    major = FuncFormatter(lambda v, _: f"{v:g}")
    # Between the decades only 2x and 5x, so that a span of several decades stays legible.
    minor = FuncFormatter(lambda v, _: f"{v:g}" if f"{v:.0e}"[0] in "25" else "")
    for on, axis in ((x, ax.xaxis), (y, ax.yaxis)):
        if on:
            axis.set_major_formatter(major)
            axis.set_minor_formatter(minor)


def _volume_ticks(ax: Any, volumes: np.ndarray) -> None:
    from matplotlib.ticker import NullFormatter, NullLocator

    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(sorted(set(volumes.tolist())), [f"{v:g}" for v in sorted(set(volumes.tolist()))])


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    io.write_figure(path, fig)
    plt.close(fig)
    return path


def _html(result: Mapping[str, Any], figures: Sequence[str], *,
          cols: Sequence[tuple[str, str]] | None = None) -> str:
    points = result["points"]
    cols = cols or [("volume", "parcels"), ("couriers", "roster"), ("plan_s", "plan s"),
            ("cut_by_time_limit", "cut by the time limit"),
            ("peak_rss_mb", "peak RSS MB"), ("km_per_parcel", "km/parcel"),
            ("parcels_per_courier_hour", "parcels/courier-h"), ("couriers_needed", "couriers needed"),
            ("unassigned", "unassigned by reason")]
    head = "".join(f"<th>{esc(label)}</th>" for _, label in cols)
    body = []
    for p in points:
        cells = []
        for key, _ in cols:
            value = p.get(key, "")
            if isinstance(value, dict):
                value = ", ".join(f"{k} {v}" for k, v in value.items()) or "none"
            cells.append(f"<td>{esc('' if value is None else value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    meta = {k: v for k, v in result.items() if not isinstance(v, list | dict)}
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in meta.items())
    imgs = "".join(f'<figure><img src="{esc(name)}" alt="{esc(name)}"></figure>' for name in figures)
    title = esc(f"courier {result.get('command', 'bench')}")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;margin:1.5rem;max-width:75rem}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}}
dt{{font-weight:600;float:left;clear:left;width:14rem}}dd{{margin-left:15rem}}
figure{{display:inline-block;margin:.5rem}}img{{max-width:100%}}</style></head>
<body><h1>{title}</h1><dl>{dl}</dl>
<table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>
{imgs}</body></html>
"""
