"""ImageJ ROIs read and written with exactly the pixels ImageJ (1.53t, Debian's) counts inside them.

The reference files in ``tests/data/imagej`` were made and measured by ImageJ
itself (see their README). The tests marked ``needs_imagej`` run ImageJ at
test time and are skipped where java, ``/usr/share/java/ij.jar`` or xvfb-run
are missing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import roifile

from napari_roimasks.core import MaskCrop
from napari_roimasks.io.formats.imagej import FORMAT, read_imagej, write_imagej_zip
from napari_roimasks.io.roi_files import RoiEntry, RoiFileError, RoiSet

DATA = Path(__file__).parents[1] / "data" / "imagej"
REFERENCE = DATA / "reference_rois.zip"
IMAGEJ_JAR = Path("/usr/share/java/ij.jar")
needs_imagej = pytest.mark.skipif(
    not (shutil.which("java") and shutil.which("xvfb-run") and IMAGEJ_JAR.exists()),
    reason="needs java, xvfb-run and ImageJ at /usr/share/java/ij.jar",
)
SHAPE = (64, 80)


def imagej_points(path: Path) -> dict[str, set[tuple[int, int]]]:
    """Each ROI's pixels as ImageJ listed them: ``name<TAB>x,y x,y ...`` per line."""
    points = {}
    for line in path.read_text().splitlines():
        name, _, listed = line.partition("\t")
        points[name] = {tuple(int(float(v)) for v in xy.split(",")) for xy in listed.split()}
    return points


def our_points(crop: MaskCrop | None) -> set[tuple[int, int]]:
    """A mask's pixels as ImageJ's (x, y)."""
    if crop is None:
        return set()
    rows, columns = np.nonzero(crop.pixels)
    return set(zip((columns + crop.left).tolist(), (rows + crop.top).tolist(), strict=True))


def _member(name: str) -> bytes:
    with zipfile.ZipFile(REFERENCE) as archive:
        return archive.read(f"{name}.roi")


# -- (a) the reference ROIs ------------------------------------------------------------------
REFERENCE_NAMES = [
    "oval",
    "oval even",
    "oval subpixel",
    "rounded rectangle",
    "rectangle",
    "rectangle subpixel",
    "concave polygon",
    "polygon half-integer",
    "freehand",
    "freehand subpixel",
    "traced",
    "ellipse",
    "rotated rectangle",
    "band",
    "or",
    "or in pieces",
    "rectangle with a hole",
    "xor",
]


@pytest.fixture(scope="module")
def reference_points():
    return imagej_points(DATA / "contained_points.txt")


def test_the_reference_holds_every_kind_of_area_roi(reference_points):
    rois = read_imagej(REFERENCE, image_shape=SHAPE)
    assert [r.id for r in rois.rois] == REFERENCE_NAMES == list(reference_points)
    for roi in rois.rois:
        assert our_points(roi.crop) == reference_points[roi.id], roi.id


@pytest.mark.parametrize("name", REFERENCE_NAMES)
def test_each_reference_roi_covers_the_pixels_imagej_counts(tmp_path, reference_points, name):
    # one .roi at a time, so that each kind of ROI fails on its own
    path = tmp_path / f"{name}.roi"
    path.write_bytes(_member(name))
    (roi,) = read_imagej(path, image_shape=SHAPE).rois
    ours, imagej = our_points(roi.crop), reference_points[name]
    assert roi.id == name
    assert ours == imagej, (
        f"{name}: {len(ours)} pixels, ImageJ {len(imagej)}; "
        f"only ours {sorted(ours - imagej)[:8]}, only ImageJ's {sorted(imagej - ours)[:8]}"
    )


def test_files_imagej_wrote_keep_the_image_size_the_caller_gives():
    assert read_imagej(REFERENCE, image_shape=SHAPE).image_shape == SHAPE
    assert read_imagej(REFERENCE).image_shape is None


def test_rois_reaching_past_the_image_keep_their_pixels_inside_it():
    clipped = read_imagej(REFERENCE, image_shape=(30, 40))
    full = read_imagej(REFERENCE, image_shape=SHAPE)
    for small, large in zip(clipped.rois, full.rois, strict=True):
        inside = {(x, y) for x, y in our_points(large.crop) if x < 40 and y < 30}
        assert our_points(small.crop) == inside


