"""Tests of replaying real courier days against the planner (courier.history)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import DATA, shared_file

from courier.coords import gcj02_to_wgs84
from courier.errors import InputError
from courier.history import (
    VARIANTS,
    CompareParams,
    HistoryResult,
    aoi_reentries,
    aoi_switches,
    compare,
    hit_rate,
    kendall,
    learn_aoi_positions,
    read_history,
    write_outputs,
)

FAST = {"min_stops": 4, "time_limit_s": 0.1}


@pytest.fixture(scope="module")
def lade() -> pd.DataFrame:
    return read_history(DATA / "history_lade.csv", fmt="lade")


@pytest.fixture(scope="module")
def lade_result(lade: pd.DataFrame) -> HistoryResult:
    return compare(lade, CompareParams(**FAST))


def _route(result: HistoryResult, courier_id: str, day: str, variant: str) -> list[str]:
    r = result.routes
    sel = r[(r["courier_id"] == courier_id) & (r["day"] == day) & (r["variant"] == variant)]
    return sel.sort_values("seq")["stop_id"].tolist()


def _day(result: HistoryResult, courier_id: str, day: str) -> pd.Series:
    d = result.days
    return d[(d["courier_id"] == courier_id) & (d["day"] == day)].iloc[0]


# --------------------------------------------------------------------------------------------
# Reading


def test_read_lade_columns_days_times_and_station(lade: pd.DataFrame) -> None:
    assert list(lade.columns) == [
        "courier_id", "day", "parcel_id", "lon", "lat", "delivered_s", "aoi", "station_lon", "station_lat",
    ]
    assert len(lade) == 27
    assert sorted(set(zip(lade["courier_id"], lade["day"], strict=True))) == [
        ("101", "0601"), ("101", "0602"), ("101", "0603"), ("202", "0601"), ("202", "0603"),
    ]
    first = lade[lade["parcel_id"] == "1001"].iloc[0]
    assert first["delivered_s"] == 9 * 3600
    assert first["aoi"] == "10"
    # 202/0601 has one 'nan' accept point: the median of the other three.
    day = lade[(lade["courier_id"] == "202") & (lade["day"] == "0601")]
    assert day["station_lon"].tolist() == pytest.approx([126.566] * 4)
    assert day["station_lat"].tolist() == pytest.approx([43.871] * 4)
    # Sorted by delivery time within each courier-day, though the file is not.
    for _, g in lade.groupby(["courier_id", "day"]):
        assert g["delivered_s"].is_monotonic_increasing


def test_read_plain_csv_station_given_or_median_of_points() -> None:
    h = read_history(DATA / "history_plain.csv", fmt="csv")
    assert set(h["day"]) == {"2026-11-11", "2026-11-12"}
    a2 = h[h["parcel_id"] == "a2"].iloc[0]
    assert a2["delivered_s"] == 9 * 3600 + 20 * 60 + 30
    assert a2["aoi"] == "mid"
    c1 = h[(h["courier_id"] == "c1") & (h["day"] == "2026-11-11")]
    assert c1["parcel_id"].tolist() == ["a1", "a2", "a3"]
    assert c1["station_lon"].iloc[0] == pytest.approx(126.575)  # median of the day's points
    c2 = h[h["courier_id"] == "c2"]
    assert c2["station_lon"].iloc[0] == pytest.approx(126.5661)  # median of the given stations
    assert c2["aoi"].tolist() == ["", ""]


def test_gcj02_input_is_converted_to_wgs84(lade: pd.DataFrame) -> None:
    g = read_history(DATA / "history_lade.csv", fmt="lade", coords="gcj02")
    lon, lat = gcj02_to_wgs84(lade["lon"].to_numpy(), lade["lat"].to_numpy())
    assert g["lon"].to_numpy() == pytest.approx(lon)
    assert g["lat"].to_numpy() == pytest.approx(lat)
    # The GCJ-02 offset in Jilin is a few hundred metres.
    assert 100 < abs(lade["lon"].iloc[0] - g["lon"].iloc[0]) * 111_000 * math.cos(math.radians(43.9)) < 1000
    s_lon, _ = gcj02_to_wgs84(lade["station_lon"].to_numpy(), lade["station_lat"].to_numpy())
    assert g["station_lon"].to_numpy() == pytest.approx(s_lon)


def test_bad_lade_file_names_every_row_and_field() -> None:
    with pytest.raises(InputError) as info:
        read_history(DATA / "history_bad_lade.csv", fmt="lade")
    found = {(p.row, p.field) for p in info.value.problems}
    assert found == {(3, "lng"), (4, "delivery_time"), (5, "ds")}
    text = str(info.value)
    assert "history_bad_lade.csv" in text and "'abc'" in text and "MM-DD HH:MM:SS" in text


def test_bad_plain_file_and_missing_column() -> None:
    with pytest.raises(InputError) as info:
        read_history(DATA / "history_bad_plain.csv", fmt="csv")
    assert {(p.row, p.field) for p in info.value.problems} == {(3, "lat"), (4, "delivered_at")}
    assert "YYYY-MM-DD HH:MM[:SS]" in str(info.value)
    with pytest.raises(InputError, match="delivered_at"):
        read_history(DATA / "history_missing_column.csv", fmt="csv")


# --------------------------------------------------------------------------------------------
# Measures


def test_kendall_and_hr3_by_hand() -> None:
    actual = ["a", "b", "c", "d"]
    assert kendall(actual, actual) == pytest.approx(1.0)
    assert kendall(actual, ["d", "c", "b", "a"]) == pytest.approx(-1.0)
    # One swapped pair out of six: (5 - 1) / 6.
    assert kendall(actual, ["b", "a", "c", "d"]) == pytest.approx(4 / 6)
    assert hit_rate(actual, ["b", "a", "c", "d"]) == pytest.approx(1.0)
    assert hit_rate(actual, ["d", "c", "b", "a"]) == pytest.approx(2 / 3)
    assert hit_rate(actual, ["d", "a", "e", "c"]) == pytest.approx(1 / 3)
    assert hit_rate(["a", "b"], ["b", "a"]) == pytest.approx(1.0)
    assert math.isnan(kendall(["a"], ["a"]))
    with pytest.raises(ValueError):
        kendall(["a", "b"], ["a", "c"])


def test_aoi_switches_and_reentries_by_hand() -> None:
    seq = ["x", "x", "y", "x", "z", "z", "y"]
    assert aoi_switches(seq) == 4
    assert aoi_reentries(seq) == 2  # back into x, back into y
    assert aoi_switches(["x", "x"]) == 0
    assert aoi_reentries([]) == 0


# --------------------------------------------------------------------------------------------
# Comparing


def test_actual_sequence_is_rebuilt_from_delivery_times(lade_result: HistoryResult) -> None:
    # 101/0603 is written out of order in the file; delivered P1, P6, P2, P5, P3, P4.
    assert _route(lade_result, "101", "0603", "actual") == ["1014", "1015", "1016", "1017", "1018", "1019"]
    # 1004 is 1.4 m from 1003: one stop with two parcels.
    day = _day(lade_result, "101", "0601")
    assert (day["stops"], day["parcels"]) == (6, 7)
    assert _route(lade_result, "101", "0601", "actual") == ["1001", "1002", "1003", "1005", "1006", "1007"]


def test_days_and_totals_shape(lade_result: HistoryResult) -> None:
    assert len(lade_result.days) == 5  # min_stops 4: every fixture day
    assert set(lade_result.totals) == set(VARIANTS)
    for v in VARIANTS:
        t = lade_result.totals[v]
        assert {"distance_m", "duration_s", "kendall", "hr3", "aoi_switches", "courier_days",
                "min_stops", "detour"} <= set(t)
        assert t["distance_m"] == int(lade_result.days[f"{v}_distance_m"].sum())
    assert lade_result.totals["actual"]["kendall"] == 1.0
    assert lade_result.totals["actual"]["hr3"] == 1.0
    assert "saving_pct" in lade_result.totals["shortest"]
    assert "saving_pct" not in lade_result.totals["actual"]
    # Every variant visits every stop exactly once.
    r = lade_result.routes
    for (_c, _d, _v), g in r.groupby(["courier_id", "day", "variant"]):
        assert g["seq"].tolist() == list(range(1, len(g) + 1))
        assert g["stop_id"].is_unique


def test_planned_never_longer_than_zigzag_actual(lade_result: HistoryResult) -> None:
    day = _day(lade_result, "101", "0603")
    assert day["actual_aoi_switches"] == 4 and day["actual_aoi_reentries"] == 2
    assert day["shortest_distance_m"] < day["actual_distance_m"]
    assert day["zone_by_zone_distance_m"] < day["actual_distance_m"]
    assert day["shortest_saving_pct"] > 20
    # Same service time, shorter travel: shorter duration.
    assert day["shortest_duration_s"] < day["actual_duration_s"]
    # The zones are AOI 10, 11, 12 (west to east) learned from 0601 and 0602.
    assert day["zone_by_zone_aoi_switches"] == 2 and day["zone_by_zone_aoi_reentries"] == 0
    d = lade_result.days
    assert bool((d["shortest_distance_m"] <= d["actual_distance_m"]).all())


def test_zone_by_zone_follows_learned_aoi_order(lade: pd.DataFrame, lade_result: HistoryResult) -> None:
    r = lade_result.routes
    sel = r[(r["courier_id"] == "101") & (r["day"] == "0603") & (r["variant"] == "zone_by_zone")]
    aois = sel.sort_values("seq")["aoi"].tolist()
    assert aois == sorted(aois)  # 10 -> 11 -> 12
    pos = learn_aoi_positions(lade, courier_id="101", day="0603")
    assert pos["10"] < pos["11"] < pos["12"]


def test_leave_one_day_out_never_reads_the_scored_day(lade: pd.DataFrame) -> None:
    before = learn_aoi_positions(lade, courier_id="101", day="0602")
    changed = lade.copy()
    scored = (changed["courier_id"] == "101") & (changed["day"] == "0602")
    # Reverse the scored day's own order and move its points: nothing learned may change.
    changed.loc[scored, "delivered_s"] = 86_400 - changed.loc[scored, "delivered_s"]
    changed.loc[scored, "aoi"] = changed.loc[scored, "aoi"].to_numpy()[::-1]
    assert learn_aoi_positions(changed, courier_id="101", day="0602") == before
    # ... while changing another day does change it (the test can fail).
    other = (changed["courier_id"] == "101") & (changed["day"] == "0601")
    changed.loc[other, "delivered_s"] = 86_400 - changed.loc[other, "delivered_s"]
    assert learn_aoi_positions(changed, courier_id="101", day="0602") != before
    # And the scored day's plan in compare() does not move either.
    a = compare(lade, CompareParams(min_stops=6, time_limit_s=0.1, solution_limit=200))
    b_hist = lade.copy()
    b_hist.loc[scored, "delivered_s"] = 86_400 - b_hist.loc[scored, "delivered_s"]
    b = compare(b_hist, CompareParams(min_stops=6, time_limit_s=0.1, solution_limit=200))
    assert _route(a, "101", "0602", "zone_by_zone") == _route(b, "101", "0602", "zone_by_zone")


def test_unknown_aoi_joins_nearest_zone_and_nothing_is_dropped() -> None:
    h = read_history(DATA / "history_plain.csv", fmt="csv")
    res = compare(h, CompareParams(min_stops=2, time_limit_s=0.1))
    assert len(res.days) == 3
    # c2 has no AOIs and a single day: no zone order, the plan is the plain shortest one.
    c2 = _day(res, "c2", "2026-11-11")
    assert c2["zones"] == 1
    assert c2["zone_by_zone_distance_m"] == c2["shortest_distance_m"]


def test_one_zone_band_imposes_no_order(lade: pd.DataFrame) -> None:
    res = compare(lade, CompareParams(zone_bands=1, **FAST))
    assert (res.days["zones"] == 1).all()
    day = _day(res, "101", "0603")
    assert day["zone_by_zone_distance_m"] == day["shortest_distance_m"]
    two = _day(compare(lade, CompareParams(zone_bands=2, **FAST)), "101", "0603")
    assert two["zones"] == 2


def test_compare_rejects_bad_parameters(lade: pd.DataFrame) -> None:
    with pytest.raises(ValueError):
        CompareParams(detour=0.5)
    with pytest.raises(ValueError):
        CompareParams(zone_bands=0)
    with pytest.raises(ValueError, match="read_history"):
        compare(lade.drop(columns=["aoi"]))


# --------------------------------------------------------------------------------------------
# Outputs


def test_write_outputs_files_and_escaping(lade: pd.DataFrame, tmp_path: Path) -> None:
    h = lade.copy()
    h["courier_id"] = h["courier_id"].replace({"101": "<b>101&</b>", "202": "<i>202</i>"})
    res = compare(h, CompareParams(**FAST))
    write_outputs(res, h, tmp_path)
    for name in ("history.json", "history.csv", "routes.csv", "report.html", "saving_hist.png",
                 "similarity.png", "example_day.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert json.loads((tmp_path / "history.json").read_text()) == json.loads(json.dumps(res.totals))
    assert len(pd.read_csv(tmp_path / "history.csv")) == len(res.days)
    page = (tmp_path / "report.html").read_text()
    assert '<img src="saving_hist.png"' in page and '<img src="example_day.png"' in page
    assert "<b>101" not in page and "<i>202" not in page
    assert "&lt;b&gt;101&amp;" in page or "&lt;i&gt;202" in page
    assert (tmp_path / "example_day.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------------------------
# Real data


@pytest.mark.shared
def test_region31_two_couriers() -> None:
    path = shared_file("lade_jilin_delivery", "delivery_jl_region31_complete.csv")
    h = read_history(path, fmt="lade")
    assert len(h) == 8818 and h["courier_id"].nunique() == 12
    assert np.isfinite(h["station_lon"]).all()
    sub = h[h["courier_id"].isin(["3073", "4322"])]
    res = compare(sub, CompareParams(time_limit_s=0.1))
    assert len(res.days) >= 3
    assert set(res.days["courier_id"]) <= {"3073", "4322"}
    assert (res.days["stops"] >= 10).all()
    t = res.totals
    assert t["shortest"]["distance_m"] < t["actual"]["distance_m"]
    assert t["shortest"]["saving_pct"] > 0
    assert -1 <= t["zone_by_zone"]["kendall"] <= 1
