"""JSONL sample store: append-only, resumable, atomic per line.

A run killed half-way leaves at most one half-written last line; it is never read as a
result and is cut off before the next append."""

from __future__ import annotations

import errno
import json
import math
import os
import reprlib
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from statistics import fmean
from typing import Callable, Collection, Hashable, Iterable, Iterator, Sequence

from .errors import UserError


@dataclass
class SampleRecord:
    problem_id: str
    sample_idx: int
    benchmark: str
    prompt: list  # chat messages
    output: str
    n_tokens: int
    finish_reason: str
    latency_s: float
    extracted: str | None
    correct: bool
    reason: str | None  # why not correct ("no_answer", "timeout", ...); None when correct
    gold: str
    wall_share_s: float = 0.0  # this sample's share of its generation batch's wall time (sums to the total)
    token_ids: list[int] | None = field(default=None)  # kept by presampling for exact training
    # Two-stage generation (budget forcing): generated tokens and latency per stage, the forced text's tokens.
    stage_tokens: list[int] | None = None
    stage_latency_s: list[float] | None = None
    forced_tokens: int = 0

    @property
    def key(self) -> tuple[str, int]:
        return (self.problem_id, self.sample_idx)

    @classmethod
    def from_dict(cls, d: dict) -> "SampleRecord":
        """A record from its JSON object; a ValueError "field: what is wrong" for a missing or
        unknown field, a wrong type or a value out of range."""
        names = {f.name for f in fields(cls)}
        required = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
        for key in d:
            if key not in names:
                raise ValueError(f"{key}: unknown field")
        for key in sorted(required - d.keys()):
            raise ValueError(f"{key}: missing")
        for key, value in d.items():
            ok, want = FIELD_CHECKS[key]
            if not ok(value):
                raise ValueError(f"{key}: must be {want}, got {reprlib.repr(value)}")
        if d.get("token_ids") is not None and len(d["token_ids"]) != d["n_tokens"]:
            raise ValueError(f"token_ids: {len(d['token_ids'])} ids for n_tokens {d['n_tokens']}")
        if d.get("stage_tokens") is not None and sum(d["stage_tokens"]) != d["n_tokens"]:
            raise ValueError(f"stage_tokens: {d['stage_tokens']} does not add up to n_tokens {d['n_tokens']}")
        return cls(**d)


def by_problem(records: Iterable, key: Callable[..., Hashable] = lambda r: r.problem_id) -> dict[Hashable, list]:
    """``records`` grouped by problem id (or by ``key``): the groups in the order their first record
    comes, each holding its records in their order."""
    groups: dict = {}
    for r in records:
        groups.setdefault(key(r), []).append(r)
    return groups


def reference_stats(records: Sequence[SampleRecord]) -> dict[str, dict]:
    """The O1-Pruner reference statistics (paper Eq. 3) per problem over its samples:
    {"L_ref": mean tokens, "A_ref": mean accuracy, "k": samples}."""
    return {pid: {"L_ref": fmean(r.n_tokens for r in rs), "A_ref": fmean(float(r.correct) for r in rs), "k": len(rs)}
            for pid, rs in by_problem(records).items()}


def _int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v, low: float = 0.0) -> bool:
    """A finite int or float (not a bool) >= ``low``."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= low


def _opt_str(v) -> bool:
    return v is None or isinstance(v, str)


FIELD_CHECKS = {  # field: (test, what it must be)
    "problem_id": (lambda v: isinstance(v, str) and v != "", "a non-empty string"),
    "sample_idx": (lambda v: _int(v) and v >= 0, "an integer >= 0"),
    "benchmark": (lambda v: isinstance(v, str) and v != "", "a non-empty string"),
    "prompt": (lambda v: isinstance(v, list) and all(isinstance(m, dict) for m in v), "a list of messages"),
    "output": (lambda v: isinstance(v, str), "a string"),
    "n_tokens": (lambda v: _int(v) and v >= 0, "an integer >= 0"),
    "finish_reason": (lambda v: v in ("stop", "length"), "'stop' or 'length'"),
    "latency_s": (is_number, "a finite number >= 0"),
    "extracted": (_opt_str, "a string or null"),
    "correct": (lambda v: isinstance(v, bool), "true or false"),
    "reason": (_opt_str, "a string or null"),
    "gold": (lambda v: isinstance(v, str), "a string"),
    "wall_share_s": (is_number, "a finite number >= 0"),
    "token_ids": (lambda v: v is None or isinstance(v, list) and all(_int(i) and i >= 0 for i in v),
                  "null or a list of integers >= 0"),
    "stage_tokens": (lambda v: v is None or isinstance(v, list) and 0 < len(v) <= 2 and all(_int(i) and i >= 0 for i in v),
                     "null or a list of 1-2 integers >= 0"),
    "stage_latency_s": (lambda v: v is None or isinstance(v, list) and 0 < len(v) <= 2 and all(is_number(x) for x in v),
                        "null or a list of 1-2 numbers >= 0"),
    "forced_tokens": (lambda v: _int(v) and v >= 0, "an integer >= 0"),
}

UNSET_DROPPED = {"stage_tokens": None, "stage_latency_s": None, "forced_tokens": 0}  # not written when unset


def record_json(r: SampleRecord) -> dict:
    """The JSON object of a record; the two-stage fields only where generation had stages."""
    d = asdict(r)
    return {k: v for k, v in d.items() if k not in UNSET_DROPPED or v != UNSET_DROPPED[k]}


def _no_duplicate_keys(pairs: list) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise ValueError(f"{dup}: duplicate key")
    return obj


def loads_strict(raw: str | bytes):
    """JSON with every object's keys unique (a duplicate is a ValueError naming the key)."""
    return json.loads(raw, object_pairs_hook=_no_duplicate_keys)


