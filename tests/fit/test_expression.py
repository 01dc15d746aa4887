"""Expression error: openings of known contours, and of fits that follow or miss the landmarks."""

import numpy as np
import pytest

from headgan_prep.fit.algorithm import FitConfig, Fitter
from headgan_prep.fit.expression import expression_error, nearest_points, openings
from headgan_prep.morphable.model import MorphableModel
from tests.face_3dmm import synthetic_clip


def face_points(mouth_gap: float, eye_gaps=(6.0, 6.0)) -> np.ndarray:
    """68 points whose inner lips (60–67) are a 40-px-wide hexagon-like ring with ``mouth_gap``
    between the lips, and whose eyes are 30 px wide with the given gaps; the rest on a circle."""
    points = np.zeros((68, 2))
    points[:] = np.c_[np.cos(np.arange(68)), np.sin(np.arange(68))] * 100 + 128
    # inner lips: corners 60 (x 108) and 64 (x 148); upper 61–63 and lower 65–67 at ±gap/2
    points[60], points[64] = (108, 180), (148, 180)
    points[61:64] = np.c_[[118, 128, 138], np.full(3, 180 - mouth_gap / 2)]
    points[65:68] = np.c_[[138, 128, 118], np.full(3, 180 + mouth_gap / 2)]
    for first, cx, gap in ((36, 90, eye_gaps[0]), (42, 166, eye_gaps[1])):
        points[first], points[first + 3] = (cx - 15, 100), (cx + 15, 100)
        points[first + 1 : first + 3] = np.c_[[cx - 5, cx + 5], np.full(2, 100 - gap / 2)]
        points[first + 4 : first + 6] = np.c_[[cx + 5, cx - 5], np.full(2, 100 + gap / 2)]
    return points


def test_openings_are_the_mean_gap_of_each_contour():
    # hexagon of width 40 with a flat top and bottom 20 px long: area = gap · (40 + 20) / 2
    assert openings(face_points(12.0))[0] == pytest.approx(12.0 * 30 / 40)
    # eyes: width 30, flat part 10: area = gap · 20
    np.testing.assert_allclose(openings(face_points(0.0, (6.0, 2.0)))[1:], [6.0 * 20 / 30, 2.0 * 20 / 30])
    assert openings(face_points(0.0))[0] == 0.0
    stacked = np.stack([face_points(g) for g in (4.0, 8.0)])
    np.testing.assert_allclose(openings(stacked)[:, 0], [3.0, 6.0])


def mouth_model() -> MorphableModel:
    """A flat 68-point model: the face of :func:`face_points` (y up), one identity component
    (widening the face), expression components opening the mouth and closing the eyes."""
    closed = face_points(0.0, (0.0, 0.0))
    mean = np.c_[closed[:, 0] - 128, 128 - closed[:, 1], np.sin(np.arange(68)) * 20]
    opened = face_points(2.0, (0.0, 0.0)) - closed
    blinked = face_points(0.0, (2.0, 2.0)) - closed
    widen = np.c_[closed[:, 0] - 128, np.zeros(68)]
    flat = [np.c_[d[:, 0], -d[:, 1], np.zeros(68)].ravel() for d in (widen, opened, blinked)]
    q, _ = np.linalg.qr(np.stack(flat, axis=1))
    return MorphableModel(mean, q[:, :1], q[:, 1:], [[0, 1, 2]], np.arange(68), name="mouth")


def clip_points(model: MorphableModel, gaps: np.ndarray, eye_gaps: np.ndarray) -> np.ndarray:
    """Frontal image points (y down) of the model's face with the given mouth and eye gaps."""
    frames = []
    for gap, eye in zip(gaps, eye_gaps):
        image = face_points(gap, (eye, eye))
        frames.append(np.c_[image, -model.mean[:, 2]])
    return np.asarray(frames, np.float32)


def test_a_fit_that_follows_the_landmarks_has_no_error_and_one_without_expression_has_it():
    model = mouth_model()
    gaps, eye_gaps = np.linspace(0, 30, 16), np.linspace(8, 0, 16)
    points = clip_points(model, gaps, eye_gaps)
    fit = Fitter(model, FitConfig()).fit(points)
    found, error = expression_error(model, fit, points, points)
    np.testing.assert_allclose(found[:, 0, 0], gaps * 30 / 40, atol=1e-4)
    np.testing.assert_allclose(found[:, 1:, 0], np.c_[eye_gaps, eye_gaps] * 20 / 30, atol=1e-4)
    # the opening moves the points' centroid and spread a little, which the alignment takes in
    np.testing.assert_allclose(found[..., 1], found[..., 0], atol=0.1)
    assert np.nanmax(error) < 1e-3
    # the same fit with its expression dropped keeps a closed mouth and closed eyes
    from dataclasses import replace

    frozen = replace(fit, expression=np.zeros_like(fit.expression))
    _, error = expression_error(model, frozen, points, points)
    expected = np.maximum(gaps * 30 / 40, eye_gaps * 20 / 30) / (181 - 75)  # outer eye corners x 75, 181
    np.testing.assert_allclose(error, expected, atol=2e-3)


def test_invalid_frames_are_nan_and_nearest_points_are_exact_for_included_points():
    model = mouth_model()
    points = clip_points(model, np.full(4, 10.0), np.full(4, 4.0))
    points[2] = np.nan
    fit = Fitter(model, FitConfig()).fit(points)
    found, error = expression_error(model, fit, points, points)
    assert np.isnan(error[2]) and np.isnan(found[2]).all() and np.isfinite(error[[0, 1, 3]]).all()
    rng = np.random.default_rng(0)
    dense = rng.normal(size=(5, 200, 3)) * 50
    order = rng.permutation(200)[:68]
    np.testing.assert_array_equal(nearest_points(dense, dense[:, order], np.ones(5, bool)), order)


def test_random_model_fit_without_noise_has_no_expression_error():
    from tests.face_3dmm import synthetic_model

    model = synthetic_model(n_vertices=120, n_id=10, n_exp=5)
    clip = synthetic_clip(model, n_frames=20, noise_px=0.0)
    fit = Fitter(model, FitConfig(iterations=3)).fit(clip.points)
    _, error = expression_error(model, fit, clip.points, clip.points[:, :68])
    assert np.nanmax(error) < 1e-3
