"""What pruneeval's lm-eval tasks (``tasks/*.yaml``) reach by ``!function``: docs, prompt, context, metrics.

Tasks (``gsm8k_len``, ``math_len``, ``math_o1pruner_len``, ``math_full_len``, ``gaokao_len``,
``toy_len``; group ``pruneeval_len``) declare data, prompt fields, stops and metric names in YAML:

- ``load_docs`` (their ``custom_dataset``) loads the benchmark through ``pruneeval.benchmarks``
  (``data_dir`` from ``--metadata``, else $PRUNEEVAL_DATA_DIR, else the hub) and adds the chat
  prompt of the model's preset, built by ``prompts.build_messages`` as ``pruneeval eval`` builds
  it.  The preset (``prompt_preset``) is ``--metadata preset=NAME``, else the one the model
  names (lm-eval passes ``--model_args`` into task metadata): a shipped preset's name or hub id,
  or a model of the toy world (its tokenizer carries the toy chat template: the built toy
  reasoner and every checkpoint fine-tuned from it).  Any other model is refused in one line; no
  prompt is guessed.  The system turn is the task ``description`` and the user turn
  ``doc_to_text``, so ``--apply_chat_template`` renders exactly pruneeval's messages; without it
  a stock model gets plain text (system prompt directly followed by the user turn).
- ``LenTask`` (their ``class``) is lm-eval's ``ConfigurableTask`` whose requests fit the model's
  context: ``max_gen_toks`` is capped at the model's positions less the run's longest prompt,
  with one warning line, whatever the model (``hf_len``, ``vllm_len``, stock ``hf``/``vllm``).
- ``process_results`` grades with ``grading.grade`` (the same call as ``pruneeval eval``) and
  reports ``acc``, ``no_answer``, ``gen_tokens``, ``gen_tokens_retokenized`` and, when the model
  measured them, ``truncated`` and ``latency_s``: per sample with ``--log_samples``, mean in the
  results.  ``hf_len``/``vllm_len`` return a ``GenText`` (a ``str`` that carries the engine's
  exact token count, finish reason and latency), so their lengths are exact
  (``gen_tokens_retokenized`` 0).  A stock model returns plain strings: the answer is
  re-tokenised with the tokenizer named by ``tokenizer`` or ``pretrained`` in the metadata
  (``gen_tokens_retokenized`` 1, what the paper's code did); its truncation and latency are
  unknown and left out, never invented.

A missing benchmark or an unknown model ends the run with one ``error:`` line and exit status 2
(an exception here would reach the user as lm-eval's traceback)."""

from __future__ import annotations

import functools
import logging
import sys
from pathlib import Path
from typing import NoReturn

from lm_eval.api.task import ConfigurableTask

from . import grading
from .errors import UserError, first_line
from .prompts import build_messages

log = logging.getLogger(__name__)
DATA_HINT = ("point PRUNEEVAL_DATA_DIR (or --metadata data_dir=DIR) at a local copy of the benchmarks "
             "(gsm8k/test.jsonl, math500/test.jsonl, math/test.jsonl, gaokao2023en/test.jsonl)")


def tasks_dir() -> Path:
    """The directory of pruneeval's task YAMLs (what ``pruneeval tasks path`` prints)."""
    import pruneeval.tasks

    return Path(pruneeval.tasks.__file__).resolve().parent


def refuse(message: str) -> NoReturn:
    """End an lm-eval run with one line on stderr and exit status 2."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(2)


# ---------------------------------------------------------------- docs and prompt

def load_docs(benchmark: str, pretrained=None, preset: str | None = None, tokenizer: str | None = None,
              data_dir: str | None = None, **_metadata):
    """The tasks' ``custom_dataset``: one doc per problem with its prompt turns and the tokenizer
    that re-counts a stock model's answers.  Other metadata (model args, version) is ignored."""
    import datasets

    pretrained = pretrained if isinstance(pretrained, str) else None
    spec = prompt_preset(preset, pretrained)
    tok = tokenizer if isinstance(tokenizer, str) else pretrained or ""
    rows = []
    for p in _problems(benchmark, data_dir):
        msgs = build_messages(p.question, spec.system_prompt, spec.user_template)
        rows.append({"id": p.id, "benchmark": p.benchmark, "question": p.question, "gold": p.gold,
                     "system_prompt": msgs[0]["content"] if msgs[0]["role"] == "system" else "",
                     "user": msgs[-1]["content"], "tokenizer": tok})
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})


