"""``pruneeval report``: eval/run directories -> leaderboard.md / .csv / .json + PNGs."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from rich.console import Console

from ..metrics import AES_VARIANTS
from ..errors import UserError
from ..outputs import path_part
from ..records import write_atomic, write_json_atomic
from .board import Board
from .collect import collect_entries
from .console import print_leaderboard
from .jsonsafe import jsonable
from .markdown import render_leaderboard
from .tables import intervals, leaderboard, long_frame, wide_csv_frame


def slug(name: str, taken: set[str]) -> str:
    """A file-name-safe, unique form of ``name``."""
    base = path_part(name, limit=60)
    s, i = base, 2
    while s in taken:
        s, i = f"{base}-{i}", i + 1
    taken.add(s)
    return s


def write_report(dirs: Sequence[Path], out: Path, baseline: str = "baseline", aes_variant: str = "paper", *,
                 alpha: float = 1.0, beta: float = 3.0, gamma: float = 5.0, n_boot: int = 2000, seed: int = 0,
                 plots: bool = True, console: Console | None = None) -> Board:
    """Leaderboards (the paper's Table 2 layout) of every eval/run directory in ``dirs``.

    Writes ``out``/leaderboard.md, leaderboard.csv, leaderboard.json, pareto_<model>.png and
    gen_time.png, prints the tables, and returns the Board (leaderboard.json is its ``to_json``).  Sources
    are named relative to the directories given (``collect.source_name``), files by their names."""
    if aes_variant not in AES_VARIANTS:
        raise UserError(f"unknown AES variant {aes_variant!r}; choose one of {', '.join(AES_VARIANTS)}")
    entries, warnings = collect_entries([Path(d) for d in dirs])
    for e in entries:
        e.records()  # every sample line is checked before anything is written
    board = leaderboard(long_frame(entries), baseline=baseline, variant=aes_variant, alpha=alpha, beta=beta,
                        gamma=gamma)
    board.warnings = warnings + board.warnings
    board.sources = sorted({e.source for e in entries})
    order = {(b.model, r.method, ds): (i, j, k) for i, b in enumerate(board.models)
             for j, r in enumerate(b.rows) for k, ds in enumerate(b.datasets)}
    board.intervals = sorted((c for c in intervals(entries, baseline=baseline, n_boot=n_boot, seed=seed)
                              if (c.model, c.method, c.dataset) in order),
                             key=lambda c: order[(c.model, c.method, c.dataset)])

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    images, files, taken = {}, [], set()
    if plots:
        from .plots import plot_gen_time, plot_pareto
        for block in board.models:
            name = f"pareto_{slug(block.model, taken)}.png"
            files.append(plot_pareto(block, out / name))
            images[block.model] = name
        if plot_gen_time(board, out / "gen_time.png"):
            files.append(out / "gen_time.png")
            images["gen_time"] = "gen_time.png"
    md = out / "leaderboard.md"
    write_atomic(md, render_leaderboard(board, images=images))
    csv = out / "leaderboard.csv"
    write_atomic(csv, wide_csv_frame(board).to_csv(index=False, float_format="%.6g"))
    files = [md, csv, out / "leaderboard.json", *files]
    board.files = [f.name for f in files]  # relative to the report's own directory
    write_json_atomic(out / "leaderboard.json", jsonable(board.to_json()))
    print_leaderboard(board, console)
    return board
