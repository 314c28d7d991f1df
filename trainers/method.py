"""The one shape of every method (:class:`Method`), importable without torch: the command line
reads a method's options and checks (``check``) before anything loads torch, so a model it
cannot reach fails in seconds.  ``build`` and ``loss`` (training methods) take the trainer's
TrainConfig and torch tensors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class NoOptions:
    pass


class Method:
    """A method: options (``Config``); one that ``trains`` has ``build`` (records -> examples) and
    ``loss``, one that does not runs at inference time through ``suffix``, ``check`` and ``wrap``.

    Set ``needs_ref_logprobs`` to get ``<prefix>ref_logprobs`` (per-token log-probs of the frozen
    starting model, aligned with ``<prefix>labels``) attached to every example before training."""

    name: ClassVar[str] = ""
    trains: ClassVar[bool] = True
    suffix: str = ""  # appended to the user turn of every prompt (inference-time methods; tale's per instance)
    at_option: ClassVar[str | None] = None  # the option NAME@VALUE sets (budget@256: budget=256)
    needs_ref_logprobs: ClassVar[bool] = False
    Config: ClassVar[type] = NoOptions

    def __init__(self, config=None, **options):
        self.config = config if config is not None else self.Config(**options)

    def check(self, preset) -> None:
        """Refuse a model ``preset`` this method cannot run on (a UserError); none by default."""

    def wrap(self, engine, preset):
        """``engine`` as this method generates with it; itself by default."""
        return engine

    def build(self, records: list, tokenizer, train) -> list[dict]:
        raise NotImplementedError

    def loss(self, model, batch: dict):
        raise NotImplementedError
