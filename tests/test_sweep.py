"""``pruneeval sweep``: budget forcing against the plain cut at each budget, one curve per model."""

import json

from pruneeval.cli import main
from test_thinking import FORCE


def test_sweep_writes_a_curve_per_model_and_way_of_cutting(tiny_model, data_dir, tmp_path):
    preset = tmp_path / "p.yaml"
    preset.write_text(json.dumps({"name": "tiny", "model": str(tiny_model), "max_tokens": 24, "batch_gen": 4,
                                  "think_end": "</think>", "budget_force": FORCE}))
    out = tmp_path / "sweep"
    args = ["sweep", "--preset", str(preset), "--budgets", "8,4", "--tasks", "gsm8k_len", "--limit", "5",
            "--answer-budget", "3", "--method", f"budget,{tiny_model}", "--out", str(out), "--data-dir", str(data_dir)]
    main(args)
    result = json.loads((out / "sweep.json").read_text())
    assert result["tasks"] == ["gsm8k_len"]
    curves = {(c["label"], c["kind"]): c["points"]["gsm8k_len"] for c in result["curves"]}
    assert set(curves) == {("baseline", "budget"), ("baseline", "cut"), (tiny_model.name, "budget"),
                           (tiny_model.name, "cut")}
    for (label, kind), points in curves.items():
        assert [p["budget"] for p in points] == [4, 8] and all(p["n_samples"] == 5 for p in points)
        for p in points:
            rows = [json.loads(x) for x in (out / label / f"{kind}@{p['budget']}" / "gsm8k_len" / "samples.jsonl")
                    .read_text().splitlines()]
            if kind == "cut":  # the control: at most B tokens, nothing forced
                assert all(r["n_tokens"] <= p["budget"] and "stage_tokens" not in r for r in rows)
                assert p["mean_tokens"] == sum(r["n_tokens"] for r in rows) / 5
            else:  # forcing: B thinking tokens at most, then at most 3 answer tokens after the forced cue
                assert all(r["stage_tokens"][0] <= p["budget"] and sum(r["stage_tokens"]) <= p["budget"] + 3
                           for r in rows)
                assert p["forced_rate"] == sum(len(r["stage_tokens"]) == 2 for r in rows) / 5
    # the same model under both labels gave the same samples
    assert curves[("baseline", "cut")] == curves[(tiny_model.name, "cut")]
    assert (out / "sweep.png").stat().st_size > 10_000 and "| curve | B=4 | B=8 |" in (out / "sweep.md").read_text()
    before = (out / "sweep.json").read_text()
    main(args)  # every point is done: nothing is generated again and the outputs are the same
    assert (out / "sweep.json").read_text() == before
