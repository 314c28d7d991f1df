"""Toy build: build time, weights and greedy accuracy of the toy reasoner over seeds, quiet or busy.

Each seed's ``ToyConfig(seed=S)`` (the shipped recipe otherwise) is built into HOME, then evaluated
as ``pruneeval eval`` does (toy preset: greedy, 400 toy test problems, hf engine).  A model already
in HOME is reused with the build time and load average its ``toy_build.json`` recorded.  ``--busy``
keeps one CPU-bound process running beside the builds the whole time.

    python benchmarks/toy_build.py --out DIR [--seeds 0,1,2] [--home HOME] [--busy]
prints a table and writes DIR/toy_build.json: per seed the build seconds, whether a busy process
ran beside it, the load average at its start and end, the weights' sha256, accuracy and mean
tokens; the accuracy band over the seeds; what the weights depend on (threads, kernels,
processor, library versions).  Rows of other seeds already in that file are kept, so seeds can be
measured in separate runs (one quiet, others beside other work)."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import tempfile
import time
from pathlib import Path


def spin() -> None:
    while True:
        pass


def evaluate(model: Path, out: Path) -> dict:
    from pruneeval import presets
    from pruneeval.engines import Sampling, make_engine
    from pruneeval.evaluate import PromptSpec, evaluate_task

    p = presets.resolve("toy")
    engine = make_engine("hf", str(model), batch_size=p.batch_gen)
    sampling = Sampling(temperature=p.eval_temperature, top_p=p.eval_top_p, max_tokens=p.max_tokens)
    return evaluate_task(engine, "toy_len", out, PromptSpec(p.system_prompt, p.user_template), sampling,
                         model_name="toy", chunk=p.batch_gen * 4)


def one_seed(seed: int, out: Path, busy: bool) -> dict:
    from pruneeval.toy.build import ToyConfig, build, model_dir

    cfg = ToyConfig(seed=seed)
    reused = (model_dir(cfg) / "config.json").is_file()
    t0 = time.perf_counter()
    path = build(cfg)
    wall = time.perf_counter() - t0
    info = json.loads((path / "toy_build.json").read_text())
    summary = evaluate(path, out / f"eval-seed{seed}")
    return {"seed": seed, "key": cfg.key(), "reused": reused, "busy": busy and not reused,
            "build_seconds": info["build_seconds"] if reused else round(wall, 1),
            "load_average": info["load_average"], "weights_sha256": info["weights_sha256"],
            "accuracy": summary["accuracy"], "mean_tokens": summary["mean_tokens"],
            "depends_on": info["depends_on"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seeds", default="0,1,2", help="comma list of ToyConfig seeds")
    ap.add_argument("--home", type=Path, help="PRUNEEVAL_HOME for the builds (default: a new temporary dir)")
    ap.add_argument("--busy", action="store_true", help="a CPU-bound process beside the builds")
    args = ap.parse_args()
    os.environ["PRUNEEVAL_HOME"] = str(args.home or tempfile.mkdtemp(prefix="toy-build-"))
    busy = multiprocessing.get_context("spawn").Process(target=spin, daemon=True) if args.busy else None
    if busy:
        busy.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            new = [one_seed(int(s), Path(tmp), args.busy) for s in args.seeds.split(",")]
    finally:
        if busy:
            busy.terminate()
    path = args.out / "toy_build.json"
    kept = json.loads(path.read_text())["seeds"] if path.is_file() else []
    done = {r["seed"] for r in new}
    rows = sorted([r for r in kept if r["seed"] not in done] + new, key=lambda r: r["seed"])
    accs = [r["accuracy"] for r in rows]
    result = {"benchmark": "toy_build", "cpu_count": os.cpu_count(), "accuracy_band": [min(accs), max(accs)],
              "depends_on": new[0]["depends_on"], "seeds": [{k: v for k, v in r.items() if k != "depends_on"}
                                                            for r in rows]}
    print(f"{'seed':>4}  {'build s':>8}  {'busy':>5}  {'load start/end':>14}  {'accuracy':>8}  {'tokens':>6}  weights")
    for r in rows:
        load = f"{r['load_average']['start']}/{r['load_average']['end']}"
        print(f"{r['seed']:>4}  {r['build_seconds']:>8.1f}  {'yes' if r['busy'] else 'no':>5}  {load:>14}  "
              f"{r['accuracy']:>8.1%}  {r['mean_tokens']:>6.1f}  {r['weights_sha256'][:16]}"
              f"{' (reused)' if r['reused'] else ''}")
    print(f"accuracy band over seeds: {min(accs):.1%} - {max(accs):.1%} on {result['depends_on']['processor']}")
    args.out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
