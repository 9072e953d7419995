"""The configuration tree: checked on creation, TOML with sub-tables, and back to plain values."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from courier.config import (
    Coords,
    DistrictConfig,
    LunchConfig,
    PlanConfig,
    RebalanceConfig,
    Solver,
    Strategy,
    load_profiles,
)
from courier.errors import InputError


def test_defaults_and_enums() -> None:
    config = PlanConfig()
    assert config.solver is Solver.PYVRP and config.coords is Coords.AUTO
    assert config.strategy is Strategy.AUTO
    assert PlanConfig(solver="ortools", coords="gcj02").solver is Solver.ORTOOLS  # type: ignore[arg-type]
    assert config.lunch == LunchConfig(11 * 3600, 13 * 3600 + 1800, 30)
    assert config.auto_districts == DistrictConfig()
    assert config.rebalance == RebalanceConfig()


@pytest.mark.parametrize(("values", "message"), [
    ({"time_limit_s": 0}, "time_limit_s must be > 0, got 0"),
    ({"coords": "utm"}, "coords must be one of auto, wgs84, gcj02, bd09, got 'utm'"),
    ({"solution_limit": 0}, "solution_limit must be >= 1"),
    ({"workers": -1}, "workers must be >= 0"),
    ({"bag_capacity_parcels": 0}, "bag_capacity_parcels must be >= 1"),
    ({"reload_s": -5}, "reload_s must be >= 0"),
    ({"lunch": {"minutes": 200}}, "minutes must be 0 (no lunch) to 180"),
    ({"lunch": {"from": "13:00", "to": "12:00"}}, "to (12:00) is before from (13:00)"),
    ({"auto_districts": {"balance": 0.9}}, "balance must be >= 1"),
    ({"rebalance": {"share": 1.5}}, "share must be from 0 (off) to below 1"),
    ({"rebalance": {"shares": 0.1}}, "unknown rebalance parameter(s) shares"),
    ({"tme_limit_s": 3}, "unknown plan parameter(s) tme_limit_s; allowed:"),
    ({"time_limit_s": "ten"}, "plan.time_limit_s must be a number, got 'ten'"),
    ({"auto_districts": {"balance": "x"}}, "auto_districts.balance must be a number, got 'x'"),
    ({"auto_districts": {"rounds": 1.5}}, "auto_districts.rounds must be a whole number, got 1.5"),
    ({"lunch": {"from": True}}, "lunch.from True: a time HH:MM"),
])
def test_every_bad_value_is_named(values: dict, message: str) -> None:
    with pytest.raises(InputError) as err:
        PlanConfig.from_mapping(values)
    assert message in str(err.value)


def test_several_problems_are_reported_at_once() -> None:
    with pytest.raises(InputError) as err:
        PlanConfig(time_limit_s=-1, reload_s=-1, bag_capacity_parcels=0)
    text = str(err.value)
    assert "time_limit_s" in text and "reload_s" in text and "bag_capacity_parcels" in text


def test_toml_with_sub_tables_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "plan.toml"
    path.write_text(
        'time_limit_s = 90\nsolver = "pyvrp"\n'
        '[lunch]\nfrom = "11:30"\nto = "13:00"\nminutes = 45\n'
        "[auto_districts]\nbalance = 1.1\n"
        "[rebalance]\nrounds = 2\n", encoding="utf-8")
    config = PlanConfig.from_toml(path, seed=7, time_limit_s=None)
    assert config.time_limit_s == 90 and config.seed == 7 and config.solver is Solver.PYVRP
    assert config.lunch == LunchConfig(from_s=11 * 3600 + 1800, to_s=13 * 3600, minutes=45)
    assert config.auto_districts.balance == 1.1 and config.auto_districts.rounds == 2
    assert config.rebalance.rounds == 2 and config.rebalance.share == 0.2
    assert PlanConfig.from_toml(path, time_limit_s=5).time_limit_s == 5  # a flag wins


def test_to_dict_round_trips() -> None:
    config = PlanConfig(seed=3, solution_limit=40, solver=Solver.PYVRP,
                        lunch=LunchConfig.parse("12:00-13:00/20"),
                        rebalance=RebalanceConfig(over=0.1))
    data = config.to_dict()
    assert data["lunch"] == {"from": "12:00", "to": "13:00", "minutes": 20}
    assert data["solver"] == "pyvrp" and data["rebalance"]["over"] == 0.1
    assert PlanConfig.from_mapping(data) == config
    assert replace(config, seed=4).to_dict()["seed"] == 4


@pytest.mark.parametrize(("text", "expected"), [
    ("11:00-13:30/30", LunchConfig()),
    ("none", LunchConfig(minutes=0)),
    ("12:15-12:45/15", LunchConfig(12 * 3600 + 900, 12 * 3600 + 2700, 15)),
])
def test_lunch_flag(text: str, expected: LunchConfig) -> None:
    assert LunchConfig.parse(text) == expected


def test_bad_lunch_flag_says_what_is_allowed() -> None:
    with pytest.raises(InputError, match="FROM-TO/MINUTES"):
        LunchConfig.parse("noon")


def test_profiles_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "profiles.toml"
    path.write_text("[etricycle]\nmax_speed_kph = 12\n[etricycle.speed_kph]\nresidential = 10\n"
                    "[cargo_bike]\nmax_speed_kph = 18\n[cargo_bike.speed_kph]\ncycleway = 18\n",
                    encoding="utf-8")
    profiles = load_profiles(path)
    assert profiles["etricycle"].max_speed_kph == 12
    assert profiles["etricycle"].speed_kph["residential"] == 10
    assert profiles["cargo_bike"].speed_kph == {"cycleway": 18}
    path.write_text("[etricycle.speed_kph]\nrocket = 900\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"etricycle\.speed_kph\.rocket"):
        load_profiles(path)
