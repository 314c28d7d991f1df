"""Length and accuracy statistics of sample records (summary.json)."""

from __future__ import annotations

import statistics
from typing import Sequence

from .records import SampleRecord, by_problem


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), q in [0, 100]."""
    xs = sorted(values)
    if not xs:
        return 0.0
    pos = (len(xs) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summarize(records: Sequence[SampleRecord], gen_time_s: float | None = None, workers: int | None = None) -> dict:
    """Accuracy, token-length statistics, truncated and no-answer rates over all samples.

    ``gen_time_s`` is the total wall time spent in the engine; when absent the per-sample
    latencies are summed (exact for batch size 1, an upper bound for batched engines).
    ``forced_rate`` (two-stage generation only): the share of samples cut at the thinking budget.
    ``overthinking``: where the first correct answer comes and the rounds after it, in tokens
    estimated from characters (``overthinking.summarize_overthinking``; its candidate answers
    graded as ``grade_many`` grades with ``workers``)."""
    from .overthinking import summarize_overthinking

    n = len(records)
    tokens = [r.n_tokens for r in records]
    wall = gen_time_s if gen_time_s is not None else sum(r.latency_s for r in records)
    out = {
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
        "overthinking": summarize_overthinking(records, workers=workers),
    }
    if any(r.stage_tokens for r in records):  # budget forcing: the share cut at the budget and forced to answer
        out["forced_rate"] = sum(len(r.stage_tokens or ()) == 2 for r in records) / n
    return out


# --- Accuracy-Efficiency Score (AES) -------------------------------------------------------

AES_VARIANTS = ("paper", "printed")


def aes(
    base_acc: float,
    base_len: float,
    acc: float,
    length: float,
    *,
    alpha: float = 1.0,
    beta: float = 3.0,
    gamma: float = 5.0,
    variant: str = "paper",
) -> float:
    """Accuracy-Efficiency Score of (acc, length) against the baseline (base_acc, base_len).

    dL = (base_len - length) / base_len and dA = (acc - base_acc) / base_acc (relative, so
    accuracy may be a fraction or a percentage). ``variant="paper"`` is the formula the paper
    states: alpha*dL + beta*|dA| when dA >= 0, else alpha*dL - gamma*|dA|. ``"printed"`` is how
    the paper's printed Table 2 was computed: alpha*dL + beta*|dA| on both branches, so an
    accuracy drop is rewarded instead of penalised."""
    if variant not in AES_VARIANTS:
        raise ValueError(f"unknown AES variant {variant!r}; choose one of {', '.join(AES_VARIANTS)}")
    if base_len <= 0 or base_acc <= 0:
        raise ValueError(f"AES needs a positive baseline accuracy and length (got {base_acc}, {base_len})")
    d_len = (base_len - length) / base_len
    d_acc = (acc - base_acc) / base_acc
    if d_acc >= 0 or variant == "printed":
        return alpha * d_len + beta * abs(d_acc)
    return alpha * d_len - gamma * abs(d_acc)


def aes_description(variant: str = "paper", *, alpha: float = 1.0, beta: float = 3.0, gamma: float = 5.0) -> str:
    """One sentence naming the AES variant, its formula and constants (printed under tables)."""
    if variant not in AES_VARIANTS:
        raise ValueError(f"unknown AES variant {variant!r}; choose one of {', '.join(AES_VARIANTS)}")
    head = (f"AES variant '{variant}' (alpha={alpha:g}, beta={beta:g}, gamma={gamma:g}); "
            "dL = (L_base - L)/L_base, dA = (A - A_base)/A_base; ")
    if variant == "paper":
        body = ("AES = alpha*dL + beta*|dA| if dA >= 0, else alpha*dL - gamma*|dA| "
                "(the formula stated in the paper).")
    else:
        body = ("AES = alpha*dL + beta*|dA| on both branches "
                "(how the paper's printed Table 2 was computed; accuracy drops are not penalised).")
    return head + body + " The average AES is the mean of the per-dataset AES values."


# --- paired bootstrap against the baseline --------------------------------------------------


def _per_problem(records: Sequence[SampleRecord]) -> dict[str, tuple[float, float]]:
    """problem_id -> (mean correctness, mean tokens) over that problem's samples."""
    return {p: (statistics.fmean(float(r.correct) for r in rs), statistics.fmean(float(r.n_tokens) for r in rs))
            for p, rs in by_problem(records).items()}


def bootstrap_diff(
    base: Sequence[SampleRecord],
    other: Sequence[SampleRecord],
    *,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> dict:
    """Paired bootstrap interval for ``other - base`` in accuracy and mean length.

    Pairs by problem_id (problems present in both; several samples of a problem are averaged
    first), resamples problems with replacement ``n_boot`` times with a seeded generator and
    returns percentile intervals. Accuracy differences are fractions (0.02 = +2 points)."""
    import numpy as np

    b, o = _per_problem(base), _per_problem(other)
    common = sorted(set(b) & set(o))
    out = {"n_problems": len(common), "n_boot": n_boot, "seed": seed, "level": level}
    if not common:
        nan = float("nan")
        return out | {k: nan for k in ("acc_diff", "acc_lo", "acc_hi", "len_diff", "len_lo", "len_hi")}
    d_acc = np.array([o[p][0] - b[p][0] for p in common])
    d_len = np.array([o[p][1] - b[p][1] for p in common])
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(common), size=(n_boot, len(common)))
    lo_q, hi_q = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    boot_acc, boot_len = d_acc[idx].mean(axis=1), d_len[idx].mean(axis=1)
    return out | {
        "acc_diff": float(d_acc.mean()),
        "acc_lo": float(np.percentile(boot_acc, lo_q)),
        "acc_hi": float(np.percentile(boot_acc, hi_q)),
        "len_diff": float(d_len.mean()),
        "len_lo": float(np.percentile(boot_len, lo_q)),
        "len_hi": float(np.percentile(boot_len, hi_q)),
    }
