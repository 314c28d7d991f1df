"""Answer extraction and equivalence: one grading API shared by evaluation and training rewards.

``grade(output, gold, benchmark) -> Grade``; ``grade_many`` grades a batch in worker processes
(math-verify's timeouts use ``signal.alarm``, which only works in a process's main thread);
``grade_jsonl`` backs ``pruneeval grade FILE.jsonl``.  Grading never raises on hostile content and
never hangs: each grade runs under a deadline, and ``grade_many`` kills a worker stuck past it.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from itertools import accumulate

from .errors import UserError
from .records import iter_jsonl

FAMILIES = ("gsm8k", "math", "gaokao", "toy")
NUMERIC_FAMILIES = ("gsm8k", "toy")  # integer gold answers, compared as numbers first
TAIL_CHARS = 8000  # only the end of the answer section is searched for the final answer
MAX_ANSWER = 1000  # longer (or deeper than MAX_DEPTH) extracted answers are not parsed: "parse_error"
MAX_DEPTH = 40


@dataclass(frozen=True)
class Grade:
    correct: bool
    extracted: str | None  # None = the output has no final answer ("no answer" is a value)
    reason: str | None = None  # "no_answer", "no_gold", "timeout", "parse_error", "mismatch"; None if correct


def family(benchmark: str) -> str:
    """Grading family ("gsm8k" | "math" | "gaokao" | "toy") of a benchmark or family name."""
    if benchmark in FAMILIES:
        return benchmark
    from .benchmarks import get

    return get(benchmark).family  # UserError for an unknown name


# ---------------------------------------------------------------- extraction

def all_boxed(text: str) -> list[str]:
    """Contents of every closed ``\\boxed{...}`` / ``\\fbox{...}`` / ``\\boxed 2``, in order, in linear time."""
    match, out = None, []
    for m in re.finditer(r"\\(?:boxed|fbox)", text):
        rest = text[m.end():m.end() + 200]
        stripped = rest.lstrip()
        if stripped.startswith("{"):
            if match is None:  # index of each "{" -> its matching "}", one pass for all boxes
                stack, match = [], {}
                for j, c in enumerate(text):
                    if c == "{":
                        stack.append(j)
                    elif c == "}" and stack:
                        match[stack.pop()] = j
            i = m.end() + len(rest) - len(stripped)
            if i in match:
                out.append(text[i + 1:match[i]].strip())
        elif rest[:1] == " " and stripped.split("$")[0].split():  # "\\boxed 2$."
            token = stripped.split("$")[0].split()[0].rstrip(".,")
            out += [token] if token else []
    return out


def last_boxed(text: str) -> str | None:
    """Content of the last closed ``\\boxed{...}`` (or ``\\fbox{...}``, or ``\\boxed 2``) in ``text``,
    by brace matching, as Qwen2.5-Math's ``extract_answer`` does."""
    boxed = all_boxed(text)
    return boxed[-1] if boxed else None


def _text(s) -> str:
    """Any str (lone surrogates included), bytes or None -> valid text."""
    if isinstance(s, (bytes, bytearray)):
        return bytes(s).decode("utf-8", "replace")
    return "" if s is None else str(s).encode("utf-8", "surrogatepass").decode("utf-8", "replace")


_THINK_END = re.compile(r"</think>|</thought>|<\|end_of_thought\|>|</reasoning>", re.I)
_THINK_OPEN = re.compile(r"<think>|<thought>|<\|begin_of_thought\|>|<reasoning>", re.I)
_PHRASE = re.compile(
    r"(?:\bfinal\s+answer\b[^\n:]{0,20}?(?:\bis\b|:)|\*\*final\s+answer\*\*|"
    r"\bthe\s+(?:correct\s+)?(?:answer|option|choice)\s+(?:is|should\s+be|would\s+be)\b|"
    r"\banswer\s*(?:\*\*)?\s*:|####)[\s*:]*", re.I)
