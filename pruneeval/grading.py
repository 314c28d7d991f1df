"""Answer extraction and equivalence: one grading API shared by evaluation and training rewards.

``grade(output, gold, benchmark)`` -> ``Grade``; ``grade_many`` grades a batch in worker processes
(math-verify's timeouts use ``signal.alarm``, which only works in a process's main thread);
``grade_jsonl`` backs ``pruneeval grade FILE.jsonl``.  Grading never raises on hostile content and
never hangs: every call runs under a deadline, and ``grade_many`` kills a worker stuck past it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from .errors import UserError

FAMILIES = ("gsm8k", "math", "gaokao", "toy")
TAIL_CHARS = 8000  # only the end of the answer section is searched for the final answer
MAX_ANSWER = 1000  # longer extracted answers are not parsed (reason "parse_error")


@dataclass(frozen=True)
class Grade:
    correct: bool
    extracted: str | None  # None = the output has no final answer ("no answer" is a value)
    reason: str | None = None  # "no_answer", "no_gold", "timeout", "parse_error", "mismatch"; None if correct


# ---------------------------------------------------------------- extraction

def _brace_matches(text: str) -> dict[int, int]:
    """Index of each ``{`` -> index of its matching ``}``, in one linear pass."""
    stack, match = [], {}
    for j, c in enumerate(text):
        if c == "{":
            stack.append(j)
        elif c == "}" and stack:
            match[stack.pop()] = j
    return match


def all_boxed(text: str) -> list[str]:
    """Contents of every closed ``\\boxed{...}`` / ``\\fbox{...}`` / ``\\boxed 2``, in order (linear time)."""
    match, out = None, []
    for m in re.finditer(r"\\(?:boxed|fbox)", text):
        rest = text[m.end():m.end() + 200]
        stripped = rest.lstrip()
        if stripped.startswith("{"):
            match = _brace_matches(text) if match is None else match
            i = m.end() + len(rest) - len(stripped)
            if i in match:
                out.append(text[i + 1:match[i]].strip())
        elif rest[:1] == " " and stripped:  # "\\boxed 2$."
            token = stripped.split("$")[0].split()[0].rstrip(".,") if stripped.split("$")[0].split() else ""
            if token:
                out.append(token)
    return out


def last_boxed(text: str) -> str | None:
    """Content of the last closed ``\\boxed{...}`` (or ``\\fbox{...}``, or ``\\boxed 2``) in ``text``,
    by brace matching, as Qwen2.5-Math's ``extract_answer`` does."""
    boxed = all_boxed(text)
    return boxed[-1] if boxed else None


def family(benchmark: str) -> str:
    """Grading family ("gsm8k" | "math" | "gaokao" | "toy") of a benchmark or family name."""
    if benchmark in FAMILIES:
        return benchmark
    from .benchmarks import get

    return get(benchmark).family  # UserError for an unknown name


def _text(s) -> str:
    """Any str (lone surrogates included) or bytes -> valid UTF-8 text."""
    if s is None:
        return ""
    if isinstance(s, (bytes, bytearray)):
        return bytes(s).decode("utf-8", "replace")
    return str(s).encode("utf-8", "surrogatepass").decode("utf-8", "replace")


_THINK_END = re.compile(r"</think>|</thought>|<\|end_of_thought\|>|</reasoning>", re.I)
_THINK_OPEN = re.compile(r"<think>|<thought>|<\|begin_of_thought\|>|<reasoning>", re.I)
_PHRASE = re.compile(
    r"(?:\bfinal\s+answer\b[^\n:]{0,20}?(?:\bis\b|:)|\*\*final\s+answer\*\*|"
    r"\bthe\s+(?:correct\s+)?(?:answer|option|choice)\s+(?:is|should\s+be|would\s+be)\b|"
    r"\banswer\s*(?:\*\*)?\s*:|####)[\s*:]*", re.I)
