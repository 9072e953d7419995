"""Readers and writers: tables as text cells with row numbers, and plan files byte for byte."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from conftest import DATA
from shapely.geometry import LineString, Point

from courier import io
from courier.errors import InputError
from courier.model import Courier, DayPlan, Parcel, Reject, SortLine, Station, Unassigned


def test_dataframe_cells_become_text_as_a_csv_reader_gives_them() -> None:
    frame = pd.DataFrame({
        "parcel_id": [101, 102, None],
        "lon": [114.0005, 114.1, math.nan],
        "priority": [1.0, math.nan, 0.0],  # pandas' float column of a gappy integer column
        "phone": [13812345678.0, math.nan, 13900001111.0],
        "notes": ["a", None, pd.NA],
    })
    table = io.as_table(frame)
    assert table["__row__"].tolist() == [2, 3, 4]
    assert table["parcel_id"].tolist() == ["101", "102", ""]
    assert table["lon"].tolist() == ["114.0005", "114.1", ""]
    assert table["priority"].tolist() == ["1", "", "0"]
    assert table["phone"].tolist() == ["13812345678", "", "13900001111"]
    assert table["notes"].tolist() == ["a", "", ""]


def test_geodataframe_points_become_lon_lat_in_wgs84() -> None:
    frame = gpd.GeoDataFrame({"parcel_id": ["A", "B"]},
                             geometry=[Point(114.0, 22.5), LineString([(0, 0), (1, 1)])], crs=4326)
    table = io.as_table(frame.to_crs(32650))
    assert table["parcel_id"].tolist() == ["A", "B"]
    assert float(table["lon"][0]) == pytest.approx(114.0, abs=1e-9)
    assert float(table["lat"][0]) == pytest.approx(22.5, abs=1e-9)
    assert table["lon"][1] == "" and table["lat"][1] == ""  # not a point: rejected later


def test_csv_in_utf8_with_bom_and_in_gbk_read_the_same(tmp_path: Path) -> None:
    text = "parcel_id,lon,lat,address\nP1,114.0,22.5,深圳市福田区\n"
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(text.encode("gbk"))
    a, b = io.read_table(bom), io.read_table(gbk)
    assert list(a.columns) == ["__row__", "parcel_id", "lon", "lat", "address"]
    assert a.equals(b)
    assert a["address"][0] == "深圳市福田区"


def test_unknown_type_and_missing_file_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        io.read_table(tmp_path / "nope.csv")
    odd = tmp_path / "parcels.docx"
    odd.write_bytes(b"PK")
    with pytest.raises(InputError, match=r"unknown file type '\.docx'; allowed: \.csv"):
        io.read_table(odd)


def test_plan_tables_are_written_byte_for_byte(tmp_path: Path) -> None:
    courier = Courier("C1", "e-tricycle", 100, 200.0, 800.0, 28800, 72000, name="王芳")
    plan = DayPlan(
        station=Station(114.0, 22.5), couriers=(courier,),
        parcels=(Parcel("P1", 2, 114.0, 22.5, address="福田路1号"),
                 Parcel("P2", 3, 114.0, 22.5, ready_s=37800)),
        stops=(), trips=(), unassigned=(), rejects=(),
        sort_lines=(SortLine("P1", "C1", 1, 1, 2, "S00001", 1, chute=3),
                    SortLine("P2", "C1", 1, 1, 1, "S00002", 2, chute=3)))
    header, rows = io.sort_plan_table(plan)
    io.write_csv(tmp_path / "a.csv", header, rows)
    assert (tmp_path / "a.csv").read_bytes() == (
        b"parcel_id,courier_id,courier_name,trip,chute,bag,load_position,stop_id,seq,address,"
        b"ready_at\n"
        + "P1,C1,王芳,1,3,1,2,S00001,1,福田路1号,\nP2,C1,王芳,1,3,1,1,S00002,2,,10:30\n".encode())
    # With a BOM, as Excel on a Chinese Windows needs; our reader reads the same table.
    io.write_csv(tmp_path / "b.csv", header, rows, bom=True)
    assert (tmp_path / "b.csv").read_bytes() == b"\xef\xbb\xbf" + (tmp_path / "a.csv").read_bytes()
    assert io.read_table(tmp_path / "b.csv").equals(io.read_table(tmp_path / "a.csv"))
    assert list(io.read_table(tmp_path / "b.csv").columns)[1] == "parcel_id"
    header, rows = io.unassigned_table([Unassigned("P3", "S3", "dropped", "left, out")])
    io.write_csv(tmp_path / "u.csv", header, rows)
    assert (tmp_path / "u.csv").read_text(encoding="utf-8").splitlines()[1] == \
        'P3,S3,dropped,"left, out"'
    assert io.rejects_table([Reject(4, "P4", "lon", "x", "not a number")])[1] == \
        [(4, "P4", "lon", "x", "not a number")]


def test_write_files_writes_text_and_bytes_under_the_folder(tmp_path: Path) -> None:
    paths = io.write_files(tmp_path, {"maps/a.html": "<p>地图</p>", "figures/b.png": b"\x89PNG"})
    assert paths == [tmp_path / "maps/a.html", tmp_path / "figures/b.png"]
    assert (tmp_path / "maps/a.html").read_text(encoding="utf-8") == "<p>地图</p>"
    assert (tmp_path / "figures/b.png").read_bytes() == b"\x89PNG"


def test_safe_filename_keeps_plain_ids_and_separates_the_rest() -> None:
    assert io.safe_filename("C003") == "C003"
    assert io.safe_filename("a/b") != io.safe_filename("a?b")
    assert io.safe_filename("CON").startswith("CON-")  # a Windows device name
    assert all(ch.isalnum() or ch in "_-" for ch in io.safe_filename("王师傅/2"))


def test_previous_plan_folder_needs_its_stops(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no stops\.csv in it"):
        io.read_previous(tmp_path)
    (tmp_path / "stops.csv").write_text("courier_id,lon\nC1,114\n", encoding="utf-8")
    with pytest.raises(InputError, match="lacks column"):
        io.read_previous(tmp_path)
    (tmp_path / "stops.csv").write_text("courier_id,lon,lat\nC1,114.0,22.5\n", encoding="utf-8")
    assert io.read_previous(tmp_path) == ([114.0], [22.5], ["C1"])


def test_couriers_toml(tmp_path: Path) -> None:
    table = io.read_couriers_toml(Path(__file__).resolve().parents[1] / "examples" / "couriers.toml")
    assert table["courier_id"].tolist() == ["C001", "C002"]
    bad = tmp_path / "bad.toml"
    bad.write_text("[courier]\nname = 1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"expected one or more \[\[courier\]\] tables"):
        io.read_couriers_toml(bad)


def test_file_sha256_is_of_the_bytes() -> None:
    import hashlib

    path = DATA / "parcels_tiny.csv"
    assert io.file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_file_sha256_reads_a_rewritten_file_again(tmp_path: Path) -> None:
    import hashlib
    import os

    path = tmp_path / "streets.osm"
    path.write_bytes(b"one")
    assert io.file_sha256(path) == hashlib.sha256(b"one").hexdigest()
    path.write_bytes(b"two!")  # another size and modification time: not the remembered digest
    os.utime(path, ns=(1, 1))
    assert io.file_sha256(path) == hashlib.sha256(b"two!").hexdigest()
