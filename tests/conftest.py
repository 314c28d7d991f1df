"""Shared fixtures: the shared benchmark data and a tiny random model saved with save_pretrained."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI sets it: sleeping, not spinning, waits

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PRUNEEVAL_SHARED", REPO.parent / "shared"))
DATA_DIR = Path(os.environ.get("PRUNEEVAL_DATA_DIR", SHARED / "data"))
QWEN2_TOKENIZER = SHARED / "tokenizers" / "qwen2"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA_DIR / "gsm8k" / "test.jsonl").is_file():
        pytest.fail(f"benchmark data not found at {DATA_DIR} (set PRUNEEVAL_DATA_DIR)")
    return DATA_DIR


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A 2-layer random Llama with the real Qwen2 tokenizer; some rows stop early, some hit the limit."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(QWEN2_TOKENIZER)
    eos = tok.convert_tokens_to_ids("<|im_end|>")
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=4096,
                      tie_word_embeddings=False, eos_token_id=eos, pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg)
    with torch.no_grad():  # make the end-of-turn token a frequent, input-dependent choice
        model.lm_head.weight[eos] = torch.randn(cfg.hidden_size) * 0.05
    out = tmp_path_factory.mktemp("tiny-model")
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def toy_model_dir() -> Path:
    """The built toy reasoner (built on first use, about 8 minutes; then reused from $PRUNEEVAL_HOME)."""
    from pruneeval.toy.build import ensure_toy_model

    return ensure_toy_model()
