"""O1-Pruner and DPO: rewards, normalisation, sample choice and losses against hand computations; the
method and engine registries."""

import math
from statistics import fmean, pstdev

import pytest
import torch

from pruneeval.records import SampleRecord
from pruneeval.trainers.dpo import dpo_loss, pairs
from pruneeval.trainers.o1pruner import O1PrunerConfig, choose, reward, rewards, surrogate_loss


def rec(pid, idx, n_tokens, correct):
    return SampleRecord(pid, idx, "toy_train", [], "x", n_tokens, "stop", 0.1, "1" if correct else None,
                        correct, None if correct else "mismatch", "1")


def test_reward_hand_computed():
    # L_ref = 100, A_ref = 0.5, lambda = 2
    assert reward(50, True, 100, 0.5, 2.0) == pytest.approx(100 / 50 - 1 + 2 * 0.5)  # 2.0
    assert reward(200, False, 100, 0.5, 2.0) == pytest.approx(0.5 - 1 - 1.0)  # -1.5
    assert reward(100, True, 100, 1.0, 5.0) == pytest.approx(0.0)
    assert reward(0, True, 10, 0.0, 2.0) == pytest.approx(10 / 1 - 1 + 2)  # empty response: L guarded to 1


def test_reward_stats_clip_and_zscore():
    recs = [rec("a", 0, 10, True), rec("a", 1, 30, False), rec("b", 0, 1, True), rec("b", 1, 99, True)]
    cfg = O1PrunerConfig(lam=2.0, normalize="none")
    # problem a: L_ref 20, A_ref 0.5; problem b: L_ref 50, A_ref 1.0
    raw = [20 / 10 - 1 + 1.0, 20 / 30 - 1 - 1.0, 50 / 1 - 1 + 0, 50 / 99 - 1 + 0]
    clipped = [min(max(x, -2), 4) for x in raw]
    assert rewards(recs, cfg) == pytest.approx(clipped)
    assert clipped[2] == 4  # 49 clipped to the upper bound
    z = rewards(recs, O1PrunerConfig(lam=2.0))
    mu, sd = fmean(clipped), pstdev(clipped)
    assert z == pytest.approx([(x - mu) / sd for x in clipped], rel=1e-6)
    assert fmean(z) == pytest.approx(0, abs=1e-9) and pstdev(z) == pytest.approx(1, rel=1e-6)


def test_choice_of_m_samples_is_seeded():
    recs = [rec(p, i, 10 + i, True) for p in "abc" for i in range(8)]
    a, b = choose(recs, 2, seed=7), choose(recs, 2, seed=7)
    assert a == b and len(a) == 6
    assert sorted({recs[i].problem_id for i in a}) == ["a", "b", "c"]
    assert all(sum(recs[i].problem_id == p for i in a) == 2 for p in "abc")
    assert any(choose(recs, 2, seed=s) != a for s in range(1, 6))
    assert choose(recs, 0, seed=0) == list(range(len(recs)))


def test_ratio_is_exactly_one_at_initialisation():
    logp = torch.randn(3, 5)
    mask = torch.tensor([[1.0, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 0, 1, 1, 0]])
    adv = torch.tensor([1.5, -0.5, 0.25])
    for ratio in ("sequence", "token"):
        loss = surrogate_loss(logp, logp.clone(), mask, adv, 0.2, ratio)
        assert loss.item() == pytest.approx(-adv.mean().item())  # r == 1 -> loss = -mean(R)


@pytest.mark.parametrize("ratio", ["sequence", "token"])
def test_gradient_signs(ratio):
    """Descending the loss raises log p of a positive-reward (short, correct) sample, lowers a negative one."""
    ref = torch.full((2, 4), -2.0)
    logp = ref.clone().requires_grad_(True)
    mask = torch.ones(2, 4)
    adv = torch.tensor([1.0, -1.0])  # row 0: short correct; row 1: long wrong
    surrogate_loss(logp, ref, mask, adv, 0.2, ratio).backward()
    assert (logp.grad[0] < 0).all()  # gradient descent increases these log-probs
    assert (logp.grad[1] > 0).all()  # and decreases these


def test_clipping_stops_the_gradient_outside_the_trust_region():
    ref = torch.zeros(1, 2)
    logp = torch.full((1, 2), 0.5, requires_grad=True)  # r = e^0.5 > 1.2
    surrogate_loss(logp, ref, torch.ones(1, 2), torch.tensor([1.0]), 0.2).backward()
    assert torch.count_nonzero(logp.grad) == 0


def test_dpo_loss_hand_computed():
    pi_c, pi_r = torch.tensor([-10.0, -4.0]), torch.tensor([-12.0, -3.0])
    ref_c, ref_r = torch.tensor([-11.0, -4.5]), torch.tensor([-11.0, -3.5])
    # margins: ((-10+11) - (-12+11)) = 2 ; ((-4+4.5) - (-3+3.5)) = 0
    expect = (-math.log(1 / (1 + math.exp(-0.1 * 2))) + math.log(2)) / 2
    assert dpo_loss(pi_c, pi_r, ref_c, ref_r, 0.1).item() == pytest.approx(expect)


def test_dpo_pairs_shortest_correct_vs_longest():
    recs = [rec("a", 0, 50, True), rec("a", 1, 20, True), rec("a", 2, 90, False), rec("a", 3, 30, True),
            rec("b", 0, 10, False), rec("b", 1, 40, False)]
    got = [(c.key, r.key) for c, r in pairs(recs, 2)]
    assert got == [(("a", 1), ("a", 2)), (("a", 3), ("a", 2))]  # b has no correct sample


def test_every_registry_entry_resolves():
    """Each name of the method and engine registries imports to its class; a method's class is a
    Method carrying its registry name (budget and tale instances add their @value: budget@512), and
    exactly the presets' training methods train."""
    import importlib

    from pruneeval.engines import ENGINES
    from pruneeval.presets import TRAINING_METHODS
    from pruneeval.trainers import METHODS, Method, get_method

    trains = []
    for name, target in METHODS.items():
        module, cls = target.split(":")
        method = getattr(importlib.import_module(module), cls)
        assert issubclass(method, Method) and method.name == name
        assert get_method(name).name.partition("@")[0] == name
        trains += [name] if method.trains else []
    assert sorted(trains) == sorted(TRAINING_METHODS) == ["dpo", "o1pruner", "sft"]
    sft = get_method("sft", keep=1)
    assert isinstance(sft, Method) and sft.config.keep == 1
    for name, target in ENGINES.items():
        module, cls = target.split(":")
        if name == "vllm" and importlib.util.find_spec("vllm") is None:
            continue  # optional extra
        assert hasattr(importlib.import_module(module), cls)


def test_importing_pruneeval_starts_nothing_heavy():
    import subprocess
    import sys

    code = "import sys, pruneeval, pruneeval.cli, pruneeval.engines, pruneeval.trainers; " \
           "print(sorted(m for m in ('vllm', 'lm_eval', 'math_verify', 'transformers') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
