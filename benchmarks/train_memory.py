"""Training memory: O1-Pruner with precomputed reference log-probs against a live reference model.

Two designs of the same training run (same model, records, steps and seed), each measured as the
peak resident memory (VmHWM) of its own fresh process:

  (a) pruneeval: ``trainers.train`` with the ``o1pruner`` method, unchanged.  The starting model
      scores every training sequence once before the first step (``trainers/reference.py``), so training
      holds a single model.
  (b) the official implementation's design: a frozen, eval-mode copy of the starting model held
      beside the policy, scoring each batch under ``torch.no_grad`` inside the loss (defined here,
      as a subclass of the ``o1pruner`` method; the rest of the run is the same ``train`` call).

The model is a randomly initialised toy reasoner (the toy's ``LlamaForCausalLM`` family and
tokenizer) scaled up to about 100M parameters, saved once and loaded by every run.  The records
are toy training problems with K samples each, responses cut from real toy solution tokens to
random lengths of one to a few hundred tokens, with varying correct flags.  Each mode is run in
both designs; a mode is a fine-tuning mode (``full``, ``lora:R``, ``freeze:N``) with an optional
``+gc`` for gradient checkpointing (``TrainConfig.gradient_checkpointing``: ``train`` turns it on
through the TrainingArguments, and for non-full modes calls ``enable_input_require_grads``), the
setting large models are trained with, since it keeps only each layer's input for the backward
pass instead of every activation.  A third process per mode measures the resident memory after
imports, after loading the model and after loading a second copy.  Global optimizer step hooks,
which leave the training code untouched, measure the gradient and AdamW-state bytes, the resident
memory split into anonymous and file-backed pages (``RssAnon`` / ``RssFile``) and the peak up to
the last optimizer step ("loop peak"; the process peak also covers ``train``'s final checkpoint
and model save).

Where the weights live.  ``from_pretrained`` maps the safetensors file: the weights are
file-backed pages, resident once touched, and two loads of one file map the same page-cache
pages (the kernel still charges each mapping to RSS).  On a GPU the reference model is a separate
allocation, so (b)'s reference copy (and the baseline's second copy) is loaded with
``load_anonymous``: each weight is read (not mapped) from the file into a fresh tensor, so it is
held in anonymous memory shared with nothing.  The policy is loaded by ``train`` itself, as in a
real run; the step hooks show where its weights end up: under ``full`` AdamW's in-place update
copies them into anonymous pages at the first step (file-backed RSS falls by the parameter bytes),
under ``lora:R`` the frozen base weights stay mapped from the file for the whole run and count in
RSS as file-backed pages (the ``file-backed RSS`` rows; the baseline rows show both weight loads).

Which freed memory counts.  glibc's malloc raises its mmap threshold each time a large block is
freed (up to 32 MiB), after which blocks of activation size come from the heap and stay resident
when freed: the peak then depends on how the heap fragments, not only on the live tensors (with
glibc's default one run of ``lora:16`` measured (a) 4,595 MiB and (b) 4,228 MiB, (a) already
holding 1.4 GB more anonymous memory than (b) after its first backward pass, with the same live
tensors but the reference copy).  The measured processes therefore run with a fixed
``MALLOC_MMAP_THRESHOLD_`` (``--mmap-threshold``, default 1 MiB; 0 keeps glibc's dynamic default):
every block of 1 MiB or more is its own mapping, returned to the system when freed, so RSS
follows the live tensors (as a GPU's allocated-memory peak does) and the two designs differ by
what they hold, not by what their heaps kept.

    python benchmarks/train_memory.py --out DIR [--modes full,lora:16,full+gc,lora:16+gc] [--steps 3]
prints a table and writes DIR/train_memory.json with ``ratio`` = peak (a) / peak (b) per mode and
``best_ratio`` (the lowest ratio and its mode)."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MIB = 1024 * 1024
TARGET_RATIO = 0.6
DEFAULT_MODES = "full,lora:16,full+gc,lora:16+gc"


def parse_mode(mode: str) -> tuple[str, bool]:
    """``"lora:16+gc"`` -> ("lora:16", True): the finetune mode and whether gradient checkpointing is on."""
    finetune, plus, flag = mode.partition("+")
    if plus and flag != "gc":
        raise SystemExit(f"mode {mode!r}: expected FINETUNE or FINETUNE+gc")
    return finetune, bool(plus)


def slug(mode: str) -> str:
    return mode.replace(":", "").replace("+", "-")


# ---------------------------------------------------------------- process memory

def proc_status() -> dict[str, int]:
    """VmRSS / VmHWM / RssAnon / RssFile (bytes) of this process from /proc/self/status."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0]) * 1024
    return out


