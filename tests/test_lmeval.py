"""lm-eval adapter: tasks build through pruneeval, the prompt preset follows the model, requests fit
the model's context, a missing dataset is one line, hf_len's exact lengths, equivalence with
``pruneeval eval``, the re-tokenising fallback of stock models, and the stock CLI (with
``--include_path`` or after ``pruneeval tasks install``)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import QWEN2_TOKENIZER
from lm_eval.tasks import TaskManager
from lm_eval.tasks._yaml_loader import load_yaml

from pruneeval import presets
from pruneeval.engines import Completion, Sampling, make_engine
from pruneeval.errors import UserError
from pruneeval.evaluate import TASKS, PromptSpec, RunSpec, evaluate_task
from pruneeval.grading import grade
from pruneeval.lmeval import HFLen, run_lm_eval, stop_at
from pruneeval.lmeval_cli import _peek
from pruneeval.lmeval_install import FOLDER, MARKER, install, installed, uninstall
from pruneeval.lmeval_tasks import GenText, process_results, prompt_preset, tasks_dir
from pruneeval.records import RecordStore

BIN = Path(sys.executable).parent
MAX = 48  # generated tokens in the end-to-end runs: the tiny model mixes early stops and limits
GROUP = ("gsm8k_len", "math_len", "gaokao_len")
PAPER = "Marco-o1"  # the preset with the paper's prompt: given for the tiny test model, which names none


def _read(out: Path) -> tuple[dict, dict[str, list[dict]]]:
    results = json.loads(next(out.rglob("results_*.json")).read_text())
    samples = {}
    for f in out.rglob("samples_*.jsonl"):
        task = re.match(r"samples_(.+)_\d{4}-\d\d-\d\dT", f.name).group(1)
        samples[task] = sorted((json.loads(line) for line in f.read_text().splitlines()), key=lambda s: s["doc_id"])
    return results, samples


def _env(data_dir) -> dict:
    return {**os.environ, "PRUNEEVAL_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


# ---------------------------------------------------------------- tasks

def test_task_files_match_the_eval_runner():
    """Every pruneeval task has a YAML naming the benchmark ``pruneeval eval`` uses for it."""
    names = {}
    for f in tasks_dir().glob("*.yaml"):
        cfg = load_yaml(f, resolve_func=False)
        if "group" not in cfg and "task" in cfg:
            names[cfg["task"]] = cfg["dataset_kwargs"]["benchmark"]
    assert names == TASKS
    group = load_yaml(tasks_dir() / "pruneeval_len.yaml", resolve_func=False)
    assert group["group"] == "pruneeval_len" and tuple(group["task"]) == GROUP
    base = load_yaml(tasks_dir() / "gsm8k_len.yaml", resolve_func=False)
    assert base["generation_kwargs"]["max_gen_toks"] == 8192


def _tasks(**metadata) -> TaskManager:
    return TaskManager(include_path=tasks_dir(), include_defaults=False, metadata=metadata)


def test_every_task_builds_with_its_benchmark(data_dir):
    tm = _tasks(data_dir=str(data_dir), preset=PAPER)
    loaded = tm.load(list(TASKS))
    sizes = {name: len(task.eval_docs) for name, task in loaded["tasks"].items()}
    assert {k: v for k, v in sizes.items() if k != "toy_len"} == {
        "gsm8k_len": 1319, "math_len": 500, "math_o1pruner_len": 458, "math_full_len": 5000, "gaokao_len": 385}
    assert sizes["toy_len"] > 0
    assert tm.load(["pruneeval_len"])["group_map"]["pruneeval_len"] == list(GROUP)


@pytest.mark.parametrize("metadata, preset", [
    ({"pretrained": "Qwen/QwQ-32B-Preview"}, "QwQ-32B-Preview"),
    ({"pretrained": "/models/x", "preset": "DeepSeek-R1-Distill-Qwen-7B"}, "DeepSeek-R1-Distill-Qwen-7B"),
])
def test_chat_prompt_is_pruneevals(data_dir, metadata, preset):
    """With --apply_chat_template lm-eval hands over exactly the messages ``pruneeval eval`` builds."""
    task = _tasks(**metadata, data_dir=str(data_dir)).load(["math_len"])["tasks"]["math_len"]
    doc, seen = task.eval_docs[3], []
    task.fewshot_context(doc, 0, apply_chat_template=True,
                         chat_template=lambda msgs, add_generation_prompt: seen.append(msgs) or "")
    p = presets.by_name(preset)
    assert seen == [PromptSpec(p.system_prompt, p.user_template).messages(doc["question"])]


# ---------------------------------------------------------------- the prompt preset follows the model

@pytest.fixture(scope="module")
def toy_world_checkpoint(tmp_path_factory) -> Path:
    """A dir as the trainers save a checkpoint of the toy reasoner: config and the toy tokenizer."""
    from transformers import LlamaConfig

    from pruneeval.toy.build import make_tokenizer

    out = tmp_path_factory.mktemp("toy-checkpoint")
    make_tokenizer().save_pretrained(out)
    LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                max_position_embeddings=1024).save_pretrained(out)
    return out


@pytest.mark.parametrize("pretrained, expected", [
    ("toy", "toy"), ("QwQ-32B-Preview", "QwQ-32B-Preview"), ("Qwen/QwQ-32B-Preview", "QwQ-32B-Preview"),
    ("qwen/qwq-32b-preview", "QwQ-32B-Preview"),
    ("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "DeepSeek-R1-Distill-Qwen-7B"),
])
def test_preset_follows_a_preset_name_or_hub_id(pretrained, expected):
    assert prompt_preset(None, pretrained) == presets.by_name(expected)


def test_a_toy_world_model_dir_gets_the_toy_preset(toy_world_checkpoint, tmp_path):
    """Recognised by the toy chat template of its tokenizer, wherever the dir is and whatever its name."""
    moved = tmp_path / "QwQ-32B-Preview"  # a misleading name changes nothing
    moved.mkdir()
    for f in toy_world_checkpoint.iterdir():
        (moved / f.name).write_bytes(f.read_bytes())
    for d in (toy_world_checkpoint, moved):
        assert prompt_preset(None, str(d)) == presets.by_name("toy").override(model=str(d))


@pytest.mark.parametrize("pretrained", [None, "/no/such/model", "someone/unknown-model", "tiny"])
def test_no_inferable_preset_is_refused_in_one_line(pretrained, tiny_model, capsys):
    """No silent fallback to the paper's prompt: one line naming --metadata preset=..., exit 2."""
    with pytest.raises(SystemExit) as e:
        prompt_preset(None, str(tiny_model) if pretrained == "tiny" else pretrained)
    assert e.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: no prompt preset for pretrained=") and "--metadata preset=NAME" in line


