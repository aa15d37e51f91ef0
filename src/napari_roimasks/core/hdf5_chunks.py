"""Reading an HDF5 movie's frames straight from the file's chunks, with the bytes h5py reads.

h5py reads through HDF5's chunk cache and type conversion; for the layouts
movies come in, the bytes in the file *are* the frames. So for a dataset stored
contiguously, or in chunks that each hold whole frames, uncompressed or
compressed with gzip (deflate) after an optional shuffle, :func:`direct_reads`
locates every chunk once and :meth:`DirectReads.read` reads frame ranges with
``os.preadv`` and ``zlib``, which release the GIL: several threads read at once,
each into a buffer small enough to stay in the processor's cache while it is
summed. For anything else (other filters, chunks that split frames, chunks
never written, virtual or external datasets, files not opened read-only from
disk) it returns None, and the caller reads through h5py.
"""

from __future__ import annotations

import dataclasses
import os
import zlib
from dataclasses import dataclass

import numpy as np

__all__ = ["DirectReads", "direct_reads"]

_SHUFFLE = 2  # HDF5's filter numbers (h5py.h5z.FILTER_SHUFFLE, FILTER_DEFLATE)
_DEFLATE = 1
_CONTIGUOUS, _CHUNKED = 1, 2  # h5py.h5d.CONTIGUOUS, CHUNKED


@dataclass(frozen=True)
class DirectReads:
    """Where every frame of an HDF5 movie lies in its file, and how to decode it.

    Attributes
    ----------
    fd : int
        The file's descriptor, h5py's own (read with ``os.preadv``, which leaves
        its position alone).
    shape : (n_frames, rows, columns)
    dtype : numpy dtype
        The dataset's type as stored (byte order included).
    chunk_frames : int
        Frames per chunk (every frame, for a contiguous dataset).
    offsets, sizes : (n_chunks,) int64 ndarray
        Each chunk's place and stored size in the file.
    filters : (n_chunks, n_filters) bool ndarray
        Which of ``pipeline``'s filters each chunk went through.
    pipeline : tuple of int
        The dataset's filters in the order they were applied (deflate, shuffle).
    """

    fd: int
    shape: tuple[int, int, int]
    dtype: np.dtype
    chunk_frames: int
    offsets: np.ndarray
    sizes: np.ndarray
    filters: np.ndarray
    pipeline: tuple[int, ...]

    @property
    def frame_bytes(self) -> int:
        """Bytes of one frame."""
        return self.shape[1] * self.shape[2] * self.dtype.itemsize

    @property
    def alignment(self) -> int:
        """Frames that are best read together: a compressed chunk is decoded whole."""
        return self.chunk_frames if self.pipeline else 1

    def read(self, out: np.ndarray, start: int, stop: int) -> None:
        """Frames ``start:stop`` into ``out``, a C-contiguous (stop - start, rows, columns) array of
        :attr:`dtype`.

        Raises
        ------
        OSError
            When the file is cut short or a chunk cannot be decompressed (naming the frames).
        """
        try:
            self._read(out, start, stop)
        except OSError as error:
            if str(error).startswith("chunk "):  # it names its frames already
                raise
            raise OSError(f"frames {start}-{stop - 1} cannot be read ({error})") from error

    def opened_again(self) -> DirectReads:
        """The same reads through a descriptor of their own (``os.dup``): closing the h5py file
        during a pass then cannot make the pass read another file that takes its number. Close
        it with :meth:`close`."""
        return dataclasses.replace(self, fd=os.dup(self.fd))

    def close(self) -> None:
        """Close the descriptor (one from :meth:`opened_again`)."""
        os.close(self.fd)

    def _read(self, out: np.ndarray, start: int, stop: int) -> None:
        frame_bytes = self.frame_bytes
        raw = out.reshape(-1).view(np.uint8)
        first_chunk, last_chunk = start // self.chunk_frames, (stop - 1) // self.chunk_frames
        pending = None  # (file offset, first byte in out, bytes): neighbouring reads in one call
        for chunk in range(first_chunk, last_chunk + 1):
            chunk_start = chunk * self.chunk_frames
            first, last = max(start, chunk_start), min(stop, chunk_start + self.chunk_frames)
            at = (first - start) * frame_bytes
            length = (last - first) * frame_bytes
            if self.pipeline and self.filters[chunk].any():
                if pending is not None:
                    self._read_bytes(raw, *pending)
                    pending = None
                frames = self._decoded_chunk(chunk)
                lo = (first - chunk_start) * frame_bytes
                raw[at : at + length] = frames[lo : lo + length]
                continue
            offset = int(self.offsets[chunk]) + (first - chunk_start) * frame_bytes
            if pending is not None and pending[0] + pending[2] == offset:
                pending = (pending[0], pending[1], pending[2] + length)
            else:
                if pending is not None:
                    self._read_bytes(raw, *pending)
                pending = (offset, at, length)
        if pending is not None:
            self._read_bytes(raw, *pending)

    def _read_bytes(self, raw: np.ndarray, offset: int, at: int, length: int) -> None:
        view = memoryview(raw[at : at + length])
        done = 0
        while done < length:
            got = os.preadv(self.fd, [view[done:]], offset + done)
            if got == 0:
                raise OSError(f"the file ends before byte {offset + length} (cut short?)")
            done += got

    def _decoded_chunk(self, chunk: int) -> np.ndarray:
        """A compressed chunk's frames as bytes, every filter undone."""
        size = int(self.sizes[chunk])
        stored = np.empty(size, dtype=np.uint8)
        self._read_bytes(stored, int(self.offsets[chunk]), 0, size)
        full = self.chunk_frames * self.frame_bytes
        first = chunk * self.chunk_frames
        where = f"chunk {chunk} (frames {first}-{first + self.chunk_frames - 1})"
        data = stored
        for applied, code in reversed(list(zip(self.filters[chunk], self.pipeline, strict=True))):
            if not applied:
                continue
            if code == _DEFLATE:
                try:
                    data = np.frombuffer(zlib.decompress(data, 15, full), dtype=np.uint8)
                except zlib.error as error:
                    raise OSError(f"{where} cannot be decompressed ({error})") from None
            else:  # shuffle: the first bytes of every value, then the second bytes, ...
                size = self.dtype.itemsize
                if len(data) == full and size > 1:
                    data = np.ascontiguousarray(data.reshape(size, -1).T).reshape(-1)
        if len(data) != full:
            raise OSError(f"{where} holds {len(data)} bytes once decompressed, expected {full}")
        return data


