"""``o1pruner``: Length-Harmonizing Fine-Tuning (O1-Pruner, arXiv 2501.12570).

Reward (paper Eq. 3): R(x, y) = L_ref(x) / L(y) - 1 + lambda * (A(x, y) - A_ref(x)), with the
reference statistics L_ref / A_ref taken over the K presampled responses of x (y included).
Official-code semantics (DESIGN.md): R clipped to [-2, 4], z-scored over the whole training set,
m = 2 random samples kept per problem; the loss is the PPO-style clipped surrogate (paper Eq. 5)
  loss = mean_batch max(-R * r, -R * clip(r, 1 - eps, 1 + eps)),
r = exp(mean-token log p_theta(y) - mean-token log p_ref(y)) (one ratio per sequence), eps = 0.2,
no KL term.  ``ratio="token"`` uses one ratio per token instead (averaged over each sequence)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from statistics import fmean, pstdev

import torch

from pruneeval.errors import UserError
from pruneeval.options import option
from pruneeval.records import by_problem, reference_stats

from .batches import encode_records, response_mask, sequence_logprobs
from .config import TrainConfig
from .method import Method


@dataclass(frozen=True)
class O1PrunerConfig:
    lam: float = option(2.0, "lambda: weight of the accuracy term of the reward")
    clip_low: float = option(-2.0, "lower clip of the raw reward")
    clip_high: float = option(4.0, "upper clip of the raw reward")
    normalize: str = option("zscore", "reward normalisation over the training set: zscore | none")
    m: int = option(2, "samples kept per problem (0 = all)")
    eps: float = option(0.2, "PPO clip range of the importance ratio")
    ratio: str = option("sequence", "importance ratio: sequence (official) | token")
    seed: int = option(0, "seed of the choice of the m samples")

    def __post_init__(self):
        checks = [(self.normalize in ("zscore", "none"), f"normalize={self.normalize!r}: expected zscore or none"),
                  (self.ratio in ("sequence", "token"), f"ratio={self.ratio!r}: expected sequence or token"),
                  (self.eps > 0, f"eps={self.eps}: expected > 0"),
                  (self.clip_low < self.clip_high, f"clip_low={self.clip_low} must be below clip_high={self.clip_high}")]
        for ok, what in checks:
            if not ok:
                raise UserError(f"o1pruner option {what}")


def reward(length: int, correct: bool, l_ref: float, a_ref: float, lam: float) -> float:
    """Eq. 3: L_ref/L - 1 + lambda*(A - A_ref); an empty response counts as one token."""
    return l_ref / max(length, 1) - 1.0 + lam * (float(correct) - a_ref)


def rewards(records: list, cfg: O1PrunerConfig) -> list[float]:
    """Clipped (and z-scored) rewards of ``records``, with reference stats over each problem's samples."""
    stats = reference_stats(records)
    raw = [min(max(reward(r.n_tokens, r.correct, stats[r.problem_id]["L_ref"], stats[r.problem_id]["A_ref"],
                          cfg.lam), cfg.clip_low), cfg.clip_high) for r in records]
    if cfg.normalize == "zscore":
        mu, sd = fmean(raw), pstdev(raw)
        return [(x - mu) / (sd + 1e-8) for x in raw]
    return raw  # normalize == "none" (the config refuses other values)


def choose(records: list, m: int, seed: int) -> list[int]:
    """Indices of ``m`` samples per problem drawn with a seeded RNG (all when m <= 0)."""
    groups = by_problem(range(len(records)), key=lambda i: records[i].problem_id)
    rng = random.Random(seed)
    keep = []
    for pid in sorted(groups):
        idx = sorted(groups[pid], key=lambda i: records[i].sample_idx)
        keep += idx if m <= 0 or m >= len(idx) else rng.sample(idx, m)
    return sorted(keep)


def surrogate_loss(logp: torch.Tensor, ref_logp: torch.Tensor, mask: torch.Tensor, reward: torch.Tensor,
                   eps: float, ratio: str = "sequence") -> torch.Tensor:
    """Eq. 5 clipped surrogate over a batch: per-token log-probs [B, T], response mask, rewards [B]."""
    n = mask.sum(-1).clamp(min=1.0)
    adv = reward.to(logp.dtype)
    if ratio == "sequence":
        r = torch.exp(((logp - ref_logp) * mask).sum(-1) / n)
        return torch.max(-adv * r, -adv * r.clamp(1 - eps, 1 + eps)).mean()
    if ratio == "token":
        r = torch.exp((logp - ref_logp) * mask)
        per_tok = torch.max(-adv[:, None] * r, -adv[:, None] * r.clamp(1 - eps, 1 + eps))
        return ((per_tok * mask).sum(-1) / n).mean()
    raise ValueError(f"ratio={ratio!r}: expected sequence or token")


class O1Pruner(Method):
    name = "o1pruner"
    needs_ref_logprobs = True
    Config = O1PrunerConfig

    def build(self, records: list, tokenizer, train: TrainConfig) -> list[dict]:
        rs = rewards(records, self.config)
        keep = choose(records, self.config.m, self.config.seed)
        examples = encode_records(tokenizer, [records[i] for i in keep], train.max_length)
        return [{**ex, "reward": rs[i]} for i, ex in zip(keep, examples)]

    def loss(self, model, batch: dict) -> torch.Tensor:
        logp = sequence_logprobs(model, batch)
        return surrogate_loss(logp, batch["ref_logprobs"], response_mask(batch), batch["reward"],
                              self.config.eps, self.config.ratio)
