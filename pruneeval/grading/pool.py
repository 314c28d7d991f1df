"""Worker processes for batch grading (``grade_many``).

math-verify's timeouts use ``signal.alarm``, which works only in a process's main thread, so
batches are graded in spawned processes, each grading in its own main thread; the parent also
enforces the deadline and replaces a worker stuck where the alarm cannot reach (e.g. in C)."""

from __future__ import annotations

import os
import signal
import threading
import time

from .equivalence import warm_up
from .extract import as_text
from .local import extract_for, grade_here
from .verdict import Grade, cap

STARTUP_S = 120  # a grading worker process must start (import and warm up math-verify) within this


def _worker(conn) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent owns Ctrl-C and kills its workers
    warm_up()
    try:
        conn.send("ready")
        while True:
            timeout_s, items = conn.recv()
            for i, (output, gold, fam, finish) in items:
                conn.send((i, grade_here(output, gold, fam, timeout_s, finish)))
    except (EOFError, OSError):  # the parent is gone
        pass


class _Worker:
    def __init__(self, ctx):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child,), daemon=True)
        self.proc.start()
        child.close()
        self.ready, self.pending, self.since = False, [], time.monotonic()

    def limit(self, item_limit: float) -> float:
        return item_limit if self.ready else STARTUP_S

    def stop(self) -> None:
        self.proc.kill()
        self.proc.join()
        self.conn.close()


class Pool:
    """Spawned worker processes, kept for later calls, fed chunks of items.  A worker silent on one
    item past the timeout (stuck where the alarm cannot reach, e.g. in C) is killed and replaced;
    that item is graded "timeout" and the rest of its chunk is sent again."""

    def __init__(self, n: int):
        import multiprocessing

        self.ctx, self.n, self.workers, self.lock = multiprocessing.get_context("spawn"), n, [], threading.Lock()
        self.pid = os.getpid()  # a forked child must not use its parent's workers

    def run(self, items: list, chunk: int, timeout_s: float, inner_s: float | None = None) -> list[Grade]:
        """Grades of ``items`` in order; ``inner_s`` (tests) overrides the workers' own deadline."""
        with self.lock:
            try:
                return self._run(items, chunk, timeout_s, inner_s or timeout_s)
            except BaseException:  # Ctrl-C or a failed start: no worker keeps a half-done chunk
                for w in self.workers:
                    w.stop()
                self.workers = []
                raise

    def _run(self, items: list, chunk: int, timeout_s: float, inner_s: float) -> list[Grade]:
        from collections import deque
        from multiprocessing.connection import wait

        results: list = [None] * len(items)
        indexed = list(enumerate(items))
        queue = deque(indexed[k:k + chunk] for k in range(0, len(indexed), chunk))
        while len(self.workers) < min(self.n, len(queue)):
            self.workers.append(_Worker(self.ctx))
        limit = timeout_s + max(1.0, 0.2 * timeout_s)
        while queue or any(w.pending for w in self.workers):
            now = time.monotonic()
            for w in self.workers:
                if w.ready and not w.pending and queue:
                    w.pending, w.since = queue.popleft(), now
                    w.conn.send((inner_s, w.pending))
            active = [w for w in self.workers if not w.ready or w.pending]
            ready = wait([w.conn for w in active], max(0.0, min(w.since + w.limit(limit) - now for w in active)))
            for w in active:
                if w.conn in ready:
                    self._receive(w, results, queue)
                elif time.monotonic() - w.since > w.limit(limit):
                    if not w.ready:
                        raise RuntimeError(f"a grading worker did not start within {STARTUP_S} s")
                    self._replace(w, "timeout", results, queue)
        return results

    def _receive(self, w: _Worker, results: list, queue) -> None:
        try:
            msg = w.conn.recv()
        except (EOFError, OSError):  # the worker died (killed for memory, crashed in C)
            if not w.ready:
                raise RuntimeError("a grading worker failed to start (spawned workers re-import __main__: "
                                   "guard a script with `if __name__ == '__main__':`)") from None
            return self._replace(w, "parse_error", results, queue)
        if msg == "ready":
            w.ready = True
        else:
            results[msg[0]] = msg[1]
            w.pending.pop(0)
            w.since = time.monotonic()

    def _replace(self, w: _Worker, reason: str, results: list, queue) -> None:
        (i, (output, gold, fam, finish)), rest = w.pending[0], w.pending[1:]
        try:
            extracted = cap(extract_for(output, as_text(gold).strip(), fam, finish)[0])
        except Exception:
            extracted = None
        results[i] = Grade(False, extracted, reason)
        if rest:
            queue.appendleft(rest)
        w.stop()
        self.workers[self.workers.index(w)] = _Worker(self.ctx)


_POOLS: dict[int, Pool] = {}
_POOLS_LOCK = threading.Lock()


def pool(n: int) -> Pool:
    """The pool of ``n`` workers of this process, started on first use and kept."""
    with _POOLS_LOCK:
        if n not in _POOLS or _POOLS[n].pid != os.getpid():
            _POOLS[n] = Pool(n)
        return _POOLS[n]
