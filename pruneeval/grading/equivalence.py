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
from .numeric import points, same_value, value, variables
from .verdict import MAX_ANSWER, NUMERIC_FAMILIES, Grade

MAX_DEPTH = 40  # extracted answers nested deeper than this are not parsed: "parse_error"

_SPACING = re.compile(r"\\left(?![a-zA-Z])|\\right(?![a-zA-Z])|\\displaystyle|\\[!,;: ]|~|\s+")
_UNIT = re.compile(  # "20 cm^{2}", "576\pi\;m^{2}", "36\sqrt{7}cm^{3}": units math-verify keeps
    r"(?:(?<=[\d}])|\s+|\\[;,: ])\s*(?:\\(?:text|mbox|mathrm)\s*\{\s*)?"
    r"(?:cm|mm|km|ft|inches|feet|meters?|units?|(?<=[\s;,:{])m)\s*\}?\s*(?:\^\s*\{?\s*[23]\s*\}?)?\s*\.?$")
_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_COMPASS = {"n": "north", "s": "south", "e": "east", "w": "west", "ne": "northeast", "nw": "northwest",
            "se": "southeast", "sw": "southwest"}
_SOLVED_FOR = re.compile(  # "x = 5", "f(x) = x + 1", "\\alpha = 30^\\circ": the value after the "="
    r"^\s*(?:[a-zA-Z]|\\[a-zA-Z]+(?:\{\w\})?)(?:_\{?\w+\}?)?(?:\s*\([a-z]\))?\s*=\s*(?=[^=]+$)")


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
    t = re.sub(r"\\left(?![a-zA-Z])|\\right(?![a-zA-Z])|\\[!,;: ]", "", s).strip()
    t = re.sub(r"^\\\{(.*)\\\}$", r"{\1}", t)
    if len(t) > 1 and t[0] in "([{" and t[-1] in ")]}":
        depth = 0
        for i, c in enumerate(t):
            depth += (c in "([{") - (c in ")]}")
            if depth == 0 and i < len(t) - 1:
                return "", t
        return t[0] + t[-1], t[1:-1]
    return "", t


def _items(s: str) -> list[str]:
    """A top-level list (commas, ``and``, ``or``), with ``a \\pm b`` written out as ``a + b, a - b``."""
    s = re.sub(r"\\text\s*\{\s*(?:or|and)\s*\}|\s(?:or|and)\s", ",", s)
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


def _shape(s: str, depth: int = 0):
    """``s`` as nested lists: (kind, [children]) or a leaf string.  Kinds: "list" (bare), "set"
    (``\\{\\}``), "union" (``\\cup``), or the brackets ("()", "[)", ...)."""
    s = _SOLVED_FOR.sub("", s)
    if depth < 4:
        union = _split_top(s, r"\\cup")
        if len(union) > 1:
            return "union", [_shape(x, depth + 1) for x in union]
    bracket, inner = _wrapper(s)
    matrix = _MATRIX.fullmatch(s.strip())
    if matrix:
        rows = [r for r in re.split(r"\\\\", matrix.group(1)) if r.strip()]
        return "matrix", [("row", [_shape(c, depth + 2) for c in r.split("&")]) for r in rows]
    bare = bracket == "" and _THOUSANDS.fullmatch(_SPACING.sub("", inner))
    items = [inner] if bare else _items(inner)
    if len(items) == 1 and (bracket in ("", "()") or depth > 3):
        return s.strip()
    kind = {"": "list", "{}": "set"}.get(bracket, bracket)
    return kind, [_shape(x, depth + 1) for x in items]


