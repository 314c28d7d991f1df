"""Grader throughput: gradings per second on the MATH test solutions, and the slowest single grading.

Each of the first N problems of ``math_full`` (the 5,000 MATH test problems) gets an output that
boxes an answer: its own gold ("gold" case, expect ~100% correct) or the gold of the next problem
whose gold differs as a string ("wrong" case, expect ~0%).  Both cases go through
``grading.grade_many`` with each ``--workers`` count W (W 1 grades in this process; W > 1 in W
spawned worker processes, kept between calls); one small warm-up call per W comes first, so worker
start-up (spawning, importing math-verify, its first parse) is reported on its own and not in the
throughput.  The
in-process parse cache is cleared before each timed run.  Then every grading of both cases is timed
alone with ``grading.grade`` in this (main) thread, under its default deadline: the slowest, its
p99, and whether it stays under the deadline.

    python benchmarks/grader.py --out DIR [--n 5000] [--workers 1,2]
prints a table and writes DIR/grader.json."""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from importlib.metadata import version
from pathlib import Path

WARMUP = 8  # items graded by the warm-up call of each worker count


def outputs(n: int) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """(problem ids, golds, wrong answers): the wrong answer of problem i is the gold of the next
    problem (cyclically) whose gold differs from i's as a string.  A neighbour, so that the parse of
    that gold is reused from the parse cache by the same process whatever the worker count (chunks
    are consecutive items): W 1 and W 2 see the same cache hits."""
    from pruneeval import benchmarks

    problems = benchmarks.load("math_full", limit=n)
    ids, golds = [p.id for p in problems], [p.gold for p in problems]
    wrong = []
    for i, g in enumerate(golds):
        j = next((i + k) % len(golds) for k in range(1, len(golds)) if golds[(i + k) % len(golds)] != g) \
            if len(set(golds)) > 1 else i
        wrong.append((golds[j], ids[j]))
    return ids, golds, wrong


def boxed(answer: str) -> str:
    return f"Let me work through this step by step. ... so the answer is \\boxed{{{answer}}}."


