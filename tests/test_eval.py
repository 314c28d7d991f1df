"""`pruneeval eval` end to end on a tiny local model: files, summary, kill and resume, user errors."""

import json
import os
import subprocess
import sys

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
