"""Prompt-only baselines, no training: the reference prompt plus a method suffix.

``prompt``: the paper's fast-solving prompt, "\\nBe confident. Solving this problem quickly with less
pause, stop or reflection." (``pruneeval.prompts.FAST_SOLVING_SUFFIX``).
``tale``: TALE's token-budget prompt (Han et al. 2024, "Token-Budget-Aware LLM Reasoning"), with a
fixed budget where TALE-EP has the model estimate one per question.
``draft``: Chain of Draft (Xu et al. 2025); its "after a separator ####" becomes "within \\boxed{}",
the answer format every pruneeval grader reads."""

from __future__ import annotations

from dataclasses import dataclass, field

from pruneeval.errors import UserError
from pruneeval.prompts import DRAFT_SUFFIX, FAST_SOLVING_SUFFIX, TALE_SUFFIX

from .method import Method


class Prompt(Method):
    name = "prompt"
    trains = False
    suffix = FAST_SOLVING_SUFFIX


@dataclass(frozen=True)
class TaleConfig:
    budget: int = field(default=512, metadata={"help": "token budget written into the prompt (tale@B sets it too)"})

    def __post_init__(self):
        if self.budget < 1:
            raise UserError(f"budget must be >= 1, got {self.budget}")


class Tale(Method):
    name = "tale"  # an instance is named by its budget: tale@512
    trains = False
    Config = TaleConfig
    at_option = "budget"

    def __init__(self, config: TaleConfig | None = None, **options):
        super().__init__(config, **options)
        self.name = f"tale@{self.config.budget}"
        self.suffix = TALE_SUFFIX.format(budget=self.config.budget)


class Draft(Method):
    name = "draft"
    trains = False
    suffix = DRAFT_SUFFIX
