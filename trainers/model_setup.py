"""Model set-up before training: which parameters train (full, freeze:N, lora:R), their float32
master copy, and saving a (LoRA-merged) model directory."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from pruneeval.errors import UserError

from .config import parse_finetune


def _layers(model) -> torch.nn.ModuleList:
    n = model.config.num_hidden_layers
    for module in model.modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == n:
            return module
    raise ValueError(f"cannot find the {n} transformer layers of {type(model).__name__}")


def setup_model(model, mode: str, seed: int = 0):
    """Make the parameters of ``mode`` trainable; returns the model (a peft model for LoRA).

    ``full``: everything.  ``freeze:N``: the last N transformer layers plus the final norm (it sits
    on top of them); input embeddings, earlier layers and the lm_head stay frozen, whether or not
    the lm_head is tied to the embeddings (for QwQ-32B the untied head alone is 0.78B parameters).
    ``lora:R``: peft LoRA of rank R (alpha 2R) on every linear layer but the lm_head."""
    kind, n = parse_finetune(mode)
    if kind == "full":
        model.requires_grad_(True)
        return model
    if kind == "freeze":
        layers = _layers(model)
        if not 0 < n <= len(layers):
            raise UserError(f"freeze:{n}: the model has {len(layers)} layers")
        model.requires_grad_(False)
        frozen = {id(p) for p in model.get_input_embeddings().parameters()}
        frozen |= {id(p) for p in model.get_output_embeddings().parameters()}
        frozen |= {id(p) for layer in layers for p in layer.parameters()}
        for p in model.parameters():
            if id(p) not in frozen:  # the final norm
                p.requires_grad_(True)
        layers[len(layers) - n:].requires_grad_(True)
        return model
    import peft

    torch.manual_seed(seed)
    config = peft.LoraConfig(r=n, lora_alpha=2 * n, lora_dropout=0.0, target_modules="all-linear",
                             task_type="CAUSAL_LM")
    return peft.get_peft_model(model, config)


def save_model(model, tokenizer, out_dir: str | os.PathLike, adapter_dir: str | os.PathLike | None = None) -> Path:
    """Save a loadable model dir.  A LoRA (peft) model is saved merged, so engines load ``out_dir``
    like any model, and its adapter alone goes to ``adapter_dir`` (default ``<out_dir>-adapter``)."""
    out = Path(out_dir)
    if hasattr(model, "merge_and_unload"):
        model.save_pretrained(adapter_dir or str(out) + "-adapter")
        model = model.merge_and_unload()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def fp32_master_weights(model, every: bool = False) -> None:
    """Keep the trainable parameters in float32 (frozen ones stay as loaded; ``every``: all, as FSDP
    wants one dtype per wrapped unit).

    With ``dtype: bfloat16`` the weights load in bf16 (the 7B and 32B checkpoints are stored in
    bf16, so nothing is lost; an fp32 checkpoint starts from its bf16 rounding).  Training, and the
    reference pass before it, then run bf16 autocast over these fp32 masters: AdamW steps at the
    paper's learning rates (2e-7, 2e-6) are below bf16's resolution (2^-8 relative) and would
    mostly round away in bf16 weights."""
    for p in model.parameters():
        if (p.requires_grad or every) and p.dtype != torch.float32:
            p.data = p.data.float()
