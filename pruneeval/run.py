"""``pruneeval run``: presample -> train -> evaluate reference and trained models -> leaderboard;
and the stages ``pruneeval eval`` and ``pruneeval presample`` run alone (:func:`evaluate_model`,
:func:`presample_model`), each built from the same run specs (:mod:`pruneeval.spec`).

Layout of a run directory (every stage skipped when complete, resumed when partial):
  manifest.json            the settings that change numbers, per method its options and training settings
  presample/               K samples per training problem from the reference model
  train/<method>/model     each trained method's checkpoint (LoRA: also train/<method>/adapter)
  eval/<method>/<task>/    samples.jsonl + summary.json; ``baseline`` is the reference model
  report/                  leaderboard.md / .csv / .json and plots"""

from __future__ import annotations

import dataclasses
import gc
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from . import benchmarks, presets
from .errors import UserError
from .evaluate import TASKS, check_manifest, evaluate_task, parse_tasks, spec_entries
from .outputs import STORE_FILES, check_out_dir, out_lock, path_part
from .presample import presample
from .records import write_json_atomic
from .spec import EngineSpec, engine_options, engine_spec, eval_spec, presample_spec

console = Console(stderr=True)


@dataclass(frozen=True)
class RunConfig:
    methods: tuple[str, ...]
    tasks: tuple[str, ...]
    out: Path
    eval_limit: int | None = None
    data_dir: str | None = None
    engine: str = "hf"
    seed: int = 0
    method_options: tuple[str, ...] = ()  # "key=value" for the methods' Config fields
    trust_remote_code: bool = False
    engine_options: tuple[tuple[str, object], ...] = ()  # engine-specific: base_url, tensor_parallel_size, ...


def option_fields(method_name: str) -> dict[str, dataclasses.Field]:
    """The options (Config fields) of a method; none for methods that do not train."""
    from .trainers import get_method

    cfg = getattr(get_method(method_name), "Config", None)
    return {f.name: f for f in dataclasses.fields(cfg)} if cfg else {}


def method_options(method_name: str, items: tuple[str, ...], preset: presets.Preset, seed: int,
                   strict: bool = False) -> dict:
    """Options of one method: the preset's lambda and the seed, then ``key=value`` items.

    With ``strict`` an item that is not an option of this method is an error; otherwise it is
    left to the other methods of a comma list (``run`` checks that some method knows it)."""
    known = option_fields(method_name)
    opts = {k: v for k, v in (("lam", preset.lam), ("seed", seed)) if k in known}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"--opt {item!r}: expected key=value")
        if key not in known:
            if strict:
                raise UserError(f"--opt {key!r}: not an option of {method_name} (known: {', '.join(known) or 'none'})")
            continue
        kind = type(known[key].default)
        try:
            opts[key] = kind(value) if kind is not bool else value.lower() in ("1", "true", "yes")
        except ValueError:
            raise UserError(f"--opt {key}: {value!r} is not a {kind.__name__}") from None
    return opts


def _check_options(methods: tuple[str, ...], items: tuple[str, ...]) -> None:
    known = set().union(*(option_fields(m) for m in methods))
    for item in items:
        if item.partition("=")[0] not in known:
            raise UserError(f"--opt {item!r}: not an option of {', '.join(methods)} "
                            f"(known: {', '.join(sorted(known)) or 'none'})")


def print_settings(preset: presets.Preset, cfg: RunConfig) -> None:
    table = Table(title=Text(f"pruneeval run -> {cfg.out}"), show_header=False)  # Text: paths are not markup
    for k, v in {**asdict(preset), "methods": ",".join(cfg.methods), "tasks": ",".join(cfg.tasks),
                 "eval_limit": cfg.eval_limit, "engine": cfg.engine, "seed": cfg.seed,
                 "options": " ".join(cfg.method_options)}.items():
        table.add_row(k, Text(str(v).replace("\n", "\\n")))
    console.print(table)


def _evaluate(engine, cfg: RunConfig, preset, method: str, suffix: str = "") -> dict:
    """Evaluate ``engine`` as ``method`` on every task (an inference-time method has wrapped it)."""
    spec = eval_spec(preset, _engine_spec(cfg, preset), suffix=suffix, seed=cfg.seed)
    return {t: evaluate_task(engine, t, cfg.out / "eval" / method, spec, limit=cfg.eval_limit,
                             data_dir=cfg.data_dir, model_name=preset.name, method=method) for t in cfg.tasks}