def _split_top(s: str, sep: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for m in re.finditer(rf"[([{{]|[)\]}}]|{sep}", s):
        c = m.group(0)
        depth += (c in "([{") - (c in ")]}")
        if c not in "()[]{}" and depth == 0:
            parts.append(s[start:m.start()])
            start = m.end()
    return parts + [s[start:]]


def _leaves(shape) -> list[str]:
    return [shape] if isinstance(shape, str) else [x for child in shape[1] for x in _leaves(child)]


def _words(leaf: str) -> bool:
    """Whether a leaf is prose (a word of 3+ letters outside LaTeX commands), not math."""
    return re.search(r"(?<![\\a-zA-Z])[a-zA-Z]{3,}", re.sub(r"\\(?:text|mbox|mathrm)\s*\{", "", leaf)) is not None


_UNORDERED = {"list", "set", "union"}
_MATRIX = re.compile(r"\\begin\{[pbv]?matrix\}(.*)\\end\{[pbv]?matrix\}", re.S)


def _same_shape(a, b, env: dict) -> bool | None:
    if isinstance(a, str) and isinstance(b, str):
        x, y = value(a, env), value(b, env)
        if x is None or y is None:  # a number against prose is decided; other forms are not
            return False if (x is not None and _words(b)) or (y is not None and _words(a)) else None
        return same_value(x, y)
    if isinstance(a, str) or isinstance(b, str):  # one value against a list of several
        leaf, shape = (a, b) if isinstance(a, str) else (b, a)
        known = value(leaf, env) is not None and all(value(x, env) is not None for x in _leaves(shape))
        return False if known and len(shape[1]) > 1 else None
    (ka, xs), (kb, ys) = a, b
    if ka in _UNORDERED and kb in _UNORDERED:  # the same elements, in any order
        table = [[_same_shape(x, y, env) for y in ys] for x in xs]
        if any(None in row for row in table):
            return None
        return all(any(row) for row in table) and all(any(col) for col in zip(*table))
    pairs = [_same_shape(x, y, env) for x, y in zip(xs, ys)]
    if None in pairs:
        return None
    if ka != kb and {ka, kb} != {"list", "()"}:
        return False  # a set against a tuple, [2, 3) against (2, 3)
    return len(xs) == len(ys) and all(pairs)


def cheap_verdict(pred: str, gold: str) -> bool | None:
    """True/False when values decide it, else None (math-verify decides).  Expressions are
    evaluated, with any one-letter variables set to the same three values on both sides; lists
    compare as sets (``3 \\pm 2\\sqrt{2}`` / ``3 + 2\\sqrt{2}, 3 - 2\\sqrt{2}``), tuples in order (and
    ``(-2, -2)`` equals a bare ``-2, -2``); intervals with different brackets go to math-verify."""
    a, b = _shape(pred), _shape(gold)
    names = sorted({n for leaf in _leaves(a) + _leaves(b) for n in variables(leaf)})
    if len(names) > 6:
        return None
    verdicts = [_same_shape(a, b, env) for env in points(names)]
    return None if None in verdicts else all(verdicts)


# ---------------------------------------------------------------- math-verify

_MV: tuple | None = None


_WARM_UP = ("\\frac{1}{2}+x", "(1,2)", "[0,1)", "\\{1,2\\}", "x^2+1", "\\lfloor x\\rfloor", "-2 < x < -1",
            "\\begin{pmatrix}1\\\\2\\end{pmatrix}", "(0,1)\\cup(2,3)", "\\binom{n}{k}", "\\log_{2} n", "f(x)=x")


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


def warm_up() -> None:
    """Import math-verify and parse one of each common form: its parser builds its tables on first
    use (0.1-0.4 s for each new form), which would otherwise land in the first gradings.  Worker
    processes do this at start."""
    mv, config = math_verify()
    for form in _WARM_UP:
        mv.parse(f"${form}$", extraction_config=config, parsing_timeout=None)


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
    if _words(pred) and value(gold) is not None:  # prose against a number
        return _verdict(False, pred)
    if _MV is None and not allow_import:
        raise NeedsMathVerify
    ok = math_verify_equal(pred, gold)
    return Grade(False, pred, "parse_error") if ok is None else _verdict(ok, pred)
