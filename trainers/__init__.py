"""Training methods behind one trainer (``base.train``): one explicit, lazy registry table."""

from __future__ import annotations

import importlib

from .base import Method, TrainConfig, train

METHODS = {
    "baseline": "pruneeval.trainers.baseline:Baseline",
    "prompt": "pruneeval.trainers.prompt:Prompt",
    "sft": "pruneeval.trainers.sft:SFT",
    "dpo": "pruneeval.trainers.dpo:DPO",
    "o1pruner": "pruneeval.trainers.o1pruner:O1Pruner",
}


def get_method(name: str, **options) -> Method:
    """Method ``name`` built with its options (keys of its ``Config``)."""
    try:
        target = METHODS[name]
    except KeyError:
        from ..errors import UserError

        raise UserError(f"unknown method {name!r}; known: {', '.join(METHODS)}") from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)(**options)


__all__ = ["METHODS", "Method", "TrainConfig", "get_method", "train"]
