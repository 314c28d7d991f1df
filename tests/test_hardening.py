"""Hardening, second round: hung servers, concurrent runs, colliding ids, hostile records and paths,
leaked credentials.  Each case runs the real CLI (in a subprocess where signals, locks or limits
matter) against real local HTTP servers, and checks one error line and exit 2 before any work, or
a result equal to a clean run."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pruneeval.cli import main

PRUNEEVAL = [sys.executable, "-m", "pruneeval.cli"]
TINY_EVAL = ["eval", "--tasks", "gsm8k_len", "--limit", "2", "--max-tokens", "4"]


def _env(data_dir, **extra):
    env = {**os.environ, "PRUNEEVAL_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1", **extra}
    env.pop("OPENAI_BASE_URL", None)
    return env


def _cli(args, env, cwd=None, **kw):
    return subprocess.run([*PRUNEEVAL, *map(str, args)], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=300, **kw)


def _one_error(res, *fragments):
    """Exit 2 and exactly one line, ``error: ...`` holding every fragment, no traceback."""
    lines = [line for line in res.stderr.strip().splitlines() if not line.startswith("warning")]
    assert res.returncode == 2, res.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in res.stderr, res.stderr[-2000:]
    for f in fragments:
        assert f in lines[0], lines[0]
    return lines[0]


# ---------------------------------------------------------------- local OpenAI-compatible servers

class Server:
    """A local HTTP server; ``answer(handler) -> (status, body, headers)`` or None to hang forever."""

    def __init__(self, answer):
        self.requests, self.posted = [], threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self):
                size = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(size)) if size else None
                outer.requests.append((self.command, self.path, dict(self.headers), body))
                if self.command == "POST":
                    outer.posted.set()
                step = answer(self)
                if step is None:
                    time.sleep(3600)  # never answers
                status, payload, headers = step
                data = json.dumps(payload).encode()
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.url = self.origin + "/v1"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def server():
    started = []

    def start(answer):
        started.append(Server(answer))
        return started[-1]

    yield start
    for s in started:
        s.close()


MODELS = (200, {"data": [{"id": "served"}]}, {})


def models_then(post_answer):
    """Answer GET /v1/models with one model, and every POST with ``post_answer(handler)``."""
    return lambda h: MODELS if h.command == "GET" else post_answer(h)


def completion(token_ids, text="\\boxed{1}", finish="length") -> tuple:
    choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish,
              "stop_reason": None, "token_ids": token_ids}
    return 200, {"choices": [choice], "usage": {"completion_tokens": 3}}, {}


def openai_eval(url, tiny_model, out) -> list:
    return [*TINY_EVAL, "--engine", "openai", "--base-url", url, "--model", tiny_model, "--out", out]


# ---------------------------------------------------------------- 1. hung server, Ctrl-C, timeouts

def _interrupt_when_posted(proc, srv) -> float:
    assert srv.posted.wait(120), "the run never sent a request"
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    t0 = time.perf_counter()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:  # say where it hangs: PYTHONFAULTHANDLER dumps every thread on SIGABRT
        proc.send_signal(signal.SIGABRT)
        err = proc.communicate(timeout=30)[1]
        pytest.fail(f"still running 30 s after Ctrl-C; its stderr and threads:\n{err[-8000:]}")
    return time.perf_counter() - t0


def test_ctrl_c_stops_a_run_waiting_on_a_hung_server_within_2s(server, tiny_model, tmp_path, data_dir):
    srv = server(models_then(lambda h: None))
    proc = subprocess.Popen([*PRUNEEVAL, *openai_eval(srv.url, tiny_model, tmp_path / "out")],
                            env=_env(data_dir, PYTHONFAULTHANDLER="1"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    seconds = _interrupt_when_posted(proc, srv)
    err = proc.stderr.read()
    assert seconds < 2, seconds
    assert proc.returncode == 130 and "interrupted: finished samples are kept; the same command resumes" in err, err


def test_a_hung_server_is_given_up_on_at_the_request_deadline(server, tiny_model, tmp_path, data_dir):
    srv = server(models_then(lambda h: None))
    t0 = time.perf_counter()
    res = _cli([*openai_eval(srv.url, tiny_model, tmp_path / "out"), "--read-timeout", "0.3",
                "--request-deadline", "1"], _env(data_dir))
    _one_error(res, "/chat/completions", "gave up after the request deadline")
    assert time.perf_counter() - t0 < 60
    assert not (tmp_path / "out" / "gsm8k_len" / "samples.jsonl").exists()


# ---------------------------------------------------------------- 2. one writer per output directory

def test_a_second_run_on_one_out_is_refused_and_a_dead_runs_lock_taken_over(server, tiny_model, tmp_path,
                                                                           data_dir):
    srv = server(models_then(lambda h: None))
    out = tmp_path / "both"
    first = subprocess.Popen([*PRUNEEVAL, *openai_eval(srv.url, tiny_model, out)], env=_env(data_dir),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert srv.posted.wait(120)
        second = _cli([*TINY_EVAL, "--model", tiny_model, "--out", out], _env(data_dir))
        _one_error(second, f"{out}: in use by another pruneeval run (pid {first.pid})")
        presample = _cli(["presample", "--model", tiny_model, "--benchmark", "gsm8k_train", "--limit", 1, "--k", 1,
                          "--max-tokens", 2, "--out", out], _env(data_dir))
        _one_error(presample, f"(pid {first.pid})")
    finally:
        first.send_signal(signal.SIGKILL)  # its lock file stays behind, naming a dead process
        first.wait()
    assert (out / ".pruneeval.lock").read_text().strip() == str(first.pid)
    third = _cli([*TINY_EVAL, "--model", tiny_model, "--out", out], _env(data_dir))
    assert third.returncode == 0, third.stderr[-2000:]
    lines = (out / "gsm8k_len" / "samples.jsonl").read_text().splitlines()
    assert len(lines) == 2 == len({(json.loads(x)["problem_id"], json.loads(x)["sample_idx"]) for x in lines})


# ---------------------------------------------------------------- 3. colliding problem ids

def _data_dir(tmp_path, rows) -> Path:
    d = tmp_path / "data"
    (d / "gsm8k").mkdir(parents=True)
    (d / "gsm8k" / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return d


def _row(question, **extra):
    return {"question": question, "answer": "so #### 1", **extra}


def test_duplicate_problem_ids_are_refused_naming_both_lines(tiny_model, tmp_path, data_dir):
    d = _data_dir(tmp_path, [_row("q1", id="a"), _row("q2", id="a"), _row("q3", id="a-1"), _row("q4", id="b")])
    res = _cli([*TINY_EVAL, "--model", tiny_model, "--data-dir", d, "--out", tmp_path / "out"], _env(data_dir))
    f = d / "gsm8k" / "test.jsonl"
    _one_error(res, f"{f}:2: problem id 'a' also at {f}:1")
    assert not (tmp_path / "out").exists()


def test_repeated_questions_get_ids_that_never_clash(tiny_model, tmp_path, data_dir):
    import hashlib

    h = hashlib.sha1(b"same").hexdigest()[:16]
    d = _data_dir(tmp_path, [_row("same"), _row("same"), _row("other", id=f"{h}-1")])
    res = _cli([*TINY_EVAL, "--limit", 3, "--model", tiny_model, "--data-dir", d, "--out", tmp_path / "out"],
               _env(data_dir))
    assert res.returncode == 0, res.stderr[-2000:]
    ids = [json.loads(x)["problem_id"] for x in (tmp_path / "out" / "gsm8k_len" / "samples.jsonl").open()]
    assert sorted(ids) == sorted([h, f"{h}-2", f"{h}-1"])
    summary = json.loads((tmp_path / "out" / "gsm8k_len" / "summary.json").read_text())
    assert summary["n_samples"] == 3 == summary["manifest"]["n_problems"]


# ---------------------------------------------------------------- 4. records validated where they come back in

@pytest.fixture(scope="module")
def evaluated(tiny_model, tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("evaluated")
    res = _cli([*TINY_EVAL, "--limit", 3, "--model", tiny_model, "--out", out], _env(data_dir))
    assert res.returncode == 0, res.stderr
    return out


def _edit_line(path: Path, lineno: int, edit) -> None:
    lines = path.read_text().splitlines()
    lines[lineno - 1] = edit(lines[lineno - 1])
    path.write_text("\n".join(lines) + "\n")


def _set(field, value):
    return lambda line: json.dumps({**json.loads(line), field: value}) if field else line


BAD_RECORDS = [  # (edit of line 2, "field: what")
    (_set("n_tokens", "12"), "n_tokens: must be an integer >= 0, got '12'"),
    (_set("correct", "yes"), "correct: must be true or false"),
    (lambda line: line.replace('"n_tokens": ', '"n_tokens": 3, "n_tokens": ', 1), "n_tokens: duplicate key"),
    (_set("n_tokens", float("nan")), "n_tokens: must be an integer >= 0, got nan"),
    (_set("latency_s", float("inf")), "latency_s: must be a finite number >= 0, got inf"),
    (_set("n_tokens", -1000), "n_tokens: must be an integer >= 0, got -1000"),
    (_set("problem_id", "zzz"), "problem_id: 'zzz' is not a problem of this run"),
    (_set("sample_idx", 99), "sample_idx: 99 out of range (1 per problem)"),
    (_set("extra", 1), "extra: unknown field"),
]


@pytest.mark.parametrize("edit, message", BAD_RECORDS, ids=[m.split(":")[0] + str(i) for i, (_, m) in
                                                            enumerate(BAD_RECORDS)])
def test_a_bad_sample_record_is_named_by_file_line_and_field(edit, message, evaluated, tiny_model, tmp_path,
                                                             data_dir, monkeypatch, capsys):
    out = tmp_path / "out"
    shutil.copytree(evaluated, out)
    samples = out / "gsm8k_len" / "samples.jsonl"
    _edit_line(samples, 2, edit)
    before = samples.read_bytes()
    monkeypatch.setenv("PRUNEEVAL_DATA_DIR", str(data_dir))
    for args in ([*TINY_EVAL, "--limit", "3", "--model", str(tiny_model), "--out", str(out)],
                 ["report", str(out), "--out", str(tmp_path / "report")]):
        if args[0] == "report" and message.startswith(("problem_id", "sample_idx")):
            continue  # a report has no problem list to check against
        with pytest.raises(SystemExit) as exit_:
            main(args)
        err = capsys.readouterr().err.strip().splitlines()
        assert exit_.value.code == 2 and err[-1].startswith(f"error: {samples}:2: {message}"), err
    assert samples.read_bytes() == before and not (tmp_path / "report" / "leaderboard.md").exists()


@pytest.mark.parametrize("field, value, message", [
    ("mean_tokens", -5, "mean_tokens: must be a finite number >= 0, got -5"),
    ("accuracy", True, "accuracy: must be a number in [0, 1], got True"),
    ("accuracy", float("inf"), "accuracy: must be a number in [0, 1], got inf"),
])
def test_a_bad_summary_is_refused_by_report(field, value, message, evaluated, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(evaluated, out)
    summary = out / "gsm8k_len" / "summary.json"
    summary.write_text(json.dumps({**json.loads(summary.read_text()), field: value}))
    _one_error(_cli(["report", out, "--out", tmp_path / "report"], os.environ), f"{summary}: {message}")
    assert not (tmp_path / "report" / "leaderboard.md").exists()


def test_train_refuses_a_bad_presample_record(tiny_model, tmp_path, data_dir):
    pre = tmp_path / "pre"
    res = _cli(["presample", "--model", tiny_model, "--benchmark", "gsm8k_train", "--limit", 2, "--k", 2,
                "--max-tokens", 4, "--out", pre], _env(data_dir))
    assert res.returncode == 0, res.stderr[-2000:]
    samples = pre / "samples.jsonl"
    clean = samples.read_bytes()
    train = ["train", "--method", "sft", "--presample", pre, "--model", tiny_model, "--out", tmp_path / "t"]
    for edit, message in [(_set("token_ids", ["x", "y"]), "token_ids: must be null or a list of integers >= 0"),
                          (_set("sample_idx", 7), "sample_idx: 7 out of range (2 per problem)"),
                          (_set("problem_id", "zzz"), "problem_id: 'zzz' is not a problem of this run")]:
        samples.write_bytes(clean)
        _edit_line(samples, 3, edit)
        _one_error(_cli(train, _env(data_dir), cwd=tmp_path), f"{samples}:3: {message}")
    assert not (tmp_path / "t").exists()


# ---------------------------------------------------------------- 5. what the OpenAI engine is sent

@pytest.mark.parametrize("answer, message", [
    (completion([], text="x" * 2510), "2510 characters of text came with no token ids"),
    (completion(["x", "y"]), "token_ids is not a list of token ids"),
    (completion("abcdef"), "token_ids is not a list of token ids"),
    (completion([1.5, 2]), "token_ids is not a list of token ids"),
])
def test_the_openai_engine_refuses_answers_that_break_its_counts(answer, message, server, tiny_model, tmp_path,
                                                                 data_dir):
    srv = server(models_then(lambda h: answer))
    out = tmp_path / "out"
    _one_error(_cli(openai_eval(srv.url, tiny_model, out), _env(data_dir)), message)
    assert not (out / "gsm8k_len" / "samples.jsonl").exists()


# ---------------------------------------------------------------- 6. no credentials across origins

@pytest.mark.parametrize("redirected", ["GET", "POST"])
@pytest.mark.parametrize("status", [302, 307])
def test_a_redirect_is_not_followed_and_the_key_stays_home(redirected, status, server, tiny_model, tmp_path,
                                                           data_dir):
    other = server(lambda h: completion([1, 2]) if h.command == "POST" else MODELS)
    home = server(lambda h: (status, {}, {"Location": other.origin + h.path}) if h.command == redirected
                  else MODELS)
    res = _cli(openai_eval(home.url, tiny_model, tmp_path / "out"), _env(data_dir, OPENAI_API_KEY="sk-secret"))
    _one_error(res, f"HTTP {status} redirect to '{other.origin}/v1/", "not followed")
    assert other.requests == []
    assert all(h.get("Authorization") == "Bearer sk-secret" for _, _, h, _ in home.requests)


# ---------------------------------------------------------------- 7. hostile presets

def _bomb(levels=9, width=9) -> str:
    """``k``: nested lists, each level ``width`` aliases of the one before (9 x 9: 387M leaves)."""
    nested = ["&a0 [" + ", ".join(["1"] * width) + "]"]
    nested += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]" for i in range(1, levels)]
    return f"name: x\nk: [{', '.join(nested)}]\n"


@pytest.mark.parametrize("text, message", [
    (_bomb(), "cannot read preset (more than 64 aliases)"),
    (_bomb(levels=4, width=4), "key 'k' must be int, got [[1, 1, 1, 1], [[1, 1, 1, 1], "),
    ("name: x\nsystem_prompt: '" + "a" * 70_000 + "'\n", "a preset is at most 64 KiB"),
    ("name: !!python/object/apply:os.getpid []\n", "cannot read preset (could not determine a constructor"),
    ("name: x\nk: 0\n", "key 'k' must be >= 1, got 0"),
    ("name: x\neval_top_p: .nan\n", "key 'eval_top_p' must be a finite number"),
])
def test_a_hostile_preset_is_one_short_line_in_seconds(text, message, tmp_path):
    preset = tmp_path / "p.yaml"
    preset.write_text(text)
    t0 = time.perf_counter()
    line = _one_error(_cli(["eval", "--preset", preset], os.environ, cwd=tmp_path), message)
    assert time.perf_counter() - t0 < 20 and len(line) <= 1000


# ---------------------------------------------------------------- 8. rich markup in paths

def test_markup_in_the_out_path_is_printed_as_text(tiny_model, tmp_path, data_dir):
    out = tmp_path / "x" / "[/]" / "[bold]"
    for _ in range(2):  # the run, then its rerun
        res = _cli([*TINY_EVAL, "--model", tiny_model, "--out", out], _env(data_dir))
        assert res.returncode == 0, res.stderr[-2000:]
        assert "".join(f"pruneeval results ({out})".split()) in "".join(res.stdout.split())  # wrapped or not
    assert (out / "gsm8k_len" / "summary.json").is_file()


# ---------------------------------------------------------------- 9. path problems, before any work

@pytest.fixture()
def pickled_model(tiny_model, tmp_path):
    """The tiny model with its weights as a pickle that holds more than tensors."""
    import torch

    model = tmp_path / "pickled"
    shutil.copytree(tiny_model, model)
    (model / "model.safetensors").unlink()
    torch.save({"x": PickleWithCode()}, model / "pytorch_model.bin")
    return model


class PickleWithCode:
    def __reduce__(self):
        return (os.getpid, ())


def test_path_problems_are_one_line_before_any_work(tiny_model, pickled_model, tmp_path, data_dir):
    env = _env(data_dir)
    (tmp_path / "afile").write_text("")
    (tmp_path / "dirs" / "gsm8k_len" / "samples.jsonl").mkdir(parents=True)
    (tmp_path / "in.jsonl").write_text('{"output": "\\\\boxed{1}", "gold": "1"}\n')
    model = ["--model", tiny_model]
    cases = [
        ([*TINY_EVAL, *model, "--out", tmp_path / "afile"], "--out " + str(tmp_path / "afile") + ": not a directory"),
        ([*TINY_EVAL, *model, "--out", tmp_path / "afile" / "sub"], "afile is not a directory"),
        ([*TINY_EVAL, *model, "--out", tmp_path / "dirs"], "samples.jsonl: not a regular file"),
        (["grade", tmp_path / "in.jsonl", "--benchmark", "gsm8k", "--out", tmp_path / "nodir" / "x.jsonl"],
         "no such directory"),
        (["report", tmp_path / "dirs", "--out", tmp_path / "afile"], "not a directory"),
        ([*TINY_EVAL, "--model", pickled_model, "--out", tmp_path / "p"], "pickled weights hold more than tensors"),
    ]
    for args, message in cases:
        _one_error(_cli(args, env, cwd=tmp_path), message)
    assert not (tmp_path / "nodir").exists() and not list(tmp_path.rglob("summary.json"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_out_is_refused_before_any_work(tiny_model, tmp_path, data_dir):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    _one_error(_cli([*TINY_EVAL, "--model", tiny_model, "--out", out], _env(data_dir)), "not writable")


# ---------------------------------------------------------------- 10. argument ranges

@pytest.mark.parametrize("args", [["--limit", "0"], ["--limit", "-3"], ["--n", "0"], ["--max-tokens", "-5"],
                                  ["--temperature", "-1"], ["--temperature", "nan"], ["--top-p", "0"],
                                  ["--top-p", "1.5"], ["--batch-size", "0"]], ids=" ".join)
def test_numbers_out_of_range_are_refused_before_any_work(args, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["eval", "--tasks", "gsm8k_len", *args, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(err) == 1 and f"Invalid value for '{args[0]}'" in err[0], err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args", [["presample", "--k", "0"], ["presample", "--limit", "0"],
                                  ["run", "--k", "0"], ["run", "--max-tokens", "0"]], ids=" ".join)
def test_presample_and_run_numbers_are_checked_too(args, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2 and f"Invalid value for '{args[1]}'" in capsys.readouterr().err


# ---------------------------------------------------------------- 11. atomic report files

def test_a_report_cut_off_mid_write_leaves_the_previous_files_whole(evaluated, tmp_path):
    """The second report runs under a 2 KiB file-size limit: every write of a bigger file fails half
    way.  Atomic writes leave the first report's files as they were and no temporary file."""
    out = tmp_path / "report"
    first = _cli(["report", evaluated, "--out", out], os.environ)
    assert first.returncode == 0, first.stderr[-2000:]
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.name != ".pruneeval.lock"}
    assert max(len(b) for b in before.values()) > 2048  # the limit cuts some file

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))

    cut = _cli(["report", evaluated, "--out", out], os.environ, preexec_fn=limit)
    assert cut.returncode != 0 and "Traceback" not in cut.stderr, cut.stderr[-2000:]
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name != ".pruneeval.lock"} == before


