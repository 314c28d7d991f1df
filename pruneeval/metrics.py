"""Length and accuracy statistics of sample records (summary.json)."""

from __future__ import annotations

import statistics
from typing import Sequence

from .records import SampleRecord


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), q in [0, 100]."""
    xs = sorted(values)
    if not xs:
        return 0.0
    pos = (len(xs) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summarize(records: Sequence[SampleRecord], gen_time_s: float | None = None) -> dict:
    """Accuracy, token-length statistics, truncated and no-answer rates over all samples.

    ``gen_time_s`` is the total wall time spent in the engine; when absent the per-sample
    latencies are summed (exact for batch size 1, an upper bound for batched engines)."""
    n = len(records)
    tokens = [r.n_tokens for r in records]
    wall = gen_time_s if gen_time_s is not None else sum(r.latency_s for r in records)
    return {
        "n_samples": n,
        "n_problems": len({r.problem_id for r in records}),
        "accuracy": sum(r.correct for r in records) / n if n else 0.0,
        "mean_tokens": statistics.fmean(tokens) if n else 0.0,
        "median_tokens": statistics.median(tokens) if n else 0.0,
        "p90_tokens": percentile(tokens, 90),
        "truncated_rate": sum(r.finish_reason == "length" for r in records) / n if n else 0.0,
        "no_answer_rate": sum(r.extracted is None for r in records) / n if n else 0.0,
        "gen_time_s": wall,
        "tokens_per_s": sum(tokens) / wall if wall > 0 else 0.0,
    }