def rss() -> int:
    return proc_status()["VmRSS"]


def hwm() -> int:
    return proc_status()["VmHWM"]


def machine() -> dict:
    total = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                total = int(line.split()[1]) * 1024
    return {"ram_bytes": total, "ram_gib": round(total / 1024 ** 3, 1), "cpus": os.cpu_count(),
            "platform": platform.platform(), "python": platform.python_version()}


# ---------------------------------------------------------------- set-up (parent)

def make_model_dir(path: Path, hidden: int, layers: int, heads: int, mlp: int) -> dict:
    """A randomly initialised toy-family model (toy tokenizer) saved to ``path``; returns its shape."""
    from transformers import AutoTokenizer

    from pruneeval.toy.build import ToyConfig, ensure_toy_model, make_model

    tokenizer = AutoTokenizer.from_pretrained(ensure_toy_model())
    model = make_model(ToyConfig(hidden=hidden, layers=layers, heads=heads, mlp=mlp), tokenizer)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    n = sum(p.numel() for p in model.parameters())
    return {"class": type(model).__name__, "hidden": hidden, "layers": layers, "heads": heads, "mlp": mlp,
            "vocab": len(tokenizer), "params": n}


def make_records(tokenizer, n_problems: int, k: int, min_len: int, max_len: int, seed: int) -> list:
    """K samples for each of the first ``n_problems`` toy training problems; each response is a
    random-length window (``min_len``..``max_len`` tokens) of real toy solution tokens; about 60%
    are correct, with at least one correct and one wrong sample per problem."""
    from pruneeval import presets
    from pruneeval.prompts import build_messages
    from pruneeval.records import SampleRecord
    from pruneeval.toy import world

    rng = random.Random(seed)
    stream: list[int] = []
    for _, solution in world.traces(seed, 400):
        stream += tokenizer(solution + "\n", add_special_tokens=False)["input_ids"]
    preset = presets.resolve("toy")
    records = []
    for problem in world.load_train()[:n_problems]:
        messages = build_messages(problem.question, preset.system_prompt, preset.user_template)
        flags = [rng.random() < 0.6 for _ in range(k)]
        flags[0] = True
        if k > 1:
            flags[-1] = False
        for i, correct in enumerate(flags):
            length = rng.randint(min_len, max_len)
            start = rng.randrange(len(stream) - length)
            ids = stream[start:start + length]
            records.append(SampleRecord(problem.id, i, "toy_train", messages, tokenizer.decode(ids), length, "stop",
                                        0.0, problem.gold if correct else None, correct,
                                        None if correct else "wrong", problem.gold, token_ids=ids))
    return records


# ---------------------------------------------------------------- the measured process (child)

def live_reference_method(model_path: str, dtype):
    """(b): O1-Pruner whose loss scores each batch with a frozen reference model kept in memory."""
    import torch

    from pruneeval.trainers.batches import response_mask, sequence_logprobs
    from pruneeval.trainers.o1pruner import O1Pruner, surrogate_loss

    class LiveReferenceO1Pruner(O1Pruner):
        name = "o1pruner_live_reference"
        needs_ref_logprobs = False

        def __init__(self, **options):
            super().__init__(**options)
            self.ref = load_anonymous(model_path, dtype).eval().requires_grad_(False)  # a separate copy

        def loss(self, model, batch):
            device = batch["input_ids"].device
            if next(self.ref.parameters()).device != device:
                self.ref.to(device)
            with torch.no_grad():
                ref_logprobs = sequence_logprobs(self.ref, batch)
            logp = sequence_logprobs(model, batch)
            return surrogate_loss(logp, ref_logprobs, response_mask(batch), batch["reward"],
                                  self.config.eps, self.config.ratio)

    return LiveReferenceO1Pruner()


