"""Presampling: K samples per training problem from the frozen reference model.

Writes ``DIR/samples.jsonl`` (graded records with their exact token ids) and ``DIR/stats.json``
with, per problem x, L_ref(x) = mean length and A_ref(x) = mean accuracy over its K samples
(the sample itself included), the reference statistics of the O1-Pruner reward (DESIGN.md).
Written once every sample is, stats.json marks the directory finished; ``load_presample`` reads it
and refuses samples that do not give the same statistics."""

from __future__ import annotations

import random
from pathlib import Path

from . import benchmarks
from .engines.base import Engine
from .evaluate import check_manifest, generate_records, versions
from .metrics import summarize
from .records import RecordStore, SampleRecord, reference_stats, write_json_atomic
from .spec import RunSpec


def training_problems(benchmark: str, data_dir: str | None = None, limit: int | None = None,
                      shuffle_seed: int = -1) -> list[benchmarks.Problem]:
    """The first ``limit`` problems of ``benchmark`` after a shuffle with ``shuffle_seed`` (the
    official code's ``random.seed(42); random.shuffle(data)``); -1 keeps file order.  MATH train
    is sorted by subject, so its first 5,000 in file order miss Prealgebra and Precalculus."""
    problems = benchmarks.load(benchmark, data_dir)
    if shuffle_seed >= 0:
        random.Random(shuffle_seed).shuffle(problems)
    return problems[:limit] if limit else problems


def presample(engine: Engine, out_dir: Path, spec: RunSpec, *, benchmark: str, limit: int | None = None,
              data_dir: str | None = None, shuffle_seed: int = -1, model_name: str = "") -> dict:
    """Generate, grade and store ``spec.sampling.n`` (K) samples per problem into ``out_dir``;
    resumes a partial run."""
    problems = training_problems(benchmark, data_dir, limit, shuffle_seed)
    manifest = {
        "stage": "presample", "benchmark": benchmark, "model": engine.describe().get("model"),
        "model_name": model_name, **spec.manifest(getattr(engine, "batch_size", None)), "limit": limit,
        "shuffle_seed": shuffle_seed, "n_problems": len(problems), "dataset_hash": benchmarks.dataset_hash(problems),
        "engine": engine.describe(), "versions": versions(),
    }
    check_manifest(out_dir / "manifest.json", manifest)
    records = generate_records(engine, problems, RecordStore(out_dir / "samples.jsonl"), spec, keep_token_ids=True,
                               label=f"presample {benchmark} x{spec.sampling.n}")
    summary = summarize(records, gen_time_s=sum(r.wall_share_s for r in records))
    summary["manifest"] = manifest
    write_json_atomic(out_dir / "stats.json", reference_stats(records))
    write_json_atomic(out_dir / "summary.json", summary)
    return summary


def load_presample(path: Path) -> list[SampleRecord]:
    """The records of a finished presample directory (methods derive L_ref / A_ref from them),
    each checked against the problems of its stats.json and the K of its manifest, all of them
    against stats.json itself: a samples.jsonl cut short, edited or swapped after presampling gives
    other statistics and is refused."""
    from .errors import UserError
    from .records import is_number, read_json_object

    path = Path(path)
    store = RecordStore(path / "samples.jsonl")
    if not store.path.is_file() or not (path / "stats.json").is_file():
        raise UserError(f"{path}: not a finished presample directory (samples.jsonl and stats.json expected)")
    stats, manifest = read_json_object(path / "stats.json"), read_json_object(path / "manifest.json")
    sampling = manifest.get("sampling")
    k = sampling.get("n") if isinstance(sampling, dict) else None
    if not (isinstance(k, int) and not isinstance(k, bool) and k >= 1):
        raise UserError(f"{path / 'manifest.json'}: sampling.n: must be an integer >= 1, got {k!r}")
    for pid, s in stats.items():
        if not (isinstance(s, dict) and is_number(s.get("L_ref")) and is_number(s.get("A_ref"))):
            raise UserError(f"{path / 'stats.json'}: {pid}: expected finite L_ref and A_ref >= 0")
    records = store.load(set(stats), k)
    found = reference_stats(records)
    for pid in sorted(stats.keys() | found.keys()):
        if stats.get(pid) != found.get(pid):
            raise UserError(f"{path / 'stats.json'}: {pid}: {stats.get(pid)} written, but {store.path.name} gives "
                            f"{found.get(pid)}; the samples changed after presampling (presample again)")
    return records
