"""Model presets: every shipped preset loads; unknown keys and wrong types are refused by name."""

import json

import pytest

from pruneeval import presets
from pruneeval.errors import UserError


@pytest.mark.parametrize("name", presets.names())
def test_every_shipped_preset_loads(name):
    p = presets.resolve(name)
    assert p.name == name and p.model
    assert "{question}" in p.user_template
    assert presets.resolve(p.model) == p  # the hub id finds its preset too


def test_paper_settings():
    qwq, marco = presets.resolve("QwQ-32B-Preview"), presets.resolve("marco-o1")
    assert (qwq.finetune, qwq.lr, qwq.lam, qwq.k) == ("freeze:48", 2e-6, 5.0, 12)
    assert (marco.finetune, marco.lr, marco.lam, marco.k) == ("full", 2e-7, 2.0, 16)
    assert (qwq.presample_temperature, qwq.presample_top_p, qwq.max_tokens) == (0.5, 0.8, 8192)


def test_unknown_key_and_wrong_type_are_refused(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmodel: y\nlearning_rate: 1\n")
    with pytest.raises(UserError, match="unknown key 'learning_rate'"):
        presets.resolve(str(bad))
    bad.write_text("name: x\nk: many\n")
    with pytest.raises(UserError, match="key 'k' must be int"):
        presets.resolve(str(bad))


def test_preset_option_and_generic_model(tmp_path):
    p = presets.resolve(str(tmp_path), "toy")
    assert p.name == "toy" and p.model == str(tmp_path) and p.eval_tasks == "toy_len"
    with pytest.raises(UserError, match="unknown preset 'nope'"):
        presets.resolve(None, "nope")
    generic = presets.resolve("some-org/some-model")
    assert generic.model == "some-org/some-model" and generic.name == "some-model"
    with pytest.raises(UserError, match="no such directory"):
        presets.model_path(presets.resolve("./missing-dir"))


def test_a_toy_world_model_dir_gets_the_toy_preset(tmp_path):
    """The toy reasoner or a checkpoint trained from it, found by its tokenizer's chat template."""
    from pruneeval.toy.build import CHAT_TEMPLATE

    jinja, in_config, other = (tmp_path / n for n in ("jinja", "in-config", "other"))
    for d in (jinja, in_config, other):
        d.mkdir()
        (d / "config.json").write_text("{}")
    (jinja / "chat_template.jinja").write_text(CHAT_TEMPLATE + "\n")
    (in_config / "tokenizer_config.json").write_text(json.dumps({"chat_template": CHAT_TEMPLATE}))
    (other / "chat_template.jinja").write_text("{{ messages }}")
    for d in (jinja, in_config):
        assert presets.resolve(str(d)) == presets.by_name("toy").override(model=str(d))
    assert presets.resolve(str(other)).name == "other" and presets.resolve(str(tmp_path / "none")).name == "none"


def test_the_toy_preset_sends_the_prompt_the_toy_reasoner_was_trained_with():
    from pruneeval.toy import world

    toy = presets.by_name("toy")
    assert (toy.system_prompt, toy.user_template) == (world.SYSTEM_PROMPT, world.USER_TEMPLATE)


def test_per_method_settings_as_the_official_configs():
    from pruneeval.trainers import TrainConfig

    marco, qwq = presets.by_name("Marco-o1"), presets.by_name("QwQ-32B-Preview")
    o1, sft, dpo = (TrainConfig.from_preset(marco, method=m) for m in ("o1pruner", "sft", "dpo"))
    assert (o1.lr, o1.epochs, o1.max_length, o1.max_grad_norm) == (2e-7, 1.0, 3072, 10.0)
    assert (sft.lr, sft.epochs, dpo.lr, dpo.epochs, dpo.max_length) == (1e-6, 2.0, 5e-8, 1.0, 3072)
    o1, sft, dpo = (TrainConfig.from_preset(qwq, method=m) for m in ("o1pruner", "sft", "dpo"))
    assert (o1.finetune, o1.lr, o1.max_length, o1.max_grad_norm) == ("freeze:48", 2e-6, 4096, 10.0)
    assert (sft.lr, sft.finetune, dpo.finetune, dpo.epochs, dpo.lr) == (5e-6, "freeze:48", "freeze:36", 2.0, 2e-6)
    toy = TrainConfig.from_preset(presets.by_name("toy"), method="sft")  # the toy's numbers: as before
    assert (toy.lr, toy.max_length, toy.max_grad_norm) == (3e-5, TrainConfig.max_length, TrainConfig.max_grad_norm)


def test_a_command_line_value_applies_to_every_method():
    from pruneeval.trainers import TrainConfig

    p = presets.by_name("Marco-o1").override(lr=1e-5)
    assert {TrainConfig.from_preset(p, method=m).lr for m in ("o1pruner", "sft", "dpo")} == {1e-5}
    assert TrainConfig.from_preset(p, method="sft").epochs == 2.0  # what the command line left alone stays


@pytest.mark.parametrize("text, error", [
    ("per_method: 3\n", "key 'per_method' must be a mapping"),
    ("per_method: {grpo: {lr: 1.0}}\n", "per_method: unknown method 'grpo'"),
    ("per_method: {sft: {learning_rate: 1.0}}\n", "per_method.sft: unknown key 'learning_rate'"),
    ("per_method: {sft: [1]}\n", "per_method.sft must be a mapping"),
    ("per_method: {dpo: {lr: fast}}\n", "key 'per_method.dpo.lr' must be float"),
    ("per_method: {dpo: {lr: -1.0}}\n", "key 'per_method.dpo.lr' must be > 0"),
    ("max_grad_norm: 0\n", "key 'max_grad_norm' must be > 0"),
    ("presample_seed: -2\n", "key 'presample_seed' must be >= -1"),
])
def test_bad_per_method_settings_are_refused_in_one_line(tmp_path, text, error):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmodel: y\n" + text)
    with pytest.raises(UserError, match=error) as e:
        presets.resolve(str(bad))
    assert "\n" not in str(e.value)
