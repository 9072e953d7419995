"""Repair: a stop one district leaves out goes to another courier's day when it fits there."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from conftest import DATA
from shapely.geometry import box

import courier
from courier import repair as repairing
from courier.routing import check_feasible

TOWN = DATA / "tiny_town.osm"
QUICK = {"time_limit_s": 10, "solution_limit": 50, "workers": 1, "seed": 0, "lunch": "none"}


def _roster(second_shift_end: str) -> pd.DataFrame:
    # C1 carries 3 parcels in one trip; the town's day has 5 (4 deliveries, 1 pickup).
    return pd.DataFrame({
        "courier_id": ["C1", "C2"], "vehicle": ["etricycle"] * 2,
        "capacity_parcels": [3, 10], "capacity_kg": [100, 100], "capacity_l": [500, 500],
        "shift_start": ["08:00", "08:00"], "shift_end": ["18:00", second_shift_end],
        "max_trips": [1, 2]})


def _areas() -> gpd.GeoDataFrame:
    # Every stop lies in C1's polygon; C2's is a field far away with no stop in it.
    return gpd.GeoDataFrame({"courier_id": ["C1", "C2"]},
                            geometry=[box(113.99, 22.49, 114.01, 22.51),
                                      box(114.5, 22.9, 114.6, 23.0)], crs=4326)


def _plan(second_shift_end: str) -> courier.Plan:
    from courier.config import LunchConfig

    options = {**QUICK, "lunch": LunchConfig(minutes=0)}
    return courier.plan(streets=TOWN, parcels=DATA / "parcels_tiny.csv",
                        couriers=_roster(second_shift_end), station=(114.0, 22.5),
                        districts=_areas(), **options)


def test_a_stop_c1_cannot_carry_goes_to_c2() -> None:
    plan = _plan("18:00")
    assert plan.summary["strategy"] == "districts"
    assert plan.summary["repair"]["stops_taken_in"] >= 1
    assert plan.summary["parcels"]["planned"] == 5, plan.summary["unassigned_by_reason"]
    days = {c["courier_id"]: c for c in plan.summary["couriers"]}
    assert days["C1"]["parcels"] <= 3 and days["C2"]["trips"] >= 1
    assert plan.result.districts  # the repaired stops belong to their new courier
    served_by = {v.stop_id: t.courier_id for t in plan.result.trips for v in t.visits}
    assert all(plan.result.districts[sid] == cid for sid, cid in served_by.items())


def test_dropped_means_no_courier_tried_could_take_it() -> None:
    # C2's shift ends at 08:01: nothing fits in it, so C1's overflow stays dropped, and an
    # exhaustive check (every position of every trip, a new trip) confirms that.
    plan = _plan("08:01")
    dropped = [u for u in plan.result.unassigned if u.reason_code == "dropped"]
    assert dropped
    stops = {s.stop_id: s for s in plan.result.stops}
    from courier.pipeline import snap

    inputs = courier.read_inputs(streets=TOWN, parcels=DATA / "parcels_tiny.csv",
                                 couriers=_roster("08:01"), station=(114.0, 22.5))
    snapped = snap(inputs.day, inputs.graphs["etricycle"], plan.config)
    where = repairing.Where(station=snapped.station, graphs=inputs.graphs,
                            snap_profile="etricycle", config=plan.config)
    days = repairing._days(inputs.day.couriers, plan.result.trips, stops)
    for sid in {u.stop_id for u in dropped}:
        for day in days.values():
            repairing._build(day, [stops[sid]], where, keep_paths=False)
            assert day.problem is not None and day.plain is not None
            new = day.node_of[sid]
            options = repairing._options(day.problem, day.raw, new, day.courier.max_trips)
            for option in _every_position(day.raw, new, day.courier.max_trips) + options:
                assert repairing._evaluated(day.problem, day.plain, option) is None, (
                    day.courier, option)


def _every_position(raw: list[tuple[int, list[int]]], new: int,
                    max_trips: int) -> list[list[tuple[int, list[int]]]]:
    out = [[*raw[:k], (d, [*nodes[:p], new, *nodes[p:]]), *raw[k + 1:]]
           for k, (d, nodes) in enumerate(raw) for p in range(len(nodes) + 1)]
    if len(raw) < max_trips:
        out.append([*raw, (max((d for d, _ in raw), default=0) + 1, [new])])
    return out


def test_repaired_days_pass_the_evaluator(tmp_path: Path) -> None:
    plan = _plan("18:00")
    inputs = courier.read_inputs(streets=TOWN, parcels=DATA / "parcels_tiny.csv",
                                 couriers=_roster("18:00"), station=(114.0, 22.5))
    stops = {s.stop_id: s for s in plan.result.stops}
    from courier.pipeline import snap

    snapped = snap(inputs.day, inputs.graphs["etricycle"], plan.config)
    where = repairing.Where(station=snapped.station, graphs=inputs.graphs,
                            snap_profile="etricycle", config=plan.config)
    for day in repairing._days(inputs.day.couriers, plan.result.trips, stops).values():
        if not day.raw:
            continue
        repairing._build(day, [], where, keep_paths=False)
        assert day.problem is not None and day.plain is not None
        result = repairing._evaluated(day.problem, day.plain, day.raw)
        assert result is not None and not check_feasible(day.problem, result)


def test_a_stop_the_repair_had_no_time_for_says_so(monkeypatch) -> None:
    # With no time left for the repair, C1's overflow is not 'dropped' (nobody tried it
    # elsewhere) but out_of_time, with the hint to plan again with more time.
    monkeypatch.setattr(repairing, "_FINAL_S", 10_000.0)
    # And the plan says that the clock, not the work, ended the repair: a rerun may differ.
    with pytest.warns(courier.CourierWarning, match="the time limit cut the repair"):
        plan = _plan("18:00")
    assert plan.summary["search"]["repair_cut_by_time_limit"] is True
    codes = {u.reason_code for u in plan.result.unassigned}
    assert codes == {"out_of_time"}
    assert "longer --time-limit" in courier.REASONS["out_of_time"]
