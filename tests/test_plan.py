"""`courier plan` end to end: the tiny hand-checked town, the demo, real Shenzhen streets."""

from __future__ import annotations

import csv
import itertools
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import DATA, shared_file
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from courier.cli import app

OUTPUTS = ("sort_plan.csv", "stops.csv", "routes.geojson", "unassigned.csv", "rejects.csv",
           "summary.json", "maps/overview.html", "report.html", "districts.geojson")


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def tiny(out: Path, *extra: str) -> tuple[int, str]:
    return run("plan", "--streets", str(DATA / "tiny_town.osm"),
               "--parcels", str(DATA / "parcels_tiny.csv"),
               "--couriers", str(DATA / "couriers_tiny.csv"), "--station", "114.0,22.5",
               "--out", str(out), "--time-limit", "10", "--solution-limit", "100",
               "--workers", "1", "--no-cache", "-q", *extra)


def check_conservation(out: Path, parcel_ids: set[str], input_rows: int) -> dict:
    """Every input parcel is in exactly one of the three files, and the summary adds up."""
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    planned = [r["parcel_id"] for r in rows(out / "sort_plan.csv")]
    unassigned = [r["parcel_id"] for r in rows(out / "unassigned.csv")]
    rejected_rows = {r["row"] for r in rows(out / "rejects.csv")}
    p = summary["parcels"]
    assert p["input"] == input_rows
    assert p["input"] == p["planned"] + p["unassigned"] + p["rejected"]
    assert (len(planned), len(unassigned), len(rejected_rows)) == (
        p["planned"], p["unassigned"], p["rejected"])
    placed = planned + unassigned
    assert len(placed) == len(set(placed)), "a parcel is planned or unassigned twice"
    assert set(placed) <= parcel_ids
    return summary


def check_feasible(out: Path, couriers_csv: Path | None = None) -> None:
    """No trip over capacity, no courier working outside their shift, trips do not overlap."""
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    routes = json.loads((out / "routes.geojson").read_text(encoding="utf-8"))["features"]
    stops = rows(out / "stops.csv")
    roster = {c["courier_id"]: c for c in rows(couriers_csv)} if couriers_csv else None
    by_courier: dict[str, list[dict]] = {}
    for f in routes:
        by_courier.setdefault(f["properties"]["courier_id"], []).append(f["properties"])
        assert f["geometry"]["type"] == "LineString"
        assert len(f["geometry"]["coordinates"]) >= 2
    for cid, trips in by_courier.items():
        trips.sort(key=lambda t: t["trip"])
        for a, b in itertools.pairwise(trips):
            assert a["return"] <= b["depart"], f"{cid}: trips overlap"
        if roster:
            cap = int(roster[cid]["capacity_parcels"])
            assert all(t["parcels"] <= cap for t in trips)
            assert trips[0]["depart"] >= roster[cid]["shift_start"]
            assert trips[-1]["return"] <= roster[cid]["shift_end"] + ":00"
    for s in stops:
        assert s["arrival"] <= s["departure"]
    assert summary["totals"]["stops_routed"] == len(stops)


def test_tiny_town_plan_can_be_checked_by_hand(tmp_path: Path) -> None:
    code, output = tiny(tmp_path)
    assert code == 0, output
    for name in OUTPUTS:
        assert (tmp_path / name).exists(), name
    summary = check_conservation(tmp_path, {"T1", "T2", "T3", "T4", "T5"}, 5)
    assert summary["parcels"]["planned"] == 5
    stops = rows(tmp_path / "stops.csv")
    # T1 and T2 are at the same door: one stop; five parcels, four stops, one trip.
    assert len(stops) == 4
    assert any(s["parcel_ids"] == "T1 T2" for s in stops)
    # All stops lie on the edge of a 308 m x 299 m block whose corner is the station, so the
    # shortest round trip is the block's perimeter, about 1,215 m.
    route = json.loads((tmp_path / "routes.geojson").read_text())["features"]
    assert len(route) == 1
    assert 1180 <= route[0]["properties"]["distance_m"] <= 1250
    # T4's window is 09:00-12:00 and the shift starts at 08:00: service starts by noon.
    t4 = next(s for s in stops if "T4" in s["parcel_ids"])
    assert 9 * 3600 <= int(t4["start_s"]) <= 12 * 3600
    plan = rows(tmp_path / "sort_plan.csv")
    by_id = {r["parcel_id"]: r for r in plan}
    assert by_id["T5"]["bag"] == "0" and by_id["T5"]["load_position"] == "0"  # a pickup
    deliveries = [(int(r["seq"]), int(r["load_position"])) for r in plan if r["bag"] != "0"]
    # Last out, first in: an earlier stop's parcels are always loaded later (higher position).
    assert sorted(pos for _, pos in deliveries) == [1, 2, 3, 4]
    for seq_a, pos_a in deliveries:
        for seq_b, pos_b in deliveries:
            if seq_a < seq_b:
                assert pos_a > pos_b
    check_feasible(tmp_path, DATA / "couriers_tiny.csv")


