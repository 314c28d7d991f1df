"""JSONL sample store: append-only, resumable, atomic per line.

A run killed half-way leaves at most one half-written last line; it is never read as a
result and is cut off before the next append."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Iterable

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
        payload = b"".join(json.dumps(asdict(r), ensure_ascii=False).encode() + b"\n" for r in records)
        if not payload:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "ab+") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            if size:
                f.seek(max(0, size - 65536))
                tail = f.read()
                if not tail.endswith(b"\n"):
                    cut = tail.rfind(b"\n")
                    keep = size - len(tail) + cut + 1 if cut >= 0 else (0 if size <= 65536 else None)
                    if keep is None:  # torn line longer than the window: find its start
                        f.seek(0)
                        keep = f.read().rfind(b"\n") + 1
                    f.truncate(keep)
            f.seek(0, os.SEEK_END)
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())


def write_json_atomic(path: str | os.PathLike, obj) -> None:
    """Write JSON through a temporary file and a rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
