"""Grading on real outputs: the regression rows of ``data/grading_cases.jsonl`` (tails of labelled
outputs of real models from ``../shared/data/graded_outputs/dev.jsonl``, with their source, and rows
written for answer sentences, cut-off outputs and equivalences), the label corrections of
``data/grading_corrections.jsonl``, and agreement with the labels over the whole dev set."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pruneeval.grading import grade_many

HERE = Path(__file__).parent / "data"
DATA = Path(os.environ.get("PRUNEEVAL_DATA_DIR", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
DEV = DATA / "graded_outputs" / "dev.jsonl"
FIELDS = {"id", "source", "output_tail", "gold", "benchmark", "finish_reason", "correct"}


def _jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


CASES = _jsonl(HERE / "grading_cases.jsonl")
CORRECTIONS = {c["row"]: c for c in _jsonl(HERE / "grading_corrections.jsonl")}


def test_every_regression_row_grades_as_expected():
    grades = grade_many([(c["output_tail"], c["gold"], c["benchmark"]) for c in CASES], workers=1,
                        finish_reasons=[c["finish_reason"] for c in CASES])
    wrong = [(c["id"], c["source"], g) for c, g in zip(CASES, grades) if g.correct is not c["correct"]]
    assert wrong == []
    for c, g in zip(CASES, grades):
        assert (g.reason is None) == g.correct, (c["id"], g)


def test_regression_rows_are_complete_and_sourced():
    assert len(CASES) >= 150 and len({c["id"] for c in CASES}) == len(CASES)
    dev = [c for c in CASES if c["id"].startswith("dev-")]
    assert len(dev) >= 150 and {c["correct"] for c in dev} == {True, False}
    for c in CASES:
        assert FIELDS <= c.keys() and c["source"], c["id"]
        assert c["finish_reason"] in (None, "stop", "length"), c["id"]
    for c in dev:  # a row that contradicts its source's label carries the reason, the same as the list's
        fixed = CORRECTIONS.get(int(c["id"].split("-")[1]))
        assert (c["correct"] != c["label"]) == (fixed is not None), c["id"]
        assert fixed is None or c["correction"] == fixed["reason"], c["id"]


@pytest.mark.skipif(not DEV.exists(), reason="../shared/data/graded_outputs/dev.jsonl is not here")
def test_corrections_name_their_dev_rows():
    rows = _jsonl(DEV)
    for n, c in CORRECTIONS.items():
        r = rows[n - 1]
        assert (r["model"], r["problem_id"], r["label"]) == (c["model"], c["problem_id"], c["label"]), n
        assert c["corrected"] is not c["label"] and len(c["reason"]) > 10, n
    for c in CASES:
        if c["id"].startswith("dev-"):
            r = rows[int(c["id"].split("-")[1]) - 1]
            assert r["output"].endswith(c["output_tail"]) and r["gold"] == c["gold"], c["id"]


@pytest.mark.skipif(not DEV.exists(), reason="../shared/data/graded_outputs/dev.jsonl is not here")
def test_dev_set_agreement_raw_and_corrected():
    """At least 97.5% agreement with the sources' labels, 99% after the corrections."""
    rows = _jsonl(DEV)
    grades = grade_many([(r["output"], r["gold"], "math") for r in rows], workers=1)
    raw = sum(g.correct is r["label"] for g, r in zip(grades, rows)) / len(rows)
    truth = [(not r["label"]) if n in CORRECTIONS else r["label"] for n, r in enumerate(rows, 1)]
    corrected = sum(g.correct is t for g, t in zip(grades, truth)) / len(rows)
    assert raw >= 0.975 and corrected >= 0.99, (raw, corrected)
