"""Fréchet distance between Gaussians fitted to feature sets (the core of FID and FVD).

For N(μ1, Σ1) and N(μ2, Σ2),

    d² = ‖μ1 − μ2‖² + Tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^½),

with the matrix square root of ``scipy.linalg.sqrtm``, as pytorch-fid (Heusel et al.'s TTUR code)
computes it: when the square root of the product is not finite (a nearly singular product), ε is
added to the diagonal of both covariances and the root recomputed; a complex root whose diagonal
has imaginary parts within 1e-3 of zero (rounding) is replaced by its real part, larger imaginary
parts are an error. The value is returned as a :class:`~headgan_model.metrics.result.MetricResult` whose
warnings say when the offset was needed and when a set had fewer samples than dimensions (its
covariance is then singular and the distance biased: not comparable to published numbers).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from headgan_model.metrics.result import MetricResult

SINGULAR_PRODUCT_EPS = 1e-6
"""Diagonal offset added to both covariances when the square root of their product is not finite."""
IMAGINARY_TOLERANCE = 1e-3
"""Largest imaginary part allowed on the diagonal of the square root (rounding noise)."""


@dataclass(frozen=True)
class FeatureStatistics:
    """Mean and covariance of a feature set.

    Attributes
    ----------
    mean : np.ndarray
        ``(D,)`` float64.
    covariance : np.ndarray
        ``(D, D)`` float64, the unbiased sample covariance (divided by N − 1, as ``np.cov``).
    count : int
        Number of samples N.
    """

    mean: np.ndarray
    covariance: np.ndarray
    count: int

    @classmethod
    def of(cls, features: np.ndarray) -> FeatureStatistics:
        """Statistics of ``(N, D)`` features (N ≥ 2).

        Raises
        ------
        ValueError
            Not a 2-D array, or fewer than 2 samples.
        """
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2:
            raise ValueError(f"features must be shaped (N, D), got {features.shape}")
        if len(features) < 2:
            raise ValueError(f"a covariance needs at least 2 samples, got {len(features)}")
        return cls(features.mean(axis=0), np.atleast_2d(np.cov(features, rowvar=False)), len(features))

    @property
    def dimension(self) -> int:
        return len(self.mean)


def frechet_distance_of_gaussians(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = SINGULAR_PRODUCT_EPS
) -> tuple[float, tuple[str, ...]]:
    """Fréchet distance d² between N(μ1, Σ1) and N(μ2, Σ2), and the warnings of its computation.

    Parameters
    ----------
    mu1, mu2 : np.ndarray
        ``(D,)`` means.
    sigma1, sigma2 : np.ndarray
        ``(D, D)`` covariances (symmetric positive semi-definite).
    eps : float
        Diagonal offset used when the square root of Σ1 Σ2 is not finite.

    Returns
    -------
    value : float
        d², in squared feature units.
    warnings : tuple[str, ...]
        A sentence when the offset was added.

    Raises
    ------
    ValueError
        Shapes that do not match, or a square root with imaginary parts beyond rounding.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    dimension = len(mu1)
    if mu2.shape != (dimension,) or sigma1.shape != (dimension, dimension) or sigma2.shape != sigma1.shape:
        raise ValueError(
            f"Gaussians of different dimensions: means {mu1.shape} and {mu2.shape}, "
            f"covariances {sigma1.shape} and {sigma2.shape}"
        )
    notes = []
    root = _sqrtm(sigma1 @ sigma2)
    if not np.isfinite(root).all():
        notes.append(
            f"the square root of the covariance product was not finite; {eps:g} was added to the "
            "diagonal of both covariances"
        )
        offset = np.eye(dimension) * eps
        root = _sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(root):
        imaginary = np.abs(np.diagonal(root).imag).max()
        if imaginary > IMAGINARY_TOLERANCE:
            raise ValueError(
                f"the square root of the covariance product has imaginary parts up to {imaginary:.3g} "
                "on its diagonal: the covariances are not valid"
            )
        root = root.real
    difference = mu1 - mu2
    value = difference @ difference + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(root)
    return float(value), tuple(notes)


def _sqrtm(matrix: np.ndarray) -> np.ndarray:
    """``scipy.linalg.sqrtm`` without its warning on singular input: singular covariance products
    are common (few samples, constant features) and the caller reports what matters."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        return scipy.linalg.sqrtm(matrix)


def frechet_distance(
    first: FeatureStatistics, second: FeatureStatistics, eps: float = SINGULAR_PRODUCT_EPS, *, name: str = "Fréchet distance"
) -> MetricResult:
    """Fréchet distance between the Gaussians of two feature sets, with its warnings.

    Besides those of :func:`frechet_distance_of_gaussians`, the result warns for each set with no
    more samples than feature dimensions (N ≤ D: a singular covariance, a biased distance).

    Returns
    -------
    MetricResult
        Named ``name``; ``value`` d² in squared feature units.
    """
    value, notes = frechet_distance_of_gaussians(first.mean, first.covariance, second.mean, second.covariance, eps)
    few = tuple(
        f"the {name} set has {stats.count} samples of {stats.dimension}-dimensional features: its covariance "
        "is singular, so the distance is biased and not comparable to published values"
        for name, stats in (("first", first), ("second", second))
        if stats.count <= stats.dimension
    )
    return MetricResult(name, value, few + notes)
