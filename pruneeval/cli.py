"""The ``pruneeval`` command line: thin, one call into the library per command."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import List, Optional

import typer

from .errors import UserError, first_line, one_line
from .outputs import STORE_FILES, check_out_dir, check_out_file, out_lock, path_part

# Plain (click) help: typer 0.29's rich panels print a value placeholder (`--debug <bool>`) on every
# switch; click's own formatter shows one only for options that take a value.  -h is --help.
app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="Measure and shrink the thinking length of long-chain-of-thought models.")
toy_app = typer.Typer(no_args_is_help=True, help="The embedded toy long-thought world.")
app.add_typer(toy_app, name="toy")
analyze_app = typer.Typer(no_args_is_help=True, help="Analyses of sampled records or outputs: the paper's "
                          "length analyses, overthinking.")
app.add_typer(analyze_app, name="analyze")
tasks_app = typer.Typer(no_args_is_help=True, help="pruneeval's lm-eval tasks: install into lm-eval, or their path.")
app.add_typer(tasks_app, name="tasks")
STATE = {"debug": False}

MODEL = typer.Option(None, "--model", "-m", help="preset name, hub id or local model dir (default: the toy reasoner)")
DATA_DIR = typer.Option(None, "--data-dir", help="local benchmark dir laid out like shared/data "
                        "(default: $PRUNEEVAL_DATA_DIR, else the Hugging Face hub)")
ENGINE = typer.Option("hf", "--engine", help="generation engine: hf | vllm | openai")
BASE_URL = typer.Option(None, "--base-url", help="--engine openai: the server, e.g. http://127.0.0.1:8000/v1 "
                        "(default $OPENAI_BASE_URL; key from $OPENAI_API_KEY)")
TP = typer.Option(None, "--tensor-parallel-size", min=1, help="--engine vllm: GPUs per model")
CONCURRENCY = typer.Option(None, "--concurrency", min=1, help="--engine openai: requests in flight (default 16)")
CONNECT_TIMEOUT = typer.Option(None, "--connect-timeout", min=0.001, help="--engine openai: seconds to connect "
                               "(default 10)")
READ_TIMEOUT = typer.Option(None, "--read-timeout", min=0.001, help="--engine openai: seconds of silence while "
                            "waiting for an answer, which comes whole: bounds one generation (default 600)")
DEADLINE = typer.Option(None, "--request-deadline", min=0.001, help="--engine openai: seconds for one request, "
                        "all its retries included (default 1800)")
TRUST = typer.Option(False, "--trust-remote-code", help="allow code from the model repository to run")
DTYPE = typer.Option(None, "--dtype", help="training compute dtype: float32 | bfloat16 (bf16 autocast over "
                     "fp32 master weights; default: the preset's)")
PROCESSES = typer.Option(None, "--num-processes", min=0, help="training processes, one per GPU (0 = every visible "
                         "GPU; default: the preset's); more than 1 without --launcher is ddp")
LAUNCHER = typer.Option(None, "--launcher", help="how training processes share the work: ddp | fsdp | "
                        "deepspeed-zero3 | none (one process, inside pruneeval); default: the preset's")


def launch_settings(launcher: Optional[str], num_processes: Optional[int]) -> dict:
    """Preset overrides of --launcher / --num-processes (``none`` is the preset's empty launcher)."""
    if launcher is not None and launcher not in ("ddp", "fsdp", "deepspeed-zero3", "none"):
        raise UserError(f"--launcher {launcher!r}: expected ddp, fsdp, deepspeed-zero3 or none")
    return {"launcher": "" if launcher == "none" else launcher, "num_processes": num_processes}


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="show tracebacks of errors")):
    STATE["debug"] = debug


ENGINE_FLAGS = {"base_url": "--base-url", "tensor_parallel_size": "--tensor-parallel-size",
                "concurrency": "--concurrency", "connect_timeout_s": "--connect-timeout",
                "read_timeout_s": "--read-timeout", "deadline_s": "--request-deadline"}