def _engine_spec(cfg: RunConfig, preset) -> EngineSpec:
    return engine_spec(preset, cfg.engine, trust_remote_code=cfg.trust_remote_code,
                       options=dict(cfg.engine_options), checked=True)


def inference_engine(method, engine, preset):
    """``engine`` as an inference-time method runs it (budget forcing, nothink), else itself."""
    return method.wrap(engine, preset)


def _release(engine) -> None:
    """Free an engine's processes and accelerator memory now (vLLM), before training or the next model."""
    close = getattr(engine, "close", None)
    if close is not None:
        close()
    gc.collect()


def run(preset: presets.Preset, cfg: RunConfig) -> dict:
    """The whole pipeline; returns {method: {task: summary}}.

    Every check comes first (the model before anything imports torch: a hub that cannot be reached
    fails in seconds); the run directory is written only once all have passed."""
    presets.check_model(preset, hub=cfg.engine != "openai")
    from .trainers import TrainConfig, get_method

    _check_options(cfg.methods, cfg.method_options)
    methods = [get_method(m, **method_options(m, cfg.method_options, preset, cfg.seed)) for m in cfg.methods]
    names = [m.name for m in methods]
    if len(set(names)) < len(names):
        raise UserError(f"--method {','.join(cfg.methods)}: a method is named twice")
    for m in methods:  # a preset without thinking markers is refused before anything runs
        m.check(preset)
    for m in methods:  # bad training settings fail now, not after presampling
        TrainConfig.from_preset(preset, method=m.name)
    needed = [TASKS[t] for t in cfg.tasks]
    trains = any(m.trains for m in methods)
    if trains:
        needed.append(preset.presample_benchmark)
        if cfg.engine == "openai":  # a server generates, but training loads the model here
            presets.check_model(preset)
    benchmarks.check_available(needed, cfg.data_dir)
    with out_lock(cfg.out):  # one run writes a run directory at a time
        return _stages(preset, cfg, methods, trains)


def evaluate_model(preset: presets.Preset, *, method: str = "baseline", method_opts: tuple[str, ...] = (),
                   tasks: str | None = None, limit: int | None = None, out: Path | None = None,
                   data_dir: Path | None = None, engine: str = "hf", engine_opts: dict | None = None, n: int = 1,
                   seed: int = 0, trust_remote_code: bool = False) -> tuple[dict, Path]:
    """``pruneeval eval``: evaluate the preset's model as a method that does not train; returns
    ({task: summary}, out).  Every check comes before the model loads."""
    from .trainers import get_method

    m = get_method(method, **method_options(method, method_opts, preset, seed, strict=True))
    if m.trains:
        raise UserError(f"method {method!r} trains a model: `pruneeval train` (or `pruneeval run --method {method}`), "
                        "then evaluate the trained model")
    m.check(preset)
    task_list = parse_tasks(tasks or preset.eval_tasks)
    benchmarks.check_available([TASKS[t] for t in task_list], data_dir)  # fails before the model loads
    espec = engine_spec(preset, engine, trust_remote_code=trust_remote_code, options=engine_opts)
    spec = eval_spec(preset, espec, suffix=m.suffix, n=n, seed=seed)
    presets.check_model(preset, hub=engine != "openai")
    out = out or Path("runs") / ("eval-" + path_part(preset.name) + ("" if m.name == "baseline" else f"-{m.name}"))
    check_out_dir(out, files=[f"{t}/{f}" for t in task_list for f in STORE_FILES])
    for t in task_list:  # a resume with other sampling, chunk or batch size: refused before the model loads
        check_manifest(out / t / "manifest.json", spec_entries(spec, espec.batch_size), write=False)
    presets.warn_world_mismatch(preset, task_list)
    with out_lock(out):
        eng = inference_engine(m, espec.build(presets.model_path(preset)), preset)
        return {t: evaluate_task(eng, t, out, spec, limit=limit, data_dir=data_dir, model_name=preset.name,
                                 method=m.name) for t in task_list}, out


