"""NWB files as pynwb's tutorial and suite2p write them, read the right way round; our writer
keeps weights and metadata, and nwbinspector finds nothing to fix in what it writes."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone

import h5py
import numpy as np
import pytest

from napari_roimasks.core.masks import MaskCrop
from napari_roimasks.io.nwb import write_nwb
from napari_roimasks.io.nwb_reading import read_nwb_rois
from napari_roimasks.io.nwb_session import NwbSession
from napari_roimasks.io.roi_files import RoiEntry, RoiFileError, RoiSet, read_rois

pynwb = pytest.importorskip("pynwb")
from pynwb import NWBHDF5IO, NWBFile  # noqa: E402
from pynwb.ophys import (  # noqa: E402
    Fluorescence,
    ImageSegmentation,
    OpticalChannel,
    PlaneSegmentation,
    TwoPhotonSeries,
)

# suite2p's save_nwb, followed as written, passes a deprecated argument and makes a region
# before its table is in the file: pynwb says so, and the files are still what suite2p writes
pytestmark = [
    pytest.mark.filterwarnings("ignore:The 'manufacturer' field is deprecated"),
    pytest.mark.filterwarnings("ignore:The linked table for DynamicTableRegion"),
]

SHAPE = (40, 60)  # rows, columns: not square, so a transposed read shows
START = datetime(2024, 5, 1, 10, 30, tzinfo=timezone.utc)

FULL_SESSION = NwbSession(
    session_description="Mouse V1, drifting gratings, plane 1",
    experiment_description="orientation tuning of layer 2/3 neurons",
    experimenter=("Doe, Jane", "Roe, Rick"),
    institution="Allen Institute for Brain Science",
    lab="Optical physiology",
    keywords=("V1", "orientation tuning"),
    session_start_time=START,
    subject_id="m-123",
    species="Mus musculus",
    sex="F",
    age="P90D",
    indicator="GCaMP6f",
    location="VISp",
    excitation_wavelength=920,
    emission_wavelength=510,
    imaging_rate=31.0,
    device_description="Bruker Ultima two-photon microscope",
)


def new_file(description="ROIs"):
    return NWBFile(session_description=description, identifier="test", session_start_time=START)


def write_file(nwb, path):
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


def weight_plane(entry, shape=SHAPE) -> np.ndarray:
    """An ROI's weights on the image (1 on mask pixels without weights, 0 elsewhere)."""
    plane = np.zeros(shape)
    if entry.crop is not None:
        box = entry.crop.pixels.astype(float) if entry.weights is None else entry.weights
        plane[entry.crop.slices] = box
    return plane


# -- pynwb's ophys tutorial (docs/gallery/domain/ophys.py) ---------------------------------------
def tutorial_file(path, starts):
    """Pixel masks as the tutorial writes them: x from range(x, x + 4), y from range(y, y + 3),
    and, as its reference images, an imaging series of (frames, x, y) frames."""
    nwb = new_file()
    device = nwb.create_device(name="Microscope", description="My two-photon microscope")
    plane = nwb.create_imaging_plane(
        name="ImagingPlane",
        optical_channel=OpticalChannel(
            name="OpticalChannel", description="an optical channel", emission_lambda=500.0
        ),
        imaging_rate=30.0,
        description="a very interesting part of the brain",
        device=device,
        excitation_lambda=600.0,
        indicator="GFP",
        location="V1",
    )
    series = TwoPhotonSeries(
        name="TwoPhotonSeries",
        data=np.ones((5, *SHAPE)),
        imaging_plane=plane,
        rate=1.0,
        unit="a.u.",
    )
    nwb.add_acquisition(series)
    module = nwb.create_processing_module(name="ophys", description="optical physiology")
    segmentation = ImageSegmentation(name="ImageSegmentation")
    module.add(segmentation)
    ps2 = segmentation.create_plane_segmentation(
        name="PlaneSegmentation2",
        description="output from segmenting my favorite imaging plane",
        imaging_plane=plane,
        reference_images=series,
    )
    for x, y in starts:
        pixel_mask = []
        for ix in range(x, x + 4):
            for iy in range(y, y + 3):
                pixel_mask.append((ix, iy, 1))
        ps2.add_roi(pixel_mask=pixel_mask)
    return write_file(nwb, path)