ENGINE_TAKES = {"vllm": {"tensor_parallel_size"},
                "openai": {"base_url", "concurrency", "connect_timeout_s", "read_timeout_s", "deadline_s"}}


def engine_options(engine: str, **given) -> dict:
    """The engine-specific options given on the command line (``ENGINE_FLAGS`` keys, None when not
    given); one that ``engine`` does not take is an error."""
    from .engines import engine_target
    from .engines.openai import server_url

    engine_target(engine)
    takes = ENGINE_TAKES.get(engine, set())
    wrong = [ENGINE_FLAGS[k] for k, v in given.items() if v is not None and k not in takes]
    if wrong:
        raise UserError(f"{', '.join(wrong)}: not an option of --engine {engine}")
    if engine == "openai":
        server_url(given.get("base_url"))
    return {k: v for k, v in given.items() if v is not None}


def _engine(engine: str, path: str, batch_size: int, revision: str, trust: bool, **options):
    from .engines import make_engine

    return make_engine(engine, path, batch_size=batch_size, revision=revision or None, trust_remote_code=trust,
                       **options)


def _top_p(value: float | None) -> float | None:
    if value is not None and not 0 < value <= 1:
        raise typer.BadParameter(f"{value} is not in the range 0<x<=1.")
    return value


def _temperature(value: float | None) -> float | None:
    if value is not None and not 0 <= value < float("inf"):
        raise typer.BadParameter(f"{value} is not in the range x>=0.")
    return value


TEMPERATURE = typer.Option(None, "--temperature", callback=_temperature, help="0 = greedy (default: the preset's)")
TOP_P = typer.Option(None, "--top-p", callback=_top_p, help="nucleus sampling mass, in (0, 1] (default: the preset's)")
PRESET = typer.Option(None, "--preset", help="settings (prompt, tasks, max tokens) of this preset for --model "
                      "(default: the preset --model names, else generic)")


@app.command("eval")
def eval_cmd(
    model: Optional[str] = MODEL,
    preset_name: Optional[str] = PRESET,
    tasks: Optional[str] = typer.Option(None, "--tasks", "-t", help="comma list, e.g. gsm8k_len,math_len,gaokao_len "
                                        "(default: the preset's)"),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="first N problems of each task"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="output dir (default runs/eval-<model>)"),
    data_dir: Optional[Path] = DATA_DIR,
    engine: str = ENGINE,
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="prompts per generation batch"),
    n: int = typer.Option(1, "--n", min=1, help="samples per problem"),
    temperature: Optional[float] = TEMPERATURE,
    top_p: Optional[float] = TOP_P,
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", min=1,
                                             help="max generated tokens (default: the preset's)"),
    seed: int = typer.Option(0, "--seed"),
    trust_remote_code: bool = TRUST,
    base_url: Optional[str] = BASE_URL,
    tensor_parallel_size: Optional[int] = TP,
    concurrency: Optional[int] = CONCURRENCY,
    connect_timeout: Optional[float] = CONNECT_TIMEOUT,
    read_timeout: Optional[float] = READ_TIMEOUT,
    request_deadline: Optional[float] = DEADLINE,
    method: str = typer.Option("baseline", "--method", help="a method that does not train: baseline, prompt, "
                               "tale[@B], draft, budget[@B], nothink"),
    opt: List[str] = typer.Option([], "--opt", help="method option key=value (e.g. budget=512, answer_budget=32)"),
):
    """Evaluate a model: accuracy, exact generated tokens and wall time per task."""
    from . import benchmarks, presets
    from .engines.base import Sampling
    from .evaluate import TASKS, PromptSpec, evaluate_task, parse_tasks
    from .report.summaries import print_summaries
    from .run import inference_engine, method_options
    from .trainers import get_method

    preset = presets.resolve(model, preset_name)
    m = get_method(method, **method_options(method, tuple(opt), preset, seed, strict=True))
    if m.trains:
        raise UserError(f"method {method!r} trains a model: `pruneeval train` (or `pruneeval run --method {method}`), "
                        "then evaluate the trained model")
    m.check(preset)
    task_list = parse_tasks(tasks or preset.eval_tasks)
    benchmarks.check_available([TASKS[t] for t in task_list], data_dir)  # fails before the model loads
    sampling = Sampling(n=n, temperature=preset.eval_temperature if temperature is None else temperature,
                        top_p=preset.eval_top_p if top_p is None else top_p,
                        max_tokens=max_tokens or preset.max_tokens, seed=seed)
    options = engine_options(engine, base_url=base_url, tensor_parallel_size=tensor_parallel_size,
                             concurrency=concurrency, connect_timeout_s=connect_timeout,
                             read_timeout_s=read_timeout, deadline_s=request_deadline)
    presets.check_model(preset, hub=engine != "openai")
    out = out or Path("runs") / ("eval-" + path_part(preset.name) + ("" if m.name == "baseline" else f"-{m.name}"))
    check_out_dir(out, files=[f"{t}/{f}" for t in task_list for f in STORE_FILES])
    presets.warn_world_mismatch(preset, task_list)
    with out_lock(out):
        eng = _engine(engine, presets.model_path(preset), batch_size or preset.batch_gen, preset.revision,
                      trust_remote_code, **options)
        eng = inference_engine(m, eng, preset)
        prompt = PromptSpec(preset.system_prompt, preset.user_template, m.suffix)
        summaries = {t: evaluate_task(eng, t, out, prompt, sampling, limit=limit, data_dir=data_dir,
                                      model_name=preset.name, method=m.name, chunk=max(eng.batch_size, 1) * 4)
                     for t in task_list}
    print_summaries(summaries, out)