def test_a_given_preset_wins_and_an_unknown_one_is_one_line(tiny_model, capsys):
    assert prompt_preset("toy", str(tiny_model)) == presets.by_name("toy")
    with pytest.raises(SystemExit):
        prompt_preset("nope", str(tiny_model))
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: unknown preset 'nope'")


# ---------------------------------------------------------------- requests fit the model's context

def _requests(task_name: str, limit: int = 3, **metadata) -> list:
    task = _tasks(**metadata).load([task_name])["tasks"][task_name]
    task.build_all_requests(limit=limit)
    return task.instances


def test_max_gen_toks_is_capped_at_the_context_with_one_warning(tiny_model, data_dir, caplog):
    """Stock hf's ``max_length`` model arg is the context: 8192 new tokens become what the
    longest prompt leaves of it, the same limit for every request, with one warning line."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    reqs = _requests("gsm8k_len", pretrained=str(tiny_model), preset=PAPER, max_length=400, data_dir=str(data_dir))
    room = 400 - max(len(tok(r.args[0])["input_ids"]) for r in reqs)
    assert 0 < room < 400 and {r.args[1]["max_gen_toks"] for r in reqs} == {room}
    (warning,) = [r.getMessage() for r in caplog.records if "capped" in r.getMessage()]
    assert warning == f"warning: gsm8k_len: max_gen_toks 8192 capped at {room} (the model has 400 positions; " \
                      f"the longest prompt takes {400 - room} tokens)"


def test_the_models_own_positions_cap_and_a_fitting_limit_is_kept(tiny_model, toy_world_checkpoint, data_dir, caplog):
    reqs = _requests("math_len", pretrained=str(tiny_model), preset=PAPER, data_dir=str(data_dir))
    assert all(r.args[1]["max_gen_toks"] < 4096 for r in reqs)  # the tiny model's max_position_embeddings
    caplog.clear()
    reqs = _requests("toy_len", pretrained=str(toy_world_checkpoint))  # 256 fits in 1024 positions
    assert {r.args[1]["max_gen_toks"] for r in reqs} == {256} and "capped" not in caplog.text


def test_a_prompt_longer_than_the_context_is_refused(tiny_model, data_dir, capsys):
    with pytest.raises(SystemExit) as e:
        _requests("math_len", pretrained=str(tiny_model), preset=PAPER, max_length=8, data_dir=str(data_dir))
    assert e.value.code == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error:")]
    assert line.startswith("error: math_len: the longest prompt takes ") and line.endswith("of the model (8)")


# ---------------------------------------------------------------- a missing dataset is one line

def test_an_empty_data_dir_says_how_to_point_at_local_data(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        _tasks(preset=PAPER, data_dir=str(tmp_path)).load(["gsm8k_len"])
    assert e.value.code == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error:")]
    assert line.startswith(f"error: gsm8k: {tmp_path}/gsm8k/test.jsonl: benchmark file not found") and \
        "point PRUNEEVAL_DATA_DIR (or --metadata data_dir=DIR) at a local copy" in line


def test_no_data_dir_and_no_hub_is_one_line_not_a_traceback(tiny_model, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PRUNEEVAL_DATA_DIR"}
    p = subprocess.run([BIN / "pruneeval", "lm-eval", "--model", "hf_len", "--model_args", f"pretrained={tiny_model}",
                        "--tasks", "gsm8k_len", "--metadata", f"preset={PAPER}", "--output_path", str(tmp_path)],
                       capture_output=True, text=True, env={**env, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr[-3000:]
    last = p.stderr.splitlines()[-1]
    assert last.startswith("error: gsm8k: no local data dir, and the hub failed") and "PRUNEEVAL_DATA_DIR" in last


# ---------------------------------------------------------------- metrics

def _doc(gold="18", benchmark="gsm8k", tokenizer=""):
    return {"id": "x", "benchmark": benchmark, "question": "q", "gold": gold, "tokenizer": tokenizer}


@pytest.mark.parametrize("text, acc, no_answer", [
    ("So she makes \\boxed{18} dollars.", 1, 0),
    ("So she makes \\boxed{17} dollars.", 0, 0),
    ("Let me think about the eggs and", 0, 1),
])
def test_exact_lengths_and_grading(text, acc, no_answer):
    m = process_results(_doc(), [GenText(text, 12, "stop", 0.25)])
    assert m == {"acc": acc, "no_answer": no_answer, "gen_tokens": 12, "gen_tokens_retokenized": 0,
                 "truncated": 0, "latency_s": 0.25}
    g = grade(text, "18", "gsm8k")
    assert (m["acc"], m["no_answer"]) == (int(g.correct), int(g.extracted is None))
    assert process_results(_doc(), [GenText(text, 9, "length", 1.0)])["truncated"] == 1


def test_stock_model_lengths_are_retokenized_with_qwen2():
    """A plain string (stock --model hf/vllm) is counted with the metadata's tokenizer and labelled;
    latency and truncation are unknown and left out."""
    text = "Hello world, 1+1=2."
    m = process_results(_doc(benchmark="math", tokenizer=str(QWEN2_TOKENIZER)), [text])
    g = grade(text, "18", "math")  # a finished sentence concluding 2: graded, wrong
    assert m == {"acc": 0, "no_answer": int(g.extracted is None), "gen_tokens": 10, "gen_tokens_retokenized": 1}
    assert process_results(_doc(), ["Hello"]) == {"acc": 0, "no_answer": 1}  # no tokenizer known: no count


def test_gen_text_survives_pickling_and_copies():  # lm-eval's response cache pickles outputs
    import copy
    import pickle

    t = GenText("\\boxed{18}", 7, "stop", 0.5)
    for u in (pickle.loads(pickle.dumps(t)), copy.deepcopy(t)):
        assert (u, u.n_tokens, u.finish_reason, u.latency_s) == (t, 7, "stop", 0.5) and isinstance(u, GenText)


def test_repeats_average_over_completions():
    outs = [GenText("\\boxed{18}", 10, "stop", 1.0), GenText("\\boxed{3}", 30, "length", 3.0)]
    # the second was cut by the length limit: it has no answer, whatever it boxed
    assert process_results(_doc(), [outs]) == {"acc": 0.5, "no_answer": 0.5, "gen_tokens": 20.0,
                                               "gen_tokens_retokenized": 0.0, "truncated": 0.5, "latency_s": 2.0}


def test_stop_string_cuts_text_and_counts_tokens_to_it():
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(QWEN2_TOKENIZER)
    text = "Answer: 4.\n\nQuestion: what is 2+3?"
    ids = tuple(tok(text, add_special_tokens=False)["input_ids"])
    decode = lambda x: tok.decode(list(x), skip_special_tokens=True)  # noqa: E731
    c = Completion(text, len(ids), "length", 0.5, ids)
    cut = stop_at(c, ["Question:", "\n\n"], decode)
    assert str(cut) == "Answer: 4." and cut.finish_reason == "stop" and cut.latency_s == 0.5
    assert "\n\n" in decode(ids[:cut.n_tokens]) and "\n\n" not in decode(ids[:cut.n_tokens - 1])
    same = stop_at(c, ["nowhere"], decode)
    assert (str(same), same.n_tokens, same.finish_reason) == (text, len(ids), "length")


def test_gen_kwargs_to_sampling():
    s, until = HFLen._sampling({"until": ["\n\n"], "max_gen_toks": 64, "temperature": 0.0}, 3)
    assert (s, until) == (Sampling(n=1, temperature=0.0, top_p=1.0, max_tokens=64), ["\n\n"])
    s, until = HFLen._sampling({"until": [], "temperature": 0.5, "top_p": 0.8}, 4)
    assert (s, until) == (Sampling(n=4, temperature=0.5, top_p=0.8, max_tokens=8192), [])
    with pytest.raises(ValueError, match="top_k"):
        HFLen._sampling({"top_k": 5}, 1)


# ---------------------------------------------------------------- end to end (hf_len)

@pytest.fixture(scope="module")
def hf_len_run(tiny_model, data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("lmeval-hf-len")
    rc = run_lm_eval(["--model", "hf_len", "--model_args", f"pretrained={tiny_model}", "--tasks", "pruneeval_len",
                      "--limit", "3", "--log_samples", "--output_path", str(out), "--gen_kwargs",
                      f"max_gen_toks={MAX}", "--metadata", f"data_dir={data_dir}", f"preset={PAPER}"])
    assert rc == 0
    return _read(out)


def test_hf_len_reports_exact_lengths_and_latency(hf_len_run):
    results, samples = hf_len_run
    for task in (*GROUP, "pruneeval_len"):
        r = results["results"][task]
        for metric in ("acc", "gen_tokens", "latency_s", "truncated", "no_answer"):
            assert f"{metric},none" in r, (task, metric)
        assert r["gen_tokens_retokenized,none"] == 0
    rows = [s for task in GROUP for s in samples[task]]
    assert len(rows) == 9
    assert all(s["latency_s"] > 0 and 0 < s["gen_tokens"] <= MAX for s in rows)
    assert {s["truncated"] for s in rows} == {0, 1}  # early stops and limits both covered


def test_lm_eval_path_equals_pruneeval_eval(hf_len_run, tiny_model, data_dir, tmp_path):
    """Same prompts, same greedy outputs, same exact counts, same correctness as ``pruneeval eval``."""
    _, samples = hf_len_run
    engine = make_engine("hf", str(tiny_model), batch_size=8)
    p = presets.by_name(PAPER)
    for task in GROUP:
        spec = RunSpec(PromptSpec(p.system_prompt, p.user_template), Sampling(max_tokens=MAX))
        evaluate_task(engine, task, tmp_path, spec, limit=3, data_dir=data_dir, grade_workers=1)
        records = RecordStore(tmp_path / task / "samples.jsonl").load()
        assert [s["doc"]["id"] for s in samples[task]] == [r.problem_id for r in records]
        for s, r in zip(samples[task], records):
            assert s["arguments"]["gen_args_0"]["arg_0"] == engine.render(r.prompt)
            assert s["resps"] == [[r.output]]
            assert (s["gen_tokens"], s["truncated"]) == (r.n_tokens, int(r.finish_reason == "length"))
            assert (s["acc"], s["no_answer"]) == (int(r.correct), int(r.extracted is None))


def test_repeats_with_a_keep_all_filter_sample_k_completions(tiny_model, data_dir, tmp_path):
    """The documented recipe for several completions per problem: hf_len samples them with n=K."""
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "k3.yaml").write_text(
        f"include: {tasks_dir() / 'gsm8k_len.yaml'}\ntask: gsm8k_len_k3\nrepeats: 3\n"
        "filter_list: [{name: all, filter: [{function: take_first_k, k: 3}]}]\n")
    out = tmp_path / "out"
    rc = run_lm_eval(["--model", "hf_len", "--model_args", f"pretrained={tiny_model}", "--tasks", "gsm8k_len_k3",
                      "--include_path", str(tmp_path / "tasks"), "--limit", "2", "--log_samples",
                      "--output_path", str(out), "--gen_kwargs", "max_gen_toks=16,temperature=1.0",
                      "--metadata", f"data_dir={data_dir}", f"preset={PAPER}"])
    assert rc == 0
    _, samples = _read(out)
    for s in samples["gsm8k_len_k3"]:
        (texts,) = s["filtered_resps"]
        assert len(texts) == 3 and len(set(texts)) > 1
        assert 0 < s["gen_tokens"] <= 16 and s["latency_s"] > 0


def test_hf_len_generates_only(tiny_model):
    lm = HFLen(pretrained=str(tiny_model), batch_size="auto", device="cuda:0")
    with pytest.raises(NotImplementedError, match="only generates"):
        lm.loglikelihood([])
    with pytest.raises(ValueError, match="unknown --model_args"):
        HFLen(pretrained=str(tiny_model), no_such_arg=1)


# ---------------------------------------------------------------- discovery

def test_the_entry_points_name_the_registered_models():
    """pyproject's ``lm_eval.models`` entry points resolve to the classes lm-eval has registered."""
    import importlib

    from lm_eval.api.registry import get_model

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    points = pyproject["project"]["entry-points"]["lm_eval.models"]
    assert sorted(points) == ["hf_len", "vllm_len"]
    for name, target in points.items():
        module, attr = target.split(":")
        assert getattr(importlib.import_module(module), attr) is get_model(name), name


