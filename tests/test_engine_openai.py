"""OpenAI-compatible engine: retries and backoff against a scripted local HTTP server (transient
errors retried, other 4xx not), exact per-choice counts, bounded concurrency; then against a real
``vllm serve`` of the toy reasoner: greedy outputs equal the hf and vllm engines', the eval runner,
n samples per request."""

from __future__ import annotations

import importlib.util
import json
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import pruneeval.engines.openai as oa
from pruneeval.engines import Sampling, make_engine
from pruneeval.errors import UserError

MSG = [{"role": "user", "content": "3 + 4 = ?"}]


def reply(*choices: tuple, completion_tokens: int | None = None) -> dict:
    """A chat completion with choices (token_ids, finish_reason[, stop_reason])."""
    cs = [{"index": i, "message": {"role": "assistant", "content": f"text{i}"}, "finish_reason": c[1],
           "stop_reason": c[2] if len(c) > 2 else None, "token_ids": c[0]} for i, c in enumerate(choices)]
    used = sum(len(c[0]) for c in choices) if completion_tokens is None else completion_tokens
    return {"choices": cs, "usage": {"completion_tokens": used}}


class Scripted:
    """A local HTTP server answering each request with the next scripted (status, body, headers)."""

    def __init__(self, script: list, delay_s: float = 0.0):
        self.script, self.requests, self.delay_s = list(script), [], delay_s
        self.inflight = self.max_inflight = 0
        lock, outer = threading.Lock(), self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self):
                size = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(size)) if size else None
                with lock:
                    outer.requests.append((self.command, self.path, body))
                    outer.inflight += 1
                    outer.max_inflight = max(outer.max_inflight, outer.inflight)
                    step = outer.script.pop(0) if len(outer.script) > 1 else outer.script[0]
                time.sleep(outer.delay_s)
                status, payload, headers = (*step, {})[:3] if isinstance(step, tuple) else (200, step, {})
                data = json.dumps(payload).encode()
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                with lock:
                    outer.inflight -= 1

            do_GET = do_POST = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def scripted():
    servers = []

    def start(script, delay_s=0.0):
        servers.append(Scripted(script, delay_s))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def engine(url: str, **kw):
    return make_engine("openai", "toy", base_url=url, served_model="toy", backoff_s=0.01, **kw)


# ---------------------------------------------------------------- HTTP behaviour (no vLLM needed)

def test_transient_errors_are_retried_with_backoff(scripted):
    srv = scripted([(503, {"error": {"message": "overloaded"}}), (429, {}, {"Retry-After": "0"}),
                    (502, "bad gateway"), reply(([7, 8, 9, 5], "stop"))])
    slept = []
    e = engine(srv.url)
    e._sleep = slept.append
    ((c,),) = e.generate([MSG], Sampling(max_tokens=16))
    assert (c.token_ids, c.n_tokens, c.finish_reason, c.text) == ((7, 8, 9), 3, "stop", "text0")
    assert len(srv.requests) == 4 and e.retries == 3 and len(slept) == 3
    for attempt, delay in enumerate(slept):  # 0.01 * 2**attempt, plus up to 25% jitter
        assert 0.01 * 2 ** attempt <= delay <= 0.0125 * 2 ** attempt


def test_client_errors_are_not_retried(scripted):
    srv = scripted([(400, {"error": {"message": "max_tokens is too large"}}), reply(([1], "stop"))])
    with pytest.raises(oa.ServerError, match="HTTP 400: max_tokens is too large") as err:
        engine(srv.url).generate([MSG], Sampling(max_tokens=10**6))
    assert err.value.status == 400 and len(srv.requests) == 1


def test_unreachable_server_gives_up_after_the_retries():
    from vllm_server import free_port

    e = make_engine("openai", "toy", base_url=f"http://127.0.0.1:{free_port()}/v1", served_model="toy",
                    backoff_s=0.01, max_retries=2)
    t0 = time.perf_counter()
    with pytest.raises(oa.ServerError, match="gave up after 3 tries"):
        e.generate([MSG], Sampling())
    assert time.perf_counter() - t0 >= 0.03  # slept 0.01 + 0.02 at least


