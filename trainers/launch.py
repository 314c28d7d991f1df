"""Training on several processes, launched from Python: ``--num-processes N --launcher ...``.

The calling process writes ``OUT/launch.json`` (the method and its options, the starting model,
the presample directory, the :class:`TrainConfig`) and starts N copies of
``python -m pruneeval.trainers.worker OUT/launch.json`` through torch's elastic launcher (the API
behind torchrun; no shell).  Each copy runs :func:`.base.train`, whose transformers Trainer
distributes as ``TrainConfig.launcher`` says:
  ddp              data parallel: a whole model per process
  fsdp             PyTorch FSDP2: parameters, gradients and optimizer state sharded per layer
  deepspeed-zero3  DeepSpeed ZeRO-3 (``zero3.json``; its "auto" values come from TrainConfig)
One process per GPU over NCCL; on CPUs over gloo.  A killed launch resumes like one process: the
next launch starts from the last complete checkpoint in ``OUT/checkpoints``."""

from __future__ import annotations

import dataclasses
import os
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path

from pruneeval.errors import UserError

from .base import train
from .config import TrainConfig
from .method import Method

SPEC_FILE = "launch.json"


def train_launched(method: Method, model_path: str | os.PathLike, presample_dir: str | os.PathLike,
                   config: TrainConfig, out_dir: str | os.PathLike) -> Path:
    """:func:`.base.train` on ``config.num_processes`` processes as ``config.launcher`` says (in this
    process when the launcher is empty); returns ``out_dir/model``."""
    from pruneeval.presample import load_presample
    from pruneeval.records import write_json_atomic

    out = Path(out_dir)
    final = out / "model"
    if (final / "config.json").is_file():
        return final
    if not config.launcher:
        return train(method, model_path, load_presample(Path(presample_dir)), config, out)
    out.mkdir(parents=True, exist_ok=True)
    options = dataclasses.asdict(method.config) if dataclasses.is_dataclass(method.config) else {}
    write_json_atomic(out / SPEC_FILE, {"method": method.name, "options": options, "model": str(model_path),
                                        "presample": str(Path(presample_dir).resolve()),
                                        "config": dataclasses.asdict(config)})
    _launch(config, out / SPEC_FILE)
    if not (final / "config.json").is_file():
        raise UserError(f"{out}: the training processes ended without writing {final}")
    return final


def _launch(config: TrainConfig, spec: Path) -> None:
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    n = config.num_processes
    launch = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=n, run_id=f"pruneeval-{uuid.uuid4().hex[:8]}",
                          rdzv_backend="c10d", rdzv_endpoint="127.0.0.1:0", max_restarts=0, monitor_interval=0.5)
    try:
        with _worker_environment(n):
            elastic_launch(launch, entrypoint=sys.executable)("-m", "pruneeval.trainers.worker", str(spec))
    except ChildFailedError as e:
        rank, failure = e.get_first_failure()
        raise UserError(f"training with {config.launcher} on {n} processes failed: process {rank} exited with "
                        f"code {failure.exitcode} (its error is printed above)") from None


@contextmanager
def _worker_environment(processes: int):
    """The environment the processes inherit: on CPUs, the cores split between them (as torchrun
    does), unless OMP_NUM_THREADS is set."""
    import torch

    saved = dict(os.environ)
    if not torch.cuda.is_available():
        os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // processes)))
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
