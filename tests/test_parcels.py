"""Parcel validation: every bad row rejected with its reason, every good row kept, nothing lost."""

from __future__ import annotations

import pytest
from conftest import DATA
from hypothesis import given, settings
from hypothesis import strategies as st

from courier.config import PROFILES
from courier.errors import InputError
from courier.io import read_table
from courier.parcels import normalise_address, validate_couriers, validate_parcels
from courier.text import parse_time_s


def _validate(name: str):
    path = DATA / name
    return validate_parcels(read_table(path), file=str(path))


def test_missing_required_column_names_all_missing_and_allowed() -> None:
    with pytest.raises(InputError) as err:
        _validate("parcels_missing_lon.csv")
    msg = str(err.value)
    assert "parcels_missing_lon.csv" in msg
    assert "lacks required column(s) lon." in msg
    assert "Required: parcel_id, lon, lat" in msg
    assert "optional: weight_kg" in msg


def test_duplicate_ids_keep_first_and_reject_later_rows() -> None:
    parcels, rejects = _validate("parcels_duplicate_ids.csv")
    assert [p.parcel_id for p in parcels] == ["D1", "D2"]
    assert [(r.row, r.parcel_id, r.field) for r in rejects] == [(4, "D1", "parcel_id")]
    assert rejects[0].reason == "duplicate parcel id (first seen in row 2)"


def test_reversed_window_is_rejected_and_the_rest_kept() -> None:
    parcels, rejects = _validate("parcels_window_reversed.csv")
    assert [p.parcel_id for p in parcels] == ["W2"]
    assert parcels[0].windows_s == ((36000, 50400),)
    assert len(rejects) == 1
    r = rejects[0]
    assert (r.row, r.parcel_id, r.field, r.value) == (2, "W1", "window", "14:00-10:00")
    assert r.reason == "the window ends before it starts"


def test_every_kind_of_bad_value_is_rejected_with_field_and_reason() -> None:
    parcels, rejects = _validate("parcels_bad_values.csv")
    assert [p.parcel_id for p in parcels] == ["OK1"]
    got = {r.row: (r.field, r.value, r.reason) for r in rejects}
    assert got == {
        2: ("lon", "", "missing lon"),
        3: ("lon", "abc", "not a number; allowed: a number from -180 to 180"),
        4: ("lat", "95.0", "out of range; allowed: -90 to 90"),
        5: ("weight_kg", "-3", "out of range; allowed: 0 to 1000"),
        6: ("volume_l", "99999", "out of range; allowed: 0 to 5000"),
        7: ("kind", "teleport", "unknown kind; allowed: delivery, pickup"),
        8: ("window", "nine o'clock-",
            "not a time of day; allowed: HH:MM, HH:MM:SS or YYYY-MM-DD HH:MM"),
        9: ("priority", "maybe", "not a yes/no value; allowed: 1/0, true/false, yes/no"),
        10: ("parcel_id", "", "missing parcel id"),
    }


def test_gbk_file_is_detected_and_chinese_text_kept() -> None:
    parcels, rejects = _validate("parcels_gbk.csv")
    assert not rejects
    assert [p.address for p in parcels] == ["深圳市福田区香梅路1号", "红荔路二号"]
    assert parcels[0].recipient == "张三"


def test_explicit_wrong_encoding_is_an_input_error() -> None:
    with pytest.raises(InputError, match="cannot decode as utf-8"):
        read_table(DATA / "parcels_gbk.csv", encoding="utf-8")


def test_bad_courier_roster_lists_every_problem() -> None:
    path = DATA / "couriers_bad.csv"
    with pytest.raises(InputError) as err:
        validate_couriers(read_table(path), file=str(path), profiles=PROFILES)
    msg = str(err.value)
    assert "row 2, field 'vehicle': got 'spaceship'; one of etricycle, van, walk" in msg
    assert "row 3, field 'capacity_parcels': got '-5'" in msg
    assert "row 4, field 'shift_end': got '08:00'; a time after shift_start" in msg


