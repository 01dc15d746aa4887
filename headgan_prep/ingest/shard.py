"""Ingest one shard of clips: decode, detect, track, check, crop, and write a Zarr store.

Per clip: probe → decode frames (fixed rate, scaled so the longer side ≤ ``decode_max_side``) and
audio (mono, fixed rate) → detect faces on every ``detector.detect_every``-th frame (every
second by default; batches, further downscaled to ``detector.detect_max_side``) → follow the main
face → quality checks → crop one fixed square per clip → write. A clip that fails a check or
cannot be read becomes a row of the rejection TSV and the job goes on; a missing model file or a
bad configuration stops the whole job.

Store layout (Zarr v3, ``schema`` :data:`SCHEMA`)::

    {shard}.zarr/                      attrs: schema, shard, n_clips, config
      {clip_id}/                       attrs: see clip_attributes()
        frames  (T, S, S, 3) uint8     chunks (1, S, S, 3), one shard file per clip, blosc-lz4
        audio   (N,) float32           mono at sample_rate Hz; empty when the clip has none
        boxes   (T, 4) float32         main-face box per frame, source pixels, NaN when missing
        scores  (T,) float32           detector score of that box, 0 when missing
        valid   (T,) bool              whether the main face was found in the frame

The store is written to a temporary sibling and renamed when complete (:mod:`headgan_prep.store.atomic`).
With the same software on the same machine, its bytes depend only on the inputs and the configuration:
clips are written in clip-id order and no time or run-dependent value is recorded.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol

import cv2
import numpy as np
import zarr
from tqdm import tqdm
from zarr.codecs import BloscCodec

from headgan_prep.ingest import shots
from headgan_prep.ingest import track as tracking
from headgan_prep.ingest.detect import BACKENDS, Detections, FaceDetector, make_detector
from headgan_prep.store.frame_shards import write_frames
from headgan_prep.store.rejections import Rejection, RejectionRow, ShardStats
from headgan_prep.settings import StageSettings
from headgan_prep.store.shard_job import shard_job
from headgan_prep.ingest.video import VideoError, VideoInfo, decode_clip, fit_within, probe
from headgan_prep.store.zarr_direct import create_group, write_array

SCHEMA = "headgan.crops/1"
FRAME_CODEC = BloscCodec(cname="lz4", clevel=5, shuffle="noshuffle")
"""Compressor of the frame chunks. Video crops hold sensor and coding noise and compress by only
10–20 %; LZ4 gets about half of that at a fraction of zstd's cost (≈0.2 vs 0.6–1.3 ms to compress a
256² frame on one core) and decompresses fastest for training."""


SHOT_POLICIES = ("longest", "reject", "ignore")
"""What ``ingest.shot_cuts`` may say about a clip with shot cuts."""


class IngestConfigError(ValueError):
    """The ``ingest`` configuration is invalid."""


@dataclass(frozen=True)
class DetectorConfig:
    """Face detector settings (see :func:`headgan_prep.ingest.detect.make_detector`).

    Attributes
    ----------
    backend : str
        ``"mediapipe"`` (BlazeFace) or ``"insightface"`` (SCRFD).
    model : str or None
        Model file name inside ``models_dir/<backend>/``; None for the backend's default.
    score_threshold, nms_threshold : float
        Minimum face score and NMS IoU threshold, both in [0, 1].
    input_size : int or None
        insightface input side in pixels (multiple of 32); None picks it from the frame size.
    detect_max_side : int
        Frames are downscaled so their longer side is at most this many pixels before detection;
        boxes are mapped back. Detectors work at ≤ 640 px anyway.
    batch_frames : int
        Frames per detector call (bounds the memory of the downscaled copies).
    detect_every : int
        Detect on every ``detect_every``-th frame (and the last) only and interpolate the boxes in
        between (:func:`headgan_prep.ingest.track.interpolate_track`); 1 detects on every frame.
        Detection is the largest part of the stage's time (BlazeFace ≈ 1 ms a frame on one core),
        while the detections only decide the clip's one fixed crop (the median box) and its
        quality checks, which are fractions and extremes over the clip: talking heads move little
        in two frames at 25 fps. On the demo clips, every second frame moved crop boxes by at most
        2 source pixels against every frame and rejected the same clips.
    threads : int
        Detector threads.
    """

    backend: str = "mediapipe"
    model: str | None = None
    score_threshold: float = 0.5
    nms_threshold: float = 0.3
    input_size: int | None = None
    detect_max_side: int = 640
    batch_frames: int = 64
    detect_every: int = 2
    threads: int = 1


@dataclass(frozen=True)
class IngestConfig(StageSettings):
    """Settings of the ingest stage (the ``ingest:`` section of the workflow configuration).

    Attributes
    ----------
    fps : float
        Output frame rate, frames/s.
    sample_rate : int
        Output audio rate, Hz (mono).
    crop_size : int
        Side of the stored crops, pixels.
    margin : float
        Crop side over the longer side of the median face box (see :mod:`headgan_prep.ingest.track`).
    center_shift : float or None
        Upward shift of the crop centre from the median face-box centre, as a fraction of the box
        height; None takes the detector backend's value from :data:`headgan_prep.ingest.track.CENTER_SHIFT`.
    min_iou : float
        Smallest IoU for a detection to continue the main-face track.
    min_face_fraction : float
        ``no_face`` below this fraction of frames with the main face.
    max_motion : float
        ``large_motion`` when a face-box centre is further than this fraction of the crop side from
        the crop centre.
    max_scale_change : float
        ``large_motion`` when the largest face box is more than this many times the smallest
        (linear size).
    reject_multiple_faces : bool
        Whether to apply the ``multiple_faces`` check.
    max_second_face_ratio : float
        A frame has a second face when another face is at least this fraction of the main face's
        linear size.
    multiple_faces_fraction : float
        ``multiple_faces`` when at least this fraction (> 0) of the frames have a second face.
    min_frames : int
        ``too_short`` below this many frames at ``fps``.
    max_seconds : float
        ``too_long`` above this duration (bounds the memory of one clip).
    decode_max_side : int or None
        Frames are decoded scaled so the longer side is at most this many pixels (None: source
        size). 640 keeps 720p/1080p decoding cheap while a typical talking-head crop still covers
        ≥ 256 pixels of the decoded frame.
    decode_threads : int
        ffmpeg decoding threads.
    require_audio : bool
        False: clips without audio are kept with ``has_audio=false``; True: rejected as ``no_audio``.
    shot_cuts : str
        What a clip with shot cuts (:mod:`headgan_prep.ingest.shots`) becomes: ``longest`` keeps its
        longest shot (frames and audio), ``reject`` rejects it (``shot_cut``), ``ignore`` keeps it whole.
    cut_threshold : float
        Content change (mean absolute HSV difference of consecutive frames, 0–255) of a cut.
    padding : str
        How the part of a crop outside the frame (after shifting it inside, see
        :mod:`headgan_prep.ingest.track`) is filled: ``replicate`` (edge pixels), ``reflect`` or
        ``black``.
    max_padding : float
        ``out_of_frame`` when a larger fraction of the crop's area lies outside the frame.
    min_face_size : float
        ``low_resolution`` when the median face box's longer side is smaller, source pixels.
    detector : DetectorConfig
    """

    section: ClassVar[str] = "ingest"
    error: ClassVar[type[ValueError]] = IngestConfigError

    fps: float = 25.0
    sample_rate: int = 16000
    crop_size: int = 256
    margin: float = tracking.DEFAULT_MARGIN
    center_shift: float | None = None
    min_iou: float = tracking.DEFAULT_MIN_IOU
    min_face_fraction: float = 0.8
    max_motion: float = 0.25
    max_scale_change: float = 1.5
    reject_multiple_faces: bool = True
    max_second_face_ratio: float = 0.6
    multiple_faces_fraction: float = 0.2
    min_frames: int = 25
    max_seconds: float = 60.0
    decode_max_side: int | None = 640
    decode_threads: int = 1
    require_audio: bool = False
    shot_cuts: str = "longest"
    cut_threshold: float = shots.DEFAULT_THRESHOLD
    padding: str = "replicate"
    max_padding: float = 0.25
    min_face_size: float = 64.0
    detector: DetectorConfig = field(default_factory=DetectorConfig)

    def __post_init__(self):
        positive = {
            "fps": self.fps,
            "sample_rate": self.sample_rate,
            "crop_size": self.crop_size,
            "margin": self.margin,
            "max_motion": self.max_motion,
            "max_seconds": self.max_seconds,
            "decode_threads": self.decode_threads,
            "detector.detect_max_side": self.detector.detect_max_side,
            "detector.batch_frames": self.detector.batch_frames,
            "detector.detect_every": self.detector.detect_every,
            "detector.threads": self.detector.threads,
        }
        for name, value in positive.items():
            if not value > 0:
                raise IngestConfigError(f"ingest.{name} must be > 0, got {value!r}")
        if self.shot_cuts not in SHOT_POLICIES:
            raise IngestConfigError(f"ingest.shot_cuts must be one of {SHOT_POLICIES}, got {self.shot_cuts!r}")
        if not self.cut_threshold > 0:
            raise IngestConfigError(f"ingest.cut_threshold must be > 0, got {self.cut_threshold!r}")
        if self.padding not in tracking.PADDING_MODES:
            raise IngestConfigError(
                f"ingest.padding must be one of {tuple(tracking.PADDING_MODES)}, got {self.padding!r}"
            )
        if not 0 <= self.max_padding <= 1:
            raise IngestConfigError(f"ingest.max_padding must be in [0, 1], got {self.max_padding!r}")
        if not self.min_face_size >= 0:
            raise IngestConfigError(f"ingest.min_face_size must be ≥ 0, got {self.min_face_size!r}")
        if self.detector.backend not in BACKENDS:
            raise IngestConfigError(f"ingest.detector.backend must be one of {BACKENDS}, got {self.detector.backend!r}")
        if not 0 < self.multiple_faces_fraction <= 1:
            raise IngestConfigError(
                f"ingest.multiple_faces_fraction must be in (0, 1], got {self.multiple_faces_fraction!r}"
            )
        fractions = {
            "min_iou": self.min_iou,
            "min_face_fraction": self.min_face_fraction,
            "detector.score_threshold": self.detector.score_threshold,
            "detector.nms_threshold": self.detector.nms_threshold,
        }
        for name, value in fractions.items():
            if not 0 <= value <= 1:
                raise IngestConfigError(f"ingest.{name} must be in [0, 1], got {value!r}")
        if self.max_scale_change < 1:
            raise IngestConfigError(f"ingest.max_scale_change must be ≥ 1, got {self.max_scale_change!r}")
        if self.max_second_face_ratio <= 0:
            raise IngestConfigError(f"ingest.max_second_face_ratio must be > 0, got {self.max_second_face_ratio!r}")
        if self.min_frames < 1:
            raise IngestConfigError(f"ingest.min_frames must be ≥ 1, got {self.min_frames!r}")
        if self.decode_max_side is not None and self.decode_max_side < 2:
            raise IngestConfigError(f"ingest.decode_max_side must be ≥ 2 or null, got {self.decode_max_side!r}")

    @property
    def crop_center_shift(self) -> float:
        """``center_shift``, or the detector backend's default when it is None."""
        if self.center_shift is not None:
            return self.center_shift
        return tracking.CENTER_SHIFT.get(self.detector.backend, 0.0)

