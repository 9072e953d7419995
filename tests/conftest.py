"""Shared test helpers: paths to fixtures and to the real data beside the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def data_dir() -> Path:
    return DATA


def shared_file(*parts: str) -> Path:
    """Return a file under ../shared/data, or skip the test with the reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not here: {path} (../shared/data is beside the repository in CI)")
    return path
