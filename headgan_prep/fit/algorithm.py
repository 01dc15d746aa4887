"""3DMM fitting to dense 3D face points, vectorised over the frames of a clip (HeadGAN's
supplement, Algorithm 1).

Per frame, with ``l`` the ``M`` regressed points and ``x̄``, ``U = [U_id U_exp]`` the model's mean and
bases restricted to the vertices ``fit_index``:

1. ``l' = Procrustes(l → x̄)``: similarity (scale, rotation without reflection, translation) that
   best maps the points onto the mean shape.
2. ``p = U⁺ (l' − x̄)`` with the pseudo-inverse computed once per model (``solver: pinv``, the
   paper), or the least-squares ``p`` with ``|p_id| ≤ bound_identity`` and
   ``|p_exp| ≤ bound_expression`` per component (``solver: bounded``, as HeadGAN's code with
   ``scipy.optimize.lsq_linear``; bounds are in parameter units, i.e. the model's length unit since
   the bases are orthonormal). The bounded problem is solved on the QR-reduced system
   ``min ‖R p − Qᵀ(l' − x̄)‖`` with ``U = Q R``, which has the same minimiser as the full one;
   frames whose unconstrained solution is inside the bounds keep it.
   With ``iterations > 1`` steps 1–2 repeat, aligning the points to the fitted shape
   ``x̄ + U p`` instead of the mean; the fixed point recovers the parameters of a shape seen
   through any similarity exactly.
3. Identity: one vector per clip, the mean of the per-frame identity parameters over the valid
   frames (HeadGAN's Eq. 1 takes the identity of one reference); expression: per frame, solved
   again (same solver) with that identity fixed.
4. Camera: least-squares affine ``P ∈ R^{2×4}`` from the fitted shape (model coordinates) to the
   original image points ``(x, y)``, then scale, rotation and translation
   (:func:`headgan_prep.fit.camera.affine_to_camera`) and the Euler angles of the head rotation
   (:func:`headgan_prep.fit.camera.head_rotation`). Residual: RMS distance, in pixels, between the
   projected fitted shape and the points.

Frames that are invalid in the input, hold NaN or inf, or whose points are (nearly) collinear are
invalid in the result: NaN parameters and ``valid`` false.

Every step is a few matrix products over all frames (in blocks of :data:`BLOCK_FRAMES`), fused
where it saves passes over the points: the Procrustes cross-covariances are one product with a
kernel built from the mean shape, the expression with the clip identity fixed follows from the
joint parameters (``pinv``), and the affine camera's normal equations come from moments of the
fitted shape, which is formed only for the residual. Products over the points run in float32,
the 3 × 3 problems in float64.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import numpy as np

from headgan_prep.fit.camera import (
    CAMERA_SIZE,
    DEGENERATE_TOLERANCE,
    affine_from_moments,
    affine_to_camera,
    camera_rotation,
    head_rotation,
)
from headgan_prep.morphable.model import MorphableModel
from headgan_prep.fit.rotation import matrix_to_euler
from headgan_prep.settings import StageSettings

SOLVERS = ("pinv", "bounded")
BLOCK_FRAMES = 256
"""Frames processed together: a block's temporaries stay in the CPU caches."""


class FitConfigError(ValueError):
    """The ``fit`` configuration is invalid."""


class FitError(ValueError):
    """The points and the morphable model do not go together (e.g. different point counts)."""


