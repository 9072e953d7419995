"""The application layer: inputs in every form, the demo, and the files a plan writes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import DATA

from courier import app
from courier.config import PROFILES, PlanConfig
from courier.errors import InputError
from courier.streets import load_graph

TOWN = DATA / "tiny_town.osm"
QUICK = PlanConfig(time_limit_s=10, solution_limit=50, workers=1)


def test_inputs_from_files_record_where_they_came_from() -> None:
    inputs = app.read_inputs(streets=TOWN, parcels=DATA / "parcels_tiny.csv",
                             couriers=DATA / "couriers_tiny.csv", station="114.0,22.5")
    assert inputs.day.station_lonlat == (114.0, 22.5)
    assert len(inputs.day.parcels) == 5 and inputs.day.rows == 5
    assert set(inputs.graphs) == {"etricycle"}
    for name in ("streets", "parcels", "couriers"):
        source = inputs.sources[name]
        assert source.kind == "file" and len(source.sha256) == 64
    assert {"read_streets", "read_input"} <= set(inputs.timings_s)


def test_prepared_graphs_and_their_profiles() -> None:
    graph = load_graph(TOWN, profile=PROFILES["etricycle"])
    inputs = app.read_inputs(streets=graph, parcels=DATA / "parcels_tiny.csv",
                             couriers=DATA / "couriers_tiny.csv")
    assert inputs.graphs["etricycle"] is graph
    # Without a station: the street node nearest the network's centre.
    assert graph.node_lon.min() <= inputs.day.station_lonlat[0] <= graph.node_lon.max()
    vans = pd.read_csv(DATA / "couriers_tiny.csv").assign(vehicle="van")
    with pytest.raises(InputError, match="no prepared graph for the roster's vehicle"):
        app.read_inputs(streets={"etricycle": graph}, parcels=DATA / "parcels_tiny.csv",
                        couriers=vans)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"streets": 42}, "streets: expected a street file path or a networkx graph, got int"),
    ({"parcels": [1, 2]}, "parcels: expected a file path or a pandas DataFrame, got list"),
    ({"station": (1, 2, 3)}, "station (1, 2, 3): expected (lon, lat)"),
    ({"districts": 5}, "districts: expected a file path or a GeoDataFrame"),
])
def test_inputs_of_the_wrong_kind_say_what_is_expected(kwargs: dict, message: str) -> None:
    given = {"streets": TOWN, "parcels": DATA / "parcels_tiny.csv",
             "couriers": DATA / "couriers_tiny.csv", **kwargs}
    with pytest.raises(InputError) as err:
        app.read_inputs(**given)
    assert message in str(err.value)


def test_the_demo_is_a_futian_double_11_morning_and_reproducible() -> None:
    a, b = app.demo_inputs(), app.demo_inputs()
    assert a.demo and len(a.day.parcels) == app.DEMO.parcels
    assert len(a.day.couriers) == app.DEMO.couriers
    assert a.day.parcels == b.day.parcels
    assert app.demo_inputs(seed=1).day.parcels != a.day.parcels
    lon, lat = a.day.station_lonlat
    assert 114.006 < lon < 114.064 and 22.542 < lat < 22.575  # Futian's extract
    assert any("号楼" in p.address for p in a.day.parcels)  # Chinese addresses
    assert a.sources["streets"].sha256 == \
        "8a23376b5fd8abed0e4428f0a0fba6a03dd88b12a5e62346558acbf0efc21452"  # data/SOURCE.md


def test_write_puts_every_output_in_the_folder(tmp_path: Path) -> None:
    inputs = app.read_inputs(streets=TOWN, parcels=DATA / "parcels_tiny.csv",
                             couriers=DATA / "couriers_tiny.csv", station=(114.0, 22.5))
    plan = app.run(inputs, QUICK)
    written = {p.relative_to(tmp_path).as_posix() for p in plan.write(tmp_path, tiles="none")}
    assert {"sort_plan.csv", "stops.csv", "unassigned.csv", "rejects.csv", "routes.geojson",
            "districts.geojson", "summary.json", "report.html", "maps/overview.html",
            "maps/courier-C1.html", "sheets/sort-C1.html", "figures/workload.png"} <= written
    assert written == {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")
                       if p.is_file()}
