"""Grading: one API shared by evaluation, the lm-eval tasks and the training rewards.

``grade(output, gold, benchmark, finish_reason=...) -> Grade``; ``grade_many`` for batches (worker
processes); ``grade_jsonl`` behind ``pruneeval grade``.  Split the way Math-Verify splits parser and
grader: ``extract`` (the final answer an output states; ``sentences`` reads one out of a sentence),
``equivalence`` (is it the gold: cheap paths, ``numeric`` values, then math-verify), ``local`` (one
grading under a ``deadline``), ``pool`` (worker processes), ``boxed`` (a leaf: ``\\boxed{}``
contents, also read by ``benchmarks`` for gold answers), ``verdict`` (``Grade``, families)."""

from .api import grade, grade_jsonl, grade_many
from ..boxed import all_boxed, last_boxed
from .extract import extract
from .verdict import FAMILIES, MAX_ANSWER, REASONS, Grade, family

__all__ = ["FAMILIES", "MAX_ANSWER", "REASONS", "Grade", "all_boxed", "extract", "family", "grade", "grade_jsonl",
           "grade_many", "last_boxed"]
