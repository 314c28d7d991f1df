"""Model presets: typed, frozen configs mirrored by the YAML files in this folder.

``--model`` takes a preset name, a hub id or a local path; a hub id or path that matches no
preset gets the generic preset with ``model`` set to it.  Unknown YAML keys are errors."""

from __future__ import annotations

import dataclasses
import reprlib
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from ..errors import UserError, first_line
from ..options import option

HERE = Path(__file__).parent


TRAINING_METHODS = ("sft", "dpo", "o1pruner")  # the methods that train (a test checks the registry)
PER_METHOD_KEYS = ("lr", "epochs", "finetune", "warmup_ratio", "max_length", "max_grad_norm")


@dataclass(frozen=True)
class Preset:
    name: str = option("custom", "preset name")
    model: str = option("", "hub id, local path, or 'toy'")
    revision: str = option("", "hub revision (commit or tag); empty = default branch")
    system_prompt: str = option("You are a helpful assistant. You should think step-by-step and put your final "
                            "answer within \\boxed{}.", "system turn; empty = none")
    user_template: str = option("Solve the problem: {question}", "user turn; {question} is replaced")
    max_tokens: int = option(8192, "max generated tokens (evaluation and presampling)")
    eval_temperature: float = option(0.0, "evaluation temperature (0 = greedy)")
    eval_top_p: float = option(1.0, "evaluation top-p: nucleus sampling mass, in (0, 1]")
    eval_tasks: str = option("gsm8k_len,math_len,gaokao_len", "eval tasks, a comma list (e.g. gsm8k_len,math_len,gaokao_len)")
    presample_benchmark: str = option("math_train", "training problems for presampling")
    presample_limit: int = option(5000, "number of training problems (0 = all)")
    presample_seed: int = option(42, "shuffle the training problems with this seed before taking presample_limit "
                                 "(the official code: 42); -1 = file order")
    k: int = option(16, "samples per training problem (K)")
    presample_temperature: float = option(0.5, "presampling temperature")
    presample_top_p: float = option(0.8, "presampling top-p: nucleus sampling mass, in (0, 1]")
    finetune: str = option("full", "full | freeze:N (train the last N layers) | lora:R")
    lr: float = option(2e-7, "peak learning rate")
    lam: float = option(2.0, "O1-Pruner lambda: weight of the accuracy term")
    epochs: float = option(1.0, "training epochs")
    batch_size: int = option(32, "effective batch size (per-device batch x accumulation x processes)")
    micro_batch_size: int = option(1, "per-device batch size")
    warmup_ratio: float = option(0.1, "share of steps spent warming up")
    max_length: int = option(8192, "training examples are cut to this many tokens (the official cutoff_len)")
    max_grad_norm: float = option(1.0, "gradient clipping norm")
    launcher: str = option("", "training processes: ddp | fsdp | deepspeed-zero3; empty = one process, in the "
                           "pruneeval process")
    num_processes: int = option(1, "training processes, one per GPU (0 = every visible GPU)")
    per_method: dict = field(default_factory=dict, metadata={"help": (
        "training settings of one method that differ from the above: {method: {key: value}}, keys "
        + ", ".join(PER_METHOD_KEYS) + "; a command-line value applies to every method")})
    batch_gen: int = option(8, "prompts per generation batch (vllm, openai: per call); it sets the "
                                  "chunks, and so the seeds, of sampling")
    think_end: str = option("", "text that ends the thinking (e.g. </think>); empty: no thinking markers, "
                            "so no budget forcing")
    budget_force: str = option("", "text appended when the thinking budget runs out: the end-of-thinking "
                               "marker and an answer cue")
    nothink_prefill: str = option("", "start of the assistant turn that skips the thinking (NoThinking); "
                                  "empty: nothink refused")
    train_dtype: str = option("float32", "training compute dtype: float32 | bfloat16 (bf16 autocast over "
                              "fp32 master weights)")
    gradient_checkpointing: bool = option(False, "recompute activations in training to save memory")

    def override(self, **values) -> "Preset":
        """A copy with the non-None values replaced (CLI options); a value out of range is a UserError."""
        values = {k: v for k, v in values.items() if v is not None}
        for key, value in values.items():
            wrong = in_range(key, value) if isinstance(value, (int, float, str)) else None
            if wrong:
                raise UserError(f"{key} {wrong}, got {value!r}")
        per_method = {m: {k: v for k, v in kv.items() if k not in values} for m, kv in self.per_method.items()}
        return dataclasses.replace(self, **{"per_method": per_method, **values})


CHOICES = {"train_dtype": ("float32", "bfloat16"), "launcher": ("", "ddp", "fsdp", "deepspeed-zero3")}  # allowed values of string keys that have a fixed set
MAX_PRESET_BYTES = 64 * 1024  # presets are a screenful of keys; a bigger file is not one
MAX_ALIASES = 64  # YAML aliases in one preset: enough for reuse, far too few for an alias bomb