def test_tutorial_pixel_masks_read_x_as_the_row(tmp_path):
    starts = [(2, 50), (30, 5)]  # x up to 33 < 40 rows, y up to 52 < 60 columns
    found = read_rois(tutorial_file(tmp_path / "tutorial.nwb", starts), image_shape=SHAPE)
    for entry, (x, y) in zip(found.rois, starts, strict=True):
        expected = np.zeros(SHAPE, bool)
        expected[x : x + 4, y : y + 3] = True  # the tutorial's 4 x 3 region: 4 rows, 3 columns
        np.testing.assert_array_equal(entry.crop.plane(SHAPE), expected)
        assert entry.weights is None  # every weight is 1
    assert [r.id for r in found.rois] == [0, 1] and {r.mask_group for r in found.rois} == {-1}
    assert read_rois(tmp_path / "tutorial.nwb").image_shape == SHAPE  # the reference frames'


def test_image_to_pixel_and_our_reader_agree(tmp_path):
    """pynwb's PlaneSegmentation.image_to_pixel turns an image mask into (x, y, weight)
    triplets; read back, they are the image mask's pixels and weights."""
    image_mask = np.zeros(SHAPE)
    image_mask[3:6, 40:44] = 0.5
    image_mask[4, 41] = 0.75
    image_mask[35, 2] = 1.0
    nwb = new_file()
    device = nwb.create_device(name="Microscope", description="a microscope")
    plane = nwb.create_imaging_plane(
        name="ImagingPlane",
        optical_channel=OpticalChannel(name="green", description="green", emission_lambda=510.0),
        imaging_rate=30.0,
        description="layer 2/3",
        device=device,
        excitation_lambda=920.0,
        indicator="GCaMP6f",
        location="VISp",
    )
    module = nwb.create_processing_module(name="ophys", description="optical physiology")
    segmentation = ImageSegmentation()
    module.add(segmentation)
    table = segmentation.create_plane_segmentation(
        name="PlaneSegmentation", description="cells", imaging_plane=plane
    )
    table.add_roi(pixel_mask=PlaneSegmentation.image_to_pixel(image_mask))
    found = read_rois(write_file(nwb, tmp_path / "pixels.nwb"), image_shape=SHAPE)
    (entry,) = found.rois
    np.testing.assert_array_equal(entry.crop.plane(SHAPE), image_mask > 0)
    np.testing.assert_array_equal(weight_plane(entry), image_mask)
    assert found.image_shape is None  # no image size in the file: the caller's applies


# -- suite2p's NWB export (suite2p/io/nwb.py, save_nwb) ------------------------------------------
STAT = [  # ypix: rows, xpix: columns; column 50 lies outside the image if read as a row
    {
        "ypix": np.array([3, 3, 4]),
        "xpix": np.array([50, 51, 50]),
        "lam": np.array([0.5, 0.25, 1.0]),
    },
    {"ypix": np.array([30]), "xpix": np.array([10]), "lam": np.array([2.0])},
]
ISCELL = np.array([[1.0, 0.9], [0.0, 0.2]])


