"""GPU rehearsal of pruneeval's real-scale path: generation, O1-Pruner training two ways, ZeRO-3.

One run on one GPU (about 1B parameters, bf16; under 8 minutes on an H100), each measurement in
its own fresh process so that memory peaks do not mix:

  setup       a randomly initialised Llama-family model (default hidden 2048, 20 layers, 16 heads
              of 128, MLP 5632: about 1.0B parameters; the toy world's tokenizer, so no hub
              access) saved in bf16, toy training records (``train_memory.make_records``: K samples
              per problem, responses cut from real toy solution tokens) and a presample directory
              holding them (samples.jsonl, stats.json, manifest.json, as ``load_presample`` reads).
              The end-of-turn token's (tied) embedding row is zeroed, so greedy rows of the random
              model run to max_tokens: the throughput is that of full-length decoding.
  generate    ``make_engine("hf", model, batch_size=B)``, greedy, a fixed max_tokens, a few dozen
              toy test prompts after a short warm-up call: generated tokens (the Completions'
              ``n_tokens``) / wall seconds of the ``generate`` call.
  a           ``trainers.train(get_method("o1pruner"), ...)``: the reference log-probs are
              precomputed once inside the Trainer before step 1 (``trainers/reference.py``).
  b           the same ``train`` call with ``train_memory.live_reference_method``: a frozen bf16
              copy of the model scores each batch inside the loss.
              (a) and (b) use the same records, steps, seed and TrainConfig (bf16, gradient
              checkpointing, full fine-tuning).  Seconds per step are timed by a global optimizer
              step hook (the training code is untouched): the mean interval between consecutive
              optimizer steps after the first (steady state; CUDA synchronised at each step).  The
              first step's time from the start of ``train``, the reference pass (timed around
              ``reference.scores_for_training``), the Trainer's ``train_runtime`` (which includes the
              reference pass) and the whole ``train`` call are reported beside it.  Peak memory:
              ``torch.cuda.max_memory_allocated`` of the process; on a CPU the process's peak RSS.
  zero3       ``trainers.train_launched(o1pruner, model, presample_dir, TrainConfig(...,
              launcher="deepspeed-zero3", num_processes=1), out)``: wall seconds of the call, the
              steps it ran, ``train_runtime`` / steps, and the peak device memory in use (all
              processes, polled from a thread with ``torch.cuda.mem_get_info``) above what was in
              use before the launch; on a CPU the memory is null.  Without DeepSpeed installed it is
              recorded as skipped, with the reason.

    python benchmarks/gpu_check.py --out runs/gpu_check          (GPU: about 1B parameters)
    python benchmarks/gpu_check.py --tiny --out runs/gpu_check   (a tiny model: a few minutes on 2 CPU cores)

pruneeval must be importable (``pip install -e .``, or its source on PYTHONPATH with
``pruneeval.trainers`` mapped to ``trainers/``).  Prints a table and writes DIR/gpu_check.json
(device, versions, the model, each measurement with its settings); the measured processes' output
goes to DIR/logs/.  A measurement that fails is recorded with its error, the others still run, and
the exit status is then 1."""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
import train_memory  # noqa: E402  (the sibling benchmark: records, the live-reference design, process memory)

MIB = 1024 * 1024
SIZES = {  # model and workload of a GPU run and of --tiny
    "gpu": {"hidden": 2048, "layers": 20, "heads": 16, "mlp": 5632, "prompts": 32, "gen_batch": 16,
            "max_tokens": 256, "steps": 6, "micro_batch": 4, "k": 4, "min_len": 256, "max_len": 512},
    "tiny": {"hidden": 64, "layers": 2, "heads": 4, "mlp": 128, "prompts": 8, "gen_batch": 4,
             "max_tokens": 16, "steps": 3, "micro_batch": 2, "k": 4, "min_len": 16, "max_len": 48},
}
MAX_LENGTH = 1024  # the toy model family's max_position_embeddings
MEASUREMENTS = ("generate", "a", "b", "zero3")


# ---------------------------------------------------------------- set-up (its own process)

