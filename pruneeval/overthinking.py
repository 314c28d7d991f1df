"""Overthinking metrics of graded outputs, from the answers they state on the way: no generation, no
judge model.

Per output (``measure``): its candidate answers (``grading.candidates``: every ``\\boxed{}``, every
"the answer is X" / "**Answer:** X", every conclusion of a solution round), each distinct one graded
against the gold by ``grade_many`` exactly as the final answer is; the position of the first correct
one (where its answer ends), the length after it, and the solution rounds (``candidates.rounds``).
At most ``MAX_GRADED`` distinct answers are graded per output, the first ones in the text (a later
answer equal to a graded one shares its grade; one past the cap counts as wrong); a candidate equal to
the answer already extracted from a graded record takes that record's grade.

Over outputs (``aggregate``): only outputs whose final answer is correct give a position, the
tokens after it and the outcome efficiency of Chen et al. 2024 ("Do NOT Think That Much for 2+3=?
On the Overthinking of o1-Like LLMs", arXiv:2412.21187): tokens up to the first correct answer over
all tokens, averaged over those outputs.  Chen et al. average over all N outputs, counting 0 for one
that never states a correct answer: that is ``efficiency_all``.  A correct final answer that no
candidate covers (read from a closing sentence or a last number) is placed at the output's end.

Positions are in ``unit``: "tokens" when a token counter is given (the output's prefix up to the
answer is tokenized; the total is the whole output tokenized), else "tokens (estimated from
characters)" when every output's ``n_tokens`` is known (n_tokens x characters before / characters),
else "characters"."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Callable, Sequence

from .grading import grade_many
from .grading.candidates import candidates, round_of
from .grading.equivalence import gold_choice, gold_word
from .grading.extract import as_text, count_parts
from .grading.verdict import NUMERIC_FAMILIES, family

MAX_GRADED = 32  # distinct candidate answers graded per output
UNITS = ("tokens", "tokens (estimated from characters)", "characters")


@dataclass(frozen=True)
class Item:
    """One output to measure.  ``correct`` / ``extracted``: the final answer's grade when known
    (a record), None to grade it here."""

    output: str
    gold: str
    benchmark: str
    n_tokens: int | None = None
    finish_reason: str | None = None
    correct: bool | None = None
    extracted: str | None = None


@dataclass(frozen=True)
class Measure:
    total: float  # the output's length
    first_correct: float | None  # where the first correct answer ends; None: no correct answer stated
    rounds: int  # solution rounds (distinct candidate positions)
    rounds_to_first_correct: int | None  # the round of the first correct answer, counted from 1
    correct: bool  # the final answer
    no_final_answer: bool
    n_candidates: int


def unit_of(items: Sequence[Item], count: Callable[[str], int] | None) -> str:
    if count is not None:
        return UNITS[0]
    return UNITS[1] if all(it.n_tokens is not None for it in items) else UNITS[2]


def _settings(item: Item) -> tuple[int, bool]:
    """(gold parts, answer in words) as the extractor takes them for this gold."""
    fam = family(item.benchmark)
    words = fam not in NUMERIC_FAMILIES and gold_choice(item.gold) is None and gold_word(item.gold) is not None
    return count_parts(item.gold), words


def measure(items: Sequence[Item], count: Callable[[str], int] | None = None,
            workers: int | None = None) -> list[Measure]:
    """The metrics of each item (module docstring); ``count`` tokenizes a text into a token count."""
    unit = unit_of(items, count)
    found = [candidates(it.output, *_settings(it), toy=family(it.benchmark) == "toy") for it in items]
    batch: list[tuple[str, str, str]] = []
    finish: list[str | None] = []
    index: dict[tuple, int] = {}  # ("answer", answer, gold, benchmark) or ("final", item) -> its place in batch

    def add(key: tuple, output: str, it: Item, finish_reason: str | None) -> None:
        if key not in index:
            index[key] = len(batch)
            batch.append((output, it.gold, it.benchmark))
            finish.append(finish_reason)

    for i, (it, cands) in enumerate(zip(items, found)):
        if it.correct is None:
            add(("final", i), it.output, it, it.finish_reason)
        known = it.extracted if it.correct is not None else None  # graded with the record
        for a in [a for a in dict.fromkeys(c.answer for c in cands) if a != known][:MAX_GRADED]:
            add(("answer", a, it.gold, it.benchmark), f"\\boxed{{{a}}}", it, "stop")
    grades = grade_many(batch, workers, finish_reasons=finish)
    graded = {k: grades[v] for k, v in index.items()}
    return [_one(it, cands, graded.get(("final", i)), graded, unit, count)
            for i, (it, cands) in enumerate(zip(items, found))]


def _one(it: Item, cands, final, graded: dict, unit: str, count) -> Measure:
    correct = final.correct if final is not None else bool(it.correct)
    extracted = final.extracted if final is not None else it.extracted
    text = as_text(it.output)

    def is_correct(answer: str) -> bool:
        if answer == extracted and final is None:
            return correct
        g = graded.get(("answer", answer, it.gold, it.benchmark))
        return g is not None and g.correct

    def position(chars: int) -> float:
        if unit == UNITS[0]:
            return float(count(text[:chars]))
        return it.n_tokens * chars / len(text) if unit == UNITS[1] and text else float(chars)

    total = float(count(text)) if unit == UNITS[0] else float(it.n_tokens if unit == UNITS[1] else len(text))
    rounds = round_of(text, cands)
    first = next((i for i, c in enumerate(cands) if is_correct(c.answer)), None)
    if first is not None:
        pos, rnd = min(position(cands[first].end), total), rounds[first] + 1
    elif correct:  # a final answer no candidate covers: at the output's end, in its last round
        pos, rnd = total, len(set(rounds))
    else:
        pos, rnd = None, None
    return Measure(total, pos, len(set(rounds)), rnd, correct, extracted is None, len(cands))


def _mean(xs: list[float]) -> float | None:
    return statistics.fmean(xs) if xs else None


def aggregate(ms: Sequence[Measure], unit: str) -> dict:
    """The metrics over outputs (module docstring); means are None where no output gives one."""
    right = [m for m in ms if m.correct and m.total > 0]
    reached = [m for m in ms if m.first_correct is not None and m.total > 0]
    return {
        "unit": unit,
        "n": len(ms),
        "n_correct": sum(m.correct for m in ms),
        "mean_length": _mean([m.total for m in ms]),
        "mean_length_correct": _mean([m.total for m in right]),
        "first_correct": _mean([m.first_correct for m in right]),
        "after_first_correct": _mean([m.total - m.first_correct for m in right]),
        "efficiency": _mean([m.first_correct / m.total for m in right]),
        "efficiency_all": sum(m.first_correct / m.total for m in reached) / len(ms) if ms else None,
        "rounds": _mean([m.rounds for m in ms]),
        "rounds_after_first_correct": _mean([m.rounds - m.rounds_to_first_correct for m in right]),
        "correct_then_wrong": sum(m.first_correct is not None and not m.correct for m in ms),
        "correct_then_no_answer": sum(m.first_correct is not None and not m.correct and m.no_final_answer for m in ms),
        "no_candidate": sum(m.n_candidates == 0 for m in ms),
        "max_graded": MAX_GRADED,
    }


def from_records(records) -> list[Item]:
    """Items of graded sample records (their final grade reused)."""
    return [Item(r.output, r.gold, r.benchmark, r.n_tokens, r.finish_reason, r.correct, r.extracted) for r in records]


def summarize_overthinking(records, count: Callable[[str], int] | None = None, workers: int | None = None) -> dict:
    """The ``overthinking`` block of summary.json: ``aggregate`` over the records."""
    items = from_records(records)
    return aggregate(measure(items, count, workers), unit_of(items, count))
