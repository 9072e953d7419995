"""The sort plan by hand: bags in delivery order, last out first in, pickups apart."""

from __future__ import annotations

from courier.model import Parcel, Snap, Stop, Trip, Visit
from courier.sortplan import sort_plan

SNAP = Snap(0, 0.0, 0.0, 114.0, 22.5)


def _stop(sid: str, *pids: str) -> Stop:
    return Stop(stop_id=sid, parcel_ids=pids, lon=114.0, lat=22.5, snap=SNAP, service_s=60,
                windows_s=(), delivery_parcels=len(pids), delivery_kg=1.0, delivery_l=1.0)


def test_bags_load_positions_and_pickups() -> None:
    stops = {"S1": _stop("S1", "a", "b"), "S2": _stop("S2", "c", "r"), "S3": _stop("S3", "d")}
    parcels = {pid: Parcel(pid, i, 114.0, 22.5, kind="pickup" if pid == "r" else "delivery")
               for i, pid in enumerate("abcdr", start=2)}
    visits = tuple(Visit(sid, k, 0, 0, 0) for k, sid in enumerate(("S1", "S2", "S3"), start=1))
    trip = Trip("C1", 1, 0, 100, visits, 0, 4, 4.0, 4.0)
    lines = sort_plan([trip], stops, parcels, bag_capacity_parcels=3)
    got = [(s.parcel_id, s.bag, s.load_position, s.seq) for s in lines]
    # Deliveries in route order a b c d: bag 1 holds the first three, bag 2 the last one.
    # Load position 1 goes in first and is the trip's last stop: d; a, the first, is on top.
    assert got == [("c", 1, 2, 2), ("b", 1, 3, 1), ("a", 1, 4, 1), ("d", 2, 1, 3),
                   ("r", 0, 0, 2)]


def test_every_parcel_of_every_trip_once_in_courier_and_trip_order() -> None:
    stops = {f"S{i}": _stop(f"S{i}", f"p{i}") for i in range(4)}
    parcels = {f"p{i}": Parcel(f"p{i}", i + 2, 114.0, 22.5) for i in range(4)}
    trips = [Trip("C2", 1, 0, 1, (Visit("S0", 1, 0, 0, 0),), 0, 1, 1.0, 1.0),
             Trip("C1", 2, 5, 6, (Visit("S1", 1, 5, 5, 5), Visit("S2", 2, 5, 5, 5)), 0, 2, 2.0, 2.0),
             Trip("C1", 1, 0, 1, (Visit("S3", 1, 0, 0, 0),), 0, 1, 1.0, 1.0)]
    lines = sort_plan(trips, stops, parcels, bag_capacity_parcels=25)
    assert [(s.courier_id, s.trip, s.parcel_id) for s in lines] == [
        ("C1", 1, "p3"), ("C1", 2, "p2"), ("C1", 2, "p1"), ("C2", 1, "p0")]
