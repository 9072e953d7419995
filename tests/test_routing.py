"""Tests of the routing engine: hand-checkable cases, reason codes, and seeded invariants."""

from __future__ import annotations

import dataclasses
import pickle
import time

import numpy as np
import pytest

from courier.model import REASONS
from courier.routing import (
    Break,
    Drop,
    RoutedTrip,
    RoutingProblem,
    RoutingResult,
    Vehicle,
    check_feasible,
    place_breaks,
    schedule_trips,
    solve,
)

BIG_CAP = (1000, 10**9, 10**9)
UNREACHABLE = int(np.iinfo(np.int64).max // 4)


def euclid_problem(
    xy_m: list[tuple[float, float]],
    vehicles: tuple[Vehicle, ...],
    *,
    service_s: int | list[int] = 60,
    windows: dict[int, tuple[tuple[int, int], ...]] | None = None,
    delivery: dict[int, tuple[int, int, int]] | None = None,
    pickup: dict[int, tuple[int, int, int]] | None = None,
    priority: set[int] | None = None,
    **kwargs: object,
) -> RoutingProblem:
    """Build a problem on points (node 0 = depot), 1 m/s, default 1 parcel of 1 kg per stop."""
    pts = np.asarray(xy_m, dtype=float)
    n1 = len(pts)
    dist = np.rint(np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1)))
    dist = dist.astype(np.int64)
    service = np.full(n1, service_s, dtype=np.int64) if isinstance(service_s, int) else (
        np.asarray(service_s, dtype=np.int64)
    )
    service[0] = 0
    deliv = np.zeros((n1, 3), dtype=np.int64)
    deliv[1:] = (1, 1000, 0)
    for node, d in (delivery or {}).items():
        deliv[node] = d
    pick = np.zeros((n1, 3), dtype=np.int64)
    for node, p in (pickup or {}).items():
        pick[node] = p
    prio = np.zeros(n1, dtype=bool)
    for node in priority or set():
        prio[node] = True
    win = [(windows or {}).get(i, ()) for i in range(n1)]
    profiles = {v.profile for v in vehicles}
    return RoutingProblem(
        stop_ids=tuple(f"s{i}" for i in range(1, n1)),
        service_s=service,
        windows_s=tuple(win),
        delivery=deliv,
        pickup=pick,
        priority=prio,
        vehicles=vehicles,
        time_s={p: dist.copy() for p in profiles},
        distance_m={p: dist.copy() for p in profiles},
        **kwargs,  # type: ignore[arg-type]
    )


def van(**kw: object) -> Vehicle:
    base: dict[str, object] = {
        "courier_id": "c1",
        "profile": "van",
        "capacity": BIG_CAP,
        "shift_start_s": 0,
        "shift_end_s": 100_000,
    }
    base.update(kw)
    return Vehicle(**base)  # type: ignore[arg-type]


def reasons(result: RoutingResult) -> dict[int, str]:
    return {d.node: d.reason_code for d in result.drops}


def assert_ok(problem: RoutingProblem, result: RoutingResult) -> None:
    violations = check_feasible(problem, result)
    assert violations == [], violations


# --------------------------------------------------------------------------------------------
# A hand-checkable line


def line_problem() -> RoutingProblem:
    """Depot at x=0, stops at 100..400 m on a one-way street (left costs 3x), ring road home.

    Tour 1,2,3,4 costs 400 out + 400 home + 4 x 60 s service = 1040; any other order has to
    drive left somewhere at 3 s/m and costs more.
    """
    x = np.array([0, 100, 200, 300, 400], dtype=np.int64)
    dx = x[None, :] - x[:, None]
    t = np.where(dx >= 0, dx, -3 * dx).astype(np.int64)
    t[:, 0] = x  # the ring road back to the depot
    p = euclid_problem([(0, 0)] * 5, (van(),))
    return dataclasses.replace(p, time_s={"van": t}, distance_m={"van": t.copy()})


def test_line_known_optimum() -> None:
    p = line_problem()
    r = solve(p, time_limit_s=2, solution_limit=100)
    assert_ok(p, r)
    assert r.drops == ()
    assert len(r.trips) == 1
    trip = r.trips[0]
    assert trip.nodes == (1, 2, 3, 4)
    assert trip.trip == 1
    assert trip.arrival_s == (100, 260, 420, 580)
    assert trip.start_s == trip.arrival_s
    assert trip.departure_s == (160, 320, 480, 640)
    assert (trip.depart_s, trip.return_s) == (0, 1040)
    assert trip.distance_m == 800
    assert trip.load == (4, 4000, 0)
    assert r.objective == 1040


