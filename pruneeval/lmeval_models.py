"""lm-eval models over pruneeval's engines: ``hf_len`` (``HFLen``) and ``vllm_len`` (``VLLMLen``),
registered with lm-eval when this module is imported (``pruneeval.lmeval`` re-exports them).

Each generates through ``pruneeval.engines`` (the engine applies the chat template itself) and
returns ``GenText``, so lengths are exact.  A backend is one small subclass of ``EngineLM``:
the engine's name plus its ``engine_options``."""

from __future__ import annotations

import logging

from lm_eval.api.model import LM
from lm_eval.api.registry import register_model

from .engines.base import Sampling
from .lmeval_stop import stop_at
from .lmeval_tasks import GenText, named_preset

log = logging.getLogger("pruneeval.lmeval")  # the name its warnings have always carried
OUR_MODELS = ("hf_len", "vllm_len")


class EngineLM(LM):
    """An lm-eval model over a pruneeval engine: ``generate_until`` only, exact lengths.

    ``pretrained`` takes a preset name, hub id or local dir (as ``pruneeval eval --model``).
    ``batch_size`` is prompts per engine batch ("auto": the preset's, the toy preset's for a model
    of the toy world); ``seed`` seeds sampling."""

    engine_name = ""

    def __init__(self, pretrained: str = "toy", batch_size=None, max_batch_size=None, device=None,
                 revision: str | None = None, trust_remote_code=False, seed: int = 0, **engine_options):
        super().__init__()
        from . import presets
        from .engines import make_engine

        preset = presets.resolve(pretrained)
        self.model_path = presets.model_path(preset)
        auto = (named_preset(pretrained) or preset).batch_gen  # a toy-world dir: the toy preset's
        size = int(batch_size) if str(batch_size or "").isdigit() else auto
        self.seed = int(seed)
        try:
            options = self.engine_options(device=device, **engine_options)
        except TypeError as e:
            raise ValueError(f"{self.engine_name}_len: unknown --model_args ({e})") from None
        self.engine = make_engine(self.engine_name, self.model_path, batch_size=size,
                                  revision=revision or preset.revision or None,
                                  trust_remote_code=bool(trust_remote_code), **options)
        self._chats: dict[str, list[dict]] = {}  # rendered prompt -> the messages it came from
        self._warned_plain = False

    def engine_options(self, device=None, **options) -> dict:
        """Backend-specific model args -> engine constructor options (unknown ones are errors)."""
        return options

    # lm-eval's chat template hooks: lm-eval hands over the messages; the engine renders them again.
    @property
    def tokenizer(self):
        return self.engine.tokenizer

    @property
    def tokenizer_name(self) -> str:
        return self.model_path

    def chat_template(self, chat_template: bool | str = False) -> str | None:
        if isinstance(chat_template, str):
            raise ValueError(f"{self.engine_name}_len uses the model's own chat template, not {chat_template!r}")
        return getattr(self.engine.tokenizer, "chat_template", None) or ""

    def apply_chat_template(self, chat_history: list[dict], add_generation_prompt: bool = True) -> str:
        if not add_generation_prompt:
            raise ValueError(f"{self.engine_name}_len cannot continue an assistant prefix (gen_prefix)")
        messages = [{"role": m["role"], "content": m["content"]} for m in chat_history]
        text = self.engine.render(messages)
        self._chats[text] = messages
        return text

    def get_model_info(self) -> dict:
        return {"engine": self.engine.describe()}

    def loglikelihood(self, requests):
        raise NotImplementedError(f"{self.engine_name}_len only generates (generate_until tasks such as "
                                  "pruneeval's *_len); use --model hf for loglikelihood tasks")

    def loglikelihood_rolling(self, requests):
        raise NotImplementedError(f"{self.engine_name}_len only generates; use --model hf for perplexity tasks")

    def generate_until(self, requests, disable_tqdm: bool = False) -> list[GenText]:
        """Identical requests (``repeats``) become one prompt with ``n`` samples (greedy: generated
        once, as every repeat would be the same); prompts sharing gen_kwargs are batched."""
        from tqdm import tqdm

        jobs: dict[tuple, list[int]] = {}
        for i, r in enumerate(requests):
            jobs.setdefault((r.args[0], repr(sorted(r.args[1].items()))), []).append(i)
        groups: dict[tuple, tuple[Sampling, list, list]] = {}
        for (ctx, kw), idx in jobs.items():
            sampling, until = self._sampling(requests[idx[0]].args[1], len(idx))
            groups.setdefault((kw, sampling.n), (sampling, until, []))[2].append((ctx, idx))
        out: list = [None] * len(requests)
        bar = tqdm(total=len(requests), disable=disable_tqdm, desc=f"{self.engine_name}_len generate_until")
        chunk_no = 0
        for sampling, until, items in groups.values():
            for start in range(0, len(items), self.engine.batch_size):
                part = items[start:start + self.engine.batch_size]
                s = Sampling(n=sampling.n, temperature=sampling.temperature, top_p=sampling.top_p,
                             max_tokens=sampling.max_tokens, seed=self.seed + chunk_no)
                chunk_no += 1
                comps = self.engine.generate([self._messages(ctx) for ctx, _ in part], s)
                for (ctx, idx), cs in zip(part, comps):
                    for i, c in zip(idx, cs * len(idx) if len(cs) == 1 else cs):
                        out[i] = stop_at(c, until, self._decode)
                        self.cache_hook.add_partial("generate_until", requests[i].args, out[i])
                    bar.update(len(idx))
        bar.close()
        return out

    def _decode(self, ids: list[int]) -> str:
        return self.engine.tokenizer.decode(ids, skip_special_tokens=True)

    def _messages(self, context: str) -> list[dict]:
        if context in self._chats:
            return self._chats[context]
        if not self._warned_plain:
            self._warned_plain = True
            log.warning("%s_len: prompt was not built with --apply_chat_template; it is sent as one user "
                        "turn (a task's system prompt is then inside that turn)", self.engine_name)
        return [{"role": "user", "content": context}]

    @staticmethod
    def _sampling(gen_kwargs: dict, n: int) -> tuple[Sampling, list[str]]:
        from lm_eval.models.utils import normalize_gen_kwargs

        kw = dict(normalize_gen_kwargs(gen_kwargs, default_max_gen_toks=8192))
        until, max_tokens = list(kw.pop("until") or []), int(kw.pop("max_gen_toks"))
        do_sample, temperature = bool(kw.pop("do_sample")), float(kw.pop("temperature", 0.0) or 0.0)
        top_p = kw.pop("top_p", None)
        top_p = 1.0 if top_p is None else float(top_p)
        if kw:
            raise ValueError(f"unsupported generation kwargs {sorted(kw)}; supported: until, max_gen_toks, "
                             "do_sample, temperature, top_p")
        if do_sample and temperature <= 0:
            raise ValueError("do_sample=True needs temperature > 0")
        if not do_sample:
            return Sampling(n=1, temperature=0.0, top_p=1.0, max_tokens=max_tokens), until
        return Sampling(n=n, temperature=temperature, top_p=top_p, max_tokens=max_tokens), until


