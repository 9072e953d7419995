"""Truck waves: parcels ready at different times, at the routing level and in a plan.

No trip may leave the station before every stop on it is ready; the independent evaluator
(:func:`courier.routing.check_feasible`) checks it, and each solver is held to it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from courier.routing import Drop, RoutingResult, check_feasible, schedule_trips, solve
from tests.test_routing import assert_ok, euclid_problem, reasons, van

H = 3600


def waves_problem(max_trips: int = 3, shift_end_s: int = 20 * H):
    """Six stops: 1-3 ready at 08:00 (the shift start), 2.5-3 km out (about an hour's trip at
    1 m/s), and 4-6 near the station with the 10:30 truck."""
    pts = [(0, 0), (2500, 0), (2800, 0), (3000, 0), (300, 300), (600, 300), (900, 300)]
    p = euclid_problem(pts, (van(shift_start_s=8 * H, shift_end_s=shift_end_s,
                                 max_trips=max_trips),))
    ready = np.zeros(len(pts), dtype=np.int64)
    ready[4:] = 10 * H + 1800
    return dataclasses.replace(p, ready_s=ready)


@pytest.mark.parametrize("solver", ["ortools", "pyvrp"])
def test_no_trip_leaves_before_its_parcels_are_ready(solver: str) -> None:
    p = waves_problem()
    r = solve(p, time_limit_s=2, seed=0, solution_limit=50, solver=solver)
    assert_ok(p, r)
    assert not r.drops
    for trip in r.trips:
        assert trip.depart_s >= max(int(p.ready_s[n]) for n in trip.nodes)
    # The morning's stops go out at once, not with the second truck.
    first = min(r.trips, key=lambda t: t.depart_s)
    assert set(first.nodes) <= {1, 2, 3} and first.depart_s <= 8 * H + p.reload_s
    assert any(t.depart_s >= 10 * H + 1800 for t in r.trips)


def test_a_courier_with_one_trip_waits_for_the_wave_with_pyvrp() -> None:
    # With one trip only, the courier takes everything when the second truck is sorted.
    p = waves_problem(max_trips=1)
    r = solve(p, time_limit_s=2, seed=0, solution_limit=50, solver="pyvrp")
    assert_ok(p, r)
    assert not r.drops and len(r.trips) == 1
    assert r.trips[0].depart_s >= 10 * H + 1800


def test_with_ortools_a_courier_with_one_trip_leaves_at_the_shift_start() -> None:
    # OR-Tools' one-trip courier takes what is ready when the shift starts; the later truck's
    # stops are not theirs, and the reason says why.
    p = waves_problem(max_trips=1)
    r = solve(p, time_limit_s=2, seed=0, solution_limit=50, solver="ortools")
    assert_ok(p, r)
    assert [set(t.nodes) for t in r.trips] == [{1, 2, 3}]
    assert reasons(r) == dict.fromkeys((4, 5, 6), "not_ready_in_time")


def test_a_stop_ready_after_every_shift_can_use_is_not_ready_in_time() -> None:
    # Shift ends 11:00; the 10:30 truck's stop 6 needs 949 m out, 60 s, 949 m back: 33 min.
    p = waves_problem(shift_end_s=11 * H)
    r = solve(p, time_limit_s=2, seed=0, solution_limit=50)
    assert_ok(p, r)
    codes = reasons(r)
    assert codes.get(6) == "not_ready_in_time", codes
    assert not {1, 2, 3} & set(codes)  # the morning's stops fit before 11:00


def test_the_evaluator_flags_a_trip_that_leaves_before_its_parcels_are_ready() -> None:
    p = waves_problem(max_trips=1)
    (trip,) = schedule_trips(p, [(0, 8 * H, [1, 4])])
    assert trip.depart_s >= 10 * H + 1800  # the schedule holds it back
    early = dataclasses.replace(trip, depart_s=8 * H,
                                arrival_s=(8 * H + 300, trip.arrival_s[1]))
    bad = RoutingResult(trips=(early,), drops=(), objective=0, solve_s=0.0, status="x")
    assert any("before node(s) [4] are ready" in v for v in check_feasible(p, bad))


def test_bad_ready_times_are_refused_when_the_problem_is_built() -> None:
    p = waves_problem()
    with pytest.raises(ValueError, match="ready_s"):
        dataclasses.replace(p, ready_s=np.array([0, -5, 0, 0, 0, 0, 0]))
    with pytest.raises(ValueError, match="ready_s"):
        dataclasses.replace(p, ready_s=np.zeros(3, dtype=np.int64))


def test_a_courier_idle_at_the_station_goes_out_with_what_is_ready() -> None:
    # The solver put stop 1 (ready at 08:00, 2.5 km out) into the 10:30 trip with stop 4. The
    # courier would stand at the station for two and a half hours with stop 1's parcel on the
    # shelf: stop 1 goes out at 08:00 and is back before the 10:30 trip leaves.
    p = waves_problem()
    trips = schedule_trips(p, [(0, 10 * H + 1800, [1, 4])])
    assert [(t.nodes, t.depart_s) for t in trips] == [((1,), 8 * H), ((4,), 10 * H + 1800)]
    assert trips[0].return_s + p.reload_s <= trips[1].depart_s
    assert_ok(p, RoutingResult(trips=tuple(trips),
                               drops=tuple(Drop(n, "dropped") for n in (2, 3, 5, 6)),
                               objective=0, solve_s=0.0, status="x"))
    # Without a trip left it stays one trip.
    one = dataclasses.replace(p, vehicles=(dataclasses.replace(p.vehicles[0], max_trips=1),))
    assert [t.nodes for t in schedule_trips(one, [(0, 10 * H + 1800, [1, 4])])] == [(1, 4)]


# --------------------------------------------------------------------------------------------
# Waves in a plan: the CLI reads ready_at or wave, no trip leaves early, the outputs say when.

def _tiny_with(tmp_path, column: str, values: dict[str, str]):
    import csv

    from tests.test_plan import DATA

    with (DATA / "parcels_tiny.csv").open(encoding="utf-8") as fh:
        table = list(csv.DictReader(fh))
    for row in table:
        row[column] = values.get(row["parcel_id"], "")
    path = tmp_path / "parcels.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    return path


def _plan(tmp_path, parcels, *extra: str):
    from tests.test_plan import DATA, run

    return run("plan", "--streets", str(DATA / "tiny_town.osm"), "--parcels", str(parcels),
               "--couriers", str(DATA / "couriers_tiny.csv"), "--station", "114.0,22.5",
               "--out", str(tmp_path / "out"), "--time-limit", "10", "--solution-limit", "100",
               "--workers", "1", "--no-cache", "-q", *extra)


def _departures(out) -> dict[tuple[str, str], str]:
    import json

    routes = json.loads((out / "routes.geojson").read_text(encoding="utf-8"))["features"]
    return {(f["properties"]["courier_id"], str(f["properties"]["trip"])):
            f["properties"]["depart"] for f in routes}


@pytest.mark.parametrize("solver", ["pyvrp", "ortools"])
def test_a_plan_with_waves_sends_no_parcel_out_before_its_truck(tmp_path, solver: str) -> None:
    from tests.test_plan import check_conservation, rows

    # T3 comes on the 10:30 truck; T1/T2 (one door) split by waves: T2 comes at 13:00.
    parcels = _tiny_with(tmp_path, "ready_at", {"T3": "10:30", "T2": "2026-11-11 13:00"})
    code, output = _plan(tmp_path, parcels, "--solver", solver)
    assert code == 0, output
    out = tmp_path / "out"
    check_conservation(out, {"T1", "T2", "T3", "T4", "T5"}, 5)
    plan = {r["parcel_id"]: r for r in rows(out / "sort_plan.csv")}
    assert plan["T3"]["ready_at"] == "10:30" and plan["T2"]["ready_at"] == "13:00"
    assert plan["T1"]["ready_at"] == ""
    assert plan["T1"]["stop_id"] != plan["T2"]["stop_id"]  # one door, two trucks: two stops
    departs = _departures(out)
    for pid, ready in (("T3", "10:30:00"), ("T2", "13:00:00")):
        assert departs[(plan[pid]["courier_id"], plan[pid]["trip"])] >= ready
    stops = {r["stop_id"]: r for r in rows(out / "stops.csv")}
    assert stops[plan["T3"]["stop_id"]]["ready_at"] == "10:30"
    # The sort sheet says when each trip's parcels are all in.
    latest: dict[tuple[str, str], str] = {}
    for r in plan.values():
        key = (r["courier_id"], r["trip"])
        latest[key] = max(latest.get(key, ""), r["ready_at"])
    for (cid, _), ready in latest.items():
        sheet = next((out / "sheets").glob(f"sort-{cid}*.html")).read_text(encoding="utf-8")
        assert (f"包裹 {ready} 到齐" in sheet) == bool(ready)


def test_a_wave_column_takes_its_times_from_waves(tmp_path) -> None:
    from tests.test_plan import rows

    parcels = _tiny_with(tmp_path, "wave", {"T3": "2", "T4": "1"})
    code, output = _plan(tmp_path, parcels, "--waves", "07:00,11:00")
    assert code == 0, output
    plan = {r["parcel_id"]: r for r in rows(tmp_path / "out" / "sort_plan.csv")}
    assert plan["T3"]["ready_at"] == "11:00" and plan["T4"]["ready_at"] == "07:00"
    assert _departures(tmp_path / "out")[(plan["T3"]["courier_id"], plan["T3"]["trip"])] >= "11:00"


def test_bad_waves_are_rejected_with_row_field_and_what_is_allowed(tmp_path) -> None:
    from tests.test_plan import rows

    parcels = _tiny_with(tmp_path, "wave", {"T3": "3", "T4": "x"})
    code, output = _plan(tmp_path, parcels, "--waves", "07:00,11:00")
    assert code == 0, output
    rejects = {r["parcel_id"]: r for r in rows(tmp_path / "out" / "rejects.csv")}
    assert rejects["T3"]["field"] == "wave" and "allowed: 1-2" in rejects["T3"]["reason"]
    assert rejects["T4"]["row"] == "5" and rejects["T4"]["value"] == "x"
    # A wave number without --waves says what it needs.
    code, output = _plan(tmp_path, parcels, "--force")
    rejects = {r["parcel_id"]: r for r in rows(tmp_path / "out" / "rejects.csv")}
    assert "--waves" in rejects["T3"]["reason"]
    bad_time = _tiny_with(tmp_path, "ready_at", {"T1": "25:99"})
    code, output = _plan(tmp_path, bad_time, "--force")
    rejects = {r["parcel_id"]: r for r in rows(tmp_path / "out" / "rejects.csv")}
    assert rejects["T1"]["field"] == "ready_at" and "0-59" in rejects["T1"]["reason"]
    code, output = _plan(tmp_path, parcels, "--waves", "7h,11:00")
    assert code == 2 and "--waves" in output and "'7h'" in output


def test_synth_waves_give_ready_times_and_leave_a_day_without_waves_as_it_was() -> None:
    from courier.app import demo_streets
    from courier.config import PROFILES
    from courier.streets import load_graph
    from courier.synth import synth_parcels

    graph = load_graph(demo_streets(), profile=PROFILES["etricycle"])
    plain = synth_parcels(graph, parcels=400, seed=3)
    waved = synth_parcels(graph, parcels=400, seed=3, waves_s=(7 * H, 10 * H + 1800, 14 * H),
                          wave_shares=(0.5, 0.3, 0.2))
    assert plain.equals(waved.drop(columns="ready_at"))
    counts = waved["ready_at"].value_counts()
    assert set(counts.index) == {"07:00", "10:30", "14:00"} and counts["07:00"] > counts["14:00"]
    # A parcel with a 09:00-12:00 window never waits for the 14:00 truck.
    morning = waved[waved["window_end"] == "12:00"]
    assert not morning.empty and set(morning["ready_at"]) <= {"07:00", "10:30"}


def test_synth_gives_a_trip_per_wave_and_two_more() -> None:
    from courier.synth import synth_couriers

    assert set(synth_couriers(parcels=300)["max_trips"]) == {3}
    assert set(synth_couriers(parcels=300, waves=3)["max_trips"]) == {5}