# Allowed values of numeric keys: (low, high, low_open); None = unbounded.
RANGES = {"max_tokens": (1, None, False), "eval_temperature": (0, None, False), "eval_top_p": (0, 1, True),
          "presample_limit": (0, None, False), "presample_seed": (-1, None, False), "k": (1, None, False), "presample_temperature": (0, None, False),
          "presample_top_p": (0, 1, True), "lr": (0, None, True), "lam": (0, None, False), "epochs": (0, None, True),
          "batch_size": (1, None, False), "micro_batch_size": (1, None, False), "warmup_ratio": (0, 1, False),
          "batch_gen": (1, None, False), "max_length": (1, None, False), "max_grad_norm": (0, None, True),
          "num_processes": (0, None, False)}


class _PresetLoader(yaml.SafeLoader):
    """yaml's safe loader with at most ``MAX_ALIASES`` aliases."""

    aliases = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise yaml.YAMLError(f"more than {MAX_ALIASES} aliases")
        return super().compose_node(parent, index)


def _read_yaml(path: Path):
    try:
        if path.stat().st_size > MAX_PRESET_BYTES:
            raise UserError(f"{path}: a preset is at most {MAX_PRESET_BYTES // 1024} KiB")
        loader = _PresetLoader(path.read_text())
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise UserError(f"{path}: cannot read preset ({first_line(e)})") from None


def in_range(key: str, value) -> str | None:
    """What is wrong with ``value`` for the preset key ``key`` (None when it is allowed): numeric keys
    against ``RANGES``, string keys against ``CHOICES``."""
    if isinstance(value, str):
        return f"must be one of {', '.join(c or repr(c) for c in CHOICES[key])}" if value not in CHOICES.get(key, (value,)) else None
    low, high, low_open = RANGES.get(key, (None, None, False))
    if isinstance(value, float) and value != value or value in (float("inf"), float("-inf")):
        return "must be a finite number"
    if low is not None and (value <= low if low_open else value < low):
        return f"must be {'>' if low_open else '>='} {low}"
    if high is not None and value > high:
        return f"must be <= {high}"
    return None


