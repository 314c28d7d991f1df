"""The command line's shared options, declared once: the help of each option that overrides a
preset or training field is that field's (written next to it), and the options of every
generating command reach it as one ``gen`` dict by their library names."""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Optional

import typer

from .errors import UserError
from .options import field_help
from .presets import Preset
from .spec import ENGINE_FLAGS
from .trainers.config import LAUNCHERS, TrainConfig


def preset_option(key: str, *flags: str, note: str = "default: the preset's", **kw):
    """An option that overrides the preset field ``key``: its help is the field's, then ``note``."""
    return typer.Option(None, *flags, help=f"{field_help(Preset, key)} ({note})" if note else field_help(Preset, key),
                        **kw)


def check_top_p(value: float | None) -> float | None:
    if value is not None and not 0 < value <= 1:
        raise typer.BadParameter(f"{value} is not in the range 0<x<=1.")
    return value


def check_temperature(value: float | None) -> float | None:
    if value is not None and not 0 <= value < float("inf"):
        raise typer.BadParameter(f"{value} is not in the range x>=0.")
    return value


MODEL = typer.Option(None, "--model", "-m", help="preset name, hub id or local model dir (default: the toy reasoner)")
PRESET = typer.Option(None, "--preset", help="settings (prompt, tasks, max tokens) of this preset for --model "
                      "(default: the preset --model names, else generic)")
TASKS = preset_option("eval_tasks", "--tasks", "-t")
LIMIT = typer.Option(None, "--limit", min=1, help="first N problems of each task")
DATA_DIR = typer.Option(None, "--data-dir", help="local benchmark dir laid out like shared/data "
                        "(default: $PRUNEEVAL_DATA_DIR, else the Hugging Face hub)")
ENGINE = typer.Option("hf", "--engine", help="generation engine: hf | vllm | openai")
GEN_BATCH = preset_option("batch_gen", "--batch-size", min=1)
MAX_TOKENS = preset_option("max_tokens", "--max-tokens", min=1)
SEED = typer.Option(0, "--seed", help="seed of every sampled and trained number")
TRUST = typer.Option(False, "--trust-remote-code", help="allow code from the model repository to run")
OPTS = typer.Option([], "--opt", help="method option key=value, repeatable (e.g. lam=5, m=2, eps=0.2, "
                    "ratio=token, budget=512, answer_budget=32)")
FINETUNE, LR, EPOCHS = (preset_option("finetune", "--finetune"), preset_option("lr", "--lr"),
                        preset_option("epochs", "--epochs"))
DTYPE = preset_option("train_dtype", "--dtype")
SAVE_STEPS = typer.Option(None, "--save-steps", min=1, help=f"{field_help(TrainConfig, 'save_steps')} (default "
                          f"{TrainConfig.save_steps})")
PROCESSES = preset_option("num_processes", "--num-processes", min=0, note="default: the preset's; more than 1 "
                          "without --launcher is ddp")
LAUNCHER = preset_option("launcher", "--launcher", note="on the command line: none for one process; default: the "
                         "preset's")

# The engine options: the library's name -> (type, help); the flag is spec.ENGINE_FLAGS'.
ENGINE_OPTIONS = {
    "base_url": (Optional[str], {"help": "--engine openai: the server, e.g. http://127.0.0.1:8000/v1 "
                                 "(default $OPENAI_BASE_URL; key from $OPENAI_API_KEY)"}),
    "tensor_parallel_size": (Optional[int], {"min": 1, "help": "--engine vllm: GPUs per model"}),
    "concurrency": (Optional[int], {"min": 1, "help": "--engine openai: requests in flight (default 16)"}),
    "connect_timeout_s": (Optional[float], {"min": 0.001, "help": "--engine openai: seconds to connect (default 10)"}),
    "read_timeout_s": (Optional[float], {"min": 0.001, "help": "--engine openai: seconds of silence while waiting "
                                         "for an answer, which comes whole: bounds one generation (default 600)"}),
    "deadline_s": (Optional[float], {"min": 0.001, "help": "--engine openai: seconds for one request, all its "
                                     "retries included (default 1800)"}),
}


# The options every generating command (eval, sweep, presample, run) takes, passed on as they are.
GENERATION_OPTIONS = {"data_dir": (Optional[Path], DATA_DIR), "engine": (str, ENGINE), "seed": (int, SEED),
                      "trust_remote_code": (bool, TRUST)}


def with_generation_options(command):
    """``command`` with the generation and engine options added to its parameters (so to its
    ``--help``); it is called with them gathered into ``gen``: the generation options by name, and
    ``engine_opts`` (engine option's library name -> value, None when not given), the keywords of
    every generating library call."""
    params = [p for name, p in inspect.signature(command).parameters.items() if name != "gen"]
    params += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind, default=option)
               for name, (kind, option) in GENERATION_OPTIONS.items()]
    params += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind,
                                 default=typer.Option(None, ENGINE_FLAGS[name], **option))
               for name, (kind, option) in ENGINE_OPTIONS.items()]

    @functools.wraps(command)
    def with_generation(**given):
        gen = {name: given.pop(name) for name in GENERATION_OPTIONS}
        gen["engine_opts"] = {name: given.pop(name) for name in ENGINE_OPTIONS}
        return command(**given, gen=gen)

    with_generation.__signature__ = inspect.signature(command).replace(parameters=params)
    return with_generation


def launch_settings(launcher: Optional[str], num_processes: Optional[int]) -> dict:
    """Preset overrides of --launcher / --num-processes (``none`` is the preset's empty launcher)."""
    if launcher is not None and launcher not in (*LAUNCHERS[1:], "none"):
        raise UserError(f"--launcher {launcher!r}: expected {', '.join(LAUNCHERS[1:])} or none")
    return {"launcher": "" if launcher == "none" else launcher, "num_processes": num_processes}
