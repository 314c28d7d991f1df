"""``sft``: cross-entropy on the shortest correct samples (the paper's SFT baseline).

From sampled records it keeps the ``keep`` (2) shortest correct samples of each problem.  Fed
records built from the toy world's solutions (one per problem id) it trains the toy reasoner;
``result_weight`` then up-weights the digits of each step's result and of the boxed answer."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import torch

from pruneeval.records import by_problem

from .batches import IGNORE, encode_records, response_mask, sequence_logprobs
from .config import TrainConfig
from .method import Method

# A result: the number after "= " that ends a step, or the content of \boxed{...}.
RESULT = re.compile(r"(?<== )-?\d+(?=[.,\n]|$)|(?<=\\boxed\{)[^}]*(?=\})")


@dataclass(frozen=True)
class SFTConfig:
    keep: int = field(default=2, metadata={"help": "shortest correct samples kept per problem"})
    result_weight: float = field(default=1.0, metadata={"help": "loss weight of result digits (1 = plain SFT)"})


def shortest_correct(records: list, keep: int) -> list:
    """The ``keep`` shortest correct records of each problem (ties: lower sample_idx)."""
    correct = by_problem(r for r in records if r.correct)
    return [r for rs in correct.values() for r in sorted(rs, key=lambda r: (r.n_tokens, r.sample_idx))[:keep]]


class SFT(Method):
    name = "sft"
    Config = SFTConfig

    def build(self, records: list, tokenizer, train: TrainConfig) -> list[dict]:
        examples = encode_records(tokenizer, shortest_correct(records, self.config.keep), train.max_length)
        if self.config.result_weight != 1.0:
            pieces: dict[int, str] = {}
            for ex in examples:
                ex["weights"] = self._weights(tokenizer, ex["labels"], pieces)
        return examples

    def _weights(self, tokenizer, labels: list[int], pieces: dict[int, str]) -> list[float]:
        """result_weight on response tokens inside a result, 1 on the others, 0 on the prompt."""
        start = sum(1 for x in labels if x == IGNORE)
        texts = []
        for t in labels[start:]:
            if t not in pieces:
                pieces[t] = tokenizer.decode([t])
            texts.append(pieces[t])
        hot = bytearray(sum(map(len, texts)) + 1)
        for m in RESULT.finditer("".join(texts)):
            hot[m.start():m.end()] = b"\1" * (m.end() - m.start())
        w, pos = [0.0] * start, 0
        for piece in texts:
            w.append(self.config.result_weight if any(hot[pos:pos + len(piece)]) else 1.0)
            pos += len(piece)
        return w

    def loss(self, model, batch: dict) -> torch.Tensor:
        logp = sequence_logprobs(model, batch)
        w = batch["weights"] if "weights" in batch else response_mask(batch)
        return -(logp * w).sum() / w.sum().clamp(min=1.0)
