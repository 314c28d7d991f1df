"""The shared trainer: every method runs through one transformers ``Trainer``.

A :class:`Method` is a config plus two functions: ``build`` turns sample records into training
examples (dicts of lists), ``loss`` scores a padded batch.  Everything else (optimiser, cosine
schedule, gradient accumulation, accelerate / DeepSpeed / FSDP, checkpoints and resume) is the
library's.  Examples and batches: :mod:`.batches`; which parameters train: :mod:`.model_setup`; the
reference log-probs: :mod:`.reference`; several processes: :mod:`.launch`.
"""

from __future__ import annotations

import os
import pickle
import shutil
from dataclasses import asdict
from pathlib import Path

import torch

from pruneeval.records import write_json_atomic

from .batches import Collator, SortedBatchSampler, main_ids
from .config import TrainConfig
from .method import Method
from .model_setup import fp32_master_weights, save_model, setup_model
from .reference import REFERENCE_FILE, reference_pass

ZERO3_CONFIG = Path(__file__).with_name("zero3.json")
LOG_FILE = "log_history.json"  # the Trainer's logged loss, learning rate and grad norm per logging step
RUN_FILE = "training.json"  # how it ran: processes, accelerate's distributed type, steps, the TrainConfig


# ---------------------------------------------------------------- the one training loop

def _trainer_class():
    from transformers import Trainer

    class MethodTrainer(Trainer):
        """transformers' Trainer with the loss delegated to a :class:`Method`.

        A method's loss is a mean over its micro-batch and ignores ``num_items_in_batch``, so the
        Trainer must divide it by the accumulation steps exactly once.  Versions before 5.19 skip
        that division when the model takes loss kwargs (Llama and Qwen2 do) and items were
        counted: micro-batch 1 x accumulation 4 then took 4x the step of batch 4.  Saying the
        model takes none (as transformers documents for custom losses) makes every version
        divide; ``loss_is_scaled_for_ga`` says the same to 5.19 and later."""

        loss_is_scaled_for_ga = False

        sort_micro_batches = False

        def __init__(self, method: Method, **kwargs):
            super().__init__(**kwargs)
            self.method = method
            self.model_accepts_loss_kwargs = False  # also: no items counted, no num_items_in_batch

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            loss = self.method.loss(model, inputs)
            return (loss, None) if return_outputs else loss

        def _get_train_sampler(self, *args, **kwargs):
            if not self.sort_micro_batches:
                return super()._get_train_sampler(*args, **kwargs)
            a = self.args
            return SortedBatchSampler([len(e[main_ids(e)]) for e in self.train_dataset],
                                      a.train_batch_size * a.gradient_accumulation_steps * a.world_size, a.seed)

    return MethodTrainer


def training_arguments(config: TrainConfig, output_dir: Path):
    """transformers' TrainingArguments for ``config``."""
    from transformers import TrainingArguments

    fields = TrainingArguments.__dataclass_fields__
    extra = {"warmup_ratio": config.warmup_ratio} if "warmup_ratio" in fields else {"warmup_steps": config.warmup_ratio}
    if not torch.cuda.is_available():
        if config.launcher in ("deepspeed-zero3", "fsdp"):
            _process_group_on_cpu(config.launcher)
            extra["accelerator_config"] = {"use_configured_state": True}
        extra["use_cpu"] = True  # bf16 autocast and gloo process groups on CPUs: transformers asks by name
    if config.gradient_checkpointing and config.launcher != "fsdp":  # (FSDP: in its config) renamed in transformers 5
        extra["activation_checkpointing" if "activation_checkpointing" in fields else "gradient_checkpointing"] = True
    return TrainingArguments(
        output_dir=str(output_dir), learning_rate=config.lr, num_train_epochs=config.epochs,
        max_steps=config.max_steps, per_device_train_batch_size=config.micro_batch_size,
        gradient_accumulation_steps=config.grad_accum, lr_scheduler_type=config.scheduler,
        optim=config.optim, weight_decay=config.weight_decay, max_grad_norm=config.max_grad_norm, seed=config.seed,
        bf16=config.dtype == "bfloat16", dataloader_pin_memory=torch.cuda.is_available(),
        save_strategy="steps", save_steps=config.save_steps, save_total_limit=2,
        logging_steps=config.logging_steps, disable_tqdm=not config.progress, report_to="none",
        remove_unused_columns=False, label_names=["labels"], dataloader_num_workers=0,
        **distributed_arguments(config), **extra)


def _process_group_on_cpu(launcher: str) -> None:
    """The process group over gloo for DeepSpeed or FSDP on CPUs, set up before TrainingArguments
    (which then uses it): left to transformers and accelerate, ``use_cpu`` turns DeepSpeed off and
    a CPU without it gets no process group (ZeRO-3 then counts 1 process), and accelerate turns
    FSDP on for accelerator devices only, though FSDP2 shards over gloo on CPUs too."""
    from accelerate import PartialState
    from accelerate.utils import DistributedType

    if launcher == "fsdp":
        PartialState(cpu=True, backend="gloo").distributed_type = DistributedType.MULTI_GPU
        return
    os.environ["ACCELERATE_USE_DEEPSPEED"] = "true"
    try:
        PartialState(backend="gloo")
    finally:
        del os.environ["ACCELERATE_USE_DEEPSPEED"]


