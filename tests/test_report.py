"""Leaderboard reports over synthetic eval/run directories, markdown escaping, the paper's
published table, and the length analyses on a synthetic presample directory."""

from __future__ import annotations

import csv
import io
import json
import math
import random
import re
from pathlib import Path

import pytest
from rich.console import Console

from pruneeval.errors import UserError
from pruneeval.metrics import summarize
from pruneeval.records import RecordStore, SampleRecord, write_json_atomic
from pruneeval.report import analyze_length, write_paper_report, write_report
from pruneeval.report.markdown import md_escape

ROOT = Path(__file__).resolve().parents[1]


def rec(pid, idx, correct, n_tokens, benchmark="toy"):
    return SampleRecord(problem_id=pid, sample_idx=idx, benchmark=benchmark, prompt=[{"role": "user", "content": "q"}],
                        output="...", n_tokens=n_tokens, finish_reason="stop", latency_s=0.01,
                        extracted="1" if correct else None, correct=correct, reason=None if correct else "wrong",
                        gold="1", token_ids=None)


def write_task(task_dir: Path, *, model: str, method: str | None, task: str, acc: float, length: int,
               n: int = 60, seed: int = 0, gen_time: float = 30.0) -> list[SampleRecord]:
    rng = random.Random(f"{task}-{method}-{seed}")
    correct = [i < round(acc * n) for i in range(n)]  # exactly acc*n correct, in random order
    rng.shuffle(correct)
    records = [rec(f"{task}-{i}", 0, correct[i], max(1, int(rng.gauss(length, length / 5))), task[:-4])
               for i in range(n)]
    RecordStore(task_dir / "samples.jsonl").append(records)
    manifest = {"model": f"hub/{model}", "model_name": model, "task": task, "benchmark": task[:-4],
                "prompt": "default", "sampling": {"temperature": 0}, "max_tokens": 4096, "engine": "hf"}
    if method is not None:
        manifest["method"] = method
    write_json_atomic(task_dir / "summary.json", summarize(records, gen_time) | {"manifest": manifest})
    return records


METHODS = {"baseline": (0.60, 900, 100.0), "prompt": (0.55, 700, 80.0), "sft": (0.62, 800, 90.0),
           "o1pruner": (0.66, 500, 50.0)}


@pytest.fixture()
def run_dirs(tmp_path):
    """A run dir (baseline + o1pruner + a presample dir), and a plain eval dir (sft, prompt)."""
    run = tmp_path / "run1"
    for method in ("baseline", "o1pruner"):
        for j, task in enumerate(("math_len", "gsm8k_len")):
            a, ln, t = METHODS[method]
            write_task(run / "eval" / method / task, model="toy", method=method, task=task, acc=a,
                       length=ln + 100 * j, gen_time=t)
    pre = run / "presample"
    RecordStore(pre / "samples.jsonl").append([rec("p0", k, k % 2 == 0, 100 + k) for k in range(4)])
    write_json_atomic(pre / "summary.json", summarize(RecordStore(pre / "samples.jsonl").load())
                      | {"manifest": {"model_name": "toy", "kind": "presample"}})
    ev = tmp_path / "ev2"
    for method in ("sft", "prompt"):
        for j, task in enumerate(("math_len", "gsm8k_len")):
            a, ln, t = METHODS[method]
            write_task(ev / method / task, model="toy", method=method, task=task, acc=a, length=ln + 100 * j,
                       gen_time=t)
    return [run, ev]


def quiet() -> Console:
    return Console(file=io.StringIO(), width=200)


