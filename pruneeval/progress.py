"""Rich progress bars for long stages: samples done, tokens/s and running accuracy."""

from __future__ import annotations

import sys
import time

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class SampleProgress:
    """Progress over generated samples; quiet (no bar) when stderr is not a terminal and CI is set."""

    def __init__(self, label: str, total: int, done: int = 0):
        self.label, self.total, self.done = label, total, done
        self.tokens = self.correct = self.new = 0
        self.t0 = time.perf_counter()
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[tps]:>7.0f} tok/s  acc {task.fields[acc]:.1%}"),
            TimeElapsedColumn(), TimeRemainingColumn(), transient=False,
            disable=not sys.stderr.isatty(),
        )

    def __enter__(self):
        self.progress.__enter__()
        self.task = self.progress.add_task(self.label or "samples", total=self.total, completed=self.done,
                                           tps=0.0, acc=0.0)
        return self

    def advance(self, records) -> None:
        self.new += len(records)
        self.tokens += sum(r.n_tokens for r in records)
        self.correct += sum(r.correct for r in records)
        elapsed = max(time.perf_counter() - self.t0, 1e-9)
        self.progress.update(self.task, advance=len(records), tps=self.tokens / elapsed,
                             acc=self.correct / self.new if self.new else 0.0)

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)
