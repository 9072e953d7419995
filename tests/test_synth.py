"""Synthetic peak days: reproducible by seed, on the streets, shaped like real demand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import DATA
from typer.testing import CliRunner

from courier.cli import app
from courier.config import PROFILES
from courier.io import read_table
from courier.parcels import validate_parcels
from courier.streets import load_graph, snap_points
from courier.synth import SynthConfig, synth_couriers, synth_lockers, synth_parcels


@pytest.fixture(scope="module")
def futian():
    """The demo's streets: Futian, Shenzhen."""
    from courier.app import demo_streets

    return load_graph(demo_streets(), profile=PROFILES["etricycle"])


def test_same_seed_same_day_other_seed_other_day(futian) -> None:
    a = synth_parcels(futian, parcels=2000, seed=4)
    b = synth_parcels(futian, parcels=2000, seed=4)
    c = synth_parcels(futian, parcels=2000, seed=5)
    assert a.equals(b)
    assert not a[["lon", "lat"]].equals(c[["lon", "lat"]])


def test_parcels_are_valid_near_streets_and_heavy_tailed(futian) -> None:
    table = synth_parcels(futian, parcels=3000, seed=1).astype(str)
    table.insert(0, "__row__", range(2, len(table) + 2))
    parcels, rejects = validate_parcels(table, file="synth")
    assert not rejects and len(parcels) == 3000
    snaps = snap_points(futian, [p.lon for p in parcels], [p.lat for p in parcels])
    assert max(s.distance_m for s in snaps) < 60  # doors stand 5-40 m back from a street
    per_address = table.groupby("address").size().to_numpy()
    # Heavy-tailed: a few big addresses (compounds, offices) and many with one or two parcels.
    assert per_address.max() >= 10 * np.median(per_address)
    shares = {k: (table[k] != "").mean() for k in ("window_start",)}
    assert 0.08 < shares["window_start"] < 0.16
    assert 0.02 < (table["kind"] == "pickup").mean() < 0.08
    assert 0.3 < (table["locker_ok"] == "1").mean() < 0.5


def test_roster_and_lockers_scale_with_the_day(futian) -> None:
    config = SynthConfig()
    assert len(synth_couriers(parcels=3000, config=config)) == 20
    assert len(synth_couriers(parcels=3000, config=config, couriers=7)) == 7
    lockers = synth_lockers(futian, parcels=900, seed=1)
    assert len(lockers) == 6 and lockers["locker_id"].is_unique


def test_synth_command_with_a_peak_factor(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["synth", "--streets", str(DATA / "tiny_town.osm"),
                                      "--peak-factor", "0.01", "--seed", "2", "--out",
                                      str(tmp_path), "--no-cache"])
    assert result.exit_code == 0, result.output
    table = read_table(tmp_path / "parcels.csv")
    assert len(table) == round(SynthConfig().normal_day_parcels * 0.01)
    assert (tmp_path / "couriers.csv").exists() and (tmp_path / "station.txt").exists()


def test_geojson_and_geoparquet_parcels_read_like_csv(tmp_path: Path) -> None:
    import geopandas as gpd

    csv_table = read_table(DATA / "parcels_tiny.csv")
    frame = gpd.GeoDataFrame(csv_table.drop(columns=["__row__", "lon", "lat"]),
                             geometry=gpd.points_from_xy(csv_table["lon"].astype(float),
                                                         csv_table["lat"].astype(float)),
                             crs=4326)
    frame.to_file(tmp_path / "p.geojson", driver="GeoJSON")
    frame.to_parquet(tmp_path / "p.parquet")
    expected, _ = validate_parcels(csv_table, file="csv")
    for name in ("p.geojson", "p.parquet"):
        got, rejects = validate_parcels(read_table(tmp_path / name), file=name)
        assert not rejects
        assert [(p.parcel_id, round(p.lon, 6), round(p.lat, 6), p.address, p.windows_s) for p in got] == \
            [(p.parcel_id, round(p.lon, 6), round(p.lat, 6), p.address, p.windows_s) for p in expected]