class ClipSource(Protocol):
    """What :func:`ingest_shard` needs to know about a clip (e.g. a manifest row)."""

    clip_id: str
    identity: str
    split: str
    path: Path


class ClipRejected(Exception):
    """A clip fails at ``stage`` for a known reason."""

    def __init__(self, stage: str, rejection: Rejection):
        super().__init__(f"{stage}: {rejection.reason}: {rejection.detail}")
        self.stage = stage
        self.rejection = rejection


@dataclass(frozen=True)
class ClipResult:
    """Everything stored for one kept clip.

    Attributes
    ----------
    frames : np.ndarray
        ``(T, S, S, 3)`` uint8 RGB crops.
    audio : np.ndarray
        ``(N,)`` float32 mono samples, empty when the clip has no audio.
    boxes : np.ndarray
        ``(T, 4)`` float32 main-face boxes in source pixels, NaN where missing.
    scores : np.ndarray
        ``(T,)`` float32.
    valid : np.ndarray
        ``(T,)`` bool.
    info : VideoInfo
    crop_box : tuple of float
        ``(x0, y0, side)`` in source pixels.
    padding : tuple of float
        ``(left, top, right, bottom)`` source pixels of the crop outside the frame.
    padded_fraction : float
        Share of the crop's area outside the frame.
    shot : tuple of int
        ``(start, stop)`` frames (at the output rate) of the decoded clip that were kept.
    n_cuts : int
        Shot cuts found in the decoded clip.
    """

    frames: np.ndarray
    audio: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    valid: np.ndarray
    info: VideoInfo
    crop_box: tuple[float, float, float]
    padding: tuple[float, float, float, float]
    padded_fraction: float
    shot: tuple[int, int]
    n_cuts: int