def test_run_lm_eval_indexes_builtin_tasks_only_when_needed(monkeypatch):
    import lm_eval.tasks

    calls = []

    class Recording(lm_eval.tasks.TaskManager):
        def __init__(self, *args, include_defaults=True, **kwargs):
            calls.append(include_defaults)
            super().__init__(*args, include_defaults=include_defaults, **kwargs)

    monkeypatch.setattr(lm_eval.tasks, "TaskManager", Recording)
    assert run_lm_eval(["validate", "--tasks", "gsm8k_len,pruneeval_len"]) == 0
    assert calls[-1] is False
    assert run_lm_eval(["validate", "--tasks", "no_such_task_len"]) == 1
    assert _peek(["run", "--model", "hf_len", "-t", "a,b", "c", "--include_path", "/x"]) == ("hf_len", ["/x"], ["a", "b", "c"])


def test_stock_cli_validate(data_dir):
    path = subprocess.run([BIN / "pruneeval", "tasks", "path"], capture_output=True, text=True,
                          check=True).stdout.strip()
    assert Path(path) == tasks_dir()
    old = subprocess.run([BIN / "pruneeval", "tasks-path"], capture_output=True, text=True, check=True).stdout.strip()
    assert old == path  # the earlier spelling keeps working
    p = subprocess.run([BIN / "lm_eval", "validate", "--tasks", ",".join([*TASKS, "pruneeval_len"]),
                        "--include_path", path], capture_output=True, text=True, env=_env(data_dir))
    assert p.returncode == 0 and "All tasks found and valid" in p.stdout, p.stdout + p.stderr


