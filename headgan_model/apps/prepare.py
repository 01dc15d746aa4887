"""Users' own files through the pipeline's preprocessing, in-process: a video or an image to the
generator's inputs.

A video goes through the stages the training stores went through, with the settings they were made
with (:meth:`PipelineSettings.from_results` reads them from the stores' root attributes): decoding
to 25 fps and 16 kHz, face detection, tracking and the crop (:func:`headgan_prep.ingest.shard.process_clip`),
the landmarks, the 3DMM fit, the NMFC images and the audio features. An image is one frame: the
face detected on it (none, or a second face as large as the ingest's ``max_second_face_ratio``,
is an error naming the ingest's reason), cropped as ingest crops a clip, then landmarks and fit.
Whatever a stage would reject is a :class:`InputRejected` naming the stage and its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import zarr

from headgan_prep.audio.shard import N_FEATURES, AudioConfig, clip_features, is_silent, open_deepspeech
from headgan_prep.fit.algorithm import FitConfig, Fitter
from headgan_prep.fit.parameters import FaceParameters
from headgan_prep.fit.shard import clip_rejection, fitted_points
from headgan_prep.ingest import track as tracking
from headgan_prep.ingest.detect import make_detector
from headgan_prep.ingest.shard import ClipRejected, IngestConfig, detect_all, process_clip
from headgan_prep.landmarks.shard import LandmarksConfig, TooManyInvalidFrames, clip_landmarks, make_landmarker
from headgan_prep.morphable.model import MorphableModel
from headgan_prep.render.renderer import NMFCRenderer, RenderConfig

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
"""Sources read as a single image (anything else is decoded as a video)."""
STAGE_DIRS = {"ingest": "crops", "landmarks": "landmarks", "fit": "fit", "render": "nmfc", "audio": "audio"}
"""Store folder of each stage whose settings a run's stores record."""


class InputRejected(ValueError):
    """A user's file fails a stage of the pipeline: ``stage`` and ``reason`` are the stage's own."""

    def __init__(self, path: Path, stage: str, reason: str, detail: str):
        super().__init__(f"{path}: rejected by {stage}: {reason} ({detail})")
        self.stage, self.reason = stage, reason


@dataclass(frozen=True)
class PipelineSettings:
    """The preprocessing settings of a run's stores."""

    ingest: IngestConfig
    landmarks: LandmarksConfig
    fit: FitConfig
    render: RenderConfig
    audio: AudioConfig

    @classmethod
    def from_results(cls, results: Path) -> PipelineSettings:
        """Read the settings from the root attributes (``config``) of the first store of each stage
        under ``results`` (every shard of a run is made with the same settings).

        Raises
        ------
        FileNotFoundError
            A stage has no store under ``results``.
        """
        values = {}
        for stage, folder in STAGE_DIRS.items():
            stores = sorted(Path(results, folder).glob("*.zarr"))
            if not stores:
                raise FileNotFoundError(
                    f"{Path(results, folder)}: no {stage} store to read the run's settings from (run `snakemake preprocess`)"
                )
            values[stage] = dict(zarr.open_group(str(stores[0]), mode="r").attrs["config"])
        return cls(
            IngestConfig.from_dict(values["ingest"]),
            LandmarksConfig.from_dict(values["landmarks"]),
            FitConfig.from_dict(values["fit"]),
            RenderConfig.from_dict(values["render"]),
            AudioConfig.from_dict(values["audio"]),
        )


@dataclass(frozen=True)
class Prepared:
    """A user's file as the generator's inputs.

    Attributes
    ----------
    frames : np.ndarray
        ``(T, S, S, 3)`` uint8 crops (T = 1 for an image).
    parameters : FaceParameters
        The fit.
    valid : np.ndarray
        ``(T,)`` bool fitted frames.
    nmfc : np.ndarray
        ``(T, S, S, 3)`` uint8.
    waveform : np.ndarray
        ``(N,)`` float32 audio (empty for an image or a clip without audio).
    sample_rate : int
    audio_features : np.ndarray
        ``(T, 300)`` float32 (zeros without audio or when silent).
    image : np.ndarray or None
        ``(H, W, 3)`` uint8: the whole image a crop was cut from (images only).
    crop_box : CropBox or None
        Where the crop was cut from ``image`` (images only).
    """

    frames: np.ndarray
    parameters: FaceParameters
    valid: np.ndarray
    nmfc: np.ndarray
    waveform: np.ndarray
    sample_rate: int
    audio_features: np.ndarray
    image: np.ndarray | None = None
    crop_box: tracking.CropBox | None = None