_SPAN = r"(?:\$\$?[^$]+\$\$?|\\\(.+?\\\)|\\\[.+?\\\])"
_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?|-?\.\d+")
_CHOICE = re.compile(r"^[\s(\[{*]*(?:\\(?:text|textbf|mathrm)\s*\{\s*\(?)?\(?([A-K])(?![A-Za-z])")
_CHOICE_ANY = re.compile(r"\(([A-K])\)|\b(?:option|choice)\s+\(?([A-K])\b")


def _section(text: str) -> tuple[str, bool] | None:
    """(answer section, delimited): the text after the last thinking delimiter (``</think>``,
    ``</Thought>``, ``<|end_of_thought|>``), else the whole output; None if thinking never closed."""
    end = None
    for end in _THINK_END.finditer(text):
        pass
    if end is not None:
        return text[end.end():][-TAIL_CHARS:], True
    return None if _THINK_OPEN.search(text) else (text[-TAIL_CHARS:], False)


def _phrase_answer(text: str, parts: int = 1) -> tuple[str | None, bool]:
    """What follows the last final-answer phrase (its math span, leading number or clause), and
    whether only punctuation follows it (the output ends with the answer)."""
    m = None
    for m in _PHRASE.finditer(text):
        pass
    if m is None:
        return None, False
    rest = text[m.end():m.end() + 400]
    rest = rest if rest.split("\n", 1)[0].strip() else rest.lstrip()  # "**Final Answer**\n\n18"
    line = rest.split("\n", 1)[0].strip()
    math = re.match(rf"{_SPAN}(?:\s*(?:,|\bor\b|\band\b)\s*{_SPAN})*" if parts > 1 else _SPAN, line)
    if math:
        used = math.group(0)
        ans = re.sub(r"(?<!\\)\$|\\[()[\]]", "", used)
    else:
        cut = r"(?<!\d)\.(?!\d)|\.(?=\s|$)|[;!?]|\s+(?:because|since|which|so)\b" + ("" if parts > 1 else r"|,\s")
        used = re.split(cut, line)[0]
        num = re.match(r"^\\?\$?\s*(-?\d[\d,]*(?:\.\d+)?(?:/\d+)?(?:\s*\\?%)?)(?=\s|$)", used)
        ans = num.group(1) if num else used
    after = rest[rest.find(used) + len(used):]
    return ans.strip(" *") or None, not re.sub(r"[\s.!*$\\)\]}]", "", after)


def _choice(candidate: str | None, fallback_text: str) -> str | None:
    """An option letter from the extracted answer (``B``, ``(B) 5``, ``\\text{(B)}``), else the last
    ``(B)`` / ``option B`` in the answer (or, with no answer, in ``fallback_text``)."""
    m = _CHOICE.match(candidate) if candidate is not None else None
    if m:
        return m.group(1)
    hits = _CHOICE_ANY.findall(candidate if candidate is not None else fallback_text)
    return (hits[-1][0] or hits[-1][1]) if hits else None


def extract(output: str, fam: str, gold_parts: int = 1, choice: bool = False) -> str | None:
    """The final answer of ``output``, or None.

    Only the answer section counts: the text after the thinking (``_section``); an output whose
    thinking was opened and never closed (cut off by the length limit) has no answer.  In it: the
    last ``\\boxed{}`` (the last ``gold_parts`` boxes joined when the gold lists several answers);
    else a final-answer phrase ("The final answer is", "the answer is", "Answer:", "####"); else, for
    GSM8K/toy only, the last number.  Phrases and numbers are trusted only in final position:
    anywhere after a thinking delimiter; without one, in the last two lines, and only if the output
    ends with the answer itself or with a finished sentence (``.!$}])*``), the last number only in
    the last line.  So a long-thought output cut off mid-reasoning yields no answer rather than a
    number from the middle of its reasoning.  ``choice``: return an option letter (A-K)."""
    found = _section(_text(output))
    if found is None:
        return None
    section, delimited = found
    boxed = all_boxed(section)
    final = section if delimited else "\n".join([x for x in section.splitlines()[-50:] if x.strip()][-2:])
    trusted = delimited or section.rstrip()[-1:] in tuple(".!$}])*")
    if boxed:
        several = gold_parts > 1 and _parts(boxed[-1]) < gold_parts
        ans = ", ".join(boxed[-gold_parts:]) if several else boxed[-1]
    else:
        ans, at_end = _phrase_answer(final, gold_parts)
        ans = ans if trusted or at_end else None
    if choice:  # an answer without a letter stays itself (graded "mismatch")
        return _choice(ans, final if trusted else "") or ans
    if ans is None and fam in ("gsm8k", "toy") and trusted:
        nums = _NUMBER.findall(final if delimited else final[final.rfind("\n") + 1:])
        ans = nums[-1] if nums else None
    return ans


