"""Start a ``pruneeval`` command and SIGKILL it at a point of its progress, for kill-and-resume tests."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

PRUNEEVAL = [sys.executable, "-m", "pruneeval.cli"]


def lines(path: Path) -> int:
    """Finished lines of a file being appended to (0 while it does not exist)."""
    return path.read_bytes().count(b"\n") if path.exists() else 0


def kill_when(args, env, ready: Callable[[], bool], after_s: float = 0.0, timeout_s: float = 600,
              where: Callable[[], str] = lambda: "") -> None:
    """Start ``pruneeval ARGS``; once ``ready()`` (or after ``timeout_s``) wait ``after_s`` more and
    SIGKILL it.  Fails if the run ended by itself before the kill."""
    proc = subprocess.Popen([*PRUNEEVAL, *map(str, args)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout_s
    while not ready() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(after_s)
    assert proc.poll() is None, f"the run ended before the kill point {where()}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def kill_three_times(args, env, progress: Callable[[], int], rng, jitter_s: float, targets=None) -> list[int]:
    """Start ``args`` three times; each time wait until ``progress()`` reaches the next target (by
    default: moves past where it was), then a random ``0..jitter_s`` more, so the kill lands anywhere
    in the next piece of work, and SIGKILL it.  Returns the progress seen after each kill."""
    seen = []
    for i in range(3):
        target = targets[i] if targets else progress() + 1
        kill_when(args, env, lambda: progress() >= target, after_s=rng.uniform(0, jitter_s),
                  where=lambda: f"(progress {progress()}, target {target})")
        seen.append(progress())
    return seen
