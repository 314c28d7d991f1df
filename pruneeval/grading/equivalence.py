"""Equivalence of an extracted answer and a gold answer: cheap paths first, math-verify last.

In order: the same string after light normalisation; an option letter; an answer in words
containing the gold word (``facing east`` / ``\\text{east}``; compass letters ``E`` / ``east``);
closed-form numbers compared by value (``numeric.value``), one by one or as lists (``3 \\pm
2\\sqrt{2}`` / ``3 + 2\\sqrt{2}, 3 - 2\\sqrt{2}``); only what these cannot decide goes to
math-verify, with the gold's parse cached (a training batch grades K samples per gold)."""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from itertools import accumulate

from .extract import count_parts
from .numeric import same_value, value
from .verdict import MAX_ANSWER, NUMERIC_FAMILIES, Grade

MAX_DEPTH = 40  # extracted answers nested deeper than this are not parsed: "parse_error"

_SPACING = re.compile(r"\\left(?![a-zA-Z])|\\right(?![a-zA-Z])|\\displaystyle|\\[!,;: ]|~|\s+")
_UNIT = re.compile(  # "20 cm^{2}", "576\pi\;m^{2}", "36\sqrt{7}cm^{3}": units math-verify keeps
    r"(?:(?<=[\d}])|\s+|\\[;,: ])\s*(?:\\(?:text|mbox|mathrm)\s*\{\s*)?"
    r"(?:cm|mm|km|ft|inches|feet|meters?|units?|(?<=[\s;,:{])m)\s*\}?\s*(?:\^\s*\{?\s*[23]\s*\}?)?\s*\.?$")
_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_COMPASS = {"n": "north", "s": "south", "e": "east", "w": "west", "ne": "northeast", "nw": "northwest",
            "se": "southeast", "sw": "southwest"}
_SOLVED_FOR = re.compile(r"^\s*[a-zA-Z](?:_\{?\w+\}?)?\s*=\s*(?=[^=]+$)")


class NeedsMathVerify(Exception):
    """Raised by ``judge(..., allow_import=False)`` when a grade needs math-verify before it is imported."""


def normalize(s: str) -> str:
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


def gold_choice(gold: str) -> str | None:
    """The option letter a gold names (``B``, ``(C)``, ``\\text{(C)}``), else None."""
    m = re.fullmatch(r"\s*(?:\\text\s*\{\s*)?\(?([A-K])\)?\}?\s*", gold.replace("$", ""))
    return m.group(1) if m else None


def gold_word(gold: str) -> str | None:
    """The word(s) a gold answer in words names (``\\text{east}`` -> ``east``), else None."""
    g = normalize(gold).lower()
    return g if re.fullmatch(r"[a-z]{3,}(?: [a-z]{3,}){0,2}", re.sub(r"\\?~|\\ ", " ", g)) else None


def _words_match(pred: str, word: str) -> bool:
    p = normalize(pred).lower() if " " not in pred.strip() else pred.lower()
    if _COMPASS.get(p) == word:
        return True
    return re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", re.sub(r"\\text\s*\{([^{}]*)\}", r"\1", p)) is not None


def _number(s: str):
    """A plain number (``\\$1,000``, ``18.00``, ``18 \\text{dollars}``, ``25\\%``) -> Fraction, else None."""
    t = re.sub(r"\\(?:text|mbox|mathrm)\s*\{[^{}]*\}|\\?\$|\\?%|\\[!,;: ]|\s+", "", s)
    t = t.replace(",", "") if _THOUSANDS.fullmatch(t) else t
    if len(t) < 1000 and re.fullmatch(r"-?(?:\d+(?:\.\d*)?|\.\d+)", t):
        from fractions import Fraction

        return Fraction(t)
    return None


def _wrapper(s: str) -> tuple[str, str]:
    """(the bracket pair enclosing the whole of ``s``, e.g. "()" or "[)", or ""; what it encloses)."""
    t = re.sub(r"\\left|\\right", "", s).strip()
    t = re.sub(r"^\\\{(.*)\\\}$", r"{\1}", t)
    if len(t) > 1 and t[0] in "([{" and t[-1] in ")]}":
        depth = 0
        for i, c in enumerate(t):
            depth += (c in "([{") - (c in ")]}")
            if depth == 0 and i < len(t) - 1:
                return "", s
        return t[0] + t[-1], t[1:-1]
    return "", s


