"""`courier replan`: a day simulated end to end.

The morning plan of the demo; at 12:00 a second truck with 10 % more parcels, the courier with
the most work left off sick, three deliveries failed and one parcel returned. Checked: every
parcel of both files is in exactly one place, nothing delivered is planned again, on-board
parcels stay with couriers on duty, the sick courier has no route, the new parcels are
planned, and changes.csv says exactly what changed between the two sort plans.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from courier.app import demo_streets
from courier.config import PROFILES
from courier.replanning import CHANGE_WHY
from courier.streets import load_graph
from courier.synth import synth_parcels
from tests.test_plan import rows, run

NOON = 12 * 3600


@pytest.fixture(scope="module")
def morning(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("replan") / "morning"
    code, output = run("plan", "--out", str(out), "--time-limit", "10", "--solution-limit", "20",
                       "-q")
    assert code == 0, output
    return out


def _noon_inputs(morning: Path, here: Path) -> dict[str, object]:
    """The noon truck (90 parcels), the roster without the busiest courier, a status file."""
    graph = load_graph(demo_streets(), profile=PROFILES["etricycle"])
    new = synth_parcels(graph, parcels=90, seed=99)
    new["parcel_id"] = [f"N{i:05d}" for i in range(1, 91)]
    new.loc[0, "parcel_id"] = "P0000001"  # clashes with a morning parcel: rejected
    new.to_csv(here / "noon.csv", index=False)
    stops = rows(morning / "stops.csv")
    done = [s for s in stops if int(s["departure_s"]) <= NOON]
    work_left: dict[str, int] = {}
    for s in stops:
        if int(s["departure_s"]) > NOON:
            work_left[s["courier_id"]] = work_left.get(s["courier_id"], 0) + 1
    sick = max(work_left, key=lambda c: work_left[c])
    roster = rows(morning / "inputs" / "couriers.csv")
    with (here / "rest.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(roster[0]))
        writer.writeheader()
        writer.writerows(r for r in roster if r["courier_id"] != sick)
    failed = [s["parcel_ids"].split()[0] for s in done[:3]]
    returned = done[5]["parcel_ids"].split()[0]
    with (here / "status.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["parcel_id", "status"])
        writer.writerows([(pid, "failed") for pid in failed] + [(returned, "returned")])
    return {"sick": sick, "failed": failed, "returned": returned}


def test_a_noon_replan_loses_nothing_and_changes_what_it_says(morning: Path,
                                                               tmp_path: Path) -> None:
    case = _noon_inputs(morning, tmp_path)
    out = tmp_path / "noon"
    code, output = run("replan", "--plan", str(morning), "--now", "12:00",
                       "--parcels", str(tmp_path / "noon.csv"),
                       "--couriers", str(tmp_path / "rest.csv"),
                       "--status", str(tmp_path / "status.csv"), "--out", str(out),
                       "--time-limit", "10", "-q")
    assert code == 0, output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    counts = summary["parcels"]
    morning_ids = {r["parcel_id"] for r in rows(morning / "inputs" / "parcels.csv")}
    new_ids = {f"N{i:05d}" for i in range(2, 91)}
    delivered = [r["parcel_id"] for r in rows(out / "delivered.csv")]
    on_board = [p for r in rows(out / "on_board.csv") for p in r["parcel_ids"].split()]
    planned = [r["parcel_id"] for r in rows(out / "sort_plan.csv")]
    unassigned = {r["parcel_id"]: r for r in rows(out / "unassigned.csv")}
    rejects = rows(out / "rejects.csv")
    # Conservation across both plans: every parcel in exactly one place.
    placed = delivered + on_board + planned + list(unassigned)
    assert len(placed) == len(set(placed)), "a parcel is in two places"
    assert set(placed) == morning_ids | new_ids
    assert [r["value"] for r in rejects] == ["P0000001"] and "already" in rejects[0]["reason"]
    assert counts["adds_up"] and counts["input"] == 900 + 90
    assert (counts["delivered"], counts["on_board"], counts["planned"], counts["unassigned"],
            counts["rejected"]) == (len(delivered), len(on_board), len(planned),
                                    len(unassigned), 1)
    # Delivered by the clock: visits the morning plan had finished by noon, none planned again.
    finished = {p for s in rows(morning / "stops.csv") if int(s["departure_s"]) <= NOON
                for p in s["parcel_ids"].split()}
    assert set(delivered) == finished - set(case["failed"]) - {case["returned"]}
    # Failed ones are tried again, the returned one is left out with that reason.
    assert set(case["failed"]) <= set(planned) | set(unassigned)
    assert unassigned[case["returned"]]["reason_code"] == "returned"
    # On board: with couriers on duty, on a trip under way at noon; not sorted again.
    board = rows(out / "on_board.csv")
    assert board and all(r["courier_id"] != case["sick"] for r in board)
    assert all(int(r["trip_depart_s"]) <= NOON < int(r["trip_return_s"]) for r in board)
    # The sick courier has no route; nobody leaves before noon or before they are back.
    routes = json.loads((out / "routes.geojson").read_text(encoding="utf-8"))["features"]
    assert routes and all(f["properties"]["courier_id"] != case["sick"] for f in routes)
    back = {r["courier_id"]: int(r["trip_return_s"]) for r in board}
    for f in routes:
        depart = f["properties"]["depart"]
        assert depart >= "12:00:00"
        cid = f["properties"]["courier_id"]
        if cid in back:
            h, m, s = map(int, depart.split(":"))
            assert h * 3600 + m * 60 + s >= back[cid]
    # The new parcels are planned (the noon truck is small against the afternoon).
    assert len(new_ids & set(planned)) >= 0.9 * len(new_ids)
    # changes.csv is exactly the difference between the two sort plans.
    before = {r["parcel_id"]: (r["courier_id"], r["trip"]) for r in rows(morning / "sort_plan.csv")}
    after = {r["parcel_id"]: (r["courier_id"], r["trip"]) for r in rows(out / "sort_plan.csv")}
    changes = {r["parcel_id"]: r for r in rows(out / "changes.csv")}
    for pid in set(planned) | set(unassigned):
        was, now = before.get(pid), after.get(pid)
        if was != now:
            row = changes[pid]
            assert (row["before_courier"], row["before_trip"]) == (was or ("", ""))
            assert (row["after_courier"], row["after_trip"]) == (now or ("", ""))
    for row in changes.values():
        assert row["why"] in CHANGE_WHY
        if row["why"] == "courier_off_duty":
            assert row["before_courier"] == case["sick"]
    assert all(changes[pid]["why"] == "new_parcel" for pid in new_ids)
    assert summary["replan"]["off_duty"] == [case["sick"]]
    # The manager's report says what the re-plan did, in Chinese.
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "12:00 重新规划" in report and f"已送达 {len(delivered)}" in report


def test_the_api_replans_from_a_folder_and_a_replan_can_be_replanned(morning: Path,
                                                                     tmp_path: Path) -> None:
    import courier

    first = courier.replan(morning, now="11:00", time_limit_s=8)
    assert first.summary["parcels"]["adds_up"] and first.summary["parcels"]["input"] == 900
    first.write(tmp_path / "r1")
    # The re-plan's folder holds what a later re-plan needs: it goes on from there.
    second = courier.replan(tmp_path / "r1", now="14:00", time_limit_s=8)
    counts = second.summary["parcels"]
    assert counts["adds_up"] and counts["input"] == 900
    assert counts["delivered"] >= first.summary["parcels"]["delivered"]
    earlier = {r["parcel_id"] for r in rows(tmp_path / "r1" / "delivered.csv")}
    assert earlier and earlier <= {row[0] for row in second.tables["delivered.csv"][1]}
    # Nothing delivered at 11:00 is planned again at 14:00.
    assert not earlier & {line.parcel_id for line in second.result.sort_lines}


def test_bad_replan_input_is_exit_2_with_what_is_wrong(morning: Path, tmp_path: Path) -> None:
    (tmp_path / "status.csv").write_text("parcel_id,status\nNOPE,delivered\nP0000002,lost\n",
                                         encoding="utf-8")
    code, output = run("replan", "--plan", str(morning), "--now", "12:00", "--status",
                       str(tmp_path / "status.csv"), "--out", str(tmp_path / "x"), "-q")
    assert code == 2
    assert "'NOPE': not a parcel of the earlier plan" in output and "allowed: delivered" in output
    code, output = run("replan", "--plan", str(tmp_path), "--now", "12:00", "--out",
                       str(tmp_path / "x"), "-q")
    assert code == 2 and "inputs/plan.json" in output
    code, output = run("replan", "--plan", str(morning), "--now", "noon", "--out",
                       str(tmp_path / "x"), "-q")
    assert code == 2 and "--now" in output


# --------------------------------------------------------------------------------------------
# The rules of state_at on a hand-made day (no solver, no streets)

def _hand_day():
    import numpy as np

    from courier.model import Courier, Parcel
    from courier.replanning import Earlier, EarlierTrip, EarlierVisit

    parcels = tuple(Parcel(f"p{i}", i + 1, 114.0 + i / 1000, 22.5) for i in range(8))

    def visit(seq: int, pid: str, start: int, lon: float) -> EarlierVisit:
        return EarlierVisit(f"s{pid}", seq, (pid,), start, start + 60, lon, 22.5)

    h = 3600
    trips = (
        # A: trip 1 done by 10:00; trip 2 under way at noon (p2 done, p3 and p4 left).
        EarlierTrip("A", 1, 8 * h, 10 * h, (visit(1, "p0", 9 * h, 114.0), visit(2, "p1", 9 * h + 600, 114.001))),
        EarlierTrip("A", 2, 11 * h, 13 * h, (visit(1, "p2", 11 * h + 900, 114.002),
                                            visit(2, "p3", 12 * h + 600, 114.003),
                                            visit(3, "p4", 12 * h + 1200, 114.004))),
        # B: under way at noon with p5 left, then a trip not started.
        EarlierTrip("B", 1, 11 * h, 12 * h + 1800, (visit(1, "p5", 12 * h + 600, 114.005),)),
        EarlierTrip("B", 2, 14 * h, 15 * h, (visit(1, "p6", 14 * h + 600, 114.006),)),
    )
    couriers = tuple(Courier(c, "etricycle", 100, 100.0, 500.0, 8 * h, 20 * h, max_trips=3)
                     for c in ("A", "B"))
    earlier = Earlier(parcels=parcels, couriers=couriers, station_lonlat=(114.0, 22.5),
                      trips=trips, assignment={p: (t.courier_id, t.trip) for t in trips
                                               for v in t.visits for p in v.parcel_ids},
                      unassigned=frozenset({"p7"}), breaks={"A": (11 * h, 11 * h + 1800)},
                      input_rows=8, reload_s=600)

    def legs(points):
        # 100 s per 0.001 degree of longitude: a street grid along one road.
        lon = np.array([p[0] for p in points])
        return np.rint(np.abs(lon[:, None] - lon[None, :]) * 100_000).astype(np.int64)

    return earlier, legs


def test_state_at_noon_follows_the_clock_the_status_and_the_roster() -> None:
    from courier.replanning import Status, state_at

    earlier, legs = _hand_day()
    noon = 12 * 3600
    state = state_at(earlier, noon, legs=legs)
    assert {d.parcel_id for d in state.delivered} == {"p0", "p1", "p2"}
    assert all(d.source == "clock" for d in state.delivered)
    board = {ob.courier_id: ob for ob in state.on_board}
    assert [v.parcel_ids for v in board["A"].visits] == [("p3",), ("p4",)]
    assert board["A"].back_s == 13 * 3600  # as planned: no position given
    assert {p.parcel_id for p in state.free} == {"p6", "p7"}
    assert state.why["p7"] == "was_unassigned"
    rest = {c.courier_id: c for c in state.roster}
    # A is back at 13:00 and reloads; two trips started, one left; lunch already taken.
    assert rest["A"].shift_start_s == 13 * 3600 + 600 and rest["A"].max_trips == 1
    assert rest["A"].lunch_min == 0
    assert rest["B"].shift_start_s == 12 * 3600 + 1800 + 600 and rest["B"].max_trips == 2
    # The status file: A is really at p4's door at 12:10; p3 was delivered there already,
    # p5 failed. B is sick: p6 goes to others, p5 (failed) comes back with B.
    told = Status(parcels={"p3": "delivered", "p5": "failed"},
                  positions={"A": (114.004, 22.5, noon + 600)})
    b_only_a = [c for c in earlier.couriers if c.courier_id == "A"]
    state = state_at(earlier, noon, status=told, roster=b_only_a, legs=legs)
    assert {d.parcel_id: d.source for d in state.delivered}["p3"] == "status"
    board = {ob.courier_id: ob for ob in state.on_board}
    assert set(board) == {"A"} and [v.parcel_ids for v in board["A"].visits] == [("p4",)]
    # From p4's door at 12:10: 0 s there, 60 s at the door, 400 s back to the station.
    assert board["A"].back_s == noon + 600 + 60 + 400
    free = {p.parcel_id: p for p in state.free}
    assert set(free) == {"p5", "p6", "p7"} and state.why["p6"] == "courier_off_duty"
    # B failed at p5's door and drives straight back from there: 500 s.
    assert free["p5"].ready_s == noon + 500 and state.why["p5"] == "failed_retry"
    assert state.off_duty == ("B",) and [c.courier_id for c in state.roster] == ["A"]
    # Without a retry a failed parcel is left out, with its reason.
    state = state_at(earlier, noon, status=told, roster=b_only_a, legs=legs, retry=False)
    assert [(u.parcel_id, u.reason_code) for u in state.left_out] == [("p5", "failed_no_retry")]
    assert "p5" not in {p.parcel_id for p in state.free}


def test_a_gcj02_day_is_replanned_in_one_datum(tmp_path: Path) -> None:
    # Parcels and station given in GCJ-02 (as Amap gives them): the earlier plan's stops are
    # in WGS-84, so the re-plan converts the day once and keeps every parcel with its courier.
    import pandas as pd

    import courier
    from courier.coords import wgs84_to_gcj02
    from tests.test_plan import DATA

    table = pd.read_csv(DATA / "parcels_tiny.csv", dtype=str, keep_default_na=False)
    lon, lat = wgs84_to_gcj02(table["lon"].astype(float), table["lat"].astype(float))
    table["lon"], table["lat"] = [f"{v:.7f}" for v in lon], [f"{v:.7f}" for v in lat]
    table.to_csv(tmp_path / "parcels.csv", index=False)
    st_lon, st_lat = wgs84_to_gcj02([114.0], [22.5])
    code, output = run("plan", "--streets", str(DATA / "tiny_town.osm"), "--parcels",
                       str(tmp_path / "parcels.csv"), "--couriers",
                       str(DATA / "couriers_tiny.csv"), "--station",
                       f"{st_lon[0]:.7f},{st_lat[0]:.7f}", "--coords", "gcj02", "--out",
                       str(tmp_path / "am"), "--time-limit", "10", "--solution-limit", "50",
                       "--workers", "1", "--no-cache", "-q")
    assert code == 0, output
    rest = courier.replan(tmp_path / "am", now="07:00", time_limit_s=5)
    assert rest.meta["config"]["coords"] == "wgs84"
    given = {p.parcel_id: (p.lon, p.lat) for p in rest.day.parcels}
    assert abs(given["T1"][0] - 114.0005) < 2e-6 and abs(given["T1"][1] - 22.50005) < 2e-6
    assert rest.summary["parcels"]["adds_up"] and rest.summary["parcels"]["planned"] == 5
    assert rest.summary["replan"]["kept_courier_share"] == 1.0
