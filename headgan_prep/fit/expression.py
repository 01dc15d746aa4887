"""Expression error of a fit: the mouth and eye openings of the fitted, projected shape against the
landmarks', per frame.

HeadGAN reenacts what the NMFC image shows, so a fit that closes a mouth the landmarks show open
loses the expression even with a small residual (the residual averages over all points, the lips
are a few of them). Measured per frame on the 68 iBUG points:

* **openings** ``(T, 3, 2)``: of the inner lips (iBUG 60–67), the right eye (36–41) and the left eye
  (42–47), each the polygon's area divided by the distance of its corners (60–64, 36–39, 42–45),
  i.e. the mean gap between the lids or lips in crop pixels; ``[..., 0]`` from the landmarks,
  ``[..., 1]`` from the fitted shape projected by the frame's camera.
* **expression_error** ``(T,)``: the largest of the three differences, divided by the landmarks'
  distance between the outer eye corners (36–45), so it does not depend on the face's size in the
  crop (0.1: a tenth of the eye distance, about 9 px on a face in a 256 crop).

The fitted iBUG points are the fitted points nearest to the landmarks' iBUG points on the clip's
average (FaceMesh's iBUG points are some of its 468 points, found exactly; for a regressor whose
iBUG points are not among the fitted ones, such as insightface's 1035 + 68, the nearest fitted
points stand in, and the landmark openings are then taken at the same points, so both sides measure
the same contour).
"""

from __future__ import annotations

import numpy as np

from headgan_prep.fit.algorithm import ClipFit
from headgan_prep.fit.camera import project
from headgan_prep.morphable.model import MorphableModel

OPENINGS = ("mouth", "right_eye", "left_eye")
"""The openings measured, in the order of the ``openings`` array."""
CONTOURS = (np.arange(60, 68), np.arange(36, 42), np.arange(42, 48))
"""iBUG points of the inner lips and of each eye, in contour order."""
CORNERS = ((60, 64), (36, 39), (42, 45))
"""Corner points of each contour (the width the area is divided by)."""
EYE_DISTANCE = (36, 45)
"""Outer eye corners: the face's size the error is divided by."""


def openings(points: np.ndarray) -> np.ndarray:
    """Mean gap of the inner lips and of each eye (module docstring).

    Parameters
    ----------
    points : np.ndarray
        ``(..., 68, ≥ 2)`` iBUG points, crop pixels.

    Returns
    -------
    np.ndarray
        ``(..., 3)`` float64 openings in crop pixels (:data:`OPENINGS` order).
    """
    points = np.asarray(points, np.float64)[..., :2]
    result = []
    for contour, (a, b) in zip(CONTOURS, CORNERS):
        x, y = points[..., contour, 0], points[..., contour, 1]
        area = 0.5 * np.abs((x * np.roll(y, -1, axis=-1) - np.roll(x, -1, axis=-1) * y).sum(axis=-1))
        width = np.linalg.norm(points[..., a, :] - points[..., b, :], axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            result.append(area / width)
    return np.stack(result, axis=-1)


AVERAGE_FRAMES = 50
"""Valid frames (evenly spaced) averaged for :func:`nearest_points`."""


def nearest_points(points: np.ndarray, ibug68: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Index of the point nearest each iBUG landmark, on the clip's average over (at most
    :data:`AVERAGE_FRAMES` evenly spaced) valid frames.

    Parameters
    ----------
    points : np.ndarray
        ``(T, M, 3)`` fitted points, crop pixels.
    ibug68 : np.ndarray
        ``(T, 68, 3)``.
    valid : np.ndarray
        ``(T,)`` bool, at least one true.

    Returns
    -------
    np.ndarray
        ``(68,)`` int64 indices into the M points.
    """
    frames = np.flatnonzero(valid)
    frames = frames[np.linspace(0, len(frames) - 1, min(AVERAGE_FRAMES, len(frames))).round().astype(int)]
    mean_points = np.asarray(points)[frames].mean(axis=0, dtype=np.float64)
    mean_ibug = np.asarray(ibug68)[frames].mean(axis=0, dtype=np.float64)
    distances = ((mean_ibug[:, None, :] - mean_points[None, :, :]) ** 2).sum(axis=-1)
    return distances.argmin(axis=1)


def fitted_ibug(model: MorphableModel, fit: ClipFit, vertices: np.ndarray) -> np.ndarray:
    """The fitted shape's points at model ``vertices``, projected by each frame's camera.

    Parameters
    ----------
    model : MorphableModel
    fit : ClipFit
    vertices : np.ndarray
        ``(K,)`` model vertex indices (e.g. ``fit_index`` of :func:`nearest_points`).

    Returns
    -------
    np.ndarray
        ``(T, K, 2)`` float64 crop pixels, NaN on invalid frames.
    """
    mean, id_rows, exp_rows = model.select(vertices)
    offsets = (id_rows.astype(np.float64) @ fit.identity.astype(np.float64))[None] + fit.expression.astype(
        np.float64
    ) @ exp_rows.T.astype(np.float64)
    shapes = mean.astype(np.float64) + offsets.reshape(len(offsets), -1, 3)
    return project(fit.camera.astype(np.float64), shapes)


def expression_error(
    model: MorphableModel, fit: ClipFit, points: np.ndarray, ibug68: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Openings and expression error of one fitted clip (module docstring).

    Parameters
    ----------
    model : MorphableModel
        The model fitted (its ``fit_index`` refers to ``points``).
    fit : ClipFit
    points : np.ndarray
        ``(T, M, 3)`` the fitted landmark points (``fit_index`` order), crop pixels.
    ibug68 : np.ndarray
        ``(T, 68, 3)`` the landmarks' iBUG points.

    Returns
    -------
    openings : np.ndarray
        ``(T, 3, 2)`` float32 [mouth, right eye, left eye] × [landmarks, fit], crop pixels.
    error : np.ndarray
        ``(T,)`` float32; both NaN on frames the fit marks invalid.
    """
    n_frames = len(fit.valid)
    result = np.full((n_frames, 3, 2), np.nan, np.float32)
    error = np.full(n_frames, np.nan, np.float32)
    if not fit.valid.any():
        return result, error
    index = nearest_points(points, ibug68, fit.valid)
    landmarks = np.asarray(points)[:, index][fit.valid].astype(np.float64)
    fitted = fitted_ibug(model, fit, model.fit_index[index])[fit.valid]
    result[fit.valid, :, 0] = openings(landmarks)
    result[fit.valid, :, 1] = openings(fitted)
    eyes = np.linalg.norm(landmarks[:, EYE_DISTANCE[0], :2] - landmarks[:, EYE_DISTANCE[1], :2], axis=-1)
    difference = np.abs(result[fit.valid, :, 1] - result[fit.valid, :, 0]).max(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        error[fit.valid] = difference / eyes
    return result, error


def clip_error(error: np.ndarray) -> float | None:
    """A clip's expression error: the mean of its ``(T,)`` per-frame errors over the frames that have
    one (valid frames with a measurable face), None when none has."""
    finite = np.asarray(error, np.float64)[np.isfinite(error)]
    return float(finite.mean()) if finite.size else None
