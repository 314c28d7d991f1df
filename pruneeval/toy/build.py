"""``pruneeval toy build``: the toy reasoner, a tiny Llama trained locally on the toy world.

The tokenizer is word-level with one token per digit (and a leading-space variant of each), built
from generated traces with the ``tokenizers`` library; the model is a standard
``LlamaForCausalLM`` (hidden 96, 3 layers, 4 heads of 32, about 0.3M parameters) trained by the shared trainer
with the ``sft`` method on freshly generated traces.  The result is a plain Hugging Face model
dir under ``$PRUNEEVAL_HOME/toy/<config hash>`` (default home ``~/.cache/pruneeval``), written
atomically: built in a temporary dir, then renamed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import time
import types
from dataclasses import asdict, dataclass
from pathlib import Path

from . import world
from ..options import option

HOME_ENV = "PRUNEEVAL_HOME"
BUILD_VERSION = 3  # bump when the recipe changes in a way ToyConfig does not show
SPECIALS = ["<pad>", "<unk>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]
EOS, PAD, UNK = "<|end|>", "<pad>", "<unk>"
# One token per digit (with or without a leading space), per word, per punctuation mark, per newline.
PIECES = r" ?[0-9]| ?[A-Za-z']+| ?[^\sA-Za-z0-9']|\n"
CHAT_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'system' %}<|system|>{{ m['content'] }}"
    "{% elif m['role'] == 'user' %}<|user|>{{ m['content'] }}"
    "{% else %}<|assistant|>{{ m['content'] }}<|end|>{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}")


@dataclass(frozen=True)
class ToyConfig:
    hidden: int = option(96, "model width")
    layers: int = option(3, "transformer layers")
    heads: int = option(4, "attention heads (even, so that 2 tensor-parallel workers can split them)")
    head_dim: int = option(32, "attention head size (vLLM's CPU attention has kernels for 32, 64, 80, ...)")
    mlp: int = option(192, "MLP width")
    traces: int = option(51_200, "freshly generated training traces (one pass over them)")
    batch: int = option(32, "batch size (per optimizer step)")
    micro_batch: int = option(8, "micro-batch size (the batch is sorted by length and cut into these)")
    lr: float = option(3e-3, "peak learning rate (AdamW, cosine)")
    warmup_ratio: float = option(0.02, "share of steps spent warming up")
    result_weight: float = option(3.0, "loss weight of result digits")
    seed: int = option(0, "seed of the traces and the initial weights")
    threads: int = option(2, "torch CPU threads: fixed, since the weights depend on it (not on load)")

    def key(self) -> str:
        """Cache key: the config, the world's text format and the recipe version."""
        blob = json.dumps([asdict(self), world.FORMAT_VERSION, BUILD_VERSION], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


def home() -> Path:
    """pruneeval's home dir: ``$PRUNEEVAL_HOME`` or ``~/.cache/pruneeval``."""
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".cache" / "pruneeval").expanduser()


def model_dir(config: ToyConfig = ToyConfig()) -> Path:
    return home() / "toy" / config.key()


def ensure_toy_model(config: ToyConfig = ToyConfig()) -> Path:
    """The toy model dir, built the first time it is asked for (a few minutes on a CPU)."""
    path = model_dir(config)
    if (path / "config.json").is_file():
        return path
    print(f"building the toy reasoner into {path} (first use only, about 8 minutes on 2 CPU cores)",
          file=sys.stderr)
    return build(config)


def make_tokenizer(prompt_texts: list[str] = ()):
    """The word-level tokenizer of the toy world, as a ``PreTrainedTokenizerFast`` with its chat template.

    The vocabulary is every piece of a sample of traces (plus ``prompt_texts``, e.g. method
    suffixes) and all 20 digit tokens, sorted: the same pieces give the same ids."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from ..prompts import FAST_SOLVING_SUFFIX

    split = pre_tokenizers.Split(Regex(PIECES), behavior="isolated")
    texts = [t for q, s in world.traces(seed=12345, n=2000) for t in (q, s)]
    texts += [str(d) + " " + str(d) for d in range(10)] + [FAST_SOLVING_SUFFIX, *prompt_texts]
    pieces = sorted({p for t in texts for p, _ in split.pre_tokenize_str(t)})
    vocab = {tok: i for i, tok in enumerate(SPECIALS + [p for p in pieces if p not in SPECIALS])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    tok.pre_tokenizer = split
    tok.decoder = decoders.Fuse()
    tok.add_special_tokens(SPECIALS)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, pad_token=PAD, unk_token=UNK,
                                   chat_template=CHAT_TEMPLATE, clean_up_tokenization_spaces=False,
                                   model_max_length=1024)


def make_model(config: ToyConfig, tokenizer):
    """A randomly initialised tiny ``LlamaForCausalLM`` with tied embeddings."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(config.seed)
    cfg = LlamaConfig(vocab_size=len(tokenizer), hidden_size=config.hidden, intermediate_size=config.mlp,
                      num_hidden_layers=config.layers, num_attention_heads=config.heads,
                      num_key_value_heads=config.heads, head_dim=config.head_dim, max_position_embeddings=1024,
                      tie_word_embeddings=True, bos_token_id=None, eos_token_id=tokenizer.eos_token_id,
                      pad_token_id=tokenizer.pad_token_id)
    model = LlamaForCausalLM(cfg)
    model.generation_config = GenerationConfig(eos_token_id=tokenizer.eos_token_id,
                                               pad_token_id=tokenizer.pad_token_id, do_sample=False)
    return model


