"""Grading: gold-vs-gold on every benchmark, shuffled golds, a table of realistic outputs, hostile
inputs, the process pool's timeouts, and ``grade_jsonl``.  The fuzz is in test_grading_fuzz.py."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest
from pruneeval import benchmarks
from pruneeval.errors import UserError
from pruneeval.grading import Grade, grade, grade_jsonl, grade_many, last_boxed
from pruneeval.grading.equivalence import math_verify_equal
from pruneeval.grading.pool import pool

DATA = Path(os.environ.get("PRUNEEVAL_DATA_DIR", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


def _rows(rel: str) -> list[dict]:
    with open(DATA / rel, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _reference_outputs(name: str) -> tuple[list[str], list[str]]:
    """(reference outputs, gold answers) of a benchmark: the problems' own solutions."""
    problems = benchmarks.load(name, DATA)
    if name == "gsm8k":
        return [r["answer"] for r in _rows("gsm8k/test.jsonl")], [p.gold for p in problems]
    if name == "math":
        return [r["solution"] for r in _rows("math500/test.jsonl")], [p.gold for p in problems]
    if name == "math_full":
        return [r["solution"] for r in _rows("math/test.jsonl")], [p.gold for p in problems]
    # GaoKao has no solutions: the original "$...$" answer after a final-answer phrase.  The two
    # records with an empty answer (HMMT2023General_9, 052023SATS4_11) are left out.
    rows = _rows("gaokao2023en/test.jsonl")
    keep = [i for i, p in enumerate(problems) if p.gold]
    assert len(keep) == 383
    return [f"The answer is {rows[i]['answer']}" for i in keep], [problems[i].gold for i in keep]


