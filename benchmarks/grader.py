"""Grader quality and speed on real outputs: pruneeval against math-verify used alone, same records, one run.

Records: ``../shared/data/graded_outputs/dev.jsonl`` (944 labelled outputs of 12 real models).  For
each grader: agreement with the labels raw and after the corrections in
``tests/data/grading_corrections.jsonl``; false positives / negatives (after corrections) by model
and by dataset; gradings per second per core, in one process (pruneeval's one-worker path:
``grade_many(..., workers=1)`` grades in the calling process), measured on process CPU time (the
machine may be shared) and on wall time; the slowest single grading.  The graders run in
alternation, ``--repeats`` times; the first round's parse caches are cold (after one warm-up of 8
items each), and the best round is reported too.  math-verify alone is
``verify(parse("$" + gold + "$"), parse(output))`` with its defaults.

Unfinished work: every dev output cut at a third and at two thirds of its length (before any
closing thinking tag), graded as cut by the length limit and with no finish reason; none may be
graded correct.  ``--math N`` adds the old throughput check: the first N MATH test solutions'
gold boxed against itself and against the next problem's gold.  ``--profile`` writes cProfile's
top functions of one pruneeval pass.

    python benchmarks/grader.py --out DIR [--repeats 3] [--math 5000] [--profile]
prints tables and writes DIR/grader.json (and DIR/profile.txt)."""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import re
import time
from collections import defaultdict
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("PRUNEEVAL_DATA_DIR", ROOT.parent / "shared" / "data"))
CORRECTIONS = ROOT / "tests" / "data" / "grading_corrections.jsonl"
_CLOSE = re.compile(r"</think>|</thought>|<\|end_of_thought\|>|</reasoning>", re.I)


def load() -> tuple[list[dict], list[bool]]:
    rows = [json.loads(line) for line in open(DATA / "graded_outputs" / "dev.jsonl", encoding="utf-8")]
    fixed = {c["row"]: c["corrected"] for c in map(json.loads, open(CORRECTIONS, encoding="utf-8"))}
    return rows, [fixed.get(n, r["label"]) for n, r in enumerate(rows, 1)]


def pruneeval_grader():
    from pruneeval.grading import grade

    return lambda output, gold, finish=None: grade(output, gold, "math", finish_reason=finish).correct


def math_verify_grader():
    import logging

    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.CRITICAL)  # it logs each timeout with the whole output

    def judge(output, gold, finish=None):
        try:
            return bool(verify(parse("$" + gold + "$"), parse(output)))
        except Exception:  # math-verify's own timeout or a parser error: not correct
            return False
    return judge


def timed(judge, items) -> tuple[list[bool], list[float], float, float]:
    """(verdicts, seconds per item, wall seconds, CPU seconds of this process)."""
    verdicts, each = [], []
    wall, cpu = time.perf_counter(), time.process_time()
    for output, gold in items:
        t = time.perf_counter()
        verdicts.append(judge(output, gold))
        each.append(time.perf_counter() - t)
    return verdicts, each, time.perf_counter() - wall, time.process_time() - cpu


def clear_caches() -> None:
    from pruneeval.grading.equivalence import math_verify_parse

    math_verify_parse.cache_clear()


def quality(verdicts, rows, truth) -> dict:
    def count(keys):
        out = defaultdict(lambda: {"n": 0, "fp": 0, "fn": 0})
        for v, r, t in zip(verdicts, rows, truth):
            for k in keys(r):
                out[k]["n"] += 1
                out[k]["fp"] += v and not t
                out[k]["fn"] += t and not v
        return dict(out)
    n = len(rows)
    return {"agreement_raw": sum(v is r["label"] for v, r in zip(verdicts, rows)) / n,
            "agreement_corrected": sum(v is t for v, t in zip(verdicts, truth)) / n,
            "fp": sum(v and not t for v, t in zip(verdicts, truth)), "fn": sum(t and not v for v, t in zip(verdicts, truth)),
            "fp_raw": sum(v and not r["label"] for v, r in zip(verdicts, rows)),
            "fn_raw": sum(r["label"] and not v for v, r in zip(verdicts, rows)),
            "by_model": count(lambda r: [r["model"]]), "by_dataset": count(lambda r: [r["dataset"]]),
            "disagreements": [n + 1 for n, (v, t) in enumerate(zip(verdicts, truth)) if v is not t]}