def test_points_far_from_streets_are_rejected_with_the_reason(tmp_path: Path) -> None:
    code, output = run("plan", "--streets", str(DATA / "tiny_town.osm"),
                       "--parcels", str(DATA / "parcels_far.csv"),
                       "--couriers", str(DATA / "couriers_tiny.csv"),
                       "--out", str(tmp_path), "--time-limit", "5", "--no-cache", "-q")
    assert code == 0, output
    rejects = {r["parcel_id"]: r for r in rows(tmp_path / "rejects.csv")}
    assert set(rejects) == {"F2", "F3"}
    assert rejects["F2"]["row"] == "3" and rejects["F2"]["field"] == "lon;lat"
    assert "outside the street network's area" in rejects["F2"]["reason"]
    assert "allowed: within 300 m of a street" in rejects["F3"]["reason"]
    check_conservation(tmp_path, {"F1", "F2", "F3"}, 3)


@pytest.mark.parametrize(("args", "message"), [
    (("--parcels", str(DATA / "parcels_missing_lon.csv")), "lacks required column(s) lon"),
    (("--parcels", str(DATA / "nope.csv")), "nope.csv: no such file"),
    (("--couriers", str(DATA / "couriers_bad.csv")), "field 'vehicle': got 'spaceship'"),
    (("--station", "north"), "expected LON,LAT"),
])
def test_bad_input_exits_2_with_a_clear_message(tmp_path: Path, args, message) -> None:
    base = {"--streets": str(DATA / "tiny_town.osm"), "--parcels": str(DATA / "parcels_tiny.csv"),
            "--couriers": str(DATA / "couriers_tiny.csv")}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    code, output = run("plan", *[x for kv in base.items() for x in kv], "--out", str(tmp_path),
                       "--no-cache")
    assert code == 2
    assert message in output
    assert "Traceback" not in output