@dataclass(frozen=True)
class FitConfig(StageSettings):
    """Settings of the 3DMM fit (the ``fit:`` section of the workflow configuration).

    Attributes
    ----------
    solver : str
        ``"pinv"`` (the paper: pseudo-inverse) or ``"bounded"`` (HeadGAN's code: bounded least
        squares), module docstring.
    bound_identity, bound_expression : float
        ``solver: bounded``: largest absolute identity / expression parameter, model length units.
    iterations : int
        Procrustes + shape solves (1: the paper's single pass; more refine, module docstring).
    min_valid_fraction : float
        Clips with a smaller fraction of valid fitted frames are rejected (``invalid_frames``).
    max_residual_px : float
        Clips whose median residual over the valid frames is larger are rejected (``residual``).
    max_expression_error : float or None
        Clips whose mean expression error (:mod:`headgan_prep.fit.expression`, a fraction of the
        eye distance) over the valid frames is larger are rejected (``expression_error``); None:
        no such rejection.
    """

    section: ClassVar[str] = "fit"
    error: ClassVar[type[ValueError]] = FitConfigError

    solver: str = "pinv"
    bound_identity: float = 1000.0
    bound_expression: float = 1000.0
    iterations: int = 1
    min_valid_fraction: float = 0.8
    max_residual_px: float = 5.0
    max_expression_error: float | None = None

    def __post_init__(self):
        if self.solver not in SOLVERS:
            raise FitConfigError(f"fit.solver must be one of {SOLVERS}, got {self.solver!r}")
        for name in ("bound_identity", "bound_expression", "max_residual_px"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise FitConfigError(f"fit.{name} must be a positive number, got {value!r}")
        if isinstance(self.iterations, bool) or not isinstance(self.iterations, int) or self.iterations < 1:
            raise FitConfigError(f"fit.iterations must be an integer ≥ 1, got {self.iterations!r}")
        value = self.max_expression_error
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or not value > 0):
            raise FitConfigError(f"fit.max_expression_error must be a positive number or null, got {value!r}")
        if not 0 <= self.min_valid_fraction <= 1:
            raise FitConfigError(f"fit.min_valid_fraction must be in [0, 1], got {self.min_valid_fraction!r}")


@dataclass(frozen=True)
class ClipFit:
    """Fitted parameters of one clip (NaN where ``valid`` is false).

    Attributes
    ----------
    identity : np.ndarray
        ``(n_id,)`` float32, shared by all frames (NaN when no frame is valid).
    expression : np.ndarray
        ``(T, n_exp)`` float32.
    camera : np.ndarray
        ``(T, 7)`` float32 ``[s, qw, qx, qy, qz, tx, ty]`` (:mod:`headgan_prep.fit.camera`).
    euler : np.ndarray
        ``(T, 3)`` float32 ``[pitch, yaw, roll]`` of the head rotation, degrees
        (:func:`headgan_prep.fit.camera.head_rotation`, :mod:`headgan_prep.fit.rotation`).
    residual : np.ndarray
        ``(T,)`` float32 RMS distance between projected fitted shape and points, pixels.
    valid : np.ndarray
        ``(T,)`` bool.
    """

    identity: np.ndarray
    expression: np.ndarray
    camera: np.ndarray
    euler: np.ndarray
    residual: np.ndarray
    valid: np.ndarray


