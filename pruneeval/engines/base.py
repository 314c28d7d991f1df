"""The Engine protocol every generation backend implements, and its value types.

Length L(y) is the number of tokens the engine generated for y, thinking included, the
end-of-turn token excluded (DESIGN.md, "Key definitions")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

Messages = list[dict]  # chat messages: [{"role": "system"|"user"|"assistant", "content": str}, ...]
SEED_STRIDE = 1_000_003  # per-request seeds: seed * stride + prompt index * n (+ sample index)


def render_prompt(tokenizer, messages: Messages) -> str:
    """The prompt text the model sees: the tokenizer's chat template with the generation prompt."""
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


def end_of_turn_ids(eos_token_id: int | Sequence[int] | None, tokenizer) -> set[int]:
    """The token ids that end a turn: the generation config's ``eos_token_id`` (one id, a list or
    None) and the tokenizer's eos."""
    eos = [eos_token_id] if isinstance(eos_token_id, int) else list(eos_token_id or [])
    return set(eos) | ({tokenizer.eos_token_id} - {None})


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
    token_ids: tuple[int, ...] = ()  # the generated ids, every stage's in order (forced text excluded)
    # Two-stage generation (pruneeval.engines.thinking): generated tokens and latency per stage
    # (they sum to n_tokens and latency_s), and the tokens of the text forced between the stages.
    stage_tokens: tuple[int, ...] = ()
    stage_latency_s: tuple[float, ...] = ()
    forced_tokens: int = 0


class LocalTokenizer:
    """What the engines holding the model's own tokenizer (hf, vllm) share: the prompt text and
    token ids exactly as the model sees them, and ``generate`` as ``generate_ids`` on those ids."""

    tokenizer: object

    def render(self, messages: Messages) -> str:
        """The prompt text the model sees (chat template with the generation prompt)."""
        return render_prompt(self.tokenizer, messages)

    def prompt_ids(self, messages: Messages) -> list[int]:
        return self.tokenizer(self.render(messages), add_special_tokens=False)["input_ids"]

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def generate(self, prompts: Sequence[Messages], sampling: Sampling) -> list[list[Completion]]:
        return self.generate_ids([self.prompt_ids(m) for m in prompts], sampling)

    def generate_ids(self, prompts: Sequence[Sequence[int]], sampling: Sampling) -> list[list[Completion]]:
        raise NotImplementedError


class Engine(Protocol):
    name: str

    def generate(self, prompts: Sequence[Messages], sampling: Sampling) -> list[list[Completion]]:
        """One list of ``sampling.n`` completions per prompt, in prompt order."""
        ...

    def prompt_ids(self, messages: Messages) -> list[int]:
        """The token ids the model sees for ``messages`` (chat template with the generation prompt)."""
        ...

    def encode(self, text: str) -> list[int]:
        """The token ids of ``text`` alone, no special tokens added."""
        ...

    def generate_ids(self, prompts: Sequence[Sequence[int]], sampling: Sampling) -> list[list[Completion]]:
        """As ``generate``, from exact prompt token ids (a rendered prompt plus any tokens to continue)."""
        ...

    def describe(self) -> dict:
        """Settings that change numbers (model, revision, dtype, library versions) for the manifest."""
        ...