def test_same_seed_and_solution_limit_give_identical_files(tmp_path: Path) -> None:
    assert tiny(tmp_path / "a")[0] == 0
    assert tiny(tmp_path / "b")[0] == 0
    for name in ("sort_plan.csv", "stops.csv", "routes.geojson"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    # The demo exactly as a newcomer runs it: the default 30 s time limit.
    code, output = run("plan", "--out", str(out),
                       "--cache-dir", str(out / "cache"))
    assert code == 0, output
    assert "Helsinki" in output and "adds up" in output
    return out


def test_demo_writes_every_output_and_adds_up(demo: Path) -> None:
    for name in OUTPUTS:
        assert (demo / name).exists(), name
    couriers = list((demo / "maps").glob("courier-*.html"))
    assert couriers
    summary = check_conservation(demo, {f"P{i:07d}" for i in range(1, 901)}, 900)
    assert summary["parcels"]["planned"] >= 850
    assert summary["timings_s"]["total"] > 0
    assert summary["versions"]["ortools"] != "unknown"
    check_feasible(demo)


def test_demo_respects_the_time_limit(demo: Path) -> None:
    summary = json.loads((demo / "summary.json").read_text())
    t = summary["timings_s"]
    planning = t["total"] - t["read_streets"] - t["read_input"] - t["write"]
    assert planning <= 30 + 1.0


def test_shenzhen_futian_real_streets(tmp_path: Path) -> None:
    streets = shared_file("osm_shenzhen_pcrl", "shenzhen_futian_drive.osm")
    code, output = run("synth", "--streets", str(streets), "--parcels", "400", "--couriers", "3",
                       "--seed", "5", "--out", str(tmp_path / "in"), "--no-cache")
    assert code == 0, output
    station = (tmp_path / "in" / "station.txt").read_text().strip()
    code, output = run("plan", "--streets", str(streets), "--parcels",
                       str(tmp_path / "in" / "parcels.csv"), "--couriers",
                       str(tmp_path / "in" / "couriers.csv"), "--station", station,
                       "--out", str(tmp_path / "out"), "--time-limit", "15", "--no-cache", "-q")
    assert code == 0, output
    ids = {r["parcel_id"] for r in rows(tmp_path / "in" / "parcels.csv")}
    summary = check_conservation(tmp_path / "out", ids, 400)
    assert summary["parcels"]["planned"] >= 300
    check_feasible(tmp_path / "out", tmp_path / "in" / "couriers.csv")


def test_python_dash_m_works() -> None:
    done = subprocess.run([sys.executable, "-m", "courier", "--help"], capture_output=True,
                          text=True, check=False, timeout=60)
    assert done.returncode == 0
    assert "plan" in done.stdout and "synth" in done.stdout


_TOWN: dict[str, object] = {}


def _town():
    """The tiny town's graph and roster, loaded once for the property test."""
    if not _TOWN:
        from courier.config import PROFILES
        from courier.io import read_table
        from courier.parcels import validate_couriers
        from courier.streets import load_graph

        _TOWN["graph"] = load_graph(DATA / "tiny_town.osm", profile=PROFILES["etricycle"])
        roster = read_table(DATA / "couriers_tiny.csv")
        _TOWN["couriers"] = validate_couriers(roster, file="couriers_tiny.csv", profiles=PROFILES)
    return _TOWN["graph"], _TOWN["couriers"]


_ROW = st.one_of(
    # good: on the town's streets, any weight, some with windows, some pickups
    st.fixed_dictionaries({
        "lon": st.floats(114.0, 114.003).map(lambda v: f"{v:.6f}"),
        "lat": st.floats(22.5, 22.5027).map(lambda v: f"{v:.6f}"),
        "weight_kg": st.sampled_from(["", "0.5", "3", "150"]),
        "window_start": st.sampled_from(["", "09:00", "17:30"]),
        "window_end": st.sampled_from(["", "12:00", "18:00"]),
        "kind": st.sampled_from(["delivery", "pickup"]),
    }),
    # bad: unparseable, out of range, far from every street
    st.fixed_dictionaries({
        "lon": st.sampled_from(["", "abc", "114.2", "114.001"]),
        "lat": st.sampled_from(["22.5", "91", "22.6"]),
        "weight_kg": st.sampled_from(["", "-1"]),
        "window_start": st.sampled_from(["", "12:00"]),
        "window_end": st.sampled_from(["", "10:00"]),
        "kind": st.sampled_from(["delivery", "teleport"]),
    }),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_ROW, max_size=30), st.integers(0, 3))
