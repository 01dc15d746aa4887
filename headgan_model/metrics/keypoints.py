"""AKD: average keypoint distance between generated and ground-truth frames, in crop pixels.

Reconstruction metric of the talking-head literature (Siarohin et al., FOMM, NeurIPS 2019), where
face-alignment's 68 landmarks of each generated frame are compared with those of its real frame.
Here the landmarks are the pipeline's own, run in-process on both frame sets with the configured
backend (:func:`headgan_prep.landmarks.shard.make_landmarker`, FaceMesh by default, as ARD and ARE
use): of its points, the **68 iBUG points** (the backend's ``ibug68`` subset: FaceMesh vertices
:data:`headgan_prep.landmarks.facemesh.IBUG68`, or the last 68 of insightface's 1103). They are
the points FOMM's AKD uses, the same for both backends (FaceMesh's 468 or insightface's 1103 dense
points would make scores depend on the backend's point density, dominated by the cheeks), and
cover brows, eyes, nose, lips and jaw.

Per frame pair the distance is the mean over the 68 points of the Euclidean distance of their
``(x, y)`` image positions (pixels of the frames as given: 256 × 256 crops in the pipeline; the
depth ``z`` is left out, as 2D detectors have none); AKD is the mean over the frame pairs where
both frames have a face: a score of at least ``min_score`` and finite points. Pairs without a face
on either side are left out and counted (``details["skipped"]`` and a warning), never counted as 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from headgan_model.metrics.result import MetricResult


@dataclass(frozen=True)
class Keypoints:
    """The keypoints of a batch of frames.

    Attributes
    ----------
    points : np.ndarray
        ``(T, 68, 2)`` float64 ``(x, y)`` in pixels of the frame; NaN where not ``found``.
    found : np.ndarray
        ``(T,)`` bool, the landmarker reported a face (score ≥ ``min_score``, finite points).
    """

    points: np.ndarray
    found: np.ndarray


class KeypointDetector:
    """The 68 iBUG points of a landmark backend.

    Parameters
    ----------
    landmarker
        A landmark backend (``locate(frames) -> (points (T, M, 3), scores (T,))`` and ``ibug68``,
        the indices of the 68 iBUG points among its M).
    min_score : float
        Frames scoring below it have no face (``landmarks.min_score``).
    """

    def __init__(self, landmarker, min_score: float):
        self.landmarker, self.min_score = landmarker, min_score

    def keypoints(self, frames: np.ndarray) -> Keypoints:
        """Keypoints of ``(T, H, W, 3)`` uint8 RGB frames."""
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"expected (T, H, W, 3) uint8 RGB frames, got {frames.shape} {frames.dtype}")
        points, score = self.landmarker.locate(frames)
        points = np.asarray(points, np.float64)[:, self.landmarker.ibug68, :2]
        found = (np.asarray(score) >= self.min_score) & np.isfinite(points).all(axis=(1, 2))
        return Keypoints(np.where(found[:, None, None], points, np.nan), found)


def keypoint_distances(generated: Keypoints, real: Keypoints) -> tuple[np.ndarray, np.ndarray]:
    """Per pair the mean point distance ``(T,)`` float64 pixels (NaN without both faces) and
    ``(T,)`` bool, both faces found."""
    if generated.points.shape != real.points.shape:
        raise ValueError(f"AKD: {len(generated.points)} generated and {len(real.points)} real frames differ in number")
    valid = generated.found & real.found
    distances = np.full(len(valid), np.nan)
    difference = generated.points[valid] - real.points[valid]
    distances[valid] = np.sqrt((difference**2).sum(axis=-1)).mean(axis=-1)
    return distances, valid


def average_keypoint_distance(generated: Keypoints, real: Keypoints) -> MetricResult:
    """AKD of generated against real keypoints of as many frames (module docstring).

    Returns
    -------
    MetricResult
        ``AKD`` in pixels, missing when no pair has both faces; ``details``: ``pairs`` (counted),
        ``skipped`` (no face on a side), ``no_face_generated``, ``no_face_real``.
    """
    distances, valid = keypoint_distances(generated, real)
    skipped = int((~valid).sum())
    details = {
        "pairs": float(valid.sum()),
        "skipped": float(skipped),
        "no_face_generated": float((~generated.found).sum()),
        "no_face_real": float((~real.found).sum()),
    }
    if not valid.any():
        return MetricResult.unavailable("AKD", f"no face on both sides in any of the {len(valid)} frame pairs")
    warnings = (f"AKD: {skipped} of {len(valid)} frame pairs without a face on one side left out",) if skipped else ()
    return MetricResult("AKD", float(distances[valid].mean()), warnings, details=details)


def akd(generated_frames: np.ndarray, real_frames: np.ndarray, detector: KeypointDetector) -> MetricResult:
    """AKD of ``(T, H, W, 3)`` uint8 generated frames against their ``(T, H, W, 3)`` real frames."""
    generated_frames, real_frames = np.asarray(generated_frames), np.asarray(real_frames)
    if generated_frames.shape != real_frames.shape:
        raise ValueError(
            f"AKD: generated frames {generated_frames.shape} and real frames {real_frames.shape} differ: "
            "keypoints are compared in pixels of frames of one size"
        )
    return average_keypoint_distance(detector.keypoints(generated_frames), detector.keypoints(real_frames))
