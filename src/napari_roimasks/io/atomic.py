"""Atomic writes: a crash or a full disk mid-write leaves the previous file intact."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["write_atomically"]


def write_atomically(path, write: Callable[[BinaryIO], None], *, overwrite: bool = False) -> Path:
    """Call ``write`` on a temporary file beside ``path``, then rename it into place.

    The temporary file keeps ``path``'s suffix (some writers pick the format
    from it) and is removed if ``write`` fails.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    """
    path = Path(os.fspath(path))
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (or --overwrite) to replace it")
    handle, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix
    )
    try:
        with os.fdopen(handle, "wb") as f:
            write(f)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
