"""Fréchet distance between two Gaussians (the distance of FID and FVD)."""

from __future__ import annotations

import numpy as np
import scipy.linalg

SINGULAR_EPS = 1e-6
"""Offset added to both covariances' diagonals when their product has no finite square root."""


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance ``|mu1 - mu2|² + tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^½)``.

    Parameters
    ----------
    mu1, mu2 : np.ndarray
        (D,) means.
    sigma1, sigma2 : np.ndarray
        (D, D) covariances.

    Returns
    -------
    float
        The distance (squared units of the features). The square root is scipy's ``sqrtm``, its
        real part; when it is not finite, ``SINGULAR_EPS`` is added to both diagonals first.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
        raise ValueError(f"shapes differ: mu {mu1.shape} {mu2.shape}, sigma {sigma1.shape} {sigma2.shape}")
    root = scipy.linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(root).all():
        offset = np.eye(len(mu1)) * SINGULAR_EPS
        root = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(np.real(root)))
