"""Every user error of the command line: one line naming what is wrong and where, a non-zero exit,
no traceback (``--debug`` shows it), and nothing half-written."""

import os
import shutil
import subprocess
import sys
import time

import pytest
import typer.main
from typer.main import get_command_name

from pruneeval.cli import app, main
from pruneeval.spec import EngineSpec


def _files(tmp_path):
    """Bad inputs on disk, made once per test in its own directory."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.jsonl").write_text('{"output": "\\\\boxed{1}", "gold": "1"}\n{"output": \n')
    (tmp_path / "nofield.jsonl").write_text('{"output": "\\\\boxed{1}"}\n')
    (tmp_path / "list.jsonl").write_text('[1, 2]\n')
    (tmp_path / "latin1.jsonl").write_bytes(b'{"output": "\xe9", "gold": "1"}\n')
    (tmp_path / "badkey.yaml").write_text("name: mine\nmodel: toy\nmax_tokenz: 5\n")
    (tmp_path / "badtype.yaml").write_text("name: mine\nmodel: toy\nk: many\n")
    (tmp_path / "notmap.yaml").write_text("- a\n- b\n")
    (tmp_path / "summary-bad").mkdir()
    (tmp_path / "summary-bad" / "gsm8k_len").mkdir()
    (tmp_path / "summary-bad" / "gsm8k_len" / "summary.json").write_text("{not json")
    (tmp_path / "data").mkdir()


CASES = [
    # command-line syntax
    (["frob"], "No such command 'frob'"),
    (["eval", "--nope"], "No such option: --nope"),
    (["eval", "--limit", "abc"], "Invalid value for '--limit'"),
    (["train", "--presample", "x"], "Missing option '--method'"),
    # names
    (["eval", "--tasks", "nope_len"], "unknown task 'nope_len'"),
    (["eval", "--tasks", ","], "no task given"),
    (["eval", "--preset", "nope"], "unknown preset 'nope'"),
    (["eval", "--engine", "nope"], "unknown engine 'nope'"),
    (["run", "--engine", "nope"], "unknown engine 'nope'"),
    (["eval", "--base-url", "http://127.0.0.1:9/v1"], "--base-url: not an option of --engine hf"),
    # every engine option reaches the library under its own name, in each command that generates
    (["presample", "--tensor-parallel-size", "2"], "--tensor-parallel-size: not an option of --engine hf"),
    (["sweep", "--budgets", "8", "--concurrency", "4"], "--concurrency: not an option of --engine hf"),
    (["run", "--connect-timeout", "3"], "--connect-timeout: not an option of --engine hf"),
    (["eval", "--engine", "vllm", "--read-timeout", "3"], "--read-timeout: not an option of --engine vllm"),
    (["run", "--engine", "openai", "--request-deadline", "3", "--tensor-parallel-size", "2"],
     "--tensor-parallel-size: not an option of --engine openai"),
    (["eval", "--engine", "openai"], "needs a server: --base-url"),
    (["grade", "{tmp}/bad.jsonl", "--benchmark", "nope"], "unknown benchmark 'nope'"),
    (["presample", "--model", "{tiny}", "--benchmark", "nope"], "unknown benchmark 'nope'"),
    (["run", "--method", "nope"], "unknown method 'nope'"),
    (["train", "--method", "nope", "--presample", "x"], "unknown method 'nope'"),
    (["train", "--method", "prompt", "--presample", "x"], "method 'prompt' does not train"),
    (["eval", "--method", "o1pruner"], "method 'o1pruner' trains a model"),
    (["eval", "--method", "budget@lots"], "expected budget@TOKENS"),
    (["eval", "--method", "draft@5"], "draft takes no @value"),
    (["eval", "--method", "budget", "--opt", "budget=0"], "budget must be >= 1"),
    (["eval", "--method", "budget", "--opt", "lam=1"], "--opt 'lam': not an option of budget (known: budget, answer_budget)"),
    (["run", "--method", "budget@64,budget", "--opt", "budget=64"], "a method is named twice"),
    (["eval", "--model", "{tiny}", "--method", "budget", "--tasks", "gsm8k_len"],
     "needs the model's thinking markers (preset keys think_end and budget_force)"),
    (["eval", "--preset", "QwQ-32B-Preview", "--method", "nothink"], "preset key nothink_prefill"),
    (["run", "--model", "{tiny}", "--method", "nothink"], "preset key nothink_prefill"),
    (["sweep", "--budgets", "64,x"], "--budgets '64,x': expected a comma list"),
    (["sweep", "--budgets", "0,8"], "expected budgets >= 1"),
    (["sweep", "--budgets", "8", "--method", "{tmp}/empty"], "expected budget, baseline or a trained model dir"),
    (["sweep", "--budgets", "8", "--model", "{tiny}"], "needs the model's thinking markers"),
    # models
    (["eval", "--model", "/no/such/model", "--tasks", "gsm8k_len"], "no such directory"),
    (["eval", "--model", "{tmp}/empty", "--tasks", "gsm8k_len"], "not a model directory (no config.json)"),
    # presets
    (["eval", "--preset", "{tmp}/badkey.yaml"], "unknown key 'max_tokenz'"),
    (["eval", "--preset", "{tmp}/badtype.yaml"], "key 'k' must be int"),
    (["eval", "--preset", "{tmp}/notmap.yaml"], "a preset is a mapping"),
    # method and training options
    (["run", "--opt", "lam"], "--opt 'lam': expected key=value"),
    (["run", "--opt", "nope=1"], "--opt 'nope=1': not an option of o1pruner"),
    (["run", "--opt", "lam=abc"], "--opt lam: 'abc' is not a float"),
    (["run", "--opt", "ratio=bogus"], "ratio='bogus': expected sequence or token"),
    (["run", "--finetune", "half"], "finetune mode 'half'"),
    (["train", "--method", "o1pruner", "--opt", "eps=-1", "--presample", "x"], "eps=-1.0: expected > 0"),
    (["train", "--method", "sft", "--presample", "{tmp}/empty", "--model", "{tiny}"],
     "not a finished presample directory"),
    # data
    (["eval", "--model", "{tiny}", "--data-dir", "/no/such/data", "--tasks", "gsm8k_len"], "does not exist"),
    (["eval", "--model", "{tiny}", "--data-dir", "{tmp}/data", "--tasks", "gsm8k_len"], "benchmark file not found"),
    # files
    (["grade", "{tmp}/missing.jsonl", "--benchmark", "gsm8k"], "missing.jsonl: cannot read"),
    (["grade", "{tmp}/bad.jsonl", "--benchmark", "gsm8k"], "bad.jsonl:2: malformed JSON"),
    (["grade", "{tmp}/nofield.jsonl", "--benchmark", "gsm8k"], "nofield.jsonl:1:"),
    (["grade", "{tmp}/list.jsonl", "--benchmark", "gsm8k"], "list.jsonl:1: expected a JSON object"),
    (["grade", "{tmp}/latin1.jsonl", "--benchmark", "gsm8k"], "latin1.jsonl:1: invalid UTF-8"),
    (["report", "{tmp}/nowhere"], "nowhere: no such file or directory"),
    (["report", "{tmp}/empty"], "no eval summaries"),
    (["report", "{tmp}/summary-bad"], "summary.json: not a readable JSON file"),
    (["analyze", "length", "{tmp}/nowhere"], "nowhere: no such file or directory"),
    (["analyze", "length", "{tmp}/empty"], "no samples.jsonl found"),
    (["analyze", "overthinking", "{tmp}/nowhere"], "nowhere: no such file or directory"),
    (["analyze", "overthinking", "{tmp}/empty"], "no samples.jsonl found"),
    (["analyze", "overthinking", "{tmp}/nofield.jsonl", "-b", "gsm8k"], "nofield.jsonl:1: missing field 'gold'"),
    (["analyze", "overthinking", "{tmp}/bad.jsonl", "-b", "gsm8k", "--tokenizer", "{tmp}/empty"],
     "bad.jsonl:2: malformed JSON"),  # the input is read before a tokenizer loads
]


@pytest.mark.parametrize("args, message", CASES, ids=[" ".join(a)[:60] for a, _ in CASES])
def test_user_error_is_one_line_without_traceback(args, message, tmp_path, tiny_model, data_dir, monkeypatch, capsys):
    _files(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PRUNEEVAL_DATA_DIR", str(data_dir))
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("PRUNEEVAL_HOME", str(tmp_path / "home"))  # no built toy model: errors come before it
    argv = [a.format(tmp=tmp_path, tiny=tiny_model) for a in args]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code not in (0, None)
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("summary.json"))


def _error_line(stderr: str) -> str:
    """The one error line, after the model-loading progress bar these cases print first."""
    lines = stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and sum(line.startswith("error") for line in lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[-1]


def test_resume_with_other_settings_is_refused_and_keeps_the_results(tiny_model, tmp_path, data_dir, capsys,
                                                                      monkeypatch):
    monkeypatch.setenv("PRUNEEVAL_DATA_DIR", str(data_dir))
    args = ["eval", "--model", str(tiny_model), "--tasks", "gsm8k_len", "--limit", "2", "--out", str(tmp_path)]
    main([*args, "--max-tokens", "4"])
    samples = tmp_path / "gsm8k_len" / "samples.jsonl"
    before = samples.read_bytes()
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--max-tokens", "5"])
    err = _error_line(capsys.readouterr().err)
    assert exit_.value.code == 2
    assert "written with different settings" in err and "max_tokens" in err
    assert samples.read_bytes() == before


@pytest.mark.parametrize("command", [["eval", "--tasks", "gsm8k_len", "--limit", "4"],
                                     ["presample", "-b", "gsm8k", "--k", "2", "--limit", "3"]], ids=lambda c: c[0])
def test_resume_with_another_batch_size_is_refused_and_the_same_resumes(command, tiny_model, tmp_path, data_dir,
                                                                         capsys, monkeypatch):
    """The batch size sets the chunks, and so the seeds (and, for the hf engine, the padding) of the
    samples: a resume with another is refused, greedy too, before the model loads or anything is
    written."""
    monkeypatch.setenv("PRUNEEVAL_DATA_DIR", str(data_dir))
    args = [*command, "--model", str(tiny_model), "--max-tokens", "4", "--out", str(tmp_path)]
    main([*args, "--batch-size", "2"])
    store = tmp_path / ("gsm8k_len" if command[0] == "eval" else "") / "samples.jsonl"
    full = store.read_text().splitlines(keepends=True)
    store.write_text("".join(full[:2]))  # as a run killed after its first samples leaves it
    written = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    capsys.readouterr()
    with monkeypatch.context() as patch, pytest.raises(SystemExit) as exit_:
        patch.setattr(EngineSpec, "build", lambda *a: pytest.fail("refused only after the model loaded"))
        main([*args, "--batch-size", "3"])
    err = _error_line(capsys.readouterr().err)
    assert exit_.value.code == 2 and "written with different settings" in err and "batch_size" in err, err
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == written
    main([*args, "--batch-size", "2"])
    assert store.read_text().splitlines(keepends=True)[:2] == full[:2] and len(store.read_text().splitlines()) == len(full)


def test_corrupt_record_in_the_middle_is_named_by_file_and_line(tiny_model, tmp_path, data_dir, capsys, monkeypatch):
    monkeypatch.setenv("PRUNEEVAL_DATA_DIR", str(data_dir))
    args = ["eval", "--model", str(tiny_model), "--tasks", "gsm8k_len", "--limit", "3", "--max-tokens", "4",
            "--out", str(tmp_path)]
    main(args)
    samples = tmp_path / "gsm8k_len" / "samples.jsonl"
    lines = samples.read_text().splitlines(keepends=True)
    samples.write_text(lines[0] + "{garbage\n" + "".join(lines[1:]))
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(args)
    assert f"{samples}:2: corrupt sample record" in _error_line(capsys.readouterr().err)


def test_debug_shows_the_traceback(tmp_path):
    res = subprocess.run([sys.executable, "-m", "pruneeval.cli", "--debug", "eval", "--tasks", "nope_len"],
                         capture_output=True, text=True, cwd=tmp_path, env=os.environ)
    assert res.returncode != 0 and "Traceback" in res.stderr and "unknown task 'nope_len'" in res.stderr


def _commands(group, path=()):
    """Every command and group of the CLI's click tree, as argument paths (lm-eval hands its --help to
    lm_eval), with its click command."""
    yield path, group
    for name, cmd in getattr(group, "commands", {}).items():
        if cmd.add_help_option:
            yield from _commands(cmd, (*path, name))


def _registered(typer_app, path=()):
    """Every command and group path in typer's own registration tables, those with --help."""
    for c in typer_app.registered_commands:
        if c.add_help_option:
            yield (*path, c.name or get_command_name(c.callback.__name__))
    for g in typer_app.registered_groups:
        yield (*path, g.name)
        yield from _registered(g.typer_instance, (*path, g.name))


