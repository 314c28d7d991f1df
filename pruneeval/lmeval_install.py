"""``pruneeval tasks install``: stock ``lm_eval --tasks gsm8k_len`` without ``--include_path``.

lm-eval 0.4.x finds task YAMLs only under its own ``lm_eval/tasks`` folder and ``--include_path``;
no lm-eval reads tasks from other packages (its main branch after 0.4.13 reads entry points for
models, filters and metrics, and its plugin guide says tasks are not plugins; a proposal for task
plugins, lm-evaluation-harness PR 4015, is open).  So
``install`` writes one folder, ``lm_eval/tasks/pruneeval/``, with one small YAML per pruneeval
task and group that ``include:``s pruneeval's own file: lm-eval indexes them as its own, while
the definitions stay in pruneeval (re-run ``install`` only when a task is added, renamed, or the
package moves).  A marker file records that pruneeval wrote the folder; ``uninstall`` removes a
folder only when it carries that marker."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

from .errors import UserError
from .lmeval_tasks import tasks_dir

FOLDER = "pruneeval"
MARKER = "INSTALLED_BY_PRUNEEVAL"


def lm_eval_tasks_dir() -> Path:
    """lm-eval's own task folder (found without importing lm-eval)."""
    spec = importlib.util.find_spec("lm_eval")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("lm-eval is not installed (pip install lm-eval)")
    return Path(list(spec.submodule_search_locations)[0]) / "tasks"


def task_files() -> list[Path]:
    """pruneeval's task and group YAMLs (``_*.yaml`` are shared bases, included by the others)."""
    return sorted(p for p in tasks_dir().glob("*.yaml") if not p.name.startswith("_"))


def install(target: Path | None = None) -> tuple[Path, list[str]]:
    """Write (or rewrite) the folder of include stubs; returns it and the file names written."""
    folder = (target or lm_eval_tasks_dir()) / FOLDER
    _check_ours(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MARKER).write_text(f"Written by `pruneeval tasks install` from {tasks_dir()}; "
                                     "removed by `pruneeval tasks uninstall`.\n")
        for old in folder.glob("*.yaml"):
            old.unlink()
        names = []
        for src in task_files():
            (folder / src.name).write_text(f"# pruneeval's task, kept in pruneeval\ninclude: {json.dumps(str(src))}\n")
            names.append(src.name)
    except OSError as e:
        raise UserError(f"cannot write {folder} ({e.strerror or e}); use lm_eval --include_path "
                        f"{tasks_dir()} instead") from None
    return folder, names


def uninstall(target: Path | None = None) -> Path | None:
    """Remove the folder ``install`` wrote; returns it, or None when nothing was installed."""
    folder = (target or lm_eval_tasks_dir()) / FOLDER
    if not folder.exists():
        return None
    _check_ours(folder)
    try:
        shutil.rmtree(folder)
    except OSError as e:
        raise UserError(f"cannot remove {folder} ({e.strerror or e})") from None
    return folder


def installed(target: Path | None = None) -> bool:
    return ((target or lm_eval_tasks_dir()) / FOLDER / MARKER).is_file()


def _check_ours(folder: Path) -> None:
    if folder.exists() and not (folder / MARKER).is_file():
        raise UserError(f"{folder} exists and was not written by pruneeval (no {MARKER} in it); left alone")