def cut_copies(rows) -> list[tuple[str, str]]:
    """Each output cut at 1/3 and 2/3 of its length, where no thinking has closed before the cut."""
    out = []
    for r in rows:
        for k in (1, 2):
            head = r["output"][:len(r["output"]) * k // 3]
            if head and not _CLOSE.search(head):
                out.append((head, r["gold"]))
    return out


def math_items(n: int) -> list[tuple[str, str, bool]]:
    from pruneeval import benchmarks

    golds = [p.gold for p in benchmarks.load("math_full", limit=n)]
    items = []
    for i, g in enumerate(golds):
        other = next((golds[(i + k) % len(golds)] for k in range(1, len(golds)) if golds[(i + k) % len(golds)] != g), g)
        items += [(f"So the answer is \\boxed{{{g}}}.", g, True), (f"So the answer is \\boxed{{{other}}}.", g, False)]
    return items


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--repeats", type=int, default=3, help="rounds of both graders, alternating")
    ap.add_argument("--math", type=int, default=0, help="also time N MATH test solutions, gold and wrong")
    ap.add_argument("--profile", action="store_true", help="write cProfile's top functions of one pruneeval pass")
    args = ap.parse_args()
    rows, truth = load()
    items = [(r["output"], r["gold"]) for r in rows]
    graders = {"pruneeval": pruneeval_grader(), "math-verify": math_verify_grader()}
    from pruneeval.grading.equivalence import warm_up

    warm_up()  # both graders: import math-verify and parse one of each common form
    load0 = os.getloadavg()
    for judge in graders.values():
        timed(judge, items[:8])
    rounds = {name: [] for name in graders}
    verdicts = {}
    for _ in range(args.repeats):
        for name, judge in graders.items():
            clear_caches()
            v, each, wall, cpu = timed(judge, items)
            verdicts.setdefault(name, v)
            slow = max(range(len(each)), key=each.__getitem__)
            rounds[name].append({"wall_s": wall, "cpu_s": cpu, "per_cpu_s": len(items) / cpu, "per_wall_s": len(items) / wall,
                                 "max_s": each[slow], "max_row": slow + 1, "p99_s": sorted(each)[int(0.99 * len(each))]})
    result = {"benchmark": "grader", "records": str(DATA / "graded_outputs" / "dev.jsonl"), "n": len(rows),
              "python": platform.python_version(), "math_verify": version("math-verify"), "cpu_count": os.cpu_count(),
              "loadavg_before": load0, "loadavg_after": os.getloadavg(), "repeats": args.repeats, "graders": {}}
    cuts = cut_copies(rows)
    for name, judge in graders.items():
        r = rounds[name]
        fp_cut = {finish: sum(graders[name](o, g, finish) if name == "pruneeval" else judge(o, g) for o, g in cuts)
                  for finish in ("length", None)}
        result["graders"][name] = {**quality(verdicts[name], rows, truth), "rounds": r,
                                   "first_per_cpu_s": r[0]["per_cpu_s"], "best_per_cpu_s": max(x["per_cpu_s"] for x in r),
                                   "max_s": max(x["max_s"] for x in r), "cut_copies": len(cuts),
                                   "cut_copies_correct": {str(k): v for k, v in fp_cut.items()}}
    if args.math:
        m = math_items(args.math)
        for name, judge in graders.items():
            clear_caches()
            v, each, wall, cpu = timed(judge, [(o, g) for o, g, _ in m])
            result["graders"][name]["math"] = {
                "n": len(m), "per_cpu_s": len(m) / cpu, "max_s": max(each),
                "gold_correct": sum(x for x, (_, _, want) in zip(v, m) if want) / (len(m) // 2),
                "wrong_correct": sum(x for x, (_, _, want) in zip(v, m) if not want) / (len(m) // 2)}
    if args.profile:
        prof = cProfile.Profile()
        clear_caches()
        prof.enable()
        timed(graders["pruneeval"], items)
        prof.disable()
        text = io.StringIO()
        pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(25)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "profile.txt").write_text(text.getvalue())
    report(result)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "grader.json").write_text(json.dumps(result, indent=2) + "\n")


def report(result: dict) -> None:
    g = result["graders"]
    print(f"grader on {result['n']} real outputs ({result['records']}), python {result['python']}, math-verify "
          f"{result['math_verify']}, load average {result['loadavg_before'][0]:.1f} before, {result['loadavg_after'][0]:.1f} after")
    print(f"{'':<28}" + "".join(f"{name:>14}" for name in g))
    lines = [("agreement, raw %", lambda x: f"{100 * x['agreement_raw']:.1f}"),
             ("agreement, corrected %", lambda x: f"{100 * x['agreement_corrected']:.1f}"),
             ("FP / FN, raw", lambda x: f"{x['fp_raw']} / {x['fn_raw']}"),
             ("FP / FN, corrected", lambda x: f"{x['fp']} / {x['fn']}"),
             ("gradings/s/core, 1st", lambda x: f"{x['first_per_cpu_s']:.0f}"),
             ("gradings/s/core, best", lambda x: f"{x['best_per_cpu_s']:.0f}"),
             ("slowest grading, ms", lambda x: f"{1e3 * x['max_s']:.0f}"),
             ("cut copies graded correct", lambda x: f"{x['cut_copies_correct']['length']}+{x['cut_copies_correct']['None']}"
                                                     f"/{2 * x['cut_copies']}")]
    for label, fmt in lines:
        print(f"{label:<28}" + "".join(f"{fmt(x):>14}" for x in g.values()))
    if "math" in next(iter(g.values())):
        print(f"{'MATH gold / wrong correct %':<28}" + "".join(
            f"{100 * x['math']['gold_correct']:>7.1f} /{100 * x['math']['wrong_correct']:>4.1f}" for x in g.values()))
        print(f"{'MATH gradings/s/core':<28}" + "".join(f"{x['math']['per_cpu_s']:>14.0f}" for x in g.values()))
    for key in ("by_model", "by_dataset"):
        print(f"\nFP / FN after corrections, {key[3:]}:")
        for k in next(iter(g.values()))[key]:
            print(f"  {k[:48]:<48}" + "".join(f"{x[key][k]['fp']:>6} /{x[key][k]['fn']:>3}" for x in g.values())
                  + f"   (n {g['pruneeval'][key][k]['n']})")


if __name__ == "__main__":
    main()