# ---------------------------------------------------------------- equivalence

_SPACING = re.compile(r"\\left(?![a-zA-Z])|\\right(?![a-zA-Z])|\\displaystyle|\\[!,;: ]|~|\s+")
_UNIT = re.compile(  # "20 cm^{2}", "576\pi\;m^{2}", "36\sqrt{7}cm^{3}": units math-verify keeps
    r"(?:(?<=[\d}])|\s+|\\[;,: ])\s*(?:\\(?:text|mbox|mathrm)\s*\{\s*)?"
    r"(?:cm|mm|km|ft|inches|feet|meters?|units?|(?<=[\s;,:{])m)\s*\}?\s*(?:\^\s*\{?\s*[23]\s*\}?)?\s*\.?$")
_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")


def _norm(s: str) -> str:
    """Light normalisation for the exact-string fast path; it never merges different values
    (``\\%`` is kept: ``25\\%`` is not ``25``)."""
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
    """A plain number (``\\$1,000``, ``18.00``, ``18 \\text{dollars}``, ``25\\%``) -> Decimal, else None."""
    t = re.sub(r"\\(?:text|mbox|mathrm)\s*\{[^{}]*\}|\\?\$|\\?%|\\[!,;: ]|\s+", "", s)
    t = t.replace(",", "") if _THOUSANDS.fullmatch(t) else t
    try:
        return Decimal(t) if len(t) < 400 and re.fullmatch(r"-?(?:\d+(?:\.\d*)?|\.\d+)", t) else None
    except InvalidOperation:
        return None


def _depth(s: str) -> int:
    return max(accumulate((c in "([{") - (c in ")]}") for c in s), default=0)


_MV: tuple | None = None


def _mv():
    """math-verify, imported lazily (importing pruneeval stays cheap).  Its own alarm is disabled
    (it would cancel ours), so its "timeout is disabled" warning is filtered out."""
    global _MV
    if _MV is None:
        import math_verify

        for name in ("math_verify.parser", "math_verify.grader"):
            logging.getLogger(name).addFilter(lambda r: "Timeout is disabled" not in r.getMessage())
        _MV = (math_verify, [math_verify.LatexExtractionConfig(), math_verify.ExprExtractionConfig()])
    return _MV


@lru_cache(maxsize=4096)  # a training batch grades K samples against each gold
def _mv_parse(s: str) -> list:
    """Parse as LaTeX wrapped in ``$...$`` (bare ``(1, 2)`` or ``\\{2,1\\}`` parse wrongly otherwise)."""
    mv, config = _mv()
    s = re.sub(r"\s+", " ", re.sub(r"(?<!\\)\$", "", s))  # whitespace runs would make _UNIT backtrack cubically
    s = _UNIT.sub("", s).strip()
    return mv.parse(f"${s}$", extraction_config=config, parsing_timeout=None) if s else []


