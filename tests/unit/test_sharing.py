"""Tasks shared between this process and a spawned worker come back whole and in order."""

from __future__ import annotations

import os

from persistence.sharing import share


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
