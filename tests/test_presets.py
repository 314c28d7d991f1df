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
