"""The paper's length analyses of K samples per problem (a presample directory):
Table 1 (accuracy by within-problem length interval), Figure 1 (per-problem accuracy against
length) and the difficulty split behind Fig. 4 (problems grouped by pass rate)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..errors import UserError
from ..records import RecordStore, SampleRecord, by_problem, write_atomic, write_json_atomic
from .collect import source_name
from .jsonsafe import jsonable
from .markdown import md_escape, md_table

# (label, low, high): pass-rate groups, closed intervals, overlapping as in the paper's Fig. 4
DIFFICULTY_GROUPS = (("0-40%", 0.0, 0.4), ("30-70%", 0.3, 0.7), ("60-100%", 0.6, 1.0))
DIFFICULTY_NOTE = ("The pass-rate groups overlap, as in the paper's Fig. 4: a problem with a pass rate of 30-40% "
                   "or 60-70% is in two groups, so the groups' problem counts can add up to more than the problems.")
_EPS = 1e-9


def load_samples(path: Path) -> tuple[list[SampleRecord], list[Path], str]:
    """Records of ``path`` (a samples.jsonl file, a directory holding one, or a tree of them),
    the files read, and the model name from a summary.json manifest next to them."""
    p = Path(path)
    if not p.exists():
        raise UserError(f"{p}: no such file or directory")
    files = [p] if p.is_file() else [p / "samples.jsonl"] if (p / "samples.jsonl").exists() \
        else sorted(p.rglob("samples.jsonl"))
    if not files:
        raise UserError(f"{p}: no samples.jsonl found")
    records = [r for f in files for r in RecordStore(f).load()]
    if not records:
        raise UserError(f"{p}: no sample records in {', '.join(map(str, files))}")
    model = files[0].parent.name
    summary = files[0].parent / "summary.json"
    if summary.exists():
        try:
            manifest = json.loads(summary.read_text()).get("manifest") or {}
            model = str(manifest.get("model_name") or manifest.get("model") or model)
        except (ValueError, AttributeError):
            pass
    return records, files, model


def problem_key(r: SampleRecord) -> tuple[str, str]:
    """(benchmark, problem_id): the samples analysed can come from several benchmarks."""
    return (r.benchmark, r.problem_id)


def split_by_length(samples: Sequence[SampleRecord], k: int) -> list[list[SampleRecord]]:
    """The samples sorted by length (ties by sample_idx) cut into ``k`` equal-count intervals;
    when k does not divide the count, the first intervals hold one sample more."""
    s = sorted(samples, key=lambda r: (r.n_tokens, r.sample_idx))
    q, rem = divmod(len(s), k)
    out, start = [], 0
    for i in range(k):
        size = q + (i < rem)
        out.append(s[start:start + size])
        start += size
    return out


def length_intervals(groups: dict, k: int = 4) -> dict:
    """Table 1: per problem, mean accuracy and length in each of ``k`` length intervals,
    averaged over the problems with at least ``k`` samples."""
    acc = [[] for _ in range(k)]
    length = [[] for _ in range(k)]
    used = 0
    for samples in groups.values():
        if len(samples) < k:
            continue
        used += 1
        for i, chunk in enumerate(split_by_length(samples, k)):
            acc[i].append(statistics.fmean(r.correct for r in chunk))
            length[i].append(statistics.fmean(r.n_tokens for r in chunk))
    mean = lambda xs: statistics.fmean(xs) if xs else float("nan")  # noqa: E731
    return {"n_problems": used, "n_skipped": len(groups) - used,
            "accuracy": [mean(a) for a in acc], "mean_tokens": [mean(x) for x in length]}


def pass_rate(samples: Sequence[SampleRecord]) -> float:
    return statistics.fmean(r.correct for r in samples)


def difficulty_split(groups: dict) -> list[dict]:
    """Problems grouped by the reference model's pass rate over its samples (closed,
    overlapping ranges), with accuracy and mean length over each group's samples."""
    out = []
    for label, lo, hi in DIFFICULTY_GROUPS:
        keys = [k for k, s in groups.items() if lo - _EPS <= pass_rate(s) <= hi + _EPS]
        samples = [r for k in keys for r in groups[k]]
        out.append({"group": label, "low": lo, "high": hi, "n_problems": len(keys), "n_samples": len(samples),
                    "accuracy": statistics.fmean(r.correct for r in samples) if samples else float("nan"),
                    "mean_tokens": statistics.fmean(r.n_tokens for r in samples) if samples else float("nan"),
                    "problem_ids": [pid for _, pid in keys]})
    return out


def example_problems(groups: dict, n: int, k: int) -> list[tuple[str, str]]:
    """Up to ``n`` problems with mixed outcomes (0 < pass rate < 1) and at least ``k``
    samples, spread evenly over the pass-rate range; falls back to any problems."""
    eligible = [key for key, s in groups.items() if len(s) >= k]
    mixed = sorted((key for key in eligible if 0 < pass_rate(groups[key]) < 1),
                   key=lambda key: (pass_rate(groups[key]), key))
    pool = mixed or sorted(eligible)
    if len(pool) <= n:
        return pool
    return [pool[round(i * (len(pool) - 1) / (n - 1))] for i in range(n)] if n > 1 else pool[:1]


def _pct(x: float) -> str:
    return "—" if x != x else f"{100 * x:.1f}"


