"""Trips -> bags -> load order: what the sorting staff do in the morning."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from courier.model import Parcel, SortLine, Stop, Trip


def sort_plan(trips: Sequence[Trip], stops: Mapping[str, Stop], parcels: Mapping[str, Parcel],
              *, bag_capacity_parcels: int) -> tuple[SortLine, ...]:
    """Return one sort line per planned parcel, ordered by courier, trip, bag, load position.

    Bags are filled in delivery order, so bag 1 holds the first stops. Loading is last out,
    first in: ``load_position`` 1 goes into the vehicle first and belongs to the trip's last
    stop, so the first stop's parcels end up on top. A pickup (return) is collected on the way,
    not loaded: it has bag 0 and load position 0.
    """
    lines: list[SortLine] = []
    for trip in sorted(trips, key=lambda t: (t.courier_id, t.trip)):
        deliveries: list[tuple[str, str, int]] = []  # parcel, stop, seq in delivery order
        pickups: list[tuple[str, str, int]] = []
        for visit in trip.visits:
            for pid in stops[visit.stop_id].parcel_ids:
                target = pickups if parcels[pid].kind == "pickup" else deliveries
                target.append((pid, visit.stop_id, visit.seq))
        total = len(deliveries)
        trip_lines = [
            SortLine(parcel_id=pid, courier_id=trip.courier_id, trip=trip.trip,
                     bag=k // bag_capacity_parcels + 1, load_position=total - k,
                     stop_id=stop_id, seq=seq)
            for k, (pid, stop_id, seq) in enumerate(deliveries)
        ]
        trip_lines.sort(key=lambda s: (s.bag, s.load_position))
        lines.extend(trip_lines)
        lines.extend(
            SortLine(parcel_id=pid, courier_id=trip.courier_id, trip=trip.trip, bag=0,
                     load_position=0, stop_id=stop_id, seq=seq)
            for pid, stop_id, seq in pickups
        )
    return tuple(lines)
