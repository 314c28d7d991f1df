"""AES (both variants, both branches, the paper's Table 2) and paired bootstrap intervals."""

import csv
import math
import random
from pathlib import Path

import pytest

from pruneeval.metrics import aes, aes_description, bootstrap_diff
from pruneeval.records import SampleRecord

PAPER_CSV = Path(__file__).resolve().parents[1] / "reports" / "o1pruner-paper.csv"


# --- AES on hand-computed cases -------------------------------------------------------------

def test_aes_accuracy_gain_same_for_both_variants():
    # dL = (1000-800)/1000 = 0.2, dA = (0.6-0.5)/0.5 = 0.2 -> 0.2 + 3*0.2 = 0.8
    assert aes(0.5, 1000, 0.6, 800) == pytest.approx(0.8)
    assert aes(0.5, 1000, 0.6, 800, variant="printed") == pytest.approx(0.8)


def test_aes_accuracy_drop_paper_penalises_printed_rewards():
    # dL = 0.5, dA = (0.4-0.5)/0.5 = -0.2
    assert aes(0.5, 1000, 0.4, 500) == pytest.approx(0.5 - 5 * 0.2)  # -0.5
    assert aes(0.5, 1000, 0.4, 500, variant="printed") == pytest.approx(0.5 + 3 * 0.2)  # 1.1


def test_aes_equal_accuracy_is_length_gain_and_longer_is_negative():
    assert aes(0.5, 1000, 0.5, 900) == pytest.approx(0.1)
    assert aes(0.5, 1000, 0.5, 1200) == pytest.approx(-0.2)
    assert aes(0.5, 1000, 0.5, 1000) == 0.0


def test_aes_constants_and_percent_scale():
    # alpha=2, beta=1, gamma=10: 2*0.5 - 10*0.2 = -1.0; relative dA, so percentages give the same
    assert aes(0.5, 1000, 0.4, 500, alpha=2, beta=1, gamma=10) == pytest.approx(-1.0)
    assert aes(50, 1000, 40, 500, alpha=2, beta=1, gamma=10) == pytest.approx(-1.0)
    assert aes(50, 1000, 60, 500, alpha=2, beta=1, gamma=10) == pytest.approx(1.2)


def test_aes_rejects_unknown_variant_and_zero_baseline():
    with pytest.raises(ValueError, match="unknown AES variant"):
        aes(0.5, 1000, 0.4, 500, variant="papr")
    with pytest.raises(ValueError):
        aes(0.0, 1000, 0.4, 500)
    with pytest.raises(ValueError):
        aes(0.5, 0, 0.4, 500)
    with pytest.raises(ValueError):
        aes_description("nope")


def test_aes_description_names_variant_and_constants():
    text = aes_description("printed", alpha=1, beta=3, gamma=5)
    assert "printed" in text and "alpha=1" in text and "beta=3" in text and "gamma=5" in text


# --- the paper's Table 2 --------------------------------------------------------------------

