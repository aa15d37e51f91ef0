"""Where the command line's warnings and tracebacks go: a log file, not the user's terminal.

A run of ``napari-roimasks`` prints one line per outcome. What libraries say
on the way (tifffile's, h5py's and numpy's warnings, Dask's worker logs, the
traceback behind an error, the errors Python would print as "Exception ignored
in ...") goes to a log file instead, and the error line
names the log when something was written to it:

- ``$XDG_STATE_HOME/napari-roimasks/napari-roimasks.log`` (default
  ``~/.local/state/...``);
- where that cannot be written (a read-only home), ``napari-roimasks-<user>.log``
  in the temporary folder;
- nowhere, when neither can: the messages are dropped, never printed.
"""

from __future__ import annotations

import getpass
import logging
import os
import sys
import tempfile
from pathlib import Path

__all__ = ["RunLog", "send_logs_to_file"]

#: Libraries that set up their own handlers to the terminal.
_SELF_PRINTING = ("distributed", "tornado", "bokeh", "tifffile")


class RunLog(logging.Handler):
    """Appends records to the log file (opened on the first one) and remembers whether any came.

    Attributes
    ----------
    path : Path or None
        The log file; None when no place could take one.
    written : bool
        Whether this run wrote anything to it.
    """

    def __init__(self, path: Path | None):
        super().__init__(logging.WARNING)
        self.path = path
        self.written = False
        self._file = None
        self.setFormatter(
            logging.Formatter("%(asctime)s %(process)d %(name)s %(levelname)s: %(message)s")
        )

    def emit(self, record: logging.LogRecord) -> None:
        if self.path is None:
            return
        try:
            if self._file is None:
                self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (kept open)
            self._file.write(self.format(record) + "\n")
            self._file.flush()
            self.written = True
        except OSError:
            self.path = None  # the disk filled or the place went away: drop, never print

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        super().close()

    def mention(self) -> str:
        """``" (details: <log>)"`` when this run wrote to the log; ``""`` otherwise."""
        return f" (details: {self.path})" if self.written and self.path is not None else ""


def _log_path() -> Path | None:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    for folder, name in (
        (Path(state) / "napari-roimasks", "napari-roimasks.log"),
        (Path(tempfile.gettempdir()), f"napari-roimasks-{user}.log"),
    ):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with open(folder / name, "a", encoding="utf-8"):
                pass
        except OSError:
            continue
        return folder / name
    return None


def _log_unraisable(unraisable) -> None:
    """What Python would print as "Exception ignored in ..." (an error in a destructor, such
    as h5py's when Ctrl-C stops a write), to the log."""
    logging.getLogger("napari_roimasks.unraisable").warning(
        "%s: %s",
        unraisable.err_msg or "Exception ignored in",
        unraisable.object,
        exc_info=(unraisable.exc_type, unraisable.exc_value, unraisable.exc_traceback),
    )


def send_logs_to_file() -> RunLog:
    """Send every warning and log record of this process to the log file, none to the terminal.

    Also called again after Dask's ``distributed`` is imported (it adds its own
    handlers to the terminal then).

    Returns
    -------
    RunLog
        The handler: its :meth:`RunLog.mention` goes at the end of an error line.
    """
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, RunLog)), None)
    if handler is None:
        handler = RunLog(_log_path())
        root.addHandler(handler)
        if root.level > logging.WARNING or root.level == logging.NOTSET:
            root.setLevel(logging.WARNING)
        logging.captureWarnings(True)  # warnings.warn -> the "py.warnings" logger -> the file
        sys.unraisablehook = _log_unraisable  # "Exception ignored in ...", e.g. h5py on Ctrl-C
    for name in _SELF_PRINTING:
        library = logging.getLogger(name)
        for other in list(library.handlers):
            if not isinstance(other, RunLog):
                library.removeHandler(other)
        if handler not in library.handlers:
            library.addHandler(handler)
        library.propagate = False
    return handler