def test_stock_cli_hf_reports_retokenized_lengths(tiny_model, data_dir, tmp_path):
    """``lm_eval --include_path $(pruneeval tasks-path) --model hf``: acc and re-tokenised gen_tokens."""
    from transformers import AutoTokenizer

    p = subprocess.run([BIN / "lm_eval", "--include_path", str(tasks_dir()), "--tasks", "gsm8k_len",
                        "--model", "hf", "--model_args", f"pretrained={tiny_model}", "--device", "cpu",
                        "--limit", "3", "--log_samples", "--output_path", str(tmp_path), "--gen_kwargs",
                        "max_gen_toks=32", "--metadata", f"preset={PAPER}"], capture_output=True, text=True,
                       env=_env(data_dir))
    assert p.returncode == 0, p.stderr[-3000:]
    results, samples = _read(tmp_path)
    r = results["results"]["gsm8k_len"]
    assert "acc,none" in r and "gen_tokens,none" in r and r["gen_tokens_retokenized,none"] == 1
    assert "latency_s,none" not in r and "truncated,none" not in r  # unknown for stock models, not invented
    tok = AutoTokenizer.from_pretrained(tiny_model)
    for s in samples["gsm8k_len"]:
        (text,) = s["filtered_resps"]
        assert s["gen_tokens"] == len(tok(text, add_special_tokens=False)["input_ids"])


