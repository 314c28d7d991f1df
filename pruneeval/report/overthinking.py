"""``pruneeval analyze overthinking``: the overthinking metrics (``pruneeval.overthinking``: first
correct answer, tokens after it, outcome efficiency of Chen et al. 2024, solution rounds) of the
records of pruneeval runs, per difficulty level, or of a JSONL of real outputs, per model."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..errors import UserError
from ..grading.verdict import FAMILIES, family
from ..outputs import check_out_dir
from ..overthinking import MAX_GRADED, Item, aggregate, from_records, measure, unit_of
from ..records import SampleRecord, iter_jsonl, write_atomic, write_json_atomic
from .analyze import load_samples
from .collect import source_name
from .markdown import md_escape, md_table

FILES = ("overthinking.md", "overthinking.json")
_MATH_LIKE = re.compile(r"^(?:math|aime|amc|olympiad|minerva|omni)", re.I)  # datasets graded as MATH answers
COLUMNS = (  # (JSON key, heading, what it is): the one description of each column
    ("n", "N", "outputs in the group"),
    ("accuracy", "Acc %", "final answers graded correct"),
    ("mean_length_correct", "Length", "mean length of the outputs whose final answer is correct (First right + "
     "After; all outputs' mean length is mean_length in the JSON)"),
    ("first_correct", "First right", "mean position where the first correct answer ends, over the same outputs"),
    ("after_first_correct", "After", "mean length after that position (tokens spent after the first correct "
     "answer), over the same outputs"),
    ("efficiency", "Effic.", "mean share of the output up to the first correct answer, over the same "
     "outputs (outcome efficiency, Chen et al. 2024)"),
    ("rounds", "Rounds", "mean solution rounds (distinct positions of candidate answers), over all outputs"),
    ("rounds_after_first_correct", "Rounds after", "mean rounds after the one holding the first correct answer, "
     "over outputs whose final answer is correct"),
    ("correct_then_wrong", "Right then wrong", "outputs that stated a correct answer on the way and ended on a "
     "wrong one or none"),
)


def count_tokens(tokenizer: str) -> Callable[[str], int]:
    """A token counter from a tokenizer directory or hub id (``AutoTokenizer``; special tokens not added)."""
    try:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(tokenizer)
    except (OSError, ValueError) as e:
        raise UserError(f"--tokenizer {tokenizer}: cannot load a tokenizer ({str(e).splitlines()[0]})") from None
    tok.model_max_length = 1 << 40  # long outputs are counted, not warned about
    return lambda text: len(tok(text, add_special_tokens=False)["input_ids"])


def row_benchmark(row: dict, where: str, benchmark: str | None) -> str:
    """The grading rules of a row: ``--benchmark``, else its ``benchmark``, else its ``dataset``
    (a pruneeval benchmark or family, or a MATH-style competition set: aime, amc, olympiadbench, ...)."""
    if benchmark:
        return benchmark
    for key in ("benchmark", "dataset"):
        name = row.get(key)
        if name is None:
            continue
        if not isinstance(name, str):
            raise UserError(f"{where}: field {key!r} is not a string")
        if _MATH_LIKE.match(name):
            return "math"
        try:
            family(name)
            return name
        except UserError:
            raise UserError(f"{where}: field {key!r}: no grading rules for {name!r} (pass --benchmark, one of "
                            f"{', '.join(FAMILIES)})") from None
    raise UserError(f"{where}: no 'dataset' or 'benchmark' field to choose the grading rules (pass --benchmark)")


def read_outputs(path: Path, benchmark: str | None) -> list[tuple[str, Item]]:
    """(model, Item) per line of a JSONL of outputs; a bad line is one ``UserError`` naming FILE:LINE and field."""
    out = []
    try:
        for where, row in iter_jsonl(path):
            for key in ("output", "gold"):
                if not isinstance(row.get(key), str):
                    raise UserError(f"{where}: " + (f"field {key!r} is not a string" if key in row
                                                    else f"missing field {key!r}"))
            for key in ("model", "finish_reason"):
                if row.get(key) is not None and not isinstance(row[key], str):
                    raise UserError(f"{where}: field {key!r} is not a string")
            n = row.get("n_tokens")
            if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
                raise UserError(f"{where}: field 'n_tokens' must be an integer >= 0, got {json.dumps(n)[:40]}")
            out.append((row.get("model") or "(no model)", Item(row["output"], row["gold"],
                        row_benchmark(row, where, benchmark), n, row.get("finish_reason"))))
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror})") from None
    if not out:
        raise UserError(f"{path}: no outputs")
    return out


def _level(meta: dict) -> tuple[int, str] | None:
    if "level" in meta:  # MATH: 1-5 or "Level 3"
        m = re.search(r"\d+", str(meta["level"]))
        return (int(m.group()), f"level {m.group()}") if m else None
    if "difficulty" in meta:  # toy: the operand count
        return int(meta["difficulty"]), f"{meta['difficulty']} operands"
    return None


def difficulty_groups(records: list[SampleRecord], data_dir) -> tuple[list[tuple[tuple, str]], str]:
    """(sort key, group name) per record, by the difficulty its problem's metadata gives (MATH level,
    toy operand count), else by benchmark; and a note on how the groups were formed."""
    from .. import benchmarks

    levels, missing = {}, []
    for name in sorted({r.benchmark for r in records}):
        try:
            if benchmarks.get(name).loader or benchmarks.resolve_data_dir(data_dir):
                levels.update({(name, p.id): _level(p.meta) for p in benchmarks.load(name, data_dir)})
            else:
                missing.append(name)
        except UserError:
            missing.append(name)
    out = []
    for r in records:
        lv = levels.get((r.benchmark, r.problem_id))
        out.append(((r.benchmark, lv[0]), f"{r.benchmark} {lv[1]}") if lv else ((r.benchmark, -1), r.benchmark))
    note = "Grouped by the difficulty in each problem's metadata (MATH level, toy operand count), else by benchmark."
    if missing:
        note += (f" No benchmark data for {', '.join(missing)} (--data-dir or $PRUNEEVAL_DATA_DIR): grouped by "
                 "benchmark.")
    return out, note


def _looks_like_records(path: Path) -> bool:
    if path.is_dir():
        return True
    try:
        first = next(iter_jsonl(path), (None, {}))[1]
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror})") from None
    return {"problem_id", "sample_idx", "prompt", "n_tokens"} <= first.keys()


def _fmt(key: str, v) -> str:
    if v is None:
        return "—"
    if key in ("accuracy", "efficiency"):
        return f"{100 * v:.1f}" if key == "accuracy" else f"{v:.2f}"
    if key.startswith("rounds"):
        return f"{v:.2f}"
    return f"{v:,.0f}" if isinstance(v, float) else f"{v:,}"


def render_markdown(result: dict) -> str:
    rows = [[md_escape(g["group"])] + [_fmt(k, g[k]) for k, _, _ in COLUMNS] for g in result["groups"]]
    return "\n".join([
        f"# Overthinking: {md_escape(result['source'])}", "",
        f"{result['n']} outputs, grouped by {result['grouped_by']}. Lengths and positions in "
        f"{result['unit']}{' (' + md_escape(result['tokenizer']) + ')' if result.get('tokenizer') else ''}. "
        + md_escape(result["note"]), "",
        md_table([result["grouped_by"].capitalize()] + [h for _, h, _ in COLUMNS], rows), "",
        *[f"- **{h}**: {what}." for _, h, what in COLUMNS],
        f"- Candidate answers: every `\\boxed{{}}`, final-answer phrase and conclusion of a solution round, graded "
        f"by the same grader as the final answer; at most {MAX_GRADED} distinct answers per output.", ""])


def print_result(result: dict, console: Console) -> None:
    t = Table(title=Text(f"Overthinking: {result['source']} (positions in {result['unit']})"),
              caption=Text(result["note"]), box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False)
    cells = [[_fmt(k, g[k]) for k, _, _ in COLUMNS] for g in result["groups"]]
    t.add_column(result["grouped_by"].capitalize(), overflow="fold", min_width=10)
    for i, (_, heading, _) in enumerate(COLUMNS):  # fixed widths: numbers are never cut, headings wrap
        t.add_column(heading, justify="right",
                     width=max([len(w) for w in heading.split()] + [len(row[i]) for row in cells]))
    for g, row in zip(result["groups"], cells):
        t.add_row(Text(g["group"]), *row)
    console.print(t)


def analyze_overthinking(path: Path, out: Path | None = None, *, tokenizer: str | None = None,
                         benchmark: str | None = None, data_dir=None, console: Console | None = None) -> dict:
    """The overthinking metrics of ``path``: records of pruneeval runs (a directory or samples.jsonl;
    per difficulty level) or a JSONL of outputs (per model).  Prints the table and writes
    overthinking.md and overthinking.json into ``out`` (default: ``<dir>/overthinking``)."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file or directory")
    if benchmark:
        family(benchmark)
    out = Path(out) if out is not None else (path if path.is_dir() else path.parent) / "overthinking"
    check_out_dir(out, files=FILES)
    if _looks_like_records(path):
        records, files, model = load_samples(path)
        items = from_records(records)
        keyed, note = difficulty_groups(records, data_dir)
        source, grouped_by = f"{model} ({', '.join(source_name(f, path) for f in files)})", "difficulty"
    else:
        rows = read_outputs(path, benchmark)
        items = [it for _, it in rows]
        keyed = [((m,), m) for m, _ in rows]
        note = "Final answers and candidate answers graded by pruneeval's grader (labels in the file are not read)."
        source, grouped_by = path.name, "model"
    count = count_tokens(tokenizer) if tokenizer else None
    ms = measure(items, count)
    unit = unit_of(items, count)
    groups: dict[tuple, tuple[str, list]] = {}
    for (key, name), m in zip(keyed, ms):
        groups.setdefault(key, (name, []))[1].append(m)
    table = [{"group": name, **_with_accuracy(aggregate(g, unit))} for _, (name, g) in sorted(groups.items())]
    table.append({"group": "all", **_with_accuracy(aggregate(ms, unit))})
    result = {"source": source, "n": len(items), "grouped_by": grouped_by, "unit": unit, "tokenizer": tokenizer,
              "note": note, "columns": {k: what for k, _, what in COLUMNS}, "groups": table}
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / FILES[0], render_markdown(result))
    write_json_atomic(out / FILES[1], result)
    print_result(result, console or Console())
    return result


def _with_accuracy(agg: dict) -> dict:
    return {**agg, "accuracy": agg["n_correct"] / agg["n"] if agg["n"] else None}
