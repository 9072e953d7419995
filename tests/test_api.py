"""The public API as a notebook uses it: courier.plan on DataFrames and networkx graphs."""

from __future__ import annotations

import csv
import importlib.metadata
import importlib.resources
import warnings
from pathlib import Path

import networkx as nx
import pandas as pd
import pytest
from conftest import DATA
from typer.testing import CliRunner

import courier
from courier.cli import app

TOWN = DATA / "tiny_town.osm"
QUICK = {"time_limit_s": 10, "solution_limit": 50, "workers": 1, "seed": 0}


def _cli_plan(out: Path) -> None:
    result = CliRunner().invoke(app, [
        "plan", "--streets", str(TOWN), "--parcels", str(DATA / "parcels_tiny.csv"),
        "--couriers", str(DATA / "couriers_tiny.csv"), "--station", "114.0,22.5",
        "--time-limit", "10", "--solution-limit", "50", "--workers", "1", "--no-cache", "-q",
        "--out", str(out)])
    assert result.exit_code == 0, result.output


def test_the_public_api_is_declared() -> None:
    for name in ("plan", "Plan", "PlanConfig", "InputError", "CourierWarning", "load_graph",
                 "from_networkx", "StreetGraph", "synth_parcels", "__version__"):
        assert name in courier.__all__ and name in dir(courier)
        assert getattr(courier, name) is not None
    assert courier.__version__ == importlib.metadata.version("courier")
    assert (importlib.resources.files("courier") / "py.typed").is_file()
    with pytest.raises(AttributeError):
        courier.no_such_name  # noqa: B018