def from_yaml(path: Path) -> Preset:
    data = _read_yaml(path) or {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: a preset is a mapping of keys to values")
    known = {f.name: f for f in fields(Preset)}
    for key, value in data.items():
        if key not in known:
            raise UserError(f"{path}: unknown key {reprlib.repr(key)} (known: {', '.join(known)})")
        if key == "per_method":
            data[key] = _per_method(path, value, known)
        else:
            data[key] = _checked(path, key, value, type(known[key].default))
    return Preset(**data)


def _checked(path: Path, key: str, value, want: type):
    """``value`` of preset key ``key`` (an int is a float where a float is wanted), else a UserError."""
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    elif not isinstance(value, want) or isinstance(value, bool) != (want is bool):
        raise UserError(f"{path}: key {key!r} must be {want.__name__}, got {reprlib.repr(value)}")
    wrong = in_range(key.rpartition(".")[2], value) if want in (int, float, str) else None
    if wrong:
        raise UserError(f"{path}: key {key!r} {wrong}, got {value!r}")
    return value


def _per_method(path: Path, value, known: dict) -> dict:
    """``per_method``: {training method: {key of PER_METHOD_KEYS: value}}, each value checked as its key."""
    if not isinstance(value, dict):
        raise UserError(f"{path}: key 'per_method' must be a mapping of method to settings")
    out = {}
    for method, settings in value.items():
        if method not in TRAINING_METHODS:
            raise UserError(f"{path}: per_method: unknown method {reprlib.repr(method)} "
                            f"(known: {', '.join(TRAINING_METHODS)})")
        if not isinstance(settings, dict):
            raise UserError(f"{path}: per_method.{method} must be a mapping of keys to values")
        for key in settings:
            if key not in PER_METHOD_KEYS:
                raise UserError(f"{path}: per_method.{method}: unknown key {reprlib.repr(key)} "
                                f"(known: {', '.join(PER_METHOD_KEYS)})")
        out[method] = {k: _checked(path, f"per_method.{method}.{k}", v, type(known[k].default))
                       for k, v in settings.items()}
    return out


def names() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.yaml"))


def by_name(name: str) -> Preset:
    """A shipped preset by name (case-insensitive) or a preset YAML file."""
    for p in HERE.glob("*.yaml"):
        if p.stem.lower() == name.lower():
            return from_yaml(p)
    if name.endswith((".yaml", ".yml")) and Path(name).is_file():
        return from_yaml(Path(name))
    raise UserError(f"unknown preset {name!r}; known: {', '.join(names())}")


def resolve(model: str | None, preset: str | None = None) -> Preset:
    """Preset for ``model``: a preset name (case-insensitive), a preset file, or a hub id / path.

    With ``preset``, that preset's settings are used with ``model`` as the weights (for example a
    checkpoint fine-tuned from the toy reasoner, evaluated with the toy prompt and tasks)."""
    if preset:
        base = by_name(preset)
        return base.override(model=model) if model else base
    model = model or "toy"
    for p in HERE.glob("*.yaml"):
        preset = from_yaml(p)
        if model.lower() in (p.stem.lower(), preset.model.lower()):
            return preset
    if model.endswith((".yaml", ".yml")) and Path(model).is_file():
        return from_yaml(Path(model))
    if is_toy_world_model(model):  # the toy reasoner or a checkpoint fine-tuned from it
        return by_name("toy").override(model=model)
    return Preset(name=Path(model.rstrip("/")).name or model, model=model)


def is_toy_world_model(path: str) -> bool:
    """A local model dir whose tokenizer carries the toy world's chat template (the built toy
    reasoner and every checkpoint fine-tuned from it: the trainers save the tokenizer)."""
    import json

    from ..toy.build import CHAT_TEMPLATE

    d = Path(path).expanduser()
    if not (d / "config.json").is_file():
        return False
    template = d / "chat_template.jinja"
    if template.is_file():
        return template.read_text().strip() == CHAT_TEMPLATE.strip()
    try:
        found = json.loads((d / "tokenizer_config.json").read_text()).get("chat_template")
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(found, str) and found.strip() == CHAT_TEMPLATE.strip()


def model_path(preset: Preset) -> str:
    """Where the engine loads the preset's model from: the built toy model, a local dir or a hub id."""
    if preset.model == "toy":
        from ..toy.build import ensure_toy_model

        return str(ensure_toy_model())
    check_model(preset, hub=False)
    p = Path(preset.model).expanduser()
    return str(p) if p.exists() else preset.model


def check_model(preset: Preset, hub: bool = True) -> None:
    """Fail now, in one line, when the preset's model cannot load: a local dir without config.json,
    a name that is no dir, preset or hub id, or (``hub``) a hub id that is neither in the local hub
    cache nor answering on the hub.  The toy reasoner always loads (it is built on first use)."""
    if preset.model == "toy":
        return
    p = Path(preset.model).expanduser()
    if p.exists():
        if not (p / "config.json").is_file():
            raise UserError(f"{p}: not a model directory (no config.json)")
        return
    if preset.model.startswith((".", "/", "~")) or preset.model.count("/") != 1:
        raise UserError(f"model {preset.model!r}: no such directory, preset ({', '.join(names())}) or hub id")
    if hub:
        _check_hub(preset.model, preset.revision or None)


HUB_TIMEOUT_S = 3.0  # one request, no retries: an unreachable hub is reported in seconds


def _check_hub(repo: str, revision: str | None) -> None:
    """The hub cache has the model's config.json, or the hub answers for it (one HEAD request)."""
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_url, try_to_load_from_cache
    from huggingface_hub.errors import (EntryNotFoundError, GatedRepoError, HfHubHTTPError,
                                        RepositoryNotFoundError, RevisionNotFoundError)

    if isinstance(try_to_load_from_cache(repo, "config.json", revision=revision), str):
        return
    missing = f"model {repo!r}: not a local directory, not in the hub cache ({constants.HF_HUB_CACHE})"
    fill = f"pass a local model dir, fill the hub cache (`hf download {repo}` where the hub is reachable)"
    if constants.HF_HUB_OFFLINE:
        raise UserError(f"{missing}, and HF_HUB_OFFLINE is set; {fill} or unset HF_HUB_OFFLINE")
    try:
        get_hf_file_metadata(hf_hub_url(repo, "config.json", revision=revision), timeout=HUB_TIMEOUT_S)
    except GatedRepoError:
        raise UserError(f"model {repo!r} is gated on the hub: accept its terms there, then `hf auth login`") from None
    except RevisionNotFoundError:
        raise UserError(f"model {repo!r}: no revision {revision!r} on the hub") from None
    except RepositoryNotFoundError:
        raise UserError(f"model {repo!r}: not on the hub (a private one needs `hf auth login`)") from None
    except EntryNotFoundError:
        raise UserError(f"model {repo!r}: no config.json on the hub (not a transformers model)") from None
    except HfHubHTTPError as e:
        raise UserError(f"model {repo!r}: the hub refused it ({first_line(e)})") from None
    except Exception as e:  # no network, DNS, proxy, timeout: every way of not reaching the hub
        raise UserError(f"{missing}, and the hub is unreachable ({type(e).__name__}: {first_line(e)}); "
                        f"{fill} or fix the network") from None


def warn_world_mismatch(preset: Preset, names: list[str]) -> None:
    """One warning line on stderr when the toy reasoner (preset ``toy``) meets natural-language
    problems, or another model the toy world's arithmetic; ``names`` are eval tasks or benchmarks."""
    from ..benchmarks import get
    from ..evaluate import TASKS

    toy = preset.name == "toy"
    wrong = ", ".join(n for n in names if (get(TASKS.get(n, n)).family == "toy") != toy)
    if wrong and toy:
        print(f"warning: the toy reasoner reads only the toy world's arithmetic; expect ~0% on {wrong}",
              file=sys.stderr)
    elif wrong:
        print(f"warning: {wrong} is the toy world's arithmetic, which only the toy reasoner (--preset toy) "
              f"reads; expect ~0% from {preset.model}", file=sys.stderr)
