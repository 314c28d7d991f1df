"""Training on 2 processes (gloo on CPUs): ddp here; fsdp and deepspeed-zero3 in test_run_launchers.py,
on the toy default run.

Each of sft, dpo and o1pruner trains the toy reasoner for a few steps on 2 processes with micro-batch 4
and on 1 process with micro-batch 4 x accumulation 2: every optimizer step sees the same 8 examples
(process i gets micro-batches i, i+2, ... of the same seeded order) and averages the same two
micro-batch losses, so the loss curves and the weights agree up to float reduction order.  dpo and
o1pruner also check the reference pass split across the processes: their step-1 loss depends on
the reference log-probs of every example of the batch, and the ratio is 1 at step 0.

A run killed mid-training (the launching process and with it its training processes) resumes from
its last checkpoint to the uninterrupted run's weights."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

STEPS = 3
LOSS_TOL = 1e-4  # absolute, per logged step (losses are about 0.01-1)
WEIGHT_TOL = 1e-4  # absolute, per parameter after STEPS AdamW steps at lr 1e-3
METHODS = ("sft", "dpo", "o1pruner")
LAUNCHERS = ("ddp",)  # fsdp and deepspeed-zero3: test_run_launchers.py

TRAIN = '''
import sys
from pathlib import Path
from pruneeval.trainers import TrainConfig, get_method, train_launched

method, presample, out, launcher, n, accum, steps, save = sys.argv[1:9]
config = TrainConfig(lr=1e-3, micro_batch_size=4, grad_accum=int(accum), warmup_ratio=0.0, scheduler="constant",
                     max_steps=int(steps), logging_steps=1, save_steps=int(save), seed=0, max_length=512,
                     progress=False, launcher=launcher, num_processes=int(n))
print(train_launched(get_method(method), sys.argv[9], presample, config, Path(out)))
'''


@pytest.fixture(scope="module")
def presampled(toy_model_dir, tmp_path_factory, data_dir):
    """24 toy training problems x 4 samples from the toy reasoner."""
    out = tmp_path_factory.mktemp("presample")
    subprocess.run([sys.executable, "-m", "pruneeval.cli", "presample", "--benchmark", "toy_train", "--limit", "24",
                    "--k", "4", "--batch-size", "16", "--seed", "5", "--out", str(out)], check=True,
                   env={**os.environ, "PRUNEEVAL_DATA_DIR": str(data_dir)}, capture_output=True)
    return out


def _command(method, presampled, out, launcher, n, toy, steps=STEPS, save=10_000):
    accum = 2 // n
    return [sys.executable, "-c", TRAIN, method, presampled, out, launcher, n, accum, steps, save, toy]


def _train(*args, **kwargs) -> Path:
    p = subprocess.run([str(a) for a in _command(*args, **kwargs)], capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-4000:]
    return Path(p.stdout.strip().splitlines()[-1])


def _losses(model_dir: Path) -> list[float]:
    return [h["loss"] for h in json.loads((model_dir.parent / "log_history.json").read_text()) if "loss" in h]


def _weights(model_dir: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(model_dir / "model.safetensors")


@pytest.fixture(scope="module")
def one_process(presampled, toy_model_dir, tmp_path_factory):
    """Each method trained in one process (no launcher): the reference curves and weights."""
    root = tmp_path_factory.mktemp("one")
    return {m: _train(m, presampled, root / m, "", 1, toy_model_dir) for m in METHODS}


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_two_processes_train_like_one(launcher, one_process, presampled, toy_model_dir, tmp_path):
    w0 = _weights(Path(toy_model_dir))
    for method in METHODS:
        two = _train(method, presampled, tmp_path / method, launcher, 2, toy_model_dir)
        a, b = _losses(one_process[method]), _losses(two)
        print(f"\n{launcher} {method}: 1 process {a}\n{' ' * len(launcher + method)}  2 processes {b}")
        assert len(a) == len(b) == STEPS
        assert max(abs(x - y) for x, y in zip(a, b)) < LOSS_TOL, (method, a, b)
        if method == "dpo":  # policy = reference at step 1 on both processes' examples: -log sigmoid(0)
            assert b[0] == pytest.approx(0.6931, abs=1e-3)
        wa, wb = _weights(one_process[method]), _weights(two)
        assert wa.keys() == wb.keys() == w0.keys()
        apart = max((wa[k].float() - wb[k].float()).abs().max().item() for k in wa)
        moved = max((wa[k].float() - w0[k].float()).abs().max().item() for k in wa)
        print(f"weights: 1 vs 2 processes differ by at most {apart:.2e}; training moved them by up to {moved:.2e}")
        assert apart < WEIGHT_TOL and moved > 10 * WEIGHT_TOL, (method, apart, moved)
        assert not (two.parent / "checkpoints").exists() and not (two.parent / "reference.pt").exists()


def _checkpoints(out: Path) -> int:
    steps = [int(p.name.split("-")[1]) for p in (out / "checkpoints").glob("checkpoint-*")
             if (p / "trainer_state.json").is_file()]
    return max(steps, default=0)


def test_killed_launch_resumes(presampled, toy_model_dir, tmp_path):
    """ZeRO-3, o1pruner, 4 steps with a checkpoint at each: the launching process is killed with
    SIGKILL after checkpoint 2; its training processes die with it, and the rerun resumes to the
    weights of the uninterrupted run."""
    ref = _train("o1pruner", presampled, tmp_path / "ref", "deepspeed-zero3", 2, toy_model_dir, steps=4)
    out = tmp_path / "killed"
    cmd = [str(a) for a in _command("o1pruner", presampled, out, "deepspeed-zero3", 2, toy_model_dir, steps=4, save=1)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while _checkpoints(out) < 2 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before the kill"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(2)
    workers = subprocess.run(["pgrep", "-f", f"pruneeval.trainers.worker {out}"], capture_output=True, text=True)
    assert not workers.stdout.strip(), "training processes outlived the killed launch"
    assert not (out / "model").exists() and (out / "reference.pt").is_file()
    resumed = _train("o1pruner", presampled, out, "deepspeed-zero3", 2, toy_model_dir, steps=4, save=1)
    assert _losses(resumed) == pytest.approx(_losses(ref), abs=1e-6)  # the log is carried in the checkpoints
    wa, wb = _weights(ref), _weights(resumed)
    apart = max((wa[k].float() - wb[k].float()).abs().max().item() for k in wa)
    assert apart < 1e-6, apart
