"""Output directories: checked before any work, held by one writer at a time, named safely.

``check_out_dir`` turns every path problem (a file where a directory goes, no write permission, a
store file that is a symlink or a directory) into one line before the model loads; ``out_lock``
keeps a second run out of a directory another run is writing; ``path_part`` makes a preset or
model name safe to use inside a path."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from pathlib import Path
from typing import Iterable, Iterator

from .errors import UserError

STORE_FILES = ("manifest.json", "samples.jsonl", "summary.json", "stats.json")  # of one task or presample dir
LOCK_NAME = ".pruneeval.lock"  # holds the writer's pid; the lock itself is flock(2), gone with its process


def path_part(name: str, limit: int = 80) -> str:
    """``name`` as one path component: letters, digits, ``._-`` only, no leading dot (so never ``..``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:limit].strip("-.") or "model"


def _nearest_existing(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not os.path.lexists(path):
        path = path.parent
    return path


def check_store_file(path: Path) -> None:
    """A file pruneeval writes is a regular file or absent: never a symlink (writes would land
    wherever it points), a directory or a device."""
    if path.is_symlink():
        raise UserError(f"{path}: is a symbolic link; pruneeval writes only its own regular files (remove the link)")
    if path.exists() and not path.is_file():
        raise UserError(f"{path}: not a regular file")


def check_out_dir(path: Path, flag: str = "--out", files: Iterable[str] = ()) -> None:
    """One line when ``path`` cannot be written as an output directory, or one of ``files``
    (relative to it) cannot be written as a store file."""
    path = Path(path)
    if os.path.lexists(path):
        if not path.is_dir():
            raise UserError(f"{flag} {path}: not a directory")
        if not os.access(path, os.W_OK | os.X_OK):
            raise UserError(f"{flag} {path}: not writable")
    else:
        parent = _nearest_existing(path)
        if not parent.is_dir():
            raise UserError(f"{flag} {path}: {parent} is not a directory")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise UserError(f"{flag} {path}: cannot create it ({parent} is not writable)")
    for name in files:
        for folder in reversed(Path(name).parents[:-1]):
            if os.path.lexists(path / folder) and not (path / folder).is_dir():
                raise UserError(f"{path / folder}: not a directory")
        check_store_file(path / name)


def check_out_file(path: Path, flag: str = "--out") -> None:
    """One line when the file ``path`` cannot be written: no such directory, not writable, or a
    directory or symlink in its place."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UserError(f"{flag} {path}: no such directory {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"{flag} {path}: {parent} is not writable")
    check_store_file(path)


@contextlib.contextmanager
def out_lock(path: Path) -> Iterator[None]:
    """Hold the advisory lock of output directory ``path`` (created) for the block.  A directory
    another live process holds is refused in one line naming its pid; a lock file left by a dead
    process is simply taken over (flock locks die with their process)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    lock = path / LOCK_NAME
    check_store_file(lock)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise UserError(f"{path}: in use by another pruneeval run (pid {holder}); "
                            "wait for it to finish or use another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