def suite2p_file(path, stat=STAT, planes=(0,), fs=30.0):
    """A file as save_nwb writes it: the TwoPhotonSeries' dimension is [Ly, Lx], each pixel
    mask is np.array([ypix, xpix, lam]).T (a voxel mask adds iplane), plus iscell and F."""
    ly, lx = SHAPE
    multiplane = len(planes) > 1
    nwb = NWBFile(
        session_description="suite2p_proc", identifier="suite2p", session_start_time=START
    )
    device = nwb.create_device(
        name="Microscope",
        description="My two-photon microscope",
        manufacturer="The best microscope manufacturer",
    )
    optical_channel = OpticalChannel(
        name="OpticalChannel", description="an optical channel", emission_lambda=500.0
    )
    imaging_plane = nwb.create_imaging_plane(
        name="ImagingPlane",
        optical_channel=optical_channel,
        imaging_rate=fs,
        description="standard",
        device=device,
        excitation_lambda=600.0,
        indicator="GCaMP",
        location="V1",
        grid_spacing=([2.0, 2.0, 30.0] if multiplane else [2.0, 2.0]),
        grid_spacing_unit="microns",
    )
    frames = 50
    external = {"num_samples": frames} if _takes_num_samples() else {}  # pynwb >= 3 asks
    image_series = TwoPhotonSeries(
        name="TwoPhotonSeries",
        dimension=[ly, lx],
        external_file=[""],
        imaging_plane=imaging_plane,
        starting_frame=[0],
        format="external",
        starting_time=0.0,
        rate=fs * len(planes),
        **external,
    )
    nwb.add_acquisition(image_series)
    img_seg = ImageSegmentation()
    ps = img_seg.create_plane_segmentation(
        name="PlaneSegmentation",
        description="suite2p output",
        imaging_plane=imaging_plane,
        reference_images=image_series,
    )
    ophys_module = nwb.create_processing_module(
        name="ophys", description="optical physiology processed data"
    )
    ophys_module.add(img_seg)
    for n, iplane in zip(range(len(stat)), np.resize(planes, len(stat)), strict=True):
        npix = len(stat[n]["ypix"])
        if multiplane:
            pixel_mask = np.array(
                [stat[n]["ypix"], stat[n]["xpix"], iplane * np.ones(npix), stat[n]["lam"]]
            )
            ps.add_roi(voxel_mask=pixel_mask.T)
        else:
            pixel_mask = np.array([stat[n]["ypix"], stat[n]["xpix"], stat[n]["lam"]])
            ps.add_roi(pixel_mask=pixel_mask.T)
    ps.add_column("iscell", "two columns - iscell & probcell", ISCELL[: len(stat)])
    region = ps.create_roi_table_region(
        region=list(range(len(stat))), description="ROIs for plane0"
    )
    fluorescence = Fluorescence(name="Fluorescence")
    fluorescence.create_roi_response_series(
        name="plane0", data=np.zeros((frames, len(stat))), rois=region, unit="lumens", rate=fs
    )
    ophys_module.add(fluorescence)
    return write_file(nwb, path)


def _takes_num_samples() -> bool:
    from hdmf.utils import get_docval

    return any(arg["name"] == "num_samples" for arg in get_docval(TwoPhotonSeries.__init__))


def expected_suite2p_weights(index) -> np.ndarray:
    plane = np.zeros(SHAPE)
    plane[STAT[index]["ypix"], STAT[index]["xpix"]] = STAT[index]["lam"]
    return plane


def test_suite2p_pixel_masks_read_ypix_as_rows_with_lam_iscell_and_the_image_size(tmp_path):
    found = read_rois(suite2p_file(tmp_path / "suite2p.nwb"), image_shape=SHAPE)
    assert [r.id for r in found.rois] == [0, 1]
    assert [r.mask_group for r in found.rois] == [1, 0]  # iscell, as suite2p's stat.npy reader
    for index, entry in enumerate(found.rois):
        np.testing.assert_array_equal(weight_plane(entry), expected_suite2p_weights(index))
        np.testing.assert_array_equal(entry.crop.plane(SHAPE), expected_suite2p_weights(index) > 0)
    assert read_rois(tmp_path / "suite2p.nwb").image_shape == SHAPE  # dimension [Ly, Lx]