# ---------------------------------------------------------------- 12, 13. names and symlinks in paths

def test_a_preset_name_never_leads_out_of_the_runs_directory(tiny_model, tmp_path, data_dir):
    cwd = tmp_path / "a" / "b" / "c" / "d"
    cwd.mkdir(parents=True)
    (tmp_path / "evil.yaml").write_text("name: ../../../../escaped\nmodel: toy\n")
    res = _cli([*TINY_EVAL, "--preset", tmp_path / "evil.yaml", "--model", tiny_model], _env(data_dir), cwd=cwd)
    assert res.returncode == 0, res.stderr[-2000:]
    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("summary.json")}
    assert written == {"a/b/c/d/runs/eval-escaped/gsm8k_len/summary.json"}


def test_a_symlinked_store_file_is_refused(tiny_model, tmp_path, data_dir):
    target = tmp_path / "elsewhere.jsonl"
    target.write_text("")
    (tmp_path / "out" / "gsm8k_len").mkdir(parents=True)
    (tmp_path / "out" / "gsm8k_len" / "samples.jsonl").symlink_to(target)
    res = _cli([*TINY_EVAL, "--model", tiny_model, "--out", tmp_path / "out"], _env(data_dir))
    _one_error(res, "samples.jsonl: is a symbolic link")
    assert target.read_text() == ""
