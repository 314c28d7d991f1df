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
    engine_class = getattr(importlib.import_module(module), cls)
    try:
        return engine_class(model, **options)
    except (OSError, ValueError) as e:
        raise load_error(model, e) from e


def load_error(model: str, e: Exception) -> UserError:
    """One line for a model that does not load; code shipped in its repository is named as the reason."""
    if "trust_remote_code" in str(e):
        return UserError(f"model {model!r} ships its own code, which runs only with --trust-remote-code")
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return UserError(f"cannot load model {model!r}: {first}")


__all__ = ["Completion", "Engine", "Messages", "Sampling", "ENGINES", "load_error", "make_engine"]