def read_json_object(path: Path) -> dict:
    """A JSON file holding one object (keys unique); anything else is a UserError naming the file."""
    try:
        obj = loads_strict(Path(path).read_bytes())
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: not a readable JSON file ({e})") from None
    if not isinstance(obj, dict):
        raise UserError(f"{path}: expected a JSON object")
    return obj


class RecordStore:
    """Records of one task in ``path`` (``samples.jsonl``)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def load(self, problem_ids: Collection[str] | None = None, n: int | None = None) -> list[SampleRecord]:
        """Every complete record, first copy of each key (a torn last line is skipped).  Each is
        checked (``SampleRecord.from_dict``) and, when given, its problem against ``problem_ids``
        and its sample index against ``n`` samples per problem; a bad one is a UserError naming
        ``FILE:LINE: field``."""
        if not self.path.exists():
            return []
        out, seen = [], set()
        data = self.path.read_bytes()
        lines = data.split(b"\n")
        complete = lines[:-1]  # the part after the last newline is torn (or empty)
        for lineno, raw in enumerate(complete, 1):
            if not raw.strip():
                continue
            where = f"{self.path}:{lineno}"
            try:
                obj = loads_strict(raw)
            except json.JSONDecodeError as e:
                raise UserError(f"{where}: corrupt sample record ({e})") from None
            except ValueError as e:  # a duplicate key
                raise UserError(f"{where}: {e}") from None
            if not isinstance(obj, dict):
                raise UserError(f"{where}: corrupt sample record (not a JSON object)")
            try:
                rec = SampleRecord.from_dict(obj)
            except ValueError as e:
                raise UserError(f"{where}: {e}") from None
            if problem_ids is not None and rec.problem_id not in problem_ids:
                raise UserError(f"{where}: problem_id: {reprlib.repr(rec.problem_id)} is not a problem of this run")
            if n is not None and rec.sample_idx >= n:
                raise UserError(f"{where}: sample_idx: {rec.sample_idx} out of range ({n} per problem)")
            if rec.key not in seen:
                seen.add(rec.key)
                out.append(rec)
        return out

    def append(self, records: Iterable[SampleRecord]) -> None:
        """Append records in one write, after cutting off a torn last line; fsync'd."""
        payload = b"".join(json.dumps(record_json(r)).encode() + b"\n" for r in records)
        if not payload:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:  # never through a symlink: records would land wherever it points
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise UserError(f"{self.path}: is a symbolic link; pruneeval writes only its own regular files "
                                "(remove the link)") from None
            raise
        with open(fd, "rb+") as f:
            _cut_torn_tail(f)
            f.seek(0, os.SEEK_END)
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())


def iter_jsonl(path: str | os.PathLike) -> Iterator[tuple[str, dict]]:
    """``("FILE:LINE", object)`` for each non-blank line of a JSONL file; a bad line is a UserError
    naming FILE:LINE (invalid UTF-8, malformed JSON, not an object)."""
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            where = f"{path}:{lineno}"
            if not raw.strip():
                continue
            try:
                row = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                raise UserError(f"{where}: invalid UTF-8") from None
            except json.JSONDecodeError as e:
                raise UserError(f"{where}: malformed JSON ({e.msg})") from None
            if not isinstance(row, dict):
                raise UserError(f"{where}: expected a JSON object, got {type(row).__name__}")
            yield where, row


def _cut_torn_tail(f) -> None:
    """Truncate ``f`` after its last newline (a line torn by a kill is dropped)."""
    end = pos = f.seek(0, os.SEEK_END)
    while pos > 0:
        step = min(1 << 16, pos)
        pos -= step
        f.seek(pos)
        block = f.read(step)
        if pos + step == end and block.endswith(b"\n"):
            return
        cut = block.rfind(b"\n")
        if cut >= 0:
            f.truncate(pos + cut + 1)
            return
    f.truncate(0)


def write_atomic(path: str | os.PathLike, data: str | bytes) -> None:
    """Write ``data`` through a temporary file in the same directory, fsync'd, then a rename:
    readers (and a run killed part-way) see the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        with open(tmp, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def write_json_atomic(path: str | os.PathLike, obj) -> None:
    """Write JSON atomically (``write_atomic``)."""
    write_atomic(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
