"""The CLI's step timeouts: SIGALRM's handler is installed once, each step arms the timer."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator

import pytest

from fsm.attempts import ProcessAlarm, in_thread, running
from fsm.errors import StepTimeout


@pytest.fixture
def alarm() -> Iterator[ProcessAlarm]:
    """A process alarm of its own; SIGALRM's handler and timer are put back afterwards."""
    previous = signal.getsignal(signal.SIGALRM)
    yield ProcessAlarm()
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


def _hang() -> None:
    time.sleep(5)


def test_a_hanging_step_in_the_main_thread_is_stopped_by_the_timer(alarm: ProcessAlarm) -> None:
    started = time.monotonic()
    with pytest.raises(StepTimeout, match=r"step planning did not finish within 0\.2 s"):
        alarm(_hang, 0.2, "planning")
    assert time.monotonic() - started < 1


def test_the_handler_is_installed_once_and_steps_only_arm_the_timer(
    alarm: ProcessAlarm, monkeypatch: pytest.MonkeyPatch
) -> None:
    installs: list[object] = []
    install = signal.signal
    monkeypatch.setattr(signal, "signal", lambda n, h: installs.append(h) or install(n, h))
    assert [alarm(lambda: "ok", 5.0, "planning") for _ in range(3)] == ["ok"] * 3
    assert len(installs) == 1
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)  # disarmed between steps


def test_an_alarm_after_the_step_ended_stops_nothing(alarm: ProcessAlarm) -> None:
    alarm(lambda: None, 5.0, "analyzing")
    signal.raise_signal(signal.SIGALRM)  # would be a StepTimeout if a step were armed


def test_off_the_main_thread_a_step_runs_in_a_helper_thread(alarm: ProcessAlarm) -> None:
    before = signal.getsignal(signal.SIGALRM)
    errors: list[BaseException] = []

    def lane() -> None:
        try:
            alarm(_hang, 0.2, "generating_signals")
        except StepTimeout as exc:
            errors.append(exc)

    thread = threading.Thread(target=lane)
    thread.start()
    thread.join(timeout=3)
    assert [type(e) for e in errors] == [StepTimeout]
    assert signal.getsignal(signal.SIGALRM) is before  # nothing installed from that thread


def _hang_in_plugins() -> None:
    with running("strategy plugin 'slow' (slow 1.0)"), running("market data plugin 'feed' (f 2)"):
        time.sleep(5)


def test_a_timeout_names_the_plugin_that_did_not_return(alarm: ProcessAlarm) -> None:
    said = r"market data plugin 'feed' \(f 2\) did not return within 0\.2 s, the timeout of step"
    with pytest.raises(StepTimeout, match=f"{said} analyzing"):
        alarm(_hang_in_plugins, 0.2, "analyzing")  # the innermost: what it was waiting for
    with pytest.raises(StepTimeout, match=f"{said} generating_signals"):
        in_thread(_hang_in_plugins, 0.2, "generating_signals")


def test_a_plugin_that_returned_is_not_named(alarm: ProcessAlarm) -> None:
    def returned_then_hang() -> None:
        with running("strategy plugin 'quick' (quick 1.0)"):
            pass
        time.sleep(5)

    with pytest.raises(StepTimeout, match=r"^step planning did not finish within 0\.2 s$"):
        alarm(returned_then_hang, 0.2, "planning")