def detect_all(detector: FaceDetector, frames: np.ndarray, max_side: int, batch_frames: int) -> list[Detections]:
    """Detect faces on every frame, in batches, on copies downscaled to ``max_side``.

    Parameters
    ----------
    detector : FaceDetector
    frames : np.ndarray
        ``(T, H, W, 3)`` uint8 RGB.
    max_side : int
        Longer side, pixels, of the frames given to the detector.
    batch_frames : int
        Frames per detector call.

    Returns
    -------
    list of Detections
        ``T`` entries with boxes and keypoints in pixels of ``frames``.
    """
    height, width = frames.shape[1:3]
    size = fit_within(width, height, max_side)
    factor = np.array([width / size[0], height / size[1]], np.float32) if size else None
    detections = []
    for start in range(0, len(frames), batch_frames):
        batch = frames[start : start + batch_frames]
        if size is None:
            detections += detector.detect(batch)
            continue
        small = np.stack([cv2.resize(frame, size, interpolation=cv2.INTER_AREA) for frame in batch])
        for found in detector.detect(small):
            detections.append(
                Detections(
                    (found.boxes.reshape(-1, 2, 2) * factor).reshape(-1, 4),
                    found.scores,
                    found.keypoints * factor,
                )
            )
    return detections


def _reject(stage: str, rejection: Rejection | None) -> None:
    if rejection is not None:
        raise ClipRejected(stage, rejection)


