"""JSONL sample store: append-only, resumable, atomic per line.

A run killed half-way leaves at most one half-written last line; it is never read as a
result and is cut off before the next append."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Iterable, Iterator

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

    @property
    def key(self) -> tuple[str, int]:
        return (self.problem_id, self.sample_idx)

    @classmethod
    def from_dict(cls, d: dict) -> "SampleRecord":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


class RecordStore:
    """Records of one task in ``path`` (``samples.jsonl``)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def load(self) -> list[SampleRecord]:
        """Every complete record, first copy of each key (a torn last line is skipped)."""
        if not self.path.exists():
            return []
        out, seen = [], set()
        data = self.path.read_bytes()
        lines = data.split(b"\n")
        complete = lines[:-1]  # the part after the last newline is torn (or empty)
        for lineno, raw in enumerate(complete, 1):
            if not raw.strip():
                continue
            try:
                rec = SampleRecord.from_dict(json.loads(raw))
            except (ValueError, TypeError) as e:
                raise UserError(f"{self.path}:{lineno}: corrupt sample record ({e})") from None
            if rec.key not in seen:
                seen.add(rec.key)
                out.append(rec)
        return out

    def append(self, records: Iterable[SampleRecord]) -> None:
        """Append records in one write, after cutting off a torn last line; fsync'd."""
        payload = b"".join(json.dumps(asdict(r)).encode() + b"\n" for r in records)
        if not payload:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "ab+") as f:
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


def write_json_atomic(path: str | os.PathLike, obj) -> None:
    """Write JSON through a temporary file and a rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