def test_times_and_addresses() -> None:
    assert parse_time_s("08:30") == 30600
    assert parse_time_s("2026-11-11 21:05:09") == 21 * 3600 + 5 * 60 + 9
    with pytest.raises(ValueError):
        parse_time_s("25:99")
    # Overnight work up to the next day's midnight, not a minute beyond.
    assert parse_time_s("48:00") == 48 * 3600
    with pytest.raises(ValueError, match="up to 48:00"):
        parse_time_s("48:30")
    assert normalise_address("深圳市 福田区，香梅路１号") == normalise_address("深圳市福田区香梅路1号")


_GOOD = st.fixed_dictionaries({
    "lon": st.floats(-180, 180).map(lambda v: f"{v:.5f}"),
    "lat": st.floats(-90, 90).map(lambda v: f"{v:.5f}"),
    "weight_kg": st.sampled_from(["", "0.5", "12"]),
    "kind": st.sampled_from(["", "delivery", "pickup"]),
})
_BAD = st.fixed_dictionaries({
    "lon": st.sampled_from(["", "x", "200", "nan"]),
    "lat": st.just("22.5"),
    "weight_kg": st.sampled_from(["", "-1", "abc"]),
    "kind": st.sampled_from(["", "delivery", "nope"]),
})


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), _GOOD, _BAD, st.integers(0, 5)), max_size=25))
def test_any_mix_of_rows_is_conserved(rows) -> None:
    import pandas as pd

    records = []
    for k, (good, g, b, dup) in enumerate(rows):
        rec = dict(g if good else b)
        # Some ids repeat on purpose: a repeat must be rejected, never silently merged.
        rec["parcel_id"] = f"P{k if dup else 0}"
        records.append(rec)
    table = pd.DataFrame(records, columns=["parcel_id", "lon", "lat", "weight_kg", "kind"],
                         dtype=str)
    table.insert(0, "__row__", range(2, len(table) + 2))
    parcels, rejects = validate_parcels(table, file="mixed.csv")
    assert len(parcels) + len(rejects) == len(table)
    rows_seen = sorted([p.row for p in parcels] + [r.row for r in rejects])
    assert rows_seen == list(range(2, len(table) + 2))
    assert len({p.parcel_id for p in parcels}) == len(parcels)


def _snapped(pid: str, row: int, x: float, *, locker_ok: bool, kind: str = "delivery"):
    from courier.model import Parcel, Snap
    from courier.parcels import SnappedParcel

    parcel = Parcel(parcel_id=pid, row=row, lon=114.0, lat=22.5, kind=kind,  # type: ignore[arg-type]
                    locker_ok=locker_ok, address=f"door {x:.0f}")
    snap = Snap(edge=0, fraction=0.0, distance_m=10.0, lon=114.0, lat=22.5)
    return SnappedParcel(parcel=parcel, snap=snap, x_m=x, y_m=0.0)


def _locker(lid: str, x: float, capacity: int):
    from courier.model import Locker, Snap
    from courier.parcels import SnappedLocker

    snap = Snap(edge=0, fraction=0.0, distance_m=5.0, lon=114.0, lat=22.5)
    locker = Locker(locker_id=lid, lon=114.0, lat=22.5, capacity_parcels=capacity)
    return SnappedLocker(locker=locker, snap=snap, x_m=x, y_m=0.0)


