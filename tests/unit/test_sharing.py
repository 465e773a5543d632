"""Tasks shared between this process and a spawned worker come back whole and in order; the
cores counted are those the process may use; the collector pause leaves the collector as it was."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

from persistence.sharing import collector_paused, share, usable_cores


def _elsewhere(task: int) -> tuple[int, int]:
    return task * 2, os.getpid()


def test_every_task_is_done_once_in_order_by_one_process_or_the_other() -> None:
    done = share(list(range(40)), lambda task: (task * 2, os.getpid()), _elsewhere, workers=2)
    assert [value for value, _ in done] == [task * 2 for task in range(40)]
    assert os.getpid() in {pid for _, pid in done}  # this process took tasks from the back
    assert done[-1][1] == os.getpid()


def test_one_worker_does_everything_here() -> None:
    assert share([1, 2], lambda task: (task, os.getpid()), _elsewhere, workers=1) == [
        (1, os.getpid()), (2, os.getpid())]  # fmt: skip


def test_the_cores_counted_are_those_this_process_may_run_on() -> None:
    first = min(os.sched_getaffinity(0))
    pinned = subprocess.run(
        [sys.executable, "-c", "import os; from persistence.sharing import usable_cores; "
         f"os.sched_setaffinity(0, {{{first}}}); print(usable_cores())"],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    assert pinned.stdout.strip() == "1"
    assert usable_cores() == len(os.sched_getaffinity(0))


def test_the_collector_is_paused_inside_and_left_as_it_was_after() -> None:
    was = gc.isenabled()
    try:
        gc.enable()
        with collector_paused():
            assert not gc.isenabled()
        assert gc.isenabled()
        gc.disable()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        if was:
            gc.enable()
