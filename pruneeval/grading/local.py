"""One grading in this process's main thread, under a deadline: extraction, then equivalence."""

from __future__ import annotations

import signal

from .deadline import GradingTimeout, with_deadline
from .equivalence import NeedsMathVerify, gold_choice, gold_word, judge, math_verify
from .extract import as_text, count_parts, extract
from .verdict import NUMERIC_FAMILIES, Grade, cap


def extract_for(output, gold: str, fam: str, finish_reason: str | None = None) -> tuple[str | None, str | None]:
    """(extracted answer, the option letter when ``gold`` is a multiple-choice letter)."""
    choice = gold_choice(gold) if fam in ("math", "gaokao") else None
    words = choice is None and fam not in NUMERIC_FAMILIES and gold_word(gold) is not None
    return extract(output, fam, count_parts(gold), choice is not None, finish_reason, words), choice


def grade_here(output, gold, fam: str, timeout_s: float, finish_reason: str | None = None) -> Grade:
    """Grade in this (main) thread under a deadline; never raises.  math-verify is imported outside
    the deadline (an interrupted import would leave a broken module behind), and only once a
    grade needs it: answers the cheap paths decide never import it."""
    box: list = [None]

    def work(allow_import: bool) -> Grade:
        g = as_text(gold).strip()
        box[0], choice = extract_for(output, g, fam, finish_reason)
        return judge(box[0], g, fam, choice, allow_import)

    def attempt(allow_import: bool) -> Grade:
        try:
            if hasattr(signal, "setitimer"):
                return with_deadline(lambda: work(allow_import), timeout_s)
            return work(allow_import)
        except NeedsMathVerify:
            raise
        except GradingTimeout:
            return Grade(False, cap(box[0]), "timeout")
        except Exception:  # RecursionError, MemoryError, a parser bug: a wrong answer, not a crash
            return Grade(False, cap(box[0]), "parse_error")

    try:
        return attempt(False)
    except NeedsMathVerify:
        math_verify()
        return attempt(True)
