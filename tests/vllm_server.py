"""Start and stop a real ``vllm serve`` on 127.0.0.1 for tests (a context manager).

The server runs in its own process group on a random free port; start-up waits for ``/health``
(and fails early with the log's tail if the process dies); teardown terminates the whole group
(API server, engine core, workers), then kills what is left."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def vllm_server(model: str | Path, log: Path, *args: str, timeout_s: float = 300.0):
    """Yield the base URL (``http://127.0.0.1:PORT/v1``) of ``vllm serve MODEL`` on CPU-friendly settings."""
    port = free_port()
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model), "--host", "127.0.0.1",
           "--port", str(port), "--dtype", "float32", "--enforce-eager", "--seed", "0", *args]
    env = {**os.environ, "VLLM_HOST_IP": "127.0.0.1", "VLLM_CPU_KVCACHE_SPACE": "1",
           "HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout_s
        while not _healthy(f"http://127.0.0.1:{port}/health"):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = Path(log).read_text(errors="replace")[-3000:]
                raise RuntimeError(f"vllm serve did not come up (exit {proc.poll()}):\n{tail}")
            time.sleep(1)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the group, up to 30 s for a clean exit, then SIGKILL to whatever is left of it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


# ---------------------------------------------------------------- comparing greedy outputs of two engines

NUMERIC_TIE = 1e-2  # logit gap below which two kernels' float32 rounding may pick either token


def divergence(hf_engine, messages: list[dict], a, b) -> tuple[int, float]:
    """Where two greedy completions of ``messages`` first differ, and the HF model's logit gap there
    between the two tokens taken (end-of-turn counts as a token).  A gap under ``NUMERIC_TIE`` means
    a near-tie that float rounding decides, not a difference in prompts, sampling or counting."""
    import torch

    end = -1
    ta = list(a.token_ids) + ([end] if a.finish_reason == "stop" else [])
    tb = list(b.token_ids) + ([end] if b.finish_reason == "stop" else [])
    k = next((i for i, (x, y) in enumerate(zip(ta, tb)) if x != y), None)
    if k is None:  # one is a prefix of the other: not a choice between two tokens
        return min(len(ta), len(tb)), float("inf")
    prompt = hf_engine.tokenizer(hf_engine.render(messages), add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        logits = hf_engine.model(torch.tensor([prompt + ta[:k]])).logits[0, -1].float()
    eos = max(hf_engine.eos_ids, key=lambda t: logits[t].item())
    pick = lambda t: logits[eos if t == end else t].item()  # noqa: E731
    return k, abs(pick(ta[k]) - pick(tb[k]))


def agreement(hf_engine, prompts: list, reference: list, other: list) -> tuple[int, list[tuple[int, int, float]]]:
    """(identical samples, [(prompt index, first differing position, logit gap)] for the others)."""
    same, diffs = 0, []
    for i, ((x,), (y,)) in enumerate(zip(reference, other)):
        if (x.token_ids, x.finish_reason) == (y.token_ids, y.finish_reason):
            same += 1
        else:
            diffs.append((i, *divergence(hf_engine, prompts[i], x, y)))
    return same, diffs


def assert_same_records(hf_engine, reference: list, other: list, min_same: int) -> None:
    """Two engines' eval records of the same problems agree: an identical output has the same count,
    finish reason and grade; a different one starts at a float near-tie (see :func:`divergence`).
    Holds for any valid model, whatever share of the problems it solves."""
    from types import SimpleNamespace

    same = 0
    for x, y in zip(reference, other, strict=True):
        assert x.problem_id == y.problem_id
        if x.output == y.output:
            same += 1
            assert (x.n_tokens, x.finish_reason, x.extracted, x.correct) == \
                (y.n_tokens, y.finish_reason, y.extracted, y.correct)
            continue
        ids = [hf_engine.tokenizer(r.output, add_special_tokens=False)["input_ids"] for r in (x, y)]
        a, b = (SimpleNamespace(token_ids=i, finish_reason=r.finish_reason) for i, r in zip(ids, (x, y)))
        k, gap = divergence(hf_engine, x.prompt, a, b)
        assert gap < NUMERIC_TIE, (x.problem_id, k, gap)
    assert same >= min_same, f"only {same} of {len(reference)} outputs identical"
