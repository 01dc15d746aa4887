"""The 3DMM fit of one shard: landmark store and morphable model in, fit store out.

Every clip of the landmark store (``results/landmarks/{shard}.zarr``) is fitted with
:class:`headgan_prep.fit.algorithm.Fitter`; frames the landmark stage marked invalid are invalid here too.
Each clip's expression error (:mod:`headgan_prep.fit.expression`: mouth and eye openings of the
fitted, projected shape against the landmarks') is stored with it. A clip is rejected (left out of
the store, one row in the rejection log, stage ``fit``) when its fraction of valid frames is below
``min_valid_fraction`` (``invalid_frames``), its median residual over the valid frames is above
``max_residual_px`` (``residual``), or, when ``max_expression_error`` is set, its mean expression
error over the valid frames is above it (``expression_error``).

The model's ``fit_index`` must have one entry per stored point; for an insightface store (1103
points: 1035 dense, then the 68 iBUG ones) a model with 1035 fitted points is fitted to the dense
points. Any other mismatch is a :class:`headgan_prep.fit.algorithm.FitError` that stops the job.

Store layout (Zarr v3, ``schema`` :data:`SCHEMA`)::

    {shard}.zarr/                      attrs: schema, shard, n_clips, model, model_source, solver,
                                       n_id, n_exp, config
      {clip_id}/                       attrs: clip_id, n_frames, n_valid, median_residual_px,
                                       expression_error (mean over the valid frames; null when
                                       no frame has one)
        identity    (n_id,) float32    clip identity parameters (model length units)
        expression  (T, n_exp) float32 per-frame expression parameters
        camera      (T, 7) float32     [s, qw, qx, qy, qz, tx, ty] (headgan_prep.fit.camera)
        euler       (T, 3) float32     [pitch, yaw, roll] degrees (headgan_prep.fit.rotation)
        residual    (T,) float32       RMS distance of projected fit and points, crop pixels
        valid       (T,) bool
        openings    (T, 3, 2) float32  [mouth, right eye, left eye] × [landmarks, fit], crop pixels
        expression_error (T,) float32  largest opening difference / outer eye-corner distance

Invalid frames hold NaN. The store is written to a temporary sibling and renamed when complete;
its bytes depend only on the inputs and the configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import zarr

from headgan_prep.fit.algorithm import ClipFit, FitConfig, FitConfigError, FitError, Fitter
from headgan_prep.fit.expression import clip_error, expression_error
from headgan_prep.morphable.model import MorphableModel
from headgan_prep.store.rejections import RejectionRow, ShardStats
from headgan_prep.store.shard_job import clip_groups, shard_job
from headgan_prep.store.layout import N_IBUG
from headgan_prep.store.zarr_direct import write_clip_group

SCHEMA = "headgan.fit/1"
ARRAYS = ("identity", "expression", "camera", "euler", "residual", "valid")
"""The arrays of a :class:`ClipFit`; each clip group also holds ``openings`` and ``expression_error``."""


@dataclass
class FitStats(ShardStats):
    """Outcome of :func:`fit_shard`: :class:`~headgan_prep.store.rejections.ShardStats` (clips of the
    landmark store, written and rejected; frames written) and

    Attributes
    ----------
    n_valid : int
        Frames written with a valid fit.
    median_residual_px : float
        Median residual over the valid frames written (NaN when none).
    """

    n_valid: int = 0
    median_residual_px: float = float("nan")


def fitted_points(points: np.ndarray, backend: str, n_fit: int) -> np.ndarray:
    """The stored points the model's ``fit_index`` refers to (module docstring).

    Parameters
    ----------
    points : np.ndarray
        ``(T, M, 3)`` landmark store points.
    backend : str
        The landmark store's backend attribute.
    n_fit : int
        Length of the model's ``fit_index``.

    Raises
    ------
    FitError
        The point counts do not match.
    """
    if points.shape[1] == n_fit:
        return points
    if backend == "insightface" and points.shape[1] - N_IBUG == n_fit:
        return points[:, :n_fit]
    raise FitError(
        f"the morphable model fits {n_fit} points but the landmark store holds {points.shape[1]} per frame "
        f"(backend {backend}); use a model whose fit_index matches the landmark backend"
    )


def clip_rejection(fit: ClipFit, cfg: FitConfig, error: np.ndarray | None = None) -> tuple[str, str] | None:
    """``(reason, detail)`` when the clip fails the thresholds of ``cfg``, else None; ``error`` is
    its ``(T,)`` expression error (checked when ``cfg.max_expression_error`` is set)."""
    fraction = float(fit.valid.mean()) if len(fit.valid) else 0.0
    if fraction < cfg.min_valid_fraction or not fit.valid.any():
        return "invalid_frames", (
            f"{fraction:.0%} of {len(fit.valid)} frames fitted (valid landmarks, finite, not degenerate) "
            f"< min_valid_fraction={cfg.min_valid_fraction:g}"
        )
    median = float(np.median(fit.residual[fit.valid]))
    if median > cfg.max_residual_px:
        return "residual", f"median residual {median:.3g} px > max_residual_px={cfg.max_residual_px:g}"
    mean = None if error is None else clip_error(error)
    if cfg.max_expression_error is not None and mean is not None:
        if mean > cfg.max_expression_error:
            return "expression_error", (
                f"mean expression error {mean:.3g} > max_expression_error={cfg.max_expression_error:g}"
            )
    return None


def write_clip(root: zarr.Group, clip_id: str, fit: ClipFit, openings: np.ndarray, error: np.ndarray) -> None:
    """Write one clip's group (module docstring)."""
    attributes = {
        "clip_id": clip_id,
        "n_frames": int(len(fit.valid)),
        "n_valid": int(fit.valid.sum()),
        "median_residual_px": float(np.median(fit.residual[fit.valid])),
        "expression_error": clip_error(error),
    }
    arrays = {name: getattr(fit, name) for name in ARRAYS} | {"openings": openings, "expression_error": error}
    write_clip_group(root, clip_id, attributes, arrays)