def rotation_scale(cross: np.ndarray, variance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Umeyama's similarity from centred moments: the rotation ``R`` (no reflection) and scale ``s``
    minimising ``Σ ‖s R p̃ − x̃‖²``.

    Parameters
    ----------
    cross : np.ndarray
        ``(T, 3, 3)`` ``Σ x̃ p̃ᵀ`` (targets times points, both centred).
    variance : np.ndarray
        ``(T,)`` ``Σ ‖p̃‖²``.

    Returns
    -------
    linear : np.ndarray
        ``(T, 3, 3)`` float32 ``s Rᵀ``: aligned points are ``p̃ @ linear`` plus the target mean.
    spread : np.ndarray
        ``(T,)`` ratio of the second to the first singular value of ``cross``; (near) 0 when the
        points are collinear or coincide.
    """
    u, sigma, vt = np.linalg.svd(np.asarray(cross, np.float64))
    sign = np.where(np.linalg.det(u @ vt) < 0, -1.0, 1.0)
    u[:, :, 2] *= sign[:, None]
    scale = (sigma[:, 0] + sigma[:, 1] + sign * sigma[:, 2]) / np.asarray(variance, np.float64)
    linear = np.swapaxes(u @ vt, 1, 2) * scale[:, None, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = sigma[:, 1] / sigma[:, 0]
    return linear.astype(np.float32), np.nan_to_num(spread)


def similarity_align(points: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Procrustes: each frame's points mapped by the similarity (scale, rotation without
    reflection, translation) that brings them closest to the targets in least squares.

    Parameters
    ----------
    points : np.ndarray
        ``(T, M, 3)``, not collinear.
    targets : np.ndarray
        ``(M, 3)`` or ``(T, M, 3)``.

    Returns
    -------
    np.ndarray
        ``(T, M, 3)`` float32 aligned points.
    """
    points = np.asarray(points, np.float32)
    targets = np.asarray(targets, np.float32)
    centred = points - points.mean(axis=1, keepdims=True)
    target_mean = targets.mean(axis=-2, keepdims=True)
    cross = np.swapaxes(targets - target_mean, -1, -2) @ centred
    linear, _ = rotation_scale(cross, np.einsum("tmi,tmi->t", centred, centred, dtype=np.float64))
    return centred @ linear + target_mean


def bounded_least_squares(r: np.ndarray, rhs: np.ndarray, bound: np.ndarray) -> np.ndarray:
    """``argmin ‖r p − rhs‖`` subject to ``|p| ≤ bound``, per row of ``rhs``.

    Parameters
    ----------
    r : np.ndarray
        ``(n, n)`` upper-triangular factor of the QR decomposition of the basis.
    rhs : np.ndarray
        ``(K, n)``: ``Qᵀ b`` per frame.
    bound : np.ndarray
        ``(n,)`` positive bounds.

    Returns
    -------
    np.ndarray
        ``(K, n)`` float64. Rows whose unconstrained solution is inside the bounds keep it; the
        others come from ``scipy.optimize.lsq_linear`` (``bvls``, exact active set).
    """
    from scipy.optimize import lsq_linear  # only the bounded solver needs it (≈0.5 s to import)

    r = np.asarray(r, np.float64)
    rhs = np.asarray(rhs, np.float64)
    solution = np.linalg.solve(r, rhs.T).T if len(rhs) else np.zeros_like(rhs)
    for k in np.flatnonzero((np.abs(solution) > bound).any(axis=1)):
        solution[k] = lsq_linear(r, rhs[k], bounds=(-bound, bound), method="bvls").x
    return solution


class Fitter:
    """Algorithm 1 for one model and configuration; the per-model matrices are computed once.

    Parameters
    ----------
    model : MorphableModel
    cfg : FitConfig
    """

    def __init__(self, model: MorphableModel, cfg: FitConfig):
        if not isinstance(cfg, FitConfig):
            raise FitConfigError(f"cfg must be a FitConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        self.n_id, self.n_exp = model.n_id, model.n_exp
        mean, id_rows, exp_rows = model.select(model.fit_index)
        self.n_points = n_points = len(mean)
        self.mean_flat = mean.reshape(-1)
        # flattened points @ averager: (T, 3) means; means @ averager.T · M: means repeated per point.
        self.averager = np.tile(np.eye(3, dtype=np.float32), (n_points, 1)) / np.float32(n_points)
        self.expander = np.tile(np.eye(3, dtype=np.float32), (1, n_points))
        centred_mean = mean - mean.mean(axis=0)
        self.centred_mean_flat = centred_mean.reshape(-1)
        # Σ_m x̃[m, i] p̃[m, k] = (p̃ flattened) @ kernel, column 3i + k.
        self.cross_kernel = np.einsum("mi,jk->mjik", centred_mean, np.eye(3, dtype=np.float32)).reshape(3 * n_points, 9)
        basis = np.hstack([id_rows, exp_rows]).astype(np.float64)
        self.basis_t = basis.T.astype(np.float32)
        self.id_rows = id_rows.astype(np.float64)
        exp_vertices = exp_rows.reshape(n_points, 3, self.n_exp).astype(np.float64)
        self.exp_mean = exp_vertices.mean(axis=0)
        self.exp_centred = exp_vertices - self.exp_mean
        # Rows x of every vertex, then y, then z: shapes come out as (K, 3, M) planes.
        self.exp_planes_t = np.swapaxes(self.exp_centred, 0, 1).reshape(3 * n_points, self.n_exp).T.astype(np.float32)
        # Σ_m B̃[m, i, k] B̃[m, j, l] as (k, (i, j, l)): e @ exp_gram, then · e over l.
        self.exp_gram = np.einsum("mik,mjl->kijl", self.exp_centred, self.exp_centred).reshape(self.n_exp, -1)
        if cfg.solver == "pinv":
            self.joint = np.linalg.pinv(basis).T.astype(np.float32)
            self.id_to_exp = (np.linalg.pinv(exp_rows.astype(np.float64)) @ self.id_rows).T.astype(np.float32)
        else:
            q, self.joint_r = np.linalg.qr(basis)
            self.joint = q.astype(np.float32)
            q, self.exp_r = np.linalg.qr(exp_rows.astype(np.float64))
            self.exp_only = q.astype(np.float32)
            self.joint_bound = np.r_[np.full(self.n_id, cfg.bound_identity), np.full(self.n_exp, cfg.bound_expression)]
            self.exp_bound = np.full(self.n_exp, float(cfg.bound_expression))

    def _solve_joint(self, delta: np.ndarray) -> np.ndarray:
        projected = delta @ self.joint
        if self.cfg.solver == "pinv":
            return projected
        return bounded_least_squares(self.joint_r, projected, self.joint_bound).astype(np.float32)

    def _centre(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Points about their per-frame mean (float32) and the means ``(K, 3)`` (float64)."""
        flat = frames.reshape(len(frames), -1)
        centre = flat @ self.averager
        return (flat - centre @ self.expander).reshape(frames.shape), centre.astype(np.float64)

    def _align(self, centred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Steps 1–2 (all iterations) on centred points: joint parameters ``(K, n_id + n_exp)``,
        spread (:func:`rotation_scale`) and, for the bounded solver, ``Q_expᵀ (l' − x̄)``."""
        flat = centred.reshape(len(centred), -1)
        variance = np.einsum("tm,tm->t", flat, flat).astype(np.float64)
        linear, spread = rotation_scale((flat @ self.cross_kernel).reshape(-1, 3, 3), variance)
        delta = (centred @ linear).reshape(flat.shape) - self.centred_mean_flat
        params = self._solve_joint(delta)
        for _ in range(1, self.cfg.iterations):
            targets = (self.mean_flat + params @ self.basis_t).reshape(centred.shape)
            target_mean = targets.mean(axis=1, keepdims=True)
            linear, _ = rotation_scale(np.swapaxes(targets - target_mean, 1, 2) @ centred, variance)
            delta = (centred @ linear + target_mean).reshape(flat.shape) - self.mean_flat
            params = self._solve_joint(delta)
        return params, spread, None if self.cfg.solver == "pinv" else delta @ self.exp_only

    def _solve_expression(
        self, params: np.ndarray, exp_projection: np.ndarray | None, identity: np.ndarray
    ) -> np.ndarray:
        if self.cfg.solver == "pinv":
            # U_exp⁺ (l' − x̄ − U_id p_id) = p_exp + U_exp⁺ U_id (p_id(t) − p_id): l' − x̄ − U p is
            # orthogonal to the columns of U, hence to those of U_exp.
            return params[:, self.n_id :] + (params[:, : self.n_id] - identity.astype(np.float32)) @ self.id_to_exp
        projected = exp_projection - (self.id_rows @ identity).astype(np.float32) @ self.exp_only
        return bounded_least_squares(self.exp_r, projected, self.exp_bound).astype(np.float32)

    def _neutral_terms(self, identity: np.ndarray) -> _NeutralTerms:
        neutral = (self.mean_flat + self.id_rows @ identity).reshape(-1, 3)
        mean = neutral.mean(axis=0)
        centred = neutral - mean
        return _NeutralTerms(
            mean=mean,
            planes=centred.T.reshape(-1).astype(np.float32),
            gram=centred.T @ centred,
            cross=np.einsum("mi,mjk->ijk", centred, self.exp_centred),
            weights=np.hstack([centred, self.exp_centred.reshape(len(neutral), -1)]).astype(np.float32),
        )

    def _camera(self, neutral: _NeutralTerms, expression: np.ndarray, centred: np.ndarray, centre: np.ndarray):
        """Step 4 from moments of the fitted shapes, which are not formed for the solve:
        (cameras ``(K, 7)``, residuals ``(K,)``)."""
        e = expression.astype(np.float64)
        linear_term = neutral.cross @ e.T  # (3, 3, K)
        gram = (
            neutral.gram
            + np.moveaxis(linear_term + np.swapaxes(linear_term, 0, 1), -1, 0)
            + ((e @ self.exp_gram).reshape(-1, 9, self.n_exp) @ e[:, :, None]).reshape(-1, 3, 3)
        )
        image = np.ascontiguousarray(np.swapaxes(centred[:, :, :2], 1, 2))  # (K, 2, M)
        moments = (image.reshape(2 * len(e), -1) @ neutral.weights).reshape(len(e), 2, -1)
        cross = np.swapaxes(moments[:, :, :3], 1, 2) + np.einsum(
            "taik,tk->tia", moments[:, :, 3:].reshape(len(e), 2, 3, self.n_exp), e
        )
        shape_mean = neutral.mean + e @ self.exp_mean.T
        cameras = affine_to_camera(affine_from_moments(gram, cross, shape_mean, centre[:, :2]))
        # Residual: projected shapes minus points, both about their means, plus the offset of the means.
        rows = (camera_rotation(cameras)[:, :2] * cameras[:, :1, None]).astype(np.float32)
        planes = (neutral.planes + expression @ self.exp_planes_t).reshape(len(e), 3, -1)
        # Both point sets are centred, so the offset of the means adds its square to every point.
        offset = (rows @ shape_mean[:, :, None].astype(np.float32))[..., 0] + cameras[:, 5:7] - centre[:, :2]
        difference = rows @ planes - image
        squares = np.einsum("tam,tam->t", difference, difference) / centred.shape[1]
        residual = np.sqrt(squares + (offset**2).sum(axis=1))
        return cameras, residual

    def fit(self, points: np.ndarray, valid: np.ndarray | None = None) -> ClipFit:
        """Fit every frame of a clip.

        Parameters
        ----------
        points : np.ndarray
            ``(T, M, 3)`` points, image pixels (x right, y down; z in the same unit), in the order
            of the model's ``fit_index``.
        valid : np.ndarray or None
            ``(T,)`` bool validity from the landmark stage; None: all frames.

        Returns
        -------
        ClipFit

        Raises
        ------
        FitError
            ``points`` is not ``(T, M, 3)`` with the model's M, or ``valid`` not ``(T,)``.
        """
        points = np.asarray(points, np.float32)
        if points.ndim != 3 or points.shape[1:] != (self.n_points, 3):
            raise FitError(f"points must be (T, {self.n_points}, 3) for this model's fit_index, got {points.shape}")
        n_frames = len(points)
        ok = np.isfinite(points).all(axis=(1, 2))
        if valid is not None:
            valid = np.asarray(valid, bool)
            if valid.shape != (n_frames,):
                raise FitError(f"valid must be ({n_frames},) for {n_frames} frames, got {valid.shape}")
            ok &= valid
        result = {
            "identity": np.full(self.n_id, np.nan, np.float32),
            "expression": np.full((n_frames, self.n_exp), np.nan, np.float32),
            "camera": np.full((n_frames, CAMERA_SIZE), np.nan, np.float32),
            "euler": np.full((n_frames, 3), np.nan, np.float32),
            "residual": np.full(n_frames, np.nan, np.float32),
        }
        if ok.any():
            identity, expression, cameras, residual, good = self._fit_frames(points[ok])
            ok[ok] = good
            if ok.any():
                result["identity"] = identity.astype(np.float32)
            result["expression"][ok] = expression[good]
            result["camera"][ok] = cameras[good]
            result["euler"][ok] = matrix_to_euler(head_rotation(cameras[good]))
            result["residual"][ok] = residual[good]
        return ClipFit(valid=ok, **result)

    def _fit_frames(self, frames: np.ndarray):
        """Steps 1–4 on ``K ≥ 1`` finite frames: identity, expression, cameras, residuals and
        which frames succeeded, in blocks of :data:`BLOCK_FRAMES`."""
        blocks = [slice(start, start + BLOCK_FRAMES) for start in range(0, len(frames), BLOCK_FRAMES)]
        centred = [self._centre(frames[block]) for block in blocks]
        params, spread, exp_projection = (
            np.concatenate(parts) if parts[0] is not None else None
            for parts in zip(*(self._align(points) for points, _ in centred))
        )
        spread_ok = spread > DEGENERATE_TOLERANCE
        identity = (
            params[spread_ok, : self.n_id].mean(axis=0, dtype=np.float64)
            if spread_ok.any()
            else np.full(self.n_id, np.nan)
        )
        expression = self._solve_expression(params, exp_projection, identity)
        neutral = self._neutral_terms(identity)
        cameras, residual = (
            np.concatenate(parts)
            for parts in zip(*(self._camera(neutral, expression[block], *c) for block, c in zip(blocks, centred)))
        )
        good = spread_ok & np.isfinite(cameras).all(axis=1) & np.isfinite(residual)
        return identity, expression, cameras, residual, good


class _NeutralTerms(NamedTuple):
    """Per-clip moments of the neutral shape ``x̄ + U_id p_id`` at the fitted vertices, for
    :meth:`Fitter._camera` (``B̃``: expression basis per vertex, about its mean)."""

    mean: np.ndarray  # (3,)
    planes: np.ndarray  # (3M,) float32, about the mean, x of every vertex then y then z
    gram: np.ndarray  # (3, 3) Σ ñ ñᵀ
    cross: np.ndarray  # (3, 3, n_exp) Σ ñ B̃ᵀ
    weights: np.ndarray  # (M, 3 + 3 n_exp) float32 [ñ | B̃]
