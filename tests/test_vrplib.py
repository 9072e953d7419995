"""Tests of the VRPLIB / Solomon benchmark: parsers, evaluator, solution files, a tiny run."""

from __future__ import annotations

from pathlib import Path

import pytest

from courier.bench import vrplib
from courier.errors import InputError

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BENCH = DATA / "vrp-bench"
_skip_without_bench = pytest.mark.skipif(
    not BENCH.is_dir(), reason=f"benchmark instances not found at {BENCH} (../shared/data)"
)


def needs_bench(test):  # type: ignore[no-untyped-def]
    """Read ../shared/data: marked ``shared``, skipped with the reason when it is absent."""
    return pytest.mark.shared(_skip_without_bench(test))

TINY_SOLOMON = """\
TINY

VEHICLE
NUMBER     CAPACITY
  3          20

CUSTOMER
CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME

    0      0          0          0          0       1000          0
    1      3          4         10          0        100         10
    2      6          8         10         10        200         10
    3     -3         -4          5        500        600         10
"""

TINY_VRP = """\
NAME : tiny
TYPE : CVRP
DIMENSION : 4
EDGE_WEIGHT_TYPE : EUC_2D
CAPACITY : 10
NODE_COORD_SECTION
1 0 0
2 3 4
3 6 8
4 -3 -4
DEMAND_SECTION
1 0
2 5
3 5
4 6
DEPOT_SECTION
1
-1
EOF
"""


def test_tiny_solomon_parse_solve_and_score(tmp_path: Path) -> None:
    path = tmp_path / "TINY.txt"
    path.write_text(TINY_SOLOMON)
    inst = vrplib.read_instance(path)
    assert (inst.n, inst.capacity, inst.n_vehicles, inst.family) == (3, 20, 3, "solomon")
    assert inst.labels == (0, 1, 2, 3)
    cost, violations = vrplib.evaluate(inst, [[1, 2], [3]])
    assert violations == []
    assert cost == pytest.approx(5 + 5 + 10 + 5 + 5)
    late = vrplib.evaluate(inst, [[3, 1, 2]])[1]
    assert any("late" in v for v in late)
    (res,) = vrplib.run([path], time_limit_s=1, solutions_out=tmp_path / "out")
    assert res.feasible
    assert res.vehicles == 2
    assert res.cost == pytest.approx(30.0)
    routes, cost_back = vrplib.read_solution(tmp_path / "out" / "TINY.sol")
    assert sorted(map(sorted, routes)) == [[1, 2], [3]]
    assert cost_back == pytest.approx(30.0, abs=1e-4)


def test_tiny_vrp_nint_costs(tmp_path: Path) -> None:
    path = tmp_path / "tiny.vrp"
    path.write_text(TINY_VRP)
    inst = vrplib.read_instance(path)
    assert (inst.n, inst.capacity, inst.family) == (3, 10, "cvrp")
    cost, violations = vrplib.evaluate(inst, [[1, 2], [3]])
    assert violations == []
    assert cost == 10 + 10 + 10
    (res,) = vrplib.run([path], time_limit_s=1)
    assert res.feasible and res.cost == 30 and res.bks_cost is None
    assert "cvrp" in vrplib.format_table([res])


def test_unreadable_files_name_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text(TINY_SOLOMON.replace("    2      6", "    2      six"))
    with pytest.raises(InputError, match=r"bad\.txt, row 12"):
        vrplib.read_instance(bad)
    bad_vrp = tmp_path / "bad.vrp"
    bad_vrp.write_text(TINY_VRP.replace("3 6 8", "3 6 x"))
    with pytest.raises(InputError, match=r"bad\.vrp, row 9"):
        vrplib.read_instance(bad_vrp)
    with pytest.raises(InputError, match="missing"):
        vrplib.read_instance(tmp_path / "missing.vrp")


def test_sol_writer_round_trips(tmp_path: Path) -> None:
    routes = [[3, 1, 2], [5, 4]]
    out = tmp_path / "x.sol"
    vrplib.write_solution(out, routes, 1234)
    assert out.read_text() == "Route #1: 3 1 2\nRoute #2: 5 4\nCost 1234\n"
    assert vrplib.read_solution(out) == (routes, 1234.0)


@needs_bench
def test_x_instance_bks_routes_cost_equals_bks() -> None:
    inst = vrplib.read_instance(BENCH / "cvrp" / "X-n101-k25.vrp")
    assert (inst.n, inst.capacity) == (100, 206)
    routes, cost = vrplib.read_solution(BENCH / "cvrp" / "X-n101-k25.sol")
    ours, violations = vrplib.evaluate(inst, routes)
    assert violations == []
    assert ours == cost == 27591


@needs_bench
def test_solomon_parse_and_bks_lookup() -> None:
    inst = vrplib.read_instance(BENCH / "vrptw" / "solomon" / "R101.txt")
    assert (inst.n, inst.capacity, inst.n_vehicles) == (100, 200, 25)
    assert inst.service is not None and inst.service[1] == 10
    assert vrplib._bks(inst) == (1650.80, 19)


