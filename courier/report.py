"""KPIs of a plan: the numbers in summary.json and the manager's one-page report."""

from __future__ import annotations

from collections import Counter
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from courier.model import Plan


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


def summary(plan: Plan) -> dict[str, Any]:
    """Return the plan's KPIs; ``parcels`` always satisfies input = planned + unassigned + rejected."""
    planned = len(plan.sort_lines)
    unassigned = len(plan.unassigned)
    rejected = len({r.row for r in plan.rejects})
    per: dict[str, dict[str, Any]] = {}
    for c in plan.couriers:
        per[c.courier_id] = {"courier_id": c.courier_id, "vehicle": c.vehicle, "trips": 0,
                             "stops": 0, "parcels": 0, "distance_m": 0, "duration_s": 0,
                             "load_kg": 0.0, "load_l": 0.0, "shift_s": c.shift_end_s - c.shift_start_s}
    for t in plan.trips:
        row = per[t.courier_id]
        row["trips"] += 1
        row["stops"] += len(t.visits)
        row["parcels"] += t.load_parcels
        row["distance_m"] += t.distance_m
        row["duration_s"] += t.duration_s
        row["load_kg"] = round(row["load_kg"] + t.load_kg, 3)
        row["load_l"] = round(row["load_l"] + t.load_l, 3)
    for c in plan.couriers:
        mine = [t for t in plan.trips if t.courier_id == c.courier_id]
        # Working time runs from the first departure to the last return, reloads included.
        per[c.courier_id]["duration_s"] = (max(t.return_s for t in mine) - min(t.depart_s for t in mine)
                                           if mine else 0)
    used = [r for r in per.values() if r["trips"]]
    durations = [r["duration_s"] for r in used]
    mean = sum(durations) / len(durations) if durations else 0.0
    hours = sum(durations) / 3600
    windows = {s.stop_id: s.windows_s for s in plan.stops}
    visits = [v for t in plan.trips for v in t.visits]
    on_time = sum(
        1 for v in visits
        if not windows[v.stop_id] or any(a <= v.start_s <= b for a, b in windows[v.stop_id])
    )
    return {
        "parcels": {
            "input": plan.input_count,
            "planned": planned,
            "unassigned": unassigned,
            "rejected": rejected,
            "adds_up": plan.input_count == planned + unassigned + rejected,
        },
        "unassigned_by_reason": dict(sorted(Counter(u.reason_code for u in plan.unassigned).items())),
        "totals": {
            "couriers": len(plan.couriers),
            "couriers_used": len(used),
            "stops": len(plan.stops),
            "stops_routed": len(visits),
            "trips": len(plan.trips),
            "distance_m": sum(t.distance_m for t in plan.trips),
            "duration_s": sum(durations),
            "parcels_per_courier_hour": round(planned / hours, 2) if hours else 0.0,
            "on_time_share": round(on_time / len(visits), 4) if visits else 1.0,
            "balance_max_over_mean": round(max(durations) / mean, 4) if mean else 0.0,
            "balance_min_over_mean": round(min(durations) / mean, 4) if mean else 0.0,
        },
        "couriers": [per[c.courier_id] for c in plan.couriers],
        "timings_s": {k: round(v, 3) for k, v in plan.timings_s.items()},
        "seed": plan.seed,
        "streets": plan.streets_source,
        "station": {"lon": plan.station.lon, "lat": plan.station.lat},
        "versions": {"courier": _version("courier"), "ortools": _version("ortools")},
    }
