"""OpenAI-compatible engine: any ``/v1/chat/completions`` server (``vllm serve``, SGLang, ...).

Standard library only (``urllib`` in a thread pool of ``concurrency`` workers).  The server applies
the chat template.  Transient failures (connection errors, timeouts, HTTP 5xx and 429) are retried
with exponential backoff (``backoff_s * 2**attempt``, capped at ``max_backoff_s``, a server's
``Retry-After`` honoured); any other 4xx is raised at once: the same request would fail again.

Exact per-sample counts, two ways (``count``):

- ``token_ids`` (default): vLLM's ``return_token_ids`` extension returns each choice's generated
  token ids, one request carries all ``n`` samples.  The server keeps the end-of-turn token that
  stopped a sample in them (vLLM: ``finish_reason`` "stop" and no stop string); it is dropped here,
  as Length excludes it.
- ``usage``: for servers without the extension.  ``usage.completion_tokens`` sums over a response's
  choices, so each sample is its own request (n = 1, seeds ``seed + j``); the end-of-turn token,
  which vLLM and SGLang count there, is subtracted from a "stop".  No token ids come back.

Latency is per request: from sending it to its whole response (queueing at the server included);
with ``n`` > 1 every sample of a request gets that latency."""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

from ..errors import UserError
from .base import Completion, Messages, Sampling

SEED_STRIDE = 1_000_003  # per-request seeds: seed * stride + prompt index * n (+ sample index)
TRANSIENT_ERRORS = (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError, socket.timeout)


def server_url(base_url: str | None) -> str:
    """``base_url``, else $OPENAI_BASE_URL; a UserError when neither names a server."""
    url = base_url or os.environ.get("OPENAI_BASE_URL")
    if not url:
        raise UserError("the openai engine needs a server: --base-url http://HOST:PORT/v1")
    return url


