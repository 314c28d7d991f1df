"""Presampling throughput: `pruneeval presample` over raw engine generation of the same prompts.

Both sides run as whole processes (model load included) on the first N toy_train problems with
the toy preset's sampling (K samples per problem, temperature 0.7, top-p 1.0, the preset's max
tokens), alternating raw and pruneeval, best of ``--repeats``, per engine:

- hf: the raw side loads the toy model, applies the chat template, left-pads and calls
  ``model.generate(do_sample=True, temperature, top_p, top_k=None, num_return_sequences=K)`` under
  ``torch.inference_mode``.  pruneeval's presample cuts the problems into chunks of
  ``max(1, batch_gen // 2)`` and its HF engine splits a chunk into batches of ``batch_gen`` prompts,
  so each ``generate`` call gets ``min(batch_gen // 2, batch_gen)`` prompts (32 with the toy
  preset's batch_gen 64, i.e. 256 sequences with K 8); the raw side uses the same prompts per call.
- vllm: the raw side builds ``vllm.LLM`` with the settings of pruneeval's vLLM engine (dtype
  float32 and eager mode on a CPU, $VLLM_CPU_KVCACHE_SPACE 2 and $VLLM_HOST_IP 127.0.0.1 unless
  set, seed 0) and calls ``llm.generate(prompts, SamplingParams(n=K, ...))`` once over all prompts
  (text prompts, vLLM detokenises); pruneeval's side is ``presample --engine vllm``, which sends
  one chunk of problems per ``generate`` call, token ids in, and decodes with the HF tokenizer.
  It runs under ``--vllm-python`` (default this python); without vLLM there, only hf is measured.

pruneeval's side also grades every sample and writes samples.jsonl (with token ids), stats.json
and summary.json.  Generated tokens are counted the way pruneeval counts Length (up to the first
end-of-turn token, excluded): the raw side prints its count, pruneeval's is summed over its
samples.jsonl.  The two sides sample through different RNG paths (pruneeval reseeds per chunk
and per batch, vLLM per request), so their outputs and token counts differ: tokens/s is the fair
comparison, and both the wall ratio and the tokens/s ratio are reported.  HF's ``generate`` runs
every row of a call until its longest sample stops, so its work also follows the decode steps
(summed over calls), reported for hf; ``gen s`` is the time inside generation (pruneeval's
summary ``gen_time_s``), the rest of the wall time being start-up, model load, grading and writing.

    python benchmarks/presample.py --out DIR [--n 64] [--k 8] [--repeats 3] [--engines hf,vllm]
        [--vllm-python PYTHON]
prints a table and writes DIR/presample.json with ``ratio`` = pruneeval / raw wall time for hf
(per engine under ``engines``)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the raw scripts import pruneeval (prompts, presets) from here

PROMPTS = r'''
import sys
from pruneeval import benchmarks, presets
from pruneeval.prompts import build_messages
n, k, batch, temperature, top_p, max_tokens, seed = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]),
                                                      float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]),
                                                      int(sys.argv[7]))
p = presets.resolve("toy")
path = presets.model_path(p)
messages = [build_messages(q.question, p.system_prompt, p.user_template) for q in benchmarks.load("toy_train", limit=n)]
'''

RAW_HF = PROMPTS + r'''
import time, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
dev = "cuda" if torch.cuda.is_available() else "cpu"
tok = AutoTokenizer.from_pretrained(path); tok.padding_side = "left"
dtype = torch.bfloat16 if dev == "cuda" else torch.float32  # as pruneeval's HF engine
model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(dev).eval()
eos = model.generation_config.eos_token_id
eos = ({eos} if isinstance(eos, int) else set(eos or [])) | ({tok.eos_token_id} - {None})
texts = [tok.apply_chat_template(m, add_generation_prompt=True, tokenize=False) for m in messages]
torch.manual_seed(seed)
tokens = samples = steps = 0
t0 = time.perf_counter()
with torch.inference_mode():
    for i in range(0, len(texts), batch):
        enc = tok(texts[i:i + batch], return_tensors="pt", padding=True, add_special_tokens=False).to(dev)
        out = model.generate(**enc, do_sample=True, temperature=temperature, top_p=top_p, top_k=None,
                             num_return_sequences=k, max_new_tokens=max_tokens, pad_token_id=tok.pad_token_id)
        steps += out.shape[1] - enc["input_ids"].shape[1]
        for row in out[:, enc["input_ids"].shape[1]:].tolist():
            tokens += next((j for j, t in enumerate(row) if t in eos), len(row))
            samples += 1
print("RESULT", tokens, samples, time.perf_counter() - t0, steps)
'''

RAW_VLLM = PROMPTS + r'''
import os, time
os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
from transformers import AutoTokenizer
from vllm import LLM, SamplingParams
from vllm.platforms import current_platform
cpu = current_platform.is_cpu()
if cpu:
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    os.environ.setdefault("VLLM_HOST_IP", "127.0.0.1")
if __name__ == "__main__":
    tok = AutoTokenizer.from_pretrained(path)
    eos = {tok.eos_token_id} - {None}
    llm = LLM(model=path, dtype="float32" if cpu else "bfloat16", tensor_parallel_size=1, gpu_memory_utilization=0.9,
              enforce_eager=cpu, seed=0)
    e = llm.llm_engine.model_config.hf_config.eos_token_id
    eos |= {e} if isinstance(e, int) else set(e or [])
    texts = [tok.apply_chat_template(m, add_generation_prompt=True, tokenize=False) for m in messages]
    t0 = time.perf_counter()
    outs = llm.generate(texts, SamplingParams(n=k, temperature=temperature, top_p=top_p, max_tokens=max_tokens,
                                              seed=seed), use_tqdm=False)
    wall = time.perf_counter() - t0
    tokens = sum(sum(t not in eos for t in c.token_ids) for o in outs for c in o.outputs)
    print("RESULT", tokens, sum(len(o.outputs) for o in outs), wall, 0, flush=True)
'''


def run(cmd: list[str], env: dict) -> tuple[float, str]:
    """Wall seconds of the whole process and its stdout; a failed run stops with its stderr's tail."""
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    if p.returncode:
        sys.exit(f"failed (exit {p.returncode}): {' '.join(cmd[:3])} ...\n{p.stderr[-3000:]}")
    return wall, p.stdout