def trace_records(config: ToyConfig) -> list:
    """Training records: one generated trace per problem id, prompted with the toy world's prompt."""
    from ..prompts import build_messages
    from ..records import SampleRecord

    out = []
    for i, (q, sol) in enumerate(world.traces(config.seed, config.traces)):
        answer = str(world.parse(q).answer)
        out.append(SampleRecord(f"trace-{i}", 0, "toy_train", build_messages(q, world.SYSTEM_PROMPT,
                                world.USER_TEMPLATE), sol, 0, "stop", 0.0, answer, True, None, answer))
    return out


def build_environment() -> dict:
    """What the trained weights depend on beyond the config: the thread count, the kernels (pinned
    where the processor allows), the library versions and the processor that ran them."""
    import platform

    import tokenizers
    import torch
    import transformers

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        names = [ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                 if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    pinned = {k: os.environ[k] for k in ("OMP_WAIT_POLICY", "MKL_CBWR", "ATEN_CPU_CAPABILITY") if k in os.environ}
    return {"threads": torch.get_num_threads(), "processor": cpu, "pinned": pinned,
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__,
            "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
            "python": platform.python_version()}


def _load_average() -> float | None:
    """The 1-minute load average (runnable processes), a record of how busy the machine was."""
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def _claim_tmp(parent: Path, key: str) -> Path:
    """This process's build dir; a dead build's dir is taken over, so training resumes from its checkpoints."""
    mine = parent / f".tmp-{key}-{os.getpid()}"
    for stale in parent.glob(f".tmp-{key}-*"):
        pid = stale.name.rsplit("-", 1)[1]
        if pid.isdigit() and stale != mine and not _alive(int(pid)):
            os.replace(stale, mine)
            break
    return mine


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pinned_environment(threads: int) -> dict[str, str]:
    """The build process's environment: a fixed thread count; OpenMP threads that sleep while they wait,
    so other work on the machine slows the build instead of stalling it (spinning threads made it 30x
    slower beside one busy process); and, on x86 with AVX2, the same MKL and ATen code path on every
    processor (Intel's and AMD's), so their float results do not depend on which one runs the build."""
    import torch

    env = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "OMP_WAIT_POLICY": "PASSIVE"}
    if torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512"):
        env.update(MKL_CBWR="AVX2", ATEN_CPU_CAPABILITY="avx2")
    return env


def build(config: ToyConfig = ToyConfig(), force: bool = False) -> Path:
    """Build the toy model (tokenizer, random init, SFT on generated traces) into :func:`model_dir`.

    The build runs in a fresh process started with :func:`pinned_environment` (numeric libraries
    read it when they load).  Written atomically (a temporary dir, then a rename); a killed build is
    resumed by the next one."""
    import multiprocessing

    final = model_dir(config)
    if (final / "config.json").is_file() and not force:
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    proc = multiprocessing.get_context("spawn").Process(target=_build_pinned, args=(config, str(final)),
                                                        name="pruneeval-toy-build", daemon=True)
    with _environment(pinned_environment(config.threads)), _no_main_module():
        proc.start()
    try:
        proc.join()
    finally:
        if proc.is_alive():  # interrupted: stop the build too (a rerun resumes it)
            proc.terminate()
            proc.join()
    if proc.exitcode != 0 or not (final / "config.json").is_file():
        raise RuntimeError(f"the toy build failed (exit code {proc.exitcode}); its output is above")
    return final


@contextlib.contextmanager
def _environment(values: dict[str, str]):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _no_main_module():
    """Start a spawned child without re-running the caller's script in it (a spawned child imports the
    parent's ``__main__`` file unless it has none; a script calling :func:`build` needs no main guard)."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def _build_pinned(config: ToyConfig, final: str) -> None:
    import multiprocessing
    import threading

    import torch

    parent = multiprocessing.parent_process()  # a killed caller takes its build with it (a rerun resumes)
    threading.Thread(target=lambda: (parent.join(), os._exit(1)), daemon=True).start()

    torch.set_num_threads(config.threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    _build(config, Path(final), _claim_tmp(Path(final).parent, Path(final).name))


def _build(config: ToyConfig, final: Path, tmp: Path) -> Path:
    import torch

    from ..trainers import TrainConfig, get_method, train

    start, load_before = time.time(), _load_average()
    tokenizer = make_tokenizer()
    if not (tmp / "init" / "config.json").is_file():
        make_model(config, tokenizer).save_pretrained(tmp / "init")
        tokenizer.save_pretrained(tmp / "init")
    tc = TrainConfig(lr=config.lr, epochs=1.0, micro_batch_size=config.micro_batch,
                     grad_accum=config.batch // config.micro_batch, warmup_ratio=config.warmup_ratio,
                     seed=config.seed, max_length=512, save_steps=250, logging_steps=10**9,
                     sort_micro_batches=True)
    trained = train(get_method("sft", keep=1, result_weight=config.result_weight), tmp / "init",
                    trace_records(config), tc, tmp / "train")
    info = {"config": asdict(config), "key": config.key(), "build_seconds": round(time.time() - start, 1),
            "load_average": {"start": load_before, "end": _load_average()},  # busy machine or quiet
            "weights_sha256": hashlib.sha256((trained / "model.safetensors").read_bytes()).hexdigest(),
            "depends_on": build_environment()}
    (trained / "toy_build.json").write_text(json.dumps(info, indent=2) + "\n")
    if final.exists():
        shutil.rmtree(final)
    os.replace(trained, final)
    shutil.rmtree(tmp, ignore_errors=True)
    return final