def test_weights_survive_read_write_read(tmp_path):
    first = read_rois(suite2p_file(tmp_path / "suite2p.nwb"))
    write_nwb(tmp_path / "ours.nwb", first)
    again = read_rois(tmp_path / "ours.nwb", image_shape=SHAPE)
    for index, entry in enumerate(again.rois):
        np.testing.assert_array_equal(weight_plane(entry), expected_suite2p_weights(index))
    assert [(r.id, r.mask_group) for r in again.rois] == [(0, 1), (1, 0)]
    # ROIs without weights stay plain masks
    plain = RoiSet([RoiEntry(7, MaskCrop(2, 3, np.ones((2, 2), bool)))], image_shape=SHAPE)
    write_nwb(tmp_path / "plain.nwb", plain)
    (entry,) = read_rois(tmp_path / "plain.nwb").rois
    assert (
        entry.weights is None
        and entry.crop.area == 4
        and (entry.crop.top, entry.crop.left) == (2, 3)
    )


def test_voxel_masks_of_one_plane_read_as_2d_and_of_several_are_refused(tmp_path):
    one = suite2p_file(tmp_path / "one.nwb", planes=(2, 2))  # voxel masks, all at z = 2
    found = read_rois(one)
    for index, entry in enumerate(found.rois):
        np.testing.assert_array_equal(weight_plane(entry), expected_suite2p_weights(index))
    two = suite2p_file(tmp_path / "two.nwb", planes=(0, 1))
    with pytest.raises(RoiFileError) as caught:
        read_rois(two)
    message = str(caught.value)
    assert message.startswith(str(two)) and "lie in 2 z-planes (0, 1)" in message
    assert "expected the ROIs of one plane" in message


def test_pixel_masks_without_an_image_size_take_the_callers(tmp_path):
    path = tmp_path / "bare.nwb"
    nwb = new_file()
    plane = nwb.create_imaging_plane(
        name="ImagingPlane",
        optical_channel=OpticalChannel(name="c", description="green", emission_lambda=510.0),
        imaging_rate=30.0,
        description="plane",
        device=nwb.create_device(name="Microscope", description="microscope"),
        excitation_lambda=920.0,
        indicator="GCaMP6f",
        location="VISp",
    )
    module = nwb.create_processing_module(name="ophys", description="ophys")
    segmentation = ImageSegmentation()
    module.add(segmentation)
    table = segmentation.create_plane_segmentation(
        name="PlaneSegmentation", description="cells", imaging_plane=plane
    )
    table.add_roi(pixel_mask=[(35, 55, 1.0)])
    write_file(nwb, path)
    assert read_nwb_rois(path).image_shape is None
    (entry,) = read_rois(path, image_shape=SHAPE).rois
    assert (entry.crop.top, entry.crop.left) == (35, 55)
    with pytest.raises(RoiFileError, match="ROI 0 lies outside the 50x50 image"):
        read_rois(path, image_shape=(50, 50))  # row 35 fits, column 55 does not


# -- our writer and nwbinspector -----------------------------------------------------------------
@pytest.fixture
def cells():
    from napari_roimasks.core.rings import roi_crops_from_labels
    from napari_roimasks.synthetic import place_cells

    labels = place_cells(SHAPE, 6, seed=2)
    crops = roi_crops_from_labels(labels)
    return RoiSet(
        [RoiEntry(k, c, k % 3 - 1) for k, c in crops.items()], image_shape=SHAPE, kind="test"
    )


def with_traces(rois):
    rng = np.random.default_rng(5)
    n = len(rois.rois)
    f, fneu = rng.normal(1000, 50, (n, 200)), rng.normal(300, 20, (n, 200))
    r = np.linspace(0.5, 0.9, n)
    neuropils = [MaskCrop(e.crop.top, 0, np.ones((2, 3), bool)) for e in rois.rois]
    traces = {"roi": f, "neuropil": fneu, "corrected": f - r[:, None] * fneu, "r": r}
    return {"neuropils": neuropils, "traces": traces}


def inspect(path):
    from nwbinspector import inspect_nwbfile

    return list(inspect_nwbfile(nwbfile_path=str(path)))