def load_anonymous(model_path: str, dtype):
    """``from_pretrained(model_path)`` with every weight in anonymous memory.

    ``from_pretrained`` maps the safetensors file; each parameter is then replaced by a fresh
    tensor filled by reading (not mapping) its bytes from the file, before any mapped page was
    touched, so the copy is resident in anonymous memory and shares no page with another load."""
    import struct

    import torch
    from transformers import AutoModelForCausalLM

    dtypes = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype)
    params = dict(model.named_parameters())  # tied weights once
    done = set()
    for file in sorted(Path(model_path).glob("*.safetensors")):
        with open(file, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(n))
            for name, info in header.items():
                if name not in params:
                    continue
                start, end = info["data_offsets"]
                buf = torch.empty(end - start, dtype=torch.uint8)
                f.seek(8 + n + start)
                if f.readinto(buf.numpy()) != end - start:
                    raise OSError(f"{file}: short read of {name}")
                params[name].data = buf.view(dtypes[info["dtype"]]).reshape(info["shape"]).to(params[name].dtype)
                done.add(name)
    if done != set(params):
        raise ValueError(f"weights not found in the safetensors files: {sorted(set(params) - done)[:5]}")
    return model


def touch(model) -> float:
    """Read every weight once (so that a mapped model is resident); returns their sum."""
    import torch

    with torch.no_grad():
        return float(sum(p.double().sum() for p in model.parameters()))


def child(variant: str, mode: str, work: Path, spec: dict) -> dict:
    """One measured process: ``baseline`` (imports + model load), ``a`` or ``b`` (a training run)."""
    result: dict = {"variant": variant, "mode": mode}
    finetune, gradient_checkpointing = parse_mode(mode)
    t0 = time.perf_counter()
    import torch
    from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    from pruneeval.records import RecordStore
    from pruneeval.trainers import TrainConfig, get_method, train
    from pruneeval.trainers.model_setup import setup_model

    # What a run imports lazily, imported now: the memory of code is then not counted as a model's.
    for name in ("peft", "transformers.trainer", "transformers.models.llama.modeling_llama"):
        importlib.import_module(name)

    hf_logging.set_verbosity_error()
    dtype = torch.bfloat16 if spec["dtype"] == "bfloat16" else torch.float32
    model_path = str(work / "model")
    records = RecordStore(work / "samples.jsonl").load()
    st = proc_status()
    result.update(rss_imports=st["VmRSS"], anon_imports=st["RssAnon"], file_imports=st["RssFile"])
    if variant == "baseline":
        # The policy as ``train`` loads it: safetensors weights mapped from the file, resident when first read.
        model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype)
        result["rss_model_mapped"] = rss()
        model = setup_model(model, finetune, 0)
        result["weights_checksum"] = touch(model)
        st = proc_status()
        result.update(rss_model_setup=st["VmRSS"], anon_model_setup=st["RssAnon"], file_model_setup=st["RssFile"])
        # (b)'s reference model, loaded as (b) loads it: a separate copy in anonymous memory.
        reference = load_anonymous(model_path, dtype).eval().requires_grad_(False)
        touch(reference)
        st = proc_status()
        result.update(rss_second_copy=st["VmRSS"], anon_second_copy=st["RssAnon"], file_second_copy=st["RssFile"])
        result["second_copy_bytes"] = sum(p.numel() * p.element_size() for p in reference.parameters())
        params = list(model.parameters())
        result["param_count"] = sum(p.numel() for p in params)
        result["param_bytes"] = sum(p.numel() * p.element_size() for p in params)
        result["trainable_count"] = sum(p.numel() for p in params if p.requires_grad)
        result["trainable_bytes"] = sum(p.numel() * p.element_size() for p in params if p.requires_grad)
        result["hwm"] = hwm()  # the second copy included
        return result

    steps: list[dict] = []

    def before_step(optimizer, args, kwargs):
        grads = sum(p.grad.nbytes for g in optimizer.param_groups for p in g["params"] if p.grad is not None)
        st = proc_status()
        steps.append({"grad_bytes": grads, "rss_before_step": st["VmRSS"], "hwm_before_step": st["VmHWM"],
                      "anon_before_step": st["RssAnon"], "file_before_step": st["RssFile"]})

    def after_step(optimizer, args, kwargs):
        state = sum(v.nbytes for s in optimizer.state.values() for v in s.values() if torch.is_tensor(v))
        steps[-1].update(optimizer_state_bytes=state, rss_after_step=rss(), hwm_after_step=hwm())

    register_optimizer_step_pre_hook(before_step)
    register_optimizer_step_post_hook(after_step)
    # Count the checkpointed layer calls (0 without gradient checkpointing): transformers binds
    # ``modeling_utils.checkpoint`` when ``gradient_checkpointing_enable`` runs inside ``train``.
    import transformers.modeling_utils as modeling_utils

    checkpoint, checkpointed = modeling_utils.checkpoint, [0]

    def counting_checkpoint(*args, **kwargs):
        checkpointed[0] += 1
        return checkpoint(*args, **kwargs)

    modeling_utils.checkpoint = counting_checkpoint
    if variant == "a":
        method = get_method("o1pruner")
    else:
        method = live_reference_method(model_path, dtype)
    st = proc_status()  # (b): the reference copy is already loaded here
    result.update(rss_before_train=st["VmRSS"], anon_before_train=st["RssAnon"], file_before_train=st["RssFile"],
                  hwm_before_train=st["VmHWM"])
    config = TrainConfig(lr=1e-5, micro_batch_size=spec["micro_batch"], grad_accum=spec["grad_accum"],
                         max_steps=spec["steps"], finetune=finetune, gradient_checkpointing=gradient_checkpointing,
                         dtype=spec["dtype"], seed=spec["seed"], max_length=spec["max_length"],
                         logging_steps=10 ** 6, progress=False)
    t1 = time.perf_counter()
    train(method, model_path, records, config, work / f"run-{variant}-{slug(mode)}")
    result["train_s"] = time.perf_counter() - t1
    result["wall_s"] = time.perf_counter() - t0
    result["steps"] = steps
    result["checkpointed_calls"] = checkpointed[0]
    result["loop_hwm"] = steps[-1]["hwm_after_step"] if steps else None  # peak up to the last optimizer step
    result["hwm"] = hwm()  # the whole process, final checkpoint and model save included
    return result


