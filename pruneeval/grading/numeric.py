"""The cheap path of equivalence: expressions evaluated without a LaTeX parser.

``value("\\frac{1+\\sqrt{5}}{2}")`` -> 1.618...; ``value("10,\\!080")`` -> Fraction(10080);
``value("\\cot x", {"x": 0.7})`` -> 1.18...  It reads integers, decimals, ``\\frac``, ``\\sqrt`` (and
``\\sqrt[n]``), ``\\pi``, ``e``, ``i``, ``\\infty``, ``+ - * / ^ !``, ``\\times``, ``\\cdot``, the
trigonometric functions, ``\\ln``, ``\\exp``, parentheses, implicit products (``2\\sqrt{2}``, ``3\\pi``,
``2xy``) and, given values for them, one-letter variables; trailing units and degrees are dropped.
Anything else (lists, intervals, percent, ``\\log``, ``\\lfloor``) gives None and is left to
math-verify.  Rational expressions stay exact (``Fraction``); others are floats or complex."""

from __future__ import annotations

import cmath
import math
import re
from fractions import Fraction

MAX_CHARS = 300
MAX_EXPONENT = 10000

_DROP = re.compile(r"\\left(?![a-zA-Z])|\\right(?![a-zA-Z])|\\displaystyle|\\[!,;: ]|~|\\?\$")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°")
_UNITS = re.compile(r"(?:\\(?:text|mbox|mathrm)\s*\{\s*[a-zA-Z][a-zA-Z ]*\}(?:\^\{?[23]\}?)?)+\.?$"
                    r"|(?<=[\d}])\s+(?:[a-zA-Z]{2,}\s*)+(?:\^\{?[23]\}?)?\.?$")
_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_TOKEN = re.compile(r"\d+(?:\.\d*)?|\.\d+|\\[a-zA-Z]+|[a-zA-Z]|[-+*/^(){}\[\]!]")
_FUNCTIONS = {"\\sin": cmath.sin, "\\cos": cmath.cos, "\\tan": cmath.tan, "\\cot": lambda x: 1 / cmath.tan(x),
              "\\sec": lambda x: 1 / cmath.cos(x), "\\csc": lambda x: 1 / cmath.sin(x), "\\ln": cmath.log,
              "\\exp": cmath.exp}
_CONSTANTS = {"\\pi": math.pi, "e": math.e, "i": 1j, "\\infty": math.inf}


class _Unreadable(Exception):
    pass


def _clean(s: str) -> str | None:
    if len(s) > MAX_CHARS:
        return None
    s = _DEGREES.sub("", s.strip()).replace("∞", "\\infty")
    s = _UNITS.sub("", s.strip())
    s = _DROP.sub("", s).strip().rstrip(".")
    if _THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    return s or None


def _tokens(s: str) -> list[str]:
    out, i = [], 0
    while i < len(s):
        if s[i].isspace():
            i += 1
            continue
        m = _TOKEN.match(s, i)
        if m is None:
            raise _Unreadable
        out.append(m.group(0))
        i = m.end()
    return out


class _Reader:
    """Recursive descent over the tokens: sum := product (('+'|'-') product)*, and so on."""

    def __init__(self, tokens: list[str], env: dict | None):
        self.t, self.i, self.env = tokens, 0, env or {}

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
        while self.peek() == "!":
            self.take()
            if not (isinstance(v, Fraction) and v.denominator == 1 and 0 <= v <= 300):
                raise _Unreadable
            v = Fraction(math.factorial(int(v)))
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
        if tok in _CONSTANTS:
            return _CONSTANTS[tok]
        if tok in self.env:
            return self.env[tok]
        raise _Unreadable

    def atom(self):
        tok = self.take()
        if tok[0].isdigit() or tok[0] == ".":
            return Fraction(tok)
        if tok in _CONSTANTS:
            return _CONSTANTS[tok]
        if tok in self.env:
            return self.env[tok]
        if tok in _FUNCTIONS:  # \\sin x, \\cos^2 x, \\tan(2x)
            exponent = None
            if self.peek() == "^":
                self.take()
                exponent = self.atom()
            v = _FUNCTIONS[tok](complex(self.power()))
            v = v.real if abs(v.imag) < 1e-12 else v
            return v if exponent is None else _pow(v, exponent)
        if tok in ("(", "{", "["):
            v = self.sum()
            self.take({"(": ")", "{": "}", "[": "]"}[tok])
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
        size = max(abs(a.numerator), a.denominator).bit_length() if isinstance(a, Fraction) else 1
        if abs(b) > MAX_EXPONENT or size * abs(b) > 20000:
            raise _Unreadable
        if a == 0 and b < 0:
            raise _Unreadable
        return a ** int(b)
    if isinstance(a, complex) or isinstance(b, complex) or a < 0:
        raise _Unreadable
    if isinstance(a, Fraction) and isinstance(b, Fraction):  # an exact root: \sqrt{16} -> 4
        root = [Fraction(round(float(x) ** float(b))) for x in (a.numerator, a.denominator)]
        if root[1] and root[0] ** b.denominator == a.numerator ** b.numerator and \
                root[1] ** b.denominator == a.denominator ** b.numerator:
            return root[0] / root[1]
    return float(a) ** float(b)


def value(s: str, env: dict | None = None):
    """The number ``s`` writes (``Fraction`` when rational, else ``float`` or ``complex``), with the
    one-letter variables of ``env`` set to its values; None if this reader cannot evaluate it."""
    s = _clean(s)
    if s is None:
        return None
    try:
        r = _Reader(_tokens(s), env)
        v = r.sum()
        if r.peek() is not None:
            return None
        return v if isinstance(v, Fraction) or not cmath.isnan(v) else None
    except (_Unreadable, OverflowError, ValueError, ZeroDivisionError, RecursionError, TypeError):
        return None


def same_value(a, b) -> bool:
    """Equal values: exactly for two rationals, else to a relative 1e-9."""
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        return a == b
    try:
        if a == b or cmath.isinf(a) or cmath.isinf(b):  # infinities equal only themselves
            return a == b
        return abs(complex(a) - complex(b)) <= 1e-9 * max(abs(complex(a)), abs(complex(b))) + 1e-12
    except (OverflowError, TypeError):
        return False


def variables(s: str) -> list[str]:
    """The one-letter variables in ``s`` (letters outside commands; ``e`` and ``i`` are constants)."""
    s = re.sub(r"\\[a-zA-Z]+", " ", _clean(s) or "")
    if re.search(r"[a-zA-Z]{3,}", s):  # prose has no variables: it does not evaluate
        return []
    return sorted(set(re.findall(r"[a-zA-Z]", s)) - {"e", "i"})


def points(names) -> list[dict]:
    """Three assignments of distinct, irrational-looking values to the variables ``names``."""
    return [{n: 0.5 + ((ord(n) * 0.6180339887 + k * 0.4142135623) % 2.3) for n in names} for k in range(3)]