def raw_side(python: str, script: str, argv: list[str], env: dict) -> dict:
    wall, out = run([python, "-c", script, *argv], env)
    line = [x for x in out.splitlines() if x.startswith("RESULT ")]
    if not line:
        sys.exit(f"no RESULT line from the raw script; its output ends:\n{out[-2000:]}")
    _, tokens, samples, gen, steps = line[-1].split()
    return {"wall_s": wall, "tokens": int(tokens), "samples": int(samples), "gen_s": float(gen), "steps": int(steps)}


def decode_steps(rows: list[dict], per_call: int, k: int, max_tokens: int) -> int:
    """Decoding steps of HF ``generate`` over pruneeval's records: each call runs until its longest
    sample stops (end-of-turn included) or reaches max tokens; records are stored in call order."""
    calls = [rows[i:i + per_call * k] for i in range(0, len(rows), per_call * k)]
    return sum(min(max_tokens, max(r["n_tokens"] + (r["finish_reason"] == "stop") for r in c)) for c in calls)


def pruneeval_side(python: str, engine: str, n: int, k: int, batch_gen: int, per_call: int, max_tokens: int,
                   env: dict) -> dict:
    tmp = Path(tempfile.mkdtemp())
    try:
        wall, _ = run([python, "-m", "pruneeval.cli", "presample", "--benchmark", "toy_train", "--limit", str(n),
                       "--k", str(k), "--batch-size", str(batch_gen), "--engine", engine, "--out", str(tmp)], env)
        rows = [json.loads(x) for x in (tmp / "samples.jsonl").read_text().splitlines() if x.strip()]
        summary = json.loads((tmp / "summary.json").read_text())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    steps = decode_steps(rows, per_call, k, max_tokens) if engine == "hf" else 0
    return {"wall_s": wall, "tokens": sum(r["n_tokens"] for r in rows), "samples": len(rows),
            "gen_s": summary["gen_time_s"], "steps": steps}