def test_report_writes_markdown_csv_json_and_pngs(run_dirs, tmp_path):
    out = tmp_path / "rep"
    board = write_report(run_dirs, out, console=quiet())
    for name in ("leaderboard.md", "leaderboard.csv", "leaderboard.json", "pareto_toy.png", "gen_time.png"):
        assert (out / name).stat().st_size > 0, name
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [b.model for b in board.models] == ["toy"]
    block = board.models[0]
    assert block.datasets == ["math", "gsm8k"]  # paper order; the presample summary is not a task
    assert [r.method for r in block.rows] == ["baseline", "prompt", "sft", "o1pruner"]
    md = (out / "leaderboard.md").read_text()
    assert "| Method | MATH Acc | MATH Length | MATH AES | GSM8K Acc" in md and "Average AES" in md
    assert "AES variant 'paper'" in md and "alpha=1, beta=3, gamma=5" in md
    assert "O1-Pruner" in md and "Generation time" in md and "bootstrap" in md
    assert "![Accuracy against mean length, toy](pareto_toy.png)" in md
    # JSON and CSV carry the same numbers
    doc = json.loads((out / "leaderboard.json").read_text())
    assert doc == board.to_json()  # the file is the board's JSON form (no NaN in this one)
    assert doc["aes"]["variant"] == "paper" and doc["aes"]["gamma"] == 5
    rows = {r["method"]: r for r in csv.DictReader(open(out / "leaderboard.csv"))}
    o1 = next(r for r in doc["models"][0]["rows"] if r["method"] == "o1pruner")
    assert float(rows["o1pruner"]["average.aes"]) == pytest.approx(o1["average"]["aes"], rel=1e-5)
    assert float(rows["baseline"]["math.aes"]) == 0
    # average AES is the mean of the per-dataset AES values
    assert o1["average"]["aes"] == pytest.approx((o1["cells"]["math"]["aes"] + o1["cells"]["gsm8k"]["aes"]) / 2)
    # generation time per method: sum over datasets
    gt = {g["method"]: g["total_s"] for g in doc["models"][0]["gen_time"]}
    assert gt == {"baseline": 200.0, "prompt": 160.0, "sft": 180.0, "o1pruner": 100.0}
    # paired bootstrap intervals, one per non-baseline method and dataset
    ci = doc["intervals"]
    assert len(ci) == 6 and all(c["n_problems"] == 60 for c in ci)
    assert all(c["acc_lo"] <= c["acc_diff"] <= c["acc_hi"] and c["len_lo"] <= c["len_diff"] <= c["len_hi"] for c in ci)
    assert all(c["len_hi"] < 0 for c in ci if c["method"] == "o1pruner")


def test_report_names_sources_relative_to_the_directories_given(run_dirs, tmp_path, monkeypatch):
    out = tmp_path / "rep"
    write_report(run_dirs, out, console=quiet())
    texts = {name: (out / name).read_text() for name in ("leaderboard.md", "leaderboard.csv", "leaderboard.json")}
    for name, text in texts.items():
        assert str(tmp_path) not in text and str(tmp_path.name) not in text, name
    doc = json.loads(texts["leaderboard.json"])
    assert doc["sources"] == sorted(f"{d}/{m}/{t}" for d, m in (("run1/eval", "baseline"), ("run1/eval", "o1pruner"),
                                                                  ("ev2", "sft"), ("ev2", "prompt"))
                                    for t in ("math_len", "gsm8k_len"))
    assert doc["files"] == ["leaderboard.md", "leaderboard.csv", "leaderboard.json", "pareto_toy.png", "gen_time.png"]
    o1 = next(r for r in doc["models"][0]["rows"] if r["method"] == "o1pruner")
    assert o1["cells"]["math"]["source"] == "run1/eval/o1pruner/math_len"
    assert "- run1/eval/o1pruner/math\\_len" in texts["leaderboard.md"]
    rows = {r["method"]: r for r in csv.DictReader(io.StringIO(texts["leaderboard.csv"]))}
    assert rows["sft"]["gsm8k.source"] == "ev2/sft/gsm8k_len" and "average.source" not in rows["sft"]
    monkeypatch.chdir(run_dirs[0] / "eval")  # "." is named by its own name, as run.py's <run>/eval is
    board = write_report([Path(".")], tmp_path / "rep2", console=quiet(), plots=False)
    assert board.sources == ["eval/baseline/gsm8k_len", "eval/baseline/math_len", "eval/o1pruner/gsm8k_len",
                              "eval/o1pruner/math_len"]


