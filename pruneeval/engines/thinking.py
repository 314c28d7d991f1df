"""Thinking control at inference time, no training: budget forcing and NoThinking, on any engine.

``budget`` (budget forcing, s1: Muennighoff et al. 2025; Qwen3's thinking budget): stage 1
generates at most B tokens.  A sample that ends within B is done.  A sample cut at B gets a
stage 2 of at most ``answer_budget`` tokens that continues its exact token ids (never re-tokenised
text): after the preset's ``budget_force`` text (the end-of-thinking marker and an answer cue)
when its thinking had not ended, directly when it had (the preset's ``think_end`` is in its text).

``nothink`` (NoThinking, Ma et al. 2025): the assistant turn starts with the preset's
``nothink_prefill``, an empty thinking block already closed; one stage.

Accounting: ``n_tokens`` is what the model generated, the sum of ``stage_tokens``; the text put
in by pruneeval (prefill, forced cue) is in the output text but counted apart, as
``forced_tokens``.  Latency is the sum of the stages' latencies."""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

from .base import Completion, Engine, Messages, Sampling


class ThinkingEngine:
    """``engine`` with its generations cut at a thinking budget, or started after an empty thinking."""

    def __init__(self, engine: Engine, *, prefill: str = "", budget: int | None = None, answer_budget: int = 32,
                 think_end: str = "", force: str = ""):
        if budget is not None and not (think_end and force):
            raise ValueError("budget forcing needs an end-of-thinking marker and the text to force")
        require = getattr(engine, "require_token_ids", None)  # a server that returns no token ids cannot continue them
        if require is not None:
            require("budget forcing and nothink")
        self.engine, self.prefill, self.budget, self.answer_budget = engine, prefill, budget, answer_budget
        self.think_end, self.force = think_end, force
        self.name, self.batch_size = engine.name, getattr(engine, "batch_size", 1)

    def describe(self) -> dict:
        control = {"prefill": self.prefill}
        if self.budget is not None:
            control.update(budget=self.budget, answer_budget=self.answer_budget, think_end=self.think_end,
                           force=self.force)
        return {**self.engine.describe(), "thinking": control}

    def prompt_ids(self, messages: Messages) -> list[int]:
        return self.engine.prompt_ids(messages)

    def encode(self, text: str) -> list[int]:
        return self.engine.encode(text)

    def generate(self, prompts: Sequence[Messages], sampling: Sampling) -> list[list[Completion]]:
        prefill = self.engine.encode(self.prefill) if self.prefill else []
        return self.generate_ids([self.engine.prompt_ids(m) + prefill for m in prompts], sampling,
                                 forced_before=len(prefill))

    def generate_ids(self, prompts: Sequence[Sequence[int]], sampling: Sampling,
                     forced_before: int = 0) -> list[list[Completion]]:
        cut = sampling.max_tokens if self.budget is None else min(self.budget, sampling.max_tokens)
        first = self.engine.generate_ids(prompts, replace(sampling, max_tokens=cut))
        out = [[self._one_stage(c, forced_before) for c in cs] for cs in first]
        if cut >= sampling.max_tokens:  # no budget, or one as large as the plain cut: nothing to force
            return out
        cont = [(i, j) for i, cs in enumerate(first) for j, c in enumerate(cs) if c.finish_reason == "length"]
        if not cont:
            return out
        force = self.engine.encode(self.force)
        ended = [self.think_end in first[i][j].text for i, j in cont]
        second = self.engine.generate_ids(
            [[*prompts[i], *first[i][j].token_ids, *([] if e else force)] for (i, j), e in zip(cont, ended)],
            replace(sampling, n=1, max_tokens=self.answer_budget))
        for ((i, j), e, [c2]) in zip(cont, ended, second):
            out[i][j] = self._two_stages(first[i][j], c2, [] if e else force, forced_before)
        return out

    def _one_stage(self, c: Completion, forced_before: int) -> Completion:
        return replace(c, text=self.prefill + c.text, stage_tokens=(c.n_tokens,), stage_latency_s=(c.latency_s,),
                       forced_tokens=forced_before)

    def _two_stages(self, c1: Completion, c2: Completion, force: list[int], forced_before: int) -> Completion:
        return Completion(text=self.prefill + c1.text + (self.force if force else "") + c2.text,
                          n_tokens=c1.n_tokens + c2.n_tokens, finish_reason=c2.finish_reason,
                          latency_s=c1.latency_s + c2.latency_s, token_ids=c1.token_ids + c2.token_ids,
                          stage_tokens=(c1.n_tokens, c2.n_tokens), stage_latency_s=(c1.latency_s, c2.latency_s),
                          forced_tokens=forced_before + len(force))

    def close(self) -> None:
        close = getattr(self.engine, "close", None)
        if close is not None:
            close()
