"""Markdown rendering of leaderboards. Every piece of text that comes from a run (model,
method, dataset names, paths, warnings) goes through ``md_escape``."""

from __future__ import annotations

import math
import re

from .board import AVERAGE, Board, Interval, ModelBlock
from .tables import dataset_name, method_name

_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def md_escape(text: object) -> str:
    """``text`` as inert inline markdown: one line (newlines become spaces), HTML
    metacharacters as entities, markdown punctuation (pipes, backticks, emphasis, links,
    headings) backslash-escaped. Safe inside table cells, headings and link text."""
    s = str(text).replace("\r\n", " ").replace("\r", " ").replace("\n", " ")
    s = _CONTROL.sub("", s)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _MD_SPECIAL.sub(r"\\\1", s)
    return s.strip() or "&#32;"


def fmt_acc(x: float) -> str:
    return "—" if math.isnan(x) else f"{100 * x:.1f}"


def fmt_len(x: float) -> str:
    return "—" if math.isnan(x) else f"{x:.0f}"


def fmt_aes(x: float) -> str:
    return "—" if math.isnan(x) else f"{x:.2f}"


def fmt_signed(x: float, scale: float = 1.0, digits: int = 1) -> str:
    return "—" if math.isnan(x) else f"{scale * x:+.{digits}f}"


def md_table(header: list[str], rows: list[list[str]], align: str | None = None) -> str:
    """A GitHub-flavoured markdown table; cells must already be escaped. ``align`` has one
    character per column: "l" or "r"."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = ["---:" if a == "r" else ":---" for a in align]
    lines = [header, rule, *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def table2_rows(block: ModelBlock) -> tuple[list[str], list[list[str]]]:
    """Header and (escaped, formatted) rows of one model's Table 2; best AES per column in bold."""
    cols = [*block.datasets, AVERAGE]
    header = ["Method"] + [f"{md_escape(dataset_name(c))} {m}" for c in cols for m in ("Acc", "Length", "AES")]
    rows = []
    for r in block.rows:
        row = [md_escape(method_name(r.method))]
        for c in cols:
            cell = r.cell(c)
            a = fmt_aes(cell.aes)
            if r.best_aes[c]:
                a = f"**{a}**"
            row += [fmt_acc(cell.acc), fmt_len(cell.length), a]
        rows.append(row)
    return header, rows


def aes_note(board: Board) -> str:
    return f"AES against the method **{md_escape(board.baseline)}**. {md_escape(board.aes.description)}"


def gen_time_table(block: ModelBlock) -> str:
    cols = block.datasets
    header = ["Method"] + [md_escape(dataset_name(c)) for c in cols] + ["Total"]
    rows = []
    for g in block.gen_time:
        cells = [fmt_seconds(g.by_dataset[c]) for c in cols]
        total = fmt_seconds(g.total_s) + ("" if g.complete else " (partial)")
        rows.append([md_escape(method_name(g.method)), *cells, total])
    return md_table(header, rows)


def fmt_seconds(s: float) -> str:
    if math.isnan(s):
        return "—"
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min"


def interval_table(rows: list[Interval]) -> str:
    header = ["Method", "Dataset", "Problems", "ΔAcc (points)", "95% CI", "ΔLength (tokens)", "95% CI"]
    body = [[md_escape(method_name(r.method)), md_escape(dataset_name(r.dataset)), str(r.n_problems),
             fmt_signed(r.acc_diff, 100), f"[{fmt_signed(r.acc_lo, 100)}, {fmt_signed(r.acc_hi, 100)}]",
             fmt_signed(r.len_diff, digits=0), f"[{fmt_signed(r.len_lo, digits=0)}, {fmt_signed(r.len_hi, digits=0)}]"]
            for r in rows]
    return md_table(header, body, "llrrrrr")


def render_leaderboard(board: Board, *, images: dict | None = None, title: str = "Leaderboard") -> str:
    """The whole leaderboard document. ``images`` maps a model name (or "gen_time") to a PNG
    file name relative to the markdown file."""
    images = images or {}
    out = [f"# {md_escape(title)}", ""]
    for block in board.models:
        model = md_escape(block.model)
        header, rows = table2_rows(block)
        out += [f"## {model}", "", md_table(header, rows), "", aes_note(board), "",
                "Acc = accuracy (%), Length = mean generated tokens (thinking included); "
                "the average columns are means over the datasets.", ""]
        if block.model in images:
            out += [f"![Accuracy against mean length, {model}]({images[block.model]})", ""]
        if any(not math.isnan(g.total_s) for g in block.gen_time):
            out += ["### Generation time (wall clock)", "", gen_time_table(block), ""]
        mine = [r for r in board.intervals if r.model == block.model]
        if mine:
            lv = int(round(100 * mine[0].level))
            out += [f"### Differences from {md_escape(board.baseline)} ({lv}% paired bootstrap intervals)", "",
                    f"Method minus baseline on the same problems; {mine[0].n_boot} resamples of problems, "
                    f"seed {mine[0].seed}.", "", interval_table(mine), ""]
    if "gen_time" in images:
        out += ["## Generation time per method", "", f"![Generation time per method]({images['gen_time']})", ""]
    if board.sources:
        out += ["## Sources", "", "Task directories, named by the directory given to the report and the path "
                "under it.", ""] + [f"- {md_escape(s)}" for s in board.sources] + [""]
    if board.warnings:
        out += ["## Warnings", ""] + [f"- {md_escape(w)}" for w in board.warnings] + [""]
    return "\n".join(out)