def throughput(cases: dict, ids: list[str], workers: list[int]) -> list[dict]:
    from pruneeval import grading

    rows = []  # warm-up: gold and wrong items alternating, so each worker also runs math-verify's first parse
    warmup = [x for pair in zip(cases["gold"][:WARMUP // 2], cases["wrong"][:WARMUP // 2]) for x in pair]
    for w in workers:
        grading._mv_parse.cache_clear()
        t0 = time.perf_counter()
        grading.grade_many(warmup, workers=w)
        startup = time.perf_counter() - t0
        for case, items in cases.items():
            grading._mv_parse.cache_clear()
            t0 = time.perf_counter()
            grades = grading.grade_many(items, workers=w)
            dt = time.perf_counter() - t0
            correct = sum(g.correct for g in grades)
            rows.append({"workers": w, "case": case, "n": len(items), "seconds": dt,
                         "per_s": len(items) / dt, "correct": correct, "accuracy": correct / len(items),
                         "timeouts": sum(g.reason == "timeout" for g in grades), "warmup_s": startup,
                         "wrongly_correct" if case == "wrong" else "wrongly_wrong":
                             [{"id": i, "output_answer": g.extracted, "gold": it[1], "reason": g.reason}
                              for i, it, g in zip(ids, items, grades) if g.correct != (case == "gold")]})
    return rows


def slowest(cases: dict, ids: list[str], timeout_s: float) -> dict:
    from pruneeval import grading

    grading._mv_parse.cache_clear()
    times = []  # (seconds, case, problem id, reason)
    for case, items in cases.items():
        for pid, (output, gold, bench) in zip(ids, items):
            t0 = time.perf_counter()
            g = grading.grade(output, gold, bench, timeout_s=timeout_s)
            times.append((time.perf_counter() - t0, case, pid, g.reason))
    times.sort()
    worst = times[-1]
    pct = lambda q: times[min(len(times) - 1, int(q * len(times)))][0]  # noqa: E731
    return {"gradings": len(times), "max_s": worst[0], "max_case": worst[1], "max_id": worst[2],
            "max_reason": worst[3], "p50_s": pct(0.50), "p99_s": pct(0.99), "mean_s": sum(t for t, *_ in times) / len(times),
            "total_s": sum(t for t, *_ in times), "timeouts": sum(r == "timeout" for *_, r in times),
            "slowest_5": [{"seconds": t, "case": c, "id": i, "reason": r} for t, c, i, r in times[:-6:-1]],
            "timeout_s": timeout_s, "slowest_under_timeout": worst[0] < timeout_s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--n", type=int, default=5000, help="math_full test problems")
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    ap.add_argument("--timeout", type=float, default=5.0, help="deadline of each single grading (grade's default)")
    args = ap.parse_args()
    workers = [int(w) for w in args.workers.split(",")]

    ids, golds, wrong = outputs(args.n)
    cases = {"gold": [(boxed(g), g, "math_full") for g in golds],
             "wrong": [(boxed(w), g, "math_full") for g, (w, _) in zip(golds, wrong)]}
    load0 = os.getloadavg()
    rows = throughput(cases, ids, workers)
    slow = slowest(cases, ids, args.timeout)

    result = {"benchmark": "grader", "n": len(golds), "workers": workers, "cpu_count": os.cpu_count(),
              "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
              "python": platform.python_version(), "math_verify": version("math-verify"),
              "loadavg_before": load0, "loadavg_after": os.getloadavg(),
              "warmup_items": WARMUP, "throughput": rows, "single": slow,
              "timeout_s": slow["timeout_s"], "slowest_under_timeout": slow["slowest_under_timeout"]}

    print(f"grader throughput: {len(golds)} math_full solutions, python {result['python']}, "
          f"math-verify {result['math_verify']}, {result['cpu_count']} CPUs, "
          f"load average {load0[0]:.1f} before, {result['loadavg_after'][0]:.1f} after")
    print(f"{'workers':>7}  {'case':<6}{'n':>6}{'seconds':>9}{'gradings/s':>12}{'correct':>9}{'acc %':>7}"
          f"{'timeouts':>9}{'start-up s':>11}")
    for r in rows:
        print(f"{r['workers']:>7}  {r['case']:<6}{r['n']:>6}{r['seconds']:>9.2f}{r['per_s']:>12.1f}"
              f"{r['correct']:>9}{100 * r['accuracy']:>7.2f}{r['timeouts']:>9}{r['warmup_s']:>11.2f}")
    print(f"start-up s: the warm-up call of {WARMUP} items (W 1: in-process, first import of math-verify; "
          f"W > 1: spawning the workers; both: math-verify's first parse)")
    for r in rows:
        for x in r.get("wrongly_correct", []) + r.get("wrongly_wrong", []):
            print(f"  W {r['workers']} {r['case']} case, graded {'correct' if r['case'] == 'wrong' else 'wrong'}: "
                  f"{x['id']}: {x['output_answer']!r} vs gold {x['gold']!r}")
    print(f"single gradings in the main thread ({slow['gradings']}, deadline {slow['timeout_s']:g} s): "
          f"p50 {1e3 * slow['p50_s']:.2f} ms, p99 {1e3 * slow['p99_s']:.2f} ms, max {1e3 * slow['max_s']:.1f} ms "
          f"({slow['max_id']}, {slow['max_case']} case, reason {slow['max_reason']}), "
          f"timeouts {slow['timeouts']}, slowest under timeout: {slow['slowest_under_timeout']}")
    for s in slow["slowest_5"]:
        print(f"  {1e3 * s['seconds']:>8.1f} ms  {s['id']:<28} {s['case']:<6} {s['reason']}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "grader.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
