"""Similarity Procrustes alignment of 3D point sets, vectorised over shapes.

A similarity maps ``x`` to ``s · R · x + t`` (scale ``s > 0``, proper rotation ``R``, translation
``t``); reflections are never used (Umeyama 1991, with the determinant correction).
"""

from __future__ import annotations

from collections.abc import Iterable

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


def generalized_procrustes(batches: Iterable[np.ndarray], iterations: int) -> tuple[np.ndarray, float]:
    """The reference of generalised Procrustes analysis, with the shapes streamed in batches.

    The first reference is the mean of the shapes after removing each one's centroid and size (no
    rotation: the shapes are taken as roughly aligned already, as faces in crops are). Each further
    round aligns every shape to the reference by a similarity, then makes the mean of the aligned
    shapes, centred and scaled to unit RMS radius, the new reference. The reference returned is
    the one the last of ``iterations`` rounds aligns to: ``align(shapes, reference)`` gives that
    round's aligned shapes. Only sums of ``(M, 3)`` are kept between batches.

    Parameters
    ----------
    batches : iterable of np.ndarray
        ``(K_b, M, 3)`` shapes, ``K_b`` ≥ 1; iterated once per round (``iterations`` passes), so it
        must give the same batches each time (a list, or an object whose ``__iter__`` re-reads).
    iterations : int
        Align-and-average rounds, ≥ 1.

    Returns
    -------
    reference : np.ndarray
        ``(M, 3)`` float64, centroid 0 and RMS radius 1.
    mean_radius : float
        Mean RMS radius (:func:`rms_radius`) of all the shapes, in their unit.
    """
    if iterations < 1:
        raise ValueError(f"iterations must be ≥ 1, got {iterations}")
    total, radii, count = 0.0, 0.0, 0
    for shapes in batches:
        shapes = np.asarray(shapes, np.float64)
        centred = shapes - shapes.mean(axis=1, keepdims=True)
        radius = rms_radius(centred)
        total = total + (centred / radius[:, None, None]).sum(axis=0)
        radii, count = radii + float(radius.sum()), count + len(shapes)
    if count == 0:
        raise ValueError("generalized Procrustes analysis needs at least one shape")
    reference = _normalised(total / count)
    for _ in range(iterations - 1):
        total = 0.0
        for shapes in batches:
            total = total + align(shapes, reference).sum(axis=0)
        reference = _normalised(total / count)
    return reference, radii / count


def rms_radius(shapes: np.ndarray) -> np.ndarray:
    """Root-mean-square distance of the points from their centroid: ``(...)`` for ``(..., M, 3)``."""
    shapes = np.asarray(shapes, np.float64)
    centred = shapes - shapes.mean(axis=-2, keepdims=True)
    return np.sqrt((centred**2).sum(axis=-1).mean(axis=-1))


def _normalised(shape: np.ndarray) -> np.ndarray:
    centred = shape - shape.mean(axis=0)
    return centred / rms_radius(centred)