def build_model_dir(path: Path, spec: dict) -> dict:
    """A random toy-family Llama of ``spec``'s shape with the toy tokenizer, saved in bf16.

    Not ``train_memory.make_model_dir``: that one takes the tokenizer from the built toy reasoner
    (``ensure_toy_model`` trains it first where it is missing, 8+ minutes) and fixes heads at 32
    wide; ``make_tokenizer`` is the same tokenizer, built in seconds."""
    import torch

    from pruneeval.toy.build import ToyConfig, make_model, make_tokenizer

    tokenizer = make_tokenizer()
    config = ToyConfig(hidden=spec["hidden"], layers=spec["layers"], heads=spec["heads"],
                       head_dim=spec["hidden"] // spec["heads"], mlp=spec["mlp"], seed=spec["seed"])
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):  # a 1B init is quicker on the GPU
        model = make_model(config, tokenizer)
    with torch.no_grad():
        model.get_input_embeddings().weight[tokenizer.eos_token_id] = 0  # tied: the end-of-turn logit is 0
    model.to(torch.bfloat16).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return {"class": type(model).__name__, "hidden": config.hidden, "layers": config.layers, "heads": config.heads,
            "head_dim": config.head_dim, "mlp": config.mlp, "vocab": len(tokenizer),
            "params": sum(p.numel() for p in model.parameters()), "saved_dtype": "bfloat16",
            "end_of_turn_row_zeroed": True}


def write_presample(path: Path, records: list, k: int) -> None:
    """``records`` as a finished presample directory (what ``pruneeval.presample.presample`` writes)."""
    from dataclasses import asdict

    from pruneeval.engines.base import Sampling
    from pruneeval.presample import reference_stats
    from pruneeval.records import RecordStore, write_json_atomic

    path.mkdir(parents=True, exist_ok=True)
    RecordStore(path / "samples.jsonl").append(records)
    problems = sorted({r.problem_id for r in records})
    write_json_atomic(path / "manifest.json", {"stage": "presample", "benchmark": "toy_train",
                                               "model": str(path.parent / "model"), "model_name": "gpu_check",
                                               "sampling": asdict(Sampling(n=k, temperature=1.0)),
                                               "limit": len(problems), "n_problems": len(problems)})
    write_json_atomic(path / "stats.json", reference_stats(records))


