"""benchmarks/gpu_check.py end to end with --tiny on this machine: every measurement is taken and
recorded (DeepSpeed is installed here, so ZeRO-3 must be measured, not skipped)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_check_tiny_measures_every_section(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--tiny", "--out", str(out)],
                          env=dict(os.environ), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads((out / "gpu_check.json").read_text())

    assert result["device"]["name"] and result["device"]["memory_bytes"] > 0
    assert result["versions"]["torch"] and result["versions"]["transformers"]
    assert result["model"]["params"] > 0 and result["model"]["layers"] == 2

    generate = result["generate"]
    assert generate["tokens_per_s"] > 0 and generate["wall_s"] > 0
    assert generate["generated_tokens"] == generate["prompts"] * generate["sampling"]["max_tokens"]  # no early stop

    train = result["train"]
    for design in ("a", "b"):
        run = train[design]
        assert "error" not in run, run
        assert run["step_s"] > 0 and run["peak_memory"]["bytes"] > 0
        assert run["steps"] == run["timed_steps"] == result["settings"]["steps"]
    assert train["a"]["reference_pass_s"] > 0 and train["b"]["reference_pass_s"] is None  # (b) scores live
    assert train["loss_max_abs_diff_a_b"] < 0.05  # the same loss, computed two ways

    zero3 = result["zero3"]
    assert "skipped" not in zero3 and "error" not in zero3, zero3
    assert zero3["steps"] > 0 and zero3["step_s"] > 0 and zero3["distributed"] == "DEEPSPEED"
    assert zero3["processes"] == 1
    assert "(a) precomputed ref log-probs" in proc.stdout and "zero3 (1 process)" in proc.stdout


def test_zero3_is_skipped_with_the_reason_without_deepspeed(tmp_path, monkeypatch):
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import gpu_check
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    find_spec = gpu_check.importlib.util.find_spec
    monkeypatch.setattr(gpu_check.importlib.util, "find_spec",
                        lambda name, *a: None if name == "deepspeed" else find_spec(name, *a))
    assert gpu_check.zero3_or_skipped(tmp_path, tmp_path) == {"skipped": "deepspeed not installed"}
    assert not list(tmp_path.iterdir())  # no process was started
