"""HF engine: exact per-row token counts, batch-size invariance, sampling with n."""

from types import SimpleNamespace

from pruneeval.benchmarks import load
from pruneeval.engines import Sampling, make_engine
from pruneeval.engines.base import end_of_turn_ids
from pruneeval.prompts import build_messages


def _prompts(data_dir, n=16):
    return [build_messages(p.question, "You are helpful.", "Solve the problem: {question}")
            for p in load("gsm8k", data_dir, n)]


def test_counts_match_token_ids_and_batch_sizes_agree(tiny_model, data_dir):
    prompts = _prompts(data_dir)
    e1 = make_engine("hf", str(tiny_model), batch_size=1)
    e8 = make_engine("hf", str(tiny_model), batch_size=8)
    s = Sampling(max_tokens=48)
    a, b = e1.generate(prompts, s), e8.generate(prompts, s)
    assert {c[0].finish_reason for c in b} == {"stop", "length"}, "fixture should mix early stops and limits"
    for (x,), (y,) in zip(a, b):
        assert (x.text, x.token_ids, x.n_tokens, x.finish_reason) == (y.text, y.token_ids, y.n_tokens, y.finish_reason)
    for (c,) in b:
        assert c.n_tokens == len(c.token_ids)
        assert e8.eos_ids.isdisjoint(c.token_ids)  # end-of-turn excluded, nothing after it counted
        if c.finish_reason == "length":
            assert c.n_tokens == 48
        else:  # the end-of-turn token took one of the 48 steps and is not counted
            assert c.n_tokens < 48
        assert c.latency_s > 0
        assert e8.tokenizer.decode(list(c.token_ids), skip_special_tokens=True) == c.text
    i, c = next((i, c) for i, (c,) in enumerate(b) if c.finish_reason == "stop" and c.n_tokens)
    (cut,), = e1.generate([prompts[i]], Sampling(max_tokens=c.n_tokens))  # the stop is the very next token
    (room,), = e1.generate([prompts[i]], Sampling(max_tokens=c.n_tokens + 1))
    assert (cut.finish_reason, cut.token_ids) == ("length", c.token_ids)
    assert (room.finish_reason, room.token_ids) == ("stop", c.token_ids)


def test_row_counts_equal_a_solo_generation(tiny_model, data_dir):
    """A row of a batch stops where it stops alone: transformers pads it, we do not count the padding."""
    prompts = _prompts(data_dir, 8)
    e = make_engine("hf", str(tiny_model), batch_size=8)
    batch = e.generate(prompts, Sampling(max_tokens=48))
    stopped = [i for i, (c,) in enumerate(batch) if c.finish_reason == "stop"]
    assert stopped
    for i in stopped[:3]:
        (solo,), = e.generate([prompts[i]], Sampling(max_tokens=48))
        assert solo.token_ids == batch[i][0].token_ids


def test_sampling_n_and_seed(tiny_model, data_dir):
    prompts = _prompts(data_dir, 3)
    e = make_engine("hf", str(tiny_model), batch_size=8)
    s = Sampling(n=4, temperature=0.8, top_p=0.9, max_tokens=16, seed=3)
    a, b = e.generate(prompts, s), e.generate(prompts, s)
    assert [len(r) for r in a] == [4, 4, 4]
    assert [[c.token_ids for c in r] for r in a] == [[c.token_ids for c in r] for r in b]  # same seed
    assert len({c.token_ids for c in a[0]}) > 1  # the n samples differ
    assert all(c.n_tokens == len(c.token_ids) for r in a for c in r)


def test_end_of_turn_ids_join_the_generation_configs_and_the_tokenizers():
    tok, no_eos = SimpleNamespace(eos_token_id=2), SimpleNamespace(eos_token_id=None)
    assert end_of_turn_ids(7, tok) == {2, 7} and end_of_turn_ids([7, 8], tok) == {2, 7, 8}
    assert end_of_turn_ids(None, tok) == {2} and end_of_turn_ids([2], no_eos) == {2}
    assert end_of_turn_ids(None, no_eos) == set()
