"""ARD / ARE on known rotations: the reductions by hand, the fit on synthetic points, real FaceMesh
on a photograph turned by known angles."""

import cv2
import numpy as np
import pytest
from tests.face_3dmm import synthetic_clip, synthetic_model

from headgan_model.metrics.head_pose import (
    HeadAngles,
    HeadPoseEstimator,
    average_rotation_distance,
    average_rotation_error,
    ard,
    are,
    wrap_degrees,
)
from headgan_prep.demo.generate import demo_portrait
from headgan_prep.fit.algorithm import FitConfig
from headgan_prep.landmarks.shard import LandmarksConfig, make_landmarker
from headgan_prep.morphable.model import MorphableModel


def angles(euler, valid=None):
    euler = np.asarray(euler, np.float64)
    return HeadAngles(euler, np.ones(len(euler), bool) if valid is None else np.asarray(valid, bool))


def test_ard_by_hand():
    driving = angles([[0, 0, 0], [10, -20, 5], [0, 0, 0]])
    generated = angles([[3, 0, 0], [10, -14, 2], [-1, 1, 1]])
    result = average_rotation_distance(driving, generated)
    # per frame: (3 + 0 + 0) / 3, (0 + 6 + 3) / 3, (1 + 1 + 1) / 3
    assert result.value == pytest.approx((1 + 3 + 1) / 3)
    assert result.details["pitch"] == pytest.approx(4 / 3) and result.details["yaw"] == pytest.approx(7 / 3)
    assert result.details["roll"] == pytest.approx(4 / 3) and result.details["l1_sum"] == pytest.approx(5.0)
    assert result.warnings == () and result.details["frames"] == 3.0
    with pytest.raises(ValueError, match="differ in number"):
        average_rotation_distance(driving, angles([[0, 0, 0]]))


def test_angle_differences_wrap():
    np.testing.assert_allclose(wrap_degrees([179 - (-179), -350, 180, 10]), [-2, 10, -180, 10])
    result = average_rotation_distance(angles([[0, 0, 179]]), angles([[0, 0, -179]]))
    assert result.value == pytest.approx(2 / 3)


def test_are_and_invalid_frames():
    generated = angles([[5, -5, 2], [np.nan] * 3, [-1, 0, 0]], valid=[True, False, True])
    result = average_rotation_error(generated)
    assert result.value == pytest.approx((12 / 3 + 1 / 3) / 2)
    assert "1 of 3 frames" in result.warnings[0] and result.details["frames"] == 2.0
    none = average_rotation_error(angles([[np.nan] * 3], valid=[False]))
    assert none.value is None and "no head pose" in none.missing


class KnownPoints:
    """Stand-in landmark backend returning given points (pixels) with full scores."""

    def __init__(self, points):
        self.points = points

    def locate(self, frames):
        return self.points[: len(frames)], np.ones(len(frames), np.float32)


def test_estimator_recovers_known_rotations():
    model = synthetic_model()
    clip = synthetic_clip(model, n_frames=12, max_yaw=50)
    estimator = HeadPoseEstimator(KnownPoints(clip.points), model, LandmarksConfig(), FitConfig(iterations=3))
    frames = np.zeros((12, 256, 256, 3), np.uint8)
    measured = estimator.angles(frames)
    assert measured.valid.all()
    np.testing.assert_allclose(measured.euler, clip.euler, atol=1e-2)
    assert are(frames, estimator).value == pytest.approx(np.abs(clip.euler).mean(), abs=1e-2)
    assert ard(frames, frames, estimator).value == pytest.approx(0, abs=1e-6)
    turned = HeadPoseEstimator(KnownPoints(clip.points[::-1].copy()), model, LandmarksConfig(), FitConfig(iterations=3))
    expected = np.abs(wrap_degrees(clip.euler[::-1] - clip.euler)).mean()
    reversed_ard = average_rotation_distance(estimator.angles(frames), turned.angles(frames))
    assert reversed_ard.value == pytest.approx(expected, abs=1e-2)


def rotate(image, degrees):
    """The image turned counter-clockwise on screen by ``degrees`` about its centre."""
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def test_facemesh_and_fit_measure_the_roll_of_a_turned_photograph(require_model, models_dir):
    """The astronaut's demo portrait turned by known in-plane angles: the measured roll follows,
    pitch and yaw stay. A counter-clockwise turn on screen is a positive roll: with
    ``R = FRONTAL_ROTATION · Rz(roll)`` the model point (1, 0, 0) lands at (cos roll, −sin roll),
    above the centre in image coordinates (y down)."""
    for relative in ("mediapipe/face_landmark.tflite", "mediapipe/face_detection_short_range.tflite"):
        require_model(relative)
    crop = cv2.resize(np.ascontiguousarray(demo_portrait(0).rgba[..., :3]), (256, 256), interpolation=cv2.INTER_AREA)
    cfg = LandmarksConfig(roi="detect", detect_every=1)
    landmarker = make_landmarker(cfg, models_dir)
    points, score = landmarker.locate(crop[None])
    assert score[0] > cfg.min_score
    # a one-identity model whose mean is this face (model axes: x right, y up, z towards the viewer)
    mean = points[0].astype(np.float64) * [1, -1, -1]
    mean -= mean.mean(axis=0)
    basis, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(mean.size, 2)))
    model = MorphableModel(mean, basis[:, :1], basis[:, 1:], [[0, 1, 2]], np.arange(len(mean)), name="astronaut")
    estimator = HeadPoseEstimator(landmarker, model, cfg, FitConfig())
    turns = np.array([0.0, 12.0, -8.0, 20.0])
    measured = estimator.angles(np.stack([rotate(crop, t) for t in turns]))
    assert measured.valid.all()
    np.testing.assert_allclose(measured.euler[0], 0, atol=0.5)
    np.testing.assert_allclose(measured.euler[:, 2], turns, atol=1.5)
    np.testing.assert_allclose(measured.euler[:, :2], 0, atol=2.5)
    frontal = estimator.angles(np.stack([crop] * 4))
    result = average_rotation_distance(frontal, measured)
    assert result.details["roll"] == pytest.approx(np.abs(turns).mean(), abs=1.5)
