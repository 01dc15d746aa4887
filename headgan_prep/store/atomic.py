"""Write outputs under a temporary sibling name and rename them into place when complete.

A job killed half-way leaves at most a hidden ``.{name}.tmp-{pid}`` sibling, never something that
looks like a finished output; the next run of the same job removes such leftovers.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path


def temporary_sibling(path: Path) -> Path:
    """Hidden temporary path next to ``path``: ``.{name}.tmp-{pid}``."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def remove_stale_temporaries(path: Path) -> None:
    """Remove ``.{name}.tmp-*`` leftovers of earlier, interrupted writes of ``path``."""
    path = Path(path)
    for leftover in path.parent.glob(f".{path.name}.tmp-*"):
        _remove(leftover)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


@contextlib.contextmanager
def atomic_directory(path: Path) -> Iterator[Path]:
    """Context manager yielding a temporary directory that becomes ``path`` on success.

    On normal exit any existing ``path`` is removed and the temporary directory renamed to it; on
    an exception the temporary directory is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = temporary_sibling(path)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        _remove(tmp)
        raise
    _remove(path)
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_file(path: Path, mode: str = "w", **open_kwargs) -> Iterator:
    """Context manager yielding an open file that replaces ``path`` when closed without error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = temporary_sibling(path)
    try:
        with open(tmp, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        _remove(tmp)
        raise
    os.replace(tmp, path)
