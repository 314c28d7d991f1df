"""The grading deadline (SIGALRM) fires only inside the grading it guards: never after the grading
has returned or raised, never in a garbage-collector callback, and a caller's own alarm survives."""

from __future__ import annotations

import gc
import signal
import sys
import time

import pytest
from pruneeval.grading import grade
from pruneeval.grading.deadline import GradingTimeout, with_deadline

# math-verify decides it (the cheap paths do not read \lfloor): 10 ms or more, so a 1-8 ms deadline fires anywhere in it
NEEDS_MATH_VERIFY = ("\\boxed{\\lfloor x \\rfloor+\\frac{1}{2}}", "\\lfloor x\\rfloor+0.5")
SLOW = "\\boxed{9^{9^{9^{9}}}}"  # graded "timeout" at any deadline we use


def _no_deadline_left(handler) -> None:
    """No timer is left, the handler is the one before, and no late tick arrives."""
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is handler
    end = time.monotonic() + 0.3  # three re-fire periods of a leaked timer, busy and asleep
    while time.monotonic() < end:
        sum(range(1000))
    time.sleep(0.2)


def test_a_deadline_never_fires_after_its_grading():
    """1,000 gradings (10 ms or more each in math-verify, never the same: no cache) under deadlines of 1 to 8 ms, so
    that deadlines fire all over the set-up, the work and the clean-up; then nothing may remain."""
    grade(*NEEDS_MATH_VERIFY, "math")
    handler = signal.getsignal(signal.SIGALRM)
    reasons = set()
    for i in range(1000):
        g = grade(f"\\boxed{{\\lfloor x \\rfloor+\\frac{{1}}{{{i + 1000}}}}}", f"\\lfloor x\\rfloor+1/{i + 1000}", "math",
                  timeout_s=(i % 8 + 1) / 1000)
        reasons.add(g.reason)
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0), f"a timer left armed after grading {i}"
    assert "timeout" in reasons
    _no_deadline_left(handler)


def test_a_tick_at_any_signal_check_of_set_up_or_clean_up_is_harmless():
    """Python runs a signal handler where it checks for signals, at calls and returns.  Deliver a
    tick at each call the deadline's own code makes while its handler is installed (before and after
    the guarded function): none may raise or leave a timer behind."""
    code, handler = with_deadline.__code__, signal.getsignal(signal.SIGALRM)
    k, sent = 0, True
    while sent:
        seen, sent = [0], False

        def tick(frame, event, arg):
            nonlocal sent
            ours = signal.getsignal(signal.SIGALRM) is not handler
            if frame.f_code is code and event in ("c_call", "c_return") and ours:
                if seen[0] == k:
                    signal.raise_signal(signal.SIGALRM)
                    sent = True
                seen[0] += 1

        sys.setprofile(tick)
        try:
            result = with_deadline(lambda: 7, 10.0)
        finally:
            sys.setprofile(None)
        assert result == 7
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0) and signal.getsignal(signal.SIGALRM) is handler
        k += 1
    assert k > 4
    _no_deadline_left(handler)


def test_no_deadline_left_after_an_exception_or_a_timeout():
    handler = signal.getsignal(signal.SIGALRM)
    with pytest.raises(ZeroDivisionError):
        with_deadline(lambda: 1 / 0, 0.05)
    _no_deadline_left(handler)
    with pytest.raises(GradingTimeout):
        with_deadline(lambda: time.sleep(5), 0.05)
    _no_deadline_left(handler)
    assert grade(SLOW, "5", "math", timeout_s=0.2).reason == "timeout"
    _no_deadline_left(handler)


def test_a_deadline_skips_gc_callbacks_and_stays_on_time(monkeypatch):
    """A timeout raised in a gc callback is printed and lost (the test run once logged one inside
    hypothesis's callback); the deadline must wait for the grading's own code, and not be late."""
    grade(*NEEDS_MATH_VERIFY, "math")
    lost = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: lost.append(u.exc_type))

    def slow_callback(phase, info):  # gc callbacks take most of the time: ticks land in them
        end = time.perf_counter() + 0.002
        while time.perf_counter() < end:
            pass

    threshold = gc.get_threshold()
    gc.set_threshold(20)
    gc.callbacks.append(slow_callback)
    try:
        t0 = time.monotonic()
        g = grade(SLOW, "5", "math", timeout_s=0.5)
        elapsed = time.monotonic() - t0
    finally:
        gc.callbacks.remove(slow_callback)
        gc.set_threshold(*threshold)
    assert g.reason == "timeout" and lost == []
    assert elapsed < 1.5  # 4.8 s when ticks were lost in the callbacks


def test_a_callers_alarm_is_restored():
    ticks = []
    old = signal.signal(signal.SIGALRM, lambda s, f: ticks.append(time.monotonic()))
    try:
        t0 = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, 0.4)
        assert grade(SLOW, "5", "math", timeout_s=0.1).reason == "timeout"
        assert grade(*NEEDS_MATH_VERIFY, "math").correct
        while not ticks and time.monotonic() - t0 < 2:
            time.sleep(0.01)
        assert len(ticks) == 1 and 0.35 < ticks[0] - t0 < 0.6
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
