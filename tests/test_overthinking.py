"""Overthinking metrics: candidate answers and their exact token positions (real Qwen2 tokenizer),
solution rounds, outcome efficiency, the per-model JSONL report, the per-difficulty report and the
summary.json block of records, and one-line errors on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import QWEN2_TOKENIZER, REPO

from pruneeval import benchmarks
from pruneeval.cli import main
from pruneeval.grading.candidates import candidates, round_of, rounds
from pruneeval.metrics import summarize
from pruneeval.overthinking import UNITS, Item, aggregate, measure
from pruneeval.records import RecordStore, SampleRecord
from pruneeval.toy import world

# Right at "So the answer is 36", then a check, a conclusion, a hesitation, the final box, the summary.
REDUNDANT = r"""<think>
Let me compute 12 * 3.
12 * 3 = 36.

So the answer is 36.

Wait, let me double-check: 3 * 12 = 36. Yes.

Therefore, the total is 36.

Hmm, maybe I should verify once more: 36 / 3 = 12.

**Final Answer**
\boxed{36}
</think>
The answer is \boxed{36}."""
# Right midway (12), then talked into a wrong final answer (35).
TALKED_OUT = ("First, 7 + 5 = 12. So the answer is 12.\n\nWait, I misread: the problem asks for 7 * 5, and "
              "7 * 5 = 35. Therefore the answer is \\boxed{35}.")
NO_ANSWER = "I am not sure how to approach this problem, and I will stop here"


@pytest.fixture(scope="module")
def count():
    from pruneeval.report.overthinking import count_tokens

    return count_tokens(str(QWEN2_TOKENIZER))


def test_candidates_positions_kinds_and_rounds():
    cs = candidates(REDUNDANT)
    first = REDUNDANT.index("So the answer is 36") + len("So the answer is 36")
    assert [(c.kind, c.answer) for c in cs] == [("phrase", "36"), ("conclusion", "36"), ("conclusion", "36"),
                                                ("boxed", "36"), ("boxed", "36")]
    assert cs[0].end == first and REDUNDANT[cs[3].start:cs[3].end] == "\\boxed{36}"
    # the phrase and its own sentence are one round; "The answer is \boxed{36}" is one candidate, the box
    assert round_of(REDUNDANT, cs) == [0, 0, 1, 2, 3] and rounds(REDUNDANT, cs) == 4
    assert rounds(NO_ANSWER, candidates(NO_ANSWER)) == 0 and candidates(NO_ANSWER) == []
    # a markdown heading is not GSM8K's "#### 72"; a conclusion needs a restart (or the end) after it
    assert [c.answer for c in candidates("#### \\( n = 3 \\)\nSo n = 3 is not a solution.\n\n#### 72")] == ["72"]
    assert candidates("So x = 4.\n\nNow we add 1 to get 5.\n\nThe end.") == []
    assert [c.answer for c in candidates("So x = 4.\n\nWait, that is wrong.")] == ["4"]


def test_toy_rounds_end_at_the_last_step_and_at_each_re_check():
    """A toy solution: a slip corrected, the pass's last step (first correct), two re-checks, the box."""
    import random

    text = world.solution(world.parse("16 - 1 - 7 - 6 + 11 = ?"), random.Random(3), slip_p=0.3, rechecks=2)
    assert "Wait, that's wrong." in text and text.count("Wait, let me verify") == 2
    cands = candidates(text, toy=True)
    last_step = text.index("Step 4: 2 + 11 = 13") + len("Step 4: 2 + 11 = 13")
    assert [c.end for c in cands] == [last_step, text.index("Correct.") + 8, text.rindex("Correct.") + 8, len(text)]
    assert rounds(text, cands) == 3  # the pass, two re-checks (the box closes the last one)
    assert [c.kind for c in candidates(text)] == ["boxed"]  # the step and re-check rules are the toy's only
    (m,) = measure([Item(text, "13", "toy", n_tokens=100, correct=True, extracted="13")])
    assert m.first_correct == pytest.approx(100 * last_step / len(text)) and m.rounds == 3
    assert m.rounds_to_first_correct == 1