def process_clip(path: Path, detector: FaceDetector, cfg: IngestConfig) -> ClipResult:
    """Run one clip through every step up to the crops.

    Raises
    ------
    ClipRejected
        The clip is unusable; ``stage`` is ``probe``, ``decode`` or ``track``.
    """
    try:
        info = probe(path)
    except VideoError as error:
        raise ClipRejected("probe", Rejection(error.reason, error.detail)) from None
    if info.duration_s > cfg.max_seconds:
        _reject("probe", Rejection("too_long", f"{info.duration_s:.2f} s > max_seconds={cfg.max_seconds:g}"))
    if cfg.require_audio and not info.has_audio:
        _reject("probe", Rejection("no_audio", "no audio stream and require_audio is set"))

    try:
        working_size = fit_within(info.width, info.height, cfg.decode_max_side)
        frames, audio = decode_clip(path, cfg.fps, working_size, cfg.sample_rate, threads=cfg.decode_threads, info=info)
    except VideoError as error:
        raise ClipRejected("decode", Rejection(error.reason, error.detail)) from None
    _reject("decode", tracking.check_length(len(frames), cfg.min_frames))
    shot, cuts = (0, len(frames)), np.zeros(0, np.int64)
    if cfg.shot_cuts != "ignore":
        cuts = shots.find_cuts(shots.content_changes(frames), cfg.cut_threshold, round(shots.MIN_SHOT_S * cfg.fps))
    if len(cuts) and cfg.shot_cuts == "reject":
        _reject("shots", Rejection("shot_cut", f"{len(cuts)} shot cut(s), at frame(s) {', '.join(map(str, cuts))}"))
    if len(cuts):
        shot = shots.longest_shot(cuts, len(frames))
        frames = frames[shot[0] : shot[1]]
        if audio is not None:
            per_frame = cfg.sample_rate / cfg.fps
            audio = audio[round(shot[0] * per_frame) : round(shot[1] * per_frame)]
        _reject("shots", tracking.check_length(len(frames), cfg.min_frames))

    keyframes = tracking.detection_frames(len(frames), cfg.detector.detect_every)
    detect_on = frames if len(keyframes) == len(frames) else frames[keyframes]
    dets = detect_all(detector, detect_on, cfg.detector.detect_max_side, cfg.detector.batch_frames)
    key_track = tracking.select_main_face(dets, cfg.min_iou)
    _reject("track", tracking.check_face_presence(key_track, cfg.min_face_fraction))
    height, width = frames.shape[1:3]
    box_scale = tracking.FACE_BOX_SCALE[cfg.detector.backend]
    box = tracking.crop_box(key_track, cfg.margin, (width, height), cfg.crop_center_shift, box_scale)
    _reject("track", tracking.check_motion(key_track, box, cfg.max_motion, cfg.max_scale_change))
    _reject("track", tracking.check_face_size(key_track, info.width / width, cfg.min_face_size))
    box = tracking.inside_frame(box, (width, height))
    _reject("track", tracking.check_padding(box, (width, height), cfg.max_padding))
    margins, padded_fraction = tracking.padding(box, (width, height))
    if cfg.reject_multiple_faces:
        _reject(
            "track",
            tracking.check_multiple_faces(key_track, cfg.max_second_face_ratio, cfg.multiple_faces_fraction),
        )
    track = (
        key_track if len(keyframes) == len(frames) else tracking.interpolate_track(key_track, keyframes, len(frames))
    )

    to_source = np.array([info.width / width, info.height / height] * 2, np.float32)
    return ClipResult(
        frames=tracking.crop_frames(frames, box, cfg.crop_size, cfg.padding),
        audio=audio if audio is not None else np.zeros(0, np.float32),
        boxes=track.boxes * to_source,
        scores=track.scores,
        valid=track.valid,
        info=info,
        crop_box=(box.x0 * float(to_source[0]), box.y0 * float(to_source[1]), box.side * float(to_source[0])),
        padding=tuple(float(m * to_source[i % 2]) for i, m in enumerate(margins)),
        padded_fraction=padded_fraction,
        shot=shot,
        n_cuts=len(cuts),
    )


