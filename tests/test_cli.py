"""The command line: every bad flag is exit 2 with a message, and the README names every flag."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import typer
from conftest import DATA
from typer.testing import CliRunner

from courier.cli import app

ROOT = Path(__file__).resolve().parents[1]
TOWN = ["--streets", str(DATA / "tiny_town.osm"), "--parcels", str(DATA / "parcels_tiny.csv"),
        "--couriers", str(DATA / "couriers_tiny.csv")]


def invoke(*args: str) -> tuple[int, str]:
    # A wide terminal: usage errors are drawn in a box that would wrap their message.
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "300"})
    return result.exit_code, result.output


@pytest.mark.parametrize(("args", "message"), [
    (("plan", *TOWN, "--time-limit", "-1"), "time_limit_s must be > 0"),
    (("plan", *TOWN, "--time-limit", "soon"), "Invalid value for '--time-limit'"),
    (("plan", *TOWN, "--solver", "vroom"), "'vroom' is not one of 'ortools', 'pyvrp'"),
    (("plan", *TOWN, "--coords", "utm"), "'utm' is not one of 'auto', 'wgs84', 'gcj02', 'bd09'"),
    (("plan", *TOWN, "--tiles", "google"), "'google' is not one of 'osm', 'amap', 'none'"),
    (("plan", *TOWN, "--lunch", "noon"), "allowed: FROM-TO/MINUTES such as 11:00-13:30/30"),
    (("plan", *TOWN, "--bbox", "1,2"), "expected W,S,E,N in degrees"),
    (("plan", *TOWN, "--bbox", "3,2,1,0"), "need W < E"),
    (("plan", *TOWN, "--station", "north"), "expected LON,LAT in degrees"),
    (("plan", *TOWN, "--station", "200,22"), "lon must be -180..180"),
    (("plan", *TOWN, "--solution-limit", "0"), "solution_limit must be >= 1"),
    (("plan", *TOWN, "--workers", "-1"), "workers must be >= 0"),
    (("plan", *TOWN, "--config", "no-such.toml"), "cannot read parameters from no-such.toml"),
    (("plan", *TOWN, "--profiles", "no-such.toml"), "cannot read profiles from no-such.toml"),
    (("plan", "--streets", str(DATA / "tiny_town.osm")), "give all three of --streets"),
    (("plan", "--station", "114.0,22.5"), "--station: the demo brings its own station"),
    (("plan", *TOWN, "--lockers", str(DATA / "nope.csv")), "nope.csv: no such file"),
    (("plan", *TOWN, "--districts", str(DATA / "nope.geojson")), "nope.geojson: no such file"),
    (("plan", *TOWN, "--previous", str(DATA)), "no stops.csv in it"),
    (("synth", "--streets", str(DATA / "tiny_town.osm")), "give exactly one of --parcels N"),
    (("bench", "load", "--streets", str(DATA / "tiny_town.osm"), "--volumes", "ten"),
     "expected comma-separated numbers"),
    (("bench", "load", "--streets", str(DATA / "tiny_town.osm")),
     "give exactly one of --volumes or --peak-factors"),
    (("bench", "load", "--streets", str(DATA / "tiny_town.osm"), "--volumes", "10",
      "--couriers", "0"), "--couriers must be >= 1"),
    (("bench", "vrplib", str(DATA / "tiny_town.osm"), "--baseline", "gurobi"), "allowed: vroom"),
    (("bench", "vrplib", str(DATA / "tiny_town.osm"), "--solver", "cplex"), "'cplex' is not one of"),
    (("bench", "city", "--streets", str(DATA / "tiny_town.osm"), "--stations", "0"),
     "must be >= 1"),
    (("history", "compare", "--deliveries", str(DATA / "history_lade.csv"), "--format", "xml"),
     "'xml' is not one of 'lade', 'csv'"),
    (("history", "compare", "--deliveries", str(DATA / "history_lade.csv"), "--streets", "x.osm"),
     "--streets is not supported by history compare yet"),
    (("history", "compare", "--deliveries", str(DATA / "history_lade.csv"), "--detour", "0.5"),
     "detour >= 1"),
    # 0 is a value, not "use the default".
    (("history", "compare", "--deliveries", str(DATA / "history_lade.csv"), "--detour", "0"),
     "detour >= 1"),
    (("history", "compare", "--deliveries", str(DATA / "history_lade.csv"), "--coords", "auto"),
     "--coords auto is not supported"),
])
def test_bad_flags_exit_2_with_the_message(tmp_path: Path, args: tuple[str, ...],
                                           message: str) -> None:
    has_out = args[0] != "bench" or args[1] != "vrplib"
    code, output = invoke(*args, *(("--out", str(tmp_path / "out")) if has_out else ()))
    assert code == 2, output
    assert message in output, output
    assert "Traceback" not in output


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    out: dict[tuple[str, ...], Any] = {}
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a group (typer's own click or click's)
            out.update(_commands(command, (*prefix, name)))
        else:
            out[(*prefix, name)] = command
    return out


def test_the_readme_names_every_command_and_flag() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = _commands(typer.main.get_command(app))
    assert ("plan",) in commands and ("bench", "vrplib") in commands
    missing = []
    for path, command in commands.items():
        line = "courier " + " ".join(path)
        if line not in readme:
            missing.append(line)
        for param in command.params:
            for flag in (*param.opts, *param.secondary_opts):
                if flag.startswith("--") and flag != "--help" and \
                        not re.search(re.escape(flag) + r"(?![\w-])", readme):
                    missing.append(f"{line} {flag}")
    assert not missing, "README does not mention: " + ", ".join(missing)


def test_help_is_instant_and_lists_the_commands() -> None:
    tick = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "courier", "--help"], capture_output=True,
                          text=True, check=False, cwd=ROOT)
    elapsed_s = time.perf_counter() - tick
    assert done.returncode == 0
    for name in ("plan", "synth", "bench", "history"):
        assert name in done.stdout
    # The heavy libraries are imported inside the commands (measured 0.6 s; OR-Tools, pandas
    # and geopandas at the top would take 3 s or more).
    assert elapsed_s < 2.5, elapsed_s


def test_an_internal_error_is_exit_1_without_a_traceback(monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("courier.app.run", boom)
    code, output = invoke("plan", *TOWN, "--out", str(tmp_path), "--no-cache")
    assert code == 1
    assert "internal error: RuntimeError: disk on fire (set COURIER_DEBUG=1 for details)" in output
    assert "Traceback" not in output


def test_a_terminal_sees_the_plan_s_stages_and_a_pipe_sees_none(tmp_path: Path) -> None:
    import shutil

    if shutil.which("script") is None:
        pytest.skip("util-linux script is needed to run under a pseudo-terminal")
    command = (f"{sys.executable} -m courier plan {' '.join(TOWN)} --station 114.0,22.5 "
               f"--time-limit 5 --workers 1 --budget time --no-cache --tiles none "
               f"--out {tmp_path / 'a'}")
    done = subprocess.run(["script", "-qec", command, "/dev/null"], capture_output=True,
                          text=True, check=False, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "s of 5 s left" in done.stdout and "searching 4 stops" in done.stdout
    piped = subprocess.run([sys.executable, "-m", "courier", "plan", *TOWN, "--station",
                            "114.0,22.5", "--time-limit", "5", "--workers", "1", "--no-cache",
                            "--tiles", "none", "--out", str(tmp_path / "b")],
                           capture_output=True, text=True, check=False)
    assert piped.returncode == 0 and "s of 5 s left" not in piped.stdout + piped.stderr


@pytest.mark.parametrize("budget", [None, "work"])
def test_bench_station_gives_the_plan_the_joint_solves_seconds_unless_told(
        tmp_path: Path, budget: str | None) -> None:
    import json

    extra = [] if budget is None else ["--budget", budget]
    code, output = invoke("bench", "station", *TOWN, "--time-limit", "3", "--out",
                          str(tmp_path), "-q", *extra)
    assert code == 0, output
    result = json.loads((tmp_path / "bench.json").read_text(encoding="utf-8"))
    # Same core-seconds as the joint solve by default (the comparison); the plan's own
    # work budget when asked.
    assert result["plan_budget"] == (budget or "time")
    assert result["plan"]["left_out_parcels"] == result["joint"]["left_out_parcels"] == 0
    assert result["ratios"]["km"] == pytest.approx(
        result["plan"]["km"] / result["joint"]["km"], abs=1e-3)