_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?|-?\.\d+")
_CHOICE = re.compile(r"^[\s(\[{*]*(?:\\text(?:bf)?\s*\{\s*\(?|\\mathrm\s*\{\s*\(?)?\(?([A-K])(?![A-Za-z])")
_CHOICE_ANY = re.compile(r"\(([A-K])\)|\b(?:option|choice)\s+\(?([A-K])\b")


def _section(text: str) -> tuple[str, bool] | None:
    """The answer section: the text after the last thinking delimiter (``</think>``, ``</Thought>``,
    ``<|end_of_thought|>``), else the whole output; None when thinking was opened and never closed."""
    end = None
    for end in _THINK_END.finditer(text):
        pass
    if end is not None:
        return text[end.end():][-TAIL_CHARS:], True
    if _THINK_OPEN.search(text):
        return None
    return text[-TAIL_CHARS:], False


def _finished(section: str) -> bool:
    """Does the output end like a finished sentence (a cut-off generation usually does not)?"""
    body = section.rstrip()
    return bool(body) and body[-1] in ".!$}])*"


def _last_lines(section: str, k: int = 2) -> str:
    return "\n".join([ln for ln in section.splitlines()[-50:] if ln.strip()][-k:])


def _phrase_answer(text: str, parts: int = 1) -> tuple[str | None, bool]:
    """What follows the last final-answer phrase, cut at the end of its sentence, and whether
    nothing but punctuation follows it (the output ends with the answer)."""
    m = None
    for m in _PHRASE.finditer(text):
        pass
    if m is None:
        return None, False
    rest = text[m.end():m.end() + 400]
    if m.group(0).strip().startswith("**") and not rest.split("\n", 1)[0].strip():
        rest = rest.lstrip()
    line = rest.split("\n", 1)[0].strip()
    span = r"(?:\$\$?[^$]+\$\$?|\\\(.+?\\\)|\\\[.+?\\\])"
    math = re.match(rf"{span}(?:\s*(?:,|\bor\b|\band\b)\s*{span})*" if parts > 1 else span, line)
    if math:
        used = math.group(0)
        ans = re.sub(r"(?<!\\)\$|\\[()[\]]", "", used)
    else:
        cut = r"(?<!\d)\.(?!\d)|\.\s|[;!?]" + ("" if parts > 1 else r"|,\s") + r"|\s+(?:because|since|which|so)\b"
        used = re.split(cut, line)[0]
        num = re.match(r"^\\?\$?\s*(-?\d[\d,]*(?:\.\d+)?(?:/\d+)?(?:\s*\\?%)?)(?=\s|$)", used)
        ans = num.group(1) if num else used
    after = rest[rest.find(used) + len(used):]
    return ans.strip(" *") or None, not re.sub(r"[\s.!*$\\)\]}]", "", after)


def _choice(candidate: str | None, fallback_text: str) -> str | None:
    """An option letter from the extracted answer (``\\boxed{B}``, ``(B) 5``), else from ``(B)``/``option B``."""
    if candidate is not None:
        m = _CHOICE.match(candidate)
        if m:
            return m.group(1)
    hits = [a or b for a, b in _CHOICE_ANY.findall(candidate if candidate is not None else fallback_text)]
    return hits[-1] if hits else None


def extract(output: str, fam: str, gold_parts: int = 1, choice: bool = False) -> str | None:
    """The final answer of ``output``, or None.  The answer section is the text after the thinking
    (see ``_section``).  In it: the last ``\\boxed{}`` (the last ``gold_parts`` boxes joined when the
    gold lists several answers); else a final-answer phrase; else (GSM8K/toy) the last number.
    Phrases and numbers count only in final position: anywhere after a thinking delimiter, otherwise
    in the last two lines and only if the output ends with the answer or a finished sentence.
    So a long-thought output cut off mid-reasoning has no answer."""
    found = _section(_text(output))
    if found is None:
        return None
    section, delimited = found
    boxed = all_boxed(section)
    final = section if delimited else _last_lines(section)
    trusted = delimited or _finished(section)
    if boxed:
        ans = ", ".join(boxed[-gold_parts:])
    else:
        ans, at_end = _phrase_answer(final, gold_parts)
        ans = ans if trusted or at_end else None
    if choice:
        return _choice(ans, final if trusted else "")
    if ans is None and fam in ("gsm8k", "toy") and trusted:
        nums = _NUMBER.findall(final if delimited else final.splitlines()[-1])
        ans = nums[-1] if nums else None
    return ans