@app.command("sweep")
def sweep_cmd(
    budgets: str = typer.Option(..., "--budgets", help="comma list of token budgets, e.g. 64,128,256,512"),
    method: str = typer.Option("budget", "--method", help="comma list of budget (budget forcing and the plain "
                               "cut on --model), baseline (the plain cut only) and trained model dirs"),
    model: Optional[str] = MODEL,
    preset_name: Optional[str] = PRESET,
    tasks: Optional[str] = typer.Option(None, "--tasks", "-t", help="comma list (default: the preset's)"),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="first N problems of each task"),
    answer_budget: int = typer.Option(32, "--answer-budget", min=1, help="answer tokens after a forced budget"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="output dir (default runs/sweep-<model>)"),
    data_dir: Optional[Path] = DATA_DIR,
    engine: str = ENGINE,
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="prompts per generation batch"),
    seed: int = typer.Option(0, "--seed"),
    trust_remote_code: bool = TRUST,
    base_url: Optional[str] = BASE_URL,
    tensor_parallel_size: Optional[int] = TP,
    concurrency: Optional[int] = CONCURRENCY,
):
    """Accuracy at each token budget: budget forcing against a plain max-tokens cut, one curve per model."""
    from . import benchmarks, presets
    from .evaluate import TASKS, parse_tasks
    from .sweep import curves, parse_budgets, run_sweep
    from .trainers import get_method

    preset = presets.resolve(model, preset_name)
    budget_list = parse_budgets(budgets)
    curve_list = curves(method, preset)
    if any("budget" in c.kinds for c in curve_list):
        get_method("budget").check(preset)
    task_list = parse_tasks(tasks or preset.eval_tasks)
    benchmarks.check_available([TASKS[t] for t in task_list], data_dir)
    options = engine_options(engine, base_url=base_url, tensor_parallel_size=tensor_parallel_size,
                             concurrency=concurrency)
    presets.check_model(preset, hub=engine != "openai")
    out = out or Path("runs") / f"sweep-{path_part(preset.name)}"
    check_out_dir(out, files=["sweep.json", "sweep.md", "sweep.png"])
    presets.warn_world_mismatch(preset, task_list)
    with out_lock(out):
        result = run_sweep(preset, curve_list, budget_list, task_list, out,
                           lambda path: _engine(engine, path, batch_size or preset.batch_gen, preset.revision,
                                                trust_remote_code, **options),
                           answer_budget=answer_budget, limit=limit, data_dir=data_dir, seed=seed)
    typer.echo(f"{len(result['curves'])} curves at {len(budget_list)} budgets: wrote {out}/sweep.md, sweep.json, sweep.png")


