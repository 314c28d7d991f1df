"""Training examples and batches: chat prompt + response token ids with the prompt masked, padding,
per-token log-probs of a response, and the length-sorted batch sampler.

Example keys follow one convention the collator and the reference scorer rely on:
``<prefix>input_ids`` / ``<prefix>labels`` (prompt tokens are ``-100``) for each sequence of an
example (prefix ``""``, or ``"chosen_"`` / ``"rejected_"`` for pairs), per-token float lists
(``weights``, ``<prefix>ref_logprobs``) aligned with them, and scalars (``reward``)."""

from __future__ import annotations

from typing import Any, Sequence

import torch

from pruneeval.engines.base import render_prompt

IGNORE = -100


def _join(prompt: list[int], resp: list[int], eos: int | None, max_length: int | None) -> dict[str, list[int]]:
    if eos is not None and (not resp or resp[-1] != eos):
        resp = resp + [eos]
    ids, labels = prompt + resp, [IGNORE] * len(prompt) + resp
    if max_length:
        ids, labels = ids[:max_length], labels[:max_length]
    return {"input_ids": ids, "labels": labels}


def encode_records(tokenizer, records: Sequence, max_length: int | None = None) -> list[dict[str, list[int]]]:
    """``input_ids``/``labels`` of each ``SampleRecord``: its chat prompt (the chat template with the
    generation prompt, masked with -100) then its response (the engine's exact ``token_ids`` when it
    has them, else the output tokenised), tokenised in batches.  The end-of-turn (eos) token is
    appended to responses that stopped on their own (``finish_reason == "stop"``), so the model
    learns to stop, and not to responses cut at max tokens."""
    texts = [render_prompt(tokenizer, r.prompt) for r in records]
    prompts = tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
    outputs = [r.output for r in records if not r.token_ids]
    tokenized = iter(tokenizer(outputs, add_special_tokens=False)["input_ids"] if outputs else [])
    eos = tokenizer.eos_token_id
    return [_join(p, list(r.token_ids) if r.token_ids else next(tokenized),
                  eos if r.finish_reason == "stop" else None, max_length) for p, r in zip(prompts, records)]


class Collator:
    """Pads a list of examples into a batch (right padding; see the module docstring for keys)."""

    def __init__(self, pad_token_id: int):
        self.pad = pad_token_id

    def __call__(self, examples: list[dict]) -> dict[str, Any]:
        batch = {}
        for key in examples[0]:
            values = [e[key] for e in examples]
            if isinstance(values[0], (list, tuple)):
                fill = self.pad if key.endswith("input_ids") else IGNORE if key.endswith("labels") else 0.0
                width = max(len(v) for v in values)
                rows = [list(v) + [fill] * (width - len(v)) for v in values]
                batch[key] = torch.tensor(rows, dtype=torch.float32 if isinstance(fill, float) else torch.long)
                if key.endswith("input_ids"):
                    mask = [[1] * len(v) + [0] * (width - len(v)) for v in values]
                    batch[key[:-len("input_ids")] + "attention_mask"] = torch.tensor(mask)
            elif isinstance(values[0], (int, float, bool)):
                batch[key] = torch.tensor(values)
            else:
                batch[key] = values
        return batch


def sequence_logprobs(model, batch: dict, prefix: str = "") -> torch.Tensor:
    """Per-token log-probs [B, T] of the response: entry t is log p(labels[t] | tokens < t),
    0 where ``labels`` is -100 (prompt, padding)."""
    ids, labels = batch[prefix + "input_ids"], batch[prefix + "labels"]
    logits = model(input_ids=ids, attention_mask=batch[prefix + "attention_mask"]).logits[:, :-1].float()
    target = labels[:, 1:]
    mask = target != IGNORE
    picked = logits.gather(-1, target.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    logp = (picked - torch.logsumexp(logits, dim=-1)) * mask
    return torch.cat([torch.zeros_like(logp[:, :1]), logp], dim=1)


def response_mask(batch: dict, prefix: str = "") -> torch.Tensor:
    """1.0 on response tokens, 0.0 on the prompt and padding."""
    return (batch[prefix + "labels"] != IGNORE).float()


def sequence_prefixes(example: dict) -> list[str]:
    """The sequences of an example: ``""`` or ``"chosen_"`` / ``"rejected_"`` (keys ``<prefix>input_ids``)."""
    return [k[:-len("input_ids")] for k in example if k.endswith("input_ids")]


def main_ids(example: dict) -> str:
    """The key of the sequence an example is sorted by (its first ``<prefix>input_ids``)."""
    return sequence_prefixes(example)[0] + "input_ids"


class SortedBatchSampler(torch.utils.data.Sampler):
    """Uniformly random optimizer batches, each sorted by length so that its micro-batches pad less.

    Every optimizer step sees the batch plain random sampling would give; only its split into
    micro-batches follows length.  (transformers' group_by_length instead fills whole batches
    with examples of one length: on the toy world that took greedy accuracy from 99.8% to 74%.)"""

    def __init__(self, lengths: list[int], batch: int, seed: int):
        self.lengths, self.batch, self.seed, self.epoch = lengths, batch, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(len(self.lengths), generator=g).tolist()
        for start in range(0, len(order), self.batch):
            yield from sorted(order[start:start + self.batch], key=lambda i: -self.lengths[i])