def _judge(pred: str | None, gold: str, fam: str, choice: str | None) -> Grade:
    if not gold:
        return Grade(False, _cap(pred), "no_gold")
    if pred is None or not pred.strip():
        return Grade(False, None, "no_answer")
    if len(pred) > MAX_ANSWER or _depth(pred) > MAX_DEPTH:
        return Grade(False, pred[:MAX_ANSWER], "parse_error")
    if choice is not None or _norm(pred) == _norm(gold):
        ok = choice is None or pred == choice
        return Grade(ok, pred, None if ok else "mismatch")
    if fam in NUMERIC_FAMILIES:
        a, b = _number(pred), _number(gold)
        if a is not None and b is not None:
            return Grade(a == b, pred, None if a == b else "mismatch")
    if _MV is None:
        raise _NeedsMathVerify
    g, p = _mv_parse(gold), _mv_parse(pred)
    if not g or not p:
        return Grade(False, pred, "parse_error")
    ok = _mv()[0].verify(g, p, timeout_seconds=None)
    return Grade(bool(ok), pred, None if ok else "mismatch")


# ---------------------------------------------------------------- one grade, under a deadline

class _Timeout(BaseException):
    """Raised by our SIGALRM deadline; a BaseException, so libraries' ``except Exception`` miss it."""


def _with_deadline(fn, seconds: float):
    """Run ``fn()`` under a SIGALRM deadline (main thread only); it cannot fire outside its scope.

    The handler raises ``_Timeout`` only while armed and only in code that ``fn()`` called, never in
    this function's own set-up and clean-up, nor in a garbage-collector callback or ``__del__`` that
    happens to run then (an exception there is printed and lost): such a tick is retried 1 ms later.
    The timer re-fires every 0.1 s, so code that swallows one ``_Timeout`` still stops.  On every
    path (return, exception, ``_Timeout``) it is disarmed, cancelled, and the caller's handler and
    timer are restored."""
    me, armed, start = sys._getframe(), [False], time.monotonic()

    def fire(signum, frame):
        if armed[0] and _in_scope(frame, me):
            raise _Timeout
        if armed[0]:
            signal.setitimer(signal.ITIMER_REAL, 1e-3, 0.1)

    old, prev = signal.getsignal(signal.SIGALRM), (0.0, 0.0)
    try:
        signal.signal(signal.SIGALRM, fire)
        prev = signal.setitimer(signal.ITIMER_REAL, max(seconds, 1e-3), 0.1)
        armed[0] = True
        return fn()
    finally:
        armed[0] = False  # from here on a late tick does nothing (and this frame is out of scope)
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        me = None  # fire's reference to this frame made a cycle: every grading left garbage behind
        if prev[0] > 0:
            signal.setitimer(signal.ITIMER_REAL, max(prev[0] - (time.monotonic() - start), 1e-3), prev[1])


def _in_scope(frame, guard) -> bool:
    """Whether ``frame`` runs inside a call made by the ``guard`` frame, and not in a gc callback or
    a ``__del__`` (where a raised exception would be lost)."""
    side = {getattr(cb, "__code__", None) for cb in gc.callbacks}
    f = frame if frame is not guard else None
    while f is not None and f is not guard:
        if f.f_code in side or f.f_code.co_name == "__del__":
            return False
        f = f.f_back
    return f is guard


def _extract_for(output, gold: str, fam: str) -> tuple[str | None, str | None]:
    """(extracted answer, the option letter when ``gold`` is a multiple-choice letter)."""
    choice = _choice_gold(gold) if fam in ("math", "gaokao") else None
    return extract(output, fam, _parts(gold), choice is not None), choice


class _NeedsMathVerify(Exception):
    """Raised inside the deadline when a grade needs math-verify before it is imported."""


def _grade_here(output, gold, fam: str, timeout_s: float) -> Grade:
    """Grade in this (main) thread under a deadline; never raises.  math-verify is imported outside
    the deadline (an interrupted import would leave a broken module behind), and only once a grade
    needs it: numeric-answer families mostly do not."""
    if fam not in NUMERIC_FAMILIES:
        _mv()
    box: list = [None]

    def work() -> Grade:
        g = _text(gold).strip()
        box[0], choice = _extract_for(output, g, fam)
        return _judge(box[0], g, fam, choice)

    def attempt() -> Grade:
        try:
            return _with_deadline(work, timeout_s) if hasattr(signal, "setitimer") else work()
        except _NeedsMathVerify:
            raise
        except _Timeout:
            return Grade(False, _cap(box[0]), "timeout")
        except Exception:  # RecursionError, MemoryError, a parser bug: a wrong answer, not a crash
            return Grade(False, _cap(box[0]), "parse_error")

    try:
        return attempt()
    except _NeedsMathVerify:
        _mv()
        return attempt()


