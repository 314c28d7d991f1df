"""``dpo``: Direct Preference Optimisation baseline of the O1-Pruner paper.

Pairs per problem: chosen = each of the 2 shortest correct samples, rejected = the longest sample.
Loss (sigmoid DPO): -log sigmoid(beta * ((log pi(c) - log ref(c)) - (log pi(r) - log ref(r)))),
with summed response log-probs and the reference log-probs precomputed once before training."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from pruneeval.records import by_problem

from .batches import encode_records, response_mask, sequence_logprobs
from .config import TrainConfig
from .method import Method
from .sft import shortest_correct


@dataclass(frozen=True)
class DPOConfig:
    beta: float = field(default=0.1, metadata={"help": "DPO temperature beta"})
    keep: int = field(default=2, metadata={"help": "shortest correct samples used as chosen per problem"})


def pairs(records: list, keep: int) -> list[tuple]:
    """(chosen, rejected) records: each of the ``keep`` shortest correct vs the longest sample."""
    groups = by_problem(records)
    out = []
    for chosen in shortest_correct(records, keep):
        longest = max(groups[chosen.problem_id], key=lambda r: (r.n_tokens, -r.sample_idx))
        if longest.key != chosen.key and longest.n_tokens > chosen.n_tokens:
            out.append((chosen, longest))
    return out


def dpo_loss(pi_c: torch.Tensor, pi_r: torch.Tensor, ref_c: torch.Tensor, ref_r: torch.Tensor,
             beta: float) -> torch.Tensor:
    """Mean sigmoid DPO loss over summed sequence log-probs [B]."""
    return -F.logsigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r))).mean()


class DPO(Method):
    name = "dpo"
    needs_ref_logprobs = True
    Config = DPOConfig

    def build(self, records: list, tokenizer, train: TrainConfig) -> list[dict]:
        ps = pairs(records, self.config.keep)
        chosen = encode_records(tokenizer, [c for c, _ in ps], train.max_length)
        rejected = encode_records(tokenizer, [r for _, r in ps], train.max_length)
        return [{"chosen_input_ids": c["input_ids"], "chosen_labels": c["labels"],
                 "rejected_input_ids": r["input_ids"], "rejected_labels": r["labels"]}
                for c, r in zip(chosen, rejected)]

    def loss(self, model, batch: dict) -> torch.Tensor:
        sums = {}
        for p in ("chosen_", "rejected_"):
            mask = response_mask(batch, p)
            sums[p] = (sequence_logprobs(model, batch, p) * mask).sum(-1)
            sums["ref_" + p] = (batch[p + "ref_logprobs"] * mask).sum(-1)
        return dpo_loss(sums["chosen_"], sums["rejected_"], sums["ref_chosen_"], sums["ref_rejected_"], self.config.beta)
