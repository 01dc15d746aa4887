"""Rotations as matrices, unit quaternions and Euler angles, vectorised over leading dimensions.

Conventions
-----------
Matrices act on column vectors (``x' = R x``). Quaternions are ``[w, x, y, z]`` with ``w ≥ 0``.
Euler angles are ``[pitch, yaw, roll]`` in degrees with

    R = Rz(roll) · Ry(yaw) · Rx(pitch)

(pitch about x, then yaw about y, then roll about z, all right-handed about fixed axes). Pitch and
roll are in (-180, 180], yaw in [-90, 90]. At yaw = ±90° (gimbal lock) only pitch ∓ roll is
determined; roll is then reported as 0.
"""

from __future__ import annotations

import numpy as np

GIMBAL_TOLERANCE = 1e-9
"""cos(yaw) below which the angles are taken as gimbal-locked."""


def matrix_to_quaternion(rotations: np.ndarray) -> np.ndarray:
    """Unit quaternions of rotation matrices (Shepperd's method: stable for every angle).

    Parameters
    ----------
    rotations : np.ndarray
        ``(..., 3, 3)`` rotation matrices.

    Returns
    -------
    np.ndarray
        ``(..., 4)`` float64 ``[w, x, y, z]``, ``w ≥ 0``, unit norm.
    """
    r = np.asarray(rotations, np.float64)
    r00, r01, r02 = r[..., 0, 0], r[..., 0, 1], r[..., 0, 2]
    r10, r11, r12 = r[..., 1, 0], r[..., 1, 1], r[..., 1, 2]
    r20, r21, r22 = r[..., 2, 0], r[..., 2, 1], r[..., 2, 2]
    # 4·(w², x², y², z²) up to a common offset; the largest gives the best-conditioned division.
    diagonal = np.stack([1 + r00 + r11 + r22, 1 + r00 - r11 - r22, 1 - r00 + r11 - r22, 1 - r00 - r11 + r22], -1)
    # Row k: 4·q_k·q with q_k the component of case k, i.e. candidate k up to a positive factor.
    candidates = np.stack(
        [
            np.stack([diagonal[..., 0], r21 - r12, r02 - r20, r10 - r01], -1),
            np.stack([r21 - r12, diagonal[..., 1], r01 + r10, r02 + r20], -1),
            np.stack([r02 - r20, r01 + r10, diagonal[..., 2], r12 + r21], -1),
            np.stack([r10 - r01, r02 + r20, r12 + r21, diagonal[..., 3]], -1),
        ],
        -2,
    )
    best = np.argmax(diagonal, axis=-1)
    q = np.take_along_axis(candidates, best[..., None, None], axis=-2)[..., 0, :]
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where(q[..., :1] < 0, -q, q)


def quaternion_to_matrix(quaternions: np.ndarray) -> np.ndarray:
    """Rotation matrices of quaternions (normalised first; either sign gives the same matrix).

    Parameters
    ----------
    quaternions : np.ndarray
        ``(..., 4)`` ``[w, x, y, z]``, non-zero.

    Returns
    -------
    np.ndarray
        ``(..., 3, 3)`` float64.
    """
    q = np.asarray(quaternions, np.float64)
    w, x, y, z = np.moveaxis(q / np.linalg.norm(q, axis=-1, keepdims=True), -1, 0)
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ]
    return np.stack([np.stack(row, -1) for row in rows], -2)


def euler_to_matrix(angles: np.ndarray) -> np.ndarray:
    """Rotation matrices ``Rz(roll) · Ry(yaw) · Rx(pitch)`` (module docstring).

    Parameters
    ----------
    angles : np.ndarray
        ``(..., 3)`` ``[pitch, yaw, roll]`` in degrees.

    Returns
    -------
    np.ndarray
        ``(..., 3, 3)`` float64.
    """
    pitch, yaw, roll = np.moveaxis(np.radians(np.asarray(angles, np.float64)), -1, 0)
    cp, sp, cy, sy, cr, sr = np.cos(pitch), np.sin(pitch), np.cos(yaw), np.sin(yaw), np.cos(roll), np.sin(roll)
    rows = [
        [cr * cy, cr * sy * sp - sr * cp, cr * sy * cp + sr * sp],
        [sr * cy, sr * sy * sp + cr * cp, sr * sy * cp - cr * sp],
        [-sy, cy * sp, cy * cp],
    ]
    return np.stack([np.stack(row, -1) for row in rows], -2)


def matrix_to_euler(rotations: np.ndarray) -> np.ndarray:
    """Euler angles of rotation matrices, the inverse of :func:`euler_to_matrix`.

    Parameters
    ----------
    rotations : np.ndarray
        ``(..., 3, 3)`` rotation matrices.

    Returns
    -------
    np.ndarray
        ``(..., 3)`` float64 ``[pitch, yaw, roll]`` in degrees (ranges in the module docstring).
    """
    r = np.asarray(rotations, np.float64)
    cos_yaw = np.hypot(r[..., 0, 0], r[..., 1, 0])
    yaw = np.arctan2(-r[..., 2, 0], cos_yaw)
    locked = cos_yaw < GIMBAL_TOLERANCE
    pitch = np.where(locked, np.arctan2(-r[..., 1, 2], r[..., 1, 1]), np.arctan2(r[..., 2, 1], r[..., 2, 2]))
    roll = np.where(locked, 0.0, np.arctan2(r[..., 1, 0], r[..., 0, 0]))
    return np.degrees(np.stack([pitch, yaw, roll], -1))


def nearest_rotation(matrices: np.ndarray) -> np.ndarray:
    """Closest rotation (Frobenius norm) to each matrix: ``U · diag(1, 1, det(U Vᵀ)) · Vᵀ`` from
    the SVD ``M = U Σ Vᵀ`` (never a reflection).

    Parameters
    ----------
    matrices : np.ndarray
        ``(..., 3, 3)``.

    Returns
    -------
    np.ndarray
        ``(..., 3, 3)`` float64 rotation matrices.
    """
    u, _, vt = np.linalg.svd(np.asarray(matrices, np.float64))
    sign = np.sign(np.linalg.det(u @ vt))
    sign = np.where(sign == 0, 1.0, sign)
    u = np.concatenate([u[..., :2], u[..., 2:] * sign[..., None, None]], axis=-1)
    return u @ vt
