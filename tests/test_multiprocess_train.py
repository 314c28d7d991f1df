"""Training on 2 processes (gloo on CPUs): ddp here; fsdp and deepspeed-zero3 in test_run_launchers.py,
on the toy default run.

Each of sft, dpo and o1pruner trains the toy reasoner for a few steps on 2 processes with micro-batch 4
and on 1 process with micro-batch 4 x accumulation 2: every optimizer step sees the same 8 examples
(process i gets micro-batches i, i+2, ... of the same seeded order) and averages the same two
micro-batch losses, so the loss curves and the weights agree up to float reduction order.  dpo and
o1pruner also check the reference pass split across the processes: their step-1 loss depends on
the reference log-probs of every example of the batch, and the ratio is 1 at step 0.

A run killed mid-training (the launching process and with it its training processes) resumes from
its last checkpoint to the uninterrupted run's weights.

A big model's preset (QwQ-32B-Preview) trains as it is, bf16 and all, on a random model of its depth
under ZeRO-3 and FSDP."""

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


# ---------------------------------------------------------------- a big model's preset, at small size

SCALE = '''
import sys
from pathlib import Path
from pruneeval import presets
from pruneeval.trainers import TrainConfig, get_method, train_launched

preset, launcher, model, presample, out = sys.argv[1:6]
config = TrainConfig.from_preset(presets.resolve(preset), "o1pruner", launcher=launcher, num_processes=2, lr=1e-3,
                                 warmup_ratio=0.0, max_steps=1, logging_steps=1, progress=False)
print(train_launched(get_method("o1pruner"), model, presample, config, Path(out)))
'''


@pytest.fixture(scope="module")
def qwq_shaped(tmp_path_factory) -> Path:
    """A random Qwen2 model with QwQ-32B's 64 layers at width 32, saved in bf16 as QwQ-32B is, and the
    real Qwen2 tokenizer."""
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    from conftest import QWEN2_TOKENIZER

    tok = AutoTokenizer.from_pretrained(QWEN2_TOKENIZER)
    cfg = Qwen2Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=64,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                      tie_word_embeddings=False, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("qwq-shaped")
    Qwen2ForCausalLM(cfg).to(torch.bfloat16).save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.mark.parametrize("launcher", ["deepspeed-zero3", "fsdp"])
def test_the_qwq_preset_trains_on_two_processes(launcher, qwq_shaped, presampled, tmp_path):
    """QwQ-32B-Preview's training settings as they are (bf16 over fp32 masters, gradient checkpointing,
    freeze:48 of 64 layers, max length 4096, effective batch 32 = 1 x 16 x 2 processes) on a random
    model of its depth: one step under its launcher (ZeRO-3) and under FSDP.  Only the schedule is
    changed (lr 1e-3 from 2e-6, no warmup) so that one step moves the weights visibly: the embeddings,
    the lm_head and the first 16 layers must not move, each of the last 48 must."""
    from safetensors.torch import load_file

    out = tmp_path / launcher
    p = subprocess.run([sys.executable, "-c", SCALE, "QwQ-32B-Preview", launcher, qwq_shaped, presampled, out],
                       capture_output=True, text=True, timeout=1200)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-4000:]
    run = json.loads((out / "training.json").read_text())
    cfg = run["config"]
    assert (run["processes"], run["steps"], run["distributed"]) == (2, 1, {"deepspeed-zero3": "DEEPSPEED",
                                                                           "fsdp": "FSDP"}[launcher])
    assert (cfg["dtype"], cfg["gradient_checkpointing"], cfg["finetune"], cfg["max_length"], cfg["max_grad_norm"],
            cfg["micro_batch_size"] * cfg["grad_accum"] * cfg["num_processes"]) == \
        ("bfloat16", True, "freeze:48", 4096, 10.0, 32)
    losses = _losses(out / "model")
    assert losses and all(abs(x) < 1e3 for x in losses), losses
    before, after = load_file(qwq_shaped / "model.safetensors"), load_file(out / "model" / "model.safetensors")
    moved = {k: (after[k].float() - before[k].to(after[k].dtype).float()).abs().max().item() for k in before}
    layer = {k: int(k.split(".")[2]) if k.startswith("model.layers.") else -1 for k in moved}  # -1: not in a layer
    frozen = [k for k in moved if k in ("model.embed_tokens.weight", "lm_head.weight") or 0 <= layer[k] < 16]
    trained = [k for k in moved if layer[k] >= 16]  # and the final norm: too little to see in bf16
    print(f"\n{launcher}: losses {losses}; frozen moved by at most {max(moved[k] for k in frozen):.1e}, "
          f"trained by up to {max(moved[k] for k in trained):.1e}")
    assert max(moved[k] for k in frozen) == 0
    assert min(max(moved[k] for k in trained if layer[k] == i) for i in range(16, 64)) > 1e-4
