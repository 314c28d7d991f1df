"""Benchmark registry and loaders: counts, gold answers, stable ids, bad data files."""

import json

import pytest

from pruneeval import benchmarks
from pruneeval.errors import UserError

COUNTS = {"gsm8k": 1319, "gsm8k_train": 7473, "math": 500, "math_o1pruner": 458, "math_full": 5000,
          "math_train": 7500, "gaokao": 385}


@pytest.mark.parametrize("name", COUNTS)
def test_counts_and_unique_ids(name, data_dir):
    problems = benchmarks.load(name, data_dir)
    assert len(problems) == COUNTS[name]
    assert len({p.id for p in problems}) == len(problems)
    assert all(p.question.strip() for p in problems)
    assert benchmarks.load(name, data_dir, limit=3) == problems[:3]


def test_gold_answers(data_dir):
    gsm = benchmarks.load("gsm8k", data_dir)
    assert gsm[0].gold == "18"
    assert all("," not in p.gold for p in gsm)  # thousands commas stripped (14 in test)
    math_full = benchmarks.load("math_full", data_dir)
    assert math_full[0].gold == "2"
    math500 = benchmarks.load("math", data_dir)
    assert math500[0].id == "test/precalculus/807.json"
    assert math500[0].gold == "\\left( 3, \\frac{\\pi}{2} \\right)"
    gaokao = benchmarks.load("gaokao", data_dir)
    assert gaokao[0].gold == "\\{x|-2\\leq x < 1\\}"
    assert sum(p.gold in ("A", "B", "C", "D") for p in gaokao) == 36
    assert all("$" not in p.gold for p in gaokao)


def test_o1pruner_subset_is_the_paper_ids(data_dir):
    ids = json.loads((data_dir / "math500" / "o1pruner_458_ids.json").read_text())
    assert [p.id for p in benchmarks.load("math_o1pruner", data_dir)] == ids


def test_ids_are_stable_across_loads(data_dir):
    a = [p.id for p in benchmarks.load("gsm8k", data_dir, 50)]
    assert a == [p.id for p in benchmarks.load("gsm8k", data_dir, 50)]


def test_env_var_data_dir(data_dir, monkeypatch):
    monkeypatch.setenv(benchmarks.DATA_DIR_ENV, str(data_dir))
    assert len(benchmarks.load("gaokao")) == 385


def _write(tmp_path, rel, lines):
    f = tmp_path / rel
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_bytes(b"".join(lines))
    return f


@pytest.mark.parametrize("lines, message", [
    ([b'{"question": "q", "answer": "a #### 1"}\n', b'{"question": "q2", "answer"\n'], "test.jsonl:2: malformed JSON"),
    ([b'{"question": "q", "answer": "no final"}\n'], "test.jsonl:1: field 'answer' has no '####'"),
    ([b'{"answer": "#### 1"}\n'], "test.jsonl:1: missing or empty field 'question'"),
    ([b'{"question": "\xff\xfe", "answer": "#### 1"}\n'], "test.jsonl:1: invalid UTF-8"),
    ([b'[1, 2]\n'], "test.jsonl:1: expected a JSON object"),
])
def test_bad_data_file_names_file_and_line(tmp_path, lines, message):
    _write(tmp_path, "gsm8k/test.jsonl", lines)
    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        benchmarks.load("gsm8k", tmp_path)


def test_unknown_benchmark_and_missing_dir(tmp_path):
    with pytest.raises(UserError, match="unknown benchmark 'nope'"):
        benchmarks.load("nope", tmp_path)
    with pytest.raises(UserError, match="does not exist"):
        benchmarks.load("gsm8k", tmp_path / "missing")
    with pytest.raises(UserError, match="benchmark file not found"):
        benchmarks.load("gsm8k", tmp_path)
