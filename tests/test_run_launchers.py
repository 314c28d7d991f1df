"""The toy default run with its training on 2 processes (gloo on CPUs):

    pruneeval run --method o1pruner,dpo,sft --num-processes 2 --launcher deepspeed-zero3   (and fsdp)

trains each method like the 1-process run (the same loss at every step, weights within float
reduction order) and so gives its leaderboard.  The 2-process runs reuse the 1-process run's
presample and reference evaluation (copied into their run directories, as a user comparing
launchers would), so only training and the trained models' evaluations run again.

The 1-process run also pins the toy's headline: O1-Pruner shortens the answers at held accuracy
(measured on this toy build: 92.2 -> 57.1 tokens, 93.5% -> 91.5%)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

METHODS = ("o1pruner", "dpo", "sft")
LOSS_TOL = 1e-4  # absolute, per logged step
WEIGHT_TOL = 1e-4  # absolute, per parameter
ACC_TOL = 0.01  # leaderboard accuracy (a fraction): greedy decoding of weights that agree to float order
LENGTH_TOL = 1.0  # leaderboard mean tokens


def _run(out: Path, *extra: str) -> None:
    cmd = [sys.executable, "-m", "pruneeval.cli", "run", "--method", ",".join(METHODS), "--out", str(out), *extra]
    p = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-5000:]


def _board(run: Path) -> dict:
    """{method: (accuracy, mean tokens)} of the run's leaderboard."""
    board = json.loads((run / "report" / "leaderboard.json").read_text())
    (model,) = board["models"]
    return {row["method"]: (row["average"]["acc"], row["average"]["length"]) for row in model["rows"]}


def _losses(run: Path, method: str) -> list[float]:
    log = json.loads((run / "train" / method / "log_history.json").read_text())
    return [h["loss"] for h in log if "loss" in h]


def _weights(run: Path, method: str) -> dict:
    from safetensors.torch import load_file

    return load_file(run / "train" / method / "model" / "model.safetensors")


def _untie(weights: dict, keys) -> None:
    """FSDP's gathered state dict also holds the toy's tied output layer (``lm_head.weight``), which a
    load ties to the input embeddings again: it must be that copy, and is dropped for comparing."""
    for extra in set(weights) - set(keys):
        assert extra == "lm_head.weight" and (weights.pop(extra) == weights["model.embed_tokens.weight"]).all()


@pytest.fixture(scope="module")
def one_process(toy_model_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("one-process")
    _run(out)
    return out


def test_o1pruner_shortens_the_toy_at_held_accuracy(one_process):
    board = _board(one_process)
    (acc0, len0), (acc, length) = board["baseline"], board["o1pruner"]
    print(f"\nbaseline {acc0:.3f} / {len0:.1f} tokens; o1pruner {acc:.3f} / {length:.1f} tokens")
    assert length <= 0.75 * len0 and acc >= acc0 - 0.05
    training = json.loads((one_process / "train" / "o1pruner" / "training.json").read_text())
    assert training["processes"] == 1 and training["config"]["launcher"] == ""


@pytest.mark.parametrize("launcher,distributed", [("deepspeed-zero3", "DEEPSPEED"), ("fsdp", "FSDP")])
def test_two_process_run_matches_the_one_process_run(launcher, distributed, one_process, tmp_path):
    out = tmp_path / launcher
    shutil.copytree(one_process / "presample", out / "presample")
    shutil.copytree(one_process / "eval" / "baseline", out / "eval" / "baseline")
    manifest = json.loads((one_process / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps({**manifest, "methods": {}}))
    _run(out, "--num-processes", "2", "--launcher", launcher)

    for method in METHODS:
        training = json.loads((out / "train" / method / "training.json").read_text())
        assert (training["processes"], training["distributed"]) == (2, distributed)
        a, b = _losses(one_process, method), _losses(out, method)
        assert len(a) == len(b) > 0 and max(abs(x - y) for x, y in zip(a, b)) < LOSS_TOL, (method, a, b)
        wa, wb = _weights(one_process, method), _weights(out, method)
        _untie(wb, wa.keys())
        apart = max((wa[k].float() - wb[k].float()).abs().max().item() for k in wa)
        print(f"\n{launcher} {method}: {len(b)} logged losses within {LOSS_TOL}; weights within {apart:.1e}")
        assert wa.keys() == wb.keys() and apart < WEIGHT_TOL, (method, apart)
    one, two = _board(one_process), _board(out)
    print(f"leaderboard, 1 process: {one}\n            2 processes: {two}")
    assert one.keys() == two.keys() == {"baseline", *METHODS}
    for method in one:
        assert abs(one[method][0] - two[method][0]) <= ACC_TOL and abs(one[method][1] - two[method][1]) <= LENGTH_TOL
