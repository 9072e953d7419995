"""The sort plan by hand: bags in delivery order, last out first in, pickups apart."""

from __future__ import annotations

from courier.model import Parcel, Snap, SortLine, Stop, Trip, Visit
from courier.sortplan import assign_chutes, sort_plan

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
    # Positions restart in each bag; 1 goes in first and is the bag's last stop: c in bag 1,
    # so a, the trip's first stop, lies on top of bag 1.
    assert got == [("c", 1, 1, 2), ("b", 1, 2, 1), ("a", 1, 3, 1), ("d", 2, 1, 3),
                   ("r", 0, 0, 2)]
    assert {s.chute for s in lines} == {1}  # one courier: one chute


def test_every_parcel_of_every_trip_once_in_courier_and_trip_order() -> None:
    stops = {f"S{i}": _stop(f"S{i}", f"p{i}") for i in range(4)}
    parcels = {f"p{i}": Parcel(f"p{i}", i + 2, 114.0, 22.5) for i in range(4)}
    trips = [Trip("C2", 1, 0, 1, (Visit("S0", 1, 0, 0, 0),), 0, 1, 1.0, 1.0),
             Trip("C1", 2, 5, 6, (Visit("S1", 1, 5, 5, 5), Visit("S2", 2, 5, 5, 5)), 0, 2, 2.0, 2.0),
             Trip("C1", 1, 0, 1, (Visit("S3", 1, 0, 0, 0),), 0, 1, 1.0, 1.0)]
    lines = sort_plan(trips, stops, parcels, bag_capacity_parcels=25)
    assert [(s.courier_id, s.trip, s.parcel_id) for s in lines] == [
        ("C1", 1, "p3"), ("C1", 2, "p2"), ("C1", 2, "p1"), ("C2", 1, "p0")]


def _lines(bags: dict[str, list[int]]) -> list[SortLine]:
    """Sort lines of couriers whose trip 1 has bags of the given sizes."""
    out = []
    for cid, sizes in bags.items():
        for bag, size in enumerate(sizes, start=1):
            out.extend(SortLine(f"{cid}-{bag}-{k}", cid, 1, bag, k, "S", 1)
                       for k in range(1, size + 1))
        out.append(SortLine(f"{cid}-pickup", cid, 1, 0, 0, "S", 1))
    return out


def test_one_chute_per_courier_by_default_in_roster_order() -> None:
    lines = _lines({"B": [25, 5], "A": [10]})
    chutes = assign_chutes(lines, courier_order=["B", "A"])
    assert chutes == {("B", 1, 1): 1, ("B", 1, 2): 1, ("B", 1, 0): 1,
                      ("A", 1, 1): 2, ("A", 1, 0): 2}


def test_spare_chutes_split_the_largest_couriers_at_a_bag_near_half() -> None:
    lines = _lines({"A": [25, 25, 25, 10], "B": [25, 25], "C": [30]})
    chutes = assign_chutes(lines, chutes=5, courier_order=["A", "B", "C"])
    # A (85 parcels) and B (50) get two neighbouring chutes each; C has one bag: one chute.
    assert [chutes[("A", 1, b)] for b in (1, 2, 3, 4)] == [1, 1, 2, 2]
    assert [chutes[("B", 1, b)] for b in (1, 2)] == [3, 4]
    assert chutes[("C", 1, 1)] == 5 and chutes[("A", 1, 0)] == 1  # a pickup: the first chute


def test_fewer_chutes_than_couriers_keep_each_courier_in_one_chute() -> None:
    sizes = {"A": [20], "B": [20], "C": [20], "D": [20], "E": [20], "F": [20]}
    chutes = assign_chutes(_lines(sizes), chutes=3, courier_order=list(sizes))
    assert [chutes[(c, 1, 1)] for c in sizes] == [1, 1, 2, 2, 3, 3]
    assert all(chutes[(c, 1, 0)] == chutes[(c, 1, 1)] for c in sizes)