def clip_attributes(clip: ClipSource, result: ClipResult, cfg: IngestConfig, detector_name: str) -> dict:
    """Attributes of a clip's group (JSON-serialisable).

    ``detector`` is the detector's name, ``{backend}:{model file stem}``; ``crop_box`` is
    ``[x0, y0, side]`` in source pixels, ``padding`` ``[left, top, right, bottom]`` the source
    pixels of it outside the frame and ``padded_fraction`` their share of its area; ``shot``
    ``[start, stop)`` the frames of the decoded clip kept and ``n_cuts`` the shot cuts found in it
    (:mod:`headgan_prep.ingest.shots`); ``source_fps`` the exact source rate as a fraction string
    and ``source_fps_float`` the same as a number.
    """
    info = result.info
    return {
        "clip_id": clip.clip_id,
        "identity": clip.identity,
        "split": clip.split,
        "source_path": str(clip.path),
        "source_fps": info.fps_fraction,
        "source_fps_float": info.fps,
        "source_size": [info.width, info.height],
        "n_frames": int(len(result.frames)),
        "fps": cfg.fps,
        "sample_rate": cfg.sample_rate,
        "has_audio": bool(info.has_audio),
        "crop_box": [round(v, 3) for v in result.crop_box],
        "padding": [round(v, 3) for v in result.padding],
        "padded_fraction": round(result.padded_fraction, 6),
        "padding_mode": cfg.padding,
        "shot": list(result.shot),
        "n_cuts": result.n_cuts,
        "detector": detector_name,
    }