@pytest.mark.parametrize("contents", ["rois only", "rois, neuropil masks and traces"])
@pytest.mark.parametrize("session", [None, FULL_SESSION], ids=["default session", "full session"])
def test_nwbinspector_finds_nothing_to_fix(tmp_path, cells, contents, session):
    pytest.importorskip("nwbinspector")
    extra = with_traces(cells) if contents != "rois only" else {}
    path = write_nwb(tmp_path / "out.nwb", cells, session=session, **extra)
    messages = inspect(path)
    by_importance = {}
    for message in messages:
        by_importance.setdefault(message.importance.name, []).append(message.check_function_name)
    assert "BEST_PRACTICE_VIOLATION" not in by_importance, messages
    expected_critical = [] if session is not None else ["check_subject_exists"]
    assert by_importance.get("CRITICAL", []) == expected_critical, messages
    # every description is filled, none a placeholder
    assert not {"check_description", "check_empty_string_for_optional_attribute"} & {
        m.check_function_name for m in messages
    }, messages
    if session is not None:
        assert messages == []


def test_the_session_and_traces_are_in_the_file(tmp_path, cells):
    extra = with_traces(cells)
    path = write_nwb(tmp_path / "out.nwb", cells, session=FULL_SESSION, **extra)
    with NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        assert nwb.session_description == FULL_SESSION.session_description
        assert list(nwb.experimenter) == ["Doe, Jane", "Roe, Rick"]
        assert (nwb.institution, nwb.lab) == (
            "Allen Institute for Brain Science",
            "Optical physiology",
        )
        assert nwb.session_start_time == START
        assert list(nwb.keywords[:]) == ["V1", "orientation tuning"]
        subject = nwb.subject
        assert (subject.subject_id, subject.species, subject.sex, subject.age) == (
            "m-123",
            "Mus musculus",
            "F",
            "P90D",
        )
        plane = nwb.imaging_planes["ImagingPlane"]
        assert (plane.indicator, plane.location) == ("GCaMP6f", "VISp")
        assert (plane.excitation_lambda, plane.imaging_rate) == (920.0, 31.0)
        assert plane.optical_channel[0].emission_lambda == 510.0
        assert plane.device.description == "Bruker Ultima two-photon microscope"
        ophys = nwb.processing["ophys"]
        series = ophys["Fluorescence"]
        for name, key in (
            ("RoiResponseSeries", "roi"),
            ("Neuropil", "neuropil"),
            ("Corrected", "corrected"),
        ):
            np.testing.assert_array_equal(series[name].data[:], extra["traces"][key].T)
            assert series[name].rate == 31.0
        assert series["Neuropil"].rois.table.name == "NeuropilSegmentation"
        assert series["RoiResponseSeries"].rois.table.name == "PlaneSegmentation"
        table = ophys["ImageSegmentation"]["PlaneSegmentation"]
        np.testing.assert_array_equal(table["neuropil_r"].data[:], extra["traces"]["r"])
        rings = ophys["ImageSegmentation"]["NeuropilSegmentation"]
        np.testing.assert_array_equal(
            rings["image_mask"].data[0], extra["neuropils"][0].plane(SHAPE)
        )