def test_exact_token_positions_with_the_qwen2_tokenizer(count):
    items = [Item(REDUNDANT, "36", "math"), Item(TALKED_OUT, "12", "math"), Item(NO_ANSWER, "36", "math")]
    redundant, talked, none = measure(items, count, workers=1)
    end = REDUNDANT.index("So the answer is 36") + len("So the answer is 36")
    assert redundant.first_correct == count(REDUNDANT[:end]) == 30  # pinned: the tokenizer's own count
    assert redundant.total == count(REDUNDANT) == 102
    assert (redundant.correct, redundant.rounds, redundant.rounds_to_first_correct) == (True, 4, 1)
    assert talked.first_correct == count("First, 7 + 5 = 12. So the answer is 12") == 19
    assert (talked.correct, talked.no_final_answer, talked.total) == (False, False, 57)
    assert (none.first_correct, none.rounds, none.n_candidates, none.correct) == (None, 0, 0, False)
    agg = aggregate([redundant, talked, none], UNITS[0])
    assert agg["first_correct"] == 30 and agg["after_first_correct"] == 72  # only the correct output counts
    assert agg["mean_length_correct"] == 102 and agg["mean_length"] == pytest.approx((102 + 57 + count(NO_ANSWER)) / 3)
    assert agg["efficiency"] == pytest.approx(30 / 102)
    assert agg["efficiency_all"] == pytest.approx((30 / 102 + 19 / 57) / 3)  # Chen et al.'s average over all
    assert (agg["correct_then_wrong"], agg["correct_then_no_answer"], agg["no_candidate"]) == (1, 0, 1)
    assert agg["rounds"] == pytest.approx((4 + 2 + 0) / 3) and agg["rounds_after_first_correct"] == 3


def test_without_a_tokenizer_positions_are_estimated_from_characters():
    end = REDUNDANT.index("So the answer is 36") + len("So the answer is 36")
    [m] = measure([Item(REDUNDANT, "36", "math", n_tokens=1000)], workers=1)
    assert m.first_correct == pytest.approx(1000 * end / len(REDUNDANT)) and m.total == 1000
    [c] = measure([Item(REDUNDANT, "36", "math")], workers=1)
    assert (c.first_correct, c.total) == (end, len(REDUNDANT))


def test_a_candidate_is_graded_like_the_final_answer():
    """The same grader: "x = 5", "\\frac{1}{2}" and "0.5" are right; a wrong candidate is not."""
    out = "So the answer is x = 5.\n\nWait, check: 2x = 10. The answer is \\boxed{\\frac{10}{2}}."
    [m] = measure([Item(out, "5", "math")], workers=1)
    assert m.correct and m.first_correct == len("So the answer is x = 5")
    [w] = measure([Item("The answer is 4.\n\nBut no. The answer is \\boxed{5}.", "5", "math")], workers=1)
    assert w.first_correct == len("The answer is 4.\n\nBut no. The answer is \\boxed{5}")


def _record(pid, idx, output, gold, correct, extracted, benchmark="toy"):
    return SampleRecord(pid, idx, benchmark, [{"role": "user", "content": "q"}], output, 40 + idx, "stop", 0.01,
                        extracted, correct, None if correct else "mismatch", gold)


def test_summary_has_an_overthinking_block_and_keeps_its_keys():
    recs = [_record("a", 0, "Step 1: 2 + 3 = 5\n\\boxed{5}", "5", True, "5", "gsm8k"),
            _record("a", 1, "So the answer is 5.\n\nWait, let me verify.\n\\boxed{6}", "5", False, "6", "gsm8k"),
            _record("b", 0, "no idea", "7", False, None, "gsm8k")]
    s = summarize(recs, 1.0)
    assert set(s) == {"n_samples", "n_problems", "accuracy", "mean_tokens", "median_tokens", "p90_tokens",
                      "truncated_rate", "no_answer_rate", "gen_time_s", "tokens_per_s", "overthinking"}
    o = s["overthinking"]
    assert o["unit"] == "tokens (estimated from characters)" and (o["n"], o["n_correct"]) == (3, 1)
    assert o["efficiency"] == 1.0 and o["first_correct"] == 40 and o["correct_then_wrong"] == 1
    assert o["no_candidate"] == 1 and json.loads(json.dumps(s)) == s


def test_jsonl_report_per_model_with_exact_tokens(tmp_path, count, capsys):
    rows = [{"model": "long", "dataset": "aime24", "output": REDUNDANT, "gold": "36"},
            {"model": "long", "dataset": "math500", "output": TALKED_OUT, "gold": "12"},
            {"model": "short", "dataset": "gsm8k", "output": "3 + 4 = 7. The answer is \\boxed{7}.", "gold": "7",
             "n_tokens": 99}]
    src = tmp_path / "outs.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    main(["analyze", "overthinking", str(src), "--tokenizer", str(QWEN2_TOKENIZER), "-o", str(tmp_path / "o")])
    res = json.loads((tmp_path / "o" / "overthinking.json").read_text())
    assert res["unit"] == "tokens" and res["grouped_by"] == "model"
    groups = {g["group"]: g for g in res["groups"]}
    assert list(groups) == ["long", "short", "all"]
    assert groups["long"]["n"] == 2 and groups["long"]["first_correct"] == 30 and groups["long"]["accuracy"] == 0.5
    assert groups["long"]["correct_then_wrong"] == 1 and groups["long"]["after_first_correct"] == 72
    assert groups["short"]["first_correct"] == count("3 + 4 = 7. The answer is \\boxed{7}")
    md = (tmp_path / "o" / "overthinking.md").read_text()
    assert "| long | 2 | 50.0 |" in md and "Chen et al. 2024" in md
    out = capsys.readouterr().out
    assert "long" in out and "short" in out and "First" in out and "(positions in tokens)" in out