def presample_model(preset: presets.Preset, *, out: Path | None = None, data_dir: Path | None = None,
                    engine: str = "hf", engine_opts: dict | None = None, seed: int = 0,
                    trust_remote_code: bool = False) -> tuple[dict, Path]:
    """``pruneeval presample``: the preset's K samples per training problem; returns (summary, out)."""
    benchmarks.check_available([preset.presample_benchmark], data_dir)  # fails before the model loads
    espec = engine_spec(preset, engine, trust_remote_code=trust_remote_code, options=engine_opts)
    presets.check_model(preset, hub=engine != "openai")
    out = out or Path("runs") / f"presample-{path_part(preset.name)}"
    check_out_dir(out, files=STORE_FILES)
    check_manifest(out / "manifest.json", presample_spec(preset, espec, seed=seed).manifest(espec.batch_size),
                   write=False)  # before the model loads
    presets.warn_world_mismatch(preset, [preset.presample_benchmark])
    with out_lock(out):
        return _presample(espec.build(presets.model_path(preset)), out, preset, espec, data_dir, seed), out


def _presample(engine, out: Path, preset: presets.Preset, espec: EngineSpec, data_dir, seed: int) -> dict:
    return presample(engine, out, presample_spec(preset, espec, seed=seed), benchmark=preset.presample_benchmark,
                     limit=preset.presample_limit or None, data_dir=data_dir, shuffle_seed=preset.presample_seed,
                     model_name=preset.name)


