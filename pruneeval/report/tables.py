"""The paper's Table 2 layout: per base model, rows = methods, for each dataset and the
average: accuracy, mean length and AES against the baseline method.

Everything here works on a long frame with one row per (model, method, dataset) and columns
``acc`` (a fraction), ``length`` (mean tokens) and optionally ``gen_time_s``; eval results and
the paper's published numbers both become such a frame, so both go through the same code."""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import pandas as pd

from ..errors import UserError
from ..metrics import aes, aes_description, bootstrap_diff
from .board import AVERAGE, AesSettings, Board, Cell, GenTime, Interval, ModelBlock, Row
from .collect import Entry

DATASET_NAMES = {"math": "MATH", "gsm8k": "GSM8K", "gaokao": "GaoKao", "toy": "Toy"}
METHOD_NAMES = {"baseline": "Baseline", "prompt": "Fast-solving Prompt", "sft": "SFT", "dpo": "DPO",
                "o1pruner": "O1-Pruner"}


def dataset_name(label: str) -> str:
    return "Average" if label == AVERAGE else DATASET_NAMES.get(label, label)


def method_name(method: str) -> str:
    return METHOD_NAMES.get(method, method)


def _ordered(values: Iterable[str], preferred: Sequence[str]) -> list[str]:
    vals = set(values)
    preferred = list(dict.fromkeys(preferred))
    return [v for v in preferred if v in vals] + sorted(vals - set(preferred))


def long_frame(entries: Sequence[Entry]) -> pd.DataFrame:
    """One row per eval entry: model, method, dataset, acc, length, gen_time_s, n_problems and
    source (the task directory as reports name it, relative: ``collect.source_name``)."""
    rows = [{"model": e.model, "method": e.method, "dataset": e.dataset,
             "acc": float(e.summary["accuracy"]), "length": float(e.summary["mean_tokens"]),
             "gen_time_s": float(e.summary.get("gen_time_s") or math.nan),
             "n_problems": e.summary.get("n_problems"), "source": e.source} for e in entries]
    return pd.DataFrame(rows)


def pareto_front(points: Sequence[tuple[float, float]]) -> list[bool]:
    """For (length, accuracy) points: True where no other point is at least as short and at
    least as accurate and strictly better in one of the two. NaN points are never on it."""
    ok = [not (math.isnan(l) or math.isnan(a)) for l, a in points]
    out = []
    for i, (l, a) in enumerate(points):
        dominated = any(ok[j] and j != i and lj <= l and aj >= a and (lj < l or aj > a)
                        for j, (lj, aj) in enumerate(points))
        out.append(ok[i] and not dominated)
    return out


def _safe_aes(base_acc, base_len, acc, length, **kw) -> float:
    if any(math.isnan(x) for x in (base_acc, base_len, acc, length)):
        return math.nan
    try:
        return aes(base_acc, base_len, acc, length, **kw)
    except ValueError:  # zero baseline accuracy or length: AES undefined
        return math.nan


def model_table(df: pd.DataFrame, *, baseline: str, variant: str, alpha: float, beta: float,
                gamma: float, warnings: list[str]) -> ModelBlock:
    """The Table 2 block of one model (``df`` holds that model's rows only)."""
    model = df["model"].iloc[0]
    methods = _ordered(df["method"], [baseline, *METHOD_NAMES])
    if baseline not in methods:
        found = ", ".join(methods)
        raise UserError(f"model {model}: no results for baseline method {baseline!r} "
                        f"(methods found: {found}); name the reference method with --baseline")
    base = df[df["method"] == baseline].set_index("dataset")
    datasets = _ordered(base.index, list(DATASET_NAMES))
    extra = sorted(set(df["dataset"]) - set(datasets))
    if extra:
        warnings.append(f"model {model}: no {baseline} result for {', '.join(extra)}; left out of the table")
    kw = dict(alpha=alpha, beta=beta, gamma=gamma, variant=variant)
    rows = []
    for method in methods:
        m = df[df["method"] == method].set_index("dataset")
        cells = {}
        for ds in datasets:
            if ds not in m.index:
                cells[ds] = Cell(math.nan, math.nan, math.nan)
                continue
            acc, length = float(m.at[ds, "acc"]), float(m.at[ds, "length"])
            cells[ds] = Cell(acc, length,
                             _safe_aes(float(base.at[ds, "acc"]), float(base.at[ds, "length"]), acc, length, **kw),
                             source=str(m.at[ds, "source"]) if "source" in m.columns else None)
        missing = [ds for ds in datasets if ds not in m.index]
        if missing:
            warnings.append(f"model {model}, method {method}: no result for {', '.join(missing)}; average left blank")
        avg = Cell(*(math.nan if missing else sum(getattr(cells[ds], k) for ds in datasets) / len(datasets)
                     for k in ("acc", "length", "aes")))
        rows.append(Row(method, cells, avg))
    for col in [*datasets, AVERAGE]:
        front = pareto_front([(r.cell(col).length, r.cell(col).acc) for r in rows])
        vals = [r.cell(col).aes for r in rows if not math.isnan(r.cell(col).aes)]
        best = max(vals) if vals else math.nan
        for r, on in zip(rows, front):
            r.pareto[col] = on
            r.best_aes[col] = bool(best > 0 and r.cell(col).aes == best)
    return ModelBlock(model, datasets, rows, _gen_time(df, methods, datasets))