class ServerError(UserError):
    """The server refused a request with a status that retrying cannot change (a 4xx but 429), or
    kept failing past the retries."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class _Transient(Exception):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class OpenAIEngine:
    name = "openai"

    def __init__(self, model: str, *, base_url: str | None = None, api_key: str | None = None,
                 concurrency: int = 16, count: str = "token_ids", max_retries: int = 6, backoff_s: float = 0.5,
                 max_backoff_s: float = 30.0, timeout_s: float = 3600.0, served_model: str | None = None,
                 batch_size: int = 256, revision: str | None = None, trust_remote_code: bool = False,
                 device: str | None = None):
        """``model`` names the model; the served name is ``served_model``, else ``model`` when the
        server lists it, else the server's only model.  ``base_url`` (default $OPENAI_BASE_URL)
        ends in ``/v1``; the key is ``api_key``, else $OPENAI_API_KEY, else "EMPTY".  ``batch_size``
        is the chunk size callers use; ``revision``, ``trust_remote_code`` and ``device`` belong to
        the server and are ignored here."""
        base_url = server_url(base_url)
        if count not in ("token_ids", "usage"):
            raise UserError(f"count={count!r}: expected token_ids or usage")
        self.base_url, self.model_id, self.count = base_url.rstrip("/"), model, count
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"
        self.concurrency, self.batch_size, self.revision = max(1, int(concurrency)), batch_size, revision or None
        self.max_retries, self.backoff_s, self.max_backoff_s = int(max_retries), float(backoff_s), float(max_backoff_s)
        self.timeout_s = float(timeout_s)
        self.retries = 0  # transient failures retried so far
        self._lock, self._rng, self._sleep = threading.Lock(), random.Random(0), time.sleep
        self.served_model = served_model or self._resolve_model(model)

    def describe(self) -> dict:
        return {"engine": self.name, "model": self.model_id, "served_model": self.served_model,
                "base_url": self.base_url, "revision": self.revision, "count": self.count,
                "concurrency": self.concurrency, "latency": "per request, client side (send to full response)"}

    # ---------------------------------------------------------------- generation

    def generate(self, prompts: Sequence[Messages], sampling: Sampling) -> list[list[Completion]]:
        split = self.count == "usage" and sampling.n > 1  # usage sums over choices: one sample a request
        jobs = [(i, j) for i in range(len(prompts)) for j in (range(sampling.n) if split else [None])]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, max(1, len(jobs)))) as pool:
            futures = [pool.submit(self._one, prompts[i], sampling, i, j) for i, j in jobs]
            try:
                results = [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
        out: list[list[Completion]] = [[] for _ in prompts]
        for (i, _), comps in zip(jobs, results):
            out[i].extend(comps)
        return out

    def _one(self, messages: Messages, sampling: Sampling, index: int, sample: int | None) -> list[Completion]:
        n = 1 if sample is not None else sampling.n
        body = {"model": self.served_model, "messages": messages, "n": n, "max_tokens": sampling.max_tokens}
        if sampling.greedy:
            body.update(temperature=0.0, top_p=1.0)
        else:
            body.update(temperature=sampling.temperature, top_p=sampling.top_p,
                        seed=sampling.seed * SEED_STRIDE + index * sampling.n + (sample or 0))
        if self.count == "token_ids":
            body["return_token_ids"] = True
        t0 = time.perf_counter()
        resp = self._call("POST", "/chat/completions", body)
        latency = time.perf_counter() - t0
        choices = sorted(resp.get("choices") or [], key=lambda c: c.get("index", 0))
        if len(choices) != n:
            raise ServerError(f"{self.base_url}: asked for {n} choices, got {len(choices)}")
        return [self._completion(c, resp, latency) for c in choices]

    def _completion(self, choice: dict, resp: dict, latency: float) -> Completion:
        finish = choice.get("finish_reason")
        if finish not in ("stop", "length"):
            raise ServerError(f"{self.base_url}: a sample finished with {finish!r}")
        text = (choice.get("message") or {}).get("content") or ""
        stopped_by_token = finish == "stop" and not isinstance(choice.get("stop_reason"), str)
        if self.count == "usage":
            n = int(resp["usage"]["completion_tokens"]) - int(stopped_by_token)
            return Completion(text=text, n_tokens=max(n, 0), finish_reason=finish, latency_s=latency)
        ids = choice.get("token_ids")
        if ids is None:
            raise ServerError(f"{self.base_url}: the server returned no token_ids (vLLM's return_token_ids "
                              "extension); use the engine option count=usage")
        ids = list(ids)
        if stopped_by_token and ids:
            ids.pop()  # the end-of-turn token that stopped the sample
        return Completion(text=text, n_tokens=len(ids), finish_reason=finish, latency_s=latency,
                          token_ids=tuple(ids))

    def _resolve_model(self, model: str) -> str:
        served = [m.get("id") for m in self._call("GET", "/models").get("data", [])]
        if model in served:
            return model
        if len(served) == 1:
            return served[0]
        raise UserError(f"{self.base_url} serves {', '.join(map(str, served)) or 'no model'}; "
                        f"not {model!r} (pick one with the engine option served_model)")

    # ---------------------------------------------------------------- HTTP with retries

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        for attempt in range(self.max_retries + 1):
            try:
                return self._request(method, path, body)
            except _Transient as e:
                if attempt == self.max_retries:
                    raise ServerError(f"{self.base_url}{path}: {e} (gave up after {attempt + 1} tries)") from None
                with self._lock:
                    self.retries += 1
                    jitter = self._rng.uniform(0.0, 0.25)
                delay = min(self.max_backoff_s, self.backoff_s * 2 ** attempt) * (1.0 + jitter)
                self._sleep(max(delay, min(e.retry_after or 0.0, self.max_backoff_s)))
        raise AssertionError("unreachable")

    def _request(self, method: str, path: str, body: dict | None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url + path, data=data, method=method, headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {self.api_key}"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            detail = _error_text(e)
            if e.code == 429 or e.code >= 500:
                raise _Transient(f"HTTP {e.code}: {detail}", _retry_after(e.headers.get("Retry-After"))) from None
            raise ServerError(f"{self.base_url}{path}: HTTP {e.code}: {detail}", e.code) from None
        except TRANSIENT_ERRORS as e:
            raise _Transient(f"{type(e).__name__}: {getattr(e, 'reason', e)}") from None


def _error_text(e: urllib.error.HTTPError) -> str:
    try:
        raw = e.read().decode(errors="replace")
    except Exception:  # the body is only for the message
        return e.reason or ""
    try:
        err = json.loads(raw)
        err = err.get("error", err) if isinstance(err, dict) else err
        return str(err.get("message", err) if isinstance(err, dict) else err)[:500]
    except ValueError:
        return raw[:500]


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
