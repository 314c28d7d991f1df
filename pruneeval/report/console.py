"""Terminal rendering (rich) of the same tables the markdown shows."""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .markdown import fmt_acc, fmt_aes, fmt_len, fmt_seconds, fmt_signed
from .board import AVERAGE, Board, ModelBlock
from .tables import dataset_name, method_name


def table2(block: ModelBlock, board: Board) -> Table:
    """One model's Table 2 as a rich Table (text from runs is never parsed as markup)."""
    cols = [*block.datasets, AVERAGE]
    t = Table(title=Text(f"{block.model}"), caption=Text(board.aes.description), caption_justify="left")
    t.add_column("Method")
    for c in cols:
        for m in ("Acc", "Length", "AES"):
            t.add_column(Text(f"{dataset_name(c)}\n{m}"), justify="right")
    for r in block.rows:
        cells = []
        for c in cols:
            cell = r.cell(c)
            cells += [Text(fmt_acc(cell.acc)), Text(fmt_len(cell.length)),
                      Text(fmt_aes(cell.aes), style="bold" if r.best_aes[c] else "")]
        t.add_row(Text(method_name(r.method)), *cells)
    return t


def print_leaderboard(board: Board, console: Console | None = None) -> None:
    console = console or Console()
    for block in board.models:
        console.print(table2(block, board))
        times = [g for g in block.gen_time if not math.isnan(g.total_s)]
        if times:
            t = Table(title=Text(f"{block.model}: generation time (wall clock)"))
            t.add_column("Method")
            t.add_column("Total", justify="right")
            for g in times:
                t.add_row(Text(method_name(g.method)), Text(fmt_seconds(g.total_s)))
            console.print(t)
        mine = [r for r in board.intervals if r.model == block.model]
        if mine:
            t = Table(title=Text(f"{block.model}: difference from {board.baseline} (95% paired bootstrap)"))
            for name in ("Method", "Dataset", "ΔAcc pts", "CI", "ΔLength", "CI"):
                t.add_column(name, justify="left" if name in ("Method", "Dataset") else "right")
            for r in mine:
                cells = [method_name(r.method), dataset_name(r.dataset), fmt_signed(r.acc_diff, 100),
                         f"[{fmt_signed(r.acc_lo, 100)}, {fmt_signed(r.acc_hi, 100)}]",
                         fmt_signed(r.len_diff, digits=0),
                         f"[{fmt_signed(r.len_lo, digits=0)}, {fmt_signed(r.len_hi, digits=0)}]"]
                t.add_row(*map(Text, cells))
            console.print(t)
    for w in board.warnings:
        console.print(Text(f"warning: {w}", style="yellow"))
