"""Engine registry: one explicit, lazy table (importing pruneeval never imports vLLM)."""

from __future__ import annotations

import importlib
import pickle

from ..errors import UserError, first_line
from .base import Completion, Engine, Messages, Sampling

ENGINES = {
    "hf": "pruneeval.engines.hf:HFEngine",
    "vllm": "pruneeval.engines.vllm:VLLMEngine",
    "openai": "pruneeval.engines.openai:OpenAIEngine",
}


def engine_target(name: str) -> str:
    """``"module:Class"`` of engine ``name``; a UserError for an unknown name (nothing is imported)."""
    try:
        return ENGINES[name]
    except KeyError:
        raise UserError(f"unknown engine {name!r}; known: {', '.join(ENGINES)}") from None


def make_engine(name: str, model: str, **options) -> Engine:
    """Build engine ``name`` for the model directory or hub id ``model``."""
    module, cls = engine_target(name).split(":")
    engine_class = getattr(importlib.import_module(module), cls)
    try:
        return engine_class(model, **options)
    except (OSError, ValueError, pickle.UnpicklingError) as e:
        raise load_error(model, e) from e


def load_error(model: str, e: Exception) -> UserError:
    """One line for a model that does not load; code shipped in its repository, or pickled weights
    holding more than tensors, named as the reason."""
    if isinstance(e, pickle.UnpicklingError):
        return UserError(f"model {model!r}: its pickled weights hold more than tensors, which could run code; "
                         "refused (convert them to safetensors)")
    if "trust_remote_code" in str(e):
        return UserError(f"model {model!r} ships its own code, which runs only with --trust-remote-code")
    return UserError(f"cannot load model {model!r}: {first_line(e)}")


__all__ = ["Completion", "Engine", "Messages", "Sampling", "ENGINES", "engine_target", "load_error", "make_engine"]
