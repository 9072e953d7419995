"""Tests of rebalancing: which long day hands which stops to whom, and what counts as room."""

from __future__ import annotations

from dataclasses import replace

from courier import rebalance
from courier.config import RebalanceConfig
from courier.model import Courier, Snap, Stop, Trip, Visit
from courier.routes import DistrictRoutes, DistrictTask, RouteOptions


def test_the_longest_day_hands_stops_to_the_nearest_short_district(monkeypatch) -> None:

    def stop(sid: str) -> Stop:
        return Stop(stop_id=sid, parcel_ids=(sid,), lon=0.0, lat=0.0,
                    snap=Snap(0, 0.0, 0.0, 0.0, 0.0), service_s=60, windows_s=(),
                    delivery_parcels=1, delivery_kg=1.0, delivery_l=1.0)

    def solved(cid: str, hours: float, drops: tuple[str, ...] = ()) -> DistrictRoutes:
        trip = Trip(courier_id=cid, trip=1, depart_s=8 * 3600,
                    return_s=8 * 3600 + round(hours * 3600), visits=(), distance_m=0,
                    load_parcels=0, load_kg=0.0, load_l=0.0)
        return DistrictRoutes(trips=(trip,), drops=tuple((s, "dropped") for s in drops),
                              matrix_s=0.0)

    # Four districts on a line: A (x 0-9, a 10 h day, one stop dropped), B next to it (5 h),
    # C (7 h), D far away (5 h). Mean 6.75 h: only A is long; B and D are as short, and B is
    # nearer.
    xs = {"A": 0, "B": 100, "C": 200, "D": 1000}
    xy, tasks = {}, []
    for cid, x0 in xs.items():
        ids = [f"{cid}{i}" for i in range(10)]
        xy.update({sid: (float(x0 + i), 0.0) for i, sid in enumerate(ids)})
        courier = Courier(cid, "etricycle", 100, 100.0, 100.0, 8 * 3600, 20 * 3600)
        tasks.append(DistrictTask(couriers=(courier,), stops=tuple(map(stop, ids)),
                                  station_lonlat=(0.0, 0.0), deadline_epoch_s=0.0,
                                  options=RouteOptions(reload_s=0, drop_penalty_s=0)))
    first = [solved("A", 10, ("A0",)), solved("B", 5), solved("C", 7), solved("D", 5)]
    seen: list[list[tuple[str, ...]]] = []

    def run(again, graphs, workers, *, client=None):
        seen.append([tuple(s.stop_id for s in t.stops) for t in again])
        return [solved(t.couriers[0].courier_id, outcome[i % 2]) for i, t in enumerate(again)]

    monkeypatch.setattr(rebalance, "route_districts", run)
    one_round = RebalanceConfig(rounds=1)
    outcome = (8.0, 7.5)
    out = rebalance.rebalance(tasks, first, xy, rebalance.Effort(0.0, 2), graphs={}, client=None,
                              config=one_round)
    out_tasks, out_solved = out.tasks, out.solved
    # round(10 x (10 - 6.75) / 10) = 3 stops (B has room for round(10 x 1.75 / 5) = 4): the
    # dropped A0, then the two nearest B (A9, A8).
    assert seen == [[tuple(f"A{i}" for i in range(1, 8)),
                     (*(f"B{i}" for i in range(10)), "A0", "A8", "A9")]]
    assert [rebalance.day_s(s) for s in out_solved] == [8 * 3600, 7.5 * 3600, 7 * 3600,
                                                        5 * 3600]
    assert len(out_tasks[1].stops) == 13 and out_tasks[2] is tasks[2]
    # A re-solve that makes the pair's longer day no shorter is thrown away.
    outcome = (6.0, 10.5)
    kept = rebalance.rebalance(tasks, first, xy, rebalance.Effort(0.0, 2), graphs={}, client=None,
                               config=one_round).solved
    assert kept == first

    # C's day (7 h) is over the mean but pinned by windows: 3 h of it is waiting at doors,
    # so C has more room than B (1.75 h) and takes the stops, as many as its room allows:
    # round(10 x 3 / (7 - 3)) = 8, capped by A's 3.
    wait = Visit("C0", 1, 9 * 3600, 12 * 3600, 12 * 3600 + 60)
    pinned = replace(first[2], trips=(replace(first[2].trips[0], visits=(wait,)),))
    assert rebalance.idle_s(pinned, reload_s=0) == 3 * 3600
    seen.clear()
    outcome = (8.0, 7.0)
    rebalance.rebalance(tasks, [first[0], first[1], pinned, first[3]], xy,
                        rebalance.Effort(0.0, 2), graphs={}, client=None, config=one_round)
    assert seen[0][1][:10] == tuple(f"C{i}" for i in range(10))
    assert len(seen[0][1]) == 13

    # Two long days (A 10 h, C 9.5 h; mean 7.375 h): one pair per two slots, longest first,
    # so that each re-solve has a core for the whole round.
    two_long = [first[0], first[1], solved("C", 9.5), first[3]]
    for slots, pairs in ((2, 1), (4, 2)):
        seen.clear()
        rebalance.rebalance(tasks, two_long, xy, rebalance.Effort(0.0, slots), graphs={},
                            client=None, config=one_round)
        assert len(seen[0]) == 2 * pairs
        assert seen[0][0][0].startswith("A")


def test_idle_time_is_waiting_at_doors_and_at_the_station_beyond_the_reload() -> None:

    h = 3600
    # Trip 1 08-11 h with 30 min waiting at a door; trip 2 14-18 h; reload 10 min; lunch
    # 12:00-12:30 at the station: idle = 30 min + (3 h - 30 min lunch - 10 min reload).
    one = Trip("A", 1, 8 * h, 11 * h, (Visit("s1", 1, 9 * h, 9 * h + 1800, 9 * h + 1860),),
               0, 0, 0.0, 0.0)
    two = Trip("A", 2, 14 * h, 18 * h, (), 0, 0, 0.0, 0.0)
    solved = DistrictRoutes(trips=(two, one), drops=(), matrix_s=0.0,
                            breaks=(("A", 12 * h, 12 * h + 1800),))
    assert rebalance.idle_s(solved, reload_s=600) == 1800 + (3 * h - 1800 - 600)
    # A lunch taken at a door, while waiting for its window, is lunch, not waiting.
    at_door = replace(solved, breaks=(("A", 9 * h, 9 * h + 1800),))
    assert rebalance.idle_s(at_door, reload_s=600) == 3 * h - 600
