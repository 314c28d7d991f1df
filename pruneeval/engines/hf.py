"""Hugging Face transformers engine: batched, left-padded, chat template applied.

transformers keeps generating for rows of a batch that already finished; each row's count
stops exactly at its own first end-of-turn token, and its latency at the step that produced it."""

from __future__ import annotations

import time
from typing import Sequence

import torch

from .base import Completion, LocalTokenizer, Sampling, end_of_turn_ids


class _StepClock:
    """A stopping criterion that never stops: it timestamps every generation step."""

    def __init__(self):
        self.times: list[float] = []

    def __call__(self, input_ids, scores, **kwargs):
        self.times.append(time.perf_counter())
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)


class HFEngine(LocalTokenizer):
    name = "hf"

    def __init__(self, model: str, *, batch_size: int = 8, revision: str | None = None,
                 dtype: str = "auto", device: str | None = None, trust_remote_code: bool = False):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.model_id, self.revision, self.batch_size = model, revision or None, batch_size
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if dtype == "auto":
            dtype = "bfloat16" if self.device.startswith("cuda") else "float32"
        self.dtype = dtype
        self.tokenizer = AutoTokenizer.from_pretrained(model, revision=self.revision,
                                                       trust_remote_code=trust_remote_code)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(
            model, revision=self.revision, dtype=getattr(torch, dtype), trust_remote_code=trust_remote_code,
        ).to(self.device).eval()
        self.eos_ids = end_of_turn_ids(self.model.generation_config.eos_token_id, self.tokenizer)

    def describe(self) -> dict:
        import transformers

        return {"engine": self.name, "model": self.model_id, "revision": self.revision, "dtype": self.dtype,
                "device": self.device, "batch_size": self.batch_size, "torch": torch.__version__,
                "transformers": transformers.__version__}

    def generate_ids(self, prompts: Sequence[Sequence[int]], sampling: Sampling) -> list[list[Completion]]:
        out: list[list[Completion]] = []
        for b, start in enumerate(range(0, len(prompts), self.batch_size)):
            out.extend(self._generate_batch(prompts[start:start + self.batch_size], sampling, sampling.seed + b))
        return out

    @torch.inference_mode()
    def _generate_batch(self, prompts: Sequence[Sequence[int]], sampling: Sampling, seed: int) -> list[list[Completion]]:
        width = max(len(p) for p in prompts)
        pad = self.tokenizer.pad_token_id
        ids = torch.tensor([[pad] * (width - len(p)) + list(p) for p in prompts], device=self.device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=self.device)
        kwargs = dict(max_new_tokens=sampling.max_tokens, num_return_sequences=sampling.n,
                      pad_token_id=pad, eos_token_id=sorted(self.eos_ids))
        if sampling.greedy:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            kwargs.update(do_sample=True, temperature=sampling.temperature, top_p=sampling.top_p, top_k=None)
        torch.manual_seed(seed)
        clock = _StepClock()
        t0 = time.perf_counter()
        seqs = self.model.generate(input_ids=ids, attention_mask=mask, stopping_criteria=[clock], **kwargs)
        gen = seqs[:, width:].tolist()
        rows = [self._completion(g, clock.times, t0) for g in gen]
        return [rows[i * sampling.n:(i + 1) * sampling.n] for i in range(len(prompts))]

    def _completion(self, ids: list[int], times: list[float], t0: float) -> Completion:
        stop = next((i for i, t in enumerate(ids) if t in self.eos_ids), None)
        n = len(ids) if stop is None else stop
        steps = min(len(ids) if stop is None else stop + 1, len(times))
        latency = (times[steps - 1] if steps else time.perf_counter()) - t0
        return Completion(text=self.tokenizer.decode(ids[:n], skip_special_tokens=True), n_tokens=n,
                          finish_reason="length" if stop is None else "stop", latency_s=latency,
                          token_ids=tuple(ids[:n]))