# ---------------------------------------------------------------- pruneeval tasks install

def test_install_writes_include_stubs_lm_eval_indexes_and_uninstall_removes_them(tmp_path):
    folder, names = install(tmp_path)
    assert folder == tmp_path / FOLDER and installed(tmp_path)
    assert sorted(n[:-5] for n in names) == sorted([*TASKS, "pruneeval_len"])
    tm = TaskManager(include_path=tmp_path, include_defaults=False)
    assert set(tm.all_tasks) == {*TASKS, "pruneeval_len"}
    assert load_yaml(folder / "toy_len.yaml") == load_yaml(tasks_dir() / "toy_len.yaml")  # pruneeval's own file
    (folder / "renamed_len.yaml").write_text("task: stale\n")  # a task since removed from pruneeval
    assert install(tmp_path) == (folder, names) and not (folder / "renamed_len.yaml").exists()  # idempotent
    assert uninstall(tmp_path) == folder and not folder.exists() and not installed(tmp_path)
    assert uninstall(tmp_path) is None


def test_a_folder_pruneeval_did_not_write_is_left_alone(tmp_path):
    (tmp_path / FOLDER).mkdir()
    (tmp_path / FOLDER / "mine.yaml").write_text("task: mine\n")
    for action in (install, uninstall):
        with pytest.raises(UserError, match=f"not written by pruneeval \\(no {MARKER} in it\\); left alone"):
            action(tmp_path)
    assert (tmp_path / FOLDER / "mine.yaml").is_file()