@app.command("presample")
def presample_cmd(
    model: Optional[str] = MODEL,
    benchmark: Optional[str] = typer.Option(None, "--benchmark", "-b", help="training problems (default: the preset's)"),
    k: Optional[int] = typer.Option(None, "--k", min=1, help="samples per problem (default: the preset's K)"),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="first N problems (default: the preset's)"),
    temperature: Optional[float] = TEMPERATURE,
    top_p: Optional[float] = TOP_P,
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", min=1),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="output dir (default runs/presample-<model>)"),
    data_dir: Optional[Path] = DATA_DIR,
    engine: str = ENGINE,
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="prompts per generation batch"),
    seed: int = typer.Option(0, "--seed"),
    trust_remote_code: bool = TRUST,
    base_url: Optional[str] = BASE_URL,
    tensor_parallel_size: Optional[int] = TP,
    concurrency: Optional[int] = CONCURRENCY,
    connect_timeout: Optional[float] = CONNECT_TIMEOUT,
    read_timeout: Optional[float] = READ_TIMEOUT,
    request_deadline: Optional[float] = DEADLINE,
):
    """K samples per training problem from the reference model, graded, with L_ref and A_ref."""
    from . import benchmarks, presets
    from .evaluate import PromptSpec
    from .presample import presample
    from .report.summaries import print_summaries

    p = presets.resolve(model).override(presample_benchmark=benchmark, k=k, presample_limit=limit,
                                        presample_temperature=temperature, presample_top_p=top_p,
                                        max_tokens=max_tokens, batch_gen=batch_size)
    benchmarks.check_available([p.presample_benchmark], data_dir)  # fails before the model loads
    options = engine_options(engine, base_url=base_url, tensor_parallel_size=tensor_parallel_size,
                             concurrency=concurrency, connect_timeout_s=connect_timeout,
                             read_timeout_s=read_timeout, deadline_s=request_deadline)
    presets.check_model(p, hub=engine != "openai")
    out = out or Path("runs") / f"presample-{path_part(p.name)}"
    check_out_dir(out, files=STORE_FILES)
    presets.warn_world_mismatch(p, [p.presample_benchmark])
    with out_lock(out):
        eng = _engine(engine, presets.model_path(p), p.batch_gen, p.revision, trust_remote_code, **options)
        s = presample(eng, out, PromptSpec(p.system_prompt, p.user_template), benchmark=p.presample_benchmark,
                      k=p.k, temperature=p.presample_temperature, top_p=p.presample_top_p, max_tokens=p.max_tokens,
                      limit=p.presample_limit or None, data_dir=data_dir, seed=seed,
                      shuffle_seed=p.presample_seed, model_name=p.name,
                      chunk=max(1, p.batch_gen // 2))
    print_summaries({p.presample_benchmark: s}, out)


@app.command("train")
def train_cmd(
    method: str = typer.Option(..., "--method", help="sft | dpo | o1pruner"),
    presample_dir: Path = typer.Option(..., "--presample", help="a presample directory"),
    model: Optional[str] = MODEL,
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="output dir (default runs/train-<model>-<method>)"),
    finetune: Optional[str] = typer.Option(None, "--finetune", help="full | freeze:N | lora:R (default: the preset's)"),
    lr: Optional[float] = typer.Option(None, "--lr"),
    epochs: Optional[float] = typer.Option(None, "--epochs"),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="effective batch size"),
    micro_batch_size: Optional[int] = typer.Option(None, "--micro-batch-size", min=1, help="per-device batch size"),
    opt: List[str] = typer.Option([], "--opt", help="method option key=value (e.g. lam=5, m=2, eps=0.2, ratio=token)"),
    save_steps: Optional[int] = typer.Option(None, "--save-steps", min=1, help="checkpoint every N optimizer steps "
                                             "(a killed run resumes from the last; default 200)"),
    dtype: Optional[str] = DTYPE,
    num_processes: Optional[int] = PROCESSES,
    launcher: Optional[str] = LAUNCHER,
    seed: int = typer.Option(0, "--seed"),
    trust_remote_code: bool = TRUST,
):
    """Fine-tune a model with a method on presampled records; writes OUT/model."""
    from . import presets
    from .presample import load_presample
    from .run import method_options

    p = presets.resolve(model).override(finetune=finetune, lr=lr, epochs=epochs, batch_size=batch_size,
                                        micro_batch_size=micro_batch_size, train_dtype=dtype,
                                        **launch_settings(launcher, num_processes))
    presets.check_model(p)  # before torch is imported: an unreachable hub fails in seconds
    from .trainers import TrainConfig, get_method, train_launched

    m = get_method(method, **method_options(method, tuple(opt), p, seed, strict=True))
    if not m.trains:
        raise UserError(f"method {method!r} does not train; use `pruneeval run --method {method}`")
    path = presets.model_path(p)
    try:  # its config first: a missing model or unallowed code is one clear line, not a traceback
        from transformers import AutoConfig

        AutoConfig.from_pretrained(path, revision=p.revision or None, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as e:
        from .engines import load_error

        raise load_error(path, e) from e
    load_presample(presample_dir)  # checked before anything trains
    out = out or Path("runs") / f"train-{path_part(p.name)}-{method}"
    check_out_dir(out)
    extra = {"save_steps": save_steps} if save_steps else {}
    cfg = TrainConfig.from_preset(p, m.name, seed=seed, progress=sys.stderr.isatty(),
                                  trust_remote_code=trust_remote_code, **extra)
    with out_lock(out):
        typer.echo(str(train_launched(m, path, presample_dir, cfg, out)))


@app.command("run")
def run_cmd(
    method: str = typer.Option("o1pruner", "--method", help="comma list of baseline, prompt, tale[@B], draft, "
                               "budget[@B], nothink, sft, dpo, o1pruner"),
    model: Optional[str] = MODEL,
    tasks: Optional[str] = typer.Option(None, "--tasks", "-t", help="eval tasks (default: the preset's)"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="run dir (default runs/<model>)"),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="first N problems of each eval task"),
    presample_limit: Optional[int] = typer.Option(None, "--presample-limit", min=0, help="training problems (0 = all)"),
    k: Optional[int] = typer.Option(None, "--k", min=1, help="samples per training problem"),
    finetune: Optional[str] = typer.Option(None, "--finetune", help="full | freeze:N | lora:R"),
    lr: Optional[float] = typer.Option(None, "--lr"),
    epochs: Optional[float] = typer.Option(None, "--epochs"),
    lam: Optional[float] = typer.Option(None, "--lam", help="O1-Pruner lambda"),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", min=1),
    opt: List[str] = typer.Option([], "--opt", help="method option key=value (e.g. m=2, eps=0.2, ratio=token, "
                                  "budget=512)"),
    dtype: Optional[str] = DTYPE,
    num_processes: Optional[int] = PROCESSES,
    launcher: Optional[str] = LAUNCHER,
    data_dir: Optional[Path] = DATA_DIR,
    engine: str = ENGINE,
    seed: int = typer.Option(0, "--seed"),
    trust_remote_code: bool = TRUST,
    base_url: Optional[str] = BASE_URL,
    tensor_parallel_size: Optional[int] = TP,
    concurrency: Optional[int] = CONCURRENCY,
    connect_timeout: Optional[float] = CONNECT_TIMEOUT,
    read_timeout: Optional[float] = READ_TIMEOUT,
    request_deadline: Optional[float] = DEADLINE,
):
    """The whole pipeline: presample, train each method, evaluate all, leaderboard."""
    from . import presets
    from .evaluate import parse_tasks
    from .run import RunConfig, run

    p = presets.resolve(model).override(presample_limit=presample_limit, k=k, finetune=finetune, lr=lr,
                                        epochs=epochs, lam=lam, max_tokens=max_tokens, train_dtype=dtype,
                                        **launch_settings(launcher, num_processes))
    methods = tuple(dict.fromkeys(m.strip() for m in method.split(",") if m.strip()))
    options = engine_options(engine, base_url=base_url, tensor_parallel_size=tensor_parallel_size,
                             concurrency=concurrency, connect_timeout_s=connect_timeout,
                             read_timeout_s=read_timeout, deadline_s=request_deadline)
    cfg = RunConfig(methods=methods, tasks=tuple(parse_tasks(tasks or p.eval_tasks)),
                    out=out or Path("runs") / path_part(p.name), eval_limit=limit,
                    data_dir=str(data_dir) if data_dir else None, engine=engine, seed=seed,
                    method_options=tuple(opt), trust_remote_code=trust_remote_code,
                    engine_options=tuple(options.items()))
    check_out_dir(cfg.out, files=["manifest.json"])
    run(p, cfg)