def setup(work: Path, spec: dict) -> dict:
    """The model, the records and the presample directory; the device and versions."""
    import torch
    from transformers import AutoTokenizer

    from pruneeval.trainers.batches import encode_records

    model = build_model_dir(work / "model", spec)
    tokenizer = AutoTokenizer.from_pretrained(work / "model")
    m = 2  # O1-Pruner's default: samples kept per problem
    examples = spec["steps"] * spec["micro_batch"]
    records = train_memory.make_records(tokenizer, -(-examples // m), spec["k"], spec["min_len"], spec["max_len"],
                                        spec["seed"])
    write_presample(work / "presample", records, spec["k"])
    lengths = [len(e["input_ids"]) for e in encode_records(tokenizer, records)]
    return {"device": device_info(torch), "model": model,
            "records": {"n_records": len(records), "k": spec["k"], "kept_per_problem": m,
                        "response_tokens": [spec["min_len"], spec["max_len"]],
                        "sequence_tokens_min": min(lengths), "sequence_tokens_max": max(lengths),
                        "sequence_tokens_mean": round(sum(lengths) / len(lengths), 1)}}


def device_info(torch) -> dict:
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return {"type": "cuda", "name": props.name, "memory_bytes": props.total_memory,
                "memory_gib": round(props.total_memory / 1024 ** 3, 1), "count": torch.cuda.device_count()}
    info = train_memory.machine()
    return {"type": "cpu", "name": info["platform"], "memory_bytes": info["ram_bytes"],
            "memory_gib": info["ram_gib"], "cpus": info["cpus"]}


# ---------------------------------------------------------------- the measured processes

def peak_memory(torch) -> dict:
    """This process's peak memory: allocated on the GPU, else resident (CPU runs)."""
    if torch.cuda.is_available():
        return {"bytes": torch.cuda.max_memory_allocated(), "what": "torch.cuda.max_memory_allocated"}
    return {"bytes": train_memory.hwm(), "what": "process peak RSS (VmHWM): CPU run, no GPU memory"}


def measure_generation(work: Path, spec: dict) -> dict:
    """Generated tokens per second of the HF engine over a few dozen toy prompts (greedy)."""
    import torch

    from pruneeval import presets
    from pruneeval.engines import Sampling, make_engine
    from pruneeval.prompts import build_messages
    from pruneeval.toy import world

    t0 = time.perf_counter()
    engine = make_engine("hf", str(work / "model"), batch_size=spec["gen_batch"])
    load_s = time.perf_counter() - t0
    preset = presets.resolve("toy")
    prompts = [build_messages(p.question, preset.system_prompt, preset.user_template)
               for p in world.load_test()[:spec["prompts"]]]
    t0 = time.perf_counter()
    engine.generate(prompts[:spec["gen_batch"]], Sampling(max_tokens=8))  # warm-up: kernels, caches
    warmup_s = time.perf_counter() - t0
    sampling = Sampling(n=1, temperature=0.0, max_tokens=spec["max_tokens"], seed=spec["seed"])
    t0 = time.perf_counter()
    rows = engine.generate(prompts, sampling)
    wall = time.perf_counter() - t0
    completions = [c for row in rows for c in row]
    tokens = sum(c.n_tokens for c in completions)
    return {"engine": engine.describe(), "prompts": len(prompts), "batch_size": spec["gen_batch"],
            "sampling": {"temperature": 0.0, "max_tokens": spec["max_tokens"]},
            "prompt_tokens": sum(len(engine.prompt_ids(m)) for m in prompts),
            "generated_tokens": tokens, "finished_by_length": sum(c.finish_reason == "length" for c in completions),
            "wall_s": wall, "tokens_per_s": tokens / wall, "load_s": load_s, "warmup_s": warmup_s,
            "peak_memory": peak_memory(torch)}


def train_config(spec: dict, **overrides):
    """The TrainConfig of every design: bf16 compute, gradient checkpointing, full fine-tuning (as
    the big presets), a loss logged at every step and no checkpoint before the end."""
    from pruneeval.trainers import TrainConfig

    values = dict(lr=1e-6, micro_batch_size=spec["micro_batch"], grad_accum=1, max_steps=spec["steps"],
                  finetune="full", dtype="bfloat16", gradient_checkpointing=True, seed=spec["seed"],
                  max_length=MAX_LENGTH, logging_steps=1, save_steps=10 ** 6, progress=False)
    return TrainConfig(**{**values, **overrides})


def timed_steps(torch) -> list[float]:
    """Timestamps of every optimizer step from now on (a global hook; CUDA synchronised first)."""
    from torch.optim.optimizer import register_optimizer_step_post_hook

    times: list[float] = []

    def after_step(optimizer, args, kwargs):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter())

    register_optimizer_step_post_hook(after_step)
    return times


def timed_reference_pass() -> list[float]:
    """Seconds of each reference pass from now on (``reference_pass`` looks the function up at call time)."""
    import pruneeval.trainers.reference as reference

    spent: list[float] = []
    original = reference.scores_for_training

    def timed(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - t0)

    reference.scores_for_training = timed
    return spent


def run_summary(out: Path) -> dict:
    """Steps, processes and ``train_runtime`` from what ``train`` wrote into ``out``."""
    from pruneeval.records import read_json_object

    run = read_json_object(out / "training.json")
    log = json.loads((out / "log_history.json").read_text())
    runtime = next((e["train_runtime"] for e in reversed(log) if "train_runtime" in e), None)
    losses = [e["loss"] for e in log if "loss" in e]
    return {"steps": run["steps"], "processes": run["processes"], "distributed": run["distributed"],
            "train_runtime_s": runtime, "losses": losses}


