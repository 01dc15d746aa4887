"""Fréchet distance: closed forms, an eigenvalue computation of the same trace, and the warnings."""

import numpy as np
import pytest
import scipy.linalg

from headgan_model.metrics import frechet
from headgan_model.metrics.frechet import FeatureStatistics, frechet_distance, frechet_distance_of_gaussians
from headgan_model.metrics.result import MetricResult


def trace_of_root_by_eigenvalues(sigma1, sigma2):
    """Tr((Σ1 Σ2)^½) as Σ √λ of the symmetric Σ1^½ Σ2 Σ1^½ (same eigenvalues as Σ1 Σ2)."""
    w, v = scipy.linalg.eigh(sigma1)
    half = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    return np.sqrt(np.clip(scipy.linalg.eigvalsh(half @ sigma2 @ half), 0, None)).sum()


def test_diagonal_closed_form():
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    a, b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    value, notes = frechet_distance_of_gaussians(mu1, np.diag(a), mu2, np.diag(b))
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)  # 1 + 6.25 + 4 + 1 = 12.25
    assert expected == 12.25
    assert value == pytest.approx(expected, abs=1e-12)
    assert notes == ()


def test_one_dimension():
    value, _ = frechet_distance_of_gaussians(np.array([3.0]), np.array([[4.0]]), np.array([-1.0]), np.array([[1.0]]))
    assert value == pytest.approx(16 + (2 - 1) ** 2, abs=1e-12)
    first, second = FeatureStatistics.of(np.array([[1.0], [3.0]])), FeatureStatistics.of(np.array([[0.0], [8.0]]))
    assert first.covariance.shape == (1, 1) and first.covariance[0, 0] == 2.0
    assert frechet_distance(first, second).value == pytest.approx((2 - 4) ** 2 + (2**0.5 - 32**0.5) ** 2, abs=1e-12)


def test_against_eigenvalue_computation():
    rng = np.random.default_rng(0)
    features1 = rng.normal(size=(300, 12)) @ rng.normal(size=(12, 12))
    features2 = rng.normal(loc=0.5, size=(250, 12)) @ rng.normal(size=(12, 12))
    first, second = FeatureStatistics.of(features1), FeatureStatistics.of(features2)
    np.testing.assert_allclose(first.covariance, np.cov(features1.T))
    assert first.count == 300 and first.dimension == 12
    score = frechet_distance(first, second)
    difference = features1.mean(0) - features2.mean(0)
    expected = (
        difference @ difference
        + np.trace(first.covariance)
        + np.trace(second.covariance)
        - 2 * trace_of_root_by_eigenvalues(first.covariance, second.covariance)
    )
    assert isinstance(score, MetricResult) and score.warnings == ()
    assert score.value == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(first, first).value == pytest.approx(0.0, abs=1e-8)


def test_fewer_samples_than_dimensions_warns():
    rng = np.random.default_rng(1)
    few, many = FeatureStatistics.of(rng.normal(size=(5, 8))), FeatureStatistics.of(rng.normal(size=(50, 8)))
    score = frechet_distance(few, many)
    assert np.isfinite(score.value)
    assert len(score.warnings) == 1
    assert "first set has 5 samples of 8-dimensional features" in score.warnings[0]
    assert "not comparable" in score.warnings[0]
    assert frechet_distance(many, many).warnings == ()


def test_non_finite_root_adds_offset(monkeypatch):
    """pytorch-fid's fallback: ε on both diagonals when the root of the product is not finite."""
    calls, real_sqrtm = [], scipy.linalg.sqrtm

    def sqrtm(matrix):
        calls.append(matrix)
        return np.full_like(matrix, np.inf) if len(calls) == 1 else real_sqrtm(matrix)

    monkeypatch.setattr(frechet.scipy.linalg, "sqrtm", sqrtm)
    sigma1, sigma2 = np.diag([1.0, 0.0]), np.diag([0.0, 4.0])
    value, notes = frechet_distance_of_gaussians(np.zeros(2), sigma1, np.zeros(2), sigma2, eps=0.01)
    np.testing.assert_allclose(calls[1], np.diag([1.01 * 0.01, 0.01 * 4.01]))
    assert value == pytest.approx(5 - 2 * (np.sqrt(0.0101) + np.sqrt(0.0401)), abs=1e-12)
    assert len(notes) == 1 and "0.01 was added" in notes[0]


def test_invalid_inputs():
    with pytest.raises(ValueError, match="imaginary"):
        frechet_distance_of_gaussians(np.zeros(2), np.diag([1.0, -1.0]), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="different dimensions"):
        frechet_distance_of_gaussians(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))
    with pytest.raises(ValueError, match="at least 2 samples"):
        FeatureStatistics.of(np.zeros((1, 4)))
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        FeatureStatistics.of(np.zeros(4))