COMMANDS = dict(_commands(typer.main.get_command(app)))
# A value for each required option of a command that takes --model, enough to reach the model check.
REQUIRED = {"--method": "sft", "--presample": "x", "--budgets": "8"}


def _model_commands():
    """Every command that loads the model --model names, with its required options filled in."""
    for path, cmd in COMMANDS.items():
        if any("--model" in p.opts for p in cmd.params):
            required = [p.opts[0] for p in cmd.params if p.required]
            assert set(required) <= set(REQUIRED), f"{path}: give REQUIRED a value for {required}"
            yield [*path, *(a for opt in required for a in (opt, REQUIRED[opt]))]


def test_every_command_has_help_and_h_and_no_placeholder_on_switches(capsys):
    paths = list(COMMANDS)
    assert set(paths) == {(), *_registered(app)}  # the walk sees every registered command and group
    for path in paths:
        main([*path, "--help"])
        out = capsys.readouterr().out
        main([*path, "-h"])
        assert capsys.readouterr().out == out and out.startswith("Usage: ")
        assert "-h, --help" in out and "<bool>" not in out, out  # a switch takes no value


def _refused_quickly(args, env, cwd):
    """Run the CLI in a subprocess; return (exit status, stderr lines, seconds)."""
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "pruneeval.cli", *args], capture_output=True, text=True, cwd=cwd,
                         env=env, timeout=60)
    return res.returncode, res.stderr.strip().splitlines(), time.perf_counter() - t0


