"""Reference log-probs: the frozen starting model scores every training sequence once.

Methods with ``needs_ref_logprobs`` (dpo, o1pruner) compare the policy with the starting model
(the ratio r of paper Eq. 5, DPO's log-ratios).  The pass runs inside the Trainer, after it has
wrapped the model (DDP, FSDP, DeepSpeed) and before the first step, so that:
- under ZeRO-3 and FSDP the forward runs through the sharded engine, which gathers each layer's
  parameters as it goes (a pass through the bare model would see the empty shards);
- it runs under the same compute as training (bf16 autocast over the fp32 master weights), so the
  ratio is 1 at step 0;
- each of N processes scores every N-th example, all with the same number of batches (the
  sharded forward is collective), and the shares are gathered to every process.
The scores are written to ``<out>/reference.pt`` before training starts: a run resumed from a
checkpoint, whose model no longer is the reference, reads them back."""

from __future__ import annotations

import math
import os
from contextlib import nullcontext
from pathlib import Path

import torch

from .batches import sequence_logprobs, sequence_prefixes

REFERENCE_FILE = "reference.pt"


@torch.no_grad()
def score(model, examples: list[dict], collate, batch_size: int, device=None,
          context=None) -> list[dict[str, list[float]]]:
    """Per-token reference log-probs of each sequence of each example: ``[{prefix: [logp, ...]}]``."""
    was_training = model.training
    model.eval()
    device = device if device is not None else next(model.parameters()).device
    out = []
    prefixes = sequence_prefixes(examples[0]) if examples else []
    for start in range(0, len(examples), batch_size):
        chunk = examples[start:start + batch_size]
        batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in collate(chunk).items()}
        rows = [{} for _ in chunk]
        for p in prefixes:
            with (context or nullcontext)():
                logp = sequence_logprobs(model, batch, p).float().cpu()
            for row, e, lp in zip(rows, chunk, logp):
                row[p] = lp[:len(e[p + "input_ids"])].tolist()
        out.extend(rows)
    model.train(was_training)
    return out


def attach(examples: list[dict], scores: list[dict[str, list[float]]]) -> None:
    """Put each sequence's scores on its example as ``<prefix>ref_logprobs``."""
    for e, row in zip(examples, scores):
        for p, logp in row.items():
            e[p + "ref_logprobs"] = logp


def rank_share(n: int, rank: int, world: int) -> list[int]:
    """Indices of the examples process ``rank`` scores: every ``world``-th, padded (with a repeat of
    its first, or of example 0) to ceil(n / world), so every process runs the same batches."""
    mine = list(range(rank, n, world))
    return mine + [mine[0] if mine else 0] * (math.ceil(n / world) - len(mine))


def scores_for_training(trainer, examples: list[dict], batch_size: int, cache: Path) -> list[dict]:
    """The reference scores of ``examples``: read from ``cache`` if a previous start wrote it, else
    each process scores its share through ``trainer``'s wrapped model and all shares are gathered;
    the main process writes ``cache`` (atomically) before any training step."""
    if cache.is_file():
        scores = torch.load(cache, weights_only=True)
        if _fits(scores, examples):
            return scores
    args = trainer.args
    world, rank = args.world_size, args.process_index
    share = rank_share(len(examples), rank, world)
    mine = score(trainer.model_wrapped, [examples[i] for i in share], trainer.data_collator, batch_size,
                 device=args.device, context=trainer.compute_loss_context_manager)
    if world > 1:
        gathered = [None] * world
        torch.distributed.all_gather_object(gathered, list(zip(share, mine)))
    else:
        gathered = [list(zip(share, mine))]
    scores: list = [None] * len(examples)
    for part in gathered:
        for i, row in part:
            scores[i] = row
    if trainer.is_world_process_zero():
        tmp = cache.with_suffix(".tmp")
        torch.save(scores, tmp)
        os.replace(tmp, cache)
    return scores



def _fits(scores: list, examples: list[dict]) -> bool:
    """Whether cached ``scores`` belong to ``examples``: one row per example, one log-prob per token."""
    return len(scores) == len(examples) and all(
        len(row.get(p, ())) == len(e[p + "input_ids"]) for row, e in zip(scores, examples) for p in sequence_prefixes(e))


def reference_pass(trainer, examples: list[dict], batch_size: int, cache: Path):
    """A Trainer callback: before the first step (the model wrapped, a checkpoint loaded), attach the
    reference log-probs (:func:`scores_for_training`) to ``examples`` in place."""
    from transformers import TrainerCallback

    class ReferencePass(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            attach(examples, scores_for_training(trainer, examples, batch_size, cache))

    return ReferencePass()
