"""The ``pruneeval`` command line: thin, one call into the library per command."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import List, Optional

import typer

from .cli_options import (DTYPE, EPOCHS, FINETUNE, GEN_BATCH, LAUNCHER, LIMIT, LR, MAX_TOKENS,
                          MODEL, OPTS, PRESET, PROCESSES, SAVE_STEPS, SEED, TASKS, TRUST, check_temperature,
                          check_top_p, launch_settings, preset_option, with_generation_options)
from .errors import UserError, first_line, one_line
from .outputs import check_out_dir, check_out_file, out_lock

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


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="show tracebacks of errors")):
    STATE["debug"] = debug


@app.command("eval")
@with_generation_options
def eval_cmd(
    model: Optional[str] = MODEL,
    preset_name: Optional[str] = PRESET,
    tasks: Optional[str] = TASKS,
    limit: Optional[int] = LIMIT,
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="output dir (default runs/eval-<model>)"),
    batch_size: Optional[int] = GEN_BATCH,
    n: int = typer.Option(1, "--n", min=1, help="samples per problem"),
    temperature: Optional[float] = preset_option("eval_temperature", "--temperature", callback=check_temperature),
    top_p: Optional[float] = preset_option("eval_top_p", "--top-p", callback=check_top_p),
    max_tokens: Optional[int] = MAX_TOKENS,
    method: str = typer.Option("baseline", "--method", help="a method that does not train: baseline, prompt, "
                               "tale[@B], draft, budget[@B], nothink"),
    opt: List[str] = OPTS,
    gen: dict = None,  # data dir, engine, seed, trust, engine options: gathered by with_generation_options
):
    """Evaluate a model: accuracy, exact generated tokens and wall time per task."""
    from . import presets
    from .report.summaries import print_summaries
    from .run import evaluate_model

    preset = presets.resolve(model, preset_name).override(eval_temperature=temperature, eval_top_p=top_p,
                                                          max_tokens=max_tokens, batch_gen=batch_size)
    print_summaries(*evaluate_model(
        preset, method=method, method_opts=tuple(opt), tasks=tasks, limit=limit, out=out, n=n, **gen))


@app.command("sweep")
@with_generation_options
def sweep_cmd(
    budgets: str = typer.Option(..., "--budgets", help="comma list of token budgets, e.g. 64,128,256,512"),
    method: str = typer.Option("budget", "--method", help="comma list of budget (budget forcing and the plain "
                               "cut on --model), baseline (the plain cut only) and trained model dirs"),
    model: Optional[str] = MODEL,
    preset_name: Optional[str] = PRESET,
    tasks: Optional[str] = TASKS,
    limit: Optional[int] = LIMIT,
    answer_budget: int = typer.Option(32, "--answer-budget", min=1, help="answer tokens after a forced budget"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="output dir (default runs/sweep-<model>)"),
    batch_size: Optional[int] = GEN_BATCH,
    gen: dict = None,  # data dir, engine, seed, trust, engine options: gathered by with_generation_options
):
    """Accuracy at each token budget: budget forcing against a plain max-tokens cut, one curve per model."""
    from . import presets
    from .sweep import sweep_model

    preset = presets.resolve(model, preset_name).override(batch_gen=batch_size)
    result, out, budget_list = sweep_model(
        preset, budgets=budgets, method=method, tasks=tasks, limit=limit, answer_budget=answer_budget, out=out, **gen)
    typer.echo(f"{len(result['curves'])} curves at {len(budget_list)} budgets: wrote {out}/sweep.md, sweep.json, sweep.png")


@app.command("presample")
@with_generation_options
def presample_cmd(
    model: Optional[str] = MODEL,
    benchmark: Optional[str] = preset_option("presample_benchmark", "--benchmark", "-b"),
    k: Optional[int] = preset_option("k", "--k", min=1),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="first N training problems (default: the "
                                        "preset's presample_limit)"),
    temperature: Optional[float] = preset_option("presample_temperature", "--temperature", callback=check_temperature),
    top_p: Optional[float] = preset_option("presample_top_p", "--top-p", callback=check_top_p),
    max_tokens: Optional[int] = MAX_TOKENS,
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="output dir (default runs/presample-<model>)"),
    batch_size: Optional[int] = GEN_BATCH,
    gen: dict = None,  # data dir, engine, seed, trust, engine options: gathered by with_generation_options
):
    """K samples per training problem from the reference model, graded, with L_ref and A_ref."""
    from . import presets
    from .report.summaries import print_summaries
    from .run import presample_model

    p = presets.resolve(model).override(presample_benchmark=benchmark, k=k, presample_limit=limit,
                                        presample_temperature=temperature, presample_top_p=top_p,
                                        max_tokens=max_tokens, batch_gen=batch_size)
    summary, out = presample_model(p, out=out, **gen)
    print_summaries({p.presample_benchmark: summary}, out)


@app.command("train")
def train_cmd(
    method: str = typer.Option(..., "--method", help="sft | dpo | o1pruner"),
    presample_dir: Path = typer.Option(..., "--presample", help="a presample directory"),
    model: Optional[str] = MODEL,
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="output dir (default runs/train-<model>-<method>)"),
    finetune: Optional[str] = FINETUNE,
    lr: Optional[float] = LR,
    epochs: Optional[float] = EPOCHS,
    batch_size: Optional[int] = preset_option("batch_size", "--batch-size", min=1),
    micro_batch_size: Optional[int] = preset_option("micro_batch_size", "--micro-batch-size", min=1),
    opt: List[str] = OPTS,
    save_steps: Optional[int] = SAVE_STEPS,
    dtype: Optional[str] = DTYPE,
    num_processes: Optional[int] = PROCESSES,
    launcher: Optional[str] = LAUNCHER,
    seed: int = SEED,
    trust_remote_code: bool = TRUST,
):
    """Fine-tune a model with a method on presampled records; writes OUT/model."""
    from . import presets
    from .run import train_model

    p = presets.resolve(model).override(finetune=finetune, lr=lr, epochs=epochs, batch_size=batch_size,
                                        micro_batch_size=micro_batch_size, train_dtype=dtype,
                                        **launch_settings(launcher, num_processes))
    typer.echo(str(train_model(p, method=method, method_opts=tuple(opt), presample_dir=presample_dir, out=out,
                               save_steps=save_steps, seed=seed, trust_remote_code=trust_remote_code)))


@app.command("run")
@with_generation_options
def run_cmd(
    method: str = typer.Option("o1pruner", "--method", help="comma list of baseline, prompt, tale[@B], draft, "
                               "budget[@B], nothink, sft, dpo, o1pruner"),
    model: Optional[str] = MODEL,
    tasks: Optional[str] = TASKS,
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="run dir (default runs/<model>)"),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="first N problems of each eval task"),
    presample_limit: Optional[int] = preset_option("presample_limit", "--presample-limit", min=0),
    k: Optional[int] = preset_option("k", "--k", min=1),
    finetune: Optional[str] = FINETUNE,
    lr: Optional[float] = LR,
    epochs: Optional[float] = EPOCHS,
    lam: Optional[float] = preset_option("lam", "--lam"),
    max_tokens: Optional[int] = MAX_TOKENS,
    opt: List[str] = OPTS,
    dtype: Optional[str] = DTYPE,
    num_processes: Optional[int] = PROCESSES,
    launcher: Optional[str] = LAUNCHER,
    gen: dict = None,  # data dir, engine, seed, trust, engine options: gathered by with_generation_options
):
    """The whole pipeline: presample, train each method, evaluate all, leaderboard."""
    from . import presets
    from .run import run_command

    p = presets.resolve(model).override(presample_limit=presample_limit, k=k, finetune=finetune, lr=lr,
                                        epochs=epochs, lam=lam, max_tokens=max_tokens, train_dtype=dtype,
                                        **launch_settings(launcher, num_processes))
    run_command(p, methods=method, tasks=tasks, out=out, limit=limit, method_opts=tuple(opt), **gen)


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
