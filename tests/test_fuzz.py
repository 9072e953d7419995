"""Bad input, tried widely: random bytes and near-valid tables never give a traceback, and
every parcel row is accounted for (a valid parcel or a reject)."""

from __future__ import annotations

import csv
import io as stdio
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from courier import io
from courier.config import PROFILES
from courier.errors import InputError
from courier.parcels import validate_couriers, validate_parcels

_SETTINGS = settings(max_examples=60, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture,
                                            HealthCheck.too_slow])

_NASTY = st.one_of(
    st.text(max_size=40),  # anything, control characters and all
    st.sampled_from(["", "nan", "NaN", "inf", "-inf", "1e308", "-1e400", "0x1A", "１１４．０",
                     "114,05", "22.5.1", " ", "\u200b", "null", "None", "是", "否", "2026-11-11",
                     "25:99", "09:00-", "-09:00", "x" * 5000]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-10**20, max_value=10**20).map(str),
)


def _write(rows: list[list[str]], header: list[str], suffix: str = ".csv") -> Path:
    buf = stdio.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path = Path(tempfile.mkdtemp()) / f"fuzz{suffix}"
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


@_SETTINGS
@given(st.binary(max_size=2000))
def test_random_bytes_are_an_input_error_or_a_table(data: bytes) -> None:
    path = Path(tempfile.mkdtemp()) / "parcels.csv"
    path.write_bytes(data)
    try:
        table = io.read_table(path)
        parcels, rejects = validate_parcels(table, file=str(path))
    except InputError:
        return
    assert len(parcels) + len({r.row for r in rejects}) == len(table)


_PARCEL_HEADER = ["parcel_id", "lon", "lat", "weight_kg", "volume_l", "window_start",
                  "window_end", "windows", "kind", "priority", "locker_ok", "address", "phone"]


@_SETTINGS
@given(st.lists(st.lists(_NASTY, min_size=13, max_size=13), min_size=1, max_size=20))
def test_near_valid_parcel_rows_are_each_a_parcel_or_a_reject(rows: list[list[str]]) -> None:
    path = _write(rows, _PARCEL_HEADER)
    try:
        table = io.read_table(path)
    except InputError:
        return  # e.g. a cell that holds a line break of its own kind
    parcels, rejects = validate_parcels(table, file=str(path))
    rows_seen = sorted([p.row for p in parcels] + [r.row for r in rejects])
    assert rows_seen == sorted(table["__row__"].tolist())
    for p in parcels:  # what passes is sound
        assert -180 <= p.lon <= 180 and -90 <= p.lat <= 90
        assert 0 <= p.weight_kg <= 1000 and all(a <= b for a, b in p.windows_s)


_COURIER_HEADER = ["courier_id", "vehicle", "capacity_parcels", "capacity_kg", "capacity_l",
                   "shift_start", "shift_end", "max_trips", "lunch_from", "lunch_to", "lunch_min"]


@_SETTINGS
@given(st.lists(st.lists(_NASTY, min_size=11, max_size=11), min_size=1, max_size=8))
def test_near_valid_rosters_are_a_roster_or_an_input_error(rows: list[list[str]]) -> None:
    path = _write(rows, _COURIER_HEADER)
    try:
        couriers = validate_couriers(io.read_table(path), file=str(path), profiles=PROFILES)
    except InputError as err:
        assert str(err)  # says something
        return
    for c in couriers:
        assert c.capacity_parcels >= 1 and c.shift_end_s > c.shift_start_s and c.max_trips >= 1