def run_child(variant: str, mode: str, work: Path, spec: dict) -> dict:
    out = work / f"result-{variant}-{slug(mode)}.json"
    log = work / f"log-{variant}-{slug(mode)}.txt"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", variant, "--mode", mode, "--work", str(work),
           "--spec", json.dumps(spec), "--out", str(out)]
    env = dict(os.environ)
    if spec["mmap_threshold"]:
        env["MALLOC_MMAP_THRESHOLD_"] = str(spec["mmap_threshold"])
    t0 = time.perf_counter()
    with open(log, "w") as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        sys.stderr.write(log.read_text()[-4000:])
        raise SystemExit(f"{variant} {mode}: exit status {proc.returncode}")
    result = json.loads(out.read_text())
    result["process_s"] = time.perf_counter() - t0
    return result


# ---------------------------------------------------------------- report

def profile(base: dict, a: dict, b: dict) -> dict:
    """The measured components behind the two peaks of one mode (bytes)."""
    grads = max(s["grad_bytes"] for s in a["steps"])
    optim = max(s["optimizer_state_bytes"] for s in a["steps"])
    ref_copy = base["rss_second_copy"] - base["rss_model_setup"]
    state_a = base["param_bytes"] + grads + optim
    imports = base["rss_imports"]
    return {
        "peak_a": a["hwm"], "peak_b": b["hwm"],
        "checkpointed_calls_a": a["checkpointed_calls"], "checkpointed_calls_b": b["checkpointed_calls"],
        "param_count": base["param_count"], "param_bytes": base["param_bytes"],
        "trainable_count": base["trainable_count"], "trainable_bytes": base["trainable_bytes"],
        "grad_bytes": grads, "optimizer_state_bytes": optim, "reference_copy_bytes": ref_copy,
        "rss_imports": imports, "rss_imports_model": base["rss_model_setup"],
        "weights_rss": base["rss_model_setup"] - imports,
        "rest_of_peak_a": a["hwm"] - base["rss_model_setup"] - grads - optim,
        "extra_peak_b": b["hwm"] - a["hwm"],
        "reference_copy_share_of_peak_b": ref_copy / b["hwm"],
        "model_state_ratio": state_a / (state_a + base["param_bytes"]),
        "ratio_excluding_imports": (a["hwm"] - imports) / (b["hwm"] - imports),
        "reference_copy_anon_bytes": base["anon_second_copy"] - base["anon_model_setup"],
        "reference_copy_file_bytes": base["file_second_copy"] - base["file_model_setup"],
        "policy_file_bytes_loaded": base["file_model_setup"] - base["file_imports"],
        "reference_before_train_bytes": b["rss_before_train"] - a["rss_before_train"],
        "anon_last_step_a": a["steps"][-1]["anon_before_step"],
        "anon_last_step_b": b["steps"][-1]["anon_before_step"],
        "file_backed_last_step_a": a["steps"][-1]["file_before_step"],
        "file_backed_last_step_b": b["steps"][-1]["file_before_step"],
    }