# --------------------------------------------------------------------------------------------
# One fixture per reason code


def test_reason_unreachable() -> None:
    p = euclid_problem([(0, 0), (100, 0), (200, 0)], (van(),))
    t = np.array(p.time_s["van"])
    t[2, 0] = UNREACHABLE  # a one-way dead end: no way back
    p = dataclasses.replace(p, time_s={"van": t})
    r = solve(p, time_limit_s=1)
    assert reasons(r) == {2: "unreachable"}
    assert_ok(p, r)


def test_reason_too_big() -> None:
    p = euclid_problem(
        [(0, 0), (100, 0), (200, 0)],
        (van(capacity=(10, 20_000, 50_000)),),
        delivery={2: (1, 25_000, 1000)},
    )
    r = solve(p, time_limit_s=1)
    assert reasons(r) == {2: "too_big"}
    assert_ok(p, r)


def test_reason_window_closed() -> None:
    p = euclid_problem(
        [(0, 0), (100, 0), (500, 0)], (van(shift_start_s=1000),), windows={2: ((0, 1200),)}
    )
    r = solve(p, time_limit_s=1)
    assert reasons(r) == {2: "window_closed"}
    assert_ok(p, r)


def test_reason_shift_too_short() -> None:
    # 2 x 500 s driving + 60 s service does not fit a 1000 s shift.
    p = euclid_problem([(0, 0), (100, 0), (500, 0)], (van(shift_end_s=1000),))
    r = solve(p, time_limit_s=1)
    assert reasons(r) == {2: "shift_too_short"}
    assert_ok(p, r)


def test_reason_dropped_and_priority_first() -> None:
    # Room for two of three one-parcel stops; the far one is a priority and must stay.
    p = euclid_problem(
        [(0, 0), (100, 0), (110, 0), (3000, 0)],
        (van(capacity=(2, 10**9, 10**9)),),
        priority={3},
    )
    r = solve(p, time_limit_s=1, solution_limit=200)
    assert_ok(p, r)
    dropped = reasons(r)
    assert len(dropped) == 1
    assert set(dropped.values()) == {"dropped"}
    assert 3 not in dropped
    assert set(REASONS) >= set(dropped.values())


# --------------------------------------------------------------------------------------------
# Trips, pickups, windows


def test_capacity_forces_two_trips_with_reload() -> None:
    p = euclid_problem(
        [(0, 0), (100, 0), (200, 0), (0, 100), (0, 200)],
        (van(capacity=(2, 10**9, 10**9), max_trips=3),),
        reload_s=900,
    )
    r = solve(p, time_limit_s=2, solution_limit=200)
    assert_ok(p, r)
    assert r.drops == ()
    assert [t.trip for t in r.trips] == [1, 2]
    first, second = r.trips
    assert second.depart_s >= first.return_s + 900
    assert first.load[0] == second.load[0] == 2


def test_two_couriers_one_trip_each_respects_shift() -> None:
    p = euclid_problem(
        [(0, 0), (400, 0), (0, 400)],
        (
            van(courier_id="a", shift_end_s=1000),
            van(courier_id="b", shift_end_s=1000, capacity=(1, 10**9, 10**9)),
        ),
    )
    r = solve(p, time_limit_s=1, solution_limit=100)
    assert_ok(p, r)
    assert r.drops == ()
    assert sorted(t.vehicle for t in r.trips) == [0, 1]


def test_pickups_loaded_on_the_way_back() -> None:
    # 3 parcels out to node 1, 3 returns picked up at node 2, capacity 3: feasible only if
    # node 1 comes first and nothing for node 2 is on board from the start.
    p = euclid_problem(
        [(0, 0), (300, 0), (100, 0)],
        (van(capacity=(3, 10**9, 10**9)),),
        delivery={1: (3, 3000, 0), 2: (0, 0, 0)},
        pickup={2: (3, 3000, 0)},
    )
    r = solve(p, time_limit_s=1, solution_limit=100)
    assert_ok(p, r)
    assert r.drops == ()
    assert [t.nodes for t in r.trips] == [(1, 2)]
    assert r.trips[0].load == (3, 3000, 0)

    # The evaluator sees the overflow of the other order.
    t = r.trips[0]
    swapped = dataclasses.replace(r, trips=(dataclasses.replace(t, nodes=(2, 1)),))
    assert any("over capacity" in v for v in check_feasible(p, swapped))