def render_markdown(result: dict) -> str:
    k = result["n_intervals"]
    heads = ["Problems"] + [f"Interval {i + 1}{' (shortest)' if i == 0 else ' (longest)' if i == k - 1 else ''}"
                            for i in range(k)]
    rows = []
    for name, t in (("all problems", result["table1"]), ("mixed problems (0 < pass rate < 1)", result["table1_mixed"])):
        rows.append([f"{name}, n={t['n_problems']}: accuracy (%)"] + [_pct(a) for a in t["accuracy"]])
        rows.append([f"{name}: mean tokens"] + [("—" if x != x else f"{x:.0f}") for x in t["mean_tokens"]])
    diff = [[d["group"], str(d["n_problems"]), str(d["n_samples"]), _pct(d["accuracy"]),
             "—" if d["mean_tokens"] != d["mean_tokens"] else f"{d['mean_tokens']:.0f}"] for d in result["difficulty"]]
    t1 = result["table1"]
    return "\n".join([
        f"# Length analysis: {md_escape(result['model'])}", "",
        f"{result['n_records']} samples of {result['n_problems']} problems from "
        + ", ".join(md_escape(f) for f in result["files"]) + ".", "",
        "## Accuracy by length interval (the paper's Table 1)", "",
        f"Each problem's samples are sorted by length and cut into {k} equal-count intervals; the accuracy and "
        f"mean length of each interval are averaged over the problems ({t1['n_skipped']} problems with fewer "
        f"than {k} samples left out).", "",
        md_table(heads, rows, "l" + "r" * k), "",
        "## Difficulty split (behind the paper's Fig. 4)", "",
        "Problems grouped by the reference model's pass rate over its samples. " + DIFFICULTY_NOTE + " Accuracy "
        "and mean length are over each group's samples; the problem ids are in the JSON.", "",
        md_table(["Pass-rate group", "Problems", "Samples", "Accuracy (%)", "Mean tokens"], diff), "",
        f"![Per-problem accuracy against length]({result['png']})" if result.get("png") else "", ""])


def print_result(result: dict, console: Console) -> None:
    k = result["n_intervals"]
    t = Table(title=Text(f"{result['model']}: accuracy by length interval (Table 1)"))
    t.add_column("Problems")
    for i in range(k):
        t.add_column(f"Interval {i + 1}" + (" (shortest)" if i == 0 else " (longest)" if i == k - 1 else ""),
                     justify="right")
    for name, tab in (("all", result["table1"]), ("mixed", result["table1_mixed"])):
        t.add_row(Text(f"{name} (n={tab['n_problems']}) acc %"), *[_pct(a) for a in tab["accuracy"]])
        t.add_row(Text(f"{name} mean tokens"), *[("—" if x != x else f"{x:.0f}") for x in tab["mean_tokens"]])
    console.print(t)
    d = Table(title=Text(f"{result['model']}: difficulty split by pass rate (overlapping groups)"),
              caption=DIFFICULTY_NOTE)
    for c in ("Group", "Problems", "Samples", "Accuracy %", "Mean tokens"):
        d.add_column(c, justify="left" if c == "Group" else "right")
    for g in result["difficulty"]:
        d.add_row(g["group"], str(g["n_problems"]), str(g["n_samples"]), _pct(g["accuracy"]),
                  "—" if g["mean_tokens"] != g["mean_tokens"] else f"{g['mean_tokens']:.0f}")
    console.print(d)


def analyze_length(path: Path, out: Path | None = None, *, n_intervals: int = 4, n_examples: int = 6,
                   console: Console | None = None) -> dict:
    """Table 1, Figure 1 and the difficulty split of the samples under ``path``; writes
    length_analysis.md, length_analysis.json and length_accuracy.png into ``out``
    (default: ``<dir>/length_analysis``), prints the tables, returns the JSON document.  The sample
    files are named relative to ``path`` (``collect.source_name``), the files written by name."""
    if n_intervals < 1:
        raise UserError("the number of length intervals must be at least 1")
    records, files, model = load_samples(Path(path))
    groups = by_problem(records, key=problem_key)
    mixed = {k: s for k, s in groups.items() if 0 < pass_rate(s) < 1}
    base = Path(path) if Path(path).is_dir() else Path(path).parent
    out = Path(out) if out is not None else base / "length_analysis"
    out.mkdir(parents=True, exist_ok=True)
    examples = example_problems(groups, n_examples, n_intervals)
    result = {"model": model, "files": [source_name(f, path) for f in files], "n_records": len(records),
              "n_problems": len(groups), "n_intervals": n_intervals,
              "table1": length_intervals(groups, n_intervals), "table1_mixed": length_intervals(mixed, n_intervals),
              "difficulty": difficulty_split(groups), "difficulty_note": DIFFICULTY_NOTE,
              "examples": [{"benchmark": b, "problem_id": p, "pass_rate": pass_rate(groups[(b, p)]),
                            "intervals": [{"accuracy": statistics.fmean(r.correct for r in c),
                                           "mean_tokens": statistics.fmean(r.n_tokens for r in c)}
                                          for c in split_by_length(groups[(b, p)], n_intervals) if c]}
                           for b, p in examples]}
    from .plots import plot_length_accuracy
    png = out / "length_accuracy.png"
    plot_length_accuracy(result, {k: groups[k] for k in examples}, png)
    result["png"] = png.name
    write_atomic(out / "length_analysis.md", render_markdown(result))
    result["files_written"] = ["length_analysis.md", "length_analysis.json", png.name]  # in ``out``
    write_json_atomic(out / "length_analysis.json", jsonable(result))
    print_result(result, console or Console())
    return result
