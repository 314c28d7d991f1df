"""Harness overhead: `pruneeval eval` wall time over a plain transformers generate loop.

Both run as whole processes on the same prompts (the toy reasoner, the first N toy test problems,
greedy, the toy preset's max tokens, batch 64), alternating, best of ``--repeats``.  The raw side
loads the model, applies the chat template, left-pads and calls ``model.generate`` under
``torch.inference_mode``; pruneeval's side also grades, writes samples.jsonl and summary.json.

    python benchmarks/overhead.py --out DIR [--n 200] [--repeats 3]
prints a table and writes DIR/overhead.json with ``ratio`` = pruneeval / raw."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAW = r'''
import sys, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from pruneeval import benchmarks, presets
from pruneeval.prompts import build_messages
n, batch = int(sys.argv[1]), int(sys.argv[2])
p = presets.resolve("toy")
path = presets.model_path(p)
tok = AutoTokenizer.from_pretrained(path); tok.padding_side = "left"
model = AutoModelForCausalLM.from_pretrained(path).eval()
texts = [tok.apply_chat_template(build_messages(q.question, p.system_prompt, p.user_template),
                                 add_generation_prompt=True, tokenize=False) for q in benchmarks.load("toy", limit=n)]
tokens = 0
with torch.inference_mode():
    for i in range(0, len(texts), batch):
        enc = tok(texts[i:i + batch], return_tensors="pt", padding=True, add_special_tokens=False)
        out = model.generate(**enc, max_new_tokens=p.max_tokens, do_sample=False, pad_token_id=tok.pad_token_id)
        tokens += int((out[:, enc["input_ids"].shape[1]:] != tok.pad_token_id).sum())
print(tokens)
'''


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--n", type=int, default=200, help="toy test problems")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from pruneeval.toy.build import ensure_toy_model

    ensure_toy_model()  # built once, outside the timings
    raw_cmd = [sys.executable, "-c", RAW, str(args.n), str(args.batch)]
    raw, ours = [], []
    for _ in range(args.repeats):
        raw.append(timed(raw_cmd))
        tmp = Path(tempfile.mkdtemp())
        ours.append(timed([sys.executable, "-m", "pruneeval.cli", "eval", "--tasks", "toy_len", "--limit", str(args.n),
                           "--batch-size", str(args.batch), "--out", str(tmp)]))
        shutil.rmtree(tmp)
    result = {"benchmark": "overhead", "n_problems": args.n, "batch": args.batch, "repeats": args.repeats,
              "raw_s": min(raw), "pruneeval_s": min(ours), "ratio": min(ours) / min(raw),
              "raw_all_s": raw, "pruneeval_all_s": ours}
    print(f"{'side':<12}{'best s':>9}  all runs")
    print(f"{'raw generate':<12}{min(raw):>9.2f}  {', '.join(f'{x:.2f}' for x in raw)}")
    print(f"{'pruneeval':<12}{min(ours):>9.2f}  {', '.join(f'{x:.2f}' for x in ours)}")
    print(f"ratio pruneeval / raw: {result['ratio']:.3f}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "overhead.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