@pytest.mark.parametrize("hub", ["HF_HUB_OFFLINE=1", "HF_ENDPOINT=http://127.0.0.1:9"])  # offline; no connection
@pytest.mark.parametrize("args", list(_model_commands()), ids=lambda a: a[0])
def test_unreachable_hub_model_fails_in_one_line_in_seconds_writing_nothing(args, hub, tmp_path, data_dir):
    cwd, home = tmp_path / "cwd", tmp_path / "home"
    cwd.mkdir()
    key, _, value = hub.partition("=")
    env = {**os.environ, "PRUNEEVAL_DATA_DIR": str(data_dir), "PRUNEEVAL_HOME": str(home),
           "HF_HOME": str(tmp_path / "hf"), key: value}  # an empty hub cache
    env.pop("HF_HUB_CACHE", None)
    code, err, seconds = _refused_quickly([*args, "--model", "QwQ-32B-Preview"], env, cwd)
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("error: model 'Qwen/QwQ-32B-Preview': not a local directory, not in the hub cache")
    assert ("HF_HUB_OFFLINE is set" if key == "HF_HUB_OFFLINE" else "the hub is unreachable") in err[0]
    assert seconds < 5, seconds
    assert not any(cwd.iterdir()) and not home.exists()


def test_hub_model_in_the_hub_cache_runs_offline(tiny_model, tmp_path, data_dir):
    """The check is real, not a refusal of every hub id: a cached model passes it and loads offline."""
    snapshot = tmp_path / "hf" / "hub" / "models--pruneeval--tiny" / "snapshots" / ("0" * 40)
    shutil.copytree(tiny_model, snapshot)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0" * 40)
    env = {**os.environ, "PRUNEEVAL_DATA_DIR": str(data_dir), "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    env.pop("HF_HUB_CACHE", None)
    res = subprocess.run([sys.executable, "-m", "pruneeval.cli", "eval", "--model", "pruneeval/tiny", "--tasks",
                          "gsm8k_len", "--limit", "1", "--max-tokens", "4", "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "out" / "gsm8k_len" / "summary.json").is_file()


@pytest.mark.parametrize("preset, task, warning", [
    ("toy", "gsm8k_len", "warning: the toy reasoner reads only the toy world's arithmetic; expect ~0% on gsm8k_len"),
    (None, "toy_len", "warning: toy_len is the toy world's arithmetic, which only the toy reasoner"),
    ("toy", "toy_len", None),
    (None, "gsm8k_len", None),
])
def test_one_warning_line_when_model_and_world_do_not_match(preset, task, warning, tiny_model, tmp_path, data_dir,
                                                           monkeypatch, capsys):
    """``--preset toy`` is how the toy reasoner (or a checkpoint trained from it) is evaluated."""
    monkeypatch.setenv("PRUNEEVAL_DATA_DIR", str(data_dir))
    main(["eval", "--model", str(tiny_model), *(["--preset", preset] if preset else []), "--tasks", task,
          "--limit", "1", "--max-tokens", "4", "--out", str(tmp_path)])
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning")]
    if warning is None:
        assert warnings == []
    else:
        assert len(warnings) == 1 and warnings[0].startswith(warning), warnings


def test_refused_run_writes_nothing(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--opt", "ratio=bogus", "--out", str(tmp_path / "r")])
    assert exit_.value.code == 2 and "ratio='bogus'" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