def has_vllm(python: str) -> bool:
    try:
        return subprocess.run([python, "-c", "import vllm"], cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode == 0
    except OSError:
        return False


def best(runs: list[dict]) -> dict:
    b = min(runs, key=lambda r: r["wall_s"])
    return {**b, "tokens_per_s": b["tokens"] / b["wall_s"], "samples_per_s": b["samples"] / b["wall_s"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--n", type=int, default=64, help="toy_train problems")
    ap.add_argument("--k", type=int, default=8, help="samples per problem")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--engines", default="hf,vllm", help="comma list of hf, vllm")
    ap.add_argument("--batch-gen", type=int, default=None, help="pruneeval's --batch-size (default: the preset's)")
    ap.add_argument("--vllm-python", default=sys.executable, help="a python with vllm (and pruneeval importable)")
    args = ap.parse_args()
    from pruneeval import presets
    from pruneeval.toy.build import ensure_toy_model

    ensure_toy_model()  # built once, outside the timings
    p = presets.resolve("toy")
    batch_gen = args.batch_gen or p.batch_gen
    per_call = min(max(1, batch_gen // 2), batch_gen)  # cli.py's chunk, then the HF engine's batches within it
    seed = 0
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = set(engines) - {"hf", "vllm"}
    if unknown:
        sys.exit(f"unknown engine(s) {', '.join(sorted(unknown))}; known: hf, vllm")
    if "vllm" in engines and not has_vllm(args.vllm_python):
        print(f"note: vllm is not importable in {args.vllm_python}; measuring hf only (see --vllm-python)")
        engines.remove("vllm")
    env = {**os.environ, "VLLM_NO_USAGE_STATS": "1"}
    sides = {"hf": (sys.executable, RAW_HF), "vllm": (args.vllm_python, RAW_VLLM)}
    argv = [str(x) for x in (args.n, args.k, per_call, p.presample_temperature, p.presample_top_p, p.max_tokens, seed)]
    runs: dict[str, dict[str, list[dict]]] = {e: {"raw": [], "pruneeval": []} for e in engines}
    for _ in range(args.repeats):
        for e in engines:
            python, script = sides[e]
            runs[e]["raw"].append(raw_side(python, script, argv, env))
            runs[e]["pruneeval"].append(pruneeval_side(python, e, args.n, args.k, batch_gen, per_call, p.max_tokens,
                                                           env))

    results = {}
    print(f"{'engine':<6} {'side':<10}{'best s':>8}{'gen s':>8}{'tokens':>9}{'tok/s':>9}{'samp/s':>8}  all runs (s)")
    for e in engines:
        raw, ours = best(runs[e]["raw"]), best(runs[e]["pruneeval"])
        for side, b in (("raw", raw), ("pruneeval", ours)):
            print(f"{e:<6} {side:<10}{b['wall_s']:>8.2f}{b['gen_s']:>8.2f}{b['tokens']:>9}{b['tokens_per_s']:>9.0f}"
                  f"{b['samples_per_s']:>8.1f}  " + ", ".join(f"{r['wall_s']:.2f}" for r in runs[e][side]))
        results[e] = {
            "raw_s": raw["wall_s"], "pruneeval_s": ours["wall_s"], "ratio": ours["wall_s"] / raw["wall_s"],
            "raw_tokens": raw["tokens"], "pruneeval_tokens": ours["tokens"],
            "raw_samples": raw["samples"], "pruneeval_samples": ours["samples"],
            "raw_tokens_per_s": raw["tokens_per_s"], "pruneeval_tokens_per_s": ours["tokens_per_s"],
            "tokens_per_s_ratio": ours["tokens_per_s"] / raw["tokens_per_s"],
            "raw_samples_per_s": raw["samples_per_s"], "pruneeval_samples_per_s": ours["samples_per_s"],
            "raw_gen_s": raw["gen_s"], "pruneeval_gen_s": ours["gen_s"],
            **({"raw_decode_steps": raw["steps"], "pruneeval_decode_steps": ours["steps"]} if e == "hf" else {}),
            "raw_all": runs[e]["raw"], "pruneeval_all": runs[e]["pruneeval"],
        }
    for e, r in results.items():
        steps = (f"; decode steps raw {r['raw_decode_steps']}, pruneeval {r['pruneeval_decode_steps']}"
                 if e == "hf" else "")
        print(f"{e}: wall ratio pruneeval / raw {r['ratio']:.3f}; tokens/s ratio pruneeval / raw "
              f"{r['tokens_per_s_ratio']:.3f}{steps}")
    result = {"benchmark": "presample", "n_problems": args.n, "k": args.k, "batch_gen": batch_gen,
              "prompts_per_generate": per_call, "temperature": p.presample_temperature, "top_p": p.presample_top_p,
              "max_tokens": p.max_tokens, "repeats": args.repeats, "engines": results,
              "ratio": results["hf"]["ratio"] if "hf" in results else None}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "presample.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