def _fig_points(ax) -> dict:
    """Method -> the (x, y) plotted by a Pareto panel's scatter for it."""
    return {c.get_label(): tuple(c.get_offsets()[0]) for c in ax.collections}


def _same_points(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(a[k] == pytest.approx(b[k]) for k in a)


def test_pareto_average_panel_plots_each_methods_mean_over_datasets(run_dirs, tmp_path):
    from pruneeval.report.plots import pareto_figure
    block = write_report(run_dirs, tmp_path / "rep", console=quiet(), plots=False).models[0]
    fig = pareto_figure(block)
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["MATH", "GSM8K", "Average of 2 datasets"]
    for ax, ds in zip(axes[:2], block.datasets):
        assert _same_points(_fig_points(ax), {r.method: (r.cells[ds].length, 100 * r.cells[ds].acc)
                                              for r in block.rows})
    means = {m: (sum(x for x, _ in pts) / 2, sum(y for _, y in pts) / 2)
             for m, pts in _fig_points_by_method(axes[:2]).items()}
    assert _same_points(_fig_points(axes[2]), means)
    # the test data's methods (METHODS) differ on the average: it repeats no dataset panel
    assert not _same_points(_fig_points(axes[2]), _fig_points(axes[0]))
    # O1-Pruner dominates every panel: a one-point front, no front line drawn and none in the legend
    assert not any(line.get_linestyle() == "--" for ax in axes for line in ax.lines)
    assert [t.get_text() for t in fig.legends[0].get_texts()][-1] == "on the Pareto front"


def _fig_points_by_method(axes) -> dict:
    out: dict = {}
    for ax in axes:
        for m, xy in _fig_points(ax).items():
            out.setdefault(m, []).append(xy)
    return out


def test_pareto_single_dataset_has_no_average_panel_and_draws_its_front():
    import pandas as pd
    from pruneeval.report.plots import pareto_figure
    from pruneeval.report.tables import leaderboard
    df = pd.DataFrame([{"model": "m", "method": m, "dataset": "toy", "acc": a, "length": n, "gen_time_s": 1.0}
                       for m, a, n in (("baseline", 0.9, 100.0), ("sft", 0.8, 50.0), ("dpo", 0.5, 80.0))])
    fig = pareto_figure(leaderboard(df).models[0])
    assert [ax.get_title() for ax in fig.axes] == ["Toy"]
    front = [line for line in fig.axes[0].lines if line.get_linestyle() == "--"]
    assert len(front) == 1 and sorted(front[0].get_xdata()) == [50.0, 100.0]
    assert [t.get_text() for t in fig.legends[0].get_texts()][-2:] == ["on the Pareto front", "Pareto front"]


def test_report_printed_variant_and_terminal_table(run_dirs, tmp_path):
    console = quiet()
    paper = write_report(run_dirs, tmp_path / "a", console=quiet(), plots=False)
    printed = write_report(run_dirs, tmp_path / "b", aes_variant="printed", console=console, plots=False)
    p = {r.method: r.cells["math"] for r in paper.models[0].rows}
    q = {r.method: r.cells["math"] for r in printed.models[0].rows}
    assert p["prompt"].acc < p["baseline"].acc  # accuracy fell: the variants differ
    assert p["prompt"].aes < q["prompt"].aes
    assert p["o1pruner"].aes == q["o1pruner"].aes
    text = console.file.getvalue()
    assert "toy" in text and "O1-Pruner" in text and "printed" in text and "GSM8K" in text


def test_report_errors_are_user_errors(run_dirs, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no eval summaries"):
        write_report([tmp_path / "empty"], tmp_path / "o")
    with pytest.raises(UserError, match="no such file"):
        write_report([tmp_path / "missing"], tmp_path / "o")
    with pytest.raises(UserError, match="baseline method 'reference'"):
        write_report(run_dirs, tmp_path / "o", baseline="reference", console=quiet())
    with pytest.raises(UserError, match="unknown AES variant"):
        write_report(run_dirs, tmp_path / "o", aes_variant="pretty")
    (tmp_path / "bad" / "math_len").mkdir(parents=True)
    (tmp_path / "bad" / "math_len" / "summary.json").write_text("{not json")
    with pytest.raises(UserError, match="summary.json"):
        write_report([tmp_path / "bad"], tmp_path / "o")


def test_duplicate_results_keep_the_first_and_warn(run_dirs, tmp_path):
    board = write_report([*run_dirs, run_dirs[0]], tmp_path / "o", console=quiet(), plots=False)
    assert not board.warnings  # the same directory twice is not a conflict
    import shutil
    shutil.copytree(run_dirs[0], tmp_path / "run_copy")
    board = write_report([*run_dirs, tmp_path / "run_copy"], tmp_path / "o", console=quiet(), plots=False)
    assert any("duplicate result" in w and "ignoring run_copy/eval/" in w for w in board.warnings)
    assert not any(str(tmp_path) in w for w in board.warnings)


def test_a_missing_result_is_a_blank_cell_null_in_json(tmp_path):
    d = tmp_path / "ev"
    for method, tasks in (("baseline", ("math_len", "gsm8k_len")), ("sft", ("math_len",))):
        for task in tasks:
            a, ln, t = METHODS[method]
            write_task(d / method / task, model="toy", method=method, task=task, acc=a, length=ln, gen_time=t)
    board = write_report([d], tmp_path / "o", console=quiet(), plots=False)
    sft = board.models[0].rows[1]
    assert sft.method == "sft" and sft.cells["math"].source == "ev/sft/math_len"
    gap = sft.cells["gsm8k"]
    assert gap.source is None and all(math.isnan(x) for x in (gap.acc, gap.length, gap.aes, sft.average.aes))
    assert any("method sft: no result for gsm8k; average left blank" in w for w in board.warnings)
    doc = json.loads((tmp_path / "o" / "leaderboard.json").read_text())
    row = doc["models"][0]["rows"][1]
    assert row["cells"]["gsm8k"] == {"acc": None, "length": None, "aes": None}  # no source key
    assert row["average"] == {"acc": None, "length": None, "aes": None}
    assert doc["models"][0]["gen_time"][1] == {"method": "sft", "by_dataset": {"math": 90.0, "gsm8k": None},
                                               "total_s": 90.0, "complete": False}
    md = (tmp_path / "o" / "leaderboard.md").read_text()
    sft_line = next(line for line in md.splitlines() if line.startswith("| SFT | 61.7 |"))
    assert sft_line.endswith(" | — | — | — | — | — | — |")  # GSM8K and the average blank
    assert "| SFT | 90.0 s | — | 90.0 s (partial) |" in md
    csv_row = next(r for r in csv.DictReader(open(tmp_path / "o" / "leaderboard.csv")) if r["method"] == "sft")
    assert csv_row["gsm8k.acc_pct"] == "" and "gsm8k.source" in csv_row and csv_row["gsm8k.source"] == ""


HOSTILE = "evil|model\n# Heading `code` <script>alert(1)</script> [x](http://e) *b* _i_ $a^{\\frac$"


def test_markdown_escapes_hostile_names(tmp_path):
    d = tmp_path / "hostile"
    for method in ("baseline", "my|method<b>"):
        write_task(d / re.sub(r"\W", "_", method) / "gsm8k_len", model=HOSTILE, method=method, task="gsm8k_len",
                   acc=0.5, length=300)
    write_report([d], tmp_path / "o", console=quiet())
    md = (tmp_path / "o" / "leaderboard.md").read_text()
    assert "<script" not in md and "<b>" not in md
    assert "`code`" not in md and "[x](http" not in md and "\\[x\\](http" in md
    assert not any(line.startswith("# Heading") for line in md.splitlines())
    tables = [t.splitlines() for t in re.findall(r"(?:^\|.*\n)+", md, flags=re.M)]
    assert len(tables) >= 3  # Table 2, generation time, bootstrap intervals
    for table in tables:  # every row of a table has exactly the header's columns
        assert len({len(re.findall(r"(?<!\\)\|", line)) for line in table}) == 1, table
    assert len(re.findall(r"(?<!\\)\|", tables[0][0])) == 8  # Method + GSM8K and Average x (Acc, Length, AES)
    assert "evil\\|model" in md and "my\\|method&lt;b&gt;" in md
    assert md_escape("a\r\nb\x00c") == "a bc"


def test_paper_report_matches_published_table(tmp_path):
    out = tmp_path / "o1pruner-paper.md"
    doc = write_paper_report(ROOT / "reports" / "o1pruner-paper.csv", out)
    text = out.read_text()
    committed = (ROOT / "reports" / "o1pruner-paper.md").read_text()
    assert text == committed, "reports/o1pruner-paper.md is stale: rebuild it with write_paper_report"
    assert doc["printed_matches_published"] == {"cells": 30, "matched": 30, "average_cells": 10, "average_matched": 10}
    assert "Marco-o1-7B" in text and "QwQ-32B-Preview" in text and "variant 'printed'" in text
    assert "variant 'paper'" in text and "| O1-Pruner | 77.5 | 657 | **0.58**" in text
    assert "| Marco-o1-7B | Fast-solving Prompt | MATH | 0.15 | -0.15 |" in text  # printed vs stated formula
    assert (tmp_path / "o1pruner-paper_pareto_QwQ-32B-Preview.png").read_bytes()[:4] == b"\x89PNG"


def _presample(tmp_path: Path) -> Path:
    """Hand-built K=8 samples per problem, written in shuffled order with scrambled sample_idx."""
    d = tmp_path / "presample"
    # (problem, [(n_tokens, correct), ...]) -- listed shortest first for readability
    p1 = [(10, True), (20, True), (30, False), (40, True), (50, False), (60, False), (70, False), (80, False)]
    p2 = [(5, True), (6, True), (7, True), (8, True), (9, True), (10, True), (11, False), (12, True)]
    p3 = [(100 + i, True) for i in range(8)]  # always right: in the 60-100% group only
    p4 = [(200, True), (300, False), (400, False)]  # 3 samples: too few for 4 intervals
    rows = [(pid, n, c) for pid, ss in (("p1", p1), ("p2", p2), ("p3", p3), ("p4", p4)) for n, c in ss]
    rng = random.Random(5)
    rng.shuffle(rows)
    recs, seen = [], {}
    for pid, n, c in rows:
        seen[pid] = seen.get(pid, 0) + 1
        recs.append(rec(pid, 100 - seen[pid], c, n, benchmark="math"))
    RecordStore(d / "samples.jsonl").append(recs)
    write_json_atomic(d / "summary.json", summarize(recs) | {"manifest": {"model_name": "toy", "method": "baseline"}})
    return d


def test_analyze_length_table1_difficulty_and_png(tmp_path):
    console = quiet()
    res = analyze_length(_presample(tmp_path), tmp_path / "ana", console=console)
    t1 = res["table1"]
    # p1 intervals: [1, .5, 0, 0]; p2: [1, 1, 1, .5]; p3: [1, 1, 1, 1]; p4 skipped
    assert t1["n_problems"] == 3 and t1["n_skipped"] == 1
    assert t1["accuracy"] == pytest.approx([1.0, 2.5 / 3, 2 / 3, 1.5 / 3])
    assert t1["mean_tokens"][0] == pytest.approx((15 + 5.5 + 100.5) / 3)
    mixed = res["table1_mixed"]
    assert mixed["n_problems"] == 2 and mixed["accuracy"] == pytest.approx([1.0, 0.75, 0.5, 0.25])
    # pass rates: p1 3/8, p2 7/8, p3 1, p4 1/3 -> 0-40%: p1, p4; 30-70%: p1, p4; 60-100%: p2, p3
    groups = {g["group"]: g for g in res["difficulty"]}
    assert sorted(groups["0-40%"]["problem_ids"]) == ["p1", "p4"]
    assert sorted(groups["30-70%"]["problem_ids"]) == ["p1", "p4"]
    assert sorted(groups["60-100%"]["problem_ids"]) == ["p2", "p3"]
    assert groups["0-40%"]["accuracy"] == pytest.approx(4 / 11)
    assert groups["60-100%"]["mean_tokens"] == pytest.approx((68 + 8 * 103.5) / 16)
    for name in ("length_analysis.md", "length_analysis.json", "length_accuracy.png"):
        assert (tmp_path / "ana" / name).stat().st_size > 0
    assert (tmp_path / "ana" / "length_accuracy.png").read_bytes()[:4] == b"\x89PNG"
    md = (tmp_path / "ana" / "length_analysis.md").read_text()
    assert "| all problems, n=3: accuracy (%) | 100.0 | 83.3 | 66.7 | 50.0 |" in md
    assert "Interval 4 (longest)" in console.file.getvalue()
    assert json.loads((tmp_path / "ana" / "length_analysis.json").read_text())["model"] == "toy"


def test_analysis_says_the_difficulty_groups_overlap_and_names_files_relative(tmp_path):
    """The overlap is stated in the markdown, the JSON, the terminal table and the figure itself."""
    import matplotlib.text
    from pruneeval.records import by_problem
    from pruneeval.report.analyze import DIFFICULTY_NOTE, problem_key
    from pruneeval.report.plots import length_accuracy_figure
    d = _presample(tmp_path)
    console = quiet()
    res = analyze_length(d, tmp_path / "ana", console=console)
    assert sum(g["n_problems"] for g in res["difficulty"]) == 6 > res["n_problems"] == 4
    doc = json.loads((tmp_path / "ana" / "length_analysis.json").read_text())
    assert doc["difficulty_note"] == DIFFICULTY_NOTE and "overlap" in DIFFICULTY_NOTE
    assert DIFFICULTY_NOTE in (tmp_path / "ana" / "length_analysis.md").read_text()
    assert "overlapping groups" in console.file.getvalue()
    groups = by_problem(RecordStore(d / "samples.jsonl").load(), key=problem_key)
    fig = length_accuracy_figure(res, {(e["benchmark"], e["problem_id"]): groups[(e["benchmark"], e["problem_id"])]
                                       for e in res["examples"]})
    texts = [" ".join(t.get_text().split()) for t in fig.findobj(matplotlib.text.Text)]
    assert "Difficulty split by pass rate (groups overlap)" in texts and DIFFICULTY_NOTE in texts
    assert doc["files"] == ["presample/samples.jsonl"]
    assert doc["files_written"] == ["length_analysis.md", "length_analysis.json", "length_accuracy.png"]
    assert str(tmp_path) not in (tmp_path / "ana" / "length_analysis.md").read_text()


def test_analyze_length_accepts_a_file_and_splits_unevenly(tmp_path):
    d = _presample(tmp_path)
    res = analyze_length(d / "samples.jsonl", tmp_path / "ana5", n_intervals=3, console=quiet())
    # K=8 into 3 intervals: sizes 3, 3, 2; p1 -> [2/3, 1/3, 0]
    assert res["table1"]["n_problems"] == 4  # p4 (3 samples) now counts
    from pruneeval.records import by_problem
    from pruneeval.report.analyze import problem_key, split_by_length
    p1 = by_problem(RecordStore(d / "samples.jsonl").load(), key=problem_key)[("math", "p1")]
    chunks = split_by_length(p1, 3)
    assert [[r.n_tokens for r in c] for c in chunks] == [[10, 20, 30], [40, 50, 60], [70, 80]]
    with pytest.raises(UserError, match="no samples.jsonl"):
        analyze_length(tmp_path / "ana5", console=quiet())
