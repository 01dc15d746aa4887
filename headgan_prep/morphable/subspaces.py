"""The learned 3DMM's mean, expression and identity bases from clips streamed one at a time.

The method is that of :mod:`headgan_prep.morphable.learn` (steps 2–4 of its docstring); this module
computes it from sufficient statistics, so that memory does not grow with the number of clips:

- **Alignment**: :func:`headgan_prep.morphable.procrustes.generalized_procrustes` over the clips,
  ``iterations`` passes (each keeps a ``(M, 3)`` sum); the frames are aligned to its reference in
  one more pass, which gathers the statistics below: ``iterations`` + 1 passes over the clips.
- **Expression**: the within-clip scatter matrix ``S = Σ_clips Σ_t (x_t − x̄_clip)(x_t − x̄_clip)ᵀ``
  (``(3M, 3M)`` float64; the deviations of one clip are exact, as the clip is in memory), whose
  leading eigenvectors are the principal components of the deviations (:class:`RowScatter`; with
  fewer than ``3M`` frames in all, from their Gram matrix instead).
- **Identity**: per identity the sum of its clips' mean shapes (``3M`` float64 and a count), and the
  sum of all clip means. Removing the expression-subspace part about the mean of all clip means is
  affine, so the mean of an identity's compensated clip means is the compensated mean of its clip
  means: one shape per identity suffices.

Memory: about ``5 · (3M)² · 8`` bytes (the scatter matrix, a block of ``3M`` buffered deviation
rows, the product that adds them, the eigensolver's copies): 80 MB for FaceMesh's 468 points,
440 MB for insightface's 1103; plus ``3M · 8`` bytes (11 KB for 468 points) per identity, three
times over at the end (sums, identity means, their deviations): 200 MB for VoxCeleb2's 5,994
training identities; plus one clip's frames. None of it grows with the number of clips, except
where clips have no identity (each clip is then its own).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

import numpy as np
import scipy.linalg

from headgan_prep.morphable.procrustes import align, generalized_procrustes

RANK_TOLERANCE = 1e-9
"""Principal components with variance below this fraction of the largest are numerically zero."""


class LearnError(ValueError):
    """The landmark stores cannot give a morphable model (too few clips, mixed point sets, …)."""


@dataclass(frozen=True)
class LearnedShapes:
    """What the clips give, before triangles and warnings are added.

    Attributes
    ----------
    mean : np.ndarray
        ``(M, 3)`` float64, the mean of the identity means, unit of the input shapes.
    id_basis : np.ndarray
        ``(3M, n_id)`` float64 orthonormal columns, orthogonal to ``exp_basis``.
    exp_basis : np.ndarray
        ``(3M, n_exp)`` float64 orthonormal columns.
    n_clips, n_identities, n_frames : int
        What was learned from.
    """

    mean: np.ndarray
    id_basis: np.ndarray
    exp_basis: np.ndarray
    n_clips: int
    n_identities: int
    n_frames: int


def learn_subspaces(clips: Iterable[tuple[str, np.ndarray]], n_id: int, n_exp: int, iterations: int) -> LearnedShapes:
    """Mean and bases of the clips (module docstring), in ``iterations`` + 1 passes over them.

    Parameters
    ----------
    clips : iterable of (str, np.ndarray)
        Per clip its identity and ``(T, M, 3)`` shapes (model axes), ``T`` ≥ 1; iterated once per
        pass, so it must give the same clips in the same order each time (a list, or an object
        whose ``__iter__`` re-reads them).
    n_id, n_exp : int
        Most identity and expression components (fewer when the data has fewer: at most the
        identities − 1 and the numerical rank).
    iterations : int
        Rounds of the generalised Procrustes alignment.

    Returns
    -------
    LearnedShapes
        The shapes' lengths are scaled by the mean RMS radius of the input frames.
    """
    if (found := sum(1 for _ in islice(clips, 2))) < 2:
        raise LearnError(f"learning a morphable model needs at least 2 clips with valid frames, got {found}")
    reference, radius = generalized_procrustes(_Shapes(clips), iterations)
    dimension = reference.size
    deviations = RowScatter(dimension)
    clip_mean_sum = np.zeros(dimension)
    identity_sums: dict[str, list] = {}
    n_clips = n_frames = 0
    for identity, shapes in clips:
        aligned = (radius * align(shapes, reference)).reshape(len(shapes), dimension)
        clip_mean = aligned.mean(axis=0)
        deviations.add(aligned - clip_mean)
        clip_mean_sum += clip_mean
        entry = identity_sums.setdefault(str(identity), [np.zeros(dimension), 0])
        entry[0] += clip_mean
        entry[1] += 1
        n_clips, n_frames = n_clips + 1, n_frames + len(shapes)
    exp_basis = deviations.components(n_exp)
    if exp_basis.shape[1] == 0:
        raise LearnError("the clips' frames do not vary: no expression component can be learned")
    del deviations
    centre = clip_mean_sum / n_clips
    names = sorted(identity_sums)
    identity_means = np.empty((len(names), dimension))
    for row, name in enumerate(names):
        total, count = identity_sums.pop(name)
        identity_means[row] = total / count
    identity_means -= ((identity_means - centre) @ exp_basis) @ exp_basis.T
    mean = identity_means.mean(axis=0)
    identity_means -= mean
    id_basis = principal_components(identity_means, min(n_id, len(names) - 1))
    return LearnedShapes(mean.reshape(-1, 3), id_basis, exp_basis, n_clips, len(names), n_frames)


class _Shapes:
    """The shapes of ``(identity, shapes)`` clips, re-iterable as the clips are."""

    def __init__(self, clips: Iterable[tuple[str, np.ndarray]]):
        self.clips = clips

    def __iter__(self) -> Iterator[np.ndarray]:
        return (shapes for _, shapes in self.clips)


class RowScatter:
    """Principal components of centred rows added a few at a time, without keeping them all.

    Rows are buffered in a ``(D, D)`` block. A full block is added to the scatter matrix
    ``Σ rowᵀ row`` (``(D, D)`` float64) by one matrix product, so the product runs on tall blocks
    rather than on each clip's few rows. Fewer than ``D`` rows in all never leave the block, and
    their components come from the smaller Gram matrix (:func:`principal_components`).
    """

    def __init__(self, dimension: int):
        self.scatter = None
        self.block = np.empty((dimension, dimension))
        self.filled = 0

    def add(self, rows: np.ndarray) -> None:
        """Add ``(K, D)`` rows."""
        while len(rows):
            taken = min(len(rows), len(self.block) - self.filled)
            self.block[self.filled : self.filled + taken] = rows[:taken]
            self.filled += taken
            rows = rows[taken:]
            if self.filled == len(self.block):
                self._flush()

    def components(self, n_max: int) -> np.ndarray:
        """:func:`principal_components` of every row added: ``(D, n)``, ``n`` ≤ ``n_max``."""
        if self.scatter is None:
            return principal_components(self.block[: self.filled], n_max)
        self._flush()
        return scatter_components(self.scatter, n_max)

    def _flush(self) -> None:
        block = self.block[: self.filled]
        if self.scatter is None:
            self.scatter = np.zeros_like(self.block)
        self.scatter += block.T @ block
        self.filled = 0


def principal_components(rows: np.ndarray, n_max: int) -> np.ndarray:
    """Orthonormal principal directions of the (already centred) rows, largest variance first.

    Parameters
    ----------
    rows : np.ndarray
        ``(K, D)`` centred samples.
    n_max : int
        Most components returned; fewer when the rows have a smaller numerical rank
        (:data:`RANK_TOLERANCE`).

    Returns
    -------
    np.ndarray
        ``(D, n)`` float64 columns, signs as :func:`scatter_components` sets them.
    """
    rows = np.asarray(rows, np.float64)
    if len(rows) >= rows.shape[1]:
        return scatter_components(rows.T @ rows, n_max)
    # Few rows: the eigenvectors of the K × K Gram matrix RRᵀ, mapped back by Rᵀ, are the same
    # directions at a fraction of the cost.
    vectors = rows.T @ _leading(rows @ rows.T, n_max)
    return _signed(vectors / np.linalg.norm(vectors, axis=0))


def scatter_components(scatter: np.ndarray, n_max: int) -> np.ndarray:
    """Orthonormal leading eigenvectors of a scatter matrix ``Σ rowᵀ row`` of centred rows.

    Parameters
    ----------
    scatter : np.ndarray
        ``(D, D)`` symmetric positive semi-definite.
    n_max : int
        Most components returned; fewer when the numerical rank is smaller (:data:`RANK_TOLERANCE`).

    Returns
    -------
    np.ndarray
        ``(D, n)`` float64 columns, largest eigenvalue first; each column's entry of largest
        magnitude is positive, so the result does not depend on the eigensolver's sign choices.
    """
    return _signed(_leading(scatter, n_max))


def _leading(symmetric: np.ndarray, n_max: int) -> np.ndarray:
    """Eigenvectors of the largest eigenvalues, at most ``n_max`` and the numerical rank."""
    size = len(symmetric)
    # only the n_max largest (LAPACK's relatively robust representations): about half the time of all
    variances, vectors = scipy.linalg.eigh(symmetric, subset_by_index=[max(0, size - n_max), size - 1], driver="evr")
    order = np.argsort(variances)[::-1]
    variances, vectors = variances[order], vectors[:, order]
    rank = int((variances > RANK_TOLERANCE * variances[0]).sum()) if variances[0] > 0 else 0
    return vectors[:, : min(n_max, rank)]


def _signed(vectors: np.ndarray) -> np.ndarray:
    largest = vectors[np.abs(vectors).argmax(axis=0), np.arange(vectors.shape[1])]
    return vectors * np.where(largest < 0, -1.0, 1.0)
