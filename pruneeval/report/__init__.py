"""Reports: leaderboards (AES tables, plots) and the paper's length analyses.

Public entry points (imported lazily, so ``import pruneeval.report`` stays cheap):
``write_report`` (leaderboard.py), ``analyze_length`` (analyze.py),
``analyze_overthinking`` (overthinking.py), ``write_paper_report`` (paper.py)."""

from importlib import import_module

_EXPORTS = {"write_report": ".leaderboard", "analyze_length": ".analyze", "analyze_overthinking": ".overthinking",
            "write_paper_report": ".paper"}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
