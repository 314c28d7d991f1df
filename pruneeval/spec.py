"""Run specs: a preset plus the command's options -> everything that decides a sampled number.

Every command (eval, presample, sweep, run) builds its prompt, sampling, engine and chunk size
here, and nowhere else, so the same preset always samples the same way.  ``RunSpec.manifest``
holds what the evaluation and presample manifests record of it; a resume with another chunk or
batch size is refused naming the field (:func:`pruneeval.evaluate.check_manifest`).

Greedy runs are refused too: greedy decoding makes the seeds irrelevant, not the batches.  The hf
engine pads each batch to its longest prompt, and in bf16 on a GPU another padding can flip a
near-tie argmax (fp32 on a CPU happens to be batch-invariant); the chunk decides which prompts
share a batch.  A manifest holds one value per setting, true of every sample it describes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .engines.base import SEED_STRIDE, Sampling
from .errors import UserError
from .prompts import build_messages

# How a sample's seed follows from --seed (a change here changes every sampled number: recorded).
SEED_RULE = (f"chunk c: seed + c; hf: + batch index within the chunk; vllm, openai: request seed "
             f"(seed + c) * {SEED_STRIDE} + prompt index within the chunk * n (openai: + sample index)")
EVAL_CHUNK_BATCHES = 4  # an evaluation chunk is this many generation batches
ENGINE_FLAGS = {"base_url": "--base-url", "tensor_parallel_size": "--tensor-parallel-size",
                "concurrency": "--concurrency", "connect_timeout_s": "--connect-timeout",
                "read_timeout_s": "--read-timeout", "deadline_s": "--request-deadline"}
ENGINE_TAKES = {"vllm": {"tensor_parallel_size"},
                "openai": {"base_url", "concurrency", "connect_timeout_s", "read_timeout_s", "deadline_s"}}


@dataclass(frozen=True)
class PromptSpec:
    system_prompt: str
    user_template: str
    suffix: str = ""  # method suffix, e.g. the fast-solving prompt

    def messages(self, question: str) -> list[dict]:
        return build_messages(question, self.system_prompt, self.user_template, self.suffix)


@dataclass(frozen=True)
class EngineSpec:
    """Which engine generates, and its settings (``options``: the engine-specific ones)."""

    name: str = "hf"
    batch_size: int = 8  # prompts per generation batch (vllm, openai: per call)
    revision: str = ""
    trust_remote_code: bool = False
    options: tuple[tuple[str, object], ...] = ()

    def build(self, model_path: str):
        """The engine for the model directory or hub id ``model_path``."""
        from .engines import make_engine

        return make_engine(self.name, model_path, batch_size=self.batch_size, revision=self.revision or None,
                           trust_remote_code=self.trust_remote_code, **dict(self.options))


@dataclass(frozen=True)
class RunSpec:
    """How one evaluation or presample generates: prompt, sampling, engine, chunk, seed rule."""

    prompt: PromptSpec
    sampling: Sampling
    engine: EngineSpec = field(default_factory=EngineSpec)
    chunk: int = 64  # problems per stored chunk; chunk c samples with seed + c
    seed_rule: str = SEED_RULE

    def manifest(self, batch_size: int | None) -> dict:
        """The manifest entries of this spec; ``batch_size`` is the generating engine's own."""
        return {"prompt": asdict(self.prompt), "sampling": asdict(self.sampling), "chunk": self.chunk,
                "batch_size": batch_size, "seed_rule": self.seed_rule}


def engine_options(engine: str, **given) -> dict:
    """The engine-specific options given on the command line (``ENGINE_FLAGS`` keys, None when not
    given); one that ``engine`` does not take is an error."""
    from .engines import engine_target
    from .engines.openai import server_url

    engine_target(engine)
    takes = ENGINE_TAKES.get(engine, set())
    wrong = [ENGINE_FLAGS[k] for k, v in given.items() if v is not None and k not in takes]
    if wrong:
        raise UserError(f"{', '.join(wrong)}: not an option of --engine {engine}")
    if engine == "openai":
        server_url(given.get("base_url"))
    return {k: v for k, v in given.items() if v is not None}


def engine_spec(preset, engine: str = "hf", *, trust_remote_code: bool = False, options: dict | None = None,
                checked: bool = False) -> EngineSpec:
    """The engine of ``preset`` (its revision and ``batch_gen``); ``options`` are checked against
    ``engine`` first unless ``checked``."""
    options = options or {}
    given = options if checked else engine_options(engine, **options)
    return EngineSpec(engine, preset.batch_gen, preset.revision, trust_remote_code, tuple(given.items()))


def eval_spec(preset, engine: EngineSpec, *, suffix: str = "", n: int = 1, max_tokens: int | None = None,
              seed: int = 0) -> RunSpec:
    """An evaluation of ``preset`` (its prompt, eval temperature and top-p, max tokens), chunks of
    ``EVAL_CHUNK_BATCHES`` generation batches; ``max_tokens`` overrides the preset's (sweep cuts)."""
    sampling = Sampling(n=n, temperature=preset.eval_temperature, top_p=preset.eval_top_p,
                        max_tokens=max_tokens or preset.max_tokens, seed=seed)
    return RunSpec(PromptSpec(preset.system_prompt, preset.user_template, suffix), sampling, engine,
                   chunk=max(engine.batch_size, 1) * EVAL_CHUNK_BATCHES)


def presample_spec(preset, engine: EngineSpec, *, seed: int = 0) -> RunSpec:
    """K samples per training problem at the preset's presample temperature and top-p; a chunk is
    half a generation batch of problems (each with K samples)."""
    sampling = Sampling(n=preset.k, temperature=preset.presample_temperature, top_p=preset.presample_top_p,
                        max_tokens=preset.max_tokens, seed=seed)
    return RunSpec(PromptSpec(preset.system_prompt, preset.user_template), sampling, engine,
                   chunk=max(1, engine.batch_size // 2))
