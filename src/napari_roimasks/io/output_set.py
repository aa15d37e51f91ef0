"""A folder of outputs replaced as a set: a reader sees the old complete set or the new one.

An extraction writes several files that belong together (``roi_traces.h5``,
``neuropil_traces.h5``, ``neuropil_masks.json``, ``exclusions.json``, ...).
:class:`OutputSet` writes them into a staging folder beside the output
folder, then swaps the two folders in one step (Linux's
``renameat2(RENAME_EXCHANGE)``), and removes the old set. Other files already
in the output folder come along (hard-linked, else copied) so nothing of the
user's goes; an output folder holding sub-folders is refused, as the swap
would have to move them.

What an interruption leaves:

- before the swap (a kill, Ctrl-C, a full disk): the old set, untouched, and a
  staging folder (``.<folder>.napari-roimasks-<pid>-<token>.partial``), which
  Ctrl-C and SIGTERM remove at once and the next run removes after a kill;
- after the swap: the new set, and the old one in the staging folder, removed
  as above.

Where the exchange is not available (not Linux, or a file system without
it), the old folder is first renamed to ``...old`` and the new one put in its
place; a kill between the two renames leaves no output folder and the old set
in ``...old``, which the next run puts back before it starts.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import secrets
import shutil
import signal
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

from .atomic import LEFTOVER_MARK, process_is_running

__all__ = ["OutputSet", "OutputSetError", "clean_up_after_interrupted_runs"]

_MARK = LEFTOVER_MARK
_LEFTOVER = re.compile(rf"^\.(?P<name>.+)\.{_MARK}-(?P<pid>\d+)-[0-9a-f]+\.(?P<kind>partial|old)$")
_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


class OutputSetError(OSError):
    """The output folder cannot take a new set; the message names it and says why."""


class OutputSet:
    """Write a set of files into ``folder``, all or none.

    Use as a context manager: write each file at :meth:`path`, and when the
    block ends without error the set replaces the folder's; on an error (or
    Ctrl-C) nothing of it stays and the old set is untouched.

    Parameters
    ----------
    folder : str or os.PathLike
        The output folder (made when missing).
    names : iterable of str
        The files of the set.
    overwrite : bool
        Replace files of the set that are there already.
    replaces : iterable of str, optional
        Files of an earlier set that this one leaves out and that go with it (what was
        computed from the earlier set's data, e.g. its metrics); like ``names``, they are
        replaced only with ``overwrite``.

    Raises
    ------
    FileExistsError
        Without ``overwrite``, when files of the set are there already.
    OutputSetError
        When the folder is a file, holds sub-folders, or cannot be written beside.
    """

    def __init__(
        self, folder, names: Iterable[str], *, overwrite: bool = False, replaces: Iterable[str] = ()
    ):
        self.folder = Path(os.fspath(folder)).absolute()
        self.names = tuple(names)
        self.replaces = tuple(n for n in replaces if n not in self.names)
        self.overwrite = overwrite
        self._staging: Path | None = None

    # -- checks, before any work ---------------------------------------------------------------
    def check(self, size: int = 0) -> None:
        """Refuse now what would fail at the end (see the class's Raises); leaves nothing behind.

        Parameters
        ----------
        size : int
            About how many bytes the set will take: refused when the disk has less free.
        """
        folder = self.folder
        clean_up_after_interrupted_runs(folder)
        if folder.exists() and not folder.is_dir():
            raise OutputSetError(f"{folder}: the output must be a folder, and this is a file")
        if folder.is_dir():
            existing = [n for n in (*self.names, *self.replaces) if (folder / n).exists()]
            if existing and not self.overwrite:
                raise FileExistsError(
                    f"{folder}: holds {', '.join(existing)} already; pass --overwrite to replace them"
                )
            if not os.access(folder, os.W_OK | os.X_OK):
                raise OutputSetError(f"{folder}: cannot write the outputs here (permission denied)")
            folders = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.is_symlink())
            if folders:
                raise OutputSetError(
                    f"{folder}: holds folders ({', '.join(folders[:3])}); the outputs are replaced "
                    "as a set by swapping the whole folder: give them a folder of their own"
                )
        parent = folder.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            probe = parent / f".{folder.name}.{_MARK}-{os.getpid()}-{secrets.token_hex(4)}.partial"
            try:
                with _signals_held():  # Ctrl-C between the two would leave it behind
                    probe.mkdir()
                    probe.rmdir()
            except BaseException:
                with contextlib.suppress(OSError):
                    probe.rmdir()
                raise
            free = shutil.disk_usage(parent).free
        except OSError as error:
            raise OutputSetError(
                f"{parent}: cannot write the outputs here ({error.strerror or error})"
            ) from None
        if size > free:
            raise OutputSetError(
                f"{parent}: the outputs need about {_megabytes(size)} and the disk has "
                f"{_megabytes(free)} free"
            )

    # -- writing -------------------------------------------------------------------------------
    def __enter__(self) -> OutputSet:
        self.check()
        token = secrets.token_hex(4)
        self._staging = (
            self.folder.parent / f".{self.folder.name}.{_MARK}-{os.getpid()}-{token}.partial"
        )
        try:
            with _signals_held():  # a Ctrl-C held here comes when they are let go: below
                self._staging.mkdir()
        except BaseException:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None
            raise
        return self

    def path(self, name: str) -> Path:
        """Where to write ``name`` (one of ``names``) now."""
        if self._staging is None:
            raise RuntimeError("an OutputSet gives paths inside its with-block only")
        if name not in self.names:
            raise ValueError(f"{name!r} is not one of the set's files {self.names}")
        return self._staging / name

    def __exit__(self, kind, value, traceback) -> None:
        staging, self._staging = self._staging, None
        if kind is not None:
            with _signals_held():  # a second Ctrl-C must not leave half a staging folder
                shutil.rmtree(staging, ignore_errors=True)
            return
        try:
            with _signals_held():
                self._publish(staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def _publish(self, staging: Path) -> None:
        for name in self.names:
            if not (staging / name).is_file():
                raise OutputSetError(f"{self.folder / name}: was not written; no output changed")
        folder = self.folder
        _sync_folder(staging)
        if not folder.exists():
            os.rename(staging, folder)
            _sync_folder(folder.parent)
            return
        _bring_along(folder, staging, (*self.names, *self.replaces))
        _sync_folder(staging)
        if _exchange(staging, folder):
            _sync_folder(folder.parent)
            shutil.rmtree(staging, ignore_errors=True)  # now the old set
            return
        old = staging.with_suffix(".old")
        os.rename(folder, old)
        try:
            os.rename(staging, folder)
        except BaseException:
            os.rename(old, folder)  # the old set back in its place
            raise
        _sync_folder(folder.parent)
        shutil.rmtree(old, ignore_errors=True)


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def _bring_along(folder: Path, staging: Path, names) -> None:
    """The files of ``folder`` that are not outputs, into ``staging`` (hard links, else copies)."""
    for entry in folder.iterdir():
        if entry.name in names:
            continue
        target = staging / entry.name
        if entry.is_symlink():
            os.symlink(os.readlink(entry), target)
        elif entry.is_file():
            try:
                os.link(entry, target)
            except OSError:
                shutil.copy2(entry, target)
        else:
            raise OutputSetError(f"{entry}: a folder inside the output folder; no output changed")


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step; False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _sync_folder(folder: Path) -> None:
    """Flush a folder's entries to the disk (where the system allows it)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


@contextmanager
def _signals_held():
    """Hold Ctrl-C and SIGTERM while the sets are swapped (delivered right after)."""
    held = {signal.SIGINT, signal.SIGTERM}
    try:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    except (AttributeError, ValueError, OSError):  # not the main thread's business, or no such call
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def clean_up_after_interrupted_runs(folder) -> list[Path]:
    """Remove what killed runs left beside ``folder``; put an old set back where a kill left none.

    Only leftovers of processes no longer running are touched.

    Returns
    -------
    list of Path
        What was removed or put back.
    """
    folder = Path(os.fspath(folder)).absolute()
    parent = folder.parent
    if not parent.is_dir():
        return []
    done = []
    for entry in sorted(parent.iterdir()):
        match = _LEFTOVER.match(entry.name)
        if not match or match["name"] != folder.name or process_is_running(int(match["pid"])):
            continue
        if match["kind"] == "old" and not folder.exists():
            os.rename(entry, folder)  # the swap was cut between its two renames
        else:
            shutil.rmtree(entry, ignore_errors=True)
        done.append(entry)
    return done
