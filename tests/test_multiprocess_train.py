"""Multi-process training: the shipped accelerate configs load, and DDP with 2 processes on CPUs
(``accelerate launch`` with configs/accelerate/ddp.yaml) trains the toy reasoner with the same loss
curve and the same weights as one process with the same effective batch.

2 processes x micro-batch 4 vs 1 process x micro-batch 4 x accumulation 2: each optimizer step sees
the same 8 examples (accelerate hands process i the micro-batches i, i+2, ... of the same seeded
order) and averages the same two micro-batch losses, so the curves agree up to float reduction
order.  (1 x micro-batch 8 would not: the sft loss is a token mean per micro-batch.)

Note: ``accelerate launch --cpu --num_processes 2`` starts ONE process (accelerate's simple
launcher); processes on CPUs come from the multi-GPU launcher with ACCELERATE_USE_CPU=true."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs" / "accelerate"
STEPS = 8
LOSS_TOL = 1e-4  # absolute, per logged step (losses are about 0.03-0.3)
WEIGHT_TOL = 1e-4  # absolute, per parameter after STEPS AdamW steps at lr 1e-3

SCRIPT = '''"""Train the toy reasoner with sft for a few steps; the log history goes to OUT/log_history.json."""
import json
import sys
from pathlib import Path


def main():
    from transformers import Trainer, TrainerCallback

    from pruneeval.toy.build import ToyConfig, trace_records
    from pruneeval.trainers import TrainConfig, train

    model, out = sys.argv[1], Path(sys.argv[2])
    micro, accum, steps = (int(a) for a in sys.argv[3:6])

    class History(TrainerCallback):
        def on_train_end(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                out.mkdir(parents=True, exist_ok=True)
                (out / "log_history.json").write_text(json.dumps(
                    {"world_size": args.world_size, "log_history": state.log_history}))

    init = Trainer.__init__

    def with_history(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.add_callback(History())

    Trainer.__init__ = with_history
    config = TrainConfig(lr=1e-3, micro_batch_size=micro, grad_accum=accum, warmup_ratio=0.0, scheduler="constant",
                         max_steps=steps, logging_steps=1, save_steps=10_000, seed=0, max_length=512, progress=False)
    train("sft", model, trace_records(ToyConfig(traces=96)), config, out)


if __name__ == "__main__":
    main()
'''


def _launch_env(cfg: Path, processes: int) -> dict:
    """The environment ``accelerate launch --config_file cfg`` gives its processes (nothing is started)."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import prepare_deepspeed_cmd_env, prepare_multi_gpu_env

    args = launch_command_parser().parse_args(["--config_file", str(cfg), "--num_processes", str(processes), "x.py"])
    args, defaults, _ = _validate_launch_command(args)
    if args.use_deepspeed:
        args.deepspeed_fields_from_accelerate_config = ",".join(defaults.deepspeed_config)
        return prepare_deepspeed_cmd_env(args)[1]
    return prepare_multi_gpu_env(args)


def test_shipped_accelerate_configs_load():
    """Each config goes through accelerate's own loader (unknown keys are errors) and launch set-up."""
    assert sorted(p.name for p in CONFIGS.glob("*.yaml")) == ["ddp.yaml", "deepspeed_zero3.yaml", "fsdp.yaml"]
    assert _launch_env(CONFIGS / "ddp.yaml", 8)["ACCELERATE_MIXED_PRECISION"] == "no"
    fsdp = _launch_env(CONFIGS / "fsdp.yaml", 8)
    assert (fsdp["ACCELERATE_USE_FSDP"], fsdp["FSDP_VERSION"], fsdp["FSDP_STATE_DICT_TYPE"]) == \
        ("true", "2", "FULL_STATE_DICT")
    ds = _launch_env(CONFIGS / "deepspeed_zero3.yaml", 8)
    assert ds["ACCELERATE_USE_DEEPSPEED"] == "true" and ds["ACCELERATE_DEEPSPEED_ZERO3_INIT"] == "true"
    zero3 = json.loads((REPO / ds["ACCELERATE_DEEPSPEED_CONFIG_FILE"]).read_text())  # relative to the repo root
    assert zero3["zero_optimization"]["stage"] == 3
    # the trainer fills these from TrainConfig, so one file serves every model and batch size
    auto = ("train_micro_batch_size_per_gpu", "gradient_accumulation_steps", "gradient_clipping")
    assert all(zero3[k] == "auto" for k in auto) and zero3["bf16"]["enabled"] == "auto"


def _run(cmd: list, out: Path) -> dict:
    from vllm_server import free_port  # a free port for the process group's rendezvous

    env = {**os.environ, "OMP_NUM_THREADS": "1", "ACCELERATE_USE_CPU": "true", "MASTER_PORT": str(free_port())}
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-4000:]
    return json.loads((out / "log_history.json").read_text())


@pytest.mark.slow
def test_two_processes_train_like_one(toy_model_dir, tmp_path):
    import torch
    from safetensors.torch import load_file

    from vllm_server import free_port

    script = tmp_path / "train_toy.py"
    script.write_text(SCRIPT)
    one = _run([sys.executable, script, toy_model_dir, tmp_path / "one", 4, 2, STEPS], tmp_path / "one")
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", CONFIGS / "ddp.yaml",
              "--num_processes", 2, "--main_process_port", free_port()]
    two = _run([*launch, script, toy_model_dir, tmp_path / "two", 4, 1, STEPS], tmp_path / "two")
    assert (one["world_size"], two["world_size"]) == (1, 2)
    a = [h["loss"] for h in one["log_history"] if "loss" in h]
    b = [h["loss"] for h in two["log_history"] if "loss" in h]
    print(f"\nloss 1 process x accumulation 2: {a}\nloss 2 processes:              {b}")
    assert len(a) == len(b) == STEPS
    assert max(abs(x - y) for x, y in zip(a, b)) < LOSS_TOL
    assert max(a) - min(a) > 100 * LOSS_TOL  # the curve moves: agreement is not trivial
    wa = load_file(tmp_path / "one" / "model" / "model.safetensors")
    wb = load_file(tmp_path / "two" / "model" / "model.safetensors")
    w0 = load_file(Path(toy_model_dir) / "model.safetensors")
    assert wa.keys() == wb.keys()
    apart = max((wa[k] - wb[k]).abs().max().item() for k in wa)
    moved = max((wa[k] - w0[k]).abs().max().item() for k in wa)
    print(f"weights: 1 vs 2 processes differ by at most {apart:.2e}; training moved them by up to {moved:.2e}")
    assert apart < WEIGHT_TOL and moved > 10 * WEIGHT_TOL  # AdamW moves a weight at most lr (1e-3) a step
    assert all(torch.isfinite(wb[k]).all() for k in wb)
