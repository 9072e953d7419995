"""The day's shape by hand: paid day, driving, service, waiting at doors and at the station."""

from __future__ import annotations

from courier.dayshape import day_shapes, totals
from courier.model import Courier, Trip, Visit

H = 3600


def test_a_day_by_hand() -> None:
    courier = Courier("A", "etricycle", 100, 100.0, 100.0, 8 * H, 20 * H)
    idle = Courier("B", "etricycle", 100, 100.0, 100.0, 8 * H, 20 * H)
    # Trip 1 leaves 08:30: 20 min driving, waits 10 min, 5 min service, 25 min home.
    one = Trip("A", 1, 8 * H + 1800, 9 * H + 1800,
               (Visit("s1", 1, 8 * H + 3000, 8 * H + 3600, 8 * H + 3900),), 0, 1, 1.0, 1.0)
    # Trip 2 14:00-15:00: lunch 14:10-14:40 on the way, 5 min service, the rest driving.
    two = Trip("A", 2, 14 * H, 15 * H, (Visit("s2", 1, 14 * H + 2400, 14 * H + 2400,
                                              14 * H + 2700),), 0, 1, 1.0, 1.0)
    a, b = day_shapes([courier, idle], [two, one], {"A": (14 * H + 600, 14 * H + 2400)})
    assert a.paid_s == 7 * H and a.late_start_s == 1800
    assert a.door_wait_s == 600 and a.longest_door_wait_s == 600
    assert a.service_s == 600 and a.lunch_s == 1800
    assert a.driving_s == (1200 + 1500) + (2400 - 1800 + 900)
    assert a.station_s == 1800 + (14 * H - 9 * H - 1800)  # before trip 1, between the trips
    assert a.paid_s == a.driving_s + a.service_s + a.door_wait_s + a.lunch_s + a.station_s
    assert not b.used and b.paid_s == 0
    t = totals([a, b])
    assert t["courier_hours"] == 7.0 and t["median_late_start_min"] == 30.0
    assert t["door_wait_share"] == round(600 / (7 * H), 4)
