"""The last few results of a costly build, kept by a digest of what they were built from.

Extracting traces again from the same ROIs (another movie of a session, the
same script called again) finds their runs and rings already built. Keys are
digests of content (positions and pixels), never of object identity, so a mask
changed in place is built afresh.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

import numpy as np

__all__ = ["LastBuilt", "content_digest"]

T = TypeVar("T")


class LastBuilt(Generic[T]):
    """The ``size`` results built last, by key; safe to use from several threads.

    Parameters
    ----------
    size : int
        How many results are kept (the oldest used goes first).
    """

    def __init__(self, size: int):
        self.size = size
        self._kept: OrderedDict[bytes, T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: bytes, build: Callable[[], T]) -> T:
        """The result kept for ``key``, else ``build()``'s, kept from now on (an error is not)."""
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
        built = build()  # outside the lock: another thread may build another set meanwhile
        with self._lock:
            self._kept[key] = built
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return built


def content_digest(parts: Iterable) -> bytes:
    """A digest of ``parts``: arrays by their shape, type and bytes, anything else by ``repr``."""
    digest = hashlib.blake2b(digest_size=20)
    for part in parts:
        if isinstance(part, np.ndarray):
            digest.update(repr((part.shape, part.dtype.str)).encode())
            digest.update(np.ascontiguousarray(part).tobytes())
        else:
            digest.update(repr(part).encode())
        digest.update(b"\0")
    return digest.digest()
