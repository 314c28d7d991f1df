"""Engine registry: one explicit, lazy table (importing pruneeval never imports vLLM)."""

from __future__ import annotations

import importlib

from ..errors import UserError
from .base import Completion, Engine, Messages, Sampling

ENGINES = {
    "hf": "pruneeval.engines.hf:HFEngine",
    "vllm": "pruneeval.engines.vllm:VLLMEngine",
    "openai": "pruneeval.engines.openai:OpenAIEngine",
}


def make_engine(name: str, model: str, **options) -> Engine:
    """Build engine ``name`` for the model directory or hub id ``model``."""
    try:
        target = ENGINES[name]
    except KeyError:
        raise UserError(f"unknown engine {name!r}; known: {', '.join(ENGINES)}") from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)(model, **options)


__all__ = ["Completion", "Engine", "Messages", "Sampling", "ENGINES", "make_engine"]
