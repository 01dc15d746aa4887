"""3D morphable model (3DMM): the container every loader converts into, stored as HDF5.

A shape is ``mean + U_id · p_id + U_exp · p_exp`` (HeadGAN, Eq. 1) with

``mean``
    ``(N, 3)`` float32 vertices, in the model's own length unit.
``id_basis``
    ``(3N, n_id)`` float32, orthonormal columns, rows xyz-interleaved (``x0, y0, z0, x1, …``).
``exp_basis``
    ``(3N, n_exp)`` float32, orthonormal columns, same row order.
``triangles``
    ``(F, 3)`` int32 vertex indices, counter-clockwise seen from the front (outward normals).
``fit_index``
    ``(M,)`` int64: vertex of the model matched to each of the M points the landmark regressor
    gives, in the regressor's order (LSFM + the official HeadGAN correspondence: 1035 points).

Parameters are in units of the basis columns: with orthonormal columns, a parameter is the length
of its component in the model's unit. The HDF5 file holds the five arrays as datasets of those
names and the attributes ``name``, ``source`` (free text: where the model comes from) and, when
there are any, ``warnings`` (what limits the model, e.g. a learned model's too few clips; one line
each).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ORTHONORMAL_TOLERANCE = 1e-4
"""Largest |UᵀU − I| entry accepted for a basis."""


class MorphableModelError(ValueError):
    """A morphable model (file or arrays) does not have the shapes and properties required."""


@dataclass(frozen=True, eq=False)
class MorphableModel:
    """A linear 3D face model with separate identity and expression bases (module docstring)."""

    mean: np.ndarray
    id_basis: np.ndarray
    exp_basis: np.ndarray
    triangles: np.ndarray
    fit_index: np.ndarray
    name: str = ""
    source: str = ""
    warnings: tuple[str, ...] = ()

    def __post_init__(self):
        arrays = {
            "mean": np.asarray(self.mean, np.float32),
            "id_basis": np.asarray(self.id_basis, np.float32),
            "exp_basis": np.asarray(self.exp_basis, np.float32),
            "triangles": np.asarray(self.triangles, np.int32),
            "fit_index": np.asarray(self.fit_index, np.int64),
        }
        for key, value in arrays.items():
            object.__setattr__(self, key, value)
        _validate(**arrays)

    @property
    def n_vertices(self) -> int:
        return self.mean.shape[0]

    @property
    def n_id(self) -> int:
        return self.id_basis.shape[1]

    @property
    def n_exp(self) -> int:
        return self.exp_basis.shape[1]

    def shapes(self, id_params: np.ndarray, exp_params: np.ndarray) -> np.ndarray:
        """Vertices of the shapes with the given parameters (Eq. 1).

        Parameters
        ----------
        id_params : np.ndarray
            ``(n_id,)`` or ``(T, n_id)``.
        exp_params : np.ndarray
            ``(n_exp,)`` or ``(T, n_exp)``; leading dimensions broadcast with ``id_params``.

        Returns
        -------
        np.ndarray
            ``(..., N, 3)`` float32 vertices.
        """
        id_params = np.asarray(id_params, np.float32)
        exp_params = np.asarray(exp_params, np.float32)
        if id_params.shape[-1] != self.n_id or exp_params.shape[-1] != self.n_exp:
            raise MorphableModelError(
                f"expected {self.n_id} identity and {self.n_exp} expression parameters, "
                f"got {id_params.shape[-1]} and {exp_params.shape[-1]}"
            )
        offsets = id_params @ self.id_basis.T + exp_params @ self.exp_basis.T
        return self.mean + offsets.reshape(*offsets.shape[:-1], self.n_vertices, 3)

    def select(self, vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mean and basis rows of the given vertices (e.g. ``fit_index``), for fitting.

        Parameters
        ----------
        vertices : np.ndarray
            ``(K,)`` vertex indices.

        Returns
        -------
        mean : np.ndarray
            ``(K, 3)`` float32.
        id_basis, exp_basis : np.ndarray
            ``(3K, n_id)`` and ``(3K, n_exp)`` float32 rows (xyz-interleaved); not orthonormal in
            general.
        """
        vertices = np.asarray(vertices, np.int64)
        rows = (3 * vertices[:, None] + np.arange(3)).ravel()
        return self.mean[vertices], self.id_basis[rows], self.exp_basis[rows]

    def describe(self) -> str:
        """One paragraph: name, sizes, extent of the mean shape, source."""
        extent = self.mean.max(axis=0) - self.mean.min(axis=0)
        return (
            f"{self.name or 'morphable model'}: {self.n_vertices} vertices, {len(self.triangles)} triangles, "
            f"{self.n_id} identity and {self.n_exp} expression components, {len(self.fit_index)} fitted points; "
            f"mean shape extent x {extent[0]:.4g}, y {extent[1]:.4g}, z {extent[2]:.4g}; source: {self.source or '-'}"
        )

    def save(self, path: Path) -> None:
        """Write the HDF5 file (module docstring) atomically; same model → same bytes."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        import h5py  # here, not at the top: every command line of the package imports this module

        with h5py.File(tmp, "w", track_order=True) as f:
            for key in ("mean", "id_basis", "exp_basis", "triangles", "fit_index"):
                f.create_dataset(key, data=getattr(self, key))
            f.attrs["name"] = self.name
            f.attrs["source"] = self.source
            if self.warnings:
                f.attrs["warnings"] = "\n".join(self.warnings)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> MorphableModel:
        """Read a file written by :meth:`save`; a file without the arrays or with wrong shapes is a
        :class:`MorphableModelError` naming the problem."""
        path = Path(path)
        if not path.is_file():
            raise MorphableModelError(f"morphable model file {path} does not exist")
        import h5py

        try:
            with h5py.File(path, "r") as f:
                missing = [k for k in ("mean", "id_basis", "exp_basis", "triangles", "fit_index") if k not in f]
                if missing:
                    raise MorphableModelError(f"{path}: not a morphable model file, missing {', '.join(missing)}")
                arrays = {k: f[k][...] for k in ("mean", "id_basis", "exp_basis", "triangles", "fit_index")}
                name, source = str(f.attrs.get("name", "")), str(f.attrs.get("source", ""))
                warnings = tuple(str(f.attrs.get("warnings", "")).splitlines())
        except OSError as error:
            raise MorphableModelError(f"{path}: not an HDF5 file ({error})") from None
        try:
            return cls(**arrays, name=name, source=source, warnings=warnings)
        except MorphableModelError as error:
            raise MorphableModelError(f"{path}: {error}") from None


def _validate(mean, id_basis, exp_basis, triangles, fit_index) -> None:
    if mean.ndim != 2 or mean.shape[1] != 3 or len(mean) < 3:
        raise MorphableModelError(f"mean must be (N, 3) with N ≥ 3, got {mean.shape}")
    rows = 3 * len(mean)
    for key, basis in (("id_basis", id_basis), ("exp_basis", exp_basis)):
        if basis.ndim != 2 or basis.shape[0] != rows:
            raise MorphableModelError(f"{key} must be ({rows}, n) for {len(mean)} vertices, got {basis.shape}")
        if not np.isfinite(basis).all():
            raise MorphableModelError(f"{key} holds NaN or inf")
        gram = basis.T.astype(np.float64) @ basis.astype(np.float64)
        error = np.abs(gram - np.eye(basis.shape[1])).max(initial=0.0)
        if error > ORTHONORMAL_TOLERANCE:
            raise MorphableModelError(f"{key} columns are not orthonormal (|UᵀU − I| up to {error:.2g})")
    if not np.isfinite(mean).all():
        raise MorphableModelError("mean holds NaN or inf")
    if triangles.ndim != 2 or triangles.shape[1] != 3 or len(triangles) == 0:
        raise MorphableModelError(f"triangles must be (F, 3) with F ≥ 1, got {triangles.shape}")
    if triangles.min() < 0 or triangles.max() >= len(mean):
        raise MorphableModelError(f"triangles index vertices outside [0, {len(mean)})")
    if fit_index.ndim != 1 or len(fit_index) == 0:
        raise MorphableModelError(f"fit_index must be (M,) with M ≥ 1, got {fit_index.shape}")
    if fit_index.min() < 0 or fit_index.max() >= len(mean):
        raise MorphableModelError(f"fit_index holds vertices outside [0, {len(mean)})")