def test_mixed_pickup_delivery_cannot_underload() -> None:
    # Pickup first then delivery: the delivery must be on board from the depot, so
    # 2 (delivery) + 2 (pickup) > capacity 3 means the two stops need two trips.
    p = euclid_problem(
        [(0, 0), (100, 0), (200, 0)],
        (van(capacity=(3, 10**9, 10**9), max_trips=2),),
        delivery={1: (0, 0, 0), 2: (2, 0, 0)},
        pickup={1: (2, 0, 0)},
    )
    r = solve(p, time_limit_s=1, solution_limit=100)
    assert_ok(p, r)
    assert r.drops == ()
    assert len(r.trips) == 2 or r.trips[0].nodes == (2, 1)


def test_several_windows_per_stop() -> None:
    p = euclid_problem(
        [(0, 0), (100, 0)],
        (van(),),
        windows={1: ((0, 50), (500, 600), (900, 1000))},
    )
    r = solve(p, time_limit_s=1)
    assert_ok(p, r)
    (trip,) = r.trips
    assert trip.start_s == (500,)
    assert trip.arrival_s == (500,)  # waits at the station, not at the door
    assert trip.depart_s == 400


def test_windows_decide_the_order() -> None:
    p = euclid_problem(
        [(0, 0), (100, 0), (200, 0)],
        (van(),),
        windows={1: ((1000, 1100),), 2: ((0, 300),)},
    )
    r = solve(p, time_limit_s=1)
    assert_ok(p, r)
    assert [t.nodes for t in r.trips] == [(2, 1)]


def test_evaluator_flags_bad_results() -> None:
    p = line_problem()
    r = solve(p, time_limit_s=1, solution_limit=50)
    t = r.trips[0]
    twice = dataclasses.replace(r, trips=(t, dataclasses.replace(t, trip=2)))
    msgs = check_feasible(p, twice)
    assert any("served 2 times" in m for m in msgs)
    assert any("reload" in m for m in msgs)
    missing = dataclasses.replace(r, trips=())
    assert any("neither served nor dropped" in m for m in check_feasible(p, missing))
    both = dataclasses.replace(r, drops=(Drop(1, "dropped"),))
    assert any("both served and dropped" in m for m in check_feasible(p, both))
    late = RoutedTrip(**{**{f: getattr(t, f) for f in t.__slots__}, "return_s": 200_000})
    assert any("after shift end" in m for m in check_feasible(p, dataclasses.replace(
        r, trips=(late,))))


def test_bad_problem_is_rejected_when_it_is_built() -> None:
    p = euclid_problem([(0, 0), (100, 0)], (van(profile="bike"),))
    with pytest.raises(ValueError, match="no time/distance matrix"):
        dataclasses.replace(p, time_s={"van": p.time_s["bike"]})
    with pytest.raises(ValueError, match=r"service_s has shape \(3,\), expected \(2,\)"):
        dataclasses.replace(p, service_s=np.zeros(3, dtype=np.int64))


def test_the_problem_is_read_only_and_a_copy() -> None:
    service = np.array([0, 60], dtype=np.int64)
    p = dataclasses.replace(euclid_problem([(0, 0), (100, 0)], (van(),)), service_s=service)
    service[1] = 999  # the caller's array stays theirs
    assert int(p.service_s[1]) == 60
    with pytest.raises(ValueError, match="read-only"):
        p.service_s[1] = 0
    with pytest.raises(ValueError, match="read-only"):
        p.time_s["van"][0, 1] = 0
    # Sent to another process (parallel seeds), it is checked and read-only there too.
    again = pickle.loads(pickle.dumps(p))
    assert not again.service_s.flags.writeable and not again.time_s["van"].flags.writeable
    assert int(again.service_s[1]) == 60


# --------------------------------------------------------------------------------------------
# Seeded random instances


