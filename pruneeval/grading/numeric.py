"""The cheap path of equivalence: closed-form numbers evaluated without a LaTeX parser.

``value("\\frac{1+\\sqrt{5}}{2}")`` -> 1.618...; ``value("10,\\!080")`` -> Fraction(10080).  It reads
integers, decimals, ``\\frac``, ``\\sqrt`` (and ``\\sqrt[n]``), ``\\pi``, ``+ - * / ^``, ``\\times``,
``\\cdot``, parentheses and implicit products (``2\\sqrt{2}``, ``3\\pi``), with trailing units and
degrees dropped; anything else (variables, lists, intervals, percent, ``\\infty``) gives None and
is left to math-verify.  Rational expressions stay exact (``Fraction``); others are floats."""

from __future__ import annotations

import math
import re
from fractions import Fraction

MAX_CHARS = 300
MAX_EXPONENT = 400

_DROP = re.compile(r"\\left(?![a-zA-Z])|\\right(?![a-zA-Z])|\\displaystyle|\\[!,;: ]|~|\s+|\$")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°")
_UNITS = re.compile(r"(?:\\(?:text|mbox|mathrm)\s*\{\s*[a-zA-Z][a-zA-Z ]*\}(?:\^\{?[23]\}?)?)+\.?$")
_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_TOKEN = re.compile(r"\d+(?:\.\d*)?|\.\d+|\\[dt]?frac|\\sqrt|\\pi|\\times|\\cdot|[-+*/^(){}\[\]]")


class _Unreadable(Exception):
    pass


def _clean(s: str) -> str | None:
    if len(s) > MAX_CHARS:
        return None
    s = _DEGREES.sub("", s.strip())
    s = _UNITS.sub("", s.strip())
    s = _DROP.sub("", s).rstrip(".")
    if _THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    return s or None


def _tokens(s: str) -> list[str]:
    out, i = [], 0
    while i < len(s):
        m = _TOKEN.match(s, i)
        if m is None:
            raise _Unreadable
        out.append(m.group(0))
        i = m.end()
    return out


class _Reader:
    """Recursive descent over the tokens: sum := product (('+'|'-') product)*, and so on."""

    def __init__(self, tokens: list[str]):
        self.t, self.i = tokens, 0

    def peek(self) -> str | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self, want: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (want is not None and tok != want):
            raise _Unreadable
        self.i += 1
        return tok

    def sum(self):
        v = self.product()
        while self.peek() in ("+", "-"):
            v = v + self.product() if self.take() == "+" else v - self.product()
        return v

    def product(self):
        v = self.unary()
        while True:
            tok = self.peek()
            if tok in ("*", "\\times", "\\cdot", "/"):
                self.take()
                w = self.unary()
                v = v * w if tok != "/" else _div(v, w)
            elif tok is not None and tok not in ("+", "-", ")", "}", "]", "^"):
                v = v * self.power()  # implicit product: 2\sqrt{2}, 3\pi, 2(3+1)
            else:
                return v

    def unary(self):
        if self.peek() in ("-", "+"):
            return -self.unary() if self.take() == "-" else self.unary()
        return self.power()

    def power(self):
        v = self.atom()
        if self.peek() == "^":
            self.take()
            return _pow(v, self.unary() if self.peek() in ("-", "+") else self.atom())
        return v

    def group(self):
        if self.peek() == "{":
            self.take()
            v = self.sum()
            self.take("}")
            return v
        tok = self.take()  # \frac12: one digit per argument
        if re.fullmatch(r"\d+", tok):
            if len(tok) > 1:
                self.t[self.i - 1:self.i] = [tok[0], tok[1:]]
                self.i -= 1
                return Fraction(self.take())
            return Fraction(tok)
        if tok == "\\pi":
            return math.pi
        raise _Unreadable

    def atom(self):
        tok = self.take()
        if tok[0].isdigit() or tok[0] == ".":
            return Fraction(tok)
        if tok == "\\pi":
            return math.pi
        if tok in ("(", "{"):
            v = self.sum()
            self.take(")" if tok == "(" else "}")
            return v
        if tok.endswith("frac"):
            num = self.group()
            return _div(num, self.group())
        if tok == "\\sqrt":
            index = Fraction(2)
            if self.peek() == "[":
                self.take()
                index = self.sum()
                self.take("]")
            return _pow(self.group(), _div(Fraction(1), index))
        raise _Unreadable


def _div(a, b):
    if b == 0:
        raise _Unreadable
    return a / b


def _pow(a, b):
    if isinstance(b, Fraction) and b.denominator == 1:
        if abs(b) > MAX_EXPONENT or (isinstance(a, Fraction) and abs(a.numerator) > 10**30 and abs(b) > 1):
            raise _Unreadable
        if a == 0 and b < 0:
            raise _Unreadable
        return a ** int(b)
    if a < 0:
        raise _Unreadable
    if isinstance(a, Fraction) and isinstance(b, Fraction):  # an exact root: \sqrt{16} -> 4
        root = [Fraction(round(float(x) ** float(b))) for x in (a.numerator, a.denominator)]
        if root[1] and root[0] ** b.denominator == a.numerator ** b.numerator and \
                root[1] ** b.denominator == a.denominator ** b.numerator:
            return root[0] / root[1]
    return float(a) ** float(b)


def value(s: str):
    """The number ``s`` writes (``Fraction`` when rational, else ``float``), or None if it is not a
    closed-form number this reader knows."""
    s = _clean(s)
    if s is None:
        return None
    try:
        r = _Reader(_tokens(s))
        v = r.sum()
        if r.peek() is not None:
            return None
        return v if isinstance(v, Fraction) or math.isfinite(v) else None
    except (_Unreadable, OverflowError, ValueError, ZeroDivisionError, RecursionError):
        return None


def same_value(a, b) -> bool:
    """Equal values: exactly for two rationals, else to a relative 1e-9."""
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        return a == b
    try:
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    except OverflowError:
        return False
