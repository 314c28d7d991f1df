"""Kill and resume: ``pruneeval eval``, ``presample`` and ``train`` are each killed with SIGKILL at three
seeded random points, then rerun to the end.  The result has no duplicate and no corrupt line, and
equals an uninterrupted run's: the same summary, the same samples, the same trained weights."""

import json
import os
import random
import subprocess
from pathlib import Path

import pytest

from kill_run import PRUNEEVAL, kill_three_times, lines

SUMMARY_KEYS = ("n_samples", "accuracy", "mean_tokens", "median_tokens", "p90_tokens", "truncated_rate",
                "no_answer_rate")


def _run(args, env):
    res = subprocess.run([*PRUNEEVAL, *map(str, args)], env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]


def _records(path: Path) -> dict:
    """Every line parses; returns {(problem_id, sample_idx): record} and checks there is no duplicate."""
    rows = [json.loads(line) for line in path.read_bytes().splitlines()]
    keyed = {(r["problem_id"], r["sample_idx"]): r for r in rows}
    assert len(keyed) == len(rows), "duplicate sample lines"
    return keyed


def _same_samples(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        for field in ("output", "n_tokens", "finish_reason", "correct", "extracted", "token_ids"):
            assert a[key].get(field) == b[key].get(field), (key, field)


def _summary(path: Path) -> dict:
    s = json.loads(path.read_text())
    return {k: s[k] for k in SUMMARY_KEYS if k in s}


@pytest.fixture()
def env(data_dir):
    return {**os.environ, "PRUNEEVAL_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}


@pytest.mark.slow
def test_eval_killed_three_times(tiny_model, tmp_path, env):
    args = ["eval", "--model", tiny_model, "--tasks", "gsm8k_len", "--limit", 40, "--max-tokens", 48,
            "--batch-size", 2]  # chunks of 8 problems: 5 chunks
    _run([*args, "--out", tmp_path / "ref"], env)
    samples = tmp_path / "killed" / "gsm8k_len" / "samples.jsonl"
    seen = kill_three_times([*args, "--out", tmp_path / "killed"], env, lambda: lines(samples),
                            random.Random(1), jitter_s=0.4)
    assert 0 < seen[-1] < 40, seen
    _run([*args, "--out", tmp_path / "killed"], env)
    _same_samples(_records(tmp_path / "ref" / "gsm8k_len" / "samples.jsonl"), _records(samples))
    assert _summary(samples.with_name("summary.json")) == _summary(tmp_path / "ref" / "gsm8k_len" / "summary.json")


PRESAMPLE = ["presample", "--benchmark", "toy_train", "--limit", 48, "--k", 4, "--batch-size", 16, "--seed", 5]


@pytest.fixture(scope="module")
def presampled(toy_model_dir, tmp_path_factory, data_dir):
    """An uninterrupted presample (6 chunks of 8 problems x 4 samples): reference and training data."""
    out = tmp_path_factory.mktemp("presample-ref")
    _run([*PRESAMPLE, "--out", out], {**os.environ, "PRUNEEVAL_DATA_DIR": str(data_dir)})
    return out


@pytest.mark.slow
def test_presample_killed_three_times(presampled, tmp_path, env):
    samples = tmp_path / "killed" / "samples.jsonl"
    seen = kill_three_times([*PRESAMPLE, "--out", tmp_path / "killed"], env, lambda: lines(samples),
                            random.Random(2), jitter_s=0.5)
    assert 0 < seen[-1] < 48 * 4, seen
    _run([*PRESAMPLE, "--out", tmp_path / "killed"], env)
    _same_samples(_records(presampled / "samples.jsonl"), _records(samples))
    assert _summary(tmp_path / "killed" / "summary.json") == _summary(presampled / "summary.json")
    assert json.loads((tmp_path / "killed" / "stats.json").read_text()) == \
        json.loads((presampled / "stats.json").read_text())


def _steps(checkpoints: Path) -> int:
    """The newest optimizer step with a checkpoint directory (complete or being written)."""
    steps = [int(p.name.split("-")[1]) for p in checkpoints.glob("checkpoint-*")] if checkpoints.is_dir() else []
    return max(steps, default=0)


@pytest.mark.slow
def test_train_killed_three_times(presampled, tmp_path, env):
    from safetensors.torch import load_file

    args = ["train", "--method", "o1pruner", "--presample", presampled, "--epochs", 1, "--batch-size", 4,
            "--micro-batch-size", 4, "--save-steps", 1, "--seed", 7]  # 2 of 4 samples of 48 problems: 24 steps
    _run([*args, "--out", tmp_path / "ref"], env)
    out = tmp_path / "killed"
    rng = random.Random(3)
    steps = sorted(rng.sample(range(2, 20), 3))  # three random steps, then up to about a step's time more
    seen = kill_three_times([*args, "--out", out], env, lambda: _steps(out / "checkpoints"),
                            rng, jitter_s=0.05, targets=steps)
    assert 0 < seen[-1] < 24 and not (out / "model").exists(), seen
    _run([*args, "--out", out], env)
    ref, got = load_file(tmp_path / "ref" / "model" / "model.safetensors"), load_file(out / "model" / "model.safetensors")
    assert ref.keys() == got.keys()
    for name in ref:
        assert (ref[name] == got[name]).all(), f"{name} differs from the uninterrupted run"
    assert not (out / "checkpoints").exists()