def random_problem(seed: int, n: int = 20) -> RoutingProblem:
    """Mixed fleet, multi-trip, windows (some split), pickups, priorities, a few dead ends."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform(-2000, 2000, size=(n + 1, 2))
    pts[0] = 0
    base = np.rint(np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1)))
    dist = base.astype(np.int64)
    slow = (dist // 3).astype(np.int64)  # a tricycle at ~11 km/h
    fast = (dist // 5).astype(np.int64)  # a van at ~18 km/h
    for node in rng.choice(np.arange(1, n + 1), size=2, replace=False):
        slow[node, 0] = UNREACHABLE  # not reachable on the tricycle's network
    windows: list[tuple[tuple[int, int], ...]] = [()]
    for _ in range(n):
        kind = rng.integers(0, 3)
        if kind == 0:
            windows.append(())
        elif kind == 1:
            a = int(rng.integers(28_800, 40_000))
            windows.append(((a, a + 3600),))
        else:
            a = int(rng.integers(28_800, 34_000))
            windows.append(((a, a + 1800), (a + 7200, a + 9000)))
    delivery = np.zeros((n + 1, 3), dtype=np.int64)
    delivery[1:, 0] = rng.integers(0, 4, size=n)
    delivery[1:, 1] = delivery[1:, 0] * rng.integers(200, 5000, size=n)
    delivery[1:, 2] = delivery[1:, 0] * rng.integers(500, 20_000, size=n)
    pickup = np.zeros((n + 1, 3), dtype=np.int64)
    has_pick = rng.random(n) < 0.3
    pickup[1:, 0] = np.where(has_pick, rng.integers(1, 3, size=n), 0)
    pickup[1:, 1] = pickup[1:, 0] * 1000
    pickup[1:, 2] = pickup[1:, 0] * 8000
    priority = np.zeros(n + 1, dtype=bool)
    priority[1:] = rng.random(n) < 0.1
    service = np.zeros(n + 1, dtype=np.int64)
    service[1:] = rng.integers(30, 300, size=n)
    vehicles = (
        Vehicle("t1", "tricycle", (8, 30_000, 120_000), 28_800, 43_200, max_trips=3),
        Vehicle("t2", "tricycle", (6, 25_000, 100_000), 30_600, 45_000, max_trips=2),
        Vehicle("v1", "van", (15, 60_000, 400_000), 28_800, 39_600, max_trips=1, fixed_cost=3600),
    )
    return RoutingProblem(
        stop_ids=tuple(f"s{i}" for i in range(1, n + 1)),
        service_s=service,
        windows_s=tuple(windows),
        delivery=delivery,
        pickup=pickup,
        priority=priority,
        vehicles=vehicles,
        time_s={"tricycle": slow, "van": fast},
        distance_m={"tricycle": dist, "van": dist.copy()},
        reload_s=600,
    )


@pytest.mark.parametrize("seed", range(8))
def test_random_instances_feasible(seed: int) -> None:
    p = random_problem(seed, n=15 + 4 * seed)  # up to 43 stops: some dropped
    r = solve(p, time_limit_s=1, solution_limit=60)
    assert_ok(p, r)
    served = [node for t in r.trips for node in t.nodes]
    dropped = [d.node for d in r.drops]
    assert sorted(served + dropped) == list(range(1, p.n_stops + 1))


@pytest.mark.parametrize("seed", range(3))
def test_random_instances_distance_objective_and_seeds(seed: int) -> None:
    p = dataclasses.replace(random_problem(100 + seed), objective="distance")
    r = solve(p, time_limit_s=1, seed=seed + 1, solution_limit=40)
    assert_ok(p, r)


def test_deterministic_with_solution_limit() -> None:
    p = random_problem(7, n=30)
    a = solve(p, time_limit_s=10, seed=3, solution_limit=15)
    b = solve(p, time_limit_s=10, seed=3, solution_limit=15)
    assert a.trips == b.trips
    assert a.drops == b.drops
    assert a.objective == b.objective


@pytest.mark.parametrize("solver", ["ortools", "pyvrp"])
def test_a_work_bound_gives_the_same_result_and_says_when_the_clock_cut_it(solver: str) -> None:
    p = random_problem(8, n=40)
    a, b = (solve(p, time_limit_s=20, seed=2, iterations=400, solver=solver) for _ in range(2))
    assert (a.trips, a.drops, a.objective, a.cut) == (b.trips, b.drops, b.objective, False)
    # Far more work than a second allows: the time limit still ends it, and says so.
    t0 = time.perf_counter()
    cut = solve(p, time_limit_s=1, seed=2, iterations=10**9, solver=solver)
    assert time.perf_counter() - t0 < 1.5
    assert cut.cut
    assert_ok(p, cut)
    # A search bounded by the clock alone is not "cut" by it: the clock is its bound.
    assert not solve(p, time_limit_s=0.5, seed=2, solver=solver).cut


def test_workers_run_seeded_searches_in_processes_and_keep_the_best() -> None:
    p = random_problem(11)
    r = solve(p, time_limit_s=3, solution_limit=30, workers=2)
    assert_ok(p, r)
    # The best of seeds 0 and 1, each deterministic under the solution limit.
    one = [solve(p, time_limit_s=3, solution_limit=30, seed=k) for k in (0, 1)]
    assert r.objective == min(x.objective for x in one)


@pytest.mark.parametrize("solver", ["ortools", "pyvrp"])
def test_time_limit_is_a_promise(solver: str) -> None:
    rng = np.random.default_rng(0)
    n = 200
    pts = rng.uniform(0, 5000, size=(n + 1, 2)).tolist()
    windows = {i: ((int(a), int(a) + 7200),) for i, a in enumerate(
        rng.integers(28_800, 50_000, size=n + 1)) if i}
    vehicles = tuple(
        Vehicle(f"c{k}", "van", (30, 10**9, 10**9), 28_800, 64_800, max_trips=2)
        for k in range(10)
    )
    p = euclid_problem(pts, vehicles, windows=windows)
    t0 = time.perf_counter()
    r = solve(p, time_limit_s=2, solver=solver)
    elapsed = time.perf_counter() - t0
    assert elapsed < 2.3, elapsed
    assert_ok(p, r)


# --------------------------------------------------------------------------------------------
# Lunch break


def with_lunch(p: RoutingProblem, window: tuple[int, int] = (41_400, 48_600),
               minutes: int = 30) -> RoutingProblem:
    """Give every courier whose shift holds it a lunch break (default 11:30-13:30, 30 min)."""
    vehicles = tuple(
        dataclasses.replace(v, break_s=minutes * 60, break_window_s=window)
        if v.shift_start_s <= window[0] and window[1] + minutes * 60 <= v.shift_end_s else v
        for v in p.vehicles
    )
    return dataclasses.replace(p, vehicles=vehicles)


def test_lunch_break_is_taken_between_visits_in_its_window() -> None:
    # One stop an hour's drive away, open at 12:00 sharp; lunch (30 min starting 11:30-12:30)
    # has to go on the way there (leave by 10:30) or on the way back, never in the visit.
    vehicles = (van(shift_start_s=36_000, shift_end_s=54_000),)
    p = euclid_problem([(0, 0), (3600, 0)], vehicles, windows={1: ((43_200, 43_200),)},
                       drop_penalty=100_000)
    p = with_lunch(p, window=(41_400, 45_000))
    r = solve(p, time_limit_s=2, solution_limit=50)
    assert_ok(p, r)
    assert len(r.breaks) == 1
    brk = r.breaks[0]
    assert 41_400 <= brk.start_s <= 45_000
    visit = r.trips[0].start_s[0]
    assert visit == 43_200
    # Not during the visit (60 s of service from 12:00).
    assert brk.start_s + brk.duration_s <= visit or brk.start_s >= visit + 60


def test_lunch_break_on_random_instances_is_checked_independently() -> None:
    for seed in range(4):
        p = with_lunch(random_problem(200 + seed, n=25), window=(36_000, 39_600), minutes=20)
        assert any(v.break_s for v in p.vehicles)
        r = solve(p, time_limit_s=2, solution_limit=60)
        assert_ok(p, r)
        used = {t.vehicle for t in r.trips}
        assert {b.vehicle for b in r.breaks} == {v for v in used if p.vehicles[v].break_s}


def plain_result(p: RoutingProblem, trips: list[tuple[int, int, list[int]]]) -> RoutingResult:
    """A result routed without breaks: (vehicle, departure, stops) per trip, earliest times."""
    routed = tuple(schedule_trips(p, trips))
    served = {node for t in routed for node in t.nodes}
    drops = tuple(Drop(n, "dropped") for n in range(1, p.n_stops + 1) if n not in served)
    return RoutingResult(trips=routed, drops=drops, objective=0, solve_s=0.0, status="test")


def test_lunch_moves_the_morning_earlier_when_it_fits_nowhere_else() -> None:
    # Stop 1 (open 9:00-12:00) 50 min out, then twelve stops 10 min apart, each open at one
    # moment from 12:10 to 14:00. Routed from 11:00, the trip leaves at 11:10 (the latest
    # that keeps its return: stop 1 at noon); then 30 min of lunch (start 11:00-13:30) fits
    # nowhere; leaving by 10:40 it fits before 12:10. The day is paid from the shift start,
    # so the trip leaves then (08:00): it ends as early, and stop 1 is served at 09:00.
    pts = [(0, 0), (3000, 0), *((3000 + 600 * k, 0) for k in range(1, 13))]
    windows = {1: ((32_400, 43_200),)}
    windows |= {k: ((43_800 + 600 * (k - 2),) * 2,) for k in range(2, 14)}
    vehicles = (van(shift_start_s=28_800, shift_end_s=72_000),)
    p = with_lunch(euclid_problem(pts, vehicles, service_s=0, windows=windows),
                   window=(39_600, 48_600))
    plain = plain_result(p, [(0, 39_600, list(range(1, 14)))])
    assert plain.trips[0].depart_s == 40_200 and not plain.drops
    r = place_breaks(p, plain)
    assert_ok(p, r)
    assert not r.drops
    assert r.trips[0].nodes == plain.trips[0].nodes
    assert r.trips[0].depart_s == 28_800  # the shift start
    assert r.trips[0].return_s == plain.trips[0].return_s
    assert 39_600 <= r.breaks[0].start_s <= 43_800 - 1800


def test_lunch_leaves_out_the_fewest_stops_when_the_windows_leave_no_gap() -> None:
    # 25 stops in one compound, each open at one moment every 10 min from 10:00 to 14:00:
    # 30 min of lunch costs three of them, and they are dropped with a reason.
    pts = [(0, 0), *((3000, 0),) * 25]
    windows = {k: ((36_000 + 600 * (k - 1),) * 2,) for k in range(1, 26)}
    vehicles = (van(shift_start_s=28_800, shift_end_s=72_000),)
    p = with_lunch(euclid_problem(pts, vehicles, windows=windows), window=(39_600, 48_600))
    r = place_breaks(p, plain_result(p, [(0, 33_000, list(range(1, 26)))]))
    assert_ok(p, r)
    assert [d.reason_code for d in r.drops] == ["dropped"] * 3
    assert len(r.trips[0].nodes) == 22 and len(r.breaks) == 1


def test_evaluator_flags_a_break_in_the_middle_of_a_visit() -> None:
    p = with_lunch(euclid_problem([(0, 0), (100, 0)], (van(shift_start_s=40_000),)),
                   window=(41_000, 42_000))
    r = solve(p, time_limit_s=1, solution_limit=20)
    assert_ok(p, r)
    t = r.trips[0]
    moved = Break(0, t.start_s[0], 1800) if 41_000 <= t.start_s[0] <= 42_000 else None
    if moved is None:  # put the visit inside the window to overlap it
        shift = 41_000 - t.start_s[0]
        t = dataclasses.replace(
            t, depart_s=t.depart_s + shift, return_s=t.return_s + shift,
            arrival_s=tuple(a + shift for a in t.arrival_s),
            start_s=tuple(a + shift for a in t.start_s),
            departure_s=tuple(a + shift for a in t.departure_s))
        moved = Break(0, 41_000, 1800)
    msgs = check_feasible(p, dataclasses.replace(r, trips=(t,), breaks=(moved,)))
    assert any("overlaps a visit" in m for m in msgs), msgs
    assert any("no lunch break" in m for m in check_feasible(
        p, dataclasses.replace(r, breaks=())))


def test_break_outside_the_shift_is_a_bad_problem() -> None:
    p = euclid_problem([(0, 0), (100, 0)], (van(shift_end_s=40_000),))
    p = with_lunch(p)
    assert not any(v.break_s for v in p.vehicles)
    with pytest.raises(ValueError, match="break must fit in the shift"):
        dataclasses.replace(p, vehicles=(dataclasses.replace(
            p.vehicles[0], break_s=1800, break_window_s=(41_400, 48_600)),))


# --------------------------------------------------------------------------------------------
# The PyVRP backend: same problem, same evaluator


@pytest.mark.parametrize("seed", range(4))
def test_pyvrp_backend_random_instances_feasible(seed: int) -> None:
    p = random_problem(300 + seed, n=20 + 5 * seed)
    r = solve(p, time_limit_s=1, seed=seed, solver="pyvrp")
    assert_ok(p, r)
    served = [node for t in r.trips for node in t.nodes]
    assert sorted(served + [d.node for d in r.drops]) == list(range(1, p.n_stops + 1))
    # The same reasons as OR-Tools for the stops nobody can serve.
    ort = solve(p, time_limit_s=1, solution_limit=40)
    pre = {d.node: d.reason_code for d in ort.drops if d.reason_code != "dropped"}
    assert {d.node: d.reason_code for d in r.drops if d.reason_code != "dropped"} == pre


def test_pyvrp_backend_several_windows_and_multi_trip() -> None:
    # 6 stops of 3 parcels, 6 on board: two reloads needed; one stop opens twice.
    pts = [(0, 0), (500, 0), (600, 100), (0, 700), (100, 800), (-600, 0), (-700, 100)]
    vehicles = (van(capacity=(6, 10**9, 10**9), max_trips=3),)
    windows = {3: ((1_000, 1_200), (20_000, 21_000))}
    p = euclid_problem(pts, vehicles, delivery=dict.fromkeys(range(1, 7), (3, 1000, 0)),
                       windows=windows)
    r = solve(p, time_limit_s=1, solver="pyvrp", solution_limit=20)
    assert_ok(p, r)
    assert not r.drops
    assert len(r.trips) == 3


def test_pyvrp_backend_with_lunch_breaks_placed_after_routing() -> None:
    for seed in range(4):
        p = with_lunch(random_problem(300 + seed, n=25), window=(36_000, 39_600), minutes=20)
        r = solve(p, time_limit_s=1, solver="pyvrp", seed=seed)
        assert_ok(p, r)
        used = {t.vehicle for t in r.trips}
        assert {b.vehicle for b in r.breaks} == {v for v in used if p.vehicles[v].break_s}
    with pytest.raises(ValueError, match="solver must be one of"):
        solve(p, time_limit_s=1, solver="vroom")


def test_pyvrp_backend_deterministic_with_solution_limit() -> None:
    p = random_problem(5, n=30)
    a = solve(p, time_limit_s=20, seed=2, solution_limit=5, solver="pyvrp")
    b = solve(p, time_limit_s=20, seed=2, solution_limit=5, solver="pyvrp")
    assert a.trips == b.trips and a.drops == b.drops and a.objective == b.objective


def test_pyvrp_objective_counts_each_dropped_stop_once() -> None:
    # Every stop has two windows (two PyVRP clients in a group): the objective must not count
    # the window not taken as a dropped stop.
    pts = [(0, 0), (100, 0), (0, 100)]
    windows = {1: ((0, 50_000), (60_000, 70_000)), 2: ((0, 50_000), (60_000, 70_000))}
    p = euclid_problem(pts, (van(),), windows=windows, drop_penalty=1_000_000)
    r = solve(p, time_limit_s=1, solver="pyvrp", solution_limit=10)
    assert_ok(p, r)
    assert not r.drops
    assert r.objective < 1_000_000


def test_reason_no_solution_when_the_time_runs_out_before_a_first_solution() -> None:
    # 300 stops with windows and chained trips: no construction finishes in 10 ms. Every stop
    # must still come back, with the code that says "more time" rather than "more couriers".
    rng = np.random.default_rng(1)
    n = 300
    pts = rng.uniform(0, 2000, size=(n + 1, 2)).tolist()
    windows = {i: ((int(a), int(a) + 3600),) for i, a in enumerate(
        rng.integers(28_800, 50_000, size=n + 1)) if i}
    vehicles = tuple(Vehicle(f"c{k}", "van", (30, 10**9, 10**9), 28_800, 64_800, max_trips=3)
                     for k in range(10))
    p = euclid_problem(pts, vehicles, windows=windows)
    r = solve(p, time_limit_s=0.01)
    assert r.trips == ()
    assert set(reasons(r)) == set(range(1, n + 1))
    assert set(reasons(r).values()) == {"no_solution"}
    assert "no_solution" in REASONS
    assert_ok(p, r)


# --------------------------------------------------------------------------------------------
# The station's day: leave at the shift start, wait at the station rather than at a door


@pytest.mark.parametrize("solver", ["ortools", "pyvrp"])
def test_the_day_starts_at_the_shift_start_not_hours_later(solver: str) -> None:
    # Five stops near the depot that can be served from 08:00, and one with a window at
    # 16:00-17:00. Charged from its first departure, a courier could shorten its "day" by
    # starting the five at 15:00; a paid day runs from the shift start, so the five go early
    # and the window stop goes in a trip of its own, with the wait at the station.
    pts = [(0, 0), (100, 0), (200, 0), (300, 0), (300, 100), (200, 100), (0, 500)]
    p = euclid_problem(pts, (van(shift_start_s=8 * 3600, shift_end_s=20 * 3600, max_trips=2),),
                       windows={6: ((16 * 3600, 17 * 3600),)})
    r = solve(p, time_limit_s=2, seed=0, solution_limit=50, solver=solver)
    assert_ok(p, r)
    assert not r.drops
    early = [t for t in r.trips if 6 not in t.nodes]
    # PyVRP loads every trip at the station, the first too (reload_s after the shift start).
    assert early and early[0].depart_s <= 8 * 3600 + p.reload_s, early
    late = next(t for t in r.trips if 6 in t.nodes)
    assert late.nodes == (6,) and late.start_s[0] == 16 * 3600
    assert all(s - a == 0 for t in r.trips for a, s in zip(t.arrival_s, t.start_s, strict=True))


def test_a_trip_leaves_late_rather_than_wait_at_a_door() -> None:
    # One trip; its second visit has a window at 09:00. Leaving at 08:00 would mean 50 min at
    # that door; the trip leaves later instead and comes back at the same time.
    pts = [(0, 0), (100, 0), (200, 0), (300, 0)]
    p = euclid_problem(pts, (van(shift_start_s=8 * 3600, shift_end_s=20 * 3600),),
                       windows={2: ((9 * 3600, 12 * 3600),)})
    (trip,) = schedule_trips(p, [(0, 8 * 3600, [1, 2, 3])])
    assert trip.start_s[1] == 9 * 3600
    assert [s - a for a, s in zip(trip.arrival_s, trip.start_s, strict=True)] == [0, 0, 0]
    assert trip.depart_s == 9 * 3600 - 200 - 60  # 100 m at 1 m/s, 60 s at the first door
    assert trip.return_s == 9 * 3600 + 60 + 100 + 60 + 300


def test_a_long_wait_between_two_pinned_visits_becomes_a_return_to_the_station() -> None:
    # A morning window at 09:00 and an afternoon one at 14:00 in one trip: 5 h at a door.
    # With a trip left the courier goes back and comes out again; the visits keep their times.
    pts = [(0, 0), (100, 0), (200, 0)]
    windows = {1: ((9 * 3600, 10 * 3600),), 2: ((14 * 3600, 15 * 3600),)}
    two = euclid_problem(pts, (van(shift_start_s=8 * 3600, shift_end_s=20 * 3600, max_trips=2),),
                         windows=windows)
    trips = schedule_trips(two, [(0, 8 * 3600, [1, 2])])
    assert [t.nodes for t in trips] == [(1,), (2,)]
    assert [t.start_s[0] for t in trips] == [9 * 3600, 14 * 3600]
    assert trips[1].depart_s == 14 * 3600 - 200 and trips[0].return_s == 9 * 3600 + 60 + 100
    # Without a trip left, the trip only leaves as late as the morning window allows.
    one = dataclasses.replace(two, vehicles=(dataclasses.replace(two.vehicles[0], max_trips=1),))
    (same,) = schedule_trips(one, [(0, 8 * 3600, [1, 2])])
    assert same.nodes == (1, 2) and same.start_s == (10 * 3600, 14 * 3600)
