"""Weak-perspective cameras ``c = [s, qw, qx, qy, qz, tx, ty]``: ``x_img = s · R[:2] · X + t``.

``R`` is the rotation of the unit quaternion ``[qw, qx, qy, qz]`` (``qw ≥ 0``,
:mod:`headgan_prep.fit.rotation`), ``s`` the scale (image pixels per model unit) and ``t`` the
translation in image pixels. Every function works on ``T`` cameras at once.

Morphable models have x right, y up and z towards the viewer; images have y down (and z away from
the viewer). A frontal, upright face is therefore seen with ``R =`` :data:`FRONTAL_ROTATION`
(180° about x), and the head's own rotation, in model axes, is ``H = FRONTAL_ROTATION · R``
(:func:`head_rotation`): Euler angles describe ``H``, so a frontal face has pitch = yaw = roll = 0,
positive pitch turns the face down, positive yaw towards the image's +x, positive roll turns the
image of the face counter-clockwise on screen.
"""

from __future__ import annotations

import numpy as np

from headgan_prep.fit.rotation import matrix_to_quaternion, quaternion_to_matrix

CAMERA_SIZE = 7
FRONTAL_ROTATION = np.diag([1.0, -1.0, -1.0])
"""Camera rotation of a frontal, upright face (model y up and z towards the viewer → image y down)."""
FRONTAL_QUATERNION = np.array([0.0, 1.0, 0.0, 0.0])
"""Quaternion ``[w, x, y, z]`` of :data:`FRONTAL_ROTATION`."""
DEGENERATE_TOLERANCE = 1e-6
"""Frames are degenerate below this ratio of the smallest to the total variance of the points
(:func:`affine_camera`), or of σ₁σ₂ to σ₁² + σ₂² for an affine camera's 2 × 3 part
(:func:`affine_to_camera`)."""


def affine_camera(vertices: np.ndarray, image_points: np.ndarray) -> np.ndarray:
    """Least-squares affine cameras ``P`` with ``P · [X; 1] ≈ x`` (Algorithm 1 of HeadGAN's
    supplement), one per frame.

    Parameters
    ----------
    vertices : np.ndarray
        ``(T, M, 3)`` points in model coordinates.
    image_points : np.ndarray
        ``(T, M, 2)`` their image positions, pixels.

    Returns
    -------
    np.ndarray
        ``(T, 2, 4)`` float64; NaN for frames whose points do not span 3D.
    """
    x = np.asarray(vertices, np.float64)
    y = np.asarray(image_points, np.float64)
    x_mean, y_mean = x.mean(axis=1), y.mean(axis=1)
    xc = x - x_mean[:, None]
    return affine_from_moments(
        np.swapaxes(xc, 1, 2) @ xc, np.swapaxes(xc, 1, 2) @ (y - y_mean[:, None]), x_mean, y_mean
    )


def affine_from_moments(gram: np.ndarray, cross: np.ndarray, x_mean: np.ndarray, y_mean: np.ndarray) -> np.ndarray:
    """:func:`affine_camera` from the centred second moments of the points.

    Parameters
    ----------
    gram : np.ndarray
        ``(T, 3, 3)`` ``Σ (X − X̄)(X − X̄)ᵀ``.
    cross : np.ndarray
        ``(T, 3, 2)`` ``Σ (X − X̄)(x − x̄)ᵀ``.
    x_mean, y_mean : np.ndarray
        ``(T, 3)`` and ``(T, 2)`` means of the model and image points.

    Returns
    -------
    np.ndarray
        ``(T, 2, 4)`` float64; NaN where ``gram``'s smallest eigenvalue is at most
        :data:`DEGENERATE_TOLERANCE` times its trace.
    """
    gram = np.array(gram, np.float64)
    scale = np.trace(gram, axis1=1, axis2=2)
    singular = ~(np.linalg.eigvalsh(gram)[:, 0] > DEGENERATE_TOLERANCE * scale)
    gram[singular] = np.eye(3)
    linear = np.swapaxes(np.linalg.solve(gram, np.asarray(cross, np.float64)), 1, 2)
    translation = np.asarray(y_mean, np.float64) - (linear @ np.asarray(x_mean, np.float64)[..., None])[..., 0]
    cameras = np.concatenate([linear, translation[..., None]], axis=2)
    cameras[singular] = np.nan
    return cameras


