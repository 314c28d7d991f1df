"""The toy world (generator, split, solutions, tokenizer) and the built toy reasoner."""

from __future__ import annotations

import json
import random
import re

import pytest

from pruneeval import benchmarks
from pruneeval.toy import world
from pruneeval.toy.build import ToyConfig, build, ensure_toy_model, make_tokenizer, model_dir, trace_records


# ---------------------------------------------------------------- the world

def test_generator_is_deterministic():
    assert world.load_test() == world.load_test()
    assert world.load_train()[:50] == world.load_train()[:50]
    assert list(world.traces(3, 20)) == list(world.traces(3, 20))
    assert list(world.traces(3, 20)) != list(world.traces(4, 20))


def test_test_and_train_splits_are_disjoint():
    test, train = world.load_test(), world.load_train()
    assert len(test) == world.TEST_SIZE and len(train) == world.TRAIN_SIZE
    assert len({p.question for p in test}) == len(test) and len({p.question for p in train}) == len(train)
    assert not {p.question for p in test} & {p.question for p in train}
    assert not {q for q, _ in world.traces(0, 5000)} & {p.question for p in test}
    assert all(world.is_test(p.question) for p in test) and not any(world.is_test(p.question) for p in train)


def test_registry_loads_the_toy_benchmarks():
    test = benchmarks.load("toy")
    assert test[0].benchmark == "toy" and benchmarks.load("toy_train")[0].benchmark == "toy_train"
    assert {p.meta["difficulty"] for p in test} == {2, 3, 4, 5}


def test_problems_stay_in_range_and_answers_are_right():
    rng = random.Random(0)
    for _ in range(2000):
        chain = world.random_chain(rng)
        assert all(0 <= t <= world.MAX_VALUE for t in chain.totals() + list(chain.operands))
        assert world.parse(chain.question) == chain
        assert eval(chain.question.removesuffix(" = ?")) == chain.answer
    for p in world.load_test()[:100]:
        assert p.gold == str(eval(p.question.removesuffix(" = ?")))


def test_solutions_are_long_thoughts_ending_in_the_boxed_answer():
    chain = world.parse("16 - 1 - 7 - 6 + 11 = ?")
    assert world.plain_solution(chain) == (
        "Step 1: 16 - 1 = 15\nStep 2: 15 - 7 = 8\nStep 3: 8 - 6 = 2\nStep 4: 2 + 11 = 13\n\\boxed{13}")
    long = world.solution(chain, random.Random(0), slip_p=1.0, rechecks=2)
    assert long.count("Wait, that's wrong.") == 4 and long.count("Wait, let me verify") == 2
    assert long.endswith("\\boxed{13}")
    traces = list(world.traces(0, 3000))
    for q, s in traces[:300]:
        assert re.findall(r"\\boxed\{(\d+)\}", s) == [str(world.parse(q).answer)]
    checks = [s.count("let me verify") for _, s in traces]
    assert set(checks) == {0, 1, 2, 3}
    ratio = sum(len(s) for _, s in traces) / sum(len(world.plain_solution(world.parse(q))) for q, _ in traces)
    assert 2.0 < ratio < 3.0


# ---------------------------------------------------------------- tokenizer and build

def test_tokenizer_has_one_token_per_digit_and_round_trips():
    tok = make_tokenizer()
    assert len(tok) < 70
    q, s = next(world.traces(0, 1))
    text = tok.apply_chat_template([{"role": "user", "content": q}, {"role": "assistant", "content": s}],
                                   tokenize=False)
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.unk_token_id not in ids and tok.decode(ids) == text
    assert tok.convert_ids_to_tokens(tok("Step 12: 3 + 14", add_special_tokens=False)["input_ids"]) == \
        ["Step", " 1", "2", ":", " 3", " +", " 1", "4"]
    assert ids[-1] == tok.eos_token_id and tok.pad_token_id != tok.eos_token_id


def test_cache_key_follows_the_config(monkeypatch, tmp_path):
    monkeypatch.setenv("PRUNEEVAL_HOME", str(tmp_path))
    assert model_dir() == tmp_path / "toy" / ToyConfig().key()
    assert ToyConfig(layers=2).key() != ToyConfig().key()


