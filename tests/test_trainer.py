"""The shared trainer: set-up modes, prompt masking, sft's selection, batching, resume."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from pruneeval.errors import UserError
from pruneeval.records import SampleRecord
from pruneeval.trainers import TrainConfig, train
from pruneeval.trainers.batches import IGNORE, Collator, encode_records, sequence_logprobs
from pruneeval.trainers.model_setup import setup_model
from pruneeval.trainers.reference import attach, rank_share, score
from pruneeval.trainers.sft import SFT, shortest_correct


@pytest.fixture(scope="module")
def tokenizer():
    from pruneeval.toy.build import make_tokenizer

    return make_tokenizer()


def tiny_llama(tokenizer, tied: bool = False, layers: int = 3):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=layers,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256,
                      tie_word_embeddings=tied, eos_token_id=tokenizer.eos_token_id,
                      pad_token_id=tokenizer.pad_token_id)
    return LlamaForCausalLM(cfg)


@pytest.fixture()
def model_dir(tmp_path, tokenizer):
    path = tmp_path / "init"
    tiny_llama(tokenizer).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def record(pid: str, idx: int, output: str, correct: bool = True, n_tokens: int | None = None, **kw) -> SampleRecord:
    return SampleRecord(pid, idx, "toy_train", [{"role": "user", "content": "3 + 4 = ?"}], output,
                        len(output) if n_tokens is None else n_tokens, kw.pop("finish_reason", "stop"), 0.0,
                        "7", correct, None, "7", **kw)


RECORDS = [record(f"p{i}", j, "Step 1: 3 + 4 = 7" + "\nWait, let me verify: 3 + 4 = 7. Correct." * j
                  + "\n\\boxed{7}") for i in range(4) for j in range(3)]

FAST = TrainConfig(lr=1e-2, micro_batch_size=4, warmup_ratio=0.0, scheduler="constant", max_steps=1,
                   save_steps=1000, logging_steps=1000, progress=False)


def params(path_or_model) -> dict[str, torch.Tensor]:
    from transformers import AutoModelForCausalLM

    model = path_or_model if isinstance(path_or_model, torch.nn.Module) \
        else AutoModelForCausalLM.from_pretrained(path_or_model)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def changed(before: dict, after: dict) -> set[str]:
    return {k for k in before if not torch.equal(before[k], after[k])}


# ---------------------------------------------------------------- set-up modes

def test_full_updates_every_parameter(model_dir, tmp_path):
    before = params(model_dir)
    out = train(SFT(), model_dir, RECORDS, FAST, tmp_path / "run")
    assert changed(before, params(out)) == set(before)


def test_freeze_updates_only_the_last_layers_and_the_final_norm(model_dir, tmp_path):
    before = params(model_dir)
    out = train(SFT(), model_dir, RECORDS, dataclasses.replace(FAST, finetune="freeze:2"), tmp_path / "run")
    expected = {k for k in before if k.startswith(("model.layers.1.", "model.layers.2.")) or k == "model.norm.weight"}
    assert changed(before, params(out)) == expected


def test_freeze_keeps_a_tied_head_frozen(tokenizer):
    model = setup_model(tiny_llama(tokenizer, tied=True), "freeze:1")
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {n for n, _ in model.named_parameters()
                         if n.startswith("model.layers.2.") or n == "model.norm.weight"}


def test_lora_trains_adapters_and_saves_adapter_and_merged_model(model_dir, tmp_path):
    before = params(model_dir)
    out = train(SFT(), model_dir, RECORDS, dataclasses.replace(FAST, finetune="lora:4"), tmp_path / "run")
    linear = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    assert changed(before, params(out)) == {k for k in before if any(f".{m}." in k for m in linear)}
    adapter = tmp_path / "run" / "adapter"
    assert (adapter / "adapter_config.json").is_file() and (adapter / "adapter_model.safetensors").is_file()


def test_setup_model_rejects_bad_modes(tokenizer):
    for mode in ("half", "freeze:x", "freeze:9", "lora:", "lora:0"):
        with pytest.raises(UserError):
            setup_model(tiny_llama(tokenizer), mode)


# ---------------------------------------------------------------- examples, masking, loss

def test_encode_masks_the_prompt_and_appends_end_of_turn(tokenizer):
    messages = [{"role": "user", "content": "3 + 4 = ?"}]
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    n_prompt = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    ex, cut, exact = encode_records(tokenizer, [
        record("p", 0, "\\boxed{7}"), record("p", 1, "\\boxed{7}", finish_reason="length"),
        record("p", 2, "ignored", token_ids=[40, 41])])  # exact token ids win over the text
    assert ex["labels"][:n_prompt] == [IGNORE] * n_prompt
    assert ex["labels"][n_prompt:] == ex["input_ids"][n_prompt:]
    assert ex["input_ids"][-1] == tokenizer.eos_token_id
    assert tokenizer.decode(ex["input_ids"]) == "<|user|>3 + 4 = ?<|assistant|>\\boxed{7}<|end|>"
    assert cut["input_ids"][-1] != tokenizer.eos_token_id  # cut at max tokens: no end of turn to learn
    assert exact["input_ids"][n_prompt:] == [40, 41, tokenizer.eos_token_id]


def test_truncated_records_get_no_end_of_turn(tokenizer):
    sft = SFT()
    [ex] = sft.build([record("p", 0, "Step 1: 3 + 4", finish_reason="length")], tokenizer, TrainConfig())
    assert ex["input_ids"][-1] != tokenizer.eos_token_id


def test_prompt_tokens_are_out_of_the_loss(tokenizer):
    model = tiny_llama(tokenizer)
    examples = SFT().build(RECORDS[:3], tokenizer, TrainConfig())
    batch = Collator(tokenizer.pad_token_id)(examples)
    loss = SFT().loss(model, batch)
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    ce = torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), batch["labels"][:, 1:].flatten(),
                                           ignore_index=IGNORE)
    assert torch.allclose(loss, ce, atol=1e-5)
    # the prompt's tokens carry no gradient: changing them under a causal mask moves nothing
    logp = sequence_logprobs(model, batch)
    assert (logp[batch["labels"] == IGNORE] == 0).all() and (logp[batch["labels"] != IGNORE] < 0).all()


def test_result_weight_marks_result_digits(tokenizer):
    [ex] = SFT(result_weight=3.0).build([record("p", 0, "Step 1: 13 + 4 = 17, now 17 - 2\n\\boxed{15}")],
                                         tokenizer, TrainConfig())
    hot = [tokenizer.convert_ids_to_tokens(t) for t, w in zip(ex["input_ids"], ex["weights"]) if w == 3.0]
    assert hot == [" 1", "7", "1", "5"]
    assert all(w == 0.0 for w, lab in zip(ex["weights"], ex["labels"]) if lab == IGNORE)


def test_sft_keeps_the_two_shortest_correct_samples_per_problem(tokenizer):
    recs = [record("a", 0, "x", n_tokens=30), record("a", 1, "x", n_tokens=10, correct=False),
            record("a", 2, "x", n_tokens=20), record("a", 3, "x", n_tokens=25), record("a", 4, "x", n_tokens=20),
            record("b", 0, "x", n_tokens=5, correct=False), record("c", 0, "x", n_tokens=9)]
    assert [r.key for r in shortest_correct(recs, 2)] == [("a", 2), ("a", 4), ("c", 0)]
    assert len(SFT().build(recs, tokenizer, TrainConfig())) == 3


def test_a_presample_directory_is_read_only_with_the_statistics_it_was_written_with(tmp_path):
    """stats.json (L_ref, A_ref, k per problem) must be what the samples give: samples cut short or
    edited after presampling are refused, naming the problem."""
    import json

    from pruneeval.presample import load_presample
    from pruneeval.records import RecordStore, reference_stats, write_json_atomic

    write_json_atomic(tmp_path / "manifest.json", {"sampling": {"n": 3}})
    write_json_atomic(tmp_path / "stats.json", reference_stats(RECORDS))
    samples = tmp_path / "samples.jsonl"
    RecordStore(samples).append(RECORDS)
    assert load_presample(tmp_path) == RECORDS
    clean = samples.read_bytes().splitlines(keepends=True)
    flipped = json.loads(clean[4]) | {"correct": False, "extracted": None, "reason": "mismatch"}
    for lines in (clean[:-1], [*clean[:4], json.dumps(flipped).encode() + b"\n", *clean[5:]]):
        samples.write_bytes(b"".join(lines))
        with pytest.raises(UserError, match="stats.json: p[13]: .* written, but samples.jsonl gives .*presample again"):
            load_presample(tmp_path)


def test_collator_pads_every_kind_of_field():
    batch = Collator(pad_token_id=0)([
        {"input_ids": [5, 6, 7], "labels": [IGNORE, 6, 7], "weights": [0.0, 1.0, 2.0], "reward": 1.5},
        {"input_ids": [5], "labels": [IGNORE], "weights": [0.0], "reward": -0.5}])
    assert batch["input_ids"].tolist() == [[5, 6, 7], [5, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [[IGNORE, 6, 7], [IGNORE, IGNORE, IGNORE]]
    assert batch["weights"].dtype == torch.float32 and batch["weights"].tolist()[1] == [0.0, 0.0, 0.0]
    assert batch["reward"].tolist() == [1.5, -0.5]


def test_reference_logprobs_are_attached_per_sequence(tokenizer):
    model = tiny_llama(tokenizer)
    examples = SFT().build(RECORDS[:3], tokenizer, TrainConfig())
    pairs = [{"chosen_input_ids": e["input_ids"], "chosen_labels": e["labels"],
              "rejected_input_ids": e["input_ids"][:-2], "rejected_labels": e["labels"][:-2]} for e in examples]
    collate = Collator(tokenizer.pad_token_id)
    attach(pairs, score(model, pairs, collate, batch_size=2))
    batch = collate(pairs)
    for p in ("chosen_", "rejected_"):
        assert torch.allclose(batch[p + "ref_logprobs"], sequence_logprobs(model, batch, p).detach(), atol=1e-5)


# ---------------------------------------------------------------- the loop

def test_gradient_accumulation_matches_a_big_batch(model_dir, tmp_path):
    same_length = [r for r in RECORDS if r.sample_idx == 1]  # 4 examples of equal length
    sgd = dataclasses.replace(FAST, optim="sgd", lr=1.0, max_grad_norm=0.0)  # the update is the gradient
    big = train(SFT(), model_dir, same_length, dataclasses.replace(sgd, micro_batch_size=4), tmp_path / "a")
    acc = train(SFT(), model_dir, same_length, dataclasses.replace(sgd, micro_batch_size=1, grad_accum=4),
                tmp_path / "b")
    assert changed(params(model_dir), params(big))
    a, b = params(big), params(acc)
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


class Crash(SFT):
    """sft that dies on its third batch: a run killed mid-way."""

    calls = 0

    def loss(self, model, batch):
        Crash.calls += 1
        if Crash.calls == 3:
            raise KeyboardInterrupt
        return super().loss(model, batch)


@pytest.mark.parametrize("tied", [False, True])
def test_a_resumed_run_equals_an_uninterrupted_one(tokenizer, tmp_path, tied):
    model_dir = tmp_path / "init"
    tiny_llama(tokenizer, tied=tied).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    cfg = dataclasses.replace(FAST, micro_batch_size=2, max_steps=4, save_steps=2, scheduler="cosine",
                              warmup_ratio=0.25)
    whole = train(SFT(), model_dir, RECORDS, cfg, tmp_path / "whole")
    Crash.calls = 0
    with pytest.raises(KeyboardInterrupt):
        train(Crash(), model_dir, RECORDS, cfg, tmp_path / "killed")
    assert (tmp_path / "killed" / "checkpoints" / "checkpoint-2").is_dir()
    resumed = train(SFT(), model_dir, RECORDS, cfg, tmp_path / "killed")
    a, b = params(whole), params(resumed)
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    assert not (tmp_path / "killed" / "checkpoints").exists()
    assert train(SFT(), model_dir, [], cfg, tmp_path / "killed") == resumed  # complete: skipped


def test_output_dir_loads_with_its_tokenizer_and_chat_template(model_dir, tmp_path):
    from transformers import AutoTokenizer

    out = train(SFT(), model_dir, RECORDS, FAST, tmp_path / "run")
    tok = AutoTokenizer.from_pretrained(out)
    assert tok.apply_chat_template([{"role": "user", "content": "1 + 1 = ?"}], add_generation_prompt=True,
                                   tokenize=False) == "<|user|>1 + 1 = ?<|assistant|>"


def test_train_config_from_preset():
    from pruneeval import presets

    p = presets.resolve("QwQ-32B-Preview")
    cfg = TrainConfig.from_preset(p, num_processes=8)
    assert cfg.micro_batch_size * cfg.grad_accum * 8 == p.batch_size and cfg.finetune == p.finetune
    assert (cfg.launcher, cfg.num_processes) == ("deepspeed-zero3", 8)
    every_gpu = TrainConfig.from_preset(p)  # num_processes 0: one per visible GPU (1 here)
    assert every_gpu.num_processes == max(1, torch.cuda.device_count()) and every_gpu.launcher == "deepspeed-zero3"
    toy = presets.resolve("toy")
    assert (TrainConfig.from_preset(toy).launcher, TrainConfig.from_preset(toy).num_processes) == ("", 1)
    two = TrainConfig.from_preset(toy, num_processes=2)  # more than one process: ddp unless told
    assert (two.launcher, two.grad_accum * 2) == ("ddp", TrainConfig.from_preset(toy).grad_accum)
    with pytest.raises(UserError, match="launcher 'mpi'"):
        TrainConfig(launcher="mpi")


def test_reference_shares_cover_every_example_with_equal_batches():
    for n in range(0, 12):
        for world in (1, 2, 3, 8):
            shares = [rank_share(n, r, world) for r in range(world)]
            assert len({len(s) for s in shares}) == 1  # the sharded forward is collective: the same batches
            assert sorted({i for s in shares for i in s}) == list(range(n))  # each example scored
            assert all(i < max(n, 1) for s in shares for i in s)


def test_sorted_batches_are_random_batches_cut_by_length():
    from pruneeval.trainers.batches import SortedBatchSampler

    lengths = [(i * 37) % 101 for i in range(100)]
    order = list(SortedBatchSampler(lengths, batch=32, seed=1))
    assert sorted(order) == list(range(100)) and order == list(SortedBatchSampler(lengths, batch=32, seed=1))
    g = torch.Generator().manual_seed(1)
    plain = torch.randperm(100, generator=g).tolist()
    for start in range(0, 100, 32):
        chunk = order[start:start + 32]
        assert set(chunk) == set(plain[start:start + 32])
        assert [lengths[i] for i in chunk] == sorted((lengths[i] for i in chunk), reverse=True)
