"""A movie's summary images alone, into one file: ``napari-roimasks summary``.

Headless, like :mod:`napari_roimasks.pipeline`, whose one read of a movie
(:func:`~napari_roimasks.pipeline.movie_steps`) computes them, here or on a Dask
cluster. The movie and the output are checked before any frame is read; the
file is written atomically once every frame is in.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .core.traces import run_steps
from .io.summary_files import write_summary_images
from .pipeline import BatchSettings, InputError, MovieMasks, movie_source, movie_steps, same_file

__all__ = ["SummaryJob", "prepare_summary", "run_summary"]


@dataclass
class SummaryJob:
    """One movie's summary images into one file (``napari-roimasks summary``)."""

    movie: Path
    out: Path
    n_frames: int = 0
    dataset: str | None = None


def prepare_summary(job: SummaryJob, settings: BatchSettings, *, on_cluster: bool = False) -> None:
    """Check the movie and the output file, reading no frame (and starting no cluster).

    Raises
    ------
    InputError
        For an unreadable movie (or one a cluster cannot read), an output that
        exists (without ``overwrite``), is the movie, is not named *.h5, or lies
        in a folder that is missing or cannot be written.
    """
    out = Path(job.out)
    if out.is_dir():
        raise InputError(f"{out}: is a folder; give the summary file's name")
    if not out.name.lower().endswith((".h5", ".hdf5")):
        raise InputError(f"{out}: the summary images are HDF5; name the output *.h5")
    if same_file(out, job.movie):
        raise InputError(f"{job.movie}: would be replaced by the summary images; give another -o")
    frames, handle = movie_source(job.movie, settings.dataset)
    try:
        job.n_frames = int(frames.shape[0])
        if handle is not None:
            job.dataset = frames.name.lstrip("/")
    finally:
        if handle is not None:
            handle.close()
    if job.n_frames == 0:
        raise InputError(f"{job.movie}: the movie has no frames")
    if on_cluster and job.dataset is None:
        raise InputError(
            f"{job.movie}: the Dask backend reads HDF5 movies (each worker opens the file)"
        )
    folder = out.parent
    if out.exists() and not settings.overwrite:
        raise InputError(f"{out} exists; pass --overwrite to replace it")
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder for the summary images")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{folder}: cannot write there (permission denied)")


def run_summary(
    job: SummaryJob,
    settings: BatchSettings,
    *,
    client=None,
    progress: Callable[[int, int], None] | None = None,
):
    """The movie's :class:`~napari_roimasks.core.summary_images.SummaryImages`, written to
    ``job.out`` atomically; here or on ``client``'s cluster (an HDF5 movie)."""
    movie = MovieMasks([], job.n_frames, path=job.movie, dataset=job.dataset, summary=True)
    steps = movie_steps(
        [movie], client=client, block_size=settings.block_size, cell_diameter=settings.cell_diameter
    )
    (result,) = run_steps(steps, progress, unit="frame")
    try:
        write_summary_images(
            job.out,
            result.summary,
            movie=Path(job.movie).resolve(),
            dataset=job.dataset,
            overwrite=settings.overwrite,
        )
    except FileExistsError as error:
        raise InputError(str(error)) from None
    except OSError as error:
        raise InputError(f"{job.out}: cannot write it ({error.strerror or error})") from None
    return result.summary
