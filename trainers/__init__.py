"""Training methods behind one trainer (``base.train``): one explicit, lazy registry table."""

from __future__ import annotations

import importlib

from .config import TrainConfig
from .method import Method

METHODS = {
    "baseline": "pruneeval.trainers.baseline:Baseline",
    "prompt": "pruneeval.trainers.prompt:Prompt",
    "tale": "pruneeval.trainers.prompt:Tale",
    "draft": "pruneeval.trainers.prompt:Draft",
    "budget": "pruneeval.trainers.thinking:Budget",
    "nothink": "pruneeval.trainers.thinking:NoThink",
    "sft": "pruneeval.trainers.sft:SFT",
    "dpo": "pruneeval.trainers.dpo:DPO",
    "o1pruner": "pruneeval.trainers.o1pruner:O1Pruner",
}
# The training entry points, imported (with torch) on first use: reading a method's options and
# checks, or a TrainConfig, loads no torch.
ENTRY_POINTS = {"train": "pruneeval.trainers.base", "train_launched": "pruneeval.trainers.launch"}


def get_method(name: str, **options) -> Method:
    """Method ``name`` built with its options (keys of its ``Config``); ``budget@256`` is ``budget``
    with its ``at_option`` (the budget) set to 256."""
    from ..errors import UserError

    base, at, value = name.partition("@")
    try:
        target = METHODS[base]
    except KeyError:
        raise UserError(f"unknown method {name!r}; known: {', '.join(METHODS)} (budget and tale also as NAME@TOKENS)") from None
    module, cls = target.split(":")
    method = getattr(importlib.import_module(module), cls)
    if at:
        key = method.at_option
        if key is None:
            raise UserError(f"method {name!r}: {base} takes no @value")
        if not value.isdigit():
            raise UserError(f"method {name!r}: expected {base}@TOKENS, a whole number")
        options = {**options, key: int(value)}
    return method(**options)


def __getattr__(name: str):
    if name in ENTRY_POINTS:
        return getattr(importlib.import_module(ENTRY_POINTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["METHODS", "Method", "TrainConfig", "get_method", "train", "train_launched"]