def test_neuropils_and_traces_must_match_the_rois(tmp_path, cells):
    extra = with_traces(cells)
    with pytest.raises(
        ValueError, match=r"traces\['neuropil'\] is \(6, 199\); expected \(6, 200\)"
    ):
        write_nwb(
            tmp_path / "a.nwb",
            cells,
            traces={"roi": extra["traces"]["roi"], "neuropil": extra["traces"]["neuropil"][:, 1:]},
        )
    with pytest.raises(ValueError, match="2 neuropil masks for 6 ROIs"):
        write_nwb(tmp_path / "b.nwb", cells, neuropils=extra["neuropils"][:2])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"sex": "female"}, "sex: 'female' is not one of U"),
        ({"subject_id": "m1"}, "species: an animal is described by subject_id, species and age"),
        (
            {"subject_id": "m1", "species": "mouse", "age": "P90D"},
            "species: 'mouse' is neither a Latin binomial",
        ),
        (
            {"subject_id": "m1", "species": "Mus musculus", "age": "90 days"},
            "age: '90 days' is not an ISO 8601 duration",
        ),
        (
            {"subject_id": "a/b", "species": "Mus musculus", "age": "P90D"},
            "subject_id: 'a/b' must not contain '/'",
        ),
        (
            {"excitation_wavelength": 0.92},
            "excitation_wavelength: 0.92 is not a wavelength in nanometres",
        ),
        ({"imaging_rate": 0}, "imaging_rate: 0 is not a frame rate"),
        ({"indicator": "  "}, "indicator: must not be empty"),
        (
            {"session_start_time": datetime.now(timezone.utc) + timedelta(days=2)},
            "session_start_time: .* is in the future",
        ),
    ],
)
def test_a_bad_session_field_is_refused_by_name(given, message):
    with pytest.raises(ValueError, match=message):
        NwbSession(**given)


def test_session_fields_are_tidied():
    session = NwbSession(
        experimenter="Doe, Jane",
        keywords=[" V1 ", ""],
        lab="  ",
        session_start_time=datetime(2024, 5, 1, 10, 30),
        subject_id="m1",
        species="Mus musculus",
        age="P60D/P90D",
    )
    assert session.experimenter == ("Doe, Jane",) and session.keywords == ("V1",)
    assert session.lab is None  # empty is "not given"
    assert session.session_start_time.tzinfo is not None  # the local time zone
    assert session.has_subject and not NwbSession().has_subject


# -- bad files -----------------------------------------------------------------------------------
def no_image_segmentation(path):
    nwb = new_file()
    nwb.create_processing_module(name="behavior", description="nothing of ours")
    return write_file(nwb, path)


def plain_hdf5(path):
    with h5py.File(path, "w") as f:
        f["data"] = np.zeros((3, 4, 4))
    return path


def text_file(path):
    path.write_text("not an NWB file")
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (text_file, "not a readable NWB file (expected an NWB 2 HDF5 file)"),
        (plain_hdf5, "not a readable NWB file (expected an NWB 2 HDF5 file)"),
        (no_image_segmentation, "no ROIs; expected an ImageSegmentation with a PlaneSegmentation"),
    ],
    ids=["text", "hdf5", "no segmentation"],
)
def test_a_bad_file_is_one_line_naming_it(tmp_path, make, message):
    path = make(tmp_path / "broken.nwb")
    with pytest.raises(RoiFileError) as caught:
        read_rois(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: ") and message in text
    assert "\n" not in text and "Traceback" not in text


def test_without_pynwb_the_message_says_how_to_install_it(tmp_path, monkeypatch, cells):
    path = tutorial_file(tmp_path / "tutorial.nwb", [(2, 5)])
    monkeypatch.setitem(sys.modules, "pynwb", None)  # import pynwb raises ImportError
    for action in (lambda: read_rois(path), lambda: write_nwb(tmp_path / "new.nwb", cells)):
        with pytest.raises(RoiFileError) as caught:
            action()
        assert str(caught.value).startswith(str(tmp_path))
        assert "pip install 'napari-roimasks[nwb]'" in str(caught.value)
    assert not (tmp_path / "new.nwb").exists()


def test_the_writer_refuses_what_nwb_cannot_hold(tmp_path, cells):
    with pytest.raises(RoiFileError, match="no ROIs to write"):
        write_nwb(tmp_path / "empty.nwb", RoiSet([], image_shape=SHAPE))
    with pytest.raises(RoiFileError, match="need the image size"):
        write_nwb(tmp_path / "no_size.nwb", RoiSet(cells.rois))
    write_nwb(tmp_path / "once.nwb", cells)
    with pytest.raises(FileExistsError):
        write_nwb(tmp_path / "once.nwb", cells)
