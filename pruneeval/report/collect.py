"""Find and load evaluation results: ``<task>/summary.json`` (+ ``samples.jsonl``) under eval
and run directories. One Entry per (base model, method, dataset).

Reports name their sources with ``source_name``: the directory given to the report and the path
under it (``runall/eval/o1pruner/toy_len``), never an absolute path of the machine that wrote them."""

from __future__ import annotations

import os
import reprlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..errors import UserError
from ..records import RecordStore, SampleRecord, is_number, read_json_object

TASK_SUFFIX = "_len"
REQUIRED = ("accuracy", "mean_tokens")
SUMMARY_CHECKS = {  # the summary fields reports read: (test, what it must be)
    "accuracy": (lambda v: is_number(v) and v <= 1, "a number in [0, 1]"),
    "mean_tokens": (is_number, "a finite number >= 0"),
    "n_samples": (lambda v: is_number(v) and float(v).is_integer(), "an integer >= 0"),
    "n_problems": (lambda v: v is None or is_number(v) and float(v).is_integer(), "null or an integer >= 0"),
    "gen_time_s": (lambda v: v is None or is_number(v), "null or a finite number >= 0"),
}


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


def source_name(path: Path, given: Path) -> str:
    """``path`` (found under the directory or file ``given`` to a report) named relative to the
    directory holding ``given``: ``given``'s own name, then the path under it."""
    anchor = Path(os.path.abspath(given))
    anchor = anchor if anchor.is_dir() else anchor.parent
    return Path(os.path.relpath(os.path.abspath(path), anchor.parent)).as_posix()


def _entry(path: Path) -> Entry | None:
    """The Entry of one summary.json, or None when it is not an eval task summary."""
    summary = read_json_object(path)
    manifest = summary.get("manifest") or {}
    task = str(manifest.get("task") or path.parent.name)
    if not task.endswith(TASK_SUFFIX):
        return None  # e.g. a presampling summary inside a run directory
    for key, (ok, want) in SUMMARY_CHECKS.items():
        if (key in summary or key in REQUIRED) and not ok(summary.get(key)):
            raise UserError(f"{path}: {key}: must be {want}, got {reprlib.repr(summary.get(key))}")
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
