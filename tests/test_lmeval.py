"""lm-eval adapter: tasks build through pruneeval, hf_len's exact lengths, equivalence with
``pruneeval eval``, the re-tokenising fallback of stock models, and the stock CLI."""

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
from pruneeval.evaluate import TASKS, PromptSpec, evaluate_task
from pruneeval.grading import grade
from pruneeval.lmeval import HFLen, GenText, _peek, process_results, run_lm_eval, stop_at, tasks_dir
from pruneeval.records import RecordStore

BIN = Path(sys.executable).parent
MAX = 48  # generated tokens in the end-to-end runs: the tiny model mixes early stops and limits
GROUP = ("gsm8k_len", "math_len", "gaokao_len")


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


def test_every_task_builds_with_its_benchmark(data_dir):
    tm = TaskManager(include_path=tasks_dir(), include_defaults=False, metadata={"data_dir": str(data_dir)})
    loaded = tm.load(list(TASKS))
    sizes = {name: len(task.eval_docs) for name, task in loaded["tasks"].items()}
    assert {k: v for k, v in sizes.items() if k != "toy_len"} == {
        "gsm8k_len": 1319, "math_len": 500, "math_o1pruner_len": 458, "math_full_len": 5000, "gaokao_len": 385}
    assert sizes["toy_len"] > 0
    assert tm.load(["pruneeval_len"])["group_map"]["pruneeval_len"] == list(GROUP)


@pytest.mark.parametrize("metadata, preset", [
    ({"pretrained": "/some/local/model"}, None),  # unknown model: the paper's prompt
    ({"pretrained": "Qwen/QwQ-32B-Preview"}, "QwQ-32B-Preview"),
    ({"pretrained": "/models/x", "preset": "DeepSeek-R1-Distill-Qwen-7B"}, "DeepSeek-R1-Distill-Qwen-7B"),
])
def test_chat_prompt_is_pruneevals(data_dir, metadata, preset):
    """With --apply_chat_template lm-eval hands over exactly the messages ``pruneeval eval`` builds."""
    tm = TaskManager(include_path=tasks_dir(), include_defaults=False, metadata={**metadata, "data_dir": str(data_dir)})
    task = tm.load(["math_len"])["tasks"]["math_len"]
    doc, seen = task.eval_docs[3], []
    task.fewshot_context(doc, 0, apply_chat_template=True,
                         chat_template=lambda msgs, add_generation_prompt: seen.append(msgs) or "")
    p = presets.resolve(preset) if preset else presets.Preset()
    assert seen == [PromptSpec(p.system_prompt, p.user_template).messages(doc["question"])]


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
    m = process_results(_doc(benchmark="math", tokenizer=str(QWEN2_TOKENIZER)), ["Hello world, 1+1=2."])
    assert m == {"acc": 0, "no_answer": 1, "gen_tokens": 10, "gen_tokens_retokenized": 1}
    assert process_results(_doc(), ["Hello"]) == {"acc": 0, "no_answer": 1}  # no tokenizer known: no count


def test_gen_text_survives_pickling_and_copies():  # lm-eval's response cache pickles outputs
    import copy
    import pickle

    t = GenText("\\boxed{18}", 7, "stop", 0.5)
    for u in (pickle.loads(pickle.dumps(t)), copy.deepcopy(t)):
        assert (u, u.n_tokens, u.finish_reason, u.latency_s) == (t, 7, "stop", 0.5) and isinstance(u, GenText)


def test_repeats_average_over_completions():
    outs = [GenText("\\boxed{18}", 10, "stop", 1.0), GenText("\\boxed{3}", 30, "length", 3.0)]
    assert process_results(_doc(), [outs]) == {"acc": 0.5, "no_answer": 0.0, "gen_tokens": 20.0,
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
                      "--limit", "3", "--log_samples", "--output_path", str(out),
                      "--gen_kwargs", f"max_gen_toks={MAX}", "--metadata", f"data_dir={data_dir}"])
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
    p = presets.resolve(str(tiny_model))
    for task in GROUP:
        evaluate_task(engine, task, tmp_path, PromptSpec(p.system_prompt, p.user_template),
                      Sampling(max_tokens=MAX), limit=3, data_dir=data_dir, grade_workers=1)
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
                      "--metadata", f"data_dir={data_dir}"])
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
    path = subprocess.run([BIN / "pruneeval", "tasks-path"], capture_output=True, text=True, check=True).stdout.strip()
    assert Path(path) == tasks_dir()
    p = subprocess.run([BIN / "lm_eval", "validate", "--tasks", ",".join([*TASKS, "pruneeval_len"]),
                        "--include_path", path], capture_output=True, text=True, env=_env(data_dir))
    assert p.returncode == 0 and "All tasks found and valid" in p.stdout, p.stdout + p.stderr


def test_stock_cli_hf_reports_retokenized_lengths(tiny_model, data_dir, tmp_path):
    """``lm_eval --include_path $(pruneeval tasks-path) --model hf``: acc and re-tokenised gen_tokens."""
    from transformers import AutoTokenizer

    p = subprocess.run([BIN / "lm_eval", "--include_path", str(tasks_dir()), "--tasks", "gsm8k_len",
                        "--model", "hf", "--model_args", f"pretrained={tiny_model}", "--device", "cpu",
                        "--limit", "3", "--log_samples", "--output_path", str(tmp_path),
                        "--gen_kwargs", "max_gen_toks=32"], capture_output=True, text=True, env=_env(data_dir))
    assert p.returncode == 0, p.stderr[-3000:]
    results, samples = _read(tmp_path)
    r = results["results"]["gsm8k_len"]
    assert "acc,none" in r and "gen_tokens,none" in r and r["gen_tokens_retokenized,none"] == 1
    assert "latency_s,none" not in r and "truncated,none" not in r  # unknown for stock models, not invented
    tok = AutoTokenizer.from_pretrained(tiny_model)
    for s in samples["gsm8k_len"]:
        (text,) = s["filtered_resps"]
        assert s["gen_tokens"] == len(tok(text, add_special_tokens=False)["input_ids"])
