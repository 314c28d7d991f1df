"""Every user error of the command line: one line naming what is wrong and where, a non-zero exit,
no traceback (``--debug`` shows it), and nothing half-written."""

import os
import subprocess
import sys

import pytest

from pruneeval.cli import main


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
    (["eval", "--engine", "openai"], "needs a server: --base-url"),
    (["grade", "{tmp}/bad.jsonl", "--benchmark", "nope"], "unknown benchmark 'nope'"),
    (["presample", "--model", "{tiny}", "--benchmark", "nope"], "unknown benchmark 'nope'"),
    (["run", "--method", "nope"], "unknown method 'nope'"),
    (["train", "--method", "nope", "--presample", "x"], "unknown method 'nope'"),
    (["train", "--method", "prompt", "--presample", "x"], "method 'prompt' does not train"),
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


def test_every_command_has_help(capsys):
    for cmd in (["--help"], ["eval", "--help"], ["grade", "--help"], ["presample", "--help"], ["train", "--help"],
                ["run", "--help"], ["report", "--help"], ["analyze", "length", "--help"], ["toy", "build", "--help"],
                ["tasks-path", "--help"]):
        main(cmd)
        assert "Usage" in capsys.readouterr().out


def test_refused_run_writes_nothing(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--opt", "ratio=bogus", "--out", str(tmp_path / "r")])
    assert exit_.value.code == 2 and "ratio='bogus'" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