def test_any_mix_of_rows_is_planned_unassigned_or_rejected_exactly_once(rows_in, dup) -> None:
    """Through the whole pipeline: input = planned + unassigned + rejected, each parcel once."""
    import pandas as pd

    from courier.config import PlanConfig
    from courier.parcels import validate_parcels
    from courier.pipeline import plan

    graph, couriers = _town()
    records = [{"parcel_id": f"X{i % (len(rows_in) - dup) if dup and len(rows_in) > dup else i}",
                **r} for i, r in enumerate(rows_in)]
    table = pd.DataFrame(records, columns=["parcel_id", "lon", "lat", "weight_kg",
                                           "window_start", "window_end", "kind"], dtype=str)
    table.insert(0, "__row__", range(2, len(table) + 2))
    parcels, rejects = validate_parcels(table, file="mix.csv")
    result = plan(parcels=parcels, rejects=rejects, couriers=couriers,
                  station_lonlat=(114.0, 22.5), graphs={"etricycle": graph},
                  config=PlanConfig(time_limit_s=5, solution_limit=5, workers=1),
                  input_count=len(table))
    planned = [s.parcel_id for s in result.sort_lines]
    unassigned = [u.parcel_id for u in result.unassigned]
    rejected_rows = [r.row for r in result.rejects]
    assert len(rejected_rows) == len(set(rejected_rows))
    assert len(planned) + len(unassigned) + len(rejected_rows) == len(table)
    placed = planned + unassigned
    assert len(placed) == len(set(placed))
    assert sorted([p.row for p in parcels if p.parcel_id in set(placed)] + rejected_rows) == \
        list(range(2, len(table) + 2))
    # A 150 kg parcel is heavier than the tricycle's 100 kg: unassigned as too_big, never planned.
    heavy = {p.parcel_id for p in parcels if p.weight_kg > 100}
    assert not heavy & set(planned)
    assert all(u.reason_code == "too_big" for u in result.unassigned if u.parcel_id in heavy)


def test_the_readme_example_on_real_futian_streets(tmp_path: Path) -> None:
    streets = shared_file("osm_shenzhen_pcrl", "shenzhen_futian_drive.osm")
    root = Path(__file__).resolve().parents[1] / "examples"
    code, output = run("plan", "--streets", str(streets), "--parcels", str(root / "parcels.csv"),
                       "--couriers", str(root / "couriers.toml"), "--lockers",
                       str(root / "lockers.csv"), "--station", "114.033011,22.558884",
                       "--out", str(tmp_path), "--time-limit", "8", "--no-cache", "-q")
    assert code == 0, output
    ids = {r["parcel_id"] for r in rows(root / "parcels.csv")}
    summary = check_conservation(tmp_path, ids, len(ids))
    assert summary["parcels"]["planned"] == len(ids)
    assert [c["courier_id"] for c in summary["couriers"]] == ["C001", "C002"]  # read from TOML
    check_feasible(tmp_path, root / "couriers.csv")


def test_lunch_break_is_planned_and_shown(tmp_path: Path) -> None:
    # The tiny town's day is short: a 30-minute lunch starting 08:05-08:15 has to fall between
    # visits (or at the station), never during one.
    code, output = tiny(tmp_path, "--lunch", "08:05-08:15/30")
    assert code == 0, output
    summary = check_conservation(tmp_path, {"T1", "T2", "T3", "T4", "T5"}, 5)
    lunch = summary["couriers"][0]["lunch"]
    start, end = lunch.split("-")
    assert "08:05" <= start <= "08:15" and end == f"08:{int(start[3:]) + 30:02d}"
    lo, hi = (int(start[:2]) * 3600 + int(start[3:]) * 60), (int(end[:2]) * 3600 + int(end[3:]) * 60)
    for s in rows(tmp_path / "stops.csv"):
        # Whole minutes shown, so allow the minute the break starts or ends in.
        assert int(s["departure_s"]) <= lo + 60 or int(s["start_s"]) >= hi - 60, s
    assert f"lunch {lunch}" in (tmp_path / "sheets" / "sort-C1.html").read_text(encoding="utf-8")
    assert lunch in (tmp_path / "report.html").read_text(encoding="utf-8")
    check_feasible(tmp_path, DATA / "couriers_tiny.csv")


def test_no_lunch_and_lunch_with_the_pyvrp_solver(tmp_path: Path) -> None:
    code, output = tiny(tmp_path / "a", "--lunch", "none", "--solver", "pyvrp")
    assert code == 0, output
    summary = check_conservation(tmp_path / "a", {"T1", "T2", "T3", "T4", "T5"}, 5)
    assert summary["parcels"]["planned"] == 5
    assert summary["couriers"][0]["lunch"] == ""
    check_feasible(tmp_path / "a", DATA / "couriers_tiny.csv")
    # Lunch is placed after routing, so PyVRP plans it too.
    code, output = tiny(tmp_path / "b", "--solver", "pyvrp")
    assert code == 0, output
    summary = check_conservation(tmp_path / "b", {"T1", "T2", "T3", "T4", "T5"}, 5)
    assert summary["couriers"][0]["lunch"] != ""
    check_feasible(tmp_path / "b", DATA / "couriers_tiny.csv")
    code, output = tiny(tmp_path / "c", "--lunch", "noon")
    assert code == 2 and "FROM-TO/MINUTES" in output
    code, output = tiny(tmp_path / "d", "--solver", "vroom", "--lunch", "none")
    assert code == 2 and "solver must be ortools or pyvrp" in output


