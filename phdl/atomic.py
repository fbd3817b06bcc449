"""Atomic file writes: a file is written under a temporary name beside its target, then renamed.

A reader therefore sees either the old file or the complete new one, never a half-written file
that looks complete (an interrupted write leaves nothing behind).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it to ``path``.

    The temporary name is ``.<name>.<pid>.tmp`` in the target's folder (same file system, so the
    rename is atomic). If the block raises, the temporary file is removed and ``path`` is left
    as it was.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
