"""The O1-Pruner paper's published Table 2 (reports/o1pruner-paper.csv) rebuilt through the
same table code as our own leaderboards, under both AES variants, with the discrepancy
between the stated formula and the printed cells spelled out."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..errors import UserError
from ..metrics import AES_VARIANTS
from ..records import write_atomic
from .board import AVERAGE, Board
from .markdown import md_escape, md_table, table2_rows
from .tables import dataset_name, leaderboard, method_name

SOURCE = ("Luo et al., \"O1-Pruner: Length-Harmonizing Fine-Tuning for O1-Like Reasoning Pruning\", "
          "arXiv 2501.12570v2, Table 2 (Main Experiment Results)")


def read_paper_csv(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(long frame of per-dataset rows with acc as a fraction, published rows incl. averages)."""
    try:
        pub = pd.read_csv(path)
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: cannot read the published table ({e})") from None
    need = {"model", "method", "dataset", "acc_pct", "length", "aes_published"}
    if not need <= set(pub.columns):
        raise UserError(f"{path}: missing columns {', '.join(sorted(need - set(pub.columns)))}")
    long = pub[pub["dataset"] != AVERAGE].copy()
    long["acc"] = long["acc_pct"] / 100
    long["gen_time_s"] = math.nan
    return long[["model", "method", "dataset", "acc", "length", "gen_time_s"]], pub


def _check(boards: dict[str, Board], pub: pd.DataFrame) -> tuple[dict, list[dict], list[dict]]:
    """Compare the printed variant with the published AES cells; list the cells where the two
    variants differ, and the averages (length, AES) that round differently from the printed ones."""
    published = {(r.model, r.method, r.dataset): r for r in pub.itertuples()}
    counts = {"cells": 0, "matched": 0, "average_cells": 0, "average_matched": 0}
    differ, lengths, rounding = [], [], []
    paper_rows = {(b.model, r.method): r for b in boards["paper"].models for r in b.rows}
    for block in boards["printed"].models:
        for r in block.rows:
            q = paper_rows[(block.model, r.method)]
            for ds in block.datasets:
                counts["cells"] += 1
                got, p = r.cells[ds].aes, published[(block.model, r.method, ds)]
                counts["matched"] += f"{got:.2f}" == f"{p.aes_published:.2f}"
                if q.cells[ds].aes != got:
                    differ.append({"model": block.model, "method": r.method, "dataset": ds,
                                   "printed": got, "paper": q.cells[ds].aes})
            p = published[(block.model, r.method, AVERAGE)]
            counts["average_cells"] += 1
            mean2 = sum(round(r.cells[ds].aes, 2) for ds in block.datasets) / len(block.datasets)
            counts["average_matched"] += f"{mean2:.2f}" == f"{p.aes_published:.2f}"
            if f"{r.average.aes:.2f}" != f"{p.aes_published:.2f}":
                rounding.append(
                    {"model": block.model, "method": r.method, "exact": r.average.aes,
                     "published": float(p.aes_published)})
            if f"{r.average.length:.0f}" != f"{p.length:.0f}":
                lengths.append({"model": block.model, "method": r.method,
                                "recomputed": r.average.length, "published": float(p.length)})
    return counts, differ, lengths, rounding