def _items(s: str) -> list[str]:
    """A top-level comma list, with ``a \\pm b`` written out as ``a + b, a - b``."""
    depth, cur, out = 0, "", []
    for c in s:
        depth += (c in "([{") - (c in ")]}")
        if c == "," and depth <= 0:
            out.append(cur)
            cur = ""
        else:
            cur += c
    out.append(cur)
    expanded = []
    for x in out:
        if x.count("\\pm") == 1:
            expanded += [x.replace("\\pm", "+"), x.replace("\\pm", "-")]
        else:
            expanded.append(x)
    return [_SOLVED_FOR.sub("", x) for x in expanded]


def cheap_verdict(pred: str, gold: str) -> bool | None:
    """True/False when closed-form values decide it, else None (math-verify decides).  Lists are
    equal in order, or in any order when one writes ``\\pm``; a tuple ``(-2, -2)`` equals a bare
    list ``-2, -2``; lists in different brackets (intervals) are left to math-verify."""
    a, b = value(_SOLVED_FOR.sub("", pred)), value(gold)
    if a is not None and b is not None:
        return same_value(a, b)
    (pw, pin), (gw, gin) = _wrapper(pred), _wrapper(gold)
    if pw != gw and not {pw, gw} <= {"", "()"}:
        return None
    pm = "\\pm" in pred + gold
    if not pm and (count_parts(pin) < 2 or count_parts(gin) < 2):
        return None
    left, right = [value(x) for x in _items(pin)], [value(x) for x in _items(gin)]
    if len(left) != len(right) or None in left or None in right:
        return None
    in_order = all(same_value(x, y) for x, y in zip(left, right))
    unordered = all(any(same_value(x, y) for y in right) for x in left) and \
        all(any(same_value(x, y) for x in left) for y in right)
    return True if in_order or (pm and unordered) else None


# ---------------------------------------------------------------- math-verify

_MV: tuple | None = None


def math_verify():
    """(math_verify, extraction configs), imported on first use (importing pruneeval stays cheap).
    Its own alarm is disabled (it would cancel ours), so its "timeout is disabled" warning is filtered out."""
    global _MV
    if _MV is None:
        import math_verify as mv

        for name in ("math_verify.parser", "math_verify.grader"):
            logging.getLogger(name).addFilter(lambda r: "Timeout is disabled" not in r.getMessage())
        _MV = (mv, [mv.LatexExtractionConfig(), mv.ExprExtractionConfig()])
    return _MV


@lru_cache(maxsize=8192)  # a training batch grades K samples against each gold
def math_verify_parse(s: str) -> list:
    """Parse as LaTeX wrapped in ``$...$`` (bare ``(1, 2)`` or ``\\{2,1\\}`` parse wrongly otherwise)."""
    mv, config = math_verify()
    s = re.sub(r"\s+", " ", re.sub(r"(?<!\\)\$", "", s))  # whitespace runs would make _UNIT backtrack cubically
    s = _UNIT.sub("", s).strip()
    return mv.parse(f"${s}$", extraction_config=config, parsing_timeout=None) if s else []


def math_verify_equal(pred: str, gold: str) -> bool | None:
    """math-verify's verdict on two answers; None if either does not parse."""
    g, p = math_verify_parse(gold), math_verify_parse(pred)
    if not g or not p:
        return None
    return bool(math_verify()[0].verify(g, p, timeout_seconds=None))


# ---------------------------------------------------------------- the verdict

def _depth(s: str) -> int:
    return max(accumulate((c in "([{") - (c in ")]}") for c in s), default=0)


def _verdict(ok: bool, pred: str) -> Grade:
    return Grade(ok, pred, None if ok else "mismatch")


def judge(pred: str | None, gold: str, fam: str, choice: str | None, allow_import: bool = True) -> Grade:
    """The Grade of extracted answer ``pred`` against ``gold`` (``choice``: the gold's option letter)."""
    if not gold:
        return Grade(False, pred if pred is None else pred[:MAX_ANSWER], "no_gold")
    if pred is None or not pred.strip():
        return Grade(False, None, "no_answer")
    if len(pred) > MAX_ANSWER or _depth(pred) > MAX_DEPTH:
        return Grade(False, pred[:MAX_ANSWER], "parse_error")
    if choice is not None:
        return _verdict(pred == choice, pred)
    if normalize(pred) == normalize(gold):
        return _verdict(True, pred)
    word = gold_word(gold)
    if word is not None:
        return _verdict(_words_match(pred, word), pred)
    if fam in NUMERIC_FAMILIES:
        a, b = _number(pred), _number(gold)
        if a is not None and b is not None:
            return _verdict(a == b, pred)
    cheap = cheap_verdict(pred, gold)
    if cheap is not None:
        return _verdict(cheap, pred)
    if _MV is None and not allow_import:
        raise NeedsMathVerify
    ok = math_verify_equal(pred, gold)
    return Grade(False, pred, "parse_error") if ok is None else _verdict(ok, pred)