def measure_training(variant: str, work: Path, spec: dict) -> dict:
    """One O1-Pruner run: (a) precomputed reference log-probs, (b) a live frozen reference model."""
    import torch

    from pruneeval.records import RecordStore
    from pruneeval.trainers import get_method, train

    model_path = str(work / "model")
    records = RecordStore(work / "presample" / "samples.jsonl").load()
    steps, reference_s = timed_steps(torch), timed_reference_pass()
    t0 = time.perf_counter()
    method = (get_method("o1pruner") if variant == "a"
              else train_memory.live_reference_method(model_path, torch.bfloat16))
    method_s = time.perf_counter() - t0
    config = train_config(spec)
    out = work / f"run-{variant}"
    t0 = time.perf_counter()
    train(method, model_path, records, config, out)
    train_s = time.perf_counter() - t0
    if len(steps) < 2:
        raise RuntimeError(f"{len(steps)} optimizer steps were timed; 2 or more are needed for seconds per step")
    result = {"design": "precomputed reference log-probs" if variant == "a" else "live frozen reference model",
              "method": method.name, "config": {k: getattr(config, k) for k in (
                  "micro_batch_size", "grad_accum", "max_steps", "dtype", "gradient_checkpointing", "finetune",
                  "max_length", "lr", "ref_batch_size")},
              "timed_steps": len(steps), "step_s": (steps[-1] - steps[0]) / (len(steps) - 1),
              "step_s_how": "mean interval between consecutive optimizer steps after the first (step hook)",
              "first_step_from_train_start_s": steps[0] - t0, "reference_pass_s": sum(reference_s) or None,
              "reference_load_s": method_s if variant == "b" else None, "train_call_s": train_s,
              **run_summary(out), "peak_memory": peak_memory(torch)}
    shutil.rmtree(out, ignore_errors=True)
    return result


class DeviceMemoryPoller:
    """Peak device memory in use (every process's; ``mem_get_info``) while it runs, polled from a thread."""

    def __init__(self, torch, every_s: float = 0.05):
        self.torch, self.every_s = torch, every_s
        free, self.total = torch.cuda.mem_get_info()
        self.before = self.peak = self.total - free
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self):
        while not self.stop.is_set():
            free, _ = self.torch.cuda.mem_get_info()
            self.peak = max(self.peak, self.total - free)
            self.stop.wait(self.every_s)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def measure_zero3(work: Path, spec: dict) -> dict:
    """``train_launched`` with DeepSpeed ZeRO-3 on one process."""
    import contextlib

    import torch

    from pruneeval.trainers import get_method, train_launched

    cuda = torch.cuda.is_available()
    config = train_config(spec, launcher="deepspeed-zero3", num_processes=1, dtype="bfloat16")
    out = work / "run-zero3"
    poller = DeviceMemoryPoller(torch) if cuda else None
    t0 = time.perf_counter()
    with poller or contextlib.nullcontext():
        train_launched(get_method("o1pruner"), work / "model", work / "presample", config, out)
    wall = time.perf_counter() - t0
    summary = run_summary(out)
    runtime, n = summary["train_runtime_s"], summary["steps"]
    memory = None if poller is None else {
        "peak_in_use_bytes": poller.peak - poller.before, "peak_device_used_bytes": poller.peak,
        "in_use_before_bytes": poller.before,
        "what": "device memory in use (torch.cuda.mem_get_info, all processes), peak above before the launch"}
    result = {"launcher": config.launcher, "num_processes": config.num_processes, "dtype": config.dtype,
              "wall_s": wall, **summary,
              "step_s": runtime / n if runtime and n else None,
              "step_s_how": "train_runtime / steps (the reference pass included)",
              "peak_device_memory": memory,
              "peak_device_memory_why_null": None if poller else "no CUDA device"}
    shutil.rmtree(out, ignore_errors=True)
    return result


def child(name: str, work: Path) -> dict:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    spec = json.loads((work / "spec.json").read_text())
    if name == "setup":
        return setup(work, spec)
    if name == "generate":
        return measure_generation(work, spec)
    if name == "zero3":
        return measure_zero3(work, spec)
    return measure_training(name, work, spec)