def affine_to_camera(affine: np.ndarray) -> np.ndarray:
    """Scale, rotation and translation of affine cameras.

    The 2 × 3 part ``A = U Σ Vᵀ`` becomes ``s · Q`` with ``Q = U Vᵀ`` (the nearest matrix with
    orthonormal rows) and ``s`` the mean of the two singular values; ``R = [Q₀; Q₁; Q₀ × Q₁]``.
    ``U Vᵀ`` is computed in closed form as ``(A Aᵀ)^(-1/2) A``.

    Parameters
    ----------
    affine : np.ndarray
        ``(T, 2, 4)``.

    Returns
    -------
    np.ndarray
        ``(T, 7)`` float64 cameras (module docstring); NaN where ``A`` has rank < 2 or is NaN.
    """
    affine = np.asarray(affine, np.float64)
    linear, translation = affine[:, :, :3], affine[:, :, 3]
    gram = linear @ np.swapaxes(linear, 1, 2)
    det = gram[:, 0, 0] * gram[:, 1, 1] - gram[:, 0, 1] * gram[:, 1, 0]
    trace = gram[:, 0, 0] + gram[:, 1, 1]
    root_det = np.sqrt(np.maximum(det, 0.0))
    # sqrt of a 2 × 2 symmetric positive definite G: (G + √det·I) / √(tr + 2√det).
    norm = np.sqrt(trace + 2 * root_det)
    bad = ~(root_det > DEGENERATE_TOLERANCE * trace)  # also NaN
    norm = np.where(bad, 1.0, norm)
    sqrt_gram = (gram + root_det[:, None, None] * np.eye(2)) / norm[:, None, None]
    scale = np.trace(sqrt_gram, axis1=1, axis2=2) / 2
    inverse = (
        np.stack(
            [
                np.stack([sqrt_gram[:, 1, 1], -sqrt_gram[:, 0, 1]], -1),
                np.stack([-sqrt_gram[:, 1, 0], sqrt_gram[:, 0, 0]], -1),
            ],
            -2,
        )
        / np.where(bad, 1.0, root_det)[:, None, None]
    )
    rows = inverse @ linear
    rotation = np.concatenate([rows, np.cross(rows[:, 0], rows[:, 1])[:, None]], axis=1)
    rotation[bad] = np.eye(3)
    cameras = np.concatenate([scale[:, None], matrix_to_quaternion(rotation), translation], axis=1)
    cameras[bad] = np.nan
    return cameras


def camera_rotation(cameras: np.ndarray) -> np.ndarray:
    """``(T, 3, 3)`` rotations of ``(T, 7)`` cameras."""
    return quaternion_to_matrix(np.asarray(cameras, np.float64)[..., 1:5])


def head_rotation(cameras: np.ndarray) -> np.ndarray:
    """``(T, 3, 3)`` head rotations in model axes, ``FRONTAL_ROTATION · R`` (module docstring), of
    ``(T, 7)`` cameras; identity for a frontal face."""
    return FRONTAL_ROTATION @ camera_rotation(cameras)


def project(cameras: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Image positions ``s · R[:2] · X + t``.

    Parameters
    ----------
    cameras : np.ndarray
        ``(T, 7)``.
    vertices : np.ndarray
        ``(T, N, 3)`` or ``(N, 3)`` (the same points for every camera).

    Returns
    -------
    np.ndarray
        ``(T, N, 2)`` float64 pixels.
    """
    cameras = np.asarray(cameras, np.float64)
    rows = camera_rotation(cameras)[:, :2] * cameras[:, 0, None, None]
    return np.asarray(vertices, np.float64) @ np.swapaxes(rows, 1, 2) + cameras[:, None, 5:7]