def explain(mode: str, ratio: float, p: dict) -> str:
    """Why the ratio of ``mode`` is what it is, from the measured components."""
    parts = {"imports": p["rss_imports"], "weights": p["weights_rss"], "gradients": p["grad_bytes"],
             "AdamW state": p["optimizer_state_bytes"], "activations and the rest": p["rest_of_peak_a"]}
    biggest = max(parts, key=parts.get)
    verdict = "meets" if ratio <= TARGET_RATIO else "misses"
    return (f"{mode}: (a)/(b) = {ratio:.3f} {verdict} the target <= {TARGET_RATIO}. (b) holds one more model "
            f"copy ({p['reference_copy_bytes'] / MIB:.0f} MiB resident; its peak is {abs(p['extra_peak_b']) / MIB:.0f} MiB "
            f"{'above' if p['extra_peak_b'] >= 0 else 'below'} (a)'s), {p['reference_copy_share_of_peak_b']:.0%} of (b)'s peak; a ratio of {TARGET_RATIO} needs "
            f"it to be {1 - TARGET_RATIO:.0%}. (a)'s peak is "
            + ", ".join(f"{k} {v / MIB:.0f}" for k, v in parts.items())
            + f" MiB, the largest being {biggest}. Model state alone (weights + gradients + AdamW state) "
            f"gives {p['model_state_ratio']:.3f}; the peaks without the imports give {p['ratio_excluding_imports']:.3f}.")