def distributed_arguments(config: TrainConfig) -> dict:
    """TrainingArguments for ``config.launcher`` (the processes come from :mod:`.launch`)."""
    if config.launcher == "deepspeed-zero3":  # its "auto" values are filled from these arguments
        return {"deepspeed": str(ZERO3_CONFIG)}
    if config.launcher == "fsdp":  # FSDP2: each transformer layer is a shard unit; one full state dict saved
        from packaging.version import Version
        from transformers import __version__

        return {"fsdp": True if Version(__version__) >= Version("5.19") else "full_shard auto_wrap",  # (the string: deprecated)
                "fsdp_config": {"version": 2, "reshard_after_forward": True, "state_dict_type": "FULL_STATE_DICT",
                                "cpu_ram_efficient_loading": True, "auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
                                "activation_checkpointing": config.gradient_checkpointing}}
    return {}


def train(method: Method, model_path: str | os.PathLike, records: list, config: TrainConfig,
          out_dir: str | os.PathLike) -> Path:
    """Fine-tune ``model_path`` with ``method`` on sample ``records``; returns ``out_dir/model``.

    Skipped when ``out_dir/model`` exists; after a kill it resumes from the last checkpoint in
    ``out_dir/checkpoints`` (deleted once the final model is written).  LoRA runs also write
    ``out_dir/adapter``; ``out_dir/model`` is always a plain, merged model dir."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed

    out = Path(out_dir)
    final = out / "model"
    if (final / "config.json").is_file():
        return final
    checkpoints = out / "checkpoints"
    args = training_arguments(config, checkpoints)  # first: under DeepSpeed ZeRO-3 the load is then sharded
    args.device  # joins the process group now: ZeRO-3's sharded load reads its size
    hub = {"revision": config.revision or None, "trust_remote_code": config.trust_remote_code}
    tokenizer = AutoTokenizer.from_pretrained(model_path, **hub)
    try:  # in the compute dtype (bf16 checkpoints load as stored); trained parameters are widened below
        model = AutoModelForCausalLM.from_pretrained(model_path, dtype=getattr(torch, config.dtype), **hub)
    except pickle.UnpicklingError as e:
        from pruneeval.engines import load_error

        raise load_error(str(model_path), e) from e
    examples = method.build(records, tokenizer, config)
    if not examples:
        raise ValueError(f"method {method.name!r} built no training examples from {len(records)} records")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    set_seed(config.seed)
    model = setup_model(model, config.finetune, config.seed)
    if config.launcher != "deepspeed-zero3":  # DeepSpeed's bf16 optimizer keeps its own fp32 master copy
        fp32_master_weights(model, every=config.launcher == "fsdp")
    if config.gradient_checkpointing and config.finetune != "full":
        model.enable_input_require_grads()
    trainer = _trainer_class()(method=method, model=model, args=args,
                               train_dataset=examples, data_collator=Collator(pad), processing_class=tokenizer)
    if method.needs_ref_logprobs and not any(k.endswith("ref_logprobs") for k in examples[0]):
        trainer.add_callback(reference_pass(trainer, examples, config.ref_batch_size, out / REFERENCE_FILE))
    trainer.sort_micro_batches = config.sort_micro_batches
    last = last_complete_checkpoint(checkpoints)
    trainer.train(resume_from_checkpoint=last)
    return _save_final(trainer, tokenizer, out, config)


def last_complete_checkpoint(checkpoints: Path) -> str | None:
    """The newest checkpoint a kill did not cut short, or None.

    transformers writes ``checkpoint-N`` in place, its ``trainer_state.json`` last; a newer
    directory without a readable one is a save that was killed, and is removed."""
    import json

    if not checkpoints.is_dir():
        return None
    found = sorted((int(p.name.split("-")[1]), p) for p in checkpoints.glob("checkpoint-*")
                   if p.is_dir() and p.name.split("-")[1].isdigit())
    for _, path in reversed(found):
        try:
            json.loads((path / "trainer_state.json").read_text())
            return str(path)
        except (OSError, ValueError):
            shutil.rmtree(path, ignore_errors=True)
    return None


def _save_final(trainer, tokenizer, out: Path, config: TrainConfig) -> Path:
    """Write ``out/model`` atomically (temp dir, then rename) from the main process.

    The model is saved in float32 whatever the compute dtype: a bf16 run's fp32 master weights
    hold updates that bf16 would round away (at lr 2e-7 most of a run's), and frozen bf16
    parameters widen exactly.  Under DeepSpeed / FSDP the gathered weights are saved as those
    engines hold them (DeepSpeed ZeRO-3 with bf16: bf16)."""
    tmp, final = out / "model.tmp", out / "model"
    lora = hasattr(trainer.model, "merge_and_unload")
    if not (getattr(trainer, "is_deepspeed_enabled", False) or getattr(trainer, "is_fsdp_enabled", False)):
        trainer.model.float()
    if not lora:
        trainer.save_model(str(tmp))  # gathers DeepSpeed / FSDP shards
    if trainer.is_world_process_zero():
        if lora:
            save_model(trainer.model, tokenizer, tmp, adapter_dir=out / "adapter")
        tokenizer.save_pretrained(tmp)
        write_json_atomic(out / LOG_FILE, trainer.state.log_history)
        write_json_atomic(out / RUN_FILE, {"processes": trainer.args.world_size,
                                           "distributed": str(trainer.accelerator.distributed_type.value),
                                           "steps": trainer.state.global_step, "config": asdict(config)})
        os.replace(tmp, final)
        shutil.rmtree(out / "checkpoints", ignore_errors=True)
        (out / REFERENCE_FILE).unlink(missing_ok=True)
    trainer.accelerator.wait_for_everyone()
    return final
