"""Grader fuzz: 10,000 random and adversarial outputs through ``grading.grade``.

The 10,000 examples are split over one test per kind of output, so that each stays short and a
failure names its kind (``BUDGET`` holds the split; ``test_budget`` checks it adds up to 10,000):
random LaTeX soup, deep braces (thousands, balanced or not), huge numbers (thousands of digits,
commas, ``1e99999``), long LaTeX (nested ``\\frac``, ``\\sqrt`` towers, long ``\\boxed``, 100 KB
outputs), invalid unicode (lone surrogates, NUL, control characters, RTL marks, undecodable bytes),
and model-shaped outputs mixing all of them with thinking tags, ``####`` and final-answer phrases.
Each example is graded under a family drawn from ``grading.FAMILIES`` against a gold drawn from
realistic golds, soup, numbers and hostile strings.  Every grading must return a ``Grade`` (no
exception escapes), with ``reason`` None exactly when correct, ``extracted`` at most 1,000
characters, within its ``timeout_s`` of 1 s plus a 2 s margin of CPU time.  Hypothesis runs derandomized and
without an example database, so every run (CI included) grades the same 10,000 examples.  Last, a
batch of hostile outputs goes through ``grade_many`` with two worker processes."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from pruneeval import grading
from pruneeval.grading import Grade, grade, grade_many

TIMEOUT = 1.0
MARGIN = 2.0
REASONS = {None, "no_answer", "no_gold", "timeout", "parse_error", "mismatch"}

PIECES = list("0123456789{}()[]\\$^_,.-+=/ abxyABCD%:\n") + [
    "\\boxed{", "\\frac", "</think>", "<think>", "The answer is ", "\\sqrt", "\ud800", "\\text{", "\\pm",
    "\\begin{pmatrix}", "\\\\", "\\end{pmatrix}", "\\infty", "####", "**Final Answer**"]
texts = st.lists(st.sampled_from(PIECES), max_size=60).map("".join)

# ---------------------------------------------------------------- builders, one per kind of output

THINK_OPEN = ["<think>", "<THINK>", "<thought>", "<|begin_of_thought|>", "<reasoning>", ""]
THINK_CLOSE = ["</think>", "</Think>", "</thought>", "<|end_of_thought|>", "</reasoning>", "", "</think"]
PHRASES = ["", "The answer is ", "the final answer is ", "Final Answer: The final answer is $", "Answer: ",
           "#### ", "**Final Answer**\n\n", "So the correct option is ", "\\boxed{", "\\boxed ", "\\fbox{",
           "Therefore, the answer is:\n\n$$"]
ENDINGS = ["", ".", "}", "$.", "$$", "}$.", ". I hope it is correct.", " and so on", "\n", " because", "!"]
NUMBER_ENDINGS = ENDINGS[:-1]  # "!" after a 15-digit number is a factorial: graded "timeout", 1 s each
REAL_GOLDS = ["18", "1,450,000", "-3", "0.5", "\\frac{3}{4}", "\\dfrac{\\pi}{3}", "\\sqrt{8}", "2\\sqrt{2}",
              "x^2+2x+1", "(1,2)", "[2,3)", "(-\\infty,-3)", "\\{1,2,3\\}", "25\\%", "\\text{east}", "B", "(C)",
              "\\text{(D)}", "48, 384", "5 or 9", "\\pm 2", "10,\\!080", "12\\mbox{ inches}^2", "20 cm^{2}",
              "576\\pi\\;m^{2}", "30^\\circ", "\\begin{pmatrix}-1\\\\2\\end{pmatrix}", "025", "\\$18.00", "6"]
UNICODE = ["\ud800", "\udfff", "\udc80\udcff", "\x00", "\x01", "\x1b[31m", "\x7f", "\x85", "\u2028", "\u2029",
           "\u202e", "\u200f", "\u200b", "\ufeff", "\u0301", "\ufffd", "\uffff", "\U0010ffff", "\uff15",
           "\u0665", "\U0001d7d3", "\u00bd", "\u221e", "\u2212", "\u00b0", "\U0001f600", "\t", "\r", "\x0c"]


def _join(parts) -> str:
    return "".join(parts)


@st.composite
def deep_braces(draw) -> str:
    """Thousands of openers, closed fully, partly, not at all, or too often."""
    k = draw(st.one_of(st.integers(0, 12), st.integers(41, 6000)))
    opener, closer = draw(st.sampled_from([("{", "}"), ("\\boxed{", "}"), ("\\frac{1}{", "}"), ("(", ")"),
                                           ("[", "]"), ("\\left(", "\\right)"), ("\\sqrt{", "}"), ("\\{", "\\}"),
                                           ("{", ")"), ("}", "{")]))
    close = draw(st.sampled_from([k, 0, k // 2, k + 3]))
    core = draw(st.sampled_from(["5", "x", "", "1+1", "\\pi"]))
    return draw(st.sampled_from(PHRASES)) + opener * k + core + closer * close + draw(st.sampled_from(ENDINGS))


@st.composite
def huge_number(draw) -> str:
    """Thousands of digits, with thousands separators, exponents, signs, decimals, fractions."""
    n = draw(st.one_of(st.integers(1, 30), st.integers(300, 6000)))
    block = str(draw(st.integers(0, 10**30)))
    digits = (block * (n // len(block) + 1))[:n]
    form = draw(st.sampled_from(["plain", "commas", "exp", "neg", "decimal", "frac", "power", "dollars",
                                 "percent", "sci", "latex_sci", "zeros"]))
    if form == "commas":
        digits = f"{int(digits):,}" if n < 4000 else ",".join(digits[i:i + 3] for i in range(0, n, 3))
    elif form == "exp":
        digits = f"1e{draw(st.sampled_from(['99999', '-99999', '+999999999', str(n)]))}"
    elif form == "neg":
        digits = "-" + digits
    elif form == "decimal":
        digits = digits[:1] + "." + digits
    elif form == "frac":
        digits = f"\\frac{{{digits}}}{{{digits[::-1].lstrip('0') or '7'}}}"
    elif form == "power":
        digits = f"{digits[:3]}^{{{digits[:draw(st.integers(1, 5))]}}}"
    elif form == "dollars":
        digits = f"\\${digits}"
    elif form == "percent":
        digits = digits + "\\%"
    elif form == "sci":
        digits = f"{digits[:1]}.{digits[1:40]}e{draw(st.integers(-10**6, 10**6))}"
    elif form == "latex_sci":
        digits = f"{digits[:1]}.{digits[1:40]} \\times 10^{{{draw(st.integers(-99999, 99999))}}}"
    elif form == "zeros":
        digits = "0" * n + "1"
    return draw(st.sampled_from(PHRASES)) + digits + draw(st.sampled_from(NUMBER_ENDINGS))


@st.composite
def long_latex(draw) -> str:
    """Nested ``\\frac``, ``\\sqrt`` towers, long ``\\boxed`` contents, 100 KB outputs."""
    kind = draw(st.sampled_from(["frac", "sqrt", "long_box", "big", "matrix", "sum", "text"]))
    k = draw(st.one_of(st.integers(1, 6), st.integers(41, 3000)))
    if kind == "frac":
        body = "\\frac{1}{" * k + "2" + "}" * draw(st.sampled_from([k, 0, k - 1]))
    elif kind == "sqrt":
        body = "\\sqrt{" * k + "2" + "}" * draw(st.sampled_from([k, 0]))
    elif kind == "long_box":
        body = draw(st.sampled_from(["x+", "\\alpha\\cdot", "1,", "\\left(", "a_{1}^{2}", "\\!\\;"])) * (k * 20) + "1"
    elif kind == "big":  # 100 KB of thinking around an answer
        filler = draw(st.sampled_from(["Let me think about this again. ", "wait ", "\\frac{1}{2} ", "{", "}", "\n"]))
        body = filler * (100_000 // len(filler)) + draw(st.sampled_from(REAL_GOLDS))
    elif kind == "matrix":
        rows = "\\\\".join(["1 & 2 & 3"] * k)
        body = f"\\begin{{pmatrix}}{rows}\\end{{{draw(st.sampled_from(['pmatrix', 'bmatrix', '']))}}}"
    elif kind == "sum":
        body = "+".join(["x"] * min(k, 400))
    else:
        body = "\\text{" + "word " * k + "}"
    return draw(st.sampled_from(PHRASES)) + body + draw(st.sampled_from(ENDINGS))


unicode_soup = st.lists(st.sampled_from(UNICODE + PIECES + PHRASES), max_size=80).map(_join)
any_chars = st.text(st.characters(categories=["Cs", "Cc", "Cf", "Co", "Zl", "Zp", "Zs", "Nd", "Mn", "Lo", "So"]),
                    max_size=200)
garbage_bytes = st.binary(max_size=300).map(lambda b: b"\\boxed{5} " + b)


@st.composite
def bad_unicode(draw):
    """Lone surrogates, NUL, control characters, RTL marks; undecodable bytes, as str or bytes."""
    form = draw(st.sampled_from(["soup", "chars", "bytes", "escaped", "boxed"]))
    if form == "soup":
        return draw(unicode_soup)
    if form == "chars":
        return draw(any_chars)
    if form == "bytes":
        return draw(garbage_bytes)
    if form == "escaped":  # bytes decoded with surrogateescape: lone \udc80-\udcff
        return draw(garbage_bytes).decode("utf-8", "surrogateescape")
    return "\\boxed{" + draw(unicode_soup) + "}" + draw(st.sampled_from(UNICODE))


golds = st.one_of(st.sampled_from(REAL_GOLDS), st.lists(st.sampled_from(PIECES), max_size=12).map(_join),
                  st.sampled_from(["", " ", "\ud800", "{", "}", "\\boxed{", "\x00", "A", "1e99999", "9" * 5000,
                                   "0" * 999 + "1", "\u202e5", "5\ud800", "#### 5", "<think>5</think>"]),
                  st.integers(-10**40, 10**40).map(str))
answers = st.one_of(texts, deep_braces(), huge_number(), long_latex(), golds,
                    bad_unicode().map(lambda s: s.decode("utf-8", "surrogateescape") if isinstance(s, bytes) else s))


@st.composite
def model_output(draw) -> str:
    """Model-shaped: thinking (maybe unclosed, maybe repeated), a final-answer phrase, an answer of
    any kind, an ending; sometimes the gsm8k ``####`` marker or several boxes."""
    think = draw(st.sampled_from(THINK_OPEN)) + draw(texts) + draw(st.sampled_from(THINK_CLOSE))
    body = draw(st.sampled_from(PHRASES)) + draw(answers) + draw(st.sampled_from(ENDINGS))
    extra = draw(st.sampled_from(["", "####", "box", "close", "<think>", "text"]))
    extra = {"####": lambda: "\n#### " + draw(huge_number()), "box": lambda: " \\boxed{" + draw(texts) + "}",
             "close": lambda: "</think>" + draw(texts), "text": lambda: "\n\n" + draw(texts)}.get(extra, lambda: extra)()
    return think * draw(st.sampled_from([1, 1, 2])) + "\n\n" + body + extra


