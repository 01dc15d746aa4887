"""Dense 3D face points per frame: one shard's crops in, one landmark store out.

Per clip of the crop store (``results/crops/{shard}.zarr``): find the face on every frame, run the
landmark model on it, mark frames valid by score, smooth (optional), fill the invalid frames,
locate the mouth, write. Backends:

``mediapipe`` (default, runs offline)
    MediaPipe's rotated ROI → FaceMesh (:mod:`headgan_prep.landmarks.facemesh`): 468 points; the 68 iBUG
    points are the vertices :data:`headgan_prep.landmarks.facemesh.IBUG68`. Score: the FaceMesh
    face-presence score. With ``roi: track`` (default), as MediaPipe's video mode: BlazeFace runs on
    the first frame and on the frame after each one scoring below ``min_score`` (a frame where it
    finds no face gets NaN points and score 0); every other frame's ROI comes from the previous
    frame's 468 points (:meth:`headgan_prep.landmarks.facemesh.FaceMesh.track`). With ``roi: detect``: the ROI
    comes from the BlazeFace box and eye keypoints of the detection frames (below) and FaceMesh runs
    on every frame, also next to a detection frame that found no face: its score decides.
``insightface``
    SCRFD box of the detection frames → insightface ``1k3d68.onnx``
    (:mod:`headgan_prep.landmarks.insightface_1k3d68`): 1103 points, the 1035 dense points HeadGAN fits its
    3DMM to, then the 68 iBUG points. Score: the SCRFD score. ``roi`` does not apply.

Detection frames (``insightface``, and ``mediapipe`` with ``roi: detect``): every
``detect_every``-th crop and the last. Boxes and keypoints are linear in time between detection
frames that found the face and held at the first and last such frame; the detection score is linear
between two consecutive detection frames that both found the face, and 0 next to one that did not.

Face selection: on each frame detected on, the detection whose box centre is nearest the crop
centre (ingest centres the crop on the clip's main face).

Validity and fill policy: a frame is valid when its score is at least ``min_score``. A clip with
more than ``max_invalid_fraction`` invalid frames is rejected (reason ``invalid_frames``) and left
out of the store. In the others, every invalid frame takes the points of the nearest valid frame
(the earlier one on a tie), after smoothing: :data:`FILL_POLICY`.

Smoothing (off by default, as HeadGAN): each valid frame's points become the value at that frame of
a polynomial of degree ``smoothing_order`` (``savgol``; 0 for ``moving_average``) fitted by least
squares to the valid frames of the centred window of ``smoothing_window`` frames (Savitzky–Golay
filtering that skips invalid frames; windows are cut at the clip ends). A frame with no more than
``smoothing_order`` valid frames in its window is kept as it is.

Store layout (Zarr v3, ``schema`` :data:`SCHEMA`)::

    {shard}.zarr/                      attrs: schema, shard, n_clips, config
      {clip_id}/                       attrs: see clip_attributes()
        points     (T, M, 3) float32   crop pixels (x right, y down, continuous: pixel (i, j) covers
                                       [j, j+1] × [i, i+1]); z in the same unit, towards the camera
                                       negative, relative to the face's depth. M = 468 (mediapipe)
                                       or 1103 (insightface)
        ibug68     (T, 68, 3) float32  the 68 iBUG landmarks, same coordinates
        score      (T,) float32        backend score in [0, 1] (before the fill)
        valid      (T,) bool           score ≥ min_score
        mouth_box  (T, 4) float32      [x0, y0, x1, y1] of the square centred on the mean of the
                                       iBUG mouth points 48–67, of side mouth_margin × their
                                       extent (at least 64), moved inside the crop

Every array is one chunk per clip: the fit reads whole clips, and a chunk per frame cost more to
write (zarr's per-chunk overhead) than the landmark model took to run. The store is written to a
temporary sibling and renamed when complete; its bytes depend only on the crop store and the
configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
import zarr
from tqdm import tqdm

from headgan_prep.ingest.detect import Detections, FaceDetector, make_detector
from headgan_prep.landmarks.facemesh import IBUG68, FaceMesh, Roi
from headgan_prep.store.frame_shards import read_frames
from headgan_prep.landmarks.insightface_1k3d68 import DenseLandmarks3D
from headgan_prep.models.registry import resolve_model
from headgan_prep.store.rejections import RejectionRow, ShardStats
from headgan_prep.settings import StageSettings
from headgan_prep.store.shard_job import clip_groups, shard_job
from headgan_prep.store.layout import N_IBUG
from headgan_prep.ingest.track import detection_frames
from headgan_prep.store.zarr_direct import write_clip_group

SCHEMA = "headgan.landmarks/1"
BACKENDS = ("mediapipe", "insightface")
DEFAULT_MODELS = {"mediapipe": "face_landmark.tflite", "insightface": "1k3d68.onnx"}
ROI_MODES = ("track", "detect")
SMOOTHING = ("none", "moving_average", "savgol")
FILL_POLICY = "nearest_valid"
MOUTH = slice(48, 68)
"""iBUG mouth points (outer and inner lips)."""
MOUTH_BOX_SIDE = 64
"""Smallest side of the mouth box, crop pixels: HeadGAN's mouth discriminator input on 256 × 256
crops, to which training resizes larger boxes (``headgan_model.train.losses.crop_mouths``). A
smiling real face is up to 71 px wide in the crop, wider than a fixed 64-px box."""


class LandmarksConfigError(ValueError):
    """The ``landmarks`` configuration is invalid."""


@dataclass(frozen=True)
class LandmarksConfig(StageSettings):
    """Settings of the landmarks stage (the ``landmarks:`` section of the workflow configuration).

    Attributes
    ----------
    backend : str
        ``"mediapipe"`` (FaceMesh) or ``"insightface"`` (``1k3d68.onnx``).
    model : str or None
        Landmark model file inside ``models_dir/<backend>/``; None: :data:`DEFAULT_MODELS`.
    detector_model : str or None
        Face detector file inside ``models_dir/<backend>/`` (BlazeFace for mediapipe, SCRFD for
        insightface); None: the detector backend's default.
    detector_score_threshold : float
        Minimum detection score in [0, 1].
    roi : str
        How the ``mediapipe`` backend places FaceMesh's region of interest (module docstring):
        ``"track"``, from the previous frame's points, detecting only on the first frame and after
        a frame scoring below ``min_score`` (MediaPipe's video mode); ``"detect"``, from the
        detection frames (``detect_every``). The ``insightface`` backend always detects.
    detect_every : int
        Detect on every ``detect_every``-th frame (and the last) and follow the face in between
        (module docstring), for ``insightface`` and for ``mediapipe`` with ``roi: detect``. The
        ROI is 1.5 times the face box, so a face that moves a few pixels between detections stays
        well inside it.
    min_score : float
        Frames scoring below this are invalid; with ``roi: track`` the next frame detects again.
    max_invalid_fraction : float
        Clips with a larger fraction of invalid frames are rejected.
    smoothing : str
        ``"none"``, ``"moving_average"`` or ``"savgol"`` (module docstring).
    smoothing_window : int
        Odd window length in frames, ≥ 3.
    smoothing_order : int
        Polynomial degree of ``savgol``, smaller than the window.
    batch_frames : int
        Frames per model call of the insightface backend (FaceMesh runs one frame per call,
        see :class:`headgan_prep.landmarks.facemesh.FaceMesh`).
    threads : int
        Interpreter / ONNX Runtime threads of the detector and the landmark model.
    mouth_margin : float
        Mouth box side over the larger extent (width or height) of the iBUG mouth points, at least
        :data:`MOUTH_BOX_SIDE`.
    """

    section: ClassVar[str] = "landmarks"
    error: ClassVar[type[ValueError]] = LandmarksConfigError

    backend: str = "mediapipe"
    model: str | None = None
    detector_model: str | None = None
    detector_score_threshold: float = 0.5
    roi: str = "track"
    detect_every: int = 4
    min_score: float = 0.5
    max_invalid_fraction: float = 0.2
    smoothing: str = "none"
    smoothing_window: int = 5
    smoothing_order: int = 2
    batch_frames: int = 32
    threads: int = 1
    mouth_margin: float = 1.2

    def __post_init__(self):
        if not self.mouth_margin >= 1:
            raise LandmarksConfigError(f"landmarks.mouth_margin must be ≥ 1, got {self.mouth_margin!r}")
        if self.backend not in BACKENDS:
            raise LandmarksConfigError(f"landmarks.backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.roi not in ROI_MODES:
            raise LandmarksConfigError(f"landmarks.roi must be one of {ROI_MODES}, got {self.roi!r}")
        if self.smoothing not in SMOOTHING:
            raise LandmarksConfigError(f"landmarks.smoothing must be one of {SMOOTHING}, got {self.smoothing!r}")
        for name in ("detector_score_threshold", "min_score", "max_invalid_fraction"):
            if not 0 <= getattr(self, name) <= 1:
                raise LandmarksConfigError(f"landmarks.{name} must be in [0, 1], got {getattr(self, name)!r}")
        for name in ("detect_every", "batch_frames", "threads"):
            if not getattr(self, name) >= 1:
                raise LandmarksConfigError(f"landmarks.{name} must be ≥ 1, got {getattr(self, name)!r}")
        if self.smoothing_window < 3 or self.smoothing_window % 2 == 0:
            raise LandmarksConfigError(f"landmarks.smoothing_window must be odd and ≥ 3, got {self.smoothing_window!r}")
        if not 0 <= self.smoothing_order < self.smoothing_window:
            raise LandmarksConfigError(
                f"landmarks.smoothing_order must be in [0, smoothing_window), got {self.smoothing_order!r}"
            )

    @property
    def model_path(self) -> str:
        """Landmark model file relative to the models folder."""
        return f"{self.backend}/{self.model or DEFAULT_MODELS[self.backend]}"

    @property
    def smoothing_description(self) -> dict:
        """What the smoothing did, for the store attributes."""
        if self.smoothing == "none":
            return {"method": "none"}
        order = self.smoothing_order if self.smoothing == "savgol" else 0
        return {"method": self.smoothing, "window": self.smoothing_window, "order": order}


# ----------------------------------------------------------------------------------------------
# following the face
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaceTrack:
    """The face of a clip's crops on every frame.

    Attributes
    ----------
    boxes : np.ndarray
        ``(T, 4)`` float64 ``[x0, y0, x1, y1]`` pixels; NaN on every frame when no detection frame
        found a face.
    keypoints : np.ndarray
        ``(T, P, 2)`` float64 detector keypoints, pixels; NaN likewise.
    scores : np.ndarray
        ``(T,)`` float64 detection score in [0, 1], 0 where not backed by detections on both sides.
    """

    boxes: np.ndarray
    keypoints: np.ndarray
    scores: np.ndarray

    @property
    def found(self) -> bool:
        """Whether any detection frame found the face."""
        return not np.isnan(self.boxes[0, 0])


def central_face(found: Detections, size: tuple[int, int]) -> int | None:
    """Index of the detection whose box centre is nearest the centre of the ``(W, H)`` crop, None
    when there is none."""
    if not len(found.scores):
        return None
    offsets = (found.boxes[:, :2] + found.boxes[:, 2:]) / 2 - np.asarray(size, np.float64) / 2
    return int(np.argmin(np.hypot(*offsets.T)))


def follow_face(detections: list[Detections], keyframes: np.ndarray, n_frames: int, size: tuple[int, int]) -> FaceTrack:
    """Spread the detections of the detection frames over every frame (module docstring).

    Parameters
    ----------
    detections : list of Detections
        One entry per detection frame.
    keyframes : np.ndarray
        ``(K,)`` increasing frame indices of the detection frames, from 0 to ``n_frames - 1``.
    n_frames : int
        Frames ``T`` of the clip.
    size : tuple of int
        ``(W, H)`` of the crops, pixels.

    Returns
    -------
    FaceTrack
    """
    n_keypoints = detections[0].keypoints.shape[1]
    key_values = np.full((len(keyframes), 4 + 2 * n_keypoints), np.nan)
    key_scores = np.zeros(len(keyframes))
    for i, found in enumerate(detections):
        best = central_face(found, size)
        if best is not None:
            key_values[i] = np.r_[found.boxes[best], found.keypoints[best].ravel()]
            key_scores[i] = found.scores[best]
    has_face = key_scores > 0
    frames = np.arange(n_frames)
    if has_face.any():
        values = np.stack([np.interp(frames, keyframes[has_face], column[has_face]) for column in key_values.T], 1)
    else:
        values = np.full((n_frames, key_values.shape[1]), np.nan)
    after = np.searchsorted(keyframes, frames)
    before = np.where(keyframes[after] == frames, after, after - 1)
    span = np.maximum(keyframes[after] - keyframes[before], 1)
    weight = (frames - keyframes[before]) / span
    scores = (1 - weight) * key_scores[before] + weight * key_scores[after]
    scores[~(has_face[before] & has_face[after])] = 0.0
    return FaceTrack(values[:, :4], values[:, 4:].reshape(n_frames, n_keypoints, 2), scores)


def track_face(detector: FaceDetector, frames: np.ndarray, every: int) -> FaceTrack:
    """Detect on every ``every``-th frame (and the last) of ``(T, H, W, 3)`` crops and follow the face."""
    keyframes = detection_frames(len(frames), every)
    detections = detector.detect(frames[keyframes])
    return follow_face(detections, keyframes, len(frames), (frames.shape[2], frames.shape[1]))


# ----------------------------------------------------------------------------------------------
# backends
# ----------------------------------------------------------------------------------------------


class FaceMeshLandmarker:
    """``mediapipe`` backend: BlazeFace → MediaPipe ROI → FaceMesh (468 points).

    Parameters
    ----------
    detector : FaceDetector
        BlazeFace.
    mesh : FaceMesh
    detect_every : int
        Detection frame spacing of ``roi="detect"``.
    roi : str
        ``"track"`` or ``"detect"`` (:class:`LandmarksConfig`).
    min_score : float
        Face-presence score below which ``roi="track"`` detects again on the next frame.
    """

    n_points = 468
    ibug68 = IBUG68
    score_kind = "facemesh_face_presence"

    def __init__(
        self, detector: FaceDetector, mesh: FaceMesh, detect_every: int, *, roi: str = "track", min_score: float = 0.5
    ):
        self.detector, self.mesh, self.detect_every = detector, mesh, detect_every
        self.roi, self.min_score = roi, min_score

    def locate(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Points ``(T, 468, 3)`` float32 in crop pixels (NaN without a face) and scores ``(T,)``."""
        if self.roi == "track":
            return self.mesh.track(frames, self.detected_roi, self.min_score)
        track = track_face(self.detector, frames, self.detect_every)
        if not track.found:
            return np.full((len(frames), self.n_points, 3), np.nan, np.float32), np.zeros(len(frames), np.float32)
        return self.mesh.run(frames, Roi.from_detection(track.boxes, track.keypoints))

    def detected_roi(self, frame: np.ndarray) -> Roi | None:
        """MediaPipe's ROI of the central face BlazeFace finds in a ``(H, W, 3)`` crop, or None."""
        (found,) = self.detector.detect(frame[None])
        best = central_face(found, (frame.shape[1], frame.shape[0]))
        if best is None:
            return None
        return Roi.from_detection(found.boxes[best : best + 1], found.keypoints[best : best + 1])


class InsightFaceLandmarker:
    """``insightface`` backend: SCRFD box → ``1k3d68.onnx`` (1103 points, the last 68 iBUG)."""

    n_points = 1103
    ibug68 = np.arange(n_points - N_IBUG, n_points)
    score_kind = "detector"

    def __init__(self, detector: FaceDetector, model: DenseLandmarks3D, detect_every: int):
        self.detector, self.model, self.detect_every = detector, model, detect_every

    def locate(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Points ``(T, 1103, 3)`` float32 in crop pixels (NaN where no box) and scores ``(T,)``."""
        track = track_face(self.detector, frames, self.detect_every)
        points = np.full((len(frames), self.n_points, 3), np.nan, np.float32)
        boxed = track.scores > 0
        if boxed.any():
            points[boxed] = self.model.run(frames[boxed], track.boxes[boxed])
        return points, track.scores.astype(np.float32)


def make_landmarker(cfg: LandmarksConfig, models_dir) -> FaceMeshLandmarker | InsightFaceLandmarker:
    """The configured backend with its face detector.

    Raises
    ------
    headgan_prep.models.registry.ModelFileMissing
        The landmark or detector model file is missing.
    """
    model_path = resolve_model(models_dir, cfg.model_path)
    detector = make_detector(
        cfg.backend,
        models_dir,
        model=cfg.detector_model,
        score_threshold=cfg.detector_score_threshold,
        threads=cfg.threads,
    )
    if cfg.backend == "mediapipe":
        mesh = FaceMesh(model_path, threads=cfg.threads)
        return FaceMeshLandmarker(detector, mesh, cfg.detect_every, roi=cfg.roi, min_score=cfg.min_score)
    model = DenseLandmarks3D(model_path, threads=cfg.threads, batch_size=cfg.batch_frames)
    return InsightFaceLandmarker(detector, model, cfg.detect_every)


# ----------------------------------------------------------------------------------------------
# per-clip post-processing
# ----------------------------------------------------------------------------------------------


def smooth_valid(values: np.ndarray, valid: np.ndarray, window: int, order: int) -> np.ndarray:
    """Local polynomial smoothing over valid frames (module docstring).

    Parameters
    ----------
    values : np.ndarray
        ``(T, ...)`` per-frame values.
    valid : np.ndarray
        ``(T,)`` bool.
    window : int
        Odd window length, frames.
    order : int
        Polynomial degree (0: moving average of the valid frames).

    Returns
    -------
    np.ndarray
        ``(T, ...)`` float32; invalid frames, and frames with ≤ ``order`` valid frames in their
        window, unchanged.
    """
    from scipy.ndimage import correlate1d  # smoothing is off by default: no import cost otherwise

    flat = values.reshape(len(values), -1).astype(np.float64)
    weight = valid.astype(np.float64)
    offsets = np.arange(window, dtype=np.float64) - window // 2
    moments = np.stack([correlate1d(weight, offsets**j, mode="constant") for j in range(2 * order + 1)], -1)
    weighted = np.where(valid[:, None], flat, 0.0)
    sums = np.stack([correlate1d(weighted, offsets**j, axis=0, mode="constant") for j in range(order + 1)], 1)
    enough = valid & (moments[:, 0] > order + 0.5)
    gram = moments[enough][:, np.arange(order + 1)[:, None] + np.arange(order + 1)]
    first_row = np.linalg.solve(gram, np.broadcast_to(np.eye(order + 1)[0], gram.shape[:2])[..., None])[..., 0]
    out = flat.copy()
    out[enough] = np.einsum("tj,tjc->tc", first_row, sums[enough])
    return out.reshape(values.shape).astype(np.float32)


def fill_nearest(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Copy of ``(T, ...)`` values where each invalid frame takes the nearest valid frame's value
    (the earlier one on a tie). ``valid`` needs at least one True."""
    kept = np.flatnonzero(valid)
    frames = np.arange(len(values))
    after = np.clip(np.searchsorted(kept, frames), 0, len(kept) - 1)
    before = np.clip(after - 1, 0, len(kept) - 1)
    nearest = np.where(np.abs(frames - kept[before]) <= np.abs(kept[after] - frames), kept[before], kept[after])
    return values[nearest]


def mouth_boxes(ibug68: np.ndarray, crop_size: int, margin: float = 1.2) -> np.ndarray:
    """``(T, 4)`` float32 squares ``[x0, y0, x1, y1]`` centred on the mean of the iBUG mouth points
    of ``(T, 68, ≥2)`` landmarks, of side ``margin`` times the points' larger extent rounded to whole
    pixels, at least :data:`MOUTH_BOX_SIDE` and at most the crop, moved inside the ``crop_size`` crop."""
    mouth = ibug68[:, MOUTH, :2].astype(np.float64)
    centre = mouth.mean(axis=1)
    extent = (mouth.max(axis=1) - mouth.min(axis=1)).max(axis=1)
    side = np.clip(np.round(margin * extent), MOUTH_BOX_SIDE, crop_size)[:, None]
    corner = np.clip(centre - side / 2, 0, crop_size - side)
    return np.concatenate([corner, corner + side], axis=1).astype(np.float32)


@dataclass(frozen=True)
class ClipLandmarks:
    """Everything stored for one kept clip (shapes in the module docstring)."""

    points: np.ndarray
    ibug68: np.ndarray
    score: np.ndarray
    valid: np.ndarray
    mouth_box: np.ndarray


class TooManyInvalidFrames(Exception):
    """A clip has more invalid frames than ``max_invalid_fraction`` allows."""


def clip_landmarks(frames: np.ndarray, landmarker, cfg: LandmarksConfig) -> ClipLandmarks:
    """Points, validity, smoothing, fill and mouth box of one clip's ``(T, S, S, 3)`` uint8 crops.

    Raises
    ------
    TooManyInvalidFrames
    """
    points, score = landmarker.locate(frames)
    valid = (score >= cfg.min_score) & np.isfinite(points).all(axis=(1, 2))
    invalid = 1.0 - float(valid.mean())
    if invalid > cfg.max_invalid_fraction or not valid.any():
        raise TooManyInvalidFrames(
            f"{invalid:.0%} of {len(frames)} frames invalid (score < min_score={cfg.min_score:g} or no face) "
            f"> max_invalid_fraction={cfg.max_invalid_fraction:g}"
        )
    if cfg.smoothing != "none":
        order = cfg.smoothing_order if cfg.smoothing == "savgol" else 0
        points = smooth_valid(points, valid, cfg.smoothing_window, order)
    points = fill_nearest(points, valid)
    ibug68 = np.ascontiguousarray(points[:, landmarker.ibug68])
    return ClipLandmarks(points, ibug68, score, valid, mouth_boxes(ibug68, frames.shape[1], cfg.mouth_margin))


# ----------------------------------------------------------------------------------------------
# the shard job
# ----------------------------------------------------------------------------------------------


@dataclass
class LandmarksStats(ShardStats):
    """Outcome of :func:`landmarks_shard`: :class:`~headgan_prep.store.rejections.ShardStats` and
    ``n_valid``, the written frames with a valid face."""

    n_valid: int = 0


def clip_attributes(
    clip_id: str, result: ClipLandmarks, cfg: LandmarksConfig, landmarker, identity: str | None = None
) -> dict:
    """Attributes of a clip's group: clip_id, identity (the crop group's, when it has one), n_frames,
    n_valid, backend, model (path relative to the models folder), detector (``{backend}:{file stem}``), n_points, score (what it measures),
    min_score, fill (:data:`FILL_POLICY`), smoothing (method, window, order)."""
    return {
        "clip_id": clip_id,
        **({"identity": identity} if identity is not None else {}),
        "n_frames": int(len(result.points)),
        "n_valid": int(result.valid.sum()),
        "backend": cfg.backend,
        "model": cfg.model_path,
        "detector": landmarker.detector.name,
        "n_points": int(result.points.shape[1]),
        "score": landmarker.score_kind,
        "min_score": cfg.min_score,
        "fill": FILL_POLICY,
        "smoothing": cfg.smoothing_description,
    }


def write_clip(root: zarr.Group, attributes: dict, result: ClipLandmarks) -> None:
    """Write one clip's group (layout in the module docstring)."""
    arrays = {name: getattr(result, name) for name in ("points", "ibug68", "score", "valid", "mouth_box")}
    write_clip_group(root, attributes["clip_id"], attributes, arrays)


def landmarks_shard(
    crops_store: Path,
    out_store: Path,
    rejected_tsv: Path,
    cfg: LandmarksConfig,
    models_dir: Path,
    progress: bool = True,
) -> LandmarksStats:
    """Compute the landmarks of every clip of a crop store.

    Parameters
    ----------
    crops_store : Path
        ``results/crops/{shard}.zarr`` (schema ``headgan.crops/1``).
    out_store : Path
        Zarr store to create, ``{shard}.zarr``; its stem is the shard name. Replaced if it exists.
    rejected_tsv : Path
        Rejection log (stage ``landmarks``), always written.
    cfg : LandmarksConfig
    models_dir : Path
        Folder with the model files.
    progress : bool
        Show a tqdm bar over clips.

    Returns
    -------
    LandmarksStats

    Raises
    ------
    LandmarksConfigError
        ``cfg`` is not a :class:`LandmarksConfig`.
    headgan_prep.models.registry.ModelFileMissing
        A model file is missing.
    """
    if not isinstance(cfg, LandmarksConfig):
        raise LandmarksConfigError(f"cfg must be a LandmarksConfig, got {type(cfg).__name__}")
    cv2.setNumThreads(cfg.threads)  # as in ingest: OpenCV's pool would span every core
    landmarker = make_landmarker(cfg, models_dir)
    crops = zarr.open_group(str(crops_store), mode="r")
    clip_ids = clip_groups(crops)
    stats = LandmarksStats(n_clips=len(clip_ids))
    with shard_job(out_store, rejected_tsv, stats, {"schema": SCHEMA, "config": cfg.to_dict()}) as job:
        bar = tqdm(clip_ids, desc=f"landmarks {Path(out_store).stem}", unit="clip", disable=not progress)
        for clip_id in bar:
            rejection = _landmarks_one(job.root, clip_id, crops[clip_id], landmarker, cfg)
            if rejection is None:
                stats.n_valid += int(job.root[clip_id].attrs["n_valid"])
                job.kept(job.root[clip_id].attrs["n_frames"])
            else:
                job.reject(rejection)
            bar.set_postfix(job.progress())
    return stats


def _landmarks_one(root: zarr.Group, clip_id: str, clip: zarr.Group, landmarker, cfg: LandmarksConfig):
    """Process and write one clip; return its rejection row, or None when it was written."""
    path = str(clip.attrs.get("source_path", ""))
    try:
        result = clip_landmarks(read_frames(clip["frames"]), landmarker, cfg)
        identity = clip.attrs.get("identity")
        write_clip(root, clip_attributes(clip_id, result, cfg, landmarker, identity), result)
    except TooManyInvalidFrames as error:
        return RejectionRow(clip_id, path, "landmarks", "invalid_frames", str(error))
    except MemoryError:
        raise
    except Exception as error:  # one broken clip must not stop the shard
        if clip_id in root:
            del root[clip_id]
        return RejectionRow(clip_id, path, "landmarks", "error", f"{type(error).__name__}: {error}")
    return None
