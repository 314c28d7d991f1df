"""Trust boundaries: repository code runs only with --trust-remote-code, and no name or path from
the command line or a preset ever reaches a shell."""

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PRUNEEVAL = [sys.executable, "-m", "pruneeval.cli"]
REPO = Path(__file__).resolve().parents[1]
SOURCES = sorted([*(REPO / "pruneeval").rglob("*.py"), *(REPO / "trainers").rglob("*.py")])

CUSTOM_CONFIG = '''
import os, pathlib
pathlib.Path(os.environ["PRUNEEVAL_TEST_MARKER"]).write_text("repository code ran")
from transformers import LlamaConfig


class MarkedConfig(LlamaConfig):
    model_type = "marked_llama"
'''

CUSTOM_MODEL = '''
from transformers import LlamaForCausalLM
from .custom_config import MarkedConfig


class MarkedModel(LlamaForCausalLM):
    config_class = MarkedConfig
'''


@pytest.fixture()
def custom_code_model(tiny_model, tmp_path):
    """The tiny model under a model type transformers does not know, its classes shipped as code in
    the model directory (an ``auto_map``); a known type would load with the library's own class."""
    model = tmp_path / "custom-model"
    shutil.copytree(tiny_model, model)
    cfg = json.loads((model / "config.json").read_text())
    cfg["model_type"] = "marked_llama"
    cfg["auto_map"] = {"AutoConfig": "custom_config.MarkedConfig", "AutoModelForCausalLM": "custom_model.MarkedModel"}
    (model / "config.json").write_text(json.dumps(cfg))
    (model / "custom_config.py").write_text(CUSTOM_CONFIG)
    (model / "custom_model.py").write_text(CUSTOM_MODEL)
    return model


def _cli(args, tmp_path, data_dir):
    env = {**os.environ, "PRUNEEVAL_DATA_DIR": str(data_dir), "PRUNEEVAL_TEST_MARKER": str(tmp_path / "marker"),
           "HF_MODULES_CACHE": str(tmp_path / "modules")}
    return subprocess.run([*PRUNEEVAL, *map(str, args)], capture_output=True, text=True, env=env, cwd=tmp_path,
                          stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("command", [
    ["eval", "--tasks", "gsm8k_len", "--limit", 1, "--max-tokens", 4],
    ["presample", "--benchmark", "gsm8k_train", "--limit", 1, "--k", 2, "--max-tokens", 4],
    ["run", "--method", "prompt", "--tasks", "gsm8k_len", "--limit", 1, "--max-tokens", 4],
    ["train", "--method", "sft", "--presample", "no-such-presample"],
])
def test_repository_code_runs_only_with_trust_remote_code(command, custom_code_model, tmp_path, data_dir):
    args = [*command, "--model", custom_code_model, "--out", tmp_path / "out"]
    refused = _cli(args, tmp_path, data_dir)
    assert refused.returncode == 2, refused.stderr
    last = refused.stderr.strip().splitlines()[-1]  # library warnings may come before it
    assert last.startswith("error: ") and "--trust-remote-code" in last and "Traceback" not in refused.stderr
    assert not (tmp_path / "marker").exists(), "repository code ran without --trust-remote-code"

    allowed = _cli([*args, "--trust-remote-code"], tmp_path, data_dir)
    assert (tmp_path / "marker").read_text() == "repository code ran", allowed.stderr
    if command[0] == "eval":  # the custom class is a Llama: the evaluation itself runs through
        assert allowed.returncode == 0, allowed.stderr
        assert (tmp_path / "out" / "gsm8k_len" / "summary.json").is_file()


def test_dataset_repository_scripts_never_run(tmp_path, monkeypatch):
    """A loading script in a dataset repository is refused by the datasets library pruneeval uses."""
    from pruneeval import benchmarks

    repo = tmp_path / "scripted-dataset"
    repo.mkdir()
    marker = tmp_path / "dataset-marker"
    (repo / "scripted-dataset.py").write_text(f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n")
    bench = benchmarks.Benchmark("scripted", "gsm8k", hub=(str(repo), (None,), "test"))
    with pytest.raises(RuntimeError, match="Dataset scripts are no longer supported, but found scripted-dataset.py"):
        list(benchmarks._read_hub(bench))
    assert not marker.exists()


HOSTILE_NAMES = ["x; touch PWNED1", "$(touch PWNED2)", "`touch PWNED3`", "a|touch PWNED4", "--model=$(touch PWNED5)"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_and_paths_never_reach_a_shell(name, tmp_path, data_dir, monkeypatch, capsys):
    from pruneeval.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PRUNEEVAL_DATA_DIR", str(data_dir))
    for args in (["eval", "--model", name, "--tasks", "gsm8k_len"],
                 ["eval", "--preset", name, "--tasks", "gsm8k_len"],
                 ["eval", "--tasks", name],
                 ["grade", name, "--benchmark", name],
                 ["report", name, "--out", str(tmp_path / "rep")],
                 ["analyze", "length", name],
                 ["train", "--method", "o1pruner", "--presample", name],
                 ["run", "--method", name]):
        with pytest.raises(SystemExit) as exit_:
            main(args)
        err = capsys.readouterr().err
        assert exit_.value.code != 0 and err.startswith("error: ") and "Traceback" not in err, (args, err)
    assert not list(tmp_path.rglob("PWNED*")), "a name was run by a shell"


def _shell_calls(tree: ast.AST):
    """Calls that hand a string to a shell or run a program: os.system/popen/exec*/spawn*,
    anything with shell=True, and any use of subprocess."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
            if any(n.split(".")[0] in ("subprocess", "pty", "commands") for n in names):
                yield node.lineno, "imports " + ", ".join(n for n in names if n)
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            if name in ("system", "popen", "startfile") or name.startswith(("execv", "execl", "spawn", "posix_spawn")):
                yield node.lineno, f"calls {name}"
            if any(k.arg == "shell" for k in node.keywords):
                yield node.lineno, "passes shell="
            if name in ("eval", "exec") and isinstance(f, ast.Name):
                yield node.lineno, f"calls {name}"


def test_no_code_path_starts_a_shell_or_evaluates_strings():
    found = [f"{path.relative_to(REPO)}:{line}: {what}" for path in SOURCES
             for line, what in _shell_calls(ast.parse(path.read_text(), str(path)))]
    assert not found, "\n".join(found)
    assert len(SOURCES) > 30  # the scan saw the package


def test_yaml_is_read_safely():
    for path in SOURCES:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("load", "unsafe_load", "full_load") \
                    and isinstance(node.value, ast.Name) and node.value.id == "yaml":
                pytest.fail(f"{path.relative_to(REPO)}:{node.lineno}: yaml.{node.attr} (use yaml.safe_load)")