def _cap(s: str | None) -> str | None:
    return s if s is None else s[:MAX_ANSWER]


def _main_thread() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def grade(output: str, gold: str, benchmark: str, *, timeout_s: float = 5.0) -> Grade:
    """Grade one ``output`` against ``gold`` under ``benchmark``'s rules (a benchmark or family name).

    Never raises on content; returns within about ``timeout_s``.  In the main thread it runs here
    under a SIGALRM deadline (a caller's own alarm is restored after); from another thread it goes
    to a worker process.  An unknown benchmark raises ``UserError`` (configuration, not an answer)."""
    fam = family(benchmark)
    if _main_thread():
        return _grade_here(output, gold, fam, timeout_s)
    return _pool(1).run([(output, gold, fam)], 1, timeout_s)[0]


def _pool(n: int):
    from .grading_pool import pool

    return pool(n)


# ---------------------------------------------------------------- many grades, in worker processes

def grade_many(items: Sequence[tuple[str, str, str]], workers: int | None = None,
               timeout_s: float = 10.0) -> list[Grade]:
    """Grade ``(output, gold, benchmark)`` triples, in order, each within about ``timeout_s``.

    ``workers`` spawned processes (default: CPU count, at most 8; kept for later calls) grade
    chunks of items; ``workers`` 0 or 1 grades here when called from the main thread.  By default
    a batch of numeric-answer families (GSM8K, toy) is also graded here: its answers compare as
    numbers, math-verify is only a fallback under the same deadline, and spawning workers would
    cost more than the grading.  Nothing is started for an empty batch.  A script calling this
    needs the ``if __name__ == "__main__":`` guard."""
    items = [(o, g, family(b)) for o, g, b in items]
    if not items:
        return []
    if workers is None and all(f in NUMERIC_FAMILIES for _, _, f in items) and _main_thread():
        workers = 0
    if workers is not None and workers <= 1 and _main_thread():
        return [_grade_here(o, g, f, timeout_s) for o, g, f in items]
    n = max(1, workers or min(os.cpu_count() or 1, 8))
    return _pool(n).run(items, max(1, min(64, -(-len(items) // (4 * n)))), timeout_s)


# ---------------------------------------------------------------- pruneeval grade FILE.jsonl

def _read_jsonl(path) -> list[dict]:
    rows = []
    for where, row in iter_jsonl(path):
        for key in ("output", "gold"):
            if not isinstance(row.get(key), str):
                raise UserError(f"{where}: " + (f"field {key!r} is not a string" if key in row
                                                else f"missing field {key!r}"))
        rows.append(row)
    return rows


def grade_jsonl(in_path, benchmark: str, out_path=None, workers: int | None = None) -> dict:
    """Grade JSON lines with ``output`` and ``gold``; returns ``{"n", "correct", "accuracy"}``.

    With ``out_path`` every line is written back with ``correct``, ``extracted`` and ``reason`` added
    (atomically: a temporary file, then ``os.replace``); without it nothing is written.  Bad input
    raises ``UserError("FILE:LINE: what is wrong")``."""
    family(benchmark)  # an unknown benchmark fails before any work
    try:
        rows = _read_jsonl(in_path)
    except OSError as e:
        raise UserError(f"{in_path}: cannot read ({e.strerror})") from None
    grades = grade_many([(r["output"], r["gold"], benchmark) for r in rows], workers)
    if out_path is not None:
        tmp = f"{out_path}.tmp{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            for r, g in zip(rows, grades):
                f.write(json.dumps({**r, "correct": g.correct, "extracted": g.extracted, "reason": g.reason}) + "\n")
        os.replace(tmp, out_path)
    n, correct = len(grades), sum(g.correct for g in grades)
    return {"n": n, "correct": correct, "accuracy": correct / n if n else 0.0}
