"""Map a function over items on a Dask cluster, with one shared object shipped once per worker.

Only imported when a Dask client is in use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from distributed import Client

T = TypeVar("T")
R = TypeVar("R")

# Rounds of re-scattering the shared object after the cluster lost every copy of it.
_ROUNDS = 3


def map_shared(client: Client, fn: Callable[[Any, T], R], shared: Any, items: Sequence[T], *,
               on_result: Callable[[int, R], None] | None = None) -> list[R]:
    """Return ``[fn(shared, item) for item in items]`` computed on ``client``'s cluster, in order.

    ``shared`` is scattered to every worker once (not sent with every task). A task whose
    worker dies is rescheduled on another worker (``retries=2`` also covers a task that
    raised on a worker in trouble). Scattered data cannot be recomputed, and the scheduler
    trims replicas nobody waits for, so a dying worker can take the last copy of ``shared``
    with it: the tasks still to run are then cancelled, and they are resubmitted with a fresh
    scatter. ``on_result(index, result)`` is called as results arrive.
    """
    from distributed import as_completed

    results: dict[int, R] = {}
    for round_ in range(_ROUNDS):
        todo = [i for i in range(len(items)) if i not in results]
        if not todo:
            break
        # A list, so that a dict travels as one object rather than one future per key.
        [shared_future] = client.scatter([shared], broadcast=True, hash=False)
        futures = {client.submit(fn, shared_future, items[i], retries=2, pure=False): i for i in todo}
        try:
            for future in as_completed(futures):
                if future.status == "finished":
                    i = futures[future]
                    results[i] = future.result()
                    if on_result is not None:
                        on_result(i, results[i])
                elif future.status == "error":
                    future.result()  # raises the task's own exception
                elif round_ == _ROUNDS - 1:
                    future.result()  # cancelled or lost every round: give up with Dask's error
        finally:
            client.cancel([*futures, shared_future])
    return [results[i] for i in range(len(items))]