# ---------------------------------------------------------------- equivalence

_SPACING = re.compile(r"\\left(?![a-zA-Z])|\\right(?![a-zA-Z])|\\displaystyle|\\[!,;: ]|~|\s+")
_UNIT = re.compile(
    r"(?:(?<=[\d}])|\s+|\\[;,: ])\s*(?:\\(?:text|mbox|mathrm)\s*\{\s*)?"
    r"(?:cm|mm|km|ft|inches|feet|meters?|units?|(?<=[\s;,:{])m)\s*\}?\s*(?:\^\s*\{?\s*[23]\s*\}?)?\s*\.?$")
_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")


def _norm(s: str) -> str:
    """Light normalisation for the exact-string fast path (never merges different values)."""
    s = re.sub(r"\\[dt]frac", r"\\frac", s.strip().strip("$"))
    s = re.sub(r"\^\s*\{?\\circ\}?|°", "", s)
    s = re.sub(r"\\(?:text|textbf|textrm|mathrm|mbox)\s*\{([^{}]*)\}", r"\1", s)
    s = _SPACING.sub("", s).rstrip(".")
    if _THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    if re.fullmatch(r"-?0+\d+", s):
        s = re.sub(r"^(-?)0+(?=\d)", r"\1", s)
    return s.lower() if re.fullmatch(r"[A-Za-z]{3,}", s) else s


def _parts(s: str) -> int:
    """How many answers a gold lists (``48, 384``; ``5 or 9``): top-level commas, ``or``, ``and``."""
    s = re.sub(r"\$|\\[!,;: ]", "", s)
    if _THOUSANDS.fullmatch(s.strip()):
        return 1
    s = re.sub(r"\\text\s*\{\s*(?:or|and)\s*\}|\s(?:or|and)\s", ",", s)
    depth, n = 0, 1
    for c in s:
        depth += (c in "([{") - (c in ")]}")
        n += c == "," and depth <= 0
    return n


def _choice_gold(gold: str) -> str | None:
    m = re.fullmatch(r"\s*(?:\\text\s*\{\s*)?\(?([A-K])\)?\}?\s*", gold.replace("$", ""))
    return m.group(1) if m else None


def _number(s: str) -> Decimal | None:
    """A plain number (``$1,000``, ``18.00``, ``18 \\text{dollars}``, ``25%``) -> Decimal, else None."""
    t = re.sub(r"\\(?:text|mbox|mathrm)\s*\{[^{}]*\}|\\?\$|\\?%|\\[!,;: ]|\s+", "", s)
    t = t.replace(",", "") if _THOUSANDS.fullmatch(t) else t
    if len(t) > 400 or not re.fullmatch(r"-?(?:\d+(?:\.\d*)?|\.\d+)", t):
        return None
    try:
        return Decimal(t)
    except InvalidOperation:
        return None


_MV: tuple | None = None


def _mv():
    """math-verify, imported lazily (importing pruneeval stays cheap) with its own alarm disabled:
    grading runs it under our deadline, so its "timeout is disabled" warning is filtered out."""
    global _MV
    if _MV is None:
        import math_verify

        for name in ("math_verify.parser", "math_verify.grader"):
            logging.getLogger(name).addFilter(lambda r: "Timeout is disabled" not in r.getMessage())
        _MV = (math_verify, [math_verify.LatexExtractionConfig(), math_verify.ExprExtractionConfig()])
    return _MV


def _mv_parse(s: str) -> list:
    mv, config = _mv()
    s = _UNIT.sub("", re.sub(r"(?<!\\)\$", "", s)).strip()
    return mv.parse(f"${s}$", extraction_config=config, parsing_timeout=None) if s else []


