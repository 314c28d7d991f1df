"""What a grading returns (``Grade``), the grading families, and a benchmark's family."""

from __future__ import annotations

from dataclasses import dataclass

FAMILIES = ("gsm8k", "math", "gaokao", "toy")
NUMERIC_FAMILIES = ("gsm8k", "toy")  # integer gold answers, compared as numbers first
MAX_ANSWER = 1000  # longer extracted answers are not parsed ("parse_error") and are returned cut to this
REASONS = ("no_answer", "no_gold", "timeout", "parse_error", "mismatch")


@dataclass(frozen=True)
class Grade:
    correct: bool
    extracted: str | None  # None = the output has no final answer ("no answer" is a value)
    reason: str | None = None  # one of REASONS; None if correct


def family(benchmark: str) -> str:
    """Grading family ("gsm8k" | "math" | "gaokao" | "toy") of a benchmark or family name; an
    unknown name raises ``UserError``.  The benchmark registry is read only for a benchmark name."""
    if benchmark in FAMILIES:
        return benchmark
    from ..benchmarks import get

    return get(benchmark).family


def cap(s: str | None) -> str | None:
    """An extracted answer as a Grade carries it: at most ``MAX_ANSWER`` characters."""
    return s if s is None else s[:MAX_ANSWER]
