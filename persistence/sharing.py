"""A list of tasks shared between this process and spawned workers until it is done.

The workers take tasks from the front, this process from the back (a task not yet handed to
a worker is withdrawn and done here), so every process stays busy to the end: a worker that
starts late, or a process the machine runs slower, simply does fewer tasks. Results come back
in task order.
The cyclic garbage collector is paused while a process verifies its share
(``collector_paused``): the rows are plain dicts and lists that form no cycles, and its passes
over them cost about 3 % of the time.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
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


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity where the system keeps one (a
    container or ``taskset`` may allow fewer than the machine has), else every core."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else os.cpu_count() or 1


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block (as it was after it); what became garbage
    in cycles meanwhile is collected at the next pass."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