def fit_shard(landmarks_store: Path, model_path: Path, out_store: Path, rejected_tsv: Path, cfg: FitConfig) -> FitStats:
    """Fit the morphable model to every clip of a landmark store.

    Parameters
    ----------
    landmarks_store : Path
        ``results/landmarks/{shard}.zarr`` (schema ``headgan.landmarks/1``).
    model_path : Path
        Morphable model HDF5 file (:class:`headgan_prep.morphable.model.MorphableModel`).
    out_store : Path
        Zarr store to create, ``{shard}.zarr``; its stem is the shard name. Replaced if it exists.
    rejected_tsv : Path
        Rejection log (stage ``fit``), always written.
    cfg : FitConfig

    Returns
    -------
    FitStats

    Raises
    ------
    FitConfigError
        ``cfg`` is not a :class:`FitConfig`.
    headgan_prep.morphable.model.MorphableModelError
        The model file is missing or invalid.
    FitError
        The model's ``fit_index`` does not match the stored points.
    """
    if not isinstance(cfg, FitConfig):
        raise FitConfigError(f"cfg must be a FitConfig, got {type(cfg).__name__}")
    model = MorphableModel.load(model_path)
    fitter = Fitter(model, cfg)
    landmarks = zarr.open_group(str(landmarks_store), mode="r")
    clip_ids = clip_groups(landmarks)
    stats = FitStats(n_clips=len(clip_ids))
    residuals: list[np.ndarray] = []
    attributes = {
        "schema": SCHEMA,
        "model": model.name,
        "model_source": model.source,
        "solver": cfg.solver,
        "n_id": model.n_id,
        "n_exp": model.n_exp,
        "config": cfg.to_dict(),
    }
    with shard_job(out_store, rejected_tsv, stats, attributes) as job:
        for clip_id in clip_ids:
            clip = landmarks[clip_id]
            points = fitted_points(clip["points"][...], str(clip.attrs.get("backend", "")), fitter.n_points)
            fit = fitter.fit(points, clip["valid"][...])
            openings, error = expression_error(model, fit, points, clip["ibug68"][...])
            rejection = clip_rejection(fit, cfg, error)
            if rejection is not None:
                job.reject(RejectionRow(clip_id, "", "fit", *rejection))
                continue
            write_clip(job.root, clip_id, fit, openings, error)
            stats.n_valid += int(fit.valid.sum())
            residuals.append(fit.residual[fit.valid])
            job.kept(len(fit.valid))
    if residuals:
        stats.median_residual_px = float(np.median(np.concatenate(residuals)))
    return stats