# ---------------------------------------------------------------- the parent

def run_child(name: str, work: Path, logs: Path) -> dict:
    """``name`` in a fresh process; its result, or ``{"error": ...}`` naming its log."""
    result, log = work / f"result-{name}.json", logs / f"{name}.txt"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", name, "--work", str(work)]
    t0 = time.perf_counter()
    with open(log, "w") as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
    process_s = time.perf_counter() - t0
    if proc.returncode != 0 or not result.is_file():
        tail = log.read_text(errors="replace").strip().splitlines()[-15:]
        sys.stderr.write(f"--- {name}: exit status {proc.returncode}; the end of {log}:\n" + "\n".join(tail) + "\n")
        last = next((line for line in reversed(tail) if line.strip()), "no output")
        return {"error": f"exit status {proc.returncode}: {last.strip()}", "log": str(log), "process_s": process_s}
    return {**json.loads(result.read_text()), "process_s": process_s}


def compare(a: dict, b: dict) -> dict:
    """(a) against (b): step time and peak memory ratios, and how far their logged losses differ
    (the same loss computed two ways: they agree up to the rounding of bf16)."""
    if "error" in a or "error" in b:
        return {}
    diff = max((abs(x - y) for x, y in zip(a["losses"], b["losses"])), default=None)
    return {"step_s_ratio_a_over_b": a["step_s"] / b["step_s"],
            "peak_memory_ratio_a_over_b": a["peak_memory"]["bytes"] / b["peak_memory"]["bytes"],
            "loss_max_abs_diff_a_b": diff}


def zero3_or_skipped(work: Path, logs: Path) -> dict:
    """The ZeRO-3 measurement, or why it is skipped."""
    if importlib.util.find_spec("deepspeed") is None:
        return {"skipped": "deepspeed not installed"}
    return run_child("zero3", work, logs)


def versions() -> dict:
    def version(dist: str) -> str | None:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return None

    return {"python": sys.version.split()[0], "torch": version("torch"), "transformers": version("transformers"),
            "accelerate": version("accelerate"), "deepspeed": version("deepspeed"), **pruneeval_commit()}


def pruneeval_commit() -> dict:
    """The git commit of the source this runs from (and whether it has changes), where git knows it."""
    repo = HERE.parent
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True)
    except OSError:
        return {"pruneeval_commit": None, "pruneeval_dirty": None}
    if head.returncode != 0:
        return {"pruneeval_commit": None, "pruneeval_dirty": None}
    return {"pruneeval_commit": head.stdout.strip(), "pruneeval_dirty": bool(dirty.stdout.strip())}


def check_importable() -> None:
    for name in ("pruneeval", "pruneeval.trainers", "torch", "transformers"):
        if importlib.util.find_spec(name) is None:
            raise SystemExit(f"error: cannot import {name}: install pruneeval (pip install -e . from the repository) "
                             "or put its source on PYTHONPATH with pruneeval.trainers mapped to trainers/")


def mib(n) -> str:
    return "-" if n is None else f"{n / MIB:,.0f}"