def test_counts_request_body_and_bounded_concurrency(scripted):
    srv = scripted([reply(([4, 5, 99], "stop"), ([4, 5, 6, 7], "length"), ([4, 99], "stop", "</s>"))], delay_s=0.05)
    e = engine(srv.url, concurrency=3)
    out = e.generate([MSG] * 8, Sampling(n=3, temperature=0.7, top_p=0.9, max_tokens=4, seed=2))
    assert [len(r) for r in out] == [3] * 8
    a, b, c = out[0]
    assert (a.token_ids, a.n_tokens) == ((4, 5), 2)  # end-of-turn dropped
    assert (b.token_ids, b.n_tokens, b.finish_reason) == ((4, 5, 6, 7), 4, "length")  # nothing dropped
    assert (c.token_ids, c.n_tokens) == ((4, 99), 2)  # stopped by a string: its tokens count
    assert all(x.latency_s >= 0.05 for r in out for x in r)
    assert len(srv.requests) == 8 and srv.max_inflight <= 3
    bodies = [b for _, _, b in srv.requests]
    assert all(b["n"] == 3 and b["return_token_ids"] and b["model"] == "toy" and b["top_p"] == 0.9 for b in bodies)
    assert sorted(b["seed"] for b in bodies) == [2 * oa.SEED_STRIDE + 3 * i for i in range(8)]


def test_usage_counts_send_one_request_per_sample(scripted):
    srv = scripted([reply(([4, 5, 6], "stop"))])  # usage.completion_tokens = 3, end-of-turn included
    e = engine(srv.url, count="usage")
    (row,) = e.generate([MSG], Sampling(n=4, temperature=1.0, seed=0))
    assert [c.n_tokens for c in row] == [2] * 4 and all(c.token_ids == () for c in row)
    assert [b["n"] for _, _, b in srv.requests] == [1] * 4 and "return_token_ids" not in srv.requests[0][2]
    assert sorted(b["seed"] for _, _, b in srv.requests) == [0, 1, 2, 3]