def train_model(preset: presets.Preset, *, method: str, method_opts: tuple[str, ...] = (), presample_dir: Path,
                out: Path | None = None, save_steps: int | None = None, seed: int = 0,
                trust_remote_code: bool = False) -> Path:
    """``pruneeval train``: fine-tune the preset's model with ``method`` on a presample directory, on the
    processes its launcher says; returns ``OUT/model``.  Every check comes before training, the
    model's first, before torch is imported: an unreachable hub fails in seconds."""
    presets.check_model(preset)
    from .presample import load_presample
    from .trainers import TrainConfig, get_method, train_launched

    m = get_method(method, **method_options(method, method_opts, preset, seed, strict=True))
    if not m.trains:
        raise UserError(f"method {method!r} does not train; use `pruneeval run --method {method}`")
    path = presets.model_path(preset)
    try:  # its config first: a missing model or unallowed code is one clear line, not a traceback
        from transformers import AutoConfig

        AutoConfig.from_pretrained(path, revision=preset.revision or None, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as e:
        from .engines import load_error

        raise load_error(path, e) from e
    load_presample(presample_dir)  # checked before anything trains
    out = out or Path("runs") / f"train-{path_part(preset.name)}-{method}"
    check_out_dir(out)
    extra = {"save_steps": save_steps} if save_steps else {}
    cfg = TrainConfig.from_preset(preset, m.name, seed=seed, progress=sys.stderr.isatty(),
                                  trust_remote_code=trust_remote_code, **extra)
    with out_lock(out):
        return train_launched(m, path, presample_dir, cfg, out)


def run_command(preset: presets.Preset, *, methods: str, tasks: str | None = None, out: Path | None = None,
                limit: int | None = None, data_dir: Path | None = None, engine: str = "hf",
                engine_opts: dict | None = None, seed: int = 0, method_opts: tuple[str, ...] = (),
                trust_remote_code: bool = False) -> dict:
    """``pruneeval run``: the run settings of the command line's, checked, then :func:`run`."""
    names = tuple(dict.fromkeys(m.strip() for m in methods.split(",") if m.strip()))
    options = engine_options(engine, **(engine_opts or {}))
    cfg = RunConfig(methods=names, tasks=tuple(parse_tasks(tasks or preset.eval_tasks)),
                    out=out or Path("runs") / path_part(preset.name), eval_limit=limit,
                    data_dir=str(data_dir) if data_dir else None, engine=engine, seed=seed,
                    method_options=tuple(method_opts), trust_remote_code=trust_remote_code,
                    engine_options=tuple(options.items()))
    check_out_dir(cfg.out, files=["manifest.json"])
    return run(preset, cfg)


# TrainConfig fields that change no number (display, checkpoint cadence, permission to run code).
NOT_NUMBERS = ("progress", "save_steps", "logging_steps", "trust_remote_code")


def method_entry(method, preset: presets.Preset, seed: int) -> dict:
    """A method's run-manifest entry: its resolved options and, if it trains, ``train``: the
    training settings that change numbers (as ``_stages`` trains it)."""
    import json

    from .trainers import TrainConfig

    config = getattr(method, "config", None)
    entry = asdict(config) if dataclasses.is_dataclass(config) else {}
    if method.trains:
        train = asdict(TrainConfig.from_preset(preset, method=method.name, seed=seed))
        entry["train"] = {k: v for k, v in train.items() if k not in NOT_NUMBERS}
    return json.loads(json.dumps(entry))  # as the manifest file holds it (tuples are lists)


# Preset keys recorded per method (in its training settings), not for the whole run directory: a run
# can train its methods on other processes than the run that presampled and evaluated the reference.
PER_METHOD_PRESET_KEYS = ("launcher", "num_processes")


def run_manifest(preset: presets.Preset, cfg: RunConfig) -> dict:
    """The run directory's settings shared by every method (``methods`` holds the rest)."""
    shared = {k: v for k, v in asdict(preset).items() if k not in PER_METHOD_PRESET_KEYS}
    return {"preset": shared, "tasks": list(cfg.tasks), "eval_limit": cfg.eval_limit,
            "engine": cfg.engine, "seed": cfg.seed}


def check_run_manifest(path: Path, manifest: dict, methods: dict[str, dict]) -> None:
    """:func:`check_manifest` with per-method entries: a method already in the run directory with
    another option or training setting is refused naming it (``method o1pruner: eps``); a method
    new to the directory is added to it."""
    from .records import read_json_object

    old = read_json_object(path).get("methods") if path.exists() else None
    old = old if isinstance(old, dict) else {}
    for name, entry in methods.items():
        if isinstance(old.get(name), dict):
            was, now = _flat(old[name]), _flat(entry)
            diff = [k for k in sorted(was.keys() | now.keys()) if was.get(k) != now.get(k)]
            if diff:
                raise UserError(f"{path}: written with different settings (method {name}: {', '.join(diff)}); "
                                "use another output directory or delete it")
    check_manifest(path, {**manifest, "methods": old})  # every shared setting as written before
    write_json_atomic(path, {**manifest, "methods": {**old, **methods}})


def _flat(entry: dict) -> dict:
    return {**{k: v for k, v in entry.items() if k != "train"},
            **{f"train.{k}": v for k, v in (entry.get("train") or {}).items()}}


def _stages(preset: presets.Preset, cfg: RunConfig, methods: list, trains: bool) -> dict:
    """Every stage of ``run``, each skipped when complete and resumed when partial."""
    from .trainers import TrainConfig, train_launched

    check_run_manifest(cfg.out / "manifest.json", run_manifest(preset, cfg),
                       {m.name: method_entry(m, preset, cfg.seed) for m in methods})
    print_settings(preset, cfg)
    presets.warn_world_mismatch(preset, [*cfg.tasks, *([preset.presample_benchmark] if trains else [])])
    ref_path = presets.model_path(preset)  # the toy reasoner is built here on first use
    results: dict[str, dict] = {}
    engine = _engine_spec(cfg, preset).build(ref_path)
    if trains:
        console.rule("presample")
        _presample(engine, cfg.out / "presample", preset, _engine_spec(cfg, preset), cfg.data_dir, cfg.seed)
    console.rule("evaluate the reference model")
    results["baseline"] = _evaluate(engine, cfg, preset, "baseline")
    for m in methods:
        if not m.trains and m.name != "baseline":
            console.rule(f"evaluate {m.name}")
            results[m.name] = _evaluate(inference_engine(m, engine, preset), cfg, preset, m.name, m.suffix)
    _release(engine)
    del engine
    for m in [m for m in methods if m.trains]:
        console.rule(f"train {m.name}")
        train_cfg = TrainConfig.from_preset(preset, method=m.name, seed=cfg.seed, progress=sys.stderr.isatty(),
                                             trust_remote_code=cfg.trust_remote_code)
        model_dir = train_launched(m, ref_path, cfg.out / "presample", train_cfg, cfg.out / "train" / m.name)
        console.rule(f"evaluate {m.name}")
        engine = _engine_spec(cfg, preset).build(str(model_dir))
        results[m.name] = _evaluate(engine, cfg, preset, m.name)
        _release(engine)
        del engine
    console.rule("report")
    from .report import write_report

    write_report([cfg.out / "eval"], cfg.out / "report")
    return results
