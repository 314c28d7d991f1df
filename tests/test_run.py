"""`pruneeval run` on the toy reasoner: killed once in each stage, it resumes to the same numbers."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

PRUNEEVAL = [sys.executable, "-m", "pruneeval.cli"]
ARGS = ["run", "--method", "o1pruner", "--presample-limit", "64", "--k", "4", "--epochs", "1", "--seed", "3"]


def _lines(path):
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _run(out, env):
    subprocess.run([*PRUNEEVAL, *ARGS, "--out", str(out)], env=env, check=True, capture_output=True)


def _kill_when(out, env, ready, timeout=600):
    proc = subprocess.Popen([*PRUNEEVAL, *ARGS, "--out", str(out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    while not ready() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before the kill point"
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _summary(run, method):
    s = json.loads((run / "eval" / method / "toy_len" / "summary.json").read_text())
    return {k: s[k] for k in ("n_samples", "accuracy", "mean_tokens", "median_tokens", "truncated_rate")}


@pytest.mark.slow
def test_run_killed_in_each_stage_resumes_to_the_same_numbers(toy_model_dir, tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    ref, out = tmp_path / "uninterrupted", tmp_path / "killed"
    _run(ref, env)

    presample = out / "presample" / "samples.jsonl"
    _kill_when(out, env, lambda: _lines(presample) >= 1)  # after the first of two chunks
    assert 0 < _lines(presample) < 64 * 4
    kept = presample.read_bytes()

    baseline = out / "eval" / "baseline" / "toy_len" / "summary.json"
    _kill_when(out, env, lambda: baseline.exists() and (out / "train").exists())  # while training
    assert presample.read_bytes().startswith(kept)  # finished samples were not regenerated
    assert not (out / "train" / "o1pruner" / "model").exists()

    evals = out / "eval" / "o1pruner" / "toy_len" / "samples.jsonl"
    _kill_when(out, env, lambda: _lines(evals) >= 1)  # evaluating the trained model
    _run(out, env)

    lines = presample.read_bytes().splitlines()
    keys = [(d["problem_id"], d["sample_idx"]) for d in map(json.loads, lines)]
    assert len(keys) == len(set(keys)) == 64 * 4
    for method in ("baseline", "o1pruner"):
        assert _summary(out, method) == _summary(ref, method)
    board = json.loads((out / "report" / "leaderboard.json").read_text())
    assert json.dumps(board, sort_keys=True).count("o1pruner") >= 1