def _paper_rows():
    with open(PAPER_CSV, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 40  # 2 models x 5 methods x (3 datasets + average)
    return rows


def _cells():
    rows = _paper_rows()
    base = {(r["model"], r["dataset"]): r for r in rows if r["method"] == "baseline"}
    for r in rows:
        if r["dataset"] == "average":
            continue
        b = base[(r["model"], r["dataset"])]
        yield r, float(b["acc_pct"]), float(b["length"]), float(r["acc_pct"]), float(r["length"])


def test_printed_variant_reproduces_every_table2_aes_cell():
    n = 0
    for r, ba, bl, a, ln in _cells():
        got = aes(ba, bl, a, ln, variant="printed")
        assert f"{got:.2f}" == f"{float(r['aes_published']):.2f}", (r["model"], r["method"], r["dataset"], got)
        n += 1
    assert n == 30


def test_table2_average_aes_is_mean_of_per_dataset_aes():
    per: dict = {}
    for r, ba, bl, a, ln in _cells():
        per.setdefault((r["model"], r["method"]), []).append(aes(ba, bl, a, ln, variant="printed"))
    published = {(r["model"], r["method"]): float(r["aes_published"]) for r in _paper_rows() if r["dataset"] == "average"}
    assert len(per) == len(published) == 10
    for key, vals in per.items():
        assert len(vals) == 3
        # the printed average is the mean of the printed (two-decimal) per-dataset cells ...
        assert f"{sum(round(v, 2) for v in vals) / 3:.2f}" == f"{published[key]:.2f}", key
        # ... and within rounding of the mean of the exact values (QwQ O1-Pruner: 0.37500 vs 0.38)
        assert abs(sum(vals) / 3 - published[key]) < 0.0051, key


def test_paper_variant_penalises_where_accuracy_fell():
    fell = 0
    for r, ba, bl, a, ln in _cells():
        paper = aes(ba, bl, a, ln, variant="paper")
        printed = aes(ba, bl, a, ln, variant="printed")
        if a < ba:
            fell += 1
            assert paper == pytest.approx(printed - (3 + 5) * (ba - a) / ba)
            assert paper < printed
        else:
            assert paper == printed
    # Marco: prompt MATH/GSM8K, SFT MATH/GaoKao, DPO all three; QwQ: prompt MATH/GaoKao, SFT MATH
    assert fell == 10
    # hand-computed: Marco-o1 fast-solving prompt on MATH, 73.8% / 1156 -> 71.0% / 1113
    # dL = 43/1156 = 0.037197, dA = -2.8/73.8 = -0.037940
    assert aes(73.8, 1156, 71.0, 1113) == pytest.approx(0.037197 - 5 * 0.037940, abs=1e-5)  # -0.1525
    assert aes(73.8, 1156, 71.0, 1113, variant="printed") == pytest.approx(0.037197 + 3 * 0.037940, abs=1e-5)


# --- paired bootstrap -----------------------------------------------------------------------

def _rec(pid, idx, correct, n_tokens):
    return SampleRecord(problem_id=pid, sample_idx=idx, benchmark="toy", prompt=[], output="",
                        n_tokens=n_tokens, finish_reason="stop", latency_s=0.0,
                        extracted="1" if correct else None, correct=correct,
                        reason=None if correct else "wrong", gold="1")


def _pair(n=200, seed=1):
    rng = random.Random(seed)
    base, other = [], []
    for i in range(n):
        pid = f"p{i}"
        length = rng.randint(200, 2000)
        base.append(_rec(pid, 0, rng.random() < 0.6, length))
        other.append(_rec(pid, 0, rng.random() < 0.65, int(length * 0.7)))
    return base, other


def test_bootstrap_is_seeded_and_contains_point_estimate():
    base, other = _pair()
    a = bootstrap_diff(base, other, seed=3)
    assert a == bootstrap_diff(base, other, seed=3)
    assert a != bootstrap_diff(base, other, seed=4)
    assert a["n_problems"] == 200
    assert a["acc_lo"] <= a["acc_diff"] <= a["acc_hi"]
    assert a["len_lo"] <= a["len_diff"] <= a["len_hi"]
    assert a["len_hi"] < 0  # 30% shorter on every problem
    assert a["acc_hi"] - a["acc_lo"] < 0.25


def test_bootstrap_is_paired_by_problem():
    base, _ = _pair(50)
    # every problem exactly 10 tokens shorter, same correctness: a paired interval has zero width
    shorter = [_rec(r.problem_id, r.sample_idx, r.correct, r.n_tokens - 10) for r in reversed(base)]
    d = bootstrap_diff(base, shorter)
    assert d["len_diff"] == pytest.approx(-10) and d["len_lo"] == pytest.approx(-10) and d["len_hi"] == pytest.approx(-10)
    assert d["acc_diff"] == d["acc_lo"] == d["acc_hi"] == 0


def test_bootstrap_averages_samples_and_ignores_unpaired_problems():
    base = [_rec("a", 0, True, 100), _rec("a", 1, False, 300), _rec("b", 0, True, 50)]
    other = [_rec("a", 0, True, 100), _rec("c", 0, True, 10)]
    d = bootstrap_diff(base, other)
    assert d["n_problems"] == 1
    assert d["acc_diff"] == pytest.approx(0.5) and d["len_diff"] == pytest.approx(-100)
    empty = bootstrap_diff(base, [_rec("z", 0, True, 1)])
    assert empty["n_problems"] == 0 and math.isnan(empty["acc_diff"])
