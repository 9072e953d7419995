"""Worker processes: every pool in courier forks from one forkserver that has already imported
the modules its workers run.

A forkserver child starts clean (no copy of the caller's threads or heap), but without a
preload each one imports courier, NumPy, SciPy and the solvers again before it can take a
task: 1.3 s for a pool of two on the 2-core reference machine, paid by every pool (a plan
opens one per routing round and one for the labels), and the caller waits for it because the
task data cannot be handed over until the child reads it. Preloaded, a pool of two starts in
0.03 s.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.context import BaseContext

__all__ = ["PRELOAD", "forkserver"]

# What the workers run: the district solves, the parallel seeds and the label codes.
PRELOAD = ("courier.routes", "courier.routing.solve", "courier.labels")


def forkserver() -> BaseContext:
    """Return the forkserver context, its server told to preload :data:`PRELOAD`.

    The preload list is read when the server starts (the first pool of the process); setting
    it again later changes nothing, so every pool asks through here.
    """
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(list(PRELOAD))
    return ctx
