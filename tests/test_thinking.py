"""Budget forcing and NoThinking on the HF engine: exact token accounting across the two stages.

The vLLM and server (openai) engines run the same checks in test_engine_vllm.py and
test_engine_openai.py (``check_two_stage_accounting`` below)."""

import json

import pytest

from pruneeval.benchmarks import load
from pruneeval.engines import Sampling, make_engine
from pruneeval.engines.thinking import ThinkingEngine
from pruneeval.prompts import build_messages

FORCE = "\n</think>\n\n**Final Answer**\n\\boxed{"
PREFILL = "Okay, I think I have finished thinking.\n</think>\n\n"


def _prompts(data_dir, n=12):
    return [build_messages(p.question, "You are helpful.", "Solve the problem: {question}")
            for p in load("gsm8k", data_dir, n)]


def check_two_stage_accounting(engine, prompts, budget=6, answer_budget=5, max_tokens=40, think_end="</think>",
                               force=FORCE):
    """Budget forcing on ``engine``: every count adds up and every stage holds the tokens the
    engine itself generates for that stage's exact input. Returns the forced completions."""
    forced = ThinkingEngine(engine, budget=budget, answer_budget=answer_budget, think_end=think_end, force=force)
    got = forced.generate(prompts, Sampling(max_tokens=max_tokens))
    ids = [engine.prompt_ids(m) for m in prompts]
    plain = engine.generate_ids(ids, Sampling(max_tokens=budget))
    force_ids = engine.encode(force)
    two = []
    for p, (c,), (first,) in zip(ids, got, plain):
        assert sum(c.stage_tokens) == c.n_tokens == len(c.token_ids)
        assert c.stage_latency_s and sum(c.stage_latency_s) == pytest.approx(c.latency_s)
        assert c.token_ids[:c.stage_tokens[0]] == first.token_ids  # stage 1 is the plain cut at the budget
        if first.finish_reason == "stop":
            assert (c.stage_tokens, c.forced_tokens, c.text) == ((first.n_tokens,), 0, first.text)
            continue
        two.append(c)
        assert c.stage_tokens[0] == budget and len(c.stage_tokens) == 2 and c.forced_tokens == len(force_ids)
        (second,), = engine.generate_ids([p + list(first.token_ids) + force_ids], Sampling(max_tokens=answer_budget))
        assert c.token_ids[budget:] == second.token_ids  # stage 2: the engine's own continuation of exact ids
        assert c.stage_tokens[1] == second.n_tokens <= answer_budget
        assert c.text == first.text + force + second.text
        assert c.finish_reason == second.finish_reason
    assert two, "some samples should reach the budget"
    return got


def test_budget_forcing_accounting_on_hf(tiny_model, data_dir):
    engine = make_engine("hf", str(tiny_model), batch_size=4)
    check_two_stage_accounting(engine, _prompts(data_dir))


def test_a_sample_whose_thinking_ended_is_continued_without_forcing(tiny_model, data_dir):
    """When the end-of-thinking marker is already in stage 1, stage 2 continues it as it is."""
    engine = make_engine("hf", str(tiny_model), batch_size=4)
    prompts = _prompts(data_dir, 4)
    first = engine.generate(prompts, Sampling(max_tokens=6))
    marker = first[0][0].text[-3:]  # a text the first sample is known to contain: its thinking "ended"
    forced = ThinkingEngine(engine, budget=6, answer_budget=4, think_end=marker, force=FORCE)
    (c,), *_ = forced.generate(prompts, Sampling(max_tokens=40))
    assert c.forced_tokens == 0 and FORCE not in c.text
    (second,), = engine.generate_ids([engine.prompt_ids(prompts[0]) + list(first[0][0].token_ids)],
                                     Sampling(max_tokens=4))
    assert c.token_ids == first[0][0].token_ids + second.token_ids


def test_nothink_prefills_and_counts_only_generated_tokens(tiny_model, data_dir):
    engine = make_engine("hf", str(tiny_model), batch_size=4)
    prompts = _prompts(data_dir, 4)
    got = ThinkingEngine(engine, prefill=PREFILL).generate(prompts, Sampling(max_tokens=12))
    pre = engine.encode(PREFILL)
    want = engine.generate_ids([engine.prompt_ids(m) + pre for m in prompts], Sampling(max_tokens=12))
    for (c,), (w,) in zip(got, want):
        assert c.text == PREFILL + w.text and c.token_ids == w.token_ids
        assert c.stage_tokens == (c.n_tokens,) and c.forced_tokens == len(pre)


def test_a_budget_as_large_as_max_tokens_is_the_plain_cut(tiny_model, data_dir):
    engine = make_engine("hf", str(tiny_model), batch_size=4)
    prompts = _prompts(data_dir, 4)
    forced = ThinkingEngine(engine, budget=64, think_end="</think>", force=FORCE)
    got, plain = forced.generate(prompts, Sampling(max_tokens=16)), engine.generate(prompts, Sampling(max_tokens=16))
    assert [c.token_ids for (c,) in got] == [c.token_ids for (c,) in plain]
    assert all(len(c.stage_tokens) == 1 for (c,) in got)


def test_eval_with_budget_writes_stage_counts(tiny_model, data_dir, tmp_path):
    """``pruneeval eval --method budget@B`` end to end: records keep each stage's count."""
    from pruneeval.cli import main

    preset = tmp_path / "p.yaml"
    preset.write_text(json.dumps({"name": "tiny", "model": str(tiny_model), "max_tokens": 24, "batch_gen": 4,
                                  "think_end": "</think>", "budget_force": FORCE}))
    out = tmp_path / "out"
    main(["eval", "--preset", str(preset), "--tasks", "gsm8k_len", "--limit", "6", "--out", str(out),
          "--method", "budget@5", "--opt", "answer_budget=3", "--data-dir", str(data_dir)])
    rows = [json.loads(x) for x in (out / "gsm8k_len" / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and any(len(r["stage_tokens"]) == 2 for r in rows)
    for r in rows:
        assert sum(r["stage_tokens"]) == r["n_tokens"] and r["stage_tokens"][0] <= 5
        assert len(r["stage_tokens"]) == 1 or (r["stage_tokens"][1] <= 3 and FORCE in r["output"])
    summary = json.loads((out / "gsm8k_len" / "summary.json").read_text())
    assert summary["manifest"]["method"] == "budget@5"
    assert summary["manifest"]["thinking"]["budget"] == 5 and summary["manifest"]["thinking"]["answer_budget"] == 3


@pytest.mark.parametrize("method, suffix", [("tale@100", "use less than 100 tokens:"),
                                            ("draft", "within \\boxed{} at the end of the response.")])
def test_prompt_variants_put_their_instruction_in_the_user_turn(tiny_model, data_dir, tmp_path, method, suffix):
    from pruneeval.cli import main

    out = tmp_path / "out"
    main(["eval", "--model", str(tiny_model), "--tasks", "gsm8k_len", "--limit", "2", "--max-tokens", "4",
          "--out", str(out), "--method", method, "--data-dir", str(data_dir)])
    rows = [json.loads(x) for x in (out / "gsm8k_len" / "samples.jsonl").read_text().splitlines()]
    assert all(r["prompt"][-1]["content"].endswith(suffix) for r in rows)
    assert all("stage_tokens" not in r for r in rows)
    assert json.loads((out / "gsm8k_len" / "summary.json").read_text())["manifest"]["method"] == method
