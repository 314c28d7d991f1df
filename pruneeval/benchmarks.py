"""Problem records, the benchmark registry and its loaders (local JSONL dir or the HF hub).

Gold answers follow shared/data/SOURCES.md: GSM8K after ``####`` with commas stripped;
MATH the last ``\\boxed{}`` (brace matched); MATH500 its ``answer``; GaoKao its ``answer``
without ``$``.  Every problem gets a stable id that does not depend on where it was loaded from.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .errors import UserError
from .records import iter_jsonl


@dataclass(frozen=True)
class Problem:
    id: str
    benchmark: str
    question: str
    gold: str
    meta: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Benchmark:
    """One registry row.  ``family`` picks the grading rules (gsm8k, math, gaokao, toy)."""

    name: str
    family: str
    local: str = ""  # path under the data dir, e.g. "gsm8k/test.jsonl"
    hub: tuple = ()  # (repo, configs, split)
    question_field: str = "problem"
    gold_from: str = "answer"  # "gsm8k" | "boxed" | "answer" | "gaokao"
    ids_file: str = ""  # optional JSON list of ids selecting a subset (under the data dir)
    loader: str = ""  # "module:function" for generated benchmarks (the toy world)


MATH_SUBJECTS = ("algebra", "counting_and_probability", "geometry", "intermediate_algebra",
                 "number_theory", "prealgebra", "precalculus")

BENCHMARKS: dict[str, Benchmark] = {b.name: b for b in [
    Benchmark("gsm8k", "gsm8k", "gsm8k/test.jsonl", ("openai/gsm8k", ("main",), "test"), "question", "gsm8k"),
    Benchmark("gsm8k_train", "gsm8k", "gsm8k/train.jsonl", ("openai/gsm8k", ("main",), "train"), "question", "gsm8k"),
    Benchmark("math", "math", "math500/test.jsonl", ("HuggingFaceH4/MATH-500", (None,), "test"), "problem", "answer"),
    Benchmark("math_o1pruner", "math", "math500/test.jsonl", ("HuggingFaceH4/MATH-500", (None,), "test"), "problem",
              "answer", ids_file="math500/o1pruner_458_ids.json"),
    Benchmark("math_full", "math", "math/test.jsonl", ("EleutherAI/hendrycks_math", MATH_SUBJECTS, "test"), "problem", "boxed"),
    Benchmark("math_train", "math", "math/train.jsonl", ("EleutherAI/hendrycks_math", MATH_SUBJECTS, "train"), "problem", "boxed"),
    Benchmark("gaokao", "gaokao", "gaokao2023en/test.jsonl", ("MARIO-Math-Reasoning/Gaokao2023-Math-En", (None,), "train"),
              "question", "gaokao"),
    Benchmark("toy", "toy", loader="pruneeval.toy.world:load_test"),
    Benchmark("toy_train", "toy", loader="pruneeval.toy.world:load_train"),
]}

# The paper's 458 ids are needed even when problems come from the hub; they ship with the data dir.
DATA_DIR_ENV = "PRUNEEVAL_DATA_DIR"


def get(name: str) -> Benchmark:
    try:
        return BENCHMARKS[name]
    except KeyError:
        raise UserError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}") from None


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path | None:
    d = data_dir or os.environ.get(DATA_DIR_ENV)
    if not d:
        return None
    p = Path(d).expanduser()
    if not p.is_dir():
        raise UserError(f"data dir {p} does not exist (from {'--data-dir' if data_dir else DATA_DIR_ENV})")
    return p


def check_available(names: list[str], data_dir: str | os.PathLike | None = None) -> None:
    """Fail now (before a model loads) when a benchmark's file in the data dir is missing or bad
    (a malformed row, a duplicate id): local files are read whole."""
    d = resolve_data_dir(data_dir)
    for b in map(get, names):
        if d and not b.loader:
            load(b.name, d)


def load(name: str, data_dir: str | os.PathLike | None = None, limit: int | None = None) -> list[Problem]:
    """Load benchmark ``name``: generated, from ``data_dir`` (or $PRUNEEVAL_DATA_DIR), else the hub."""
    b = get(name)
    if b.loader:
        mod, fn = b.loader.split(":")
        problems = getattr(importlib.import_module(mod), fn)()
    else:
        d = resolve_data_dir(data_dir)
        rows = iter_jsonl(_local_file(d, b)) if d else _read_hub(b)
        problems = _to_problems(b, rows)
        if b.ids_file:
            problems = _select_ids(problems, d, b.ids_file)
    return problems[:limit] if limit else problems


def _local_file(d: Path, b: Benchmark) -> Path:
    path = d / b.local
    if not path.is_file():
        raise UserError(f"{path}: benchmark file not found (is the data dir laid out like shared/data?)")
    return path


def _read_hub(b: Benchmark) -> Iterator[tuple[str, dict]]:
    import datasets  # heavy; only when no local data dir is given

    repo, configs, split = b.hub
    for config in configs:
        ds = datasets.load_dataset(repo, config, split=split)
        for i, row in enumerate(ds):
            yield f"{repo}[{config or 'default'}/{split}]:{i}", dict(row)


def _field(row: dict, key: str, where: str) -> str:
    v = row.get(key)
    if not isinstance(v, str) or not v.strip():
        raise UserError(f"{where}: missing or empty field {key!r}")
    return v


def _gold(b: Benchmark, row: dict, where: str) -> str:
    from .boxed import last_boxed

    if b.gold_from == "gsm8k":
        ans = _field(row, "answer", where)
        if "####" not in ans:
            raise UserError(f"{where}: field 'answer' has no '####' final answer")
        return ans.rsplit("####", 1)[1].strip().replace(",", "")
    if b.gold_from == "boxed":
        boxed = last_boxed(_field(row, "solution", where))
        if boxed is None:
            raise UserError(f"{where}: field 'solution' has no closed \\boxed{{}} answer")
        return boxed
    if b.gold_from == "gaokao":
        # Two GaoKao2023-Math-En records (HMMT2023General_9, 052023SATS4_11) ship an empty answer:
        # they are kept (the set has 385 problems) with gold "" and graded as "no_gold".
        if not isinstance(row.get("answer"), str):
            raise UserError(f"{where}: missing field 'answer'")
        return row["answer"].replace("$", "").strip()
    return _field(row, "answer", where).strip()


def _given_id(row: dict) -> str | None:
    for key in ("unique_id", "id"):
        if isinstance(row.get(key), str) and row[key]:
            return row[key]
    return None


def _to_problems(b: Benchmark, rows) -> list[Problem]:
    """Problems with unique ids: a row's own id (``unique_id`` / ``id``), else a hash of its
    question.  Two rows giving one id are refused, naming both; a repeated question without an id
    gets ``-N`` added, skipping every id taken in the file."""
    parsed = []
    for where, row in rows:
        q = _field(row, b.question_field, where)
        meta = {k: row[k] for k in ("level", "type", "subject", "source") if k in row}
        parsed.append((where, _given_id(row), q, _gold(b, row, where), meta))
    given: dict[str, str] = {}
    for where, pid, *_ in parsed:
        if pid is not None and given.setdefault(pid, where) != where:
            raise UserError(f"{where}: problem id {pid!r} also at {given[pid]}; ids must be unique")
    taken, out = set(given), []
    for where, pid, q, gold, meta in parsed:
        if pid is None:
            base = pid = hashlib.sha1(q.strip().encode()).hexdigest()[:16]
            n = 0
            while pid in taken:  # a repeated question: keep both, deterministically
                n += 1
                pid = f"{base}-{n}"
            taken.add(pid)
        out.append(Problem(pid, b.name, q, gold, meta))
    return out


def _select_ids(problems: list[Problem], data_dir: Path | None, ids_file: str) -> list[Problem]:
    if data_dir is None:
        raise UserError(f"the {ids_file} id list ships with the data dir; pass --data-dir or set {DATA_DIR_ENV}")
    path = data_dir / ids_file
    try:
        ids = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise UserError(f"{path}: cannot read id list ({e})") from None
    by_id = {p.id: p for p in problems}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise UserError(f"{path}: {len(missing)} ids not in the benchmark, e.g. {missing[0]!r}")
    return [by_id[i] for i in ids]


def dataset_hash(problems: list[Problem]) -> str:
    """A short hash of the ids, questions and gold answers: recorded in every manifest."""
    h = hashlib.sha256()
    for p in problems:
        h.update(json.dumps([p.id, p.question, p.gold]).encode())
    return h.hexdigest()[:16]