def _gen_time(df: pd.DataFrame, methods: list[str], datasets: list[str]) -> list[GenTime]:
    """Wall-clock generation seconds per method and dataset (the paper's Fig. 3), and total."""
    out = []
    for method in methods:
        m = df[(df["method"] == method) & df["dataset"].isin(datasets)].set_index("dataset")["gen_time_s"]
        by = {ds: float(m[ds]) if ds in m.index else math.nan for ds in datasets}
        known = [v for v in by.values() if not math.isnan(v)]
        out.append(GenTime(method, by, sum(known) if known else math.nan, len(known) == len(datasets)))
    return out


def leaderboard(df: pd.DataFrame, *, baseline: str = "baseline", variant: str = "paper", alpha: float = 1.0,
                beta: float = 3.0, gamma: float = 5.0) -> Board:
    """Table 2 blocks for every model in the long frame ``df``, with the AES settings stated."""
    warnings: list[str] = []
    models = [model_table(df[df["model"] == m], baseline=baseline, variant=variant, alpha=alpha, beta=beta,
                          gamma=gamma, warnings=warnings) for m in dict.fromkeys(df["model"])]
    description = aes_description(variant, alpha=alpha, beta=beta, gamma=gamma)
    return Board(baseline, AesSettings(variant, alpha, beta, gamma, description), models, warnings)


def intervals(entries: Sequence[Entry], *, baseline: str, n_boot: int = 2000, seed: int = 0) -> list[Interval]:
    """Paired bootstrap 95% intervals of (method - baseline) accuracy and mean length, per
    model, method and dataset, wherever both have sample records."""
    base = {(e.model, e.dataset): e for e in entries if e.method == baseline}
    out = []
    for e in entries:
        b = base.get((e.model, e.dataset))
        if e.method == baseline or b is None or not e.samples_path.exists() or not b.samples_path.exists():
            continue
        d = bootstrap_diff(b.records(), e.records(), n_boot=n_boot, seed=seed)
        out.append(Interval(model=e.model, method=e.method, dataset=e.dataset, **d))
    return out


def wide_csv_frame(board: Board) -> pd.DataFrame:
    """The leaderboard as one flat table: a row per (model, method), columns
    ``<dataset>.acc_pct``, ``<dataset>.length``, ``<dataset>.aes`` for each dataset and the average,
    and ``<dataset>.source`` (the relative task directory) where the results name one."""
    rows = []
    for block in board.models:
        for r in block.rows:
            row = {"model": block.model, "method": r.method}
            for ds in [*block.datasets, AVERAGE]:
                c = r.cell(ds)
                row |= {f"{ds}.acc_pct": 100 * c.acc, f"{ds}.length": c.length, f"{ds}.aes": c.aes}
                if c.source is not None:
                    row[f"{ds}.source"] = c.source
            gt = next((g for g in block.gen_time if g.method == r.method), None)
            if gt is not None:
                row["gen_time_s"] = gt.total_s
            row["aes_variant"] = board.aes.variant
            rows.append(row)
    return pd.DataFrame(rows)
