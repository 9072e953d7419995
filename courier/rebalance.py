"""Evening out automatic districts after routing: the longest routed days hand stops to a
neighbour with room, and the pair is routed again.

The district split balances estimated work; routed days differ from it by windows and waiting,
so part of the routing time (:class:`courier.config.RebalanceConfig`) is kept for this. One
pair per two cores per round, longest first: with every long courier at once, each re-solve got
about 3 s and dropped stops, so the pair was thrown away.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from courier.config import RebalanceConfig
from courier.model import Stop, StreetGraph
from courier.routes import (
    DistrictRoutes,
    DistrictTask,
    iterations_for,
    lanes_after,
    route_districts,
)

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["Effort", "Rebalanced", "day_s", "idle_s", "rebalance"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Effort:
    """How long and how hard evening out may work: until ``deadline_epoch_s`` (wall clock),
    one pair per two ``slots`` a round, each re-solve ``round_work_s`` of the reference core
    under a work budget (None: until the round's end)."""

    deadline_epoch_s: float
    slots: int
    round_work_s: float | None = None


@dataclass(frozen=True, slots=True)
class Rebalanced:
    """The districts after evening out: tasks, their solutions, the matrix seconds of the new
    solves, and how many re-solves the clock cut before their work bound (kept or not)."""

    tasks: list[DistrictTask]
    solved: list[DistrictRoutes]
    matrix_s: float
    resolves: int = 0
    cut: int = 0
    iterations: int = 0  # the work budgets of the re-solves


def rebalance(tasks: Sequence[DistrictTask], solved: Sequence[DistrictRoutes],
              xy_of: Mapping[str, tuple[float, float]], effort: Effort, *,
              graphs: Mapping[str, StreetGraph], client: Client | None,
              config: RebalanceConfig | None = None,
              ) -> Rebalanced:
    """Shorten the longest routed days, in ``config.rounds`` rounds sharing the time left.

    Each round, the longest days over (1 + config.over) times the mean (one per two
    slots, so that each re-solve has a core for the whole round) hand stops to a district
    with room (of the three nearest, the most room; never a pair tried
    before): room is the part of the mean day it does not work plus the time it waits. Both
    are solved again; the pair keeps the new plans only if its longer day gets shorter and no
    more stops are dropped. The stops handed over are the long district's dropped ones first,
    then those nearest the other district's centre; as many as bring the long day down to the
    mean without filling more than the other's room, in proportion to stops:
    len(stops) x (day - mean) / day. With ``effort.round_work_s`` (a work budget: each re-solve has one
    core of the reference machine for that long, see :func:`courier.routes.iterations_for`)
    a re-solve is bounded by work, and ``effort.slots`` must be the budget's cores, not the
    machine's, so that the plan does not depend on where it runs; the clock stays a cap.
    """
    config = config or RebalanceConfig()
    out_tasks, out_solved = list(tasks), list(solved)
    tried: set[tuple[int, int]] = set()
    matrix_s = 0.0
    cut = resolves = iterations = 0
    for round_no in range(config.rounds):
        round_end = time.time() + (effort.deadline_epoch_s - time.time()) / (config.rounds - round_no)
        pairs = _pairs(out_tasks, out_solved, xy_of, tried, config)[:max(1, effort.slots // 2)]
        if not pairs:
            break
        tried.update((o, r) for o, r, _, _ in pairs)
        sizes = [n for _, _, keep, gain in pairs for n in (len(keep), len(gain))]
        workers = max(1, min(effort.slots, len(sizes)))
        queued = lanes_after(sizes, workers)
        again = [replace(out_tasks[k], stops=tuple(part), deadline_epoch_s=round_end,
                         queued_stops=queued[2 * j + side],
                         iterations=None if effort.round_work_s is None
                         else iterations_for(len(part), effort.round_work_s))
                 for j, (o, r, keep, gain) in enumerate(pairs)
                 for side, (k, part) in enumerate(((o, keep), (r, gain)))]
        redone = route_districts(again, graphs, workers, client=client)
        matrix_s += sum(s.matrix_s for s in redone)
        cut += sum(s.cut for s in redone)
        resolves += len(redone)
        iterations += sum(t.iterations or 0 for t in again)
        for j, (o, r, _, _) in enumerate(pairs):
            new_o, new_r = redone[2 * j], redone[2 * j + 1]
            before = (max(day_s(out_solved[o]), day_s(out_solved[r])),
                      _dropped(out_solved[o]) + _dropped(out_solved[r]))
            after = max(day_s(new_o), day_s(new_r)), _dropped(new_o) + _dropped(new_r)
            log.info("rebalance %s -> %s: longer day %.2f -> %.2f h, dropped %d -> %d",
                     out_tasks[o].couriers[0].courier_id, out_tasks[r].couriers[0].courier_id,
                     before[0] / 3600, after[0] / 3600, before[1], after[1])
            if after[0] < before[0] and after[1] <= before[1]:
                out_tasks[o], out_tasks[r] = again[2 * j], again[2 * j + 1]
                out_solved[o], out_solved[r] = new_o, new_r
    return Rebalanced(tasks=out_tasks, solved=out_solved, matrix_s=matrix_s, resolves=resolves,
                      cut=cut, iterations=iterations)


def _pairs(tasks: Sequence[DistrictTask], solved: Sequence[DistrictRoutes],
           xy_of: Mapping[str, tuple[float, float]], tried: set[tuple[int, int]],
           config: RebalanceConfig) -> list[tuple[int, int, list[Stop], list[Stop]]]:
    """Return (long district, receiver, its stops kept, the receiver's stops) for a round.

    A receiver has room for the part of the mean day it does not work plus the time it waits
    (for a window at a door, or at the station for the next trip): a courier out from 10:45
    to 19:00 for morning and evening windows, with two hours of waiting, can take stops
    without coming back later.
    """
    day = [day_s(s) for s in solved]
    used = [d for d in day if d > 0]
    if len(used) < 2:
        return []
    mean = sum(used) / len(used)
    idle = [idle_s(s, t.options.reload_s) for s, t in zip(solved, tasks, strict=True)]
    room = [max(0.0, mean - d) + w for d, w in zip(day, idle, strict=True)]
    centre = [_centre([xy_of[st.stop_id] for st in t.stops]) for t in tasks]
    short = {k for k in range(len(tasks)) if room[k] >= config.min_room_s
             and day[k] <= (1 + config.over) * mean}
    pairs: list[tuple[int, int, list[Stop], list[Stop]]] = []
    for o in sorted(range(len(tasks)), key=lambda k: (-day[k], k)):
        if day[o] <= (1 + config.over) * mean:
            break
        near = sorted((k for k in short if (o, k) not in tried),
                      key=lambda k: (_dist2(centre[o], centre[k]), k))[:3]
        if not near:
            continue
        r = min(near, key=lambda k: (-room[k], _dist2(centre[o], centre[k]), k))
        short.discard(r)
        count = round(len(tasks[o].stops) * (day[o] - mean) / day[o])
        busy = day[r] - idle[r]
        if busy > 0:
            count = min(count, round(len(tasks[r].stops) * room[r] / busy))
        count = max(1, count)
        dropped = {sid for sid, code in solved[o].drops if code == "dropped"}
        # A stop whose windows lie outside the receiver's day would stretch it (one evening
        # stop keeps a courier who was back at 14:00 out until 18:00): those go last.
        receiver = tasks[r].couriers[0]
        hours = _hours_s(solved[r]) or (receiver.shift_start_s, receiver.shift_end_s)
        ranked = sorted(tasks[o].stops, key=lambda st: (
            st.stop_id not in dropped,
            bool(st.windows_s) and not any(a <= hours[1] and b >= hours[0]
                                           for a, b in st.windows_s),
            _dist2(xy_of[st.stop_id], centre[r])))
        moving = {st.stop_id for st in ranked[:count]}
        keep = [st for st in tasks[o].stops if st.stop_id not in moving]
        gain = [*tasks[r].stops, *(st for st in tasks[o].stops if st.stop_id in moving)]
        pairs.append((o, r, keep, gain))
    return pairs


def idle_s(solved: DistrictRoutes, reload_s: int) -> int:
    """Time inside the routed day spent neither travelling, serving, reloading nor at lunch:
    waiting at doors for windows to open, and at the station beyond the reload."""
    lunches = [(start, end) for _, start, end in solved.breaks]

    def waiting(start: int, end: int) -> int:
        return max(0, end - start - sum(max(0, min(end, b) - max(start, a)) for a, b in lunches))

    trips = sorted(solved.trips, key=lambda t: t.depart_s)
    at_doors = sum(waiting(v.arrival_s, v.start_s) for t in trips for v in t.visits)
    at_station = sum(max(0, waiting(prev.return_s, nxt.depart_s) - reload_s)
                     for prev, nxt in itertools.pairwise(trips))
    return at_doors + at_station


def _hours_s(solved: DistrictRoutes) -> tuple[int, int] | None:
    """The courier's routed day (first departure, last return); None without trips."""
    if not solved.trips:
        return None
    return min(t.depart_s for t in solved.trips), max(t.return_s for t in solved.trips)


def day_s(solved: DistrictRoutes) -> int:
    """The length of the courier's routed day (0 without trips)."""
    hours = _hours_s(solved)
    return hours[1] - hours[0] if hours else 0


def _dropped(solved: DistrictRoutes) -> int:
    return sum(1 for _, code in solved.drops if code == "dropped")


def _centre(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    if not points:
        return (0.0, 0.0)
    return (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))


def _dist2(a: tuple[float, float], b: tuple[float, float]) -> float:
    return (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2
