"""JSON has no NaN: report documents are written with NaN as null."""

from __future__ import annotations

import math


def jsonable(obj):
    """NaN -> None (JSON has no NaN), recursively."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    return obj
