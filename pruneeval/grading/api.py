"""The grading calls: ``grade`` (one output), ``grade_many`` (a batch, in worker processes) and
``grade_jsonl`` (``pruneeval grade FILE.jsonl``).  Grading never raises on content and never hangs:
each grade runs under a deadline, and ``grade_many`` kills a worker stuck past it."""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Sequence

from ..errors import UserError
from ..records import iter_jsonl
from .local import grade_here
from .pool import pool
from .verdict import NUMERIC_FAMILIES, Grade, family


def _main_thread() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def grade(output: str, gold: str, benchmark: str, *, finish_reason: str | None = None,
          timeout_s: float = 5.0) -> Grade:
    """Grade one ``output`` against ``gold`` under ``benchmark``'s rules (a benchmark or family name).

    ``finish_reason`` is the engine's ("stop": it ended the output; "length": the token limit cut
    it off); None when unknown, and then a cut-off is judged from the text.  Never raises on
    content; returns within about ``timeout_s``.  In the main thread it runs here under a SIGALRM
    deadline (a caller's own alarm is restored after); from another thread it goes to a worker
    process.  An unknown benchmark raises ``UserError`` (configuration, not an answer)."""
    fam = family(benchmark)
    if _main_thread():
        return grade_here(output, gold, fam, timeout_s, finish_reason)
    return pool(1).run([(output, gold, fam, finish_reason)], 1, timeout_s)[0]


def grade_many(items: Sequence[tuple[str, str, str]], workers: int | None = None, timeout_s: float = 10.0,
               *, finish_reasons: Sequence[str | None] | None = None) -> list[Grade]:
    """Grade ``(output, gold, benchmark)`` triples, in order, each within about ``timeout_s``;
    ``finish_reasons``, when given, holds each output's (see ``grade``).

    ``workers`` spawned processes (default: CPU count, at most 8; kept for later calls) grade
    chunks of items; ``workers`` 0 or 1 grades here when called from the main thread.  By default
    a batch of numeric-answer families (GSM8K, toy) is also graded here: its answers compare as
    numbers, and spawning workers would cost more than the grading.  Nothing is started for an
    empty batch.  A script calling this needs the ``if __name__ == "__main__":`` guard."""
    finish = list(finish_reasons) if finish_reasons is not None else [None] * len(items)
    if len(finish) != len(items):
        raise ValueError(f"{len(finish)} finish reasons for {len(items)} items")
    jobs = [(o, g, family(b), f) for (o, g, b), f in zip(items, finish)]
    if not jobs:
        return []
    if workers is None and all(j[2] in NUMERIC_FAMILIES for j in jobs) and _main_thread():
        workers = 0
    if workers is not None and workers <= 1 and _main_thread():
        return [grade_here(o, g, fam, timeout_s, f) for o, g, fam, f in jobs]
    n = max(1, workers or min(os.cpu_count() or 1, 8))
    return pool(n).run(jobs, max(1, min(64, -(-len(jobs) // (4 * n)))), timeout_s)


def _read_jsonl(path) -> list[dict]:
    rows = []
    for where, row in iter_jsonl(path):
        for key in ("output", "gold"):
            if not isinstance(row.get(key), str):
                raise UserError(f"{where}: " + (f"field {key!r} is not a string" if key in row
                                                else f"missing field {key!r}"))
        if row.get("finish_reason") is not None and not isinstance(row["finish_reason"], str):
            raise UserError(f"{where}: field 'finish_reason' is not a string")
        rows.append(row)
    return rows


def grade_jsonl(in_path, benchmark: str, out_path=None, workers: int | None = None) -> dict:
    """Grade JSON lines with ``output``, ``gold`` and optionally ``finish_reason``; returns
    ``{"n", "correct", "accuracy"}``.

    With ``out_path`` every line is written back with ``correct``, ``extracted`` and ``reason`` added
    (atomically: a temporary file, then ``os.replace``); without it nothing is written.  Bad input
    raises ``UserError("FILE:LINE: what is wrong")``."""
    family(benchmark)  # an unknown benchmark fails before any work
    try:
        rows = _read_jsonl(in_path)
    except OSError as e:
        raise UserError(f"{in_path}: cannot read ({e.strerror})") from None
    grades = grade_many([(r["output"], r["gold"], benchmark) for r in rows], workers,
                        finish_reasons=[r.get("finish_reason") for r in rows])
    if out_path is not None:
        tmp = f"{out_path}.tmp{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            for r, g in zip(rows, grades):
                f.write(json.dumps({**r, "correct": g.correct, "extracted": g.extracted, "reason": g.reason}) + "\n")
        os.replace(tmp, out_path)
    n, correct = len(grades), sum(g.correct for g in grades)
    return {"n": n, "correct": correct, "accuracy": correct / n if n else 0.0}