def write_clip(root: zarr.Group, clip: ClipSource, result: ClipResult, cfg: IngestConfig, detector_name: str) -> None:
    """Write one clip's group (layout in the module docstring)."""
    folder = create_group(root, clip.clip_id, clip_attributes(clip, result, cfg, detector_name))
    write_frames(folder, "frames", result.frames, FRAME_CODEC)
    for name, values, fill in (
        ("audio", result.audio, 0.0),
        ("boxes", result.boxes, np.nan),
        ("scores", result.scores, 0.0),
        ("valid", result.valid, False),
    ):
        write_array(folder, name, values, fill)


def ingest_shard(
    clips: Sequence[ClipSource],
    out_store: Path,
    rejected_tsv: Path,
    cfg: IngestConfig,
    models_dir: Path,
    progress: bool = True,
) -> ShardStats:
    """Ingest the clips of one shard into a Zarr store and log the rejected ones.

    Parameters
    ----------
    clips : sequence of ClipSource
        Objects with ``clip_id``, ``identity``, ``split`` and ``path`` (absolute); processed in
        clip-id order.
    out_store : Path
        Zarr store to create, ``{shard}.zarr``; its stem is the shard name. Replaced if it exists.
    rejected_tsv : Path
        Rejection log (columns :data:`headgan_prep.store.rejections.REJECTION_COLUMNS`), always written.
    cfg : IngestConfig
    models_dir : Path
        Folder with the detector model files.
    progress : bool
        Show a tqdm bar over clips with the frame rate in the postfix.

    Returns
    -------
    ShardStats

    Raises
    ------
    IngestConfigError
        ``cfg`` is invalid or clip ids repeat.
    headgan_prep.models.registry.ModelFileMissing
        The detector model file is missing.
    """
    if not isinstance(cfg, IngestConfig):
        raise IngestConfigError(f"cfg must be an IngestConfig, got {type(cfg).__name__}")
    ordered = sorted(clips, key=lambda c: c.clip_id)
    repeated = sorted(k for k, n in Counter(c.clip_id for c in ordered).items() if n > 1)
    if repeated:
        raise IngestConfigError(f"clip ids repeat in the shard: {', '.join(repeated[:5])}")
    # OpenCV's thread pool spans every core by default; a job gets its own share of the machine
    # (crop resizing ran 0.10 ms a frame on one thread against 0.16 on two, on an idle 2-core VM)
    cv2.setNumThreads(max(cfg.decode_threads, cfg.detector.threads))
    detector = make_detector(
        cfg.detector.backend,
        models_dir,
        model=cfg.detector.model,
        score_threshold=cfg.detector.score_threshold,
        nms_threshold=cfg.detector.nms_threshold,
        input_size=cfg.detector.input_size,
        threads=cfg.detector.threads,
    )
    stats = ShardStats(n_clips=len(ordered))
    with shard_job(out_store, rejected_tsv, stats, {"schema": SCHEMA, "config": cfg.to_dict()}) as job:
        bar = tqdm(ordered, desc=f"ingest {Path(out_store).stem}", unit="clip", disable=not progress)
        for clip in bar:
            rejection = _ingest_one(job.root, clip, detector, cfg)
            if rejection is None:
                job.kept(job.root[clip.clip_id].attrs["n_frames"])
            else:
                job.reject(rejection)
            bar.set_postfix(job.progress())
    return stats


def _ingest_one(root: zarr.Group, clip: ClipSource, detector: FaceDetector, cfg: IngestConfig) -> RejectionRow | None:
    """Process and write one clip; return its rejection row, or None when it was written."""
    stage = "process"
    try:
        result = process_clip(Path(clip.path), detector, cfg)
        stage = "write"
        write_clip(root, clip, result, cfg, detector.name)
    except ClipRejected as rejected:
        return RejectionRow(clip.clip_id, str(clip.path), rejected.stage, *dataclasses.astuple(rejected.rejection))
    except (IngestConfigError, MemoryError):
        raise
    except Exception as error:  # one broken clip must not stop the shard
        if stage == "write" and clip.clip_id in root:
            del root[clip.clip_id]
        return RejectionRow(clip.clip_id, str(clip.path), stage, "error", f"{type(error).__name__}: {error}")
    return None