def _problems(benchmark: str, data_dir: str | None):
    """The benchmark's problems, or one line saying how to point pruneeval at local data."""
    from . import benchmarks

    try:
        local = benchmarks.resolve_data_dir(data_dir)
        if local is None and not benchmarks.get(benchmark).loader:
            _check_hub(benchmarks.get(benchmark).hub[0])
        return benchmarks.load(benchmark, local)
    except UserError as e:
        refuse(f"{benchmark}: {e}; {DATA_HINT}")
    except Exception as e:  # the hub: no dataset, no permission
        refuse(f"{benchmark}: no local data dir, and the hub failed ({type(e).__name__}: {first_line(e)}); "
               f"{DATA_HINT}")


def _check_hub(repo: str) -> None:
    """One quick request (no retries) before ``datasets`` spends half a minute retrying an
    unreachable hub.  Skipped in offline mode, where ``datasets`` reads its cache."""
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import HfHubHTTPError

    if constants.HF_HUB_OFFLINE:
        return
    try:
        get_hf_file_metadata(hf_hub_url(repo, "README.md", repo_type="dataset"), timeout=3.0)
    except HfHubHTTPError:
        return  # the hub answered: datasets gives the reason
    except Exception as e:  # noqa: BLE001 - no network, DNS, proxy, timeout
        raise UserError(f"no local data dir, and the hub is unreachable ({type(e).__name__}: {first_line(e)}; "
                        "with a filled datasets cache set HF_DATASETS_OFFLINE=1)") from None


def prompt_preset(preset: str | None, pretrained: str | None):
    """The preset whose prompt the task uses: ``preset`` if given, else the one ``pretrained`` names."""
    from . import presets

    try:
        found = presets.resolve(None, preset) if preset else named_preset(pretrained)
    except UserError as e:
        refuse(str(e))
    if found is None:
        refuse(f"no prompt preset for pretrained={pretrained or '(not given)'}: it is no shipped preset or its "
               f"hub id, and no toy-world model; pass --metadata preset=NAME (one of {', '.join(presets.names())})")
    return found


def named_preset(pretrained: str | None):
    """The preset ``pretrained`` names: a shipped preset by name or hub id, a preset file, or
    ``toy`` for a model dir of the toy world; None when it names none."""
    from . import presets

    if not pretrained:
        return None
    found = presets.resolve(pretrained)
    known = found.name in presets.names() and found == presets.by_name(found.name).override(model=found.model)
    return found if known or pretrained.endswith((".yaml", ".yml")) else None


# ---------------------------------------------------------------- requests that fit the context

class LenTask(ConfigurableTask):
    """lm-eval's ``ConfigurableTask`` whose ``max_gen_toks`` fits the model's context."""

    def __init__(self, config: dict | None = None):
        super().__init__(config={k: v for k, v in (config or {}).items() if k != "class"})

    def build_all_requests(self, **kwargs) -> None:
        super().build_all_requests(**kwargs)
        fit_to_context(self.config.task, self._instances, self.config.metadata or {})


def fit_to_context(task: str, instances: list, metadata: dict) -> None:
    """Cap every request's ``max_gen_toks`` at the model's positions less the longest prompt of
    the run (one limit for all, so batches stay whole), with one warning line; refuse a prompt
    that leaves no room.  Stock hf would otherwise fail an assertion, and hf_len run past the
    model's positions.  Nothing happens when the model's context is not known."""
    ctx = model_context(metadata)
    asked = [i.args[1].get("max_gen_toks") for i in instances]
    if ctx is None or not any(asked):
        return
    positions, tok = ctx
    longest = max(len(tok(c)["input_ids"]) for c in {i.args[0] for i in instances})
    room = positions - longest
    if room < 1:
        refuse(f"{task}: the longest prompt takes {longest} tokens, the whole context of the model ({positions})")
    over = [a for a in asked if a and a > room]
    if not over:
        return
    log.warning("warning: %s: max_gen_toks %d capped at %d (the model has %d positions; the longest prompt "
                "takes %d tokens)", task, max(over), room, positions, longest)
    for inst, a in zip(instances, asked):
        if a and a > room:
            inst.arguments = (inst.args[0], {**inst.args[1], "max_gen_toks": room}, *inst.args[2:])


