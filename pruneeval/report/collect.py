"""Find and load evaluation results: ``<task>/summary.json`` (+ ``samples.jsonl``) under eval
and run directories. One Entry per (base model, method, dataset).

Reports name their sources with ``source_name``: the directory given to the report and the path
under it (``runall/eval/o1pruner/toy_len``), never an absolute path of the machine that wrote them."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..errors import UserError
from ..records import RecordStore, SampleRecord

TASK_SUFFIX = "_len"


@dataclass
class Entry:
    """One evaluated task: the summary.json of ``task_dir`` and, lazily, its sample records."""

    model: str  # manifest["model_name"]: the base model / preset name
    method: str  # manifest["method"], "baseline" when absent
    task: str  # e.g. "gsm8k_len"
    summary: dict
    task_dir: Path
    source: str = ""  # task_dir as reports name it (``source_name``)
    _records: list[SampleRecord] | None = field(default=None, repr=False)

    @property
    def dataset(self) -> str:
        """Column label: the task name without its ``_len`` suffix ("gsm8k_len" -> "gsm8k")."""
        return self.task[: -len(TASK_SUFFIX)] if self.task.endswith(TASK_SUFFIX) else self.task

    @property
    def samples_path(self) -> Path:
        return self.task_dir / "samples.jsonl"

    def records(self) -> list[SampleRecord]:
        """The task's sample records ([] when samples.jsonl is absent)."""
        if self._records is None:
            self._records = RecordStore(self.samples_path).load()
        return self._records


def _read_json(path: Path) -> dict:
    try:
        obj = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: not a readable JSON file ({e})") from None
    if not isinstance(obj, dict):
        raise UserError(f"{path}: expected a JSON object")
    return obj


def source_name(path: Path, given: Path) -> str:
    """``path`` (found under the directory or file ``given`` to a report) named relative to the
    directory holding ``given``: ``given``'s own name, then the path under it."""
    anchor = Path(os.path.abspath(given))
    anchor = anchor if anchor.is_dir() else anchor.parent
    return Path(os.path.relpath(os.path.abspath(path), anchor.parent)).as_posix()


def _entry(path: Path) -> Entry | None:
    """The Entry of one summary.json, or None when it is not an eval task summary."""
    summary = _read_json(path)
    manifest = summary.get("manifest") or {}
    task = str(manifest.get("task") or path.parent.name)
    if not task.endswith(TASK_SUFFIX):
        return None  # e.g. a presampling summary inside a run directory
    for key in ("accuracy", "mean_tokens"):
        if not isinstance(summary.get(key), (int, float)):
            raise UserError(f"{path}: summary has no numeric {key!r}")
    model = str(manifest.get("model_name") or manifest.get("model") or "unknown")
    method = str(manifest.get("method") or "baseline")
    return Entry(model=model, method=method, task=task, summary=summary, task_dir=path.parent)


def collect_entries(dirs: Sequence[Path]) -> tuple[list[Entry], list[str]]:
    """Every eval task summary under ``dirs`` (searched recursively), first copy of each
    (model, method, dataset) in the order given; later copies are reported in the warnings."""
    if not dirs:
        raise UserError("no result directories given")
    entries: dict[tuple[str, str, str], Entry] = {}
    warnings: list[str] = []
    for d in map(Path, dirs):
        if not d.exists():
            raise UserError(f"{d}: no such file or directory")
        paths = [d] if d.is_file() else sorted(d.rglob("summary.json"))
        for path in paths:
            e = _entry(path)
            if e is None:
                continue
            e.source = source_name(e.task_dir, d)
            key = (e.model, e.method, e.dataset)
            if key in entries:
                if entries[key].task_dir.resolve() != e.task_dir.resolve():
                    warnings.append(f"duplicate result for model {e.model}, method {e.method}, "
                                    f"{e.dataset}: using {entries[key].source}, ignoring {e.source}")
                continue
            entries[key] = e
    if not entries:
        names = ", ".join(str(d) for d in dirs)
        raise UserError(f"no eval summaries (<task>{TASK_SUFFIX}/summary.json) found under {names}")
    return list(entries.values()), warnings
