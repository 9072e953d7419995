"""The examples run as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_notebook_example_plans_futian_from_dataframes_and_an_osmnx_graph(tmp_path: Path) -> None:
    pytest.importorskip("osmnx")
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "notebook.py"), str(tmp_path)],
                          capture_output=True, text=True, check=False, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OSMnx graph:" in done.stdout and "24 parcels: 24 planned" in done.stdout
    assert "parcel_id courier_id" in done.stdout  # to_frames()["sort_plan"] shown
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert summary["parcels"]["adds_up"] and summary["inputs"]["streets"]["kind"] == "graph"
    assert (tmp_path / "maps" / "overview.html").is_file()
