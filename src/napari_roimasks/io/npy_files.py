"""``.npy`` files read without ever running them.

``np.load(..., allow_pickle=True)`` runs whatever a pickled file asks for: a
planted ``labels.npy``, ``ops.npy`` or ``stat.npy`` could run any command.
suite2p saves its ``stat.npy`` (a list of dicts) and ``ops.npy`` (a dict) as
pickled object arrays by design, so refusing pickles would refuse suite2p.
Instead, :func:`load_npy` reads a plain array as numpy does with
``allow_pickle=False``, and an object array through an unpickler that builds
only numpy arrays, numpy scalars, dicts, lists, tuples, strings, numbers,
dates and paths:
any other object (a function to call, a class to build) is refused before it
exists, with a line naming what the file asked for.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np

__all__ = ["UnsafeFileError", "load_npy"]

#: What a pickled numpy object array of containers, numbers and text refers to, and nothing else:
#: ``ndarray``'s reconstruction and dtypes (numpy 1 lives in ``numpy.core``, numpy 2 in
#: ``numpy._core``), numpy scalars, and builtin containers and numbers (pickle builds
#: lists, dicts, tuples, text and plain numbers itself, without naming them).
_BUILDABLE = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("builtins", "dict"),
        ("builtins", "list"),
        ("builtins", "tuple"),
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("builtins", "bytearray"),
        ("builtins", "complex"),
        # suite2p's ops.npy holds the time it ran ("date_proc") and, in some versions, paths
        ("datetime", "datetime"),
        ("datetime", "date"),
        ("datetime", "time"),
        ("datetime", "timedelta"),
        ("datetime", "timezone"),
        ("pathlib", "Path"),
        ("pathlib", "PosixPath"),
        ("pathlib", "WindowsPath"),
        ("pathlib", "PurePosixPath"),
        ("pathlib", "PureWindowsPath"),
    }
)


class UnsafeFileError(ValueError):
    """A ``.npy`` file is not an array this project reads; the message names the file and why."""


class _DataOnly(pickle.Unpickler):
    """Builds arrays, numbers, text and containers; refuses every other global a pickle names."""

    def find_class(self, module: str, name: str):
        if (module, name) in _BUILDABLE:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name}")


def load_npy(path, *, pickled: bool = False) -> np.ndarray:
    """A ``.npy`` file's array, never running anything the file holds.

    Parameters
    ----------
    path : str or os.PathLike
    pickled : bool
        Accept an object array (suite2p's ``stat.npy`` and ``ops.npy``), built
        only from arrays, numbers, text and containers. False: refuse it.

    Returns
    -------
    ndarray
        Of any shape; an object array's items are dicts, lists, arrays, numbers or text.

    Raises
    ------
    UnsafeFileError
        For a file that is not a ``.npy`` array, an object array when
        ``pickled`` is False, or one that names anything else to build.
    """
    path = Path(os.fspath(path))
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            header = {
                (1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0,
            }.get(version)
            if header is None:
                raise ValueError(f"numpy format version {version}")
            shape, fortran_order, dtype = header(f)
            if not dtype.hasobject:
                f.seek(0)
                return np.lib.format.read_array(f, allow_pickle=False)
            if not pickled:
                raise UnsafeFileError(
                    f"{path}: holds Python objects (a pickle), not an array of numbers; it is not loaded"
                )
            try:
                array = _DataOnly(f).load()
            except pickle.UnpicklingError as error:
                raise UnsafeFileError(
                    f"{path}: asks to build {error}, which is never loaded (only arrays, numbers, "
                    "text, dates, paths, lists and dicts are)"
                ) from None
    except UnsafeFileError:
        raise
    except OSError as error:
        raise UnsafeFileError(f"{path}: cannot be read ({error.strerror or error})") from None
    except Exception as error:  # numpy's format readers and pickle raise many kinds
        raise UnsafeFileError(f"{path}: not a readable .npy array ({error})") from None
    if not isinstance(array, np.ndarray) or array.shape != shape:
        raise UnsafeFileError(
            f"{path}: not a readable .npy array (its data does not match its header)"
        )
    return np.asfortranarray(array) if fortran_order else array
