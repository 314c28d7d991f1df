"""The training settings (:class:`TrainConfig`), importable without torch: the command line
reads their help and checks them before anything loads torch."""

from __future__ import annotations

from dataclasses import dataclass

from pruneeval.errors import UserError
from pruneeval.options import option

DTYPES = ("float32", "bfloat16")  # names of torch dtypes
LAUNCHERS = ("", "ddp", "fsdp", "deepspeed-zero3")  # "": one process, in the calling one


@dataclass(frozen=True)
class TrainConfig:
    """How one method trains: the optimiser, batches, precision, checkpoints and processes."""

    lr: float = option(1e-5, "peak learning rate")
    epochs: float = option(1.0, "passes over the training examples")
    micro_batch_size: int = option(1, "per-device batch size")
    grad_accum: int = option(1, "gradient accumulation steps")
    warmup_ratio: float = option(0.1, "share of steps spent warming up")
    scheduler: str = option("cosine", "learning-rate schedule (a transformers scheduler name)")
    optim: str = option("adamw_torch", "optimizer (a transformers optim name)")
    weight_decay: float = option(0.0, "AdamW weight decay")
    max_grad_norm: float = option(1.0, "gradient clipping norm")
    seed: int = option(0, "seed for data order and initialisation (LoRA)")
    max_length: int = option(8192, "examples are cut to this many tokens (prompt + response)")
    finetune: str = option("full", "full | freeze:N (train the last N layers) | lora:R")
    dtype: str = option("float32", "compute dtype: float32 | bfloat16 (bf16 autocast over fp32 master weights)")
    gradient_checkpointing: bool = option(False, "recompute activations to save memory")
    save_steps: int = option(200, "checkpoint every N optimizer steps (for resume after a kill)")
    logging_steps: int = option(2, "log the loss every N steps (as the official configs; OUT/log_history.json)")
    max_steps: int = option(-1, "stop after N optimizer steps (-1 = run the epochs)")
    launcher: str = option("", "how the training processes share the work: ddp | fsdp | deepspeed-zero3; "
                           "empty = one process, in the calling one")
    num_processes: int = option(1, "training processes (one per GPU): the effective batch is micro x "
                                "accumulation x processes")
    sort_micro_batches: bool = option(False, "sort each random optimizer batch by length before cutting it into "
                                  "micro-batches: less padding, the same batches")
    ref_batch_size: int = option(8, "batch size for precomputing reference log-probs")
    progress: bool = option(True, "show transformers' progress bar")
    trust_remote_code: bool = option(False, "allow code from the model repository to run")
    revision: str = option("", "hub revision of the starting model (empty = the default branch)")

    def __post_init__(self):
        parse_finetune(self.finetune)
        if self.dtype not in DTYPES:
            raise UserError(f"dtype {self.dtype!r}: expected one of {', '.join(DTYPES)}")
        if self.launcher not in LAUNCHERS:
            raise UserError(f"launcher {self.launcher!r}: expected one of {', '.join(LAUNCHERS[1:])}")
        if self.num_processes < 1:
            raise UserError(f"num_processes {self.num_processes}: expected 1 or more")

    @classmethod
    def from_preset(cls, preset, method: str = "", **overrides) -> "TrainConfig":
        """The training settings of a model preset for ``method`` (its ``per_method`` entry over the
        preset's own): effective batch = micro x accumulation x processes."""
        processes = overrides.pop("num_processes", None) or preset.num_processes or visible_gpus()
        accum = max(1, preset.batch_size // (preset.micro_batch_size * processes))
        values = dict(lr=preset.lr, epochs=preset.epochs, micro_batch_size=preset.micro_batch_size,
                      grad_accum=accum, warmup_ratio=preset.warmup_ratio, finetune=preset.finetune,
                      max_length=preset.max_length, max_grad_norm=preset.max_grad_norm,
                      revision=preset.revision or "", dtype=preset.train_dtype,
                      gradient_checkpointing=preset.gradient_checkpointing, num_processes=processes,
                      launcher=preset.launcher)
        values = {**values, **preset.per_method.get(method, {}), **overrides}
        if processes > 1 and not values["launcher"]:
            values["launcher"] = "ddp"
        return cls(**values)


def visible_gpus() -> int:
    """CUDA devices this process sees (at least 1): the default number of training processes."""
    import torch

    return max(1, torch.cuda.device_count())


def parse_finetune(mode: str) -> tuple[str, int]:
    """``"full"`` -> ("full", 0); ``"freeze:N"`` / ``"lora:R"`` -> (kind, N >= 1); else a UserError."""
    kind, _, arg = mode.partition(":")
    if (kind == "full" and not arg) or (kind in ("freeze", "lora") and arg.isdigit() and int(arg) > 0):
        return kind, int(arg or 0)
    raise UserError(f"finetune mode {mode!r}: expected full, freeze:N or lora:R (N, R >= 1)")