class Preparer:
    """Runs files through the preprocessing with one run's settings and models.

    Parameters
    ----------
    settings : PipelineSettings
    models_dir : Path
    model : MorphableModel
        The 3DMM the run's clips were fitted with.
    """

    def __init__(self, settings: PipelineSettings, models_dir: Path, model: MorphableModel):
        self.settings, self.models_dir, self.model = settings, Path(models_dir), model
        detector = settings.ingest.detector
        self.detector = make_detector(
            detector.backend,
            models_dir,
            model=detector.model,
            score_threshold=detector.score_threshold,
            nms_threshold=detector.nms_threshold,
            input_size=detector.input_size,
            threads=detector.threads,
        )
        self.landmarker = make_landmarker(settings.landmarks, models_dir)
        self.fitter = Fitter(model, settings.fit)
        size = settings.ingest.crop_size
        self.renderer = NMFCRenderer(model, size=size, batch=settings.render.batch, colouring=settings.render.colouring)

    def prepare(self, path: Path) -> Prepared:
        """An image (by its suffix, :data:`IMAGE_SUFFIXES`) or a video.

        Raises
        ------
        InputRejected
            A stage rejects the file (its stage, reason and detail).
        """
        path = Path(path)
        if path.suffix.lower() in IMAGE_SUFFIXES:
            image, box = self._image_crop(path)
            frames = tracking.crop_frames(image[None], box, self.settings.ingest.crop_size)
            return replace(self._from_crops(path, frames, np.zeros(0, np.float32)), image=image, crop_box=box)
        else:
            try:
                result = process_clip(path, self.detector, self.settings.ingest)
            except ClipRejected as error:
                raise InputRejected(
                    path, f"ingest ({error.stage})", error.rejection.reason, error.rejection.detail
                ) from None
            frames, waveform = result.frames, result.audio
        return self._from_crops(path, frames, waveform)

    def _image_crop(self, path: Path) -> tuple[np.ndarray, tracking.CropBox]:
        """The ``(H, W, 3)`` uint8 image and the crop box of its face, as ingest crops a clip's."""
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise InputRejected(path, "ingest (decode)", "unreadable", "not an image OpenCV can read")
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        cfg = self.settings.ingest
        detections = detect_all(self.detector, image[None], cfg.detector.detect_max_side, 1)
        track = tracking.select_main_face(detections, cfg.min_iou)
        if not track.valid.any():
            raise InputRejected(
                path, "ingest (track)", "no_face", f"no face scoring ≥ {cfg.detector.score_threshold:g}"
            )
        if cfg.reject_multiple_faces:
            rejection = tracking.check_multiple_faces(track, cfg.max_second_face_ratio, cfg.multiple_faces_fraction)
            if rejection is not None:
                raise InputRejected(path, "ingest (track)", rejection.reason, rejection.detail)
        return image, tracking.crop_box(track, cfg.margin, (image.shape[1], image.shape[0]), cfg.crop_center_shift)

    def _from_crops(self, path: Path, frames: np.ndarray, waveform: np.ndarray) -> Prepared:
        settings = self.settings
        try:
            landmarks = clip_landmarks(frames, self.landmarker, settings.landmarks)
        except TooManyInvalidFrames as error:
            raise InputRejected(path, "landmarks", "invalid_frames", str(error)) from None
        points = fitted_points(landmarks.points, settings.landmarks.backend, self.fitter.n_points)
        fit = self.fitter.fit(points, landmarks.valid)
        rejection = clip_rejection(fit, settings.fit)
        if rejection is not None:
            raise InputRejected(path, "fit", *rejection)
        parameters = FaceParameters(fit.identity, fit.expression, fit.camera)
        nmfc = self.renderer.render_parameters(parameters, fit.valid)
        return Prepared(
            frames,
            parameters,
            fit.valid,
            nmfc,
            waveform,
            settings.ingest.sample_rate,
            self._features(waveform, len(frames)),
        )

    def _features(self, waveform: np.ndarray, n_frames: int) -> np.ndarray:
        """``(T, 300)`` audio features as the audio stage computes them (zeros without audio or when silent)."""
        cfg, rate, fps = self.settings.audio, self.settings.ingest.sample_rate, self.settings.ingest.fps
        if not len(waveform) or is_silent(waveform, rate, fps, cfg):
            return np.zeros((n_frames, N_FEATURES), np.float32)
        with open_deepspeech(cfg.deepspeech, self.models_dir) as deepspeech:
            return clip_features(waveform, rate, fps, n_frames, cfg.deepspeech.mode, deepspeech)[0]