def test_lockers_take_only_doors_where_every_recipient_consented() -> None:
    from courier.config import PlanConfig
    from courier.parcels import build_stops

    items = [
        _snapped("A1", 2, 0.0, locker_ok=True),      # door A: both consent -> locker
        _snapped("A2", 3, 1.0, locker_ok=True),
        _snapped("B1", 4, 100.0, locker_ok=True),    # door B: one lacks consent -> door
        _snapped("B2", 5, 101.0, locker_ok=False),
        _snapped("C1", 6, 200.0, locker_ok=False),   # door C: no consent -> door, always
        _snapped("D1", 7, 5000.0, locker_ok=True),   # door D: no locker within 300 m -> door
        _snapped("E1", 8, 150.0, locker_ok=True, kind="pickup"),  # a return stays at the door
    ]
    stops = build_stops(items, config=PlanConfig(), lockers=[_locker("L1", 50.0, 10)])
    by_parcels = {s.parcel_ids: s for s in stops}
    assert by_parcels[("A1", "A2")].zone == "locker"
    assert by_parcels[("A1", "A2")].address == "locker L1"
    # Locker service: base 120 s + 8 s per parcel + walking 2 x 5 m at 1.2 m/s.
    assert by_parcels[("A1", "A2")].service_s == 120 + 16 + 8
    for door in (("B1", "B2"), ("C1",), ("D1",), ("E1",)):
        assert by_parcels[door].zone == ""
    assert sorted(p for s in stops for p in s.parcel_ids) == sorted(i.parcel.parcel_id for i in items)


def test_a_full_locker_sends_parcels_back_to_their_door() -> None:
    from courier.config import PlanConfig
    from courier.parcels import build_stops

    items = [_snapped("A1", 2, 0.0, locker_ok=True), _snapped("B1", 3, 100.0, locker_ok=True)]
    stops = build_stops(items, config=PlanConfig(), lockers=[_locker("L1", 50.0, 1)])
    zones = {s.parcel_ids: s.zone for s in stops}
    assert zones == {("A1",): "locker", ("B1",): ""}


def test_courier_lunch_columns_override_the_station_and_are_checked() -> None:
    import pandas as pd

    from courier.config import LunchConfig
    from courier.io import as_table
    from courier.model import Courier
    from courier.routing import lunch_of

    base = {"vehicle": "etricycle", "capacity_parcels": "100", "capacity_kg": "200",
            "shift_start": "08:00", "shift_end": "20:00"}
    good = as_table(pd.DataFrame([
        {**base, "courier_id": "A", "lunch_from": "", "lunch_to": "", "lunch_min": ""},
        {**base, "courier_id": "B", "lunch_from": "12:00", "lunch_to": "12:30", "lunch_min": "45"},
        {**base, "courier_id": "C", "lunch_from": "", "lunch_to": "", "lunch_min": "0"},
    ]))
    a, b, c = validate_couriers(good, file="r.csv", profiles=PROFILES)
    station = LunchConfig(11 * 3600, 13 * 3600 + 1800, 30)
    assert lunch_of(a, station) == (1800, (39_600, 48_600))
    assert lunch_of(b, station) == (2700, (43_200, 45_000))
    assert lunch_of(c, station) == (0, (0, 0))
    # A half-day shift that cannot hold the lunch gets none; one that holds part of the window
    # gets the part where the lunch still ends inside the shift.
    half = Courier("H", "etricycle", 10, 10.0, 10.0, 14 * 3600, 20 * 3600)
    assert lunch_of(half, station) == (0, (0, 0))
    morning = Courier("M", "etricycle", 10, 10.0, 10.0, 8 * 3600, 12 * 3600)
    assert lunch_of(morning, station) == (1800, (39_600, 41_400))
    bad = as_table(pd.DataFrame([
        {**base, "courier_id": "X", "lunch_from": "noon", "lunch_to": "", "lunch_min": "400"},
        {**base, "courier_id": "Y", "lunch_from": "13:00", "lunch_to": "12:00", "lunch_min": ""},
    ]))
    with pytest.raises(InputError) as err:
        validate_couriers(bad, file="r.csv", profiles=PROFILES)
    msg = str(err.value)
    assert "row 2, field 'lunch_from': got 'noon'" in msg
    assert "row 2, field 'lunch_min': got '400'; whole minutes from 0 (no lunch) to 180" in msg
    assert "row 3, field 'lunch_to': got '12:00'; a time at or after lunch_from" in msg
