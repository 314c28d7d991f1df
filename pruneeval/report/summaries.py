"""Terminal table of per-task eval summaries (``pruneeval eval`` / ``presample``)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text


def print_summaries(summaries: dict[str, dict], out: Path | None = None) -> None:
    table = Table(title=Text(f"pruneeval results{f' ({out})' if out else ''}"), caption="tokens: mean / median / p90 generated")
    for col in ("task", "n", "acc", "mean", "median", "p90", "trunc", "no ans", "gen s", "tok/s"):
        table.add_column(col, justify="left" if col == "task" else "right", no_wrap=True)
    for task, s in summaries.items():
        table.add_row(task, str(s["n_samples"]), f"{s['accuracy']:.1%}", f"{s['mean_tokens']:.1f}",
                      f"{s['median_tokens']:.0f}", f"{s['p90_tokens']:.0f}", f"{s['truncated_rate']:.1%}",
                      f"{s['no_answer_rate']:.1%}", f"{s['gen_time_s']:.1f}", f"{s['tokens_per_s']:.0f}")
    Console().print(table)
