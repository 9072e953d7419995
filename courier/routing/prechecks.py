"""Pre-checks: the stops no courier can serve, with the most basic reason, before any search.

Run once per routing problem, whatever the backend (:func:`courier.routing.solve.solve`).
"""

from __future__ import annotations

import numpy as np

from courier.routing.problem import RoutingProblem

__all__ = ["prechecks"]

# "No start possible": far above any time of day, and safe to add a day to.
_NEVER = int(np.iinfo(np.int64).max // 2)


def prechecks(problem: RoutingProblem, *, one_trip_waits: bool = True,
              ) -> tuple[dict[int, str], dict[int, list[int]]]:
    """Find the stops no vehicle can serve, and the vehicles that can serve each other stop.

    Each check narrows the candidate vehicles of a stop; the first check that leaves none
    gives the reason, so the reason is the most basic one (no path before no capacity before
    a closed window before a stop ready too late before a short shift). Vectorised over
    (vehicle, stop): a station has hundreds of couriers and thousands of stops.

    ``one_trip_waits``: whether the backend lets a courier with a single trip wait at the
    station for a later wave (else such a courier serves only what is ready at the start).

    Returns
    -------
    reasons
        ``{node: reason_code}`` for stops removed before the solver.
    allowed
        ``{node: [vehicle, ...]}`` for the other stops (problem vehicle indices).
    """
    n1 = problem.n_stops + 1
    vehicles = problem.vehicles
    big = problem.unreachable
    if not vehicles:
        return dict.fromkeys(range(1, n1), "shift_too_short"), {}
    out_s = np.stack([np.asarray(problem.time_s[v.profile], np.int64)[0] for v in vehicles])
    back_s = np.stack([np.asarray(problem.time_s[v.profile], np.int64)[:, 0] for v in vehicles])
    reach = (out_s < big) & (back_s < big)
    cap = np.asarray([v.capacity for v in vehicles], dtype=np.int64)  # (V, 3)
    delivery = np.asarray(problem.delivery, dtype=np.int64)
    pickup = np.asarray(problem.pickup, dtype=np.int64)
    if any(v.max_trips > 1 for v in vehicles):
        # With reloads a trip's deliveries and pickups share the capacity (see _build).
        fits = np.all((delivery + pickup)[None] <= cap[:, None], axis=2)
    else:
        fits = np.all(delivery[None] <= cap[:, None], axis=2) & np.all(
            pickup[None] <= cap[:, None], axis=2
        )
    shift_start = np.asarray([v.shift_start_s for v in vehicles], dtype=np.int64)[:, None]
    shift_end = np.asarray([v.shift_end_s for v in vehicles], dtype=np.int64)[:, None]
    service = np.asarray(problem.service_s, dtype=np.int64)[None]
    # A stop ready late (its truck's wave) leaves the station at its ready time at the earliest.
    ready = np.asarray(problem.ready_s, dtype=np.int64)[None]
    leave = np.maximum(shift_start, ready)
    if not one_trip_waits:
        one_trip = np.asarray([v.max_trips <= 1 for v in vehicles])[:, None]
        leave = np.where(one_trip & (ready > shift_start), _NEVER // 2, leave)
    is_open, home = _home(problem, leave, out_s, back_s, reach, service)
    long_enough = home <= shift_end
    # Would the shift be long enough had the stop been ready at the shift start? If so, the
    # late wave, not the shift, is why no courier can take it.
    not_late = np.ones_like(long_enough)
    if problem.has_ready:
        _, early_home = _home(problem, np.broadcast_to(shift_start, leave.shape), out_s,
                              back_s, reach, service)
        not_late = (early_home > shift_end) | long_enough
    reasons: dict[int, str] = {}
    allowed: dict[int, list[int]] = {}
    steps = (
        ("unreachable", reach),
        ("too_big", fits),
        ("window_closed", is_open),
        ("not_ready_in_time", not_late),
        ("shift_too_short", long_enough),
    )
    for node in range(1, n1):
        mask = np.ones(len(vehicles), dtype=bool)
        for code, ok in steps:
            mask = mask & ok[:, node]
            if not mask.any():
                reasons[node] = code
                break
        else:
            allowed[node] = [int(v) for v in np.flatnonzero(mask)]
    return reasons, allowed


def _home(problem: RoutingProblem, leave: np.ndarray, out_s: np.ndarray, back_s: np.ndarray,
          reach: np.ndarray, service: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return, per (vehicle, stop), whether a window is open on arrival when leaving at
    ``leave``, and when the courier is back (``_NEVER`` when not)."""
    never = _NEVER
    arrival = np.where(reach, leave + np.where(reach, out_s, 0), never)
    start = arrival.copy()
    for node, windows in enumerate(problem.windows_s):
        if node == 0 or not windows:
            continue
        col = arrival[:, node]
        best = np.full_like(col, never)
        for a, b in windows:
            best = np.where((col <= b) & (col < never), np.minimum(best, np.maximum(col, a)), best)
        start[:, node] = best
    is_open = start < never
    home = np.where(is_open & reach, start + service + np.where(reach, back_s, 0), never)
    return is_open, home