def test_districts_share_the_time_left_and_pass_on_what_they_do_not_use() -> None:
    from courier.pipeline import _budget_s, _lanes_after, _Task

    # Largest first onto the emptiest of 2 lanes: 5->A, 4->B, 3->B, 2->A, 1->A.
    assert _lanes_after([5, 4, 3, 2, 1], 2) == [3, 3, 0, 1, 0]
    assert _lanes_after([7, 7, 7], 1) == [14, 7, 0]

    def task(stops: int, queued: int) -> _Task:
        return _Task(couriers=(), stops=tuple(None for _ in range(stops)),  # type: ignore[misc]
                     station_lonlat=(0.0, 0.0), deadline_epoch_s=100.0, seed=0,
                     solution_limit=None, reload_s=0, drop_penalty_s=0, queued_stops=queued)

    # Three equal districts in one lane: a third each when all run to their share...
    assert _budget_s(task(10, 20), 10.0) == pytest.approx(30.0)
    assert _budget_s(task(10, 10), 40.0) == pytest.approx(30.0)
    # ...and the time the first two leave over goes to the last, not back unused.
    assert _budget_s(task(10, 10), 15.0) == pytest.approx(42.5)
    assert _budget_s(task(10, 0), 20.0) == pytest.approx(80.0)


def test_the_longest_day_hands_stops_to_the_nearest_short_district(monkeypatch) -> None:
    from courier import pipeline
    from courier.model import Courier, Snap, Stop, Trip, Visit

    def stop(sid: str) -> Stop:
        return Stop(stop_id=sid, parcel_ids=(sid,), lon=0.0, lat=0.0,
                    snap=Snap(0, 0.0, 0.0, 0.0, 0.0), service_s=60, windows_s=(),
                    delivery_parcels=1, delivery_kg=1.0, delivery_l=1.0)

    def solved(cid: str, hours: float, drops: tuple[str, ...] = ()) -> pipeline._Solved:
        trip = Trip(courier_id=cid, trip=1, depart_s=8 * 3600,
                    return_s=8 * 3600 + round(hours * 3600), visits=(), distance_m=0,
                    load_parcels=0, load_kg=0.0, load_l=0.0)
        return pipeline._Solved(trips=(trip,), drops=tuple((s, "dropped") for s in drops),
                                matrix_s=0.0, solve_s=0.0)

    # Four districts on a line: A (x 0-9, a 10 h day, one stop dropped), B next to it (5 h),
    # C (7 h), D far away (5 h). Mean 6.75 h: only A is long; B and D are as short, and B is
    # nearer.
    xs = {"A": 0, "B": 100, "C": 200, "D": 1000}
    xy, tasks = {}, []
    for cid, x0 in xs.items():
        ids = [f"{cid}{i}" for i in range(10)]
        xy.update({sid: (float(x0 + i), 0.0) for i, sid in enumerate(ids)})
        courier = Courier(cid, "etricycle", 100, 100.0, 100.0, 8 * 3600, 20 * 3600)
        tasks.append(pipeline._Task(couriers=(courier,), stops=tuple(map(stop, ids)),
                                    station_lonlat=(0.0, 0.0), deadline_epoch_s=0.0, seed=0,
                                    solution_limit=None, reload_s=0, drop_penalty_s=0))
    first = [solved("A", 10, ("A0",)), solved("B", 5), solved("C", 7), solved("D", 5)]
    seen: list[list[tuple[str, ...]]] = []

    def run(again, graphs, workers, *, client=None):
        seen.append([tuple(s.stop_id for s in t.stops) for t in again])
        return [solved(t.couriers[0].courier_id, outcome[i % 2]) for i, t in enumerate(again)]

    monkeypatch.setattr(pipeline, "_run_tasks", run)
    monkeypatch.setattr(pipeline, "_REBALANCE_ROUNDS", 1)
    outcome = (8.0, 7.5)
    out_tasks, out_solved, _ = pipeline._rebalance(tasks, first, xy, 0.0, graphs={}, slots=2,
                                                   client=None)
    # round(10 x (10 - 6.75) / 10) = 3 stops (B has room for round(10 x 1.75 / 5) = 4): the
    # dropped A0, then the two nearest B (A9, A8).
    assert seen == [[tuple(f"A{i}" for i in range(1, 8)),
                     (*(f"B{i}" for i in range(10)), "A0", "A8", "A9")]]
    assert [pipeline._day_s(s) for s in out_solved] == [8 * 3600, 7.5 * 3600, 7 * 3600,
                                                        5 * 3600]
    assert len(out_tasks[1].stops) == 13 and out_tasks[2] is tasks[2]
    # A re-solve that makes the pair's longer day no shorter is thrown away.
    outcome = (6.0, 10.5)
    _, kept, _ = pipeline._rebalance(tasks, first, xy, 0.0, graphs={}, slots=2, client=None)
    assert kept == first

    # C's day (7 h) is over the mean but pinned by windows: 3 h of it is waiting at doors,
    # so C has more room than B (1.75 h) and takes the stops, as many as its room allows:
    # round(10 x 3 / (7 - 3)) = 8, capped by A's 3.
    wait = Visit("C0", 1, 9 * 3600, 12 * 3600, 12 * 3600 + 60)
    pinned = replace(first[2], trips=(replace(first[2].trips[0], visits=(wait,)),))
    assert pipeline._idle_s(pinned, reload_s=0) == 3 * 3600
    seen.clear()
    outcome = (8.0, 7.0)
    pipeline._rebalance(tasks, [first[0], first[1], pinned, first[3]], xy, 0.0, graphs={},
                        slots=2, client=None)
    assert seen[0][1][:10] == tuple(f"C{i}" for i in range(10))
    assert len(seen[0][1]) == 13

    # Two long days (A 10 h, C 9.5 h; mean 7.375 h): one pair per two slots, longest first,
    # so that each re-solve has a core for the whole round.
    two_long = [first[0], first[1], solved("C", 9.5), first[3]]
    for slots, pairs in ((2, 1), (4, 2)):
        seen.clear()
        pipeline._rebalance(tasks, two_long, xy, 0.0, graphs={}, slots=slots, client=None)
        assert len(seen[0]) == 2 * pairs
        assert seen[0][0][0].startswith("A")


def test_idle_time_is_waiting_at_doors_and_at_the_station_beyond_the_reload() -> None:
    from courier import pipeline
    from courier.model import Trip, Visit

    h = 3600
    # Trip 1 08-11 h with 30 min waiting at a door; trip 2 14-18 h; reload 10 min; lunch
    # 12:00-12:30 at the station: idle = 30 min + (3 h - 30 min lunch - 10 min reload).
    one = Trip("A", 1, 8 * h, 11 * h, (Visit("s1", 1, 9 * h, 9 * h + 1800, 9 * h + 1860),),
               0, 0, 0.0, 0.0)
    two = Trip("A", 2, 14 * h, 18 * h, (), 0, 0, 0.0, 0.0)
    solved = pipeline._Solved(trips=(two, one), drops=(), matrix_s=0.0, solve_s=0.0,
                              breaks=(("A", 12 * h, 12 * h + 1800),))
    assert pipeline._idle_s(solved, reload_s=600) == 1800 + (3 * h - 1800 - 600)
    # A lunch taken at a door, while waiting for its window, is lunch, not waiting.
    at_door = replace(solved, breaks=(("A", 9 * h, 9 * h + 1800),))
    assert pipeline._idle_s(at_door, reload_s=600) == 3 * h - 600
