"""The toy long-thought world: seeded arithmetic problems with long-thought style solutions.

A problem is a chain of 2-5 operands joined by ``+``/``-`` whose operands and running totals
all stay in 0-19 (larger numbers made the tiny model's arithmetic shaky).  A solution has one
line per step, a 10% chance per step of a slip followed by ``Wait, that's wrong.`` and the right
line, then 0-3 redundant re-check blocks drawn uniformly, then the answer in ``\\boxed{}``:
about 2.5x the length of the plain solution, so a model trained on it has room to prune.

Train and test are split by a hash of the question text, so they never share a problem.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Iterator

from ..benchmarks import Problem

MAX_VALUE = 19
MIN_OPERANDS, MAX_OPERANDS = 2, 5
SLIP_P = 0.1
MAX_RECHECKS = 3
TEST_BUCKETS = 5  # one question in five (by hash) belongs to the test split
TEST_SIZE, TRAIN_SIZE = 400, 4000
TEST_SEED, TRAIN_SEED = 1, 2
FORMAT_VERSION = 3  # bump when the text format changes: the toy model's cache key includes it
# The prompt the toy reasoner is trained with (no system turn, the bare question), and so the one
# the toy preset (presets/toy.yaml) must use; changing it changes the weights: bump build.BUILD_VERSION.
SYSTEM_PROMPT = ""
USER_TEMPLATE = "{question}"


@dataclass(frozen=True)
class Chain:
    """One problem: the operands and the operators between them."""

    operands: tuple[int, ...]
    ops: tuple[str, ...]

    @property
    def question(self) -> str:
        parts = [str(self.operands[0])]
        for op, x in zip(self.ops, self.operands[1:]):
            parts += [op, str(x)]
        return " ".join(parts) + " = ?"

    def totals(self) -> list[int]:
        """The running total after each operand."""
        out = [self.operands[0]]
        for op, x in zip(self.ops, self.operands[1:]):
            out.append(out[-1] + x if op == "+" else out[-1] - x)
        return out

    @property
    def answer(self) -> int:
        return self.totals()[-1]


def random_chain(rng: random.Random, n_operands: int | None = None) -> Chain:
    """A chain with every operand and running total in 0..MAX_VALUE."""
    n = n_operands or rng.randint(MIN_OPERANDS, MAX_OPERANDS)
    total = rng.randint(0, MAX_VALUE)
    operands, ops = [total], []
    for _ in range(n - 1):
        op = rng.choice("+-")
        x = rng.randint(0, MAX_VALUE - total) if op == "+" else rng.randint(0, total)
        total = total + x if op == "+" else total - x
        operands.append(x)
        ops.append(op)
    return Chain(tuple(operands), tuple(ops))


def parse(question: str) -> Chain:
    """The chain back from its question text (``"7 + 5 - 3 = ?"``)."""
    tokens = question.removesuffix(" = ?").split()
    return Chain(tuple(int(t) for t in tokens[::2]), tuple(tokens[1::2]))


def is_test(question: str) -> bool:
    """The split: a stable hash of the question text."""
    return int(hashlib.sha256(question.encode()).hexdigest(), 16) % TEST_BUCKETS == 0


def _steps(chain: Chain) -> list[tuple[str, int]]:
    """(``"a op b ="``, result) per step."""
    totals = chain.totals()
    return [(f"{totals[i]} {op} {x} =", totals[i + 1])
            for i, (op, x) in enumerate(zip(chain.ops, chain.operands[1:]))]


def plain_solution(chain: Chain) -> str:
    """The solution with no slips and no re-checks: the length a pruned model could reach."""
    return solution(chain, random.Random(0), slip_p=0.0, rechecks=0)


def solution(chain: Chain, rng: random.Random, slip_p: float = SLIP_P, rechecks: int | None = None) -> str:
    """A long-thought solution: steps (with occasional corrected slips), re-checks, boxed answer."""
    lines = []
    steps = _steps(chain)
    for i, (lhs, value) in enumerate(steps, 1):
        if rng.random() < slip_p:
            wrong = rng.choice([v for v in range(max(0, value - 3), min(MAX_VALUE, value + 3) + 1) if v != value])
            lines += [f"Step {i}: {lhs} {wrong}", "Wait, that's wrong."]
        lines.append(f"Step {i}: {lhs} {value}")
    n_checks = rng.randint(0, MAX_RECHECKS) if rechecks is None else rechecks
    for _ in range(n_checks):
        lines.append("Wait, let me verify: " + ", ".join(f"{lhs} {v}" for lhs, v in steps) + ". Correct.")
    lines.append(f"\\boxed{{{chain.answer}}}")
    return "\n".join(lines)


def _chains(seed: int, test: bool) -> Iterator[Chain]:
    """An endless seeded stream of chains from one split (repeats possible)."""
    rng = random.Random(seed)
    while True:
        chain = random_chain(rng)
        if is_test(chain.question) == test:
            yield chain


def _problems(seed: int, test: bool, size: int, benchmark: str) -> list[Problem]:
    out, seen = [], set()
    for chain in _chains(seed, test):
        q = chain.question
        if q in seen:
            continue
        seen.add(q)
        pid = f"{benchmark}-{hashlib.sha1(q.encode()).hexdigest()[:10]}"
        meta = {"difficulty": len(chain.operands), "plain_solution": plain_solution(chain)}
        out.append(Problem(pid, benchmark, q, str(chain.answer), meta))
        if len(out) == size:
            return out
    raise AssertionError("unreachable")


def load_test() -> list[Problem]:
    """The toy test set: 400 distinct problems (benchmark ``toy``)."""
    return _problems(TEST_SEED, True, TEST_SIZE, "toy")


def load_train() -> list[Problem]:
    """The toy training problems: 4,000 distinct problems (benchmark ``toy_train``), none in the test set."""
    return _problems(TRAIN_SEED, False, TRAIN_SIZE, "toy_train")


def traces(seed: int, n: int) -> Iterator[tuple[str, str]]:
    """``n`` freshly drawn (question, long-thought solution) pairs from the train split."""
    rng = random.Random(seed + 1000)
    chains = _chains(seed, False)
    for _ in range(n):
        chain = next(chains)
        yield chain.question, solution(chain, rng)
