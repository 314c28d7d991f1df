"""The README's toy figures are the committed reports' numbers (reports/toy/*.json), to the digit shown."""

from __future__ import annotations

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
TOY = REPO / "reports" / "toy"


def table_rows(first_header_cell: str) -> dict[str, list[str]]:
    """The README table whose header starts with ``first_header_cell``: the first cell's `code`
    name -> the other cells (markup removed)."""
    lines = README.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(f"| {first_header_cell} |"))
    rows = {}
    for ln in lines[start + 2:]:
        if not ln.startswith("|"):
            break
        cells = [c.strip().replace("*", "") for c in ln.strip("|").split("|")]
        rows[re.search(r"`([^`]+)`", cells[0]).group(1)] = cells[1:]
    return rows


def test_the_method_table_is_the_committed_leaderboard():
    board = json.loads((TOY / "leaderboard.json").read_text())
    (model,) = board["models"]
    cells = {r["method"]: r["cells"]["toy"] for r in model["rows"]}
    base = cells["baseline"]["length"]
    rows = table_rows("method")
    assert set(rows) == set(cells)
    for method, (acc, tokens, ratio, aes) in rows.items():
        c = cells[method]
        assert (acc, tokens, ratio, aes) == (f"{100 * c['acc']:.1f} %", f"{c['length']:.1f}",
                                             f"{c['length'] / base:.2f}", f"{c['aes']:.2f}"), method
    assert board["aes"]["variant"] == "paper"


def test_the_build_table_is_the_committed_build_report():
    build = json.loads((TOY / "toy_build.json").read_text())
    rows = table_rows("seed")
    assert set(rows) == {f"seed={s['seed']}" for s in build["seeds"]}
    for s in build["seeds"]:
        load = s["load_average"]
        assert rows[f"seed={s['seed']}"] == [
            f"{100 * s['accuracy']:.1f} %", f"{s['mean_tokens']:.1f}", f"{s['build_seconds']:.0f} s",
            f"{load['start']:.1f} / {load['end']:.1f}", s["weights_sha256"][:12]]
    low, high = build["accuracy_band"]
    assert f"{100 * low:.1f}-{100 * high:.1f} %" in README
    assert build["depends_on"]["processor"] in README


def test_the_sweep_table_is_the_committed_sweep():
    sweep = (REPO / "reports" / "toy-sweep" / "sweep.md").read_text()
    table = sweep[sweep.index("| curve"):].strip()
    assert table in README