def print_table(spec: dict, modes: list[str], results: dict) -> None:
    def m(x: float) -> str:
        return f"{x / MIB:,.0f}"

    print(f"model: {spec['model']['class']} hidden {spec['model']['hidden']} x {spec['model']['layers']} layers, "
          f"{spec['model']['params'] / 1e6:.1f}M params, {spec['dtype']}; {spec['n_examples']} examples "
          f"(responses {spec['min_len']}-{spec['max_len']} tokens, sequences {spec['seq_len_min']}-"
          f"{spec['seq_len_max']}, mean {spec['seq_len_mean']:.0f}); {spec['steps']} steps x micro batch "
          f"{spec['micro_batch']} x accum {spec['grad_accum']}; malloc mmap threshold "
          f"{str(spec['mmap_threshold']) + ' bytes' if spec['mmap_threshold'] else 'glibc default (dynamic)'}")
    print()
    print(f"{'mode':<12}{'design':<34}{'peak MiB':>10}{'loop peak':>11}{'train s':>9}")
    for mode in modes:
        r = results[mode]
        for key, label in (("a", "(a) precomputed ref log-probs"), ("b", "(b) live frozen reference model")):
            x = r[key]
            print(f"{mode:<12}{label:<34}{m(x['hwm']):>10}{m(x['loop_hwm']):>11}{x['train_s']:>9.1f}")
        met = "target met" if r["target_met"] else "target missed"
        print(f"{mode:<12}{'ratio (a)/(b)':<34}{r['ratio']:>10.3f}{r['ratio_loop']:>11.3f}   {met}")
    print()
    rows = [("checkpointed layer calls (a)", "checkpointed_calls_a", str),
            ("checkpointed layer calls (b)", "checkpointed_calls_b", str),
            ("parameters (count)", "param_count", lambda x: f"{x / 1e6:.2f}M"),
            ("trainable parameters (count)", "trainable_count", lambda x: f"{x / 1e6:.2f}M"),
            ("parameter bytes (counted)", "param_bytes", m), ("gradient bytes (measured)", "grad_bytes", m),
            ("AdamW state bytes (measured)", "optimizer_state_bytes", m),
            ("RSS after imports", "rss_imports", m),
            ("RSS after imports + model load", "rss_imports_model", m),
            ("rest of peak (a): activations etc.", "rest_of_peak_a", m),
            ("reference copy (RSS of a 2nd load)", "reference_copy_bytes", m),
            ("  of which anonymous", "reference_copy_anon_bytes", m),
            ("  of which file-backed", "reference_copy_file_bytes", m),
            ("policy weights file-backed at load", "policy_file_bytes_loaded", m),
            ("RSS (b) - (a) before training", "reference_before_train_bytes", m),
            ("extra peak of (b) over (a)", "extra_peak_b", m),
            ("ref copy share of peak (b)", "reference_copy_share_of_peak_b", lambda x: f"{x:.1%}"),
            ("anonymous RSS, last step (a)", "anon_last_step_a", m),
            ("anonymous RSS, last step (b)", "anon_last_step_b", m),
            ("file-backed RSS, last step (a)", "file_backed_last_step_a", m),
            ("file-backed RSS, last step (b)", "file_backed_last_step_b", m),
            ("ratio of model state alone", "model_state_ratio", lambda x: f"{x:.3f}"),
            ("ratio of peaks less imports", "ratio_excluding_imports", lambda x: f"{x:.3f}")]
    print(f"{'memory profile (MiB)':<38}" + "".join(f"{mode:>12}" for mode in modes))
    for label, key, fmt in rows:
        print(f"{label:<38}" + "".join(f"{fmt(results[mode]['profile'][key]):>12}" for mode in modes))
    print()
    for mode in modes:
        print(results[mode]["explanation"])
    print()
    print(verdict(modes, results))


