"""Trips -> bags -> load order -> chutes: what the sorting staff do in the morning."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace

from courier.model import Parcel, SortLine, Stop, Trip

__all__ = ["address_of", "assign_chutes", "sort_plan"]


def address_of(parcel: Parcel | None, stop: Stop | None) -> str:
    """The address a sorter reads for a parcel: its own, else its stop's."""
    return parcel.address if parcel and parcel.address else stop.address if stop else ""


def sort_plan(trips: Sequence[Trip], stops: Mapping[str, Stop], parcels: Mapping[str, Parcel],
              *, bag_capacity_parcels: int, chutes: int = 0,
              courier_order: Sequence[str] = ()) -> tuple[SortLine, ...]:
    """Return one sort line per planned parcel, ordered by courier, trip, bag, load position.

    Bags are filled in delivery order, so bag 1 holds the trip's first stops and is loaded
    into the vehicle last. Inside a bag, packing is last out, first in: ``load_position``
    restarts at 1 in every bag, and 1 goes into the bag first and belongs to the bag's last
    stop, so the bag's first stop lies on top. A pickup (return) is collected on the way, not
    packed: it has bag 0 and load position 0. Chutes are assigned by :func:`assign_chutes`
    (``chutes`` 0: one per courier, in ``courier_order``, then by id).
    """
    lines: list[SortLine] = []
    for trip in sorted(trips, key=lambda t: (t.courier_id, t.trip)):
        deliveries: list[tuple[str, str, int]] = []  # parcel, stop, seq in delivery order
        pickups: list[tuple[str, str, int]] = []
        for visit in trip.visits:
            for pid in stops[visit.stop_id].parcel_ids:
                target = pickups if parcels[pid].kind == "pickup" else deliveries
                target.append((pid, visit.stop_id, visit.seq))
        trip_lines: list[SortLine] = []
        for start in range(0, len(deliveries), bag_capacity_parcels):
            in_bag = deliveries[start:start + bag_capacity_parcels]
            trip_lines.extend(
                SortLine(parcel_id=pid, courier_id=trip.courier_id, trip=trip.trip,
                         bag=start // bag_capacity_parcels + 1, load_position=len(in_bag) - k,
                         stop_id=stop_id, seq=seq)
                for k, (pid, stop_id, seq) in enumerate(in_bag)
            )
        trip_lines.sort(key=lambda s: (s.bag, s.load_position))
        lines.extend(trip_lines)
        lines.extend(
            SortLine(parcel_id=pid, courier_id=trip.courier_id, trip=trip.trip, bag=0,
                     load_position=0, stop_id=stop_id, seq=seq)
            for pid, stop_id, seq in pickups
        )
    chute_of = assign_chutes(lines, chutes=chutes, courier_order=courier_order)
    return tuple(replace(s, chute=chute_of[(s.courier_id, s.trip, s.bag)]) for s in lines)


def assign_chutes(lines: Sequence[SortLine], *, chutes: int = 0,
                  courier_order: Sequence[str] = ()) -> dict[tuple[str, int, int], int]:
    """Map every (courier, trip, bag) of the sort lines to a chute of the sort wall, 1..N.

    - ``chutes`` 0 or exactly one per courier: courier k (in ``courier_order``, then by id)
      gets chute k.
    - More chutes than couriers: each courier has one, and the spare chutes go one each to
      the couriers with the most parcels, whose bags (trips in order, bag 1 first) are split
      at the bag nearest half their parcels over two neighbouring chutes. A bag is never
      split, so a courier with one bag keeps one chute.
    - Fewer chutes than couriers: couriers share chutes in order, as runs of neighbours
      holding about the same number of parcels, so each courier's bags stay in one chute.

    A pickup line (bag 0) goes to its courier's first chute: it only has to be looked up.
    """
    # Parcels per (trip, bag) of each courier, in the lines' order: trips in order, bag 1 first.
    bags: dict[str, dict[tuple[int, int], int]] = defaultdict(dict)
    for s in lines:
        if s.bag > 0:
            sizes = bags[s.courier_id]
            sizes[(s.trip, s.bag)] = sizes.get((s.trip, s.bag), 0) + 1
    parcels = {cid: sum(sizes.values()) for cid, sizes in bags.items()}
    rank = {cid: k for k, cid in enumerate(courier_order)}
    couriers = sorted({s.courier_id for s in lines}, key=lambda c: (rank.get(c, len(rank)), c))
    n = chutes or len(couriers)
    first: dict[str, int] = {}
    split_at: dict[str, tuple[int, int]] = {}  # courier: first (trip, bag) of the second chute
    if n >= len(couriers):
        spare = n - len(couriers)
        # A stable sort: couriers with as many parcels keep their roster order.
        for cid in sorted(couriers, key=lambda c: -parcels.get(c, 0)):
            if spare == 0:
                break
            if len(bags[cid]) > 1:
                split_at[cid] = _half(bags[cid])
                spare -= 1
        chute = 1
        for cid in couriers:
            first[cid] = chute
            chute += 2 if cid in split_at else 1
    else:
        total = max(sum(parcels.values()), 1)
        before = 0
        for cid in couriers:
            middle = before + parcels.get(cid, 0) / 2
            first[cid] = min(n, int(middle * n / total) + 1)
            before += parcels.get(cid, 0)
    out: dict[tuple[str, int, int], int] = {}
    for s in lines:
        key = (s.courier_id, s.trip, s.bag)
        second = split_at.get(s.courier_id)
        out[key] = first[s.courier_id] + (s.bag > 0 and second is not None
                                          and (s.trip, s.bag) >= second)
    return out


def _half(sizes: Mapping[tuple[int, int], int]) -> tuple[int, int]:
    """The (trip, bag) that starts the second half of a courier's parcels (never the first):
    ``sizes`` are the parcels of each bag, in filling order."""
    order = list(sizes)
    total, done = sum(sizes.values()), 0
    best, best_gap = order[1], float("inf")
    for k, bag in enumerate(order):
        if k > 0 and abs(2 * done - total) < best_gap:
            best, best_gap = bag, abs(2 * done - total)
        done += sizes[bag]
    return best
