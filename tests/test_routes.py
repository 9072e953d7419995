"""Tests of the routes stage: how districts share the time, lane by lane."""

from __future__ import annotations

import pytest

from courier.routes import DistrictTask, budget_s, lanes_after


def test_districts_share_the_time_left_and_pass_on_what_they_do_not_use() -> None:

    # Largest first onto the emptiest of 2 lanes: 5->A, 4->B, 3->B, 2->A, 1->A.
    assert lanes_after([5, 4, 3, 2, 1], 2) == [3, 3, 0, 1, 0]
    assert lanes_after([7, 7, 7], 1) == [14, 7, 0]

    def task(stops: int, queued: int) -> DistrictTask:
        return DistrictTask(couriers=(), stops=tuple(None for _ in range(stops)),  # type: ignore[misc]
                            station_lonlat=(0.0, 0.0), deadline_epoch_s=100.0,
                            queued_stops=queued)

    # Three equal districts in one lane: a third each when all run to their share...
    assert budget_s(task(10, 20), 10.0) == pytest.approx(30.0)
    assert budget_s(task(10, 10), 40.0) == pytest.approx(30.0)
    # ...and the time the first two leave over goes to the last, not back unused.
    assert budget_s(task(10, 10), 15.0) == pytest.approx(42.5)
    assert budget_s(task(10, 0), 20.0) == pytest.approx(80.0)
