"""GCJ-02 conversion: the offset is real, the inverse undoes it, and plan input can use it."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
from conftest import DATA
from typer.testing import CliRunner

from courier.cli import app
from courier.coords import gcj02_to_wgs84, wgs84_to_gcj02


def _metres(lon1, lat1, lon2, lat2):
    k = 111_320.0
    return np.hypot((lon1 - lon2) * k * np.cos(np.radians(lat1)), (lat1 - lat2) * k)


def test_round_trip_within_a_millimetre_over_china() -> None:
    rng = np.random.default_rng(0)
    lon = rng.uniform(74, 134, 10_000)
    lat = rng.uniform(18, 53, 10_000)
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    offset = _metres(lon, lat, g_lon, g_lat)
    # The datum shift is a few hundred metres across mainland China (least in the far west).
    assert np.median(offset) > 100 and offset.min() > 5 and offset.max() < 1200
    w_lon, w_lat = gcj02_to_wgs84(g_lon, g_lat)
    assert _metres(lon, lat, w_lon, w_lat).max() < 0.001


def test_known_point_in_shenzhen_and_no_shift_outside_china() -> None:
    # Futian CBD: the GCJ-02 point is about 0.0051 deg east and 0.0027 deg south of WGS-84.
    g_lon, g_lat = wgs84_to_gcj02(114.05, 22.55)
    assert math.isclose(float(g_lon) - 114.05, 0.00510, abs_tol=2e-4)
    assert math.isclose(float(g_lat) - 22.55, -0.00273, abs_tol=2e-4)
    h_lon, h_lat = wgs84_to_gcj02(24.94, 60.17)  # Helsinki
    assert (float(h_lon), float(h_lat)) == (24.94, 60.17)


def test_plan_with_gcj02_input_matches_the_wgs84_plan(tmp_path: Path) -> None:
    with (DATA / "parcels_tiny.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        lon, lat = wgs84_to_gcj02(float(row["lon"]), float(row["lat"]))
        row["lon"], row["lat"] = f"{float(lon):.8f}", f"{float(lat):.8f}"
    shifted = tmp_path / "parcels_gcj02.csv"
    with shifted.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    s_lon, s_lat = wgs84_to_gcj02(114.0, 22.5)
    common = ["--couriers", str(DATA / "couriers_tiny.csv"), "--streets",
              str(DATA / "tiny_town.osm"), "--time-limit", "10", "--solution-limit", "50",
              "--workers", "1", "--no-cache", "-q"]
    runner = CliRunner()
    plain = runner.invoke(app, ["plan", "--parcels", str(DATA / "parcels_tiny.csv"), "--station",
                                "114.0,22.5", "--out", str(tmp_path / "a"), *common])
    assert plain.exit_code == 0, plain.output
    gcj = runner.invoke(app, ["plan", "--parcels", str(shifted), "--coords", "gcj02", "--station",
                              f"{float(s_lon):.8f},{float(s_lat):.8f}", "--out",
                              str(tmp_path / "b"), *common])
    assert gcj.exit_code == 0, gcj.output
    assert (tmp_path / "a" / "sort_plan.csv").read_text() == (tmp_path / "b" / "sort_plan.csv").read_text()
