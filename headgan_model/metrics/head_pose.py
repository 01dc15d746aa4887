"""ARD and ARE: head-pose transfer and frontalisation accuracy in degrees (paper §4, supplement §5).

Head angles come from the pipeline's own preprocessing, run in-process on the frames: the
configured landmark backend (:func:`headgan_prep.landmarks.shard.make_landmarker`, FaceMesh by default),
then the 3DMM fit (:class:`headgan_prep.fit.algorithm.Fitter`, Algorithm 1) with the given morphable model,
whose camera gives the Euler angles ``[pitch, yaw, roll]`` of the head rotation
(:func:`headgan_prep.fit.camera.head_rotation`, :func:`headgan_prep.fit.rotation.matrix_to_euler`); a
frontal face has all three 0.

Reductions (the paper says "average l1-distance of Euler angles across all frames"):

- **ARD**: per frame the mean over the three axes of ``|angle_generated − angle_driving|``
  (differences wrapped into [-180°, 180°)), then the mean over the frames where both fits are
  valid. ``details`` has the per-axis means (``pitch``, ``yaw``, ``roll``) and ``l1_sum``, the mean
  over frames of the sum over the axes (= 3 × ARD), the literal l1 distance.
- **ARE**: the same with the driving angles replaced by 0 (the frontal pose).

The driving angles may also come from the fit store (``euler`` and ``valid`` of
``results/fit/{shard}.zarr``) as a :class:`HeadAngles`, instead of being measured again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from headgan_model.metrics.result import MetricResult
from headgan_prep.fit.algorithm import FitConfig, Fitter
from headgan_prep.fit.shard import fitted_points
from headgan_prep.landmarks.shard import LandmarksConfig, make_landmarker
from headgan_prep.morphable.model import MorphableModel

AXES = ("pitch", "yaw", "roll")


@dataclass(frozen=True)
class HeadAngles:
    """Head rotation of each frame.

    Attributes
    ----------
    euler : np.ndarray
        (T, 3) float64 ``[pitch, yaw, roll]`` in degrees; NaN where not ``valid``.
    valid : np.ndarray
        (T,) bool: landmarks found (score ≥ ``min_score``) and the fit valid.
    """

    euler: np.ndarray
    valid: np.ndarray


class HeadPoseEstimator:
    """Landmarks and 3DMM fit of frames, as the preprocessing computes them.

    Parameters
    ----------
    landmarker
        A landmark backend (``locate(frames) -> (points (T, M, 3), scores (T,))``).
    model : MorphableModel
        The morphable model of the fit; its ``fit_index`` must match the landmark points.
    landmarks_cfg : LandmarksConfig
        Backend name and ``min_score`` of valid frames.
    fit_cfg : FitConfig
    """

    def __init__(self, landmarker, model: MorphableModel, landmarks_cfg: LandmarksConfig, fit_cfg: FitConfig):
        self.landmarker, self.landmarks_cfg = landmarker, landmarks_cfg
        self.fitter = Fitter(model, fit_cfg)

    def angles(self, frames: np.ndarray) -> HeadAngles:
        """Head angles of (T, S, S, 3) uint8 RGB frames (generated frames: S = 256)."""
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"expected (T, H, W, 3) uint8 RGB frames, got {frames.shape} {frames.dtype}")
        points, score = self.landmarker.locate(frames)
        valid = (score >= self.landmarks_cfg.min_score) & np.isfinite(points).all(axis=(1, 2))
        points = fitted_points(points, self.landmarks_cfg.backend, self.fitter.n_points)
        fit = self.fitter.fit(points, valid)
        return HeadAngles(np.where(fit.valid[:, None], fit.euler.astype(np.float64), np.nan), fit.valid.copy())


def make_head_pose_estimator(
    models_dir: str | Path,
    model_path: str | Path,
    landmarks_cfg: LandmarksConfig | None = None,
    fit_cfg: FitConfig | None = None,
) -> HeadPoseEstimator:
    """The estimator with the configured landmark backend and the morphable model file ``model_path``.

    Raises
    ------
    headgan_prep.models.registry.ModelFileMissing
        A landmark or detector model file is missing.
    headgan_prep.morphable.model.MorphableModelError
        The morphable model file cannot be read.
    """
    landmarks_cfg = landmarks_cfg or LandmarksConfig()
    landmarker = make_landmarker(landmarks_cfg, models_dir)
    return HeadPoseEstimator(landmarker, MorphableModel.load(Path(model_path)), landmarks_cfg, fit_cfg or FitConfig())


def _angle_result(name: str, delta: np.ndarray, valid: np.ndarray) -> MetricResult:
    if not valid.any():
        reason = f"no head pose on any of the {len(valid)} frames (landmarks or fit failed)"
        return MetricResult.unavailable(name, reason)
    absolute = np.abs(delta[valid])
    left_out = int((~valid).sum())
    warnings = (f"{name}: {left_out} of {len(valid)} frames without a head pose left out",) if left_out else ()
    details = {axis: float(value) for axis, value in zip(AXES, absolute.mean(axis=0))}
    details |= {"l1_sum": float(absolute.sum(axis=1).mean()), "frames": float(valid.sum())}
    return MetricResult(name, float(absolute.mean(axis=1).mean()), warnings, details=details)


def wrap_degrees(angles: np.ndarray) -> np.ndarray:
    """Angles in degrees wrapped into [-180, 180)."""
    return (np.asarray(angles, np.float64) + 180.0) % 360.0 - 180.0


def average_rotation_distance(driving: HeadAngles, generated: HeadAngles) -> MetricResult:
    """ARD of generated against driving head angles of equally many frames (module docstring)."""
    if driving.euler.shape != generated.euler.shape:
        raise ValueError(
            f"ARD: {len(driving.euler)} driving and {len(generated.euler)} generated frames differ in number"
        )
    return _angle_result("ARD", wrap_degrees(generated.euler - driving.euler), driving.valid & generated.valid)


def average_rotation_error(generated: HeadAngles) -> MetricResult:
    """ARE: deviation of the head angles from the frontal pose (all 0), module docstring."""
    return _angle_result("ARE", wrap_degrees(generated.euler), generated.valid)


def ard(driving_frames: np.ndarray, generated_frames: np.ndarray, estimator: HeadPoseEstimator) -> MetricResult:
    """ARD of (T, S, S, 3) uint8 generated frames against the (T, S', S', 3) uint8 driving frames."""
    if len(driving_frames) != len(generated_frames):
        raise ValueError(f"ARD: {len(driving_frames)} driving and {len(generated_frames)} generated frames")
    return average_rotation_distance(estimator.angles(driving_frames), estimator.angles(generated_frames))


def are(generated_frames: np.ndarray, estimator: HeadPoseEstimator) -> MetricResult:
    """ARE of (T, S, S, 3) uint8 frontalised frames."""
    return average_rotation_error(estimator.angles(generated_frames))
