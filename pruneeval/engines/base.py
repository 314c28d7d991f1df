"""The Engine protocol every generation backend implements, and its value types.

Length L(y) is the number of tokens the engine generated for y, thinking included, the
end-of-turn token excluded (DESIGN.md, "Key definitions")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

Messages = list[dict]  # chat messages: [{"role": "system"|"user"|"assistant", "content": str}, ...]


@dataclass(frozen=True)
class Sampling:
    n: int = 1
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    max_tokens: int = 8192
    seed: int = 0

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0


@dataclass(frozen=True)
class Completion:
    text: str
    n_tokens: int  # exact count of generated token ids, end-of-turn excluded
    finish_reason: str  # "stop" (end-of-turn produced) or "length" (hit max_tokens)
    latency_s: float  # seconds from the request's start to its last token
    token_ids: tuple[int, ...] = ()


class Engine(Protocol):
    name: str

    def generate(self, prompts: Sequence[Messages], sampling: Sampling) -> list[list[Completion]]:
        """One list of ``sampling.n`` completions per prompt, in prompt order."""
        ...

    def describe(self) -> dict:
        """Settings that change numbers (model, revision, dtype, library versions) for the manifest."""
        ...
