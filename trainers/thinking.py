"""``budget`` and ``nothink``: thinking control at inference time, no training.

``budget``: budget forcing (s1, Muennighoff et al. 2025): thinking cut at ``budget`` tokens, then
the preset's end-of-thinking marker and answer cue, then at most ``answer_budget`` answer tokens.
``nothink``: NoThinking (Ma et al. 2025): the assistant turn starts with an empty thinking block.
The two stages and the token accounting are :mod:`pruneeval.engines.thinking`'s."""

from __future__ import annotations

from dataclasses import dataclass, field

from pruneeval.engines.thinking import ThinkingEngine
from pruneeval.errors import UserError

from .method import Method


@dataclass(frozen=True)
class BudgetConfig:
    budget: int = field(default=512, metadata={"help": "thinking budget B, in tokens (budget@B sets it too)"})
    answer_budget: int = field(default=32, metadata={"help": "answer tokens allowed after the budget is forced"})

    def __post_init__(self):
        for key in ("budget", "answer_budget"):
            if getattr(self, key) < 1:
                raise UserError(f"{key} must be >= 1, got {getattr(self, key)}")


class Budget(Method):
    name = "budget"  # an instance is named by its budget: budget@512
    trains = False
    Config = BudgetConfig
    at_option = "budget"  # budget@256 is budget with budget=256

    def __init__(self, config: BudgetConfig | None = None, **options):
        super().__init__(config, **options)
        self.name = f"budget@{self.config.budget}"

    def check(self, preset) -> None:
        if not (preset.think_end and preset.budget_force):
            raise UserError(f"preset {preset.name}: budget forcing needs the model's thinking markers "
                            "(preset keys think_end and budget_force); this preset has none")

    def wrap(self, engine, preset):
        """``engine`` with every generation's thinking cut at the budget and the answer forced."""
        self.check(preset)
        return ThinkingEngine(engine, budget=self.config.budget, answer_budget=self.config.answer_budget,
                              think_end=preset.think_end, force=preset.budget_force)


class NoThink(Method):
    name = "nothink"
    trains = False

    def check(self, preset) -> None:
        if not preset.nothink_prefill:
            raise UserError(f"preset {preset.name}: nothink needs an empty thinking block to prefill "
                            "(preset key nothink_prefill); this preset has none")

    def wrap(self, engine, preset):
        """``engine`` with every answer started after the preset's empty thinking block."""
        self.check(preset)
        return ThinkingEngine(engine, prefill=preset.nothink_prefill)
