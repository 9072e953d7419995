"""`courier bench station`: a station's day planned as usual and as one joint problem, side by side.

The usual plan splits the day into districts and routes each on its own (``courier plan``).
The joint solve gives the same stops, service times, windows, shifts, capacities, trips and
lunch to one routing problem over every courier, solved by the strongest solver at hand
(PyVRP) with as many seeded searches in parallel as the plan has cores, each searching to the
same time limit: what the time limit could buy. The plan stops at its work budget when it has
one (the default; ``plan_budget`` in bench.json), usually well before the limit, so the joint
column may use more core-seconds than the plan did. Both are costed on the same street
graph, and the same day shape (:mod:`courier.dayshape`) is read off both: km, courier-hours,
parcels left out, balance, waiting at doors, first departures. The ratios say what districting
costs, or gains.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from courier import dayshape, routing, streets
from courier.config import PlanConfig, Strategy
from courier.model import Day, DayPlan, Stop, StreetGraph, Trip

if TYPE_CHECKING:
    from courier.app import Inputs

__all__ = ["joint_solve", "run"]


def joint_solve(day: Day, graphs: Mapping[str, StreetGraph], config: PlanConfig, *,
                solver: str = "pyvrp") -> dict[str, Any]:
    """Solve the whole day as one routing problem; return its trips, breaks and what was left out.

    The stops are the plan's (same snapping, door merging and lockers); the matrices are
    all-pairs over them on each vehicle profile's graph.
    """
    from courier.pipeline import primary_graph, snap, to_wgs84
    from courier.routes import to_trip

    started = time.perf_counter()
    if config.coords in ("gcj02", "bd09"):
        day = to_wgs84(day, str(config.coords))
    primary = primary_graph(graphs, day)
    snapped = snap(day, primary, config)
    stops: Sequence[Stop] = snapped.stops
    times: dict[str, Any] = {}
    dists: dict[str, Any] = {}
    for profile in sorted({c.vehicle for c in day.couriers}):
        graph = graphs[profile]
        if graph is primary:
            snaps = [snapped.station, *(s.snap for s in stops)]
        else:
            snaps = list(streets.snap_points(graph, [snapped.station.lon, *(s.snap.lon for s in stops)],
                                             [snapped.station.lat, *(s.snap.lat for s in stops)]))
        matrix = streets.travel_matrix(graph, snaps, keep_paths=False)
        times[profile], dists[profile] = matrix.time_s, matrix.distance_m
    matrix_s = time.perf_counter() - started
    problem = routing.problem_from_stops(stops, day.couriers, time_s=times, distance_m=dists,
                                         reload_s=config.reload_s,
                                         drop_penalty_s=config.drop_penalty_s, lunch=config.lunch)
    cores = config.workers or os.cpu_count() or 1
    budget = max(1.0, config.time_limit_s - (time.perf_counter() - started))
    result = routing.solve(problem, time_limit_s=budget, seed=config.seed,
                           solution_limit=config.solution_limit, solver=solver, workers=cores)
    violations = routing.check_feasible(problem, result)
    trips = [to_trip(problem, rt, stops, None) for rt in result.trips]
    breaks = {problem.vehicles[b.vehicle].courier_id: (b.start_s, b.start_s + b.duration_s)
              for b in result.breaks}
    left_out = sum(len(stops[d.node - 1].parcel_ids) for d in result.drops)
    return {"trips": trips, "breaks": breaks, "stops": stops, "left_out_parcels": left_out,
            "unassigned_snap": len(snapped.unassigned), "violations": violations,
            "matrix_s": round(matrix_s, 2), "solve_s": round(time.perf_counter() - started, 2),
            "courier_of": {stops[node - 1].stop_id: problem.vehicles[rt.vehicle].courier_id
                           for rt in result.trips for node in rt.nodes}}


def _figures(day: Day, trips: Sequence[Trip], breaks: Mapping[str, tuple[int, int]],
             courier_of: Mapping[str, str], stops: Sequence[Stop],
             left_out: int) -> dict[str, Any]:
    from courier.districts import stability

    shapes = dayshape.day_shapes(day.couriers, trips, breaks)
    out: dict[str, Any] = {
        "km": round(sum(t.distance_m for t in trips) / 1000, 2),
        **dayshape.totals(shapes),
        "couriers_used": sum(1 for s in shapes if s.used),
        "trips": len(trips),
        "left_out_parcels": left_out,
        "stability": None,
    }
    if day.previous:
        share, _ = stability(courier_of, stops, day.previous)
        out["stability"] = round(share, 4)
    return out


def run(inputs: Inputs, config: PlanConfig, *, solver: str = "pyvrp") -> dict[str, Any]:
    """Plan the day the usual way and jointly; return bench.json contents with the ratios."""
    usual, result = _plan_figures(inputs, config)
    usual["strategy"] = result.strategy
    columns = {"plan": usual}
    if result.strategy != "districts":
        # The default routed the day jointly; how districts do is worth seeing beside it.
        columns["districts"], _ = _plan_figures(
            inputs, dataclasses.replace(config, strategy=Strategy.DISTRICTS))
    joint = joint_solve(inputs.day, inputs.graphs, config, solver=solver)
    together = _figures(inputs.day, joint["trips"], joint["breaks"], joint["courier_of"],
                        joint["stops"], joint["left_out_parcels"])
    together.update({"plan_s": joint["solve_s"], "matrix_s": joint["matrix_s"],
                     "violations": joint["violations"][:5]})

    def ratio(key: str) -> float | None:
        return round(usual[key] / together[key], 4) if together[key] else None

    return {
        "command": "bench station",
        "parcels": inputs.day.rows,
        "stops": len(result.stops),
        "couriers": len(inputs.day.couriers),
        "time_limit_s": config.time_limit_s,
        "seed": config.seed,
        "joint_solver": solver,
        "plan_budget": str(config.budget),
        "inputs": {name: src.to_dict() for name, src in inputs.sources.items()},
        **columns,
        "joint": together,
        "ratios": {"km": ratio("km"), "courier_hours": ratio("courier_hours")},
    }


def _plan_figures(inputs: Inputs, config: PlanConfig) -> tuple[dict[str, Any], DayPlan]:
    from courier.app import run as plan_day

    tick = time.perf_counter()
    result = plan_day(inputs, config).result
    left = sum(1 for u in result.unassigned if u.reason_code != "unreachable")
    figures = _figures(inputs.day, result.trips, result.breaks, result.districts,
                       result.stops, left)
    figures["plan_s"] = round(time.perf_counter() - tick, 2)
    return figures, result


_ROWS = (("km", "km"), ("courier_hours", "courier-hours (paid)"),
         ("left_out_parcels", "parcels left out"), ("couriers_used", "couriers used"),
         ("trips", "trips"), ("balance_paid_max_over_mean", "balance (longest / mean paid day)"),
         ("median_late_start_min", "first departure after shift start, median min"),
         ("door_wait_share", "share of the paid day waiting at doors"),
         ("longest_door_wait_min", "longest wait at one door, min"),
         ("station_share", "share of the paid day at the station"),
         ("stability", "stability (stops with yesterday's courier)"), ("plan_s", "seconds"))


def format_table(result: Mapping[str, Any]) -> str:
    """The side-by-side table printed by ``courier bench station``."""
    plan = result["plan"]
    extra = "districts" in result
    lines = [f"{result['parcels']} parcels, {result['stops']} stops, {result['couriers']} couriers, "
             f"{result['time_limit_s']:g} s; the plan routed the day as {plan['strategy']}",
             f"{'':48} {'plan':>12} {'districts' if extra else '':>12} "
             f"{'joint (' + result['joint_solver'] + ')':>16} {'plan/joint':>10}"]
    for key, label in _ROWS:
        a, b = plan.get(key), result["joint"].get(key)
        c = result["districts"].get(key) if extra else ""
        ratio = f"{a / b:.3f}" if isinstance(a, int | float) and isinstance(b, int | float) and b else ""
        lines.append(f"{label:48} {_fmt(a):>12} {_fmt(c) if extra else '':>12} {_fmt(b):>16} "
                     f"{ratio:>10}")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)