def test_served_model_is_resolved_from_the_server(scripted, monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    one = scripted([{"data": [{"id": "/models/toy"}]}])
    assert make_engine("openai", "toy", base_url=one.url).served_model == "/models/toy"
    two = scripted([{"data": [{"id": "a"}, {"id": "b"}]}])
    assert make_engine("openai", "b", base_url=two.url).served_model == "b"
    with pytest.raises(UserError, match="serves a, b"):
        make_engine("openai", "toy", base_url=two.url)
    with pytest.raises(UserError, match="--base-url"):
        make_engine("openai", "toy")


# ---------------------------------------------------------------- a real vllm serve

needs_vllm = pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vLLM is not installed")


@pytest.fixture(scope="module")
def server(toy_model_dir, tmp_path_factory):
    from vllm_server import vllm_server

    log = tmp_path_factory.mktemp("vllm-serve") / "serve.log"
    with vllm_server(toy_model_dir, log, "--max-model-len", "1024") as url:
        yield url


def _prompts(n: int, benchmark: str = "toy"):
    from pruneeval import presets
    from pruneeval.benchmarks import load
    from pruneeval.prompts import build_messages

    p = presets.resolve("toy")
    return [build_messages(x.question, p.system_prompt, p.user_template) for x in load(benchmark, None, n)]


@needs_vllm
@pytest.mark.slow
def test_budget_forcing_through_the_server_continues_exact_tokens(toy_model_dir, server):
    """Two stages through a real server: the prompt ids are the server's rendering (the HF
    engine's), stage 2 goes to /v1/completions as token ids and comes back as the server's own
    continuation of them, and the counts add up."""
    from test_thinking import check_two_stage_accounting

    from pruneeval import presets

    p = presets.resolve("toy")
    api = make_engine("openai", str(toy_model_dir), base_url=server)
    hf = make_engine("hf", str(toy_model_dir), batch_size=12)
    prompts = _prompts(8)
    assert [api.prompt_ids(m) for m in prompts] == [hf.prompt_ids(m) for m in prompts]
    assert api.encode(p.budget_force) == hf.encode(p.budget_force)
    check_two_stage_accounting(api, prompts, budget=20, answer_budget=6, max_tokens=96, think_end=p.think_end,
                               force=p.budget_force)


@needs_vllm
@pytest.mark.slow
def test_greedy_hf_vllm_and_openai_agree(toy_model_dir, server):
    from vllm_server import NUMERIC_TIE, agreement

    prompts, s = _prompts(12), Sampling(max_tokens=96)
    hf = make_engine("hf", str(toy_model_dir), batch_size=12)
    api = make_engine("openai", str(toy_model_dir), base_url=server)
    t0 = time.perf_counter()
    via_api = api.generate(prompts, s)
    wall = time.perf_counter() - t0
    offline = make_engine("vllm", str(toy_model_dir), kv_cache_gib=1)
    try:
        via_vllm = offline.generate(prompts, s)
    finally:
        offline.close()
    ref = hf.generate(prompts, s)
    assert {c.finish_reason for (c,) in via_api} == {"stop", "length"}
    for (c,) in via_api:
        assert c.n_tokens == len(c.token_ids) and hf.eos_ids.isdisjoint(c.token_ids)
        assert hf.tokenizer.decode(list(c.token_ids), skip_special_tokens=True) == c.text
    results = {name: agreement(hf, prompts, ref, out) for name, out in (("vllm", via_vllm), ("openai", via_api))}
    print(f"\ngreedy agreement with hf (12 toy problems): {results}; "
          f"openai {sum(c.n_tokens for (c,) in via_api) / wall:.0f} tokens/s")
    for same, diffs in results.values():
        assert same >= 10 and all(gap < NUMERIC_TIE for _, _, gap in diffs), diffs
    assert [(c.token_ids, c.text) for (c,) in via_api] == [(c.token_ids, c.text) for (c,) in via_vllm]
    # the server renders the chat prompt exactly as the hf engine does
    body = {"model": api.served_model, "messages": prompts[0], "max_tokens": 1, "return_token_ids": True}
    req = urllib.request.Request(f"{server}/chat/completions", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        served = json.loads(r.read())["prompt_token_ids"]
    assert served == hf.tokenizer(hf.render(prompts[0]), add_special_tokens=False)["input_ids"]


@needs_vllm
@pytest.mark.slow
def test_eval_task_through_the_server(toy_model_dir, server, tmp_path):
    from vllm_server import assert_same_records

    from pruneeval.evaluate import PromptSpec, RunSpec, evaluate_task
    from pruneeval.records import RecordStore

    e = make_engine("openai", str(toy_model_dir), base_url=server, concurrency=4)
    hf = make_engine("hf", str(toy_model_dir), batch_size=8)
    spec = RunSpec(PromptSpec("", "{question}"), Sampling(max_tokens=256))
    summary = evaluate_task(e, "toy_len", tmp_path / "api", spec, limit=8, model_name="toy", grade_workers=1)
    evaluate_task(hf, "toy_len", tmp_path / "hf", spec, limit=8, model_name="toy", grade_workers=1)
    records, ref = (RecordStore(tmp_path / d / "toy_len" / "samples.jsonl").load() for d in ("api", "hf"))
    assert len(records) == 8 and all(r.n_tokens > 0 and r.latency_s > 0 for r in records)
    assert summary["manifest"]["engine"]["engine"] == "openai"
    assert_same_records(hf, ref, records, min_same=6)  # same outputs, counts and grades as the hf engine


@needs_vllm
@pytest.mark.slow
def test_n_samples_per_request_and_usage_counts_agree(toy_model_dir, server):
    prompts = _prompts(3, "toy_train")
    s = Sampling(n=4, temperature=0.7, max_tokens=96, seed=5)
    ids = make_engine("openai", str(toy_model_dir), base_url=server)
    a, b = ids.generate(prompts, s), ids.generate(prompts, s)
    assert [len(r) for r in a] == [4, 4, 4]
    assert [[c.token_ids for c in r] for r in a] == [[c.token_ids for c in r] for r in b]  # seeded
    assert all(len({c.token_ids for c in r}) > 1 for r in a)
    # count=usage: one request per sample with seed + j, which is how vLLM seeds the n children
    usage = make_engine("openai", str(toy_model_dir), base_url=server, count="usage").generate(prompts, s)
    assert [[c.n_tokens for c in r] for r in usage] == [[c.n_tokens for c in r] for r in a]
    assert [[c.text for c in r] for r in usage] == [[c.text for c in r] for r in a]
