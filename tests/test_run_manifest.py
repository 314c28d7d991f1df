"""The run directory's manifest records every method option and training setting: a changed one
is refused in one line naming it, before any model loads; a method new to the directory is added."""

import json

import pytest

from pruneeval import presets
from pruneeval.cli import main
from pruneeval.errors import UserError
from pruneeval.run import RunConfig, check_run_manifest, method_entry, method_options, run_manifest
from pruneeval.trainers import get_method


def _write_manifest(out, methods, items=()):
    """The manifest ``pruneeval run --method METHODS`` writes on the toy (defaults otherwise)."""
    p = presets.resolve("toy")
    cfg = RunConfig(methods=tuple(methods), tasks=("toy_len",), out=out)
    entries = {m: method_entry(get_method(m, **method_options(m, items, p, 0)), p, 0) for m in methods}
    check_run_manifest(out / "manifest.json", run_manifest(p, cfg), entries)
    return out / "manifest.json"


def _refused(args, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["run", *args])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_the_manifest_records_options_and_training_settings(tmp_path):
    m = json.loads(_write_manifest(tmp_path, ["o1pruner", "prompt"]).read_text())["methods"]
    assert m["o1pruner"]["eps"] == 0.2 and m["o1pruner"]["lam"] == 2.0
    assert m["o1pruner"]["train"]["lr"] == 3e-5 and m["o1pruner"]["train"]["max_grad_norm"] == 1.0
    assert "progress" not in m["o1pruner"]["train"] and m["prompt"] == {}


@pytest.mark.parametrize("methods", ["o1pruner", "o1pruner,sft"])
def test_a_changed_method_option_is_refused_before_anything_loads(tmp_path, capsys, monkeypatch, data_dir,
                                                                   methods):
    monkeypatch.setenv("PRUNEEVAL_DATA_DIR", str(data_dir))
    monkeypatch.setenv("PRUNEEVAL_HOME", str(tmp_path / "home"))  # no toy model: the refusal comes first
    manifest = _write_manifest(tmp_path / "r", ["o1pruner"])
    before = manifest.read_bytes()
    err = _refused(["--method", methods, "--opt", "eps=0.1", "--out", str(tmp_path / "r")], capsys)
    assert "written with different settings (method o1pruner: eps)" in err  # sft, new here, is no change
    assert manifest.read_bytes() == before and not (tmp_path / "home").exists()


def test_a_new_method_is_added_and_a_changed_training_setting_is_named(tmp_path):
    _write_manifest(tmp_path, ["o1pruner"])
    manifest = _write_manifest(tmp_path, ["o1pruner", "sft"])  # resumes: adds sft
    written = json.loads(manifest.read_text())
    assert set(written["methods"]) == {"o1pruner", "sft"}
    _write_manifest(tmp_path, ["prompt"])  # a run of one method keeps the others' entries
    assert set(json.loads(manifest.read_text())["methods"]) == {"o1pruner", "sft", "prompt"}
    p = presets.resolve("toy")
    entry = method_entry(get_method("sft"), p, 0)
    entry["train"]["lr"] = 1e-3
    with pytest.raises(UserError, match=r"\(method sft: train\.lr\)"):
        check_run_manifest(manifest, run_manifest(p, RunConfig(("sft",), ("toy_len",), tmp_path)), {"sft": entry})