def verdict(modes: list[str], results: dict) -> str:
    """The overall verdict line: the modes that meet the target, or the best ratio and why none does."""
    met = [mode for mode in modes if results[mode]["target_met"]]
    best = min(modes, key=lambda mode: results[mode]["ratio"])
    ratios = ", ".join(f"{mode} {results[mode]['ratio']:.3f}" for mode in modes)
    if met:
        return (f"verdict: the target (a)/(b) <= {TARGET_RATIO} is met by {', '.join(met)} and missed by "
                f"{', '.join(m for m in modes if m not in met) or 'no mode'} ({ratios}).")
    p = results[best]["profile"]
    best_less = min(modes, key=lambda mode: results[mode]["profile"]["ratio_excluding_imports"])
    return (f"verdict: the target (a)/(b) <= {TARGET_RATIO} is met by no mode ({ratios}); the best, {best}, "
            f"has (b)'s reference copy at {p['reference_copy_share_of_peak_b']:.0%} of (b)'s peak where "
            f"{1 - TARGET_RATIO:.0%} is needed: (a)'s peak of {p['peak_a'] / MIB:,.0f} MiB "
            f"holds imports {p['rss_imports'] / MIB:.0f}, weights {p['weights_rss'] / MIB:.0f}, gradients + AdamW "
            f"state {(p['grad_bytes'] + p['optimizer_state_bytes']) / MIB:.0f} and activations and the rest "
            f"{p['rest_of_peak_a'] / MIB:.0f} MiB beside the {p['reference_copy_bytes'] / MIB:.0f} MiB that (b) adds; "
            f"less the imports (the process's code and libraries, which a GPU's memory does not hold) the best "
            f"ratio is {results[best_less]['profile']['ratio_excluding_imports']:.3f} ({best_less}).")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--modes", default=DEFAULT_MODES,
                    help="comma-separated finetune modes, each optionally with +gc (gradient checkpointing)")
    ap.add_argument("--steps", type=int, default=3, help="optimizer steps")
    ap.add_argument("--micro-batch", type=int, default=8)
    ap.add_argument("--grad-accum", type=int, default=1)
    ap.add_argument("--min-len", type=int, default=120, help="shortest response, tokens")
    ap.add_argument("--max-len", type=int, default=240, help="longest response, tokens")
    ap.add_argument("--k", type=int, default=4, help="samples per problem (O1-Pruner keeps m=2 of them)")
    ap.add_argument("--hidden", type=int, default=768)
    ap.add_argument("--layers", type=int, default=14)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--mlp", type=int, default=2048)
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mmap-threshold", type=int, default=1024 * 1024,
                    help="glibc MALLOC_MMAP_THRESHOLD_ of the measured processes, bytes (0: glibc's dynamic default)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary work dir")
    ap.add_argument("--child", choices=["baseline", "a", "b"], help=argparse.SUPPRESS)
    ap.add_argument("--mode", help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--spec", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        args.out.write_text(json.dumps(child(args.child, args.mode, args.work, json.loads(args.spec))) + "\n")
        return

    import peft
    import torch
    import transformers
    from transformers import AutoTokenizer

    from pruneeval.records import RecordStore
    from pruneeval.trainers.batches import encode_records

    t0 = time.perf_counter()
    modes = [x.strip() for x in args.modes.split(",") if x.strip()]
    for mode in modes:
        parse_mode(mode)
    work = Path(tempfile.mkdtemp(prefix="pruneeval-train-memory-"))
    try:
        model_info = make_model_dir(work / "model", args.hidden, args.layers, args.heads, args.mlp)
        tokenizer = AutoTokenizer.from_pretrained(work / "model")
        examples = args.steps * args.micro_batch * args.grad_accum
        m = min(2, args.k)  # O1-Pruner's default m: samples kept per problem
        records = make_records(tokenizer, -(-examples // m), args.k, args.min_len, args.max_len, args.seed)
        RecordStore(work / "samples.jsonl").append(records)
        lengths = [len(e["input_ids"]) for e in encode_records(tokenizer, records)]
        spec = {"model": model_info, "dtype": args.dtype, "steps": args.steps, "micro_batch": args.micro_batch,
                "grad_accum": args.grad_accum, "seed": args.seed, "max_length": 4 * args.max_len,
                "mmap_threshold": args.mmap_threshold,
                "min_len": args.min_len, "max_len": args.max_len, "k": args.k, "n_records": len(records),
                "n_examples": -(-examples // m) * m, "seq_len_min": min(lengths), "seq_len_max": max(lengths),
                "seq_len_mean": sum(lengths) / len(lengths)}
        results = {}
        for mode in modes:
            base = run_child("baseline", mode, work, spec)
            a = run_child("a", mode, work, spec)
            b = run_child("b", mode, work, spec)
            p = profile(base, a, b)
            ratio = a["hwm"] / b["hwm"]
            results[mode] = {"ratio": ratio, "ratio_loop": a["loop_hwm"] / b["loop_hwm"],
                             "target_met": ratio <= TARGET_RATIO, "peak_a_bytes": a["hwm"], "peak_b_bytes": b["hwm"],
                             "profile": p, "explanation": explain(mode, ratio, p),
                             "baseline": base, "a": a, "b": b}
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    best = min(modes, key=lambda mode: results[mode]["ratio"])
    result = {"benchmark": "train_memory", "method": "o1pruner", "target_ratio": TARGET_RATIO, **spec,
              "modes": modes, "ratio": {mode: results[mode]["ratio"] for mode in modes},
              "best_ratio": {"mode": best, "ratio": results[best]["ratio"], "target_met": results[best]["target_met"]},
              "target_met_by": [mode for mode in modes if results[mode]["target_met"]],
              "verdict": verdict(modes, results), "results": results,
              "torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__,
              "torch_threads": torch.get_num_threads(), "machine": machine(),
              "total_s": time.perf_counter() - t0}
    print_table(spec, modes, results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "train_memory.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
