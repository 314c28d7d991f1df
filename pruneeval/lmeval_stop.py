"""Stop strings for lm-eval's ``until``: a completion cut before its first stop string, with
the token count an engine stopping on that string would report."""

from __future__ import annotations

from typing import Sequence

from .engines.base import Completion
from .lmeval_tasks import GenText


def stop_at(c: Completion, until: Sequence[str], decode) -> GenText:
    """``c`` cut before its first stop string.  Counting rule: a cut completion has generated the
    tokens up to and including the one that completed the stop string (the fewest leading tokens
    whose decoding contains it), which is where an engine stopping on the string would stop; its
    finish reason is "stop".  The latency stays the engine's (it generated to end-of-turn or the
    limit).  ``decode(ids)`` must be the engine's decoding, so ``decode(c.token_ids) == c.text``."""
    cuts = [c.text.find(s) for s in until if s and s in c.text]
    if not cuts:
        return GenText(c.text, c.n_tokens, c.finish_reason, c.latency_s)
    if not c.token_ids:
        raise ValueError("the engine returned no token ids: cannot count the tokens up to a stop string")
    ids, lo, hi = list(c.token_ids), 1, len(c.token_ids)
    while lo < hi:
        mid = (lo + hi) // 2
        if any(s and s in decode(ids[:mid]) for s in until):
            hi = mid
        else:
            lo = mid + 1
    return GenText(c.text[:min(cuts)], hi, "stop", c.latency_s)
