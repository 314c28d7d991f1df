"""A SIGALRM deadline around one grading, in the main thread: it fires only inside the code it
guards (never in its own set-up or clean-up, a gc callback or a ``__del__``) and restores the
caller's handler and timer on every path."""

from __future__ import annotations

import gc
import signal
import sys
import time


class GradingTimeout(BaseException):
    """Raised by our SIGALRM deadline; a BaseException, so libraries' ``except Exception`` miss it."""


def with_deadline(fn, seconds: float):
    """Run ``fn()`` under a SIGALRM deadline (main thread only); it cannot fire outside its scope.

    The handler raises ``GradingTimeout`` only while armed and only in code that ``fn()`` called, never in
    this function's own set-up and clean-up, nor in a garbage-collector callback or ``__del__`` that
    happens to run then (an exception there is printed and lost): such a tick is retried 1 ms later.
    The timer re-fires every 0.1 s, so code that swallows one ``GradingTimeout`` still stops.  On every
    path (return, exception, ``GradingTimeout``) it is disarmed, cancelled, and the caller's handler and
    timer are restored."""
    me, armed, start = sys._getframe(), [False], time.monotonic()

    def fire(signum, frame):
        if armed[0] and in_scope(frame, me):
            raise GradingTimeout
        if armed[0]:
            signal.setitimer(signal.ITIMER_REAL, 1e-3, 0.1)

    old, prev = signal.getsignal(signal.SIGALRM), (0.0, 0.0)
    try:
        signal.signal(signal.SIGALRM, fire)
        prev = signal.setitimer(signal.ITIMER_REAL, max(seconds, 1e-3), 0.1)
        armed[0] = True
        return fn()
    finally:
        armed[0] = False  # from here on a late tick does nothing (and this frame is out of scope)
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        me = None  # fire's reference to this frame made a cycle: every grading left garbage behind
        if prev[0] > 0:
            signal.setitimer(signal.ITIMER_REAL, max(prev[0] - (time.monotonic() - start), 1e-3), prev[1])


def in_scope(frame, guard) -> bool:
    """Whether ``frame`` runs inside a call made by the ``guard`` frame, and not in a gc callback or
    a ``__del__`` (where a raised exception would be lost)."""
    side = {getattr(cb, "__code__", None) for cb in gc.callbacks}
    f = frame if frame is not guard else None
    while f is not None and f is not guard:
        if f.f_code in side or f.f_code.co_name == "__del__":
            return False
        f = f.f_back
    return f is guard
