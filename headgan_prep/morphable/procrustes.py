"""Similarity Procrustes alignment of 3D point sets, vectorised over shapes.

A similarity maps ``x`` to ``s · R · x + t`` (scale ``s > 0``, proper rotation ``R``, translation
``t``); reflections are never used (Umeyama 1991, with the determinant correction).
"""

from __future__ import annotations

import numpy as np


def similarity_transforms(sources: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares similarities taking each source shape onto the target.

    Parameters
    ----------
    sources : np.ndarray
        ``(K, M, 3)`` shapes (or ``(M, 3)`` for one).
    target : np.ndarray
        ``(M, 3)`` shape, same point order.

    Returns
    -------
    scale : np.ndarray
        ``(K,)`` (or scalar) scales.
    rotation : np.ndarray
        ``(K, 3, 3)`` (or ``(3, 3)``) rotations, determinant +1.
    translation : np.ndarray
        ``(K, 3)`` (or ``(3,)``) translations; ``target ≈ scale · source @ rotation.T + translation``.
    """
    sources = np.asarray(sources, np.float64)
    target = np.asarray(target, np.float64)
    source_centre = sources.mean(axis=-2, keepdims=True)
    target_centre = target.mean(axis=0)
    centred = sources - source_centre
    covariance = np.swapaxes(centred, -1, -2) @ (target - target_centre)  # Σ x yᵀ, (..., 3, 3)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.sign(np.linalg.det(np.swapaxes(vt, -1, -2) @ np.swapaxes(u, -1, -2)))
    sign = np.where(sign == 0, 1.0, sign)
    correction = np.ones(singular.shape)
    correction[..., 2] = sign
    rotation = np.swapaxes(vt, -1, -2) @ (correction[..., :, None] * np.swapaxes(u, -1, -2))
    scale = (singular * correction).sum(axis=-1) / (centred**2).sum(axis=(-2, -1))
    rotated_centre = (source_centre @ np.swapaxes(rotation, -1, -2))[..., 0, :]
    translation = target_centre - scale[..., None] * rotated_centre
    return scale, rotation, translation


def align(sources: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The source shapes moved onto the target by their least-squares similarities.

    Parameters
    ----------
    sources : np.ndarray
        ``(K, M, 3)`` or ``(M, 3)``.
    target : np.ndarray
        ``(M, 3)``.

    Returns
    -------
    np.ndarray
        Float64 array shaped like ``sources``.
    """
    scale, rotation, translation = similarity_transforms(sources, target)
    sources = np.asarray(sources, np.float64)
    return scale[..., None, None] * (sources @ np.swapaxes(rotation, -1, -2)) + translation[..., None, :]


def generalized_procrustes(shapes: np.ndarray, iterations: int) -> tuple[np.ndarray, np.ndarray]:
    """Align all shapes to their common mean (generalised Procrustes analysis).

    The first reference is the mean of the shapes after removing each one's centroid and size (no
    rotation: the shapes are taken as roughly aligned already, as faces in crops are). Each
    iteration aligns every shape to the reference by a similarity, then makes the mean of the
    aligned shapes, centred and scaled to unit RMS radius, the new reference.

    Parameters
    ----------
    shapes : np.ndarray
        ``(K, M, 3)``.
    iterations : int
        Number of align-and-average rounds, ≥ 1.

    Returns
    -------
    aligned : np.ndarray
        ``(K, M, 3)`` float64 shapes aligned to the last reference.
    reference : np.ndarray
        ``(M, 3)`` float64: that reference (centroid 0, RMS radius 1).
    """
    if iterations < 1:
        raise ValueError(f"iterations must be ≥ 1, got {iterations}")
    shapes = np.asarray(shapes, np.float64)
    centred = shapes - shapes.mean(axis=1, keepdims=True)
    reference = _normalised((centred / rms_radius(centred)[:, None, None]).mean(axis=0))
    for _ in range(iterations):
        aligned = align(shapes, reference)
        reference = _normalised(aligned.mean(axis=0))
    return aligned, reference


def rms_radius(shapes: np.ndarray) -> np.ndarray:
    """Root-mean-square distance of the points from their centroid: ``(...)`` for ``(..., M, 3)``."""
    shapes = np.asarray(shapes, np.float64)
    centred = shapes - shapes.mean(axis=-2, keepdims=True)
    return np.sqrt((centred**2).sum(axis=-1).mean(axis=-1))


def _normalised(shape: np.ndarray) -> np.ndarray:
    centred = shape - shape.mean(axis=0)
    return centred / rms_radius(centred)