@app.command("grade")
def grade_cmd(
    file: Path = typer.Argument(..., help="JSON lines with 'output' and 'gold' (and "
                                         "'finish_reason', 'stop' or 'length', where known)"),
    benchmark: str = typer.Option(..., "--benchmark", "-b", help="grading rules of this benchmark"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="write graded lines here"),
):
    """Grade model outputs against gold answers; prints the accuracy."""
    from .grading import grade_jsonl

    if out is not None:
        check_out_file(out)
    res = grade_jsonl(file, benchmark, out)
    typer.echo(f"{res['correct']}/{res['n']} correct: accuracy {res['accuracy']:.2%}")


@app.command("report")
def report_cmd(
    dirs: List[Path] = typer.Argument(..., help="run or eval directories"),
    baseline: str = typer.Option("baseline", "--baseline", help="method every AES is measured against"),
    out: Path = typer.Option(Path("reports/leaderboard"), "--out", "-o", help="output dir"),
    aes_variant: str = typer.Option("paper", "--aes-variant", help="paper (penalises accuracy loss) | printed"),
):
    """AES leaderboards (markdown, CSV, JSON), plots and bootstrap intervals."""
    from .report import write_report

    check_out_dir(out, files=["leaderboard.md", "leaderboard.csv", "leaderboard.json"])
    with out_lock(out):
        write_report(dirs, out, baseline=baseline, aes_variant=aes_variant)
    typer.echo(f"wrote {out}/leaderboard.md")