def _gold_vs_gold(name: str) -> None:
    outputs, golds = _reference_outputs(name)
    grades = grade_many([(o, g, name) for o, g in zip(outputs, golds)], workers=2)
    wrong = [(g, x) for g, x in zip(golds, grades) if not x.correct]
    if name == "gaokao":  # its one malformed gold: "$145$solution:" (a model's "145" is marked wrong)
        assert [g for g, _ in wrong] == ["145solution:"]
    else:
        assert wrong == []
    # Shuffled: each output graded against the gold of the problem half the set away (a fixed
    # derangement).  Pairs whose gold strings are equal are left out: they are rightly correct.
    n = len(golds)
    pairs = [(outputs[i], golds[(i + n // 2) % n]) for i in range(n) if golds[i] != golds[(i + n // 2) % n]]
    shuffled = grade_many([(o, g, name) for o, g in pairs], workers=2)
    accepted = sum(x.correct for x in shuffled)
    assert accepted <= 0.01 * len(pairs), f"{accepted} of {len(pairs)} shuffled pairs graded correct"


@pytest.mark.parametrize("name", ["gsm8k", "math", "gaokao"])
def test_gold_vs_gold_and_shuffled(name):
    _gold_vs_gold(name)


def test_gaokao_boxed_gold_vs_gold():
    golds = [p.gold for p in benchmarks.load("gaokao", DATA) if p.gold]
    grades = grade_many([("\\boxed{" + g + "}", g, "gaokao") for g in golds], workers=2)
    assert all(x.correct for x in grades)


@pytest.mark.parametrize("name", ["math", "gaokao"])
def test_math_verify_alone_accepts_every_gold(name):
    """Without the cheap paths, math-verify still finds every gold equal to itself."""
    golds = [p.gold for p in benchmarks.load(name, DATA) if p.gold]
    assert [g for g in golds if not math_verify_equal(g, g)] == []


@pytest.mark.slow
def test_math_full_gold_vs_gold_and_shuffled():
    _gold_vs_gold("math_full")


THINK = "<think>\nOkay, so 16 - 3 - 4 = 9 eggs, 9 * 2 = 18. Wait, let me re-check: \\boxed{17}? No.\n</think>\n\n"
CASES = [  # (output, gold, benchmark, correct, extracted or reason)
    (THINK + "She makes $18 a day.\n\n\\boxed{18}", "18", "gsm8k", True, "18"),
    (THINK + "The answer is 18.", "18", "gsm8k", True, "18"),
    (THINK + "She makes $18 every day.", "18", "gsm8k", True, "18"),
    ("<think>\nLet me compute 16 - 3 - 4 = 9, so 9 * 2 = 18 and", "18", "gsm8k", False, "no_answer"),
    ("Let's see. 16 - 3 - 4 = 9 eggs. Then 9 * 2 = 18. Hmm, wait, maybe she also", "18", "gsm8k", False, "no_answer"),
    ("Let's see. 16 - 3 - 4 = 9 eggs. Then 9 * 2 = 18", "18", "gsm8k", False, "no_answer"),
    ("So the answer is 18. But wait, let me double-check this by recomputing the", "18", "gsm8k", False, "no_answer"),
    ("She sells 9 eggs, so she makes 9 * 2 = $18 every day.", "18", "gsm8k", True, "18"),
    ("Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs.\n#### 1,450,000", "1450000", "gsm8k", True, "1,450,000"),
    ("So she makes \\boxed{\\$18.00} per day.", "18", "gsm8k", True, "\\$18.00"),
    ("\\boxed{18 \\text{ dollars}}", "18", "gsm8k", True, "18 \\text{ dollars}"),
    ("The final answer is 18 dollars", "18", "gsm8k", True, "18"),
    (THINK + "\\boxed{17}", "18", "gsm8k", False, "mismatch"),
    ("<Thought>\n9*2=18\n</Thought>\n<Output>\nShe makes $18 every day.\n</Output>", "18", "gsm8k", True, "18"),
    ("<think>3+4=7. Check: 3+4=7.</think>\\boxed{7}", "7", "toy", True, "7"),
    ("<think>3+4=7. Check: 3+4=7.</think>", "7", "toy_train", False, "no_answer"),
    ("Hmm.\n\n**Final Answer**\n\n\\[ \\boxed{\\dfrac{3}{4}} \\]", "\\frac34", "math", True, "\\dfrac{3}{4}"),
    ("<think>maybe \\boxed{6}</think> So the answer is \\boxed{7}.", "7", "math", True, "7"),
    ("<think>maybe \\boxed{6}</think> The answer is 7.", "7", "math", True, "7"),
    ("The area is 12. Hmm, wait, if the side is 4 then 4*4 = 16 and", "16", "math", False, "no_answer"),
    ("Therefore, the final answer is $\\frac{\\pi}{3}$.", "\\frac{\\pi}{3}", "math", True, "\\frac{\\pi}{3}"),
    ("Final Answer: The final answer is $12$. I hope it is correct.", "12", "math", True, "12"),
    ("Therefore, the answer is:\n\n$$12$$", "12", "math", True, "12"),
    ("**Final Answer**\n\n18", "18", "gsm8k", True, "18"),
    ("\\boxed{\\text{East}}", "\\text{east}", "math", True, "\\text{East}"),
    ("\\boxed{east}", "\\text{east}", "math", True, "east"),
    ("\\boxed{\\text{west}}", "\\text{east}", "math", False, "mismatch"),
    ("\\boxed{10080}", "10,\\!080", "math", True, "10080"),
    ("\\boxed{10,080}", "10080", "math", True, "10,080"),
    ("\\boxed{12}", "12\\mbox{ inches}^2", "math", True, "12"),
    ("\\boxed{20}", "20 cm^{2}", "gaokao", True, "20"),
    ("\\boxed{576\\pi}", "576\\pi\\;m^{2}", "gaokao", True, "576\\pi"),
    ("\\boxed{25}", "025", "math", True, "25"),
    ("\\boxed{025}", "25", "math", True, "025"),
    ("\\boxed{\\begin{pmatrix} -1 \\\\ 2 \\end{pmatrix}}", "\\begin{pmatrix}-1\\\\2\\end{pmatrix}", "math", True, None),
    ("\\boxed{\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}}", "\\begin{pmatrix}-1\\\\2\\end{pmatrix}", "math", False, "mismatch"),
    ("\\boxed{\\{3, 1, 2\\}}", "\\{1,2,3\\}", "math", True, None),
    ("\\boxed{[2, 3)}", "[2,3)", "math", True, None),
    ("\\boxed{(2,3)}", "[2,3)", "math", False, "mismatch"),
    ("\\boxed{(-\\infty, -3)}", "(-\\infty,-3)", "gaokao", True, None),
    ("\\boxed{(1, 2)}", "(1,2)", "math", True, None),
    ("\\boxed{(2, 1)}", "(1,2)", "math", False, "mismatch"),
    ("\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}", "\\left( 3, \\frac{\\pi}{2} \\right)", "math", True, None),
    ("\\boxed{2500}", "25\\%", "math", False, "mismatch"),
    ("\\boxed{25\\%}", "25\\%", "math", True, None),
    ("\\boxed{\\dfrac{1}{2}}", "\\frac12", "math", True, None),
    ("\\boxed{0.5}", "\\frac12", "math", True, None),
    ("\\boxed{0.33}", "\\frac{1}{3}", "math", False, "mismatch"),
    ("\\boxed{30^\\circ}", "30", "math", True, None),
    ("\\boxed{2, -2}", "\\pm 2", "math", True, None),
    ("\\boxed{2\\sqrt{2}}", "\\sqrt{8}", "math", True, None),
    ("\\boxed{(x+1)^2}", "x^2+2x+1", "math", True, None),
    ("\\boxed{x = 5}", "5", "math", True, None),
    ("So \\boxed{48} and \\boxed{384}.", "48, 384", "gaokao", True, "48, 384"),
    ("\\boxed{384, 48}", "48, 384", "gaokao", True, None),
    ("The answer is $5$ or $9$.", "5 or 9", "gaokao", True, "5 or 9"),
    ("</think>\n\n\\boxed{B}", "B", "gaokao", True, "B"),
    ("\\boxed{(B)}", "B", "gaokao", True, "B"),
    ("\\boxed{\\text{(C) } 12}", "B", "gaokao", False, "mismatch"),
    ("The answer is (D).", "D", "gaokao", True, "D"),
    ("</think>\n\n**Answer: C**", "C", "gaokao", True, "C"),
    ("\\boxed{12}", "B", "gaokao", False, "mismatch"),
    ("\\boxed{}", "5", "math", False, "no_answer"),
    ("so it is \\boxed 5$.", "5", "math", True, "5"),
    ("\\fbox{5}", "5", "math", True, "5"),
    ("<think>it is 5</think>", "5", "math", False, "no_answer"),
    ("\\boxed{5}", "", "gaokao", False, "no_gold"),
]


@pytest.mark.parametrize("output, gold, bench, correct, detail", CASES)
def test_cases(output, gold, bench, correct, detail):
    g = grade(output, gold, bench)
    assert g.correct is correct, g
    assert (g.reason is None) is correct
    if detail in ("no_answer", "no_gold", "mismatch", "parse_error", "timeout"):
        assert g.reason == detail, g
    elif detail is not None:
        assert g.extracted == detail, g
    if g.reason == "no_answer":
        assert g.extracted is None


def test_grade_many_matches_grade_in_order():
    items = [(o, g, b) for o, g, b, _, _ in CASES]
    assert grade_many(items, workers=2) == [grade(*it) for it in items] == grade_many(items, workers=1)


def test_last_boxed():
    assert last_boxed("\\boxed{1} and \\boxed{\\frac{2}{3}}") == "\\frac{2}{3}"
    assert last_boxed("\\boxed{1} then \\boxed{2") == "1"
    assert last_boxed("\\boxed 7$.") == "7"
    assert last_boxed("no box") is None


# ---------------------------------------------------------------- hostile inputs

HOSTILE = {
    "empty": "",
    "whitespace": "  \n\t ",
    "200 KB without an answer": "Let me think about this again. " * 7000,
    "unclosed boxed": "so \\boxed{" + "x+" * 50000,
    "many unclosed boxed": "\\boxed{" * 30000,
    "10,000 nested braces": "\\boxed{" + "{" * 10000 + "1" + "}" * 10000 + "}",
    "deep but short": "\\boxed{" + "(" * 450 + "2" + ")" * 450 + "}",
    "invalid UTF-8": b"\\boxed{6} \xff\xfe\xc3".decode("utf-8", "surrogateescape"),
    "lone surrogates": "\ud800 the answer is \\boxed{6}\udfff",
    "huge number": "\\boxed{1" + "0" * 5000 + "}",
    "huge power": "\\boxed{9^{9^{9^{9}}}}",
    "huge factorial": "\\boxed{(10^{10})!}",
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_outputs_give_a_false_grade_quickly(name):
    t0 = time.monotonic()
    g = grade(HOSTILE[name], "5", "math", timeout_s=2)
    assert time.monotonic() - t0 < 4
    assert isinstance(g, Grade) and g.correct is False and g.reason is not None
    if g.extracted is not None:
        assert len(g.extracted) <= 1000


def test_hostile_golds_and_huge_gsm8k_numbers():
    assert grade("\\boxed{5}", "\\boxed{", "math").correct is False
    assert grade("\\boxed{5}", "\ud800", "gaokao").reason == "mismatch"
    assert grade("The answer is " + "9" * 5000 + ".", "9" * 5000, "gsm8k").reason == "parse_error"
    assert grade("\\boxed{" + "9" * 900 + "}", "9" * 900, "gsm8k").correct is True
    assert grade(b"\\boxed{5}", "5", "math").correct and grade(None, "5", "math").reason == "no_answer"
    with pytest.raises(UserError):
        grade("\\boxed{5}", "5", "no_such_benchmark")


def test_grade_many_with_pathological_items_finishes_in_time():
    items = [(o, "5", "math") for o in HOSTILE.values()] + [("\\boxed{5}", "5", "math")]
    grade_many(items[-1:], workers=2)  # warm the pool: starting it is not grading time
    t0 = time.monotonic()
    grades = grade_many(items, workers=2, timeout_s=2)
    assert time.monotonic() - t0 < 2 * 2 + 6  # at most two slow items per worker, plus margin
    assert [g.correct for g in grades] == [False] * len(HOSTILE) + [True]


def test_a_stuck_worker_is_killed_and_its_chunk_finished():
    """The worker's own deadline is set past the parent's: the parent must kill and replace it."""
    items = [("\\boxed{1}", "1", "math"), ("\\boxed{10^{10^{7}} + 1}", "10^{10000000}", "math"),
             ("\\boxed{2}", "2", "math")]
    t0 = time.monotonic()
    grades = pool(1).run([(*it, None) for it in items], chunk=3, timeout_s=1, inner_s=60)
    assert time.monotonic() - t0 < 20
    assert grades == [Grade(True, "1"), Grade(False, "10^{10^{7}} + 1", "timeout"), Grade(True, "2")]


def test_empty_batch_starts_nothing(monkeypatch):
    monkeypatch.setattr("pruneeval.grading.api.pool", lambda n: pytest.fail("pool started"))
    assert grade_many([]) == []


def test_grade_from_a_thread():
    out = []
    t = threading.Thread(target=lambda: out.append(grade("\\boxed{\\frac{1}{2}}", "0.5", "math")))
    t.start()
    t.join(60)
    assert out == [Grade(True, "\\frac{1}{2}")]


# ---------------------------------------------------------------- grade_jsonl

def test_grade_jsonl_writes_graded_lines(tmp_path):
    src = tmp_path / "in.jsonl"
    rows = [{"id": 1, "output": "\\boxed{18}", "gold": "18"}, {"id": 2, "output": "so 17 and", "gold": "18"}]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n")
    out = tmp_path / "out.jsonl"
    assert grade_jsonl(src, "gsm8k", out) == {"n": 2, "correct": 1, "accuracy": 0.5}
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert got[0] == {**rows[0], "correct": True, "extracted": "18", "reason": None}
    assert got[1] == {**rows[1], "correct": False, "extracted": None, "reason": "no_answer"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.jsonl"]
    assert grade_jsonl(src, "gsm8k")["n"] == 2


@pytest.mark.parametrize("line, message", [
    (b'{"output": "x", "gold": "1"', "malformed JSON"),
    (b'{"gold": "1"}', "missing field 'output'"),
    (b'{"output": "x"}', "missing field 'gold'"),
    (b'{"output": 3, "gold": "1"}', "field 'output' is not a string"),
    (b'{"output": "x", "gold": "1", "finish_reason": 3}', "field 'finish_reason' is not a string"),
    (b'["x", "1"]', "expected a JSON object"),
    (b'{"output": "\xff", "gold": "1"}', "invalid UTF-8"),
])
def test_grade_jsonl_bad_lines(tmp_path, line, message):
    src = tmp_path / "bad.jsonl"
    src.write_bytes(b'{"output": "\\\\boxed{1}", "gold": "1"}\n' + line + b"\n")
    with pytest.raises(UserError, match=f"^{src}:2: {message}"):
        grade_jsonl(src, "gsm8k", tmp_path / "out.jsonl")
    assert not (tmp_path / "out.jsonl").exists()


def test_grade_jsonl_reads_the_finish_reason(tmp_path):
    """The same boxed answer: cut off by the length limit it is no answer; finished, it is graded."""
    src = tmp_path / "in.jsonl"
    rows = [{"output": "So \\boxed{18}. Wait, let me check", "gold": "18", "finish_reason": f} for f in ("length", "stop")]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    assert grade_jsonl(src, "gsm8k", out)["correct"] == 1
    assert [json.loads(line)["reason"] for line in out.read_text().splitlines()] == ["no_answer", None]


def test_grade_jsonl_unknown_benchmark_and_missing_file(tmp_path):
    with pytest.raises(UserError, match="unknown benchmark"):
        grade_jsonl(tmp_path / "x.jsonl", "nope")
    with pytest.raises(UserError, match="cannot read"):
        grade_jsonl(tmp_path / "x.jsonl", "gsm8k")
