"""Extraction on a real Dask cluster (LocalCluster, 2 worker processes, loopback only)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest

from napari_roimasks import roi_masks
from napari_roimasks.core import extract_traces
from napari_roimasks.io.allen_traces import read_trace_file
from napari_roimasks.synthetic import make_recording

distributed = pytest.importorskip("distributed")

from napari_roimasks.core.distributed_traces import (  # noqa: E402 - needs distributed
    ClusterJobFailed,
    MovieJob,
    extract_traces_distributed,
    start_client,
)


@pytest.fixture(scope="module")
def client():
    client = start_client("local", 2)
    yield client
    client.close()
    client.cluster.close()


def write_movie(path, movie):
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=movie, chunks=(1, *movie.shape[1:]))
    return path


def masks_for(labels, border):
    h, w = labels.shape
    rois = [
        roi_masks.create_roi_mask(w, h, border, roi_mask=labels == k, label=k)
        for k in range(1, labels.max() + 1)
    ]
    masks = rois + roi_masks.create_neuropil_masks(rois, border)
    return [None if roi_masks.validate_mask(m) else roi_masks._mask_crop(m, h, w) for m in masks]


def test_cluster_traces_equal_the_single_machine_engine(client, tmp_path):
    recordings = [make_recording(n_frames=120, seed=s) for s in (1, 2)]
    jobs = []
    for i, rec in enumerate(recordings):
        path = write_movie(tmp_path / f"movie{i}.h5", rec.movie)
        jobs.append(
            MovieJob(str(path), "data", masks_for(rec.roi_labels, rec.motion_border.as_allen()))
        )
    reported = []
    results = extract_traces_distributed(
        client, jobs, max_block_bytes=20 * 2**17, progress=lambda *step: reported.append(step)
    )  # 20 frames a task
    # progress counts frames over both movies, one step per block as it comes in
    assert [done for done, _ in reported] == list(range(20, 241, 20))
    assert {total for _, total in reported} == {240}
    for job, rec, traces in zip(jobs, recordings, results, strict=True):
        np.testing.assert_array_equal(traces, extract_traces(rec.movie, job.masks), strict=True)


def test_the_same_masks_extracted_again_at_once_give_the_same_traces(client, tmp_path):
    # the dock re-extracts with the same masks; the last job's shared masks are released
    # as the next job starts, which must not take the next job's masks with them
    rec = make_recording(n_frames=60, seed=9)
    path = write_movie(tmp_path / "movie.h5", rec.movie)
    job = MovieJob(str(path), "data", masks_for(rec.roi_labels, [0, 0, 0, 0]))
    expected = extract_traces(rec.movie, job.masks)
    for frames_a_task in (60, 4, 60, 4):
        (traces,) = extract_traces_distributed(client, [job], max_block_bytes=frames_a_task * 2**17)
        np.testing.assert_array_equal(traces, expected, strict=True)


@pytest.mark.parametrize(
    ("dtype", "chunk_frames"), [(np.uint16, 3), (np.float32, 3), (np.uint16, None)]
)
def test_a_task_read_a_few_chunks_at_a_time_sums_every_frame_once(
    tmp_path, monkeypatch, dtype, chunk_frames
):
    # on a worker, a task reads its frames a few whole chunks at a time into one reused
    # buffer; a task that is not a whole number of reads, and tasks of another length
    # after it, still give the single-machine engine's traces
    from napari_roimasks.core import distributed_traces
    from napari_roimasks.core.traces import MaskRuns

    rec = make_recording(n_frames=50, seed=6)
    movie = rec.movie.astype(dtype) * dtype(1.5) if dtype == np.float32 else rec.movie
    path = tmp_path / "movie.h5"
    with h5py.File(path, "w") as f:
        chunks = None if chunk_frames is None else (chunk_frames, *movie.shape[1:])
        f.create_dataset("data", data=movie, chunks=chunks)  # None: contiguous
    masks = masks_for(rec.roi_labels, rec.motion_border.as_allen())
    runs = MaskRuns.from_masks(masks, movie.shape[1:])
    frame_bytes = movie[0].nbytes
    # 2 chunks of 3 frames a read; 7 frames when the movie is contiguous
    monkeypatch.setattr(distributed_traces, "READ_BYTES", 7 * frame_bytes)
    monkeypatch.setattr(distributed_traces, "_open_movies", {})
    monkeypatch.setattr(distributed_traces, "_buffers", {})
    parts = [
        distributed_traces._sum_block(str(path), "data", start, stop, runs, len(masks))
        for start, stop in [(0, 15), (15, 45), (45, 50)]
    ]
    traces = (np.concatenate(parts) / runs.areas).T
    np.testing.assert_array_equal(traces, extract_traces(movie, masks), strict=True)
    for movie_file in distributed_traces._open_movies.values():
        movie_file.file.close()


def replace_with_a_new_file(path, movie):
    write_movie(f"{path}.new", movie)
    os.replace(f"{path}.new", path)  # a new inode at the path


def copy_over_the_same_file(path, movie):
    write_movie(f"{path}.new", movie)
    shutil.copyfile(f"{path}.new", path)  # as cp does: the same inode, truncated and written


def rewrite_in_place_with_h5py(path, movie):
    # another process, as an acquisition program would be; HDF5's file lock is off as on
    # file systems without locks (with it, a worker's open handle makes the writer fail)
    np.save(f"{path}.npy", movie)
    script = (
        "import sys, h5py, numpy as np\n"
        "movie = np.load(sys.argv[2])\n"
        "with h5py.File(sys.argv[1], 'w') as f:\n"
        "    f.create_dataset('data', data=movie, chunks=(1, *movie.shape[1:]))\n"
    )
    environment = {**os.environ, "HDF5_USE_FILE_LOCKING": "FALSE"}
    subprocess.run(
        [sys.executable, "-c", script, str(path), f"{path}.npy"], check=True, env=environment
    )


@pytest.mark.parametrize(
    "write_again", [replace_with_a_new_file, copy_over_the_same_file, rewrite_in_place_with_h5py]
)
def test_a_worker_reads_a_movie_written_again_at_the_same_path_anew(
    tmp_path, monkeypatch, rng, write_again
):
    # the Traces dock keeps its cluster between runs: after the user writes a new movie
    # over the old one, the workers must sum the new one, not the file they kept open
    from napari_roimasks.core import distributed_traces
    from napari_roimasks.core.masks import MaskCrop
    from napari_roimasks.core.traces import MaskRuns

    monkeypatch.setattr(distributed_traces, "_open_movies", {})
    monkeypatch.setattr(distributed_traces, "_buffers", {})
    masks = [MaskCrop(1, 1, np.ones((2, 3), bool)), MaskCrop(0, 0, np.eye(4, 5, dtype=bool))]
    runs = MaskRuns.from_masks(masks, (4, 5))
    path = tmp_path / "movie.h5"
    old = rng.integers(0, 1000, (6, 4, 5), dtype=np.uint16)
    new = rng.integers(1000, 2000, (9, 4, 5), dtype=np.uint16)  # another size as well

    def sums_of_frames_0_to_6():
        return distributed_traces._sum_block(str(path), "data", 0, 6, runs, len(masks))

    def expected(movie):
        return np.stack(
            [movie[:6, m.slices[0], m.slices[1]][:, m.pixels].sum(axis=1) for m in masks], axis=1
        )

    write_movie(path, old)
    np.testing.assert_array_equal(sums_of_frames_0_to_6(), expected(old))
    status = os.stat(path)
    write_again(path, new)
    later = status.st_mtime_ns + 10**9  # the writes may share a coarse file system tick
    os.utime(path, ns=(later, later))
    try:
        np.testing.assert_array_equal(sums_of_frames_0_to_6(), expected(new))
        # the old version's handle is closed, not kept beside the new one
        assert len(distributed_traces._open_movies) == 1
    finally:
        for data in distributed_traces._open_movies.values():
            data.file.close()


def test_a_worker_killed_mid_job_is_retried_and_the_traces_are_whole(client, tmp_path):
    rec = make_recording(n_frames=200, seed=3)
    path = write_movie(tmp_path / "movie.h5", rec.movie)
    job = MovieJob(str(path), "data", masks_for(rec.roi_labels, [0, 0, 0, 0]))
    killed = {}

    def kill_a_busy_worker(frames_done, total):
        if frames_done >= 15 and not killed:  # 3 blocks of 5 frames are in
            # a worker with a block assigned: the block is lost with it, running or done
            busy = [(w, keys) for w, keys in client.processing().items() if keys]
            if not busy:  # between blocks: try again at the next block
                return
            victim, blocks = min(busy)
            killed.update(worker=victim, blocks=set(blocks))
            with contextlib.suppress(Exception):  # the worker dies before it answers
                client.run(os._exit, 1, workers=[victim])

    (traces,) = extract_traces_distributed(
        client, [job], max_block_bytes=5 * 2**17, progress=kill_a_busy_worker
    )
    np.testing.assert_array_equal(traces, extract_traces(rec.movie, job.masks), strict=True)
    # the scheduler saw the worker go, with the blocks it held, and so ran them again elsewhere
    (removed,) = [
        event
        for _, event in client.get_events(killed["worker"])
        if event.get("action") == "remove-worker"
    ]
    assert not removed["expected"]
    lost = set(removed["processing-tasks"]) | set(removed["lost-computed-tasks"])
    assert killed["blocks"] <= lost
    # the nanny starts a new worker in the killed one's place: the next tests get 2 workers
    client.wait_for_workers(2, timeout=120)
    workers = client.scheduler_info()["workers"]
    assert len(workers) == 2 and killed["worker"] not in workers


def hide_each_movie_once_planned(monkeypatch):
    """Each movie moves away once the client has planned its blocks: the workers cannot read it,
    as when the movie is not on a file system they see."""
    from napari_roimasks.core import distributed_traces

    plan_blocks = distributed_traces._blocks

    def plan_then_hide(path, dataset, max_block_bytes):
        planned = plan_blocks(path, dataset, max_block_bytes)
        os.rename(path, f"{path}.elsewhere")
        return planned

    monkeypatch.setattr(distributed_traces, "_blocks", plan_then_hide)


def test_a_movie_the_workers_cannot_read_fails_with_a_clear_message(client, tmp_path, monkeypatch):
    rec = make_recording(n_frames=30, seed=7)
    path = write_movie(tmp_path / "movie.h5", rec.movie)
    job = MovieJob(str(path), "data", masks_for(rec.roi_labels, [0, 0, 0, 0]))
    hide_each_movie_once_planned(monkeypatch)
    with pytest.raises(ClusterJobFailed) as failed:
        extract_traces_distributed(client, [job], max_block_bytes=10 * 2**17)
    message = str(failed.value)
    assert message.startswith(f"{path}: frames ")
    assert "failed on the cluster" in message and "same path" in message


def test_command_line_writes_nothing_when_the_cluster_job_fails(tmp_path, monkeypatch, capsys):
    from napari_roimasks import cli

    rec = make_recording(n_frames=30, seed=8)
    movie = write_movie(tmp_path / "session.h5", rec.movie)
    np.save(tmp_path / "labels.npy", rec.roi_labels)
    hide_each_movie_once_planned(monkeypatch)
    out = tmp_path / "out"
    argv = ["extract", str(movie), str(tmp_path / "labels.npy"), "-o", str(out)]
    code = cli.main([*argv, "--scheduler", "local", "--workers", "2"])
    assert code == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("napari-roimasks: error: ") and "session.h5" in line
    assert "no output changed" in line
    assert not any(out.rglob("*.h5")) and not any(out.rglob("*.json"))


def test_command_line_runs_several_movies_on_a_local_cluster(tmp_path):
    recordings = [make_recording(n_frames=40, seed=s) for s in (4, 5)]
    files = []
    for i, rec in enumerate(recordings):
        files.append(write_movie(tmp_path / f"session{i}.h5", rec.movie))
    for i, rec in enumerate(recordings):
        np.save(tmp_path / f"labels{i}.npy", rec.roi_labels)
        files.append(tmp_path / f"labels{i}.npy")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "napari_roimasks.cli",
            "extract",
            *map(str, files),
            "-o",
            str(tmp_path / "out"),
            "--scheduler",
            "local",
            "--workers",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    for i, rec in enumerate(recordings):
        traces, _ = read_trace_file(tmp_path / "out" / f"session{i}" / "roi_traces.h5")
        expected = extract_traces(rec.movie, masks_for(rec.roi_labels, [0, 0, 0, 0]))[
            : rec.roi_labels.max()
        ]
        np.testing.assert_array_equal(traces, expected)


def test_without_distributed_the_option_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"pip install 'napari-roimasks\[distributed\]'"):
        start_client("local", 1)


def test_a_block_that_fails_on_the_cluster_is_one_line_and_the_workers_print_nothing(
    tmp_path, corrupt_movie
):
    """A corrupt chunk read by a worker: no worker traceback on the terminal (the log has it)."""
    rec = make_recording(n_frames=30, shape=(64, 64), n_cells=6, seed=3)
    corrupt_movie(tmp_path / "movie.h5", rec.movie, 12)
    np.save(tmp_path / "labels.npy", rec.roi_labels)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "napari_roimasks.cli",
            "extract",
            str(tmp_path / "movie.h5"),
            str(tmp_path / "labels.npy"),
            "-o",
            str(tmp_path / "out"),
            "--scheduler",
            "local",
            "--workers",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"napari-roimasks: error: {tmp_path / 'movie.h5'}: frames ")
    assert "no output changed (details: " in line
    assert not (tmp_path / "out").exists()