def render_paper(boards: dict[str, Board], counts: dict, differ: list[dict], lengths: list[dict], rounding: list[dict],
                 csv_name: str, images: dict | None = None) -> str:
    out = ["# O1-Pruner paper, Table 2, rebuilt", "",
           f"Source: {md_escape(SOURCE)}. The published accuracy (%) and mean length (tokens) of each "
           f"dataset are in `{md_escape(csv_name)}` (with the published AES cells, for checking); everything "
           "below is recomputed from them by `pruneeval.report.paper.write_paper_report`, through the same "
           "table code as `pruneeval report`. MATH is the paper's 458-problem MATH500 subset, GSM8K its test "
           "set, GaoKao GaoKao2023-Math-En.", ""]
    titles = {"printed": "AES as printed in the paper (variant 'printed')",
              "paper": "AES by the paper's stated formula (variant 'paper')"}
    for variant in ("printed", "paper"):
        board = boards[variant]
        out += [f"## {titles[variant]}", ""]
        for block in board.models:
            header, rows = table2_rows(block)
            out += [f"### {md_escape(block.model)}", "", md_table(header, rows), ""]
        out += [md_escape(board.aes.description), ""]
    for model, name in (images or {}).items():
        out += [f"![Accuracy against mean length, {md_escape(model)}]({name})", ""]
    out += ["## Note on the discrepancy", "",
            "The paper states AES = alpha·dL + beta·|dA| when accuracy does not fall and alpha·dL − gamma·|dA| "
            "when it falls (alpha=1, beta=3, gamma=5), but its printed cells were computed with + beta·|dA| on "
            f"both branches: the 'printed' variant reproduces {counts['matched']} of {counts['cells']} per-dataset "
            "AES cells to two decimals, and the printed averages are the means of the two-decimal per-dataset "
            f"cells ({counts['average_matched']} of {counts['average_cells']}). Under the stated formula the "
            f"{len(differ)} cells where accuracy fell are lower:", ""]
    rows = [[md_escape(m["model"]), md_escape(method_name(m["method"])), md_escape(dataset_name(m["dataset"])),
             f"{m['printed']:.2f}", f"{m['paper']:.2f}"] for m in differ]
    out += [md_table(["Model", "Method", "Dataset", "AES printed", "AES stated formula"], rows, "lllrr"), ""]
    fell = {(m["model"], m["method"]) for m in differ}
    printed = boards["printed"]
    same = sorted({method_name(r.method) for b in printed.models for r in b.rows
                   if r.method != printed.baseline and (b.model, r.method) not in fell
                   and all(not math.isnan(r.cells[d].aes) for d in b.datasets)} - {
                      method_name(m) for _, m in fell})
    if same:
        out += [f"{md_escape(', '.join(same))} kept or raised accuracy on every dataset for every model, so "
                "its AES is the same under both variants, while the methods that lost accuracy somewhere "
                "score lower under the stated formula.", ""]
    out += ["`pruneeval report` uses the stated formula by default (`--aes-variant paper`); "
            "`--aes-variant printed` reproduces the paper's arithmetic.", ""]
    for x in rounding:
        out += [f"Rounding: {md_escape(x['model'])} {md_escape(method_name(x['method']))} has an average AES "
                f"of {x['exact']:.6f} from the exact per-dataset values (shown above as {x['exact']:.2f}); the "
                f"paper prints {x['published']:.2f}, the mean of its rounded per-dataset cells.", ""]
    if lengths:
        items = ", ".join(f"{md_escape(x['model'])} {md_escape(method_name(x['method']))} "
                          f"{x['recomputed']:.1f} (printed {x['published']:.0f})" for x in lengths)
        out += [f"Average lengths recomputed from the published (rounded) per-dataset lengths differ from the "
                f"printed averages by under one token (the paper presumably averaged unrounded lengths): "
                f"{items}.", ""]
    return "\n".join(out)


def write_paper_report(csv_path: Path, out_md: Path, *, plots: bool = True) -> dict:
    """Rebuild ``out_md`` from the published Table 2 in ``csv_path`` under both AES variants
    (and, with ``plots``, one accuracy-vs-length PNG per model next to it)."""
    csv_path, out_md = Path(csv_path), Path(out_md)
    long, pub = read_paper_csv(csv_path)
    boards = {v: leaderboard(long, variant=v) for v in AES_VARIANTS}
    counts, differ, lengths, rounding = _check(boards, pub)
    out_md.parent.mkdir(parents=True, exist_ok=True)
    images = {}
    if plots:
        from .leaderboard import slug
        from .plots import plot_pareto
        taken: set[str] = set()
        for block in boards["paper"].models:
            images[block.model] = f"{out_md.stem}_pareto_{slug(block.model, taken)}.png"
            plot_pareto(block, out_md.parent / images[block.model])
    write_atomic(out_md, render_paper(boards, counts, differ, lengths, rounding, csv_path.name, images))
    return {"variants": boards, "printed_matches_published": counts, "differ": differ, "average_lengths": lengths,
            "average_rounding": rounding}