def _judge(pred: str | None, gold: str, fam: str, choice: str | None) -> Grade:
    if not gold:
        return Grade(False, pred, "no_gold")
    if pred is None or not pred.strip():
        return Grade(False, None, "no_answer")
    if len(pred) > MAX_ANSWER:
        return Grade(False, pred[:MAX_ANSWER], "parse_error")
    if choice is not None or _norm(pred) == _norm(gold):
        ok = choice is None or pred == choice
        return Grade(ok, pred, None if ok else "mismatch")
    if fam in ("gsm8k", "toy"):
        a, b = _number(pred), _number(gold)
        if a is not None and b is not None:
            return Grade(a == b, pred, None if a == b else "mismatch")
    g, p = _mv_parse(gold), _mv_parse(pred)
    if not g or not p:
        return Grade(False, pred, "parse_error")
    ok = _mv()[0].verify(g, p, timeout_seconds=None)
    return Grade(bool(ok), pred, None if ok else "mismatch")


# ---------------------------------------------------------------- one grade, under a deadline

class _Timeout(BaseException):
    """Raised by our SIGALRM deadline; a BaseException, so libraries' ``except Exception`` miss it."""


def _with_deadline(fn, seconds: float):
    """Run ``fn()`` with a SIGALRM deadline (main thread only).  The timer re-fires every 0.1 s, so a
    library that swallows one ``_Timeout`` still stops; the alarm is always disarmed on the way out."""
    armed = [True]

    def fire(signum, frame):
        if armed[0]:
            raise _Timeout

    old = signal.signal(signal.SIGALRM, fire)
    try:
        signal.setitimer(signal.ITIMER_REAL, max(seconds, 1e-3), 0.1)
        return fn()
    finally:
        while armed[0]:
            try:
                armed[0] = False
            except _Timeout:
                pass
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _grade_here(output, gold, fam: str, timeout_s: float) -> Grade:
    """Grade in this (main) thread under a deadline; never raises."""
    _mv()  # import outside the deadline: an interrupted import would leave a broken module behind
    box: list = [None]

    def work() -> Grade:
        g = _text(gold).strip()
        choice = _choice_gold(g) if fam in ("math", "gaokao") else None
        box[0] = extract(output, fam, _parts(g), choice is not None)
        return _judge(box[0], g, fam, choice)

    try:
        return _with_deadline(work, timeout_s)
    except _Timeout:
        return Grade(False, _cap(box[0]), "timeout")
    except Exception:  # RecursionError, MemoryError, a parser bug: a wrong answer, not a crash
        return Grade(False, _cap(box[0]), "parse_error")


def _cap(s: str | None) -> str | None:
    return s if s is None else s[:MAX_ANSWER]


def _main_thread() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def grade(output: str, gold: str, benchmark: str, *, timeout_s: float = 5.0) -> Grade:
    """Grade one ``output`` against ``gold`` under ``benchmark``'s rules (a benchmark or family name).

    Never raises on content and returns within about ``timeout_s``.  In the main thread it runs
    here under a SIGALRM deadline; from another thread it goes to a shared worker process.
    An unknown benchmark name raises ``UserError`` (a configuration error, not a wrong answer)."""
    fam = family(benchmark)
    if _main_thread():
        return _grade_here(output, gold, fam, timeout_s)
    with _THREAD_POOL_LOCK:
        global _THREAD_POOL
        _THREAD_POOL = _THREAD_POOL or _Pool(1, timeout_s)
        _THREAD_POOL.timeout_s = timeout_s
        return _THREAD_POOL.run([(output, gold, fam)])[0]


# ---------------------------------------------------------------- many grades, in worker processes

def _worker(conn, timeout_s: float) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent owns Ctrl-C and kills its workers
    _mv()
    conn.send("ready")
    while (job := conn.recv()) is not None:
        for i, (output, gold, fam) in job:
            conn.send((i, _grade_here(output, gold, fam, timeout_s)))


class _Worker:
    def __init__(self, ctx, timeout_s: float):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, timeout_s), daemon=True)
        self.proc.start()
        child.close()
        self.ready, self.pending, self.since = False, [], 0.0

    def stop(self, kill: bool = False) -> None:
        try:
            if not kill:
                self.conn.send(None)
                self.proc.join(2)
        except OSError:
            pass
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()


