"""`pruneeval eval` end to end on a tiny local model: files, summary, kill and resume, user errors."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from pruneeval.records import RecordStore

PRUNEEVAL = [sys.executable, "-m", "pruneeval.cli"]


def cli(*args, env=None, check=True, **kw):
    res = subprocess.run([*PRUNEEVAL, *map(str, args)], capture_output=True, text=True, env=env, **kw)
    if check and res.returncode:
        raise AssertionError(f"exit {res.returncode}\n{res.stdout}\n{res.stderr}")
    return res


@pytest.fixture()
def env(data_dir):
    return {**os.environ, "PRUNEEVAL_DATA_DIR": str(data_dir)}


def test_eval_three_tasks_writes_samples_and_summary(tiny_model, tmp_path, env):
    out = tmp_path / "ev"
    cli("eval", "--model", tiny_model, "--tasks", "gsm8k_len,math_len,gaokao_len", "--limit", 5,
        "--max-tokens", 48, "--out", out, env=env)
    for task in ("gsm8k_len", "math_len", "gaokao_len"):
        recs = RecordStore(out / task / "samples.jsonl").load()
        assert len(recs) == 5 and len({r.problem_id for r in recs}) == 5
        assert all(len(r.token_ids or []) in (0,) for r in recs)  # eval keeps no token ids
        assert all(r.n_tokens <= 48 and r.finish_reason in ("stop", "length") for r in recs)
        summary = json.loads((out / task / "summary.json").read_text())
        for key in ("accuracy", "mean_tokens", "median_tokens", "p90_tokens", "truncated_rate", "no_answer_rate",
                    "gen_time_s", "tokens_per_s"):
            assert key in summary
        m = summary["manifest"]
        assert m["sampling"]["max_tokens"] == 48 and m["dataset_hash"] and m["versions"]["torch"]
        assert m["prompt"]["user_template"] == "Solve the problem: {question}"
        assert summary["mean_tokens"] == pytest.approx(sum(r.n_tokens for r in recs) / 5)


def test_killed_eval_resumes_without_duplicates_or_loss(tiny_model, tmp_path, env):
    args = ["eval", "--model", tiny_model, "--tasks", "gsm8k_len", "--limit", 24, "--max-tokens", 48,
            "--batch-size", 2]  # chunks of 8 problems: the kill lands after the first or second
    ref = tmp_path / "uninterrupted"
    cli(*args, "--out", ref, env=env)
    out = tmp_path / "killed"
    samples = out / "gsm8k_len" / "samples.jsonl"
    proc = subprocess.Popen([*PRUNEEVAL, *map(str, args), "--out", str(out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and (not samples.exists() or samples.read_bytes().count(b"\n") < 1):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_before = samples.read_bytes().count(b"\n")
    assert 0 < n_before < 24, "the kill should land half-way"
    cli(*args, "--out", out, env=env)
    lines = [json.loads(line) for line in samples.read_bytes().splitlines()]
    keys = [(d["problem_id"], d["sample_idx"]) for d in lines]
    assert len(keys) == len(set(keys)) == 24
    a = json.loads((ref / "gsm8k_len" / "summary.json").read_text())
    b = json.loads((out / "gsm8k_len" / "summary.json").read_text())
    for key in ("accuracy", "mean_tokens", "median_tokens", "p90_tokens", "truncated_rate", "no_answer_rate"):
        assert a[key] == b[key]


@pytest.mark.parametrize("args, message", [
    (["eval", "--tasks", "nope_len"], "unknown task 'nope_len'"),
    (["eval", "--model", "/no/such/model", "--tasks", "gsm8k_len"], "no such directory"),
    (["grade", "MISSING.jsonl", "--benchmark", "gsm8k"], "MISSING.jsonl"),
    (["grade", "x.jsonl", "--benchmark", "nope"], "unknown benchmark 'nope'"),
    (["run", "--method", "nope"], "unknown method 'nope'"),
])
def test_user_errors_are_one_line(args, message, tmp_path, env):
    res = cli(*args, env=env, check=False, cwd=tmp_path)
    assert res.returncode != 0
    assert message in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr


def test_model_dir_without_config(tmp_path, env):
    (tmp_path / "empty").mkdir()
    res = cli("eval", "--model", tmp_path / "empty", "--tasks", "gsm8k_len", env=env, check=False)
    assert res.returncode == 2 and "not a model directory" in res.stderr and "Traceback" not in res.stderr


def test_every_command_has_help():
    for cmd in (["--help"], ["eval", "--help"], ["grade", "--help"], ["presample", "--help"], ["train", "--help"],
                ["run", "--help"], ["report", "--help"], ["analyze", "length", "--help"], ["toy", "build", "--help"],
                ["tasks-path", "--help"]):
        res = cli(*cmd)
        assert "Usage" in res.stdout