KINDS = {"soup": texts, "braces": deep_braces(), "numbers": huge_number(), "long_latex": long_latex(),
         "unicode": bad_unicode(), "model": model_output()}
BUDGET = {"soup": 2500, "braces": 1200, "numbers": 1500, "long_latex": 1300, "unicode": 1500, "model": 2000}


def check(output, gold, fam: str) -> None:
    t0 = time.thread_time()  # CPU time, not wall time: on a machine shared with busy processes the
    g = grade(output, gold, fam, timeout_s=TIMEOUT)  # wall clock can be 3x longer for the same work
    elapsed = time.thread_time() - t0
    assert elapsed < TIMEOUT + MARGIN, (elapsed, g)
    assert isinstance(g, Grade) and isinstance(g.correct, bool), g
    assert (g.reason is None) == g.correct and g.reason in REASONS, g
    assert g.extracted is None or (isinstance(g.extracted, str) and len(g.extracted) <= grading.MAX_ANSWER), g


def fuzz(kind: str, n: int):
    @seed(sorted(KINDS).index(kind))
    @settings(max_examples=n, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(KINDS[kind], golds, st.sampled_from(grading.FAMILIES))
    def test(output, gold, fam):
        check(output, gold, fam)

    test.__name__ = f"test_fuzz_{kind}"
    return test


test_random_latex_soup_never_raises = fuzz("soup", BUDGET["soup"])
test_fuzz_deep_braces = fuzz("braces", BUDGET["braces"])
test_fuzz_huge_numbers = fuzz("numbers", BUDGET["numbers"])
test_fuzz_long_latex = fuzz("long_latex", BUDGET["long_latex"])
test_fuzz_invalid_unicode = fuzz("unicode", BUDGET["unicode"])
test_fuzz_model_shaped_outputs = fuzz("model", BUDGET["model"])


def test_budget():
    assert sum(BUDGET.values()) == 10_000 and BUDGET.keys() == KINDS.keys()


def test_regressions():
    """Found by this fuzz: an extracted answer over 1,000 characters came back uncapped when the
    gold was empty; long whitespace runs in an answer made the unit-stripping regex backtrack
    cubically (a 1,000-space run took seconds, and a right answer was graded "timeout")."""
    check("\\boxed{" + "x" * 2000 + "}", "", "math")
    assert grade("\\boxed{" + "x" * 2000 + "}", " ", "gsm8k").extracted == "x" * 1000
    t0 = time.thread_time()
    g = grade("\\boxed{1" + " " * 990 + "+ 1}", "2", "math", timeout_s=TIMEOUT)
    assert g == Grade(True, "1" + " " * 990 + "+ 1") and time.thread_time() - t0 < 0.5 * TIMEOUT


HOSTILE = [
    "\\boxed{9^{9^{9^{9}}}}", "\\boxed{(10^{10})!}", "\\boxed{" + "\\frac{1}{" * 30 + "2" + "}" * 30 + "}",
    "\\boxed{10^{10^{7}} + 1}", "{" * 6000, "\\boxed{" + "{" * 5000 + "1" + "}" * 5000 + "}",
    "\\boxed{1" + "0" * 5000 + "}", "The answer is 1e99999.", "#### " + "9," * 3000 + "9",
    "\ud800\\boxed{5}\udfff", "\x00" * 1000, "\u202e\\boxed{5}", b"\\boxed{5}\xff\xfe",
    "<think>" + "wait " * 20000, "Let me think. " * 7000 + "\\boxed{5}", "\\boxed{1" + " " * 990 + "x}",
]


def test_grade_many_hostile_batch_in_order():
    """Hostile outputs interleaved with plain ones, through two worker processes: every item comes
    back a Grade, in order, in time.  Each hostile item takes at most the pool's per-item limit
    (timeout + 1 s), so even one worker getting all of them stays under the bound."""
    items = []
    for i, out in enumerate(HOSTILE):
        items += [(out, "5", grading.FAMILIES[i % len(grading.FAMILIES)]), (f"\\boxed{{{i}}}", str(i), "math")]
    grade_many(items[1:2], workers=2)  # warm the pool: starting it is not grading time
    t0 = time.monotonic()
    grades = grade_many(items, workers=2, timeout_s=TIMEOUT)
    assert time.monotonic() - t0 < len(HOSTILE) * (TIMEOUT + 1.0) + 10
    assert len(grades) == len(items) and all(isinstance(g, Grade) for g in grades)
    assert grades[1::2] == [Grade(True, str(i)) for i in range(len(HOSTILE))]
    for g in grades[::2]:
        assert (g.reason is None) == g.correct and (g.extracted is None or len(g.extracted) <= 1000), g
