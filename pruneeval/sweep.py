"""``pruneeval sweep``: accuracy at each token budget, one curve per model and way of cutting.

For each model, at each budget B: budget forcing (``budget@B``: thinking cut at B, the answer
forced, :mod:`pruneeval.engines.thinking`), and the control, a plain cut (``cut@B``: at most B
generated tokens, nothing forced).  Layout of ``OUT`` (every evaluation resumes after a kill):

  OUT/<label>/budget@B/<task>/   samples.jsonl + summary.json, as ``pruneeval eval`` writes them
  OUT/<label>/cut@B/<task>/
  OUT/sweep.json, sweep.md, sweep.png   every curve found under OUT, so sweeps of several models
                                         into one OUT end on one plot

``label`` is ``baseline`` for the preset's model and the method name for a trained model dir
(``runs/x/train/o1pruner/model`` -> ``o1pruner``).  Rows of a sweep carry the method names
``budget@B`` and ``cut@B`` (``<label>+budget@B`` for a trained model), so ``pruneeval report``
puts every budget point on the leaderboard's Pareto plot."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from . import presets
from .errors import UserError
from .evaluate import evaluate_task
from .records import read_json_object, write_atomic, write_json_atomic
from .spec import EngineSpec, engine_spec, eval_spec
from .trainers.thinking import Budget

KINDS = {"budget": "budget forcing", "cut": "max-tokens cut (control)"}


@dataclass(frozen=True)
class Curve:
    label: str  # "baseline" or a trained method's name
    model: str  # what the engine loads
    kinds: tuple[str, ...]  # of KINDS


def parse_budgets(text: str) -> list[int]:
    """``"64,128,256"`` -> [64, 128, 256]: whole numbers >= 1, sorted, no repeats."""
    try:
        values = sorted({int(v) for v in text.split(",") if v.strip()})
    except ValueError:
        raise UserError(f"--budgets {text!r}: expected a comma list of whole numbers, e.g. 64,128,256") from None
    if not values or values[0] < 1:
        raise UserError(f"--budgets {text!r}: expected budgets >= 1")
    return values


def curves(methods: str, preset: presets.Preset) -> list[Curve]:
    """The curves ``--method`` asks for: ``budget`` (forcing and the control on the preset's
    model), ``baseline`` (the control alone) and trained model dirs (forcing and the control)."""
    out = []
    for item in (m.strip() for m in methods.split(",") if m.strip()):
        if item in ("budget", "baseline"):
            out.append(Curve("baseline", "", ("budget", "cut") if item == "budget" else ("cut",)))
            continue
        d = Path(item).expanduser()
        if not (d / "config.json").is_file():
            raise UserError(f"--method {item!r}: expected budget, baseline or a trained model dir (with config.json)")
        label = d.parent.name if d.name == "model" and d.parent.parent.name == "train" else d.name
        out.append(Curve(label, str(d), ("budget", "cut")))
    if not out:
        raise UserError("--method: nothing to sweep")
    labels = [c.label for c in out]
    if len(set(labels)) < len(labels):
        raise UserError(f"--method {methods!r}: two curves would both be labelled {labels}")
    return out


def method_label(curve: Curve, kind: str, budget: int) -> str:
    name = f"{kind}@{budget}"
    return name if curve.label == "baseline" else f"{curve.label}+{name}"


def sweep_model(preset: presets.Preset, *, budgets: str, method: str = "budget", tasks: str | None = None,
                limit: int | None = None, answer_budget: int = 32, out: Path | None = None,
                data_dir: Path | None = None, engine: str = "hf", engine_opts: dict | None = None, seed: int = 0,
                trust_remote_code: bool = False) -> tuple[dict, Path, list[int]]:
    """``pruneeval sweep``: every check before a model loads, then :func:`run_sweep`; returns
    (the sweep, out, the budgets)."""
    from . import benchmarks
    from .evaluate import TASKS, parse_tasks
    from .outputs import check_out_dir, out_lock, path_part

    budget_list = parse_budgets(budgets)
    curve_list = curves(method, preset)
    if any("budget" in c.kinds for c in curve_list):
        Budget().check(preset)
    task_list = parse_tasks(tasks or preset.eval_tasks)
    benchmarks.check_available([TASKS[t] for t in task_list], data_dir)
    espec = engine_spec(preset, engine, trust_remote_code=trust_remote_code, options=engine_opts)
    presets.check_model(preset, hub=engine != "openai")
    out = out or Path("runs") / f"sweep-{path_part(preset.name)}"
    check_out_dir(out, files=["sweep.json", "sweep.md", "sweep.png"])
    presets.warn_world_mismatch(preset, task_list)
    with out_lock(out):
        result = run_sweep(preset, curve_list, budget_list, task_list, out, espec, answer_budget=answer_budget,
                           limit=limit, data_dir=data_dir, seed=seed)
    return result, out, budget_list


def run_sweep(preset: presets.Preset, curve_list: Sequence[Curve], budgets: Sequence[int], tasks: Sequence[str],
              out: Path, espec: EngineSpec, *, answer_budget: int = 32, limit: int | None = None,
              data_dir: str | None = None, seed: int = 0) -> dict:
    """Evaluate every (curve, kind, budget, task) into ``out``; returns ``collect(out)``.  Each
    model is loaded once, as ``espec`` says."""
    for curve in curve_list:
        engine = espec.build(curve.model or presets.model_path(preset))
        try:
            for b in budgets:
                for kind in curve.kinds:
                    if kind == "budget":  # thinking cut at b, then at most answer_budget more
                        eng = Budget(budget=b, answer_budget=answer_budget).wrap(engine, preset)
                        spec = eval_spec(preset, espec, max_tokens=max(preset.max_tokens, b + 1), seed=seed)
                    else:
                        eng, spec = engine, eval_spec(preset, espec, max_tokens=b, seed=seed)
                    name = method_label(curve, kind, b)
                    for t in tasks:
                        evaluate_task(eng, t, out / curve.label / f"{kind}@{b}", spec, limit=limit,
                                      data_dir=data_dir, model_name=preset.name, method=name)
        finally:
            close = getattr(engine, "close", None)
            if close is not None:
                close()
    return write_sweep(out)


def collect(out: Path) -> dict:
    """Every sweep point under ``out``: {"tasks": [...], "curves": [{label, kind, points: {task: [...]}}]}."""
    found: dict[tuple[str, str], dict] = {}
    for path in sorted(Path(out).glob("*/*@*/*/summary.json")):
        label, (kind, _, b) = path.parents[2].name, path.parents[1].name.partition("@")
        if kind not in KINDS or not b.isdigit():
            continue
        s = read_json_object(path)
        curve = found.setdefault((label, kind), {"label": label, "kind": kind, "points": {}})
        curve["points"].setdefault(path.parent.name, []).append(
            {"budget": int(b), "accuracy": s["accuracy"], "mean_tokens": s["mean_tokens"],
             "n_samples": s["n_samples"], "forced_rate": s.get("forced_rate", 0.0)})
    for c in found.values():
        for pts in c["points"].values():
            pts.sort(key=lambda p: p["budget"])
    tasks = sorted({t for c in found.values() for t in c["points"]})
    return {"tasks": tasks, "curves": [found[k] for k in sorted(found, key=lambda k: (k[0] != "baseline", k))]}


def write_sweep(out: Path) -> dict:
    """sweep.json, sweep.md and sweep.png from every point under ``out``."""
    from .report.plots import plot_sweep

    result = collect(out)
    if not result["curves"]:
        raise UserError(f"{out}: no sweep results (<label>/budget@B/<task>/summary.json)")
    write_json_atomic(Path(out) / "sweep.json", result)
    write_atomic(Path(out) / "sweep.md", render_markdown(result))
    plot_sweep(result, Path(out) / "sweep.png")
    return result


def render_markdown(result: dict) -> str:
    """One table per task: a row per curve, accuracy (mean tokens) per budget."""
    from .report.markdown import md_escape, md_table

    parts = ["# Budget sweep", "",
             "Accuracy (mean generated tokens) at each budget. Budget forcing cuts the thinking at the budget "
             "and forces the answer (at most the answer budget more tokens); the control cuts generation at "
             "the budget and forces nothing.", ""]
    for task in result["tasks"]:
        budgets = sorted({p["budget"] for c in result["curves"] for p in c["points"].get(task, [])})
        rows = []
        for c in result["curves"]:
            by_b = {p["budget"]: p for p in c["points"].get(task, [])}
            rows.append([md_escape(f"{c['label']}, {KINDS[c['kind']]}"),
                         *(_cell(by_b.get(b)) for b in budgets)])
        parts += [f"## {task}", "", md_table(["curve", *(f"B={b}" for b in budgets)], rows), ""]
    return "\n".join(parts)


def _cell(p: dict | None) -> str:
    if p is None:
        return ""
    tokens = p["mean_tokens"]
    return f"{100 * p['accuracy']:.1f}% ({tokens:.1f})" if not math.isnan(tokens) else f"{100 * p['accuracy']:.1f}%"