@register_model("hf_len")
class HFLen(EngineLM):
    """``--model hf_len``: pruneeval's Hugging Face engine (exact per-row counts, step-timed latency)."""

    engine_name = "hf"

    def engine_options(self, device=None, dtype: str = "auto") -> dict:
        import torch

        if device and str(device).startswith("cuda") and not torch.cuda.is_available():
            device = None  # lm-eval's CLI default is cuda:0 even on a CPU-only machine
        return {"dtype": dtype, "device": device}


@register_model("vllm_len")
class VLLMLen(EngineLM):
    """``--model vllm_len``: pruneeval's vLLM engine (exact counts, request-metric latency).

    ``--batch_size auto`` (or none) hands every request of a group to vLLM in one call, which then
    schedules them itself; a number is the prompts per call.  Model args: ``tensor_parallel_size``,
    ``dtype``, ``max_model_len``, ``gpu_memory_utilization``, ``kv_cache_gib`` (CPU), ``enforce_eager``."""

    engine_name = "vllm"

    def __init__(self, pretrained: str = "toy", batch_size=None, **kwargs):
        every = batch_size is None or str(batch_size).startswith("auto")
        super().__init__(pretrained, batch_size=100_000 if every else batch_size, **kwargs)

    def engine_options(self, device=None, dtype: str = "auto", tensor_parallel_size=1, max_model_len=None,
                       gpu_memory_utilization=0.9, kv_cache_gib=2, enforce_eager=None) -> dict:
        return {"dtype": dtype, "tensor_parallel_size": int(tensor_parallel_size),
                "max_model_len": None if max_model_len is None else int(max_model_len),
                "gpu_memory_utilization": float(gpu_memory_utilization), "kv_cache_gib": int(kv_cache_gib),
                "enforce_eager": None if enforce_eager is None else str(enforce_eager).lower() in ("1", "true")}