def direct_reads(frames) -> DirectReads | None:
    """How to read ``frames`` straight from its file, or None to read it through h5py.

    Parameters
    ----------
    frames : object
        Any frame source; only an ``h5py.Dataset`` of a file opened read-only
        with HDF5's default driver, of numbers, stored contiguously or in chunks
        of whole frames, with no filter but deflate and shuffle, every chunk
        written, gets a :class:`DirectReads`.
    """
    try:
        import h5py
    except ImportError:  # pragma: no cover - a dependency
        return None
    if not hasattr(os, "preadv"):  # pragma: no cover - Windows: h5py reads
        return None
    if not isinstance(frames, h5py.Dataset) or frames.ndim != 3 or 0 in frames.shape:
        return None
    dtype = frames.dtype
    if dtype.kind not in "iuf" or dtype.fields is not None or dtype.subdtype is not None:
        return None
    handle = frames.file
    if (
        handle.driver != "sec2"
        or handle.mode != "r"
        or handle.swmr_mode
        or handle.userblock_size
        or frames.is_virtual
        or frames.external
    ):
        return None  # bytes elsewhere, or still changing
    plist = frames.id.get_create_plist()
    layout = plist.get_layout()
    shape = tuple(int(n) for n in frames.shape)
    frame_bytes = shape[1] * shape[2] * dtype.itemsize
    fd = handle.id.get_vfd_handle()
    if layout == _CONTIGUOUS:
        offset = frames.id.get_offset()
        if offset is None or plist.get_nfilters():
            return None  # never written: HDF5 makes up the fill value
        empty = np.zeros((1, 0), dtype=bool)
        whole = np.array([shape[0] * frame_bytes])
        return DirectReads(fd, shape, dtype, shape[0], np.array([offset]), whole, empty, ())
    if layout != _CHUNKED or tuple(frames.chunks[1:]) != shape[1:]:
        return None
    pipeline = tuple(plist.get_filter(i)[0] for i in range(plist.get_nfilters()))
    if any(code not in (_SHUFFLE, _DEFLATE) for code in pipeline):
        return None
    chunk_frames = int(frames.chunks[0])
    table = _chunk_table(frames, chunk_frames)
    if table is None:
        return None
    offsets, sizes, masks = table
    filters = np.array(
        [[not (mask >> i) & 1 for i in range(len(pipeline))] for mask in masks], dtype=bool
    ).reshape(len(masks), len(pipeline))
    plain = ~filters.any(axis=1)
    if np.any(sizes[plain] != chunk_frames * frame_bytes):
        return None
    return DirectReads(fd, shape, dtype, chunk_frames, offsets, sizes, filters, pipeline)


def _chunk_table(frames, chunk_frames: int):
    """Every chunk's file offset, stored size and filter mask, in frame order; None when a
    chunk was never written (HDF5 makes up its frames from the fill value)."""
    n_chunks = -(-frames.shape[0] // chunk_frames)
    found = []
    try:
        frames.id.chunk_iter(
            lambda c: found.append((c.chunk_offset[0], c.byte_offset, c.size, c.filter_mask))
        )
    except (AttributeError, NotImplementedError):  # HDF5 older than 1.12.3: slower, same table
        for i in range(frames.id.get_num_chunks()):
            c = frames.id.get_chunk_info(i)
            found.append((c.chunk_offset[0], c.byte_offset, c.size, c.filter_mask))
    if len(found) != n_chunks:
        return None
    found.sort()
    table = np.array(found, dtype=np.int64).reshape(-1, 4)
    if np.any(table[:, 0] != np.arange(n_chunks) * chunk_frames):
        return None
    return table[:, 1].copy(), table[:, 2].copy(), table[:, 3].copy()