@needs_bench
def test_homberger_bks_routes_cost_equals_bks() -> None:
    inst = vrplib.read_instance(BENCH / "vrptw" / "homberger_200" / "c1_2_1.txt")
    assert inst.family == "homberger"
    sol = BENCH / "vrptw" / "homberger_200" / "bks_solutions" / "c1_2_1.20_2704.5678.txt"
    routes, _ = vrplib.read_solution(sol)
    cost, violations = vrplib.evaluate(inst, routes)
    assert violations == []
    assert len(routes) == 20
    assert cost == pytest.approx(2704.5678, abs=5e-5)


@needs_bench
def test_small_run_is_feasible(tmp_path: Path) -> None:
    (res,) = vrplib.run(
        [BENCH / "vrptw" / "solomon" / "C101.txt"], time_limit_s=2, solutions_out=tmp_path
    )
    assert res.feasible
    assert res.bks_cost == pytest.approx(828.94)
    assert res.gap_pct is not None and res.gap_pct < 10
    inst = vrplib.read_instance(BENCH / "vrptw" / "solomon" / "C101.txt")
    routes, cost = vrplib.read_solution(tmp_path / "C101.sol")
    assert vrplib.evaluate(inst, routes) == (pytest.approx(res.cost), [])
    assert cost == pytest.approx(res.cost, abs=1e-4)


@pytest.mark.parametrize("solver", ["ortools", "pyvrp"])
def test_both_solvers_score_the_tiny_instances_the_same_way(tmp_path: Path, solver: str) -> None:
    sol = tmp_path / "TINY.txt"
    sol.write_text(TINY_SOLOMON)
    vrp = tmp_path / "tiny.vrp"
    vrp.write_text(TINY_VRP)
    a, b = vrplib.run([sol, vrp], time_limit_s=1, solver=solver)
    assert a.feasible and a.vehicles == 2 and a.cost == pytest.approx(30.0)
    assert b.feasible and b.cost == 30


@needs_bench
def test_pyvrp_backend_on_r101_is_feasible_and_close() -> None:
    # R101: the instance where OR-Tools' cheapest-arc start finds nothing (see the issue).
    (res,) = vrplib.run([BENCH / "vrptw" / "solomon" / "R101.txt"], time_limit_s=3,
                        solver="pyvrp")
    assert res.feasible
    assert res.gap_pct is not None and res.gap_pct < 3


# One vehicle can serve all three (A, then C, then B: 62) but two are shorter ([A, B] and
# [C]: 42): the vehicles-first and distance-only conventions disagree.
TINY_FLEET = """\
FLEET

VEHICLE
NUMBER     CAPACITY
  3          100

CUSTOMER
CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME

    0      0          0          0          0       1000          0
    1     10          0          1          0         10          0
    2     11          0          1         50         60          0
    3    -10          0          1          0         30          0
"""


@pytest.mark.parametrize(("vehicles_first", "vehicles", "cost"), [(True, 1, 62.0), (False, 2, 42.0)])
def test_vroom_baseline_solves_the_same_problem_in_both_conventions(
    tmp_path: Path, vehicles_first: bool, vehicles: int, cost: float
) -> None:
    path = tmp_path / "FLEET.txt"
    path.write_text(TINY_FLEET)
    ours, vroom = vrplib.run([path], time_limit_s=1, solver="pyvrp", baseline="vroom",
                             vehicles_first=vehicles_first)
    assert (ours.solver, vroom.solver) == ("pyvrp", "vroom")
    for res in (ours, vroom):
        assert res.feasible
        assert (res.vehicles, res.cost) == (vehicles, pytest.approx(cost))
        assert res.solve_s < 1.5
    table = vrplib.format_table([ours, vroom], vehicles_first=vehicles_first)
    assert "pyvrp better than vroom on 0, tied on 1 of 1" in table
    assert "mean cost ratio pyvrp/vroom 1.0000" in table


def test_head_to_head_counts_vehicles_before_distance() -> None:
    def res(solver: str, vehicles: int, cost: float, feasible: bool = True) -> vrplib.VrplibResult:
        return vrplib.VrplibResult("i1", "homberger", 200, cost, vehicles, 100.0, 20, None, 1.0,
                                   feasible, solver)

    fewer_but_longer = [res("pyvrp", 20, 110.0), res("vroom", 21, 100.0)]
    assert "pyvrp better than vroom on 1," in vrplib.format_table(fewer_but_longer)
    assert "pyvrp better than vroom on 0," in vrplib.format_table(fewer_but_longer,
                                                                   vehicles_first=False)
    infeasible = [res("pyvrp", 19, 90.0, feasible=False), res("vroom", 21, 100.0)]
    assert "pyvrp better than vroom on 0, tied on 0 of 1" in vrplib.format_table(infeasible)


def test_bench_cli_refuses_an_unknown_baseline(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from courier.cli import app

    path = tmp_path / "FLEET.txt"
    path.write_text(TINY_FLEET)
    out = CliRunner().invoke(app, ["bench", "vrplib", str(path), "--baseline", "lkh"])
    assert out.exit_code == 2
    assert "--baseline 'lkh': allowed: vroom" in out.output
    with pytest.raises(ValueError, match="allowed: vroom"):
        vrplib.run([path], time_limit_s=1, baseline="lkh")