def print_table(result: dict) -> None:
    d, m, s = result.get("device") or {}, result.get("model") or {}, result["settings"]
    v = result["versions"]
    print(f"device: {d.get('name')} ({d.get('memory_gib')} GiB); torch {v['torch']}, transformers "
          f"{v['transformers']}, deepspeed {v['deepspeed']}; pruneeval {str(v['pruneeval_commit'])[:10]}")
    if m:
        print(f"model: {m['class']} hidden {m['hidden']} x {m['layers']} layers, {m['params'] / 1e6:,.1f}M params, bf16")
    print(f"{'measurement':<44}{'value':>14}  {'peak MiB':>10}  notes")
    g = result["generate"]
    if "error" not in g:
        print(f"{'hf generation, tokens/s':<44}{g['tokens_per_s']:>14,.1f}  {mib(g['peak_memory']['bytes']):>10}  "
              f"{g['generated_tokens']} tokens, {g['prompts']} prompts x {s['max_tokens']}, batch {s['gen_batch']}")
    for key, label in (("a", "(a) precomputed ref log-probs, s/step"), ("b", "(b) live frozen reference, s/step")):
        x = result["train"][key]
        if "error" not in x:
            ref = f"ref pass {x['reference_pass_s']:.2f} s, " if x["reference_pass_s"] else ""
            print(f"{label:<44}{x['step_s']:>14.3f}  {mib(x['peak_memory']['bytes']):>10}  "
                  f"{ref}{x['steps']} steps, train_runtime {x['train_runtime_s']:.1f} s")
    t = result["train"]
    if "step_s_ratio_a_over_b" in t:
        print(f"{'(a) / (b)':<44}{t['step_s_ratio_a_over_b']:>14.3f}  {t['peak_memory_ratio_a_over_b']:>10.3f}  "
              f"largest difference of their step losses {t['loss_max_abs_diff_a_b']:.2g}")
    z = result["zero3"]
    if "skipped" in z:
        print(f"{'zero3 (1 process)':<44}{'skipped':>14}  {'-':>10}  {z['skipped']}")
    elif "error" not in z:
        peak = z["peak_device_memory"]["peak_in_use_bytes"] if z["peak_device_memory"] else None
        print(f"{'zero3 (1 process), s/step':<44}{z['step_s']:>14.3f}  {mib(peak):>10}  "
              f"{z['steps']} steps, {z['dtype']}, call {z['wall_s']:.1f} s")
    for name, x in (("generate", g), ("a", result["train"]["a"]), ("b", result["train"]["b"]), ("zero3", z)):
        if "error" in x:
            print(f"{name}: FAILED: {x['error']} (log: {x['log']})")


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="output directory: OUT/gpu_check.json, OUT/logs/")
    ap.add_argument("--tiny", action="store_true", help="a tiny model and workload (CPU: a few minutes on 2 cores)")
    for flag in ("steps", "micro-batch", "prompts", "gen-batch", "max-tokens", "layers"):
        ap.add_argument(f"--{flag}", type=int, help="override the size's default")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", action="store_true", help="keep the temporary work dir (model, records)")
    ap.add_argument("--child", choices=["setup", *MEASUREMENTS], help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not args.child and args.out is None:
        ap.error("--out DIR is required")
    return args


def main() -> None:
    args = parse_args()
    if args.child:
        result = child(args.child, args.work)
        (args.work / f"result-{args.child}.json").write_text(json.dumps(result) + "\n")
        return
    check_importable()
    size = "tiny" if args.tiny else "gpu"
    spec = {**SIZES[size], "seed": args.seed, "size": size}
    for key in ("steps", "micro_batch", "prompts", "gen_batch", "max_tokens", "layers"):
        if getattr(args, key) is not None:
            spec[key] = getattr(args, key)
    if spec["steps"] < 2:
        raise SystemExit("error: --steps must be 2 or more (seconds per step are timed between steps)")
    logs = args.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="pruneeval-gpu-check-"))
    t0 = time.perf_counter()
    try:
        (work / "spec.json").write_text(json.dumps(spec))
        base = run_child("setup", work, logs)
        if "error" in base:
            raise SystemExit(f"error: the set-up failed ({base['error']}); see {base['log']}")
        runs = {name: run_child(name, work, logs) for name in ("generate", "a", "b")}
        runs["zero3"] = zero3_or_skipped(work, logs)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    result = {"benchmark": "gpu_check", "settings": spec, "device": base["device"], "versions": versions(),
              "model": base["model"], "records": base["records"], "setup_s": base["process_s"],
              "generate": runs["generate"], "train": {"a": runs["a"], "b": runs["b"], **compare(runs["a"], runs["b"])},
              "zero3": runs["zero3"], "total_s": time.perf_counter() - t0}
    (args.out / "gpu_check.json").write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)
    failed = [name for name, x in runs.items() if "error" in x]
    if failed:
        raise SystemExit(f"error: {', '.join(failed)} failed; the logs are in {logs}")


if __name__ == "__main__":
    main()
