"""A list of tasks shared between this process and spawned workers until it is done.

The workers take tasks from the front, this process from the back (a task not yet handed to
a worker is withdrawn and done here), so every process stays busy to the end: a worker that
starts late, or a process the machine runs slower, simply does fewer tasks. Results come back
in task order.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def share(
    tasks: Sequence[T],
    here: Callable[[T], R],
    elsewhere: Callable[[T], R],
    workers: int,
    start: tuple[Callable[..., None], tuple[Any, ...]] | None = None,
) -> list[R]:
    """``here(task)`` in this process or ``elsewhere(task)`` in one of ``workers - 1`` spawned
    processes (``elsewhere`` picklable; ``start``: the initializer each worker runs first and
    its arguments, pickled once per worker)."""
    if workers < 2 or len(tasks) < 2:
        return [here(task) for task in tasks]
    spawn = multiprocessing.get_context("spawn")  # no inherited connections in the workers
    initializer, initargs = start or (None, ())
    with ProcessPoolExecutor(
        min(workers - 1, len(tasks) - 1), mp_context=spawn, initializer=initializer,
        initargs=initargs,
    ) as pool:  # fmt: skip
        futures: list[Future[R]] = [pool.submit(elsewhere, task) for task in tasks]
        done: dict[int, R] = {}
        try:
            for k in reversed(range(len(tasks))):
                if futures[k].cancel():  # no worker has it yet
                    done[k] = here(tasks[k])
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise
        return [done[k] if k in done else futures[k].result() for k in range(len(tasks))]