def test_records_report_per_difficulty(tmp_path, capsys):
    problems = benchmarks.load("toy")[:12]
    recs = [_record(p.id, 0, p.meta["plain_solution"], p.gold, True, p.gold) for p in problems]
    RecordStore(tmp_path / "toy_len" / "samples.jsonl").append(recs)
    main(["analyze", "overthinking", str(tmp_path)])
    res = json.loads((tmp_path / "overthinking" / "overthinking.json").read_text())
    want = sorted({p.meta["difficulty"] for p in problems})
    assert res["grouped_by"] == "difficulty" and res["unit"] == "tokens (estimated from characters)"
    assert [g["group"] for g in res["groups"]] == [f"toy {d} operands" for d in want] + ["all"]
    # a plain toy solution's first correct answer is its last step; only the boxed line comes after it
    solutions = [p.meta["plain_solution"] for p in problems]
    share = [(len(t) - len(t.rsplit("\n", 1)[1]) - 1) / len(t) for t in solutions]
    assert res["groups"][-1]["n"] == 12 and res["groups"][-1]["efficiency"] == pytest.approx(sum(share) / 12)
    assert res["groups"][-1]["rounds"] == 1.0
    assert (tmp_path / "overthinking" / "overthinking.md").is_file()


BAD = [
    ('{"output": "x", "gold": "1", "dataset": "math500"}\n{"output": "x", "dataset": "math500"}\n',
     [], "bad.jsonl:2: missing field 'gold'"),
    ('{"output": "x", "gold": "1", "n_tokens": "many", "dataset": "gsm8k"}\n', [],
     "bad.jsonl:1: field 'n_tokens' must be an integer >= 0"),
    ('{"output": "x", "gold": "1", "dataset": "poetry"}\n', [], "bad.jsonl:1: field 'dataset': no grading rules"),
    ('{"output": "x", "gold": "1"}\n', [], "bad.jsonl:1: no 'dataset' or 'benchmark' field"),
    ('{"output": "x", "gold": "1"}\n{"output": \n', ["--benchmark", "gsm8k"], "bad.jsonl:2: malformed JSON"),
    ('{"output": "x", "gold": "1"}\n', ["--benchmark", "nope"], "unknown benchmark 'nope'"),
    ('{"output": "x", "gold": "1"}\n', ["--benchmark", "gsm8k", "--tokenizer", "{tmp}"], "cannot load a tokenizer"),
]


@pytest.mark.parametrize("text, args, message", BAD, ids=[m for *_, m in BAD])
def test_bad_input_is_one_line_naming_file_line_and_field(text, args, message, tmp_path, capsys):
    (tmp_path / "bad.jsonl").write_text(text)
    with pytest.raises(SystemExit) as exit_:
        main(["analyze", "overthinking", str(tmp_path / "bad.jsonl"), *[a.format(tmp=tmp_path) for a in args],
              "-o", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert message in err and "Traceback" not in err and not (tmp_path / "o" / "overthinking.json").exists()


def test_bad_line_from_a_real_process(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"output": "x", "gold": 3, "dataset": "math500"}\n')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    res = subprocess.run([sys.executable, "-m", "pruneeval.cli", "analyze", "overthinking", "bad.jsonl"],
                         capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert res.returncode == 2 and res.stderr.strip() == "error: bad.jsonl:1: field 'gold' is not a string"
    assert not (tmp_path / "overthinking").exists()


def test_the_readme_table_is_the_committed_report():
    """The README's dev-set table is ``reports/overthinking-dev`` (written by the command above it)."""
    readme = (REPO / "README.md").read_text()
    report = REPO / "reports" / "overthinking-dev"
    table = [ln for ln in (report / "overthinking.md").read_text().splitlines() if ln.startswith("| ")]
    assert len(table) == 13 and "\n".join(table) in readme
    res = json.loads((report / "overthinking.json").read_text())
    assert res["unit"] == "tokens" and res["n"] == 944 and res["tokenizer"] in readme