def test_plan_from_dataframes_with_nan_is_the_plan_of_the_files(tmp_path: Path) -> None:
    # pd.read_csv turns the empty cells (windows, notes) into NaN and the ids into numbers
    # where it can: the table must still validate exactly as the file does.
    parcels = pd.read_csv(DATA / "parcels_tiny.csv")
    couriers = pd.read_csv(DATA / "couriers_tiny.csv")
    assert parcels["window_start"].isna().any()
    plan = courier.plan(streets=TOWN, parcels=parcels, couriers=couriers,
                        station=(114.0, 22.5), **QUICK)
    assert isinstance(plan, courier.Plan)
    assert plan.summary["parcels"] == {"input": 5, "planned": 5, "unassigned": 0,
                                       "rejected": 0, "adds_up": True}
    _cli_plan(tmp_path / "cli")
    plan.write(tmp_path / "api")
    for name in ("sort_plan.csv", "stops.csv", "unassigned.csv", "rejects.csv"):
        assert (tmp_path / "api" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes()
    assert plan.summary["inputs"]["parcels"] == {"kind": "table", "name": "parcels DataFrame",
                                                 "rows": 5}


def test_to_frames_gives_every_table_and_the_routes_as_geometry() -> None:
    plan = courier.plan(streets=TOWN, parcels=DATA / "parcels_tiny.csv",
                        couriers=DATA / "couriers_tiny.csv", station="114.0,22.5", **QUICK)
    frames = plan.to_frames()
    assert set(frames) == {"sort_plan", "stops", "unassigned", "rejects", "routes", "districts"}
    assert len(frames["sort_plan"]) == plan.summary["parcels"]["planned"]
    assert list(frames["sort_plan"].columns)[:4] == ["parcel_id", "courier_id", "courier_name", "trip"]
    routes = frames["routes"]
    assert routes.crs.to_epsg() == 4326
    assert set(routes.geom_type) == {"LineString"}
    assert routes["distance_m"].sum() == plan.summary["totals"]["distance_m"]
    assert len(frames["districts"]) == 1  # one courier, one automatic district


def test_plan_on_an_osmnx_graph() -> None:
    ox = pytest.importorskip("osmnx")
    graph = ox.graph_from_xml(TOWN, simplify=True)
    assert isinstance(graph, nx.MultiDiGraph)
    plan = courier.plan(streets=graph, parcels=pd.read_csv(DATA / "parcels_tiny.csv"),
                        couriers=pd.read_csv(DATA / "couriers_tiny.csv"), station=(114.0, 22.5),
                        **QUICK)
    assert plan.summary["parcels"]["planned"] == 5
    assert plan.summary["inputs"]["streets"]["kind"] == "graph"
    # The prepared graph goes back to networkx with lengths and this profile's travel times.
    routed = plan.graph.to_networkx()
    assert routed.number_of_edges() == plan.graph.n_edges
    _, _, data = next(iter(routed.edges(data=True)))
    assert data["length"] > 0 and data["travel_time"] > 0


def test_bad_input_raises_input_error_with_the_problems_the_cli_prints(tmp_path: Path) -> None:
    couriers = pd.read_csv(DATA / "couriers_bad.csv")
    with pytest.raises(courier.InputError) as err:
        courier.plan(streets=TOWN, parcels=DATA / "parcels_tiny.csv", couriers=couriers, **QUICK)
    fields = {p.field for p in err.value.problems}
    assert "vehicle" in fields
    assert all(p.row is not None and p.row >= 2 for p in err.value.problems)
    cli = CliRunner().invoke(app, [
        "plan", "--streets", str(TOWN), "--parcels", str(DATA / "parcels_tiny.csv"),
        "--couriers", str(DATA / "couriers_bad.csv"), "--out", str(tmp_path), "--no-cache"])
    assert cli.exit_code == 2
    for problem in err.value.problems:
        # Same problems, same words; only the file is named differently (a DataFrame here).
        assert f"field {problem.field!r}: got {problem.value!r}; {problem.allowed}" in cli.output


@pytest.mark.parametrize(("options", "message"), [
    ({"time_limit_s": -1}, "time_limit_s must be > 0"),
    ({"solver": "vroom"}, "solver must be one of ortools, pyvrp"),
    ({"time_limt_s": 5}, "unknown option(s) time_limt_s; allowed:"),
    ({"lunch": {"from": "noon"}}, "lunch.from 'noon'"),
])
def test_options_are_checked_as_the_cli_checks_them(options: dict, message: str) -> None:
    with pytest.raises(courier.InputError, match=None) as err:
        courier.plan(streets=TOWN, parcels=DATA / "parcels_tiny.csv",
                     couriers=DATA / "couriers_tiny.csv", **options)
    assert message in str(err.value)


def test_warnings_reach_the_summary_and_python_warnings(tmp_path: Path) -> None:
    lockers = pd.DataFrame({"locker_id": ["FAR"], "lon": [114.05], "lat": [22.55]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plan = courier.plan(streets=TOWN, parcels=DATA / "parcels_tiny.csv",
                            couriers=DATA / "couriers_tiny.csv", lockers=lockers,
                            station=(114.0, 22.5), **QUICK)
    assert any("locker" in w and "FAR" in w for w in plan.summary["warnings"])
    assert [w for w in caught if issubclass(w.category, courier.CourierWarning)]
    cli = CliRunner().invoke(app, [
        "plan", "--streets", str(TOWN), "--parcels", str(DATA / "parcels_tiny.csv"),
        "--couriers", str(DATA / "couriers_tiny.csv"), "--station", "114.0,22.5",
        "--lockers", str(_csv(tmp_path / "lockers.csv", lockers)), "--time-limit", "5",
        "--workers", "1", "--no-cache", "--tiles", "none", "--out", str(tmp_path / "out")],
        env={"COLUMNS": "300"})
    assert cli.exit_code == 0, cli.output
    assert "warning:" in cli.output and "FAR" in cli.output


def _csv(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False, quoting=csv.QUOTE_MINIMAL)
    return path


def test_a_plan_can_be_made_again_from_its_own_summary(tmp_path: Path) -> None:
    first = courier.plan(streets=TOWN, parcels=DATA / "parcels_tiny.csv",
                         couriers=DATA / "couriers_tiny.csv", station=(114.0, 22.5),
                         lunch={"from": "08:05", "to": "08:15", "minutes": 30}, **QUICK)
    recorded = first.summary["config"]
    assert recorded["solver"] == "pyvrp" and recorded["time_limit_s"] == 10
    assert recorded["strategy"] == "auto" and first.summary["strategy"] == "joint"
    assert recorded["solution_limit"] == 50 and recorded["lunch"]["from"] == "08:05"
    inputs = first.summary["inputs"]
    assert inputs["streets"]["sha256"] and inputs["parcels"]["sha256"]
    assert {"courier", "ortools", "pyvrp", "python"} <= set(first.summary["versions"])
    again = courier.plan(streets=inputs["streets"]["name"], parcels=inputs["parcels"]["name"],
                         couriers=inputs["couriers"]["name"], station=(114.0, 22.5),
                         config=courier.PlanConfig.from_mapping(recorded))
    assert again.config == first.config
    assert again.result.sort_lines == first.result.sort_lines
    assert again.result.trips == first.result.trips


def test_previous_plan_keeps_couriers_in_their_areas() -> None:
    day1 = courier.plan(streets=TOWN, parcels=DATA / "parcels_tiny.csv",
                        couriers=DATA / "couriers_tiny.csv", station=(114.0, 22.5), **QUICK)
    day2 = courier.plan(streets=TOWN, parcels=DATA / "parcels_tiny.csv",
                        couriers=DATA / "couriers_tiny.csv", station=(114.0, 22.5),
                        previous=day1, **QUICK)
    assert day2.summary["districts"]["stability"] == 1.0
    assert day2.summary["inputs"]["previous"]["kind"] == "table"


def test_the_readme_lists_the_public_api() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    missing = [name for name in courier.__all__ if f"`{name}`" not in readme]
    assert not missing, f"README does not list {missing}"