@analyze_app.command("length")
def analyze_length_cmd(
    path: Path = typer.Argument(..., help="a presample or eval dir (or a samples.jsonl)"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="output dir (default DIR/length_analysis)"),
):
    """The paper's Table 1, Figure 1 and difficulty split over sampled records."""
    from .report import analyze_length

    if out is not None:
        check_out_dir(out, files=["length_analysis.md", "length_analysis.json"])
    analyze_length(path, out)


@analyze_app.command("overthinking")
def analyze_overthinking_cmd(
    path: Path = typer.Argument(..., help="a presample or eval dir (or a samples.jsonl), or a JSONL of outputs "
                                "('output', 'gold'; optional 'n_tokens', 'model', 'dataset' or 'benchmark', "
                                "'finish_reason')"),
    tokenizer: Optional[str] = typer.Option(None, "--tokenizer", help="tokenizer dir or hub id: exact token "
                                            "positions (default: estimated from characters and n_tokens)"),
    benchmark: Optional[str] = typer.Option(None, "--benchmark", "-b", help="grading rules for every output of a "
                                            "JSONL (default: from each line's 'dataset' or 'benchmark')"),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="local benchmark dir laid out like shared/data, "
                                            "for each record's difficulty (default: $PRUNEEVAL_DATA_DIR; with "
                                            "neither, records are grouped by benchmark; the hub is not read)"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="output dir (default DIR/overthinking, or "
                                       "overthinking/ beside the file)"),
):
    """Where the first correct answer comes, the tokens after it and the solution rounds, per
    difficulty level (records) or per model (a JSONL of outputs)."""
    from .report import analyze_overthinking

    analyze_overthinking(path, out, tokenizer=tokenizer, benchmark=benchmark, data_dir=data_dir)