def model_context(metadata: dict) -> tuple[int, object] | None:
    """(positions, tokenizer) of the model named by ``pretrained`` in the metadata; ``max_length``
    (stock hf) or ``max_model_len`` (vLLM) overrides the positions.  None when not known."""
    from lm_eval.models.utils import resolve_max_length
    from transformers import AutoConfig

    from . import presets

    pretrained = metadata.get("pretrained")
    if not isinstance(pretrained, str):
        return None
    try:
        path = presets.model_path(presets.resolve(pretrained))
        trust = str(metadata.get("trust_remote_code")).lower() == "true"
        config = AutoConfig.from_pretrained(path, trust_remote_code=trust)
    except Exception as e:  # noqa: BLE001 - an unreadable config: lm-eval's model reports it
        log.debug("no context length for %s: %s", pretrained, first_line(e))
        return None
    tok = _tokenizer(metadata["tokenizer"] if isinstance(metadata.get("tokenizer"), str) else path)
    if tok is None:
        return None
    explicit = metadata.get("max_length") or metadata.get("max_model_len")
    positions = int(explicit) if explicit else resolve_max_length(config, tok, default=None)
    return None if positions is None else (positions, tok)


# ---------------------------------------------------------------- metrics

def process_results(doc: dict, results: list) -> dict:
    """Per-doc metrics; with ``repeats`` and a keep-all filter, means over the doc's completions."""
    outs = results[0] if isinstance(results[0], (list, tuple)) else [results[0]]
    per = [sample_metrics(doc, o) for o in outs]
    return per[0] if len(per) == 1 else {k: sum(m[k] for m in per) / len(per) for k in per[0]}


def sample_metrics(doc: dict, output: str) -> dict:
    g = grading.grade(str(output), doc["gold"], doc["benchmark"], finish_reason=getattr(output, "finish_reason", None))
    m = {"acc": int(g.correct), "no_answer": int(g.extracted is None)}
    if isinstance(output, GenText):
        m.update(gen_tokens=output.n_tokens, gen_tokens_retokenized=0,
                 truncated=int(output.finish_reason == "length"), latency_s=output.latency_s)
    elif doc.get("tokenizer"):
        n = retokenized_length(str(output), doc["tokenizer"])
        if n is not None:
            m.update(gen_tokens=n, gen_tokens_retokenized=1)
    return m


def retokenized_length(text: str, tokenizer: str) -> int | None:
    """Tokens of ``text`` under ``tokenizer`` (no special tokens added); None if it cannot load."""
    tok = _tokenizer(tokenizer)
    return None if tok is None else len(tok(text, add_special_tokens=False)["input_ids"])


@functools.lru_cache(maxsize=4)
def _tokenizer(name: str):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(name)
    except (OSError, ValueError) as e:
        log.warning("cannot load tokenizer %r (%s): the token counts it gives are left out; "
                    "pass --metadata tokenizer=PATH", name, first_line(e))
        return None


class GenText(str):
    """A generated answer that carries the engine's exact count, finish reason and latency to
    ``process_results`` (lm-eval passes model outputs on as they are unless a filter rebuilds them)."""

    n_tokens: int
    finish_reason: str
    latency_s: float

    def __new__(cls, text: str, n_tokens: int, finish_reason: str, latency_s: float):
        s = super().__new__(cls, text)
        s.n_tokens, s.finish_reason, s.latency_s = int(n_tokens), finish_reason, float(latency_s)
        return s

    def __reduce__(self):  # pickling (lm-eval's response cache) keeps the measurements
        return (GenText, (str(self), self.n_tokens, self.finish_reason, self.latency_s))