class _Pool:
    """Spawned worker processes fed chunks of items; a worker silent on one item past the timeout
    (stuck in C code the alarm cannot interrupt) is killed, the item graded "timeout", the rest resent."""

    def __init__(self, n: int, timeout_s: float):
        import multiprocessing

        self.ctx, self.n, self.timeout_s, self.workers = multiprocessing.get_context("spawn"), n, timeout_s, []

    def run(self, items: list, chunk: int = 1) -> list[Grade]:
        from collections import deque
        from multiprocessing.connection import wait

        results: list = [None] * len(items)
        indexed = list(enumerate(items))
        queue = deque(indexed[k:k + chunk] for k in range(0, len(indexed), chunk))
        while len(self.workers) < min(self.n, len(queue)):
            self.workers.append(_Worker(self.ctx, self.timeout_s))
        limit = self.timeout_s + max(1.0, 0.2 * self.timeout_s)
        while any(r is None for r in results):
            now = time.monotonic()
            for w in self.workers:
                if w.ready and not w.pending and queue:
                    w.pending, w.since = queue.popleft(), now
                    w.conn.send(w.pending)
            active = [w for w in self.workers if not w.ready or w.pending]
            timers = [w.since + limit - now for w in active if w.ready]
            ready = wait([w.conn for w in active], timeout=max(0.0, min(timers)) if timers else None)
            for w in active:
                if w.conn in ready:
                    self._receive(w, results, queue)
                elif w.ready and time.monotonic() - w.since > limit:
                    self._replace(w, "timeout", results, queue)
        return results

    def _receive(self, w: _Worker, results: list, queue) -> None:
        try:
            msg = w.conn.recv()
        except (EOFError, OSError):  # the worker died (killed for memory, crashed in C)
            if not w.ready:
                raise RuntimeError("a grading worker process failed to start (spawned workers re-import "
                                   "__main__: guard a script with `if __name__ == '__main__':`)") from None
            return self._replace(w, "parse_error", results, queue)
        if msg == "ready":
            w.ready = True
            return
        i, g = msg
        results[i] = g
        w.pending.pop(0)
        w.since = time.monotonic()

    def _replace(self, w: _Worker, reason: str, results: list, queue) -> None:
        (i, (output, gold, fam)), rest = w.pending[0], w.pending[1:]
        results[i] = Grade(False, _extract_quietly(output, gold, fam), reason)
        if rest:
            queue.appendleft(rest)
        w.stop(kill=True)
        self.workers[self.workers.index(w)] = _Worker(self.ctx, self.timeout_s)

    def close(self) -> None:
        for w in self.workers:
            w.stop()
        self.workers = []


def _extract_quietly(output, gold, fam: str) -> str | None:
    try:
        g = _text(gold).strip()
        choice = _choice_gold(g) if fam in ("math", "gaokao") else None
        return _cap(extract(output, fam, _parts(g), choice is not None))
    except Exception:
        return None


_THREAD_POOL: _Pool | None = None
_THREAD_POOL_LOCK = threading.Lock()


def grade_many(items: Sequence[tuple[str, str, str]], workers: int | None = None,
               timeout_s: float = 10.0) -> list[Grade]:
    """Grade ``(output, gold, benchmark)`` triples, in order, with a per-item timeout.

    ``workers`` processes (default: the CPU count) get chunks of items; ``workers`` 0 or 1 grades
    here when called from the main thread.  No process is started for an empty batch."""
    items = [(o, g, family(b)) for o, g, b in items]
    if not items:
        return []
    if (workers is not None and workers <= 1) and _main_thread():
        return [_grade_here(o, g, f, timeout_s) for o, g, f in items]
    n = max(1, workers or os.cpu_count() or 1)
    pool = _Pool(n, timeout_s)
    try:
        return pool.run(items, chunk=max(1, min(64, -(-len(items) // (4 * n)))))
    finally:
        pool.close()