@toy_app.command("build")
def toy_build(force: bool = typer.Option(False, "--force", help="rebuild even if a built model exists")):
    """Build the toy reasoner (tokenizer + tiny model trained by the shared trainer)."""
    from .toy.build import build

    typer.echo(str(build(force=force)))


@app.command("lm-eval", add_help_option=False,
             context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def lm_eval_cmd(ctx: typer.Context):
    """Run lm-eval's CLI with pruneeval's tasks and hf_len registered (arguments as for lm_eval)."""
    from .lmeval import run_lm_eval

    return run_lm_eval(ctx.args)


@tasks_app.command("install")
def tasks_install():
    """Let stock lm_eval find pruneeval's tasks (lm_eval --tasks gsm8k_len, no --include_path)."""
    from .lmeval_install import install

    folder, names = install()
    typer.echo(f"wrote {len(names)} task files into {folder} ({', '.join(n[:-5] for n in names)}); "
               "undo with: pruneeval tasks uninstall")


@tasks_app.command("uninstall")
def tasks_uninstall():
    """Remove what `pruneeval tasks install` wrote into lm-eval's task folder."""
    from .lmeval_install import lm_eval_tasks_dir, uninstall

    folder = uninstall()
    typer.echo(f"removed {folder}" if folder else f"nothing to remove: not installed in {lm_eval_tasks_dir()}")


@tasks_app.command("path")
def tasks_path():
    """Print the directory of pruneeval's lm-eval task files (for lm_eval --include_path)."""
    from .lmeval_tasks import tasks_dir

    typer.echo(str(tasks_dir()))


app.command("tasks-path", hidden=True, help="Same as `pruneeval tasks path`.")(tasks_path)


INTERRUPTED = "interrupted: finished samples are kept; the same command resumes"


def main(argv: Optional[List[str]] = None) -> None:
    # Waiting OpenMP threads sleep instead of spinning: beside any other busy process, spinning
    # made torch on a CPU 7x slower (same results either way). Read when torch loads, so set first.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        rv = app(args=argv, standalone_mode=False)
        if isinstance(rv, int) and rv:
            if rv == 130 and not STATE["debug"]:  # typer's return for a Ctrl-C in a command
                typer.echo(INTERRUPTED, err=True)
            sys.exit(rv)
    except UserError as e:
        if STATE["debug"]:
            raise
        typer.echo(one_line(f"error: {e}"), err=True)
        sys.exit(2)
    except Exception as e:
        if hasattr(e, "format_message") and hasattr(e, "exit_code"):  # click's (or typer's copy's) usage errors
            message = e.format_message()
            if message:  # empty for a bare command group, whose help was printed
                ctx = getattr(e, "ctx", None)
                hint = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
                typer.echo(f"error: {message}{hint}", err=True)
            sys.exit(e.exit_code)
        if type(e).__name__ == "Abort":  # Ctrl-C at a prompt
            sys.exit(130)
        if STATE["debug"]:
            raise
        typer.echo(f"error: {e.__class__.__name__}: {first_line(e)} (run with --debug for the traceback)", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        if STATE["debug"]:
            raise
        typer.echo(INTERRUPTED, err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