# -- (b) random ROIs, made and measured by ImageJ at test time ----------------------------------
MEASURE = """
roiManager("Reset");
roiManager("Open", dir + "{zip}");
f = File.open(dir + "points.txt");
for (i = 0; i < roiManager("count"); i++) {{
	roiManager("Select", i);
	Roi.getContainedPoints(px, py);
	line = Roi.getName + "\\t";
	for (k = 0; k < px.length; k++)
		line = line + px[k] + "," + py[k] + " ";
	print(f, line);
}}
File.close(f);
{resave}
"""

KEEP = """
function keep(name) {
	roiManager("Add");
	roiManager("Select", roiManager("count") - 1);
	roiManager("Rename", name);
	run("Select None");
}
"""


def run_imagej(folder: Path, body: str) -> None:
    """Run an ImageJ macro with ``dir`` set to ``folder``; it must write ``points.txt``."""
    macro = folder / "macro.ijm"
    macro.write_text(f'dir = "{folder}/";\n{body}')
    done = subprocess.run(
        ["xvfb-run", "-a", "java", "-jar", str(IMAGEJ_JAR), "-batch", str(macro)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (folder / "points.txt").exists(), f"ImageJ failed:\n{done.stdout}\n{done.stderr}"


def _numbers(values) -> str:
    return ", ".join(f"{v:.6g}" for v in values)


def _selection(kind: str, xs, ys) -> str:
    return f'makeSelection("{kind}", newArray({_numbers(xs)}), newArray({_numbers(ys)}));'


def random_rois(rng, size=(160, 200)) -> list[tuple[str, str]]:
    """(kind, ImageJ macro making one ROI) for many random area ROIs inside ``size``."""
    height, width = size
    made = []

    def corner(margin):
        return rng.uniform(margin, width - margin), rng.uniform(margin, height - margin)

    for i in range(50):
        n = int(rng.integers(3, 12))
        cx, cy = corner(25)
        xs, ys = cx + rng.uniform(-20, 20, n), cy + rng.uniform(-20, 20, n)
        if i % 2 == 0:
            xs, ys = np.round(xs), np.round(ys)
        elif i % 4 == 1:  # half-integers: edges along rows and columns of pixel centres
            xs, ys = np.round(xs) + 0.5, np.round(ys) + 0.5
        made.append(("polygon", _selection("polygon", xs, ys)))
    for i in range(30):
        n = int(rng.integers(12, 40))
        cx, cy = corner(25)
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        radii = rng.uniform(4, 18, n)
        xs, ys = cx + radii * np.cos(angles), cy + radii * np.sin(angles)
        if i % 2 == 0:
            xs, ys = np.round(xs), np.round(ys)
        kind = "traced" if i % 5 == 0 else "freehand"
        if kind == "traced":  # ImageJ's traced ROIs have integer corners
            xs, ys = np.round(xs), np.round(ys)
        made.append((kind, _selection(kind, xs, ys)))
    for i in range(40):
        x, y = corner(25)
        w, h = rng.uniform(1, 30, 2)
        if i % 2 == 0:
            x, y, w, h = np.round([x, y, w, h])
        made.append(("oval", f"makeOval({_numbers([x, y, w, h])});"))
    for _ in range(40):
        x, y = np.round(corner(25))
        w, h = np.round(rng.uniform(2, 30, 2))
        arc = int(rng.integers(1, 36))
        made.append(("rounded rectangle", f"makeRectangle({_numbers([x, y, w, h])}, {arc});"))
    for _ in range(40):
        (x1, y1), (dx, dy) = corner(30), rng.uniform(-20, 20, 2)
        aspect = rng.uniform(0.05, 1.0)
        made.append(("ellipse", f"makeEllipse({_numbers([x1, y1, x1 + dx, y1 + dy, aspect])});"))
    for i in range(40):
        (x1, y1), (dx, dy) = corner(30), rng.uniform(-20, 20, 2)
        if i % 8 == 0:
            dx = 0.0  # upright
        elif i % 8 == 1:
            dy = 0.0  # lying
        elif i % 8 == 2:
            x1, y1, dx, dy = np.round([x1, y1, dx, dy])
        line = _numbers([x1, y1, x1 + dx, y1 + dy, rng.uniform(1, 15)])
        made.append(("rotated rectangle", f"makeRotatedRectangle({line});"))
    for i in range(30):
        (x, y), (w, h) = corner(35), rng.uniform(4, 24, 2)
        x2, y2 = x + rng.uniform(-10, 10), y + rng.uniform(-10, 10)
        w2, h2 = rng.uniform(4, 20, 2)
        first = f"makeOval({_numbers([x, y, w, h])});"
        how = ("band", "or", "with a hole", "or apart")[i % 4]
        if how == "band":
            macro = f'{first} run("Make Band...", "band={int(rng.integers(1, 6))}");'
        elif how == "or":
            second = _numbers(np.round([x2, y2, w2, h2]))
            macro = f'{first} setKeyDown("shift"); makeRectangle({second});'
        elif how == "with a hole":
            hole = _numbers([x + w / 4, y + h / 4, w / 2, h / 2])
            macro = f'{first} setKeyDown("alt"); makeOval({hole});'
        else:
            macro = f'{first} setKeyDown("shift"); makeOval({_numbers([x + w + 3, y, 6, 5])});'
        made.append((f"composite {how}", macro))
    return made


@needs_imagej
def test_random_rois_cover_the_pixels_imagej_counts(tmp_path, rng):
    made = random_rois(rng)
    body = 'newImage("random", "8-bit black", 200, 160, 1);\nroiManager("Reset");\n' + KEEP
    body += "\n".join(f'{macro} keep("r{i}");' for i, (_, macro) in enumerate(made))
    body += '\nroiManager("Save", dir + "made.zip");'
    run_imagej(tmp_path, body + MEASURE.format(zip="made.zip", resave=""))
    points = imagej_points(tmp_path / "points.txt")
    ours = {r.id: our_points(r.crop) for r in read_imagej(tmp_path / "made.zip").rois}
    assert len(points) == len(made)
    wrong = {
        f"r{i} ({kind})": (len(ours[f"r{i}"] ^ points[f"r{i}"]), len(points[f"r{i}"]))
        for i, (kind, _) in enumerate(made)
        if ours[f"r{i}"] != points[f"r{i}"]
    }
    assert not wrong, f"ROIs whose pixels differ from ImageJ's (differing, ImageJ's): {wrong}"


# -- (c) what we write, as ImageJ reads it -----------------------------------------------------
def masks_with_holes_and_pieces() -> RoiSet:
    ring = np.zeros((9, 9), bool)
    ring[1:8, 1:8] = True
    ring[3:6, 3:6] = False  # a hole
    pieces = np.zeros((6, 10), bool)
    pieces[0:2, 0:3] = True
    pieces[3:6, 5:10] = True  # two pieces
    diagonal = np.eye(4, dtype=bool)  # pieces touching at corners only
    checker = (np.indices((5, 5)).sum(axis=0) % 2 == 0) | np.pad(np.ones((1, 1), bool), 2)
    blob = np.zeros((7, 8), bool)
    blob[1:6, 2:7] = True
    blob[3, 0:8] = True
    rng = np.random.default_rng(12)  # speckles: many pieces and holes, corners touching
    speckles = [
        RoiEntry(100 + k, MaskCrop(int(rng.integers(0, 50)), int(rng.integers(0, 66)), noise))
        for k, noise in enumerate(rng.random((20, 12, 14)) < 0.55)
    ]
    return RoiSet(
        [
            *speckles,
            RoiEntry(1, MaskCrop(5, 5, ring)),
            RoiEntry(2, MaskCrop(20, 30, pieces)),
            RoiEntry("diagonal", MaskCrop(0, 60, diagonal)),
            RoiEntry(7, MaskCrop(40, 2, checker)),
            RoiEntry(8, MaskCrop(50, 50, blob)),
            RoiEntry(9, MaskCrop(0, 0, np.ones((1, 1), bool))),
            RoiEntry(10, None),
        ],
        image_shape=SHAPE,
    )


def test_written_masks_come_back_exactly_holes_and_pieces_included(tmp_path):
    rois = masks_with_holes_and_pieces()
    path = write_imagej_zip(tmp_path / "RoiSet.zip", rois)
    back = read_imagej(path)
    drawn = [r for r in rois.rois if r.crop is not None]  # ImageJ has no empty ROI
    assert [r.id for r in back.rois] == [r.id for r in drawn]
    for written, read in zip(drawn, back.rois, strict=True):
        assert our_points(read.crop) == our_points(written.crop), written.id
    assert back.image_shape == SHAPE
    kinds = {r.name: (r.roitype, r.composite) for r in roifile.roiread(path)}
    assert kinds["1"] == (roifile.ROI_TYPE.RECT, True)  # a hole: a composite of two outlines
    assert kinds["8"] == (roifile.ROI_TYPE.TRACED, False)  # one piece: ImageJ's traced outline


def test_the_format_says_it_keeps_masks_ids_and_image_size():
    assert FORMAT.holds.names() == ("masks", "overlaps", "ids", "image size")


def test_nothing_to_write_is_refused(tmp_path):
    with pytest.raises(RoiFileError, match=r"RoiSet.zip: no ROI has pixels"):
        write_imagej_zip(tmp_path / "RoiSet.zip", RoiSet([RoiEntry(1, None)]))
    assert not (tmp_path / "RoiSet.zip").exists()


@needs_imagej
def test_imagej_opens_what_we_write_with_exactly_our_pixels_and_keeps_the_image_size(tmp_path):
    rois = masks_with_holes_and_pieces()
    write_imagej_zip(tmp_path / "ours.zip", rois)
    resave = 'roiManager("Save", dir + "resaved.zip");'
    image = f'newImage("ours", "8-bit black", {SHAPE[1]}, {SHAPE[0]}, 1);'
    run_imagej(tmp_path, image + MEASURE.format(zip="ours.zip", resave=resave))
    points = imagej_points(tmp_path / "points.txt")
    drawn = {str(r.id): our_points(r.crop) for r in rois.rois if r.crop is not None}
    assert points == drawn
    resaved = read_imagej(tmp_path / "resaved.zip")  # ImageJ wrote this one
    assert resaved.image_shape == SHAPE
    assert {str(r.id): our_points(r.crop) for r in resaved.rois} == drawn


# -- (d) files that are not ROIs ---------------------------------------------------------------
def test_a_truncated_roi_says_it_is_not_readable(tmp_path):
    path = tmp_path / "cut.roi"
    path.write_bytes(_member("concave polygon")[:70])
    with pytest.raises(
        RoiFileError,
        match=f"^{re.escape(str(path))}: not a readable ImageJ ROI file .*; expected an ImageJ .roi$",
    ):
        read_imagej(path)


def test_a_zip_member_that_is_not_an_roi_is_named(tmp_path):
    path = tmp_path / "RoiSet.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("oval.roi", _member("oval"))
        archive.writestr("notes.txt", "cells of session 3")
    with pytest.raises(
        RoiFileError,
        match=f"^{re.escape(str(path))}: 'notes.txt' is not an ImageJ ROI; expected the .roi files",
    ):
        read_imagej(path)


def test_an_empty_zip_is_refused(tmp_path):
    path = tmp_path / "RoiSet.zip"
    zipfile.ZipFile(path, "w").close()
    with pytest.raises(
        RoiFileError, match=f"^{re.escape(str(path))}: an empty .zip; expected the .roi files"
    ):
        read_imagej(path)


def test_a_line_imagej_drew_is_no_mask():
    path = DATA / "line.roi"
    with pytest.raises(
        RoiFileError,
        match=f"^{re.escape(str(path))}: ROI 0 \\(line\\) is an ImageJ line ROI; only polygon, "
        "freehand, traced, rectangle, oval, ellipse, rotated rectangle and composite ROIs",
    ):
        read_imagej(path)


@pytest.mark.parametrize(
    ("roitype", "options", "said"),
    [
        (roifile.ROI_TYPE.POINT, roifile.ROI_OPTIONS.NONE, "is an ImageJ point ROI; only polygon"),
        (roifile.ROI_TYPE.ANGLE, roifile.ROI_OPTIONS.NONE, "is an ImageJ angle ROI; only polygon"),
        (
            roifile.ROI_TYPE.POLYGON,
            roifile.ROI_OPTIONS.SPLINE_FIT,
            r"is fitted with a spline, which is not read; in ImageJ, turn it into a polygon",
        ),
    ],
)
def test_rois_that_are_no_masks_name_the_file_the_roi_and_the_kinds_read(
    tmp_path, roitype, options, said
):
    made = roifile.ImagejRoi.frompoints(np.array([[3, 4], [10, 4], [6, 12]]), name="cell 7")
    made.roitype, made.options = roitype, options
    good = roifile.ImagejRoi.frompoints(np.array([[3, 4], [10, 4], [6, 12]]), name="cell 6")
    path = tmp_path / "RoiSet.zip"
    roifile.roiwrite(path, [good, made])
    with pytest.raises(RoiFileError, match=f"^{re.escape(str(path))}: ROI 1 \\(cell 7\\) {said}"):
        read_imagej(path)
