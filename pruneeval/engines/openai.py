"""OpenAI-compatible engine: any ``/v1/chat/completions`` server (``vllm serve``, SGLang, ...).

Standard library only (``http.client`` on ``concurrency`` daemon threads).  The server applies
the chat template.  Transient failures (connection errors, timeouts, HTTP 5xx and 429) are retried
with exponential backoff (``backoff_s * 2**attempt``, capped at ``max_backoff_s``, a server's
``Retry-After`` honoured); any other 4xx is raised at once: the same request would fail again.

Every wait is bounded: ``connect_timeout_s`` to connect, ``read_timeout_s`` of silence while
reading, and ``deadline_s`` for a request with all its retries.  An interrupted ``generate``
(Ctrl-C) cuts its open connections and waits for no thread.  Redirects are never followed (the
key would go wherever they point, and a POST would turn into a GET), and no proxy is used.  What
a server answers is checked: integer token ids, a count that fits the text.

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
import queue
import random
import socket
import ssl
import threading
import time
from typing import Callable, Sequence
from urllib.parse import urlsplit

from ..errors import UserError
from .base import SEED_STRIDE, Completion, Messages, Sampling
TRANSIENT_ERRORS = (http.client.HTTPException, OSError)  # connection refused or cut, timeouts
MAX_RESPONSE_BYTES = 256 << 20


def server_url(base_url: str | None) -> str:
    """``base_url``, else $OPENAI_BASE_URL; a UserError when neither names an http(s) server."""
    url = base_url or os.environ.get("OPENAI_BASE_URL")
    if not url:
        raise UserError("the openai engine needs a server: --base-url http://HOST:PORT/v1")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(f"--base-url {url!r}: expected http://HOST:PORT/v1 (or https://)")
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


class _Calls:
    """The requests of one ``generate``: ``cancel`` stops new tries and cuts every open socket."""

    def __init__(self):
        self.stopped, self.socks, self.lock = threading.Event(), set(), threading.Lock()

    def open(self, sock: socket.socket) -> None:
        with self.lock:
            self.socks.add(sock)
        if self.stopped.is_set():
            raise _Cancelled()

    def close(self, sock: socket.socket) -> None:
        with self.lock:
            self.socks.discard(sock)

    def cancel(self) -> None:
        self.stopped.set()
        with self.lock:
            for sock in self.socks:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class _Cancelled(Exception):
    pass


class OpenAIEngine:
    name = "openai"

    def __init__(self, model: str, *, base_url: str | None = None, api_key: str | None = None,
                 concurrency: int = 16, count: str = "token_ids", max_retries: int = 6, backoff_s: float = 0.5,
                 max_backoff_s: float = 30.0, connect_timeout_s: float = 10.0, read_timeout_s: float = 600.0,
                 deadline_s: float = 1800.0, served_model: str | None = None,
                 batch_size: int = 256, revision: str | None = None, trust_remote_code: bool = False,
                 device: str | None = None):
        """``model`` names the model; the served name is ``served_model``, else ``model`` when the
        server lists it, else the server's only model.  ``base_url`` (default $OPENAI_BASE_URL)
        ends in ``/v1``; the key is ``api_key``, else $OPENAI_API_KEY, else "EMPTY".  ``batch_size``
        is the chunk size callers use; ``revision``, ``trust_remote_code`` and ``device`` belong to
        the server and are ignored here.  ``read_timeout_s`` is the longest silence while waiting
        for a response, which arrives whole: it bounds a generation's time at the server."""
        base_url = server_url(base_url)
        if count not in ("token_ids", "usage"):
            raise UserError(f"count={count!r}: expected token_ids or usage")
        self.base_url, self.model_id, self.count = base_url.rstrip("/"), model, count
        self.root_url = self.base_url.removesuffix("/v1")  # vLLM serves /tokenize beside /v1
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"
        self.concurrency, self.batch_size, self.revision = max(1, int(concurrency)), batch_size, revision or None
        self.max_retries, self.backoff_s, self.max_backoff_s = int(max_retries), float(backoff_s), float(max_backoff_s)
        self.connect_timeout_s, self.read_timeout_s = float(connect_timeout_s), float(read_timeout_s)
        self.deadline_s = float(deadline_s)
        if min(self.connect_timeout_s, self.read_timeout_s, self.deadline_s) <= 0:
            raise UserError("timeouts and the request deadline must be > 0 seconds")
        self.retries = 0  # transient failures retried so far
        self._lock, self._rng = threading.Lock(), random.Random(0)
        self._sleep: Callable[[float], object] | None = None  # None: wait, unless the calls are cancelled
        self.served_model = served_model or self._resolve_model(model)

    def describe(self) -> dict:
        return {"engine": self.name, "model": self.model_id, "served_model": self.served_model,
                "base_url": self.base_url, "revision": self.revision, "count": self.count,
                "concurrency": self.concurrency, "latency": "per request, client side (send to full response)"}

    # ---------------------------------------------------------------- generation

    def generate(self, prompts: Sequence[Messages], sampling: Sampling) -> list[list[Completion]]:
        return self._generate([{"messages": m} for m in prompts], "/chat/completions", sampling)

    def generate_ids(self, prompts: Sequence[Sequence[int]], sampling: Sampling) -> list[list[Completion]]:
        """From exact token ids, through ``/completions`` (a token-id prompt); needs count=token_ids."""
        self.require_token_ids("generation from token ids")
        return self._generate([{"prompt": list(p)} for p in prompts], "/completions", sampling)

    def prompt_ids(self, messages: Messages) -> list[int]:
        """The server's rendering of ``messages`` (vLLM's ``/tokenize``, chat template with the
        generation prompt): the ids its chat endpoint feeds the model."""
        return self._tokenize({"messages": messages, "add_generation_prompt": True, "add_special_tokens": False})

    def encode(self, text: str) -> list[int]:
        return self._tokenize({"prompt": text, "add_special_tokens": False})

    def _tokenize(self, body: dict) -> list[int]:
        self.require_token_ids("tokenizing at the server")
        resp = self._call("POST", "/tokenize", {"model": self.served_model, **body}, _Calls(), root=True)
        ids = resp.get("tokens")
        if not isinstance(ids, list) or not all(_is_int(i) and i >= 0 for i in ids):
            raise ServerError(f"{self.root_url}/tokenize: 'tokens' is not a list of token ids")
        return ids

    def require_token_ids(self, what: str) -> None:
        if self.count != "token_ids":
            raise UserError(f"{what} needs the server's token ids (vLLM's /tokenize and return_token_ids); "
                            "the engine option count=usage has none")

    def _generate(self, inputs: list[dict], path: str, sampling: Sampling) -> list[list[Completion]]:
        split = self.count == "usage" and sampling.n > 1  # usage sums over choices: one sample a request
        jobs = [(i, j) for i in range(len(inputs)) for j in (range(sampling.n) if split else [None])]
        calls = _Calls()
        results = self._map(lambda i, j: self._one(inputs[i], path, sampling, i, j, calls), jobs, calls)
        out: list[list[Completion]] = [[] for _ in inputs]
        for (i, _), comps in zip(jobs, results):
            out[i].extend(comps)
        return out

    def _map(self, fn, jobs: list, calls: _Calls) -> list:
        """``fn(*job)`` for every job on up to ``concurrency`` daemon threads, results in job order.
        The first error (Ctrl-C included) cancels ``calls`` and is raised at once: no thread is
        waited for, so a server that never answers cannot hold the process."""
        todo, done = queue.SimpleQueue(), queue.SimpleQueue()
        for item in enumerate(jobs):
            todo.put(item)

        def worker():
            while not calls.stopped.is_set():
                try:
                    i, job = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    done.put((i, fn(*job), None))
                except BaseException as e:  # handed to the waiting thread
                    done.put((i, None, e))

        for _ in range(min(self.concurrency, len(jobs))):
            threading.Thread(target=worker, daemon=True, name="pruneeval-openai").start()
        results = [None] * len(jobs)
        try:
            for _ in jobs:
                while True:
                    try:
                        i, value, error = done.get(timeout=0.2)  # short waits: Ctrl-C is seen at once
                        break
                    except queue.Empty:
                        pass
                if error is not None:
                    raise error
                results[i] = value
        except BaseException:
            calls.cancel()
            raise
        return results

    def _one(self, inputs: dict, path: str, sampling: Sampling, index: int, sample: int | None,
             calls: _Calls) -> list[Completion]:
        n = 1 if sample is not None else sampling.n
        body = {"model": self.served_model, **inputs, "n": n, "max_tokens": sampling.max_tokens}
        if sampling.greedy:
            body.update(temperature=0.0, top_p=1.0)
        else:
            body.update(temperature=sampling.temperature, top_p=sampling.top_p,
                        seed=sampling.seed * SEED_STRIDE + index * sampling.n + (sample or 0))
        if self.count == "token_ids":
            body["return_token_ids"] = True
        t0 = time.perf_counter()
        resp = self._call("POST", path, body, calls)
        latency = time.perf_counter() - t0
        choices = resp.get("choices")
        if not isinstance(choices, list) or not all(isinstance(c, dict) and _is_int(c.get("index", 0))
                                                    for c in choices):
            raise ServerError(f"{self.base_url}: 'choices' is not a list of choices")
        choices = sorted(choices, key=lambda c: c.get("index", 0))
        if len(choices) != n:
            raise ServerError(f"{self.base_url}: asked for {n} choices, got {len(choices)}")
        return [self._completion(c, resp, latency) for c in choices]

    def _completion(self, choice: dict, resp: dict, latency: float) -> Completion:
        finish = choice.get("finish_reason")
        if finish not in ("stop", "length"):
            raise ServerError(f"{self.base_url}: a sample finished with {finish!r}")
        message = choice.get("message")
        text = message.get("content") if isinstance(message, dict) else choice.get("text")  # chat, completions
        if not isinstance(text, (str, type(None))):
            raise ServerError(f"{self.base_url}: a choice's message content is not text")
        text = text or ""
        stopped_by_token = finish == "stop" and not isinstance(choice.get("stop_reason"), str)
        if self.count == "usage":
            used = (resp.get("usage") or {}).get("completion_tokens") if isinstance(resp.get("usage"), dict) else None
            if not _is_int(used) or used < 0:
                raise ServerError(f"{self.base_url}: usage.completion_tokens is {used!r}, not a token count")
            n = max(used - int(stopped_by_token), 0)
            if text and not n:
                raise ServerError(f"{self.base_url}: {len(text)} characters of text counted as 0 tokens")
            return Completion(text=text, n_tokens=n, finish_reason=finish, latency_s=latency)
        ids = choice.get("token_ids")
        if ids is None:
            raise ServerError(f"{self.base_url}: the server returned no token_ids (vLLM's return_token_ids "
                              "extension); use the engine option count=usage")
        if not isinstance(ids, list) or not all(_is_int(i) and i >= 0 for i in ids):
            raise ServerError(f"{self.base_url}: token_ids is not a list of token ids (integers >= 0)")
        ids = list(ids)
        if stopped_by_token and ids:
            ids.pop()  # the end-of-turn token that stopped the sample
        if text and not ids:
            raise ServerError(f"{self.base_url}: {len(text)} characters of text came with no token ids")
        return Completion(text=text, n_tokens=len(ids), finish_reason=finish, latency_s=latency,
                          token_ids=tuple(ids))

    def _resolve_model(self, model: str) -> str:
        data = self._call("GET", "/models", None, _Calls()).get("data")
        served = [m.get("id") for m in data if isinstance(m, dict)] if isinstance(data, list) else []
        if model in served:
            return model
        if len(served) == 1:
            return served[0]
        raise UserError(f"{self.base_url} serves {', '.join(map(str, served)) or 'no model'}; "
                        f"not {model!r} (pick one with the engine option served_model)")

    # ---------------------------------------------------------------- HTTP with retries and deadlines

    def _call(self, method: str, path: str, body: dict | None, calls: _Calls, root: bool = False) -> dict:
        """``path`` under the base URL (``/v1``), or under the server's root with ``root``."""
        deadline = time.monotonic() + self.deadline_s
        base = self.root_url if root else self.base_url
        for attempt in range(self.max_retries + 1):
            try:
                return self._request(method, base, path, body, calls, deadline)
            except _Transient as e:
                left = deadline - time.monotonic()
                if calls.stopped.is_set():
                    raise _Cancelled() from None
                if attempt == self.max_retries or left <= 0:
                    why = "the request deadline" if left <= 0 else f"{attempt + 1} tries"
                    raise ServerError(f"{base}{path}: {e} (gave up after {why})") from None
                with self._lock:
                    self.retries += 1
                    jitter = self._rng.uniform(0.0, 0.25)
                delay = min(self.max_backoff_s, self.backoff_s * 2 ** attempt) * (1.0 + jitter)
                delay = min(max(delay, min(e.retry_after or 0.0, self.max_backoff_s)), left)
                (self._sleep or calls.stopped.wait)(delay)
        raise AssertionError("unreachable")

    def _request(self, method: str, base: str, path: str, body: dict | None, calls: _Calls,
                 deadline: float) -> dict:
        url = urlsplit(base + path)
        target = url.path + (f"?{url.query}" if url.query else "")
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.api_key}"}
        kind = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        conn, sock = kind(url.hostname, url.port, timeout=self._wait(self.connect_timeout_s, deadline)), None
        try:
            conn.connect()
            sock = conn.sock
            calls.open(sock)
            sock.settimeout(self._wait(self.read_timeout_s, deadline))
            conn.request(method, target, body=data, headers=headers)
            resp = conn.getresponse()
            raw = self._read(resp, sock, deadline)
        except ssl.SSLCertVerificationError as e:
            raise ServerError(f"{self.base_url}: {e}") from None
        except TRANSIENT_ERRORS as e:
            raise _Transient(f"{type(e).__name__}: {e}") from None
        finally:
            if sock is not None:
                calls.close(sock)
            conn.close()
        detail = _error_text(raw)
        if 300 <= resp.status < 400:
            raise ServerError(f"{base}{path}: HTTP {resp.status} redirect to {resp.getheader('Location')!r} "
                              "not followed (the key stays with the server named); use the final address as --base-url",
                              resp.status)
        if resp.status == 429 or resp.status >= 500:
            raise _Transient(f"HTTP {resp.status}: {detail}", _retry_after(resp.getheader("Retry-After")))
        if resp.status >= 400:
            raise ServerError(f"{base}{path}: HTTP {resp.status}: {detail}", resp.status)
        try:
            obj = json.loads(raw)
        except ValueError:
            obj = None
        if not isinstance(obj, dict):
            raise ServerError(f"{base}{path}: the answer is not a JSON object: {detail[:200]!r}")
        return obj

    def _wait(self, timeout: float, deadline: float) -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise _Transient("the request deadline passed")
        return min(timeout, left)

    def _read(self, resp: http.client.HTTPResponse, sock: socket.socket, deadline: float) -> bytes:
        """The whole body, every wait bounded by the read timeout and the request's deadline."""
        chunks, size = [], 0
        while True:
            sock.settimeout(self._wait(self.read_timeout_s, deadline))
            chunk = resp.read1(1 << 16)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise ServerError(f"{self.base_url}: an answer over {MAX_RESPONSE_BYTES >> 20} MiB")
            chunks.append(chunk)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _error_text(raw: bytes) -> str:
    """A server's error message from its answer (JSON ``error.message`` or the text), cut to 500."""
    text = raw.decode(errors="replace")
    try:
        err = json.loads(text)
        err = err.get("error", err) if isinstance(err, dict) else err
        return str(err.get("message", err) if isinstance(err, dict) else err)[:500]
    except ValueError:
        return text[:500]


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
