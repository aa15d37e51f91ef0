"""Atomic writes: a crash or a full disk mid-write leaves the previous file intact.

The new content goes to a temporary file beside the target, which is flushed to
the disk and then put in the target's place, and the folder is flushed so that
the new name survives a power cut too. A new file gets the permissions any
program's new file gets (``0o666`` less the umask); a replaced file keeps its
permissions. Without ``overwrite``, a file that appears at the target while the
new one is being written is never replaced.

A temporary is named ``.<target>.napari-roimasks-<pid>-<token><suffix>``; the
next write of the same target removes those a killed process left.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "LEFTOVER_MARK",
    "atomic_path",
    "process_is_running",
    "write_atomically",
    "write_csv_atomically",
]

#: What names this project's temporaries (files and folders) beside a target.
LEFTOVER_MARK = "napari-roimasks"

# errors of os.link on file systems without hard links (FAT, exFAT, some network and
# FUSE file systems): publishing falls back to claiming the name with O_EXCL
_NO_HARD_LINKS = frozenset(
    {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.ENOSYS, errno.EMLINK}
)


@contextmanager
def atomic_path(path, *, overwrite: bool = False) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to (for writers that want a file name).

    It keeps ``path``'s suffix (some writers pick the format from it). When the
    block ends without error, the file written there (and closed by its writer)
    is flushed to the disk and put in ``path``'s place; otherwise it is removed.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    overwrite : bool, optional
        Replace ``path`` if it exists (keeping its permissions). If False, a
        file at ``path`` is never replaced, even one that appears while the
        block runs.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False: before the block runs,
        or at its end when a file appeared there meanwhile (the new content is
        then discarded).
    """
    path = Path(os.fspath(path))
    if path.exists() and not overwrite:
        raise FileExistsError(_exists_message(path))
    _remove_stale_temporaries(path)
    temporary = _create_beside(path)
    try:
        yield temporary
        if overwrite and path.exists():
            os.chmod(temporary, stat.S_IMODE(os.stat(path).st_mode))
        _flush_to_disk(temporary)
        if overwrite:
            os.replace(temporary, path)
        else:
            _publish_without_replacing(temporary, path)
        _flush_folder(path.parent)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_atomically(path, write: Callable[[BinaryIO], None], *, overwrite: bool = False) -> Path:
    """Call ``write`` on a temporary file beside ``path``, then put it in ``path``'s place.

    See :func:`atomic_path` for what happens to permissions and to a file that
    appears at ``path`` meanwhile.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    """
    with atomic_path(path, overwrite=overwrite) as temporary, open(temporary, "wb") as f:
        write(f)
    return Path(os.fspath(path))


def write_csv_atomically(path, rows, *, overwrite: bool = False) -> Path:
    """Write ``rows`` (lists of text, header first) as a UTF-8 CSV file, atomically (see
    :func:`write_atomically`, which raises FileExistsError the same way)."""
    import csv
    import io

    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    data = text.getvalue().encode("utf-8")
    return write_atomically(path, lambda f: f.write(data), overwrite=overwrite)


def _exists_message(path: Path) -> str:
    return f"{path} exists; pass overwrite=True (or --overwrite) to replace it"


def _create_beside(path: Path) -> Path:
    """An empty new file beside ``path``, created with mode 0o666 so that the umask applies.

    ``tempfile.mkstemp`` would create it readable by its owner only.
    """
    for _ in range(100):
        token = f"{LEFTOVER_MARK}-{os.getpid()}-{secrets.token_hex(4)}"
        temporary = path.with_name(f".{path.name}.{token}{path.suffix}")
        try:
            os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return temporary
    raise FileExistsError(f"{path.parent}: no free temporary name beside {path.name}")


def _remove_stale_temporaries(path: Path) -> None:
    """Remove the temporaries of ``path`` that processes no longer running left (a kill)."""
    prefix = f".{path.name}.{LEFTOVER_MARK}-"
    try:
        siblings = [p for p in path.parent.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return
    for sibling in siblings:
        pid = sibling.name[len(prefix) :].split("-", 1)[0]
        if pid.isdigit() and not process_is_running(int(pid)) and sibling.is_file():
            sibling.unlink(missing_ok=True)


def process_is_running(pid: int) -> bool:
    """Whether a process with this id runs (on this machine); this one always does."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's
        return True
    return True


def _flush_to_disk(path: Path) -> None:
    # opened again by name: the writer (h5py, pynwb) wrote and closed the file itself
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _flush_folder(folder: Path) -> None:
    """Make the folder's new entry durable; a no-op where folders cannot be opened (Windows)."""
    if os.name != "posix":
        return
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    except OSError as error:
        if error.errno != errno.EINVAL:  # EINVAL: this file system does not sync folders
            raise
    finally:
        os.close(handle)


def _publish_without_replacing(temporary: Path, path: Path) -> None:
    """Put ``temporary`` at ``path`` unless a file is there: the check and the move are one step.

    A hard link fails if ``path`` exists, whoever created it and when. Where
    the file system has no hard links, the name is claimed with an empty file
    created with O_EXCL (which also fails if ``path`` exists) and then replaced
    by the new file; a crash between the two leaves that empty file at ``path``.
    """
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise FileExistsError(_exists_message(path)) from None
    except OSError as error:
        if error.errno not in _NO_HARD_LINKS:
            raise
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            raise FileExistsError(_exists_message(path)) from None
        os.replace(temporary, path)
        return
    temporary.unlink()
