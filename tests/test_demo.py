"""The text-only tour of the API prints what it found."""

from napari_roimasks.demo import main


def test_demo_reports_excluded_rois_and_trace_quality(capsys):
    assert main(["--frames", "120", "--cells", "15", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "synthetic recording: 120 frames of 256x256 pixels, 15 cells" in out
    assert "extracted 30 traces (ROI + neuropil)" in out
    correlation = float(out.split("median correlation ")[1].split()[0])
    assert correlation > 0.9
