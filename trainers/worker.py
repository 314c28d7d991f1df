"""One training process of a launch (:mod:`.launch`): ``python -m pruneeval.trainers.worker OUT/launch.json``."""

from __future__ import annotations

import sys
from pathlib import Path


def die_with_parent() -> None:
    """End this process when the launching process dies (Linux), as a killed run must not leave
    training processes behind that write into the output directory while the run is resumed."""
    import ctypes
    import os
    import signal

    if sys.platform.startswith("linux"):
        parent = os.getppid()
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # it died before the call
            os._exit(1)


def leave_process_group() -> None:
    """Wait for every process, then tear the process group down before exiting: a process left
    holding it while the first one (the rendezvous store's host) exits can abort in gloo's
    threads at exit ("terminate called without an active exception"), failing a finished run."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def main(argv: list[str]) -> int:
    import warnings

    # torch's deprecation notice for the collectives DeepSpeed calls, printed at every step by every process
    warnings.filterwarnings("ignore", category=FutureWarning, module="torch.distributed")
    from pruneeval.errors import UserError, first_line
    from pruneeval.presample import load_presample
    from pruneeval.records import read_json_object

    from . import TrainConfig, get_method
    from .base import train

    try:
        spec_path = Path(argv[0])
        spec = read_json_object(spec_path)
        method = get_method(spec["method"], **spec["options"])
        train(method, spec["model"], load_presample(Path(spec["presample"])), TrainConfig(**spec["config"]),
              spec_path.parent)
        leave_process_group()
    except UserError as e:
        print(f"error: {first_line(e)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    die_with_parent()
    sys.exit(main(sys.argv[1:]))