@pytest.fixture
def tasks_installed():
    """``pruneeval tasks install`` into the installed lm-eval; put back as it was afterwards."""
    before = installed()
    p = subprocess.run([BIN / "pruneeval", "tasks", "install"], capture_output=True, text=True)
    try:
        assert p.returncode == 0 and p.stdout.startswith("wrote 7 task files into "), p.stderr
        yield p.stdout
    finally:
        (install if before else uninstall)()


@pytest.mark.slow
def test_stock_lm_eval_finds_installed_tasks_until_uninstalled(tasks_installed, tmp_path):
    """``lm_eval validate --tasks gsm8k_len`` with no --include_path: found after install, not after uninstall."""
    validate = [BIN / "lm_eval", "validate", "--tasks", "gsm8k_len,pruneeval_len"]
    p = subprocess.run(validate, capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 0 and "All tasks found and valid" in p.stdout, p.stdout + p.stderr
    u = subprocess.run([BIN / "pruneeval", "tasks", "uninstall"], capture_output=True, text=True)
    assert u.returncode == 0 and u.stdout.startswith("removed "), u.stderr
    p = subprocess.run(validate, capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 1 and "Tasks not found: gsm8k_len, pruneeval_len" in p.stdout, p.stdout + p.stderr


@pytest.mark.slow
def test_stock_lm_eval_gsm8k_len_on_the_toy_model(tasks_installed, toy_model_dir, data_dir, tmp_path):
    """The users' command: ``lm_eval --tasks gsm8k_len --model hf --model_args pretrained=<toy dir>``.
    Data from PRUNEEVAL_DATA_DIR, the toy prompt found by itself, re-tokenised gen_tokens, and
    8192 new tokens capped at what the toy model's 1,024 positions leave, in one warning line
    (the toy reasoner reads no English: its answers are gibberish, as expected)."""
    p = subprocess.run([BIN / "lm_eval", "--tasks", "gsm8k_len", "--model", "hf", "--model_args",
                        f"pretrained={toy_model_dir}", "--device", "cpu", "--limit", "3", "--log_samples",
                        "--output_path", str(tmp_path)], capture_output=True, text=True, env=_env(data_dir))
    assert p.returncode == 0, p.stderr[-3000:]
    results, samples = _read(tmp_path)
    r = results["results"]["gsm8k_len"]
    assert r["gen_tokens_retokenized,none"] == 1 and r["gen_tokens,none"] > 0
    (cap,) = [line for line in p.stderr.splitlines() if "capped" in line]
    room = int(re.search(r"capped at (\d+)", cap).group(1))
    assert "gsm8k_len: max_gen_toks 8192 capped at" in cap and "the model has 1024 positions" in cap
    rows = samples["gsm8k_len"]
    assert len(rows) == 3 and all(s["arguments"]["gen_args_0"]["arg_1"]["max_gen_toks"] == room for s in rows)
    assert all(s["doc"]["user"] == s["doc"]["question"] and s["doc"]["system_prompt"] == "" for s in rows)  # toy prompt
    assert all(0 <= s["gen_tokens"] <= room for s in rows)


@pytest.mark.slow
def test_hf_len_on_the_toy_model_without_metadata_scores_as_pruneeval_eval(toy_model_dir, tmp_path):
    """``pruneeval lm-eval --model hf_len --model_args pretrained=<toy dir> --tasks toy_len --limit 64``
    with no metadata gets the toy prompt and scores what ``pruneeval eval --tasks toy_len --limit 64`` does."""
    from pruneeval.cli import main

    rc = run_lm_eval(["--model", "hf_len", "--model_args", f"pretrained={toy_model_dir}", "--tasks", "toy_len",
                      "--limit", "64", "--log_samples", "--output_path", str(tmp_path / "lm")])
    assert rc == 0
    results, samples = _read(tmp_path / "lm")
    main(["eval", "--tasks", "toy_len", "--limit", "64", "--out", str(tmp_path / "eval")])
    summary = json.loads((tmp_path / "eval" / "toy_len" / "summary.json").read_text())
    records = RecordStore(tmp_path / "eval" / "toy_len" / "samples.jsonl").load()
    assert [s["doc"]["id"] for s in samples["toy_len"]] == [r.problem_id for r in records]
    assert [s["gen_tokens"] for s in samples["toy_len"]] == [r.n_tokens for r in records]
    r = results["results"]["toy_len"]
    assert r["acc,none"] == pytest.approx(summary["accuracy"])
    assert r["gen_tokens,none"] == pytest.approx(summary["mean_tokens"])