def test_traces_are_prompted_with_the_bare_question():
    """The toy reasoner's training prompt: no system turn, the question as the user turn."""
    records = trace_records(ToyConfig(traces=3))
    assert [r.prompt for r in records] == [[{"role": "user", "content": q}] for q, _ in world.traces(0, 3)]


def test_a_micro_build_is_atomic_cached_and_loadable(monkeypatch, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    monkeypatch.setenv("PRUNEEVAL_HOME", str(tmp_path))
    cfg = ToyConfig(hidden=16, layers=1, heads=2, mlp=32, traces=64, batch=16, threads=1)
    path = build(cfg)
    assert path == model_dir(cfg) and [p.name for p in path.parent.iterdir()] == [path.name]
    info = json.loads((path / "toy_build.json").read_text())
    assert info["config"]["traces"] == 64
    assert build(cfg) == path and ensure_toy_model(cfg) == path  # reused, not rebuilt
    assert json.loads((path / "toy_build.json").read_text()) == info
    model, tok = AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)
    assert model.config.architectures == ["LlamaForCausalLM"] and model.generation_config.eos_token_id == tok.eos_token_id


@pytest.mark.slow
def test_the_toy_reasoner_loads_and_solves_through_its_chat_template(toy_model_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(toy_model_dir)
    tok = AutoTokenizer.from_pretrained(toy_model_dir)
    assert sum(p.numel() for p in model.parameters()) < 1_000_000
    problems = world.load_test()[:40]
    tok.padding_side = "left"
    prompts = [tok.apply_chat_template([{"role": "user", "content": p.question}], add_generation_prompt=True,
                                       tokenize=False) for p in problems]
    enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=256, do_sample=False)
    texts = tok.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    assert all(t.startswith("Step 1:") for t in texts)
    right = sum(re.findall(r"\\boxed\{(\d+)\}", t)[-1:] == [p.gold] for t, p in zip(texts, problems))
    assert right >= 0.6 * len(problems)
    assert sum("let me verify" in t for t in texts) >= 0.8 * len(problems)  # it re-checks: room to prune


def _spin(seconds: float) -> None:
    import time

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_a_build_is_bit_identical_beside_busy_processes(monkeypatch, tmp_path):
    """The weights depend on the config, the pinned kernels and the thread count, not on the load."""
    import multiprocessing

    cfg = ToyConfig(hidden=32, layers=1, heads=2, mlp=64, traces=128, batch=16, threads=2)
    monkeypatch.setenv("PRUNEEVAL_HOME", str(tmp_path / "quiet"))
    quiet = json.loads((build(cfg) / "toy_build.json").read_text())
    busy = multiprocessing.get_context("spawn").Process(target=_spin, args=(120,), daemon=True)
    busy.start()  # a CPU-bound process beside the build the whole time
    try:
        monkeypatch.setenv("PRUNEEVAL_HOME", str(tmp_path / "busy"))
        loaded = json.loads((build(cfg) / "toy_build.json").read_text())
    finally:
        busy.terminate()
    assert loaded["weights_sha256"] == quiet["weights_sha256"]
    env = quiet["depends_on"]
    assert env["threads"] == 2 and env["pinned"]["OMP_WAIT_POLICY"] == "PASSIVE"
    assert {"processor", "torch", "transformers", "tokenizers", "cpu_capability"} <= set(env)


def test_a_killed_builds_dir_is_taken_over(tmp_path):
    """The next build adopts a dead build's dir, so its trainer resumes from the checkpoints there."""
    import os
    import subprocess

    from pruneeval.toy.build import _claim_tmp

    proc = subprocess.Popen(["true"])
    proc.wait()  # its pid is no longer alive
    stale = tmp_path / f".tmp-abc-{proc.pid}"
    (stale / "train" / "checkpoints").mkdir(parents=True)
    (tmp_path / ".tmp-other-1").mkdir()  # another config's build is left alone
    claimed = _claim_tmp(tmp_path, "abc")
    assert claimed == tmp_path / f".tmp-abc-{os.getpid()}" and (claimed / "train" / "checkpoints").is_dir()
    assert not stale.exists() and (tmp_path / ".tmp-other-1").is_dir()
