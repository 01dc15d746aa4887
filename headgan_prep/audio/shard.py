"""Audio features of one shard: 300 values per video frame for HeadGAN's renderer and mouth critic.

Per clip of ``results/crops/{shard}.zarr``: the ``audio`` track (mono, ``sample_rate`` Hz) and the
frame count ``T`` at ``fps`` → ``features`` ``(T, 300)`` float32 =
``[84 low-level (headgan_prep.audio.lowlevel) | 216 DeepSpeech (8 windows × 27 classes)]``.

The DeepSpeech part depends on ``deepspeech.mode`` (:mod:`headgan_prep.audio.deepspeech`):

* ``tokens`` (HeadGAN's code): one-hot of the decoded character active at each frame;
* ``logits`` (HeadGAN's paper): the model's character probabilities per frame;
* ``none``: zeros (low-level features only); chosen explicitly in the configuration.

Both ``tokens`` and ``logits`` run the DeepSpeech 0.9.3 acoustic model file
(``deepspeech.model`` under the models folder) and need 16 kHz audio. ``deepspeech.backend``
picks what runs it: ``litert`` (the ``.tflite`` file with ai-edge-litert) or ``deepspeech``
(Mozilla's package with the ``.pbmm`` file and optionally the scorer ``deepspeech.scorer``, as
HeadGAN's code did: :mod:`headgan_prep.audio.deepspeech_package`; mode ``tokens`` only).

A clip without an audio track (``has_audio`` false in the crop store) or a silent one (RMS below
``silence_db`` dBFS, or shorter than one short-term window, 20 ms at 25 fps) gets all-zero features and the
flag ``has_audio`` false or ``silent`` true, or, with ``require_audio`` / ``reject_silent``, a row
of the rejection TSV (reasons ``no_audio``, ``silent``) instead of a group.

Store layout (Zarr v3, ``schema`` :data:`SCHEMA`)::

    {shard}.zarr/                 attrs: schema, shard, n_clips, config, layout
      {clip_id}/                  attrs: clip_id, n_frames, fps, sample_rate, has_audio, silent,
                                         rms_db, deepspeech_mode, transcript
        features  (T, 300) float32   one chunk

``layout`` names the column ranges: ``lowlevel`` [0, 84) with ``lowlevel_names``, ``deepspeech``
[84, 300) as 8 consecutive windows (frames t−4 … t+3) of 27 classes ``deepspeech_classes``.
``transcript`` is the greedy DeepSpeech transcript (empty in mode ``none`` and for clips with zero
features).
The store is written to a temporary sibling and renamed when complete; its bytes depend only on
the crop store and the configuration.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import zarr

from headgan_prep.audio import lowlevel as audio_lowlevel
from headgan_prep.audio import deepspeech as ds
from headgan_prep.audio.deepspeech_package import DEFAULT_PYTHON, DeepSpeechPackageModel
from headgan_prep.models.registry import resolve_model
from headgan_prep.store.rejections import RejectionRow, ShardStats
from headgan_prep.settings import StageSettings
from headgan_prep.store.shard_job import clip_groups, shard_job
from headgan_prep.store.zarr_direct import write_clip_group

SCHEMA = "headgan.audio/1"
DEEPSPEECH_WINDOW = ds.WINDOW_FRAMES
"""Frames per DeepSpeech window (2L, L = 4)."""
DEEPSPEECH_CLASSES = tuple("abcdefghijklmnopqrstuvwxyz") + ("other",)
"""The 27 classes: a–z, then everything else (space, apostrophe, CTC blank)."""
DEEPSPEECH_MODEL = "deepspeech/deepspeech-0.9.3-models.tflite"
N_LOWLEVEL = audio_lowlevel.N_FEATURES
N_DEEPSPEECH = DEEPSPEECH_WINDOW * len(DEEPSPEECH_CLASSES)
N_FEATURES = N_LOWLEVEL + N_DEEPSPEECH
DEEPSPEECH_MODES = ("tokens", "logits", "none")
"""``deepspeech.mode`` values (module docstring)."""
DEEPSPEECH_BACKENDS = ("litert", "deepspeech")
"""``deepspeech.backend`` values (module docstring)."""


class AudioConfigError(ValueError):
    """The ``audio`` configuration is invalid."""


@dataclass(frozen=True)
class DeepSpeechConfig:
    """Settings of the 216 DeepSpeech features.

    Attributes
    ----------
    mode : str
        One of :data:`DEEPSPEECH_MODES`.
    model : str
        The acoustic model file, relative to the models folder (modes ``tokens`` and ``logits``):
        the ``.tflite`` file for backend ``litert``, the ``.pbmm`` file for ``deepspeech``.
    threads : int
        Model threads (backend ``litert``).
    backend : str
        One of :data:`DEEPSPEECH_BACKENDS`: ``litert`` runs the model with ai-edge-litert,
        ``deepspeech`` with Mozilla's package (mode ``tokens`` only).
    scorer : str or None
        External scorer file of the ``deepspeech`` backend's decoder, relative to the models folder,
        or None (no scorer).
    """

    mode: str = "logits"
    model: str = DEEPSPEECH_MODEL
    threads: int = 1
    backend: str = "litert"
    scorer: str | None = None


@dataclass(frozen=True)
class AudioConfig(StageSettings):
    """Settings of the audio stage (the ``audio:`` section of the workflow configuration).

    Attributes
    ----------
    require_audio : bool
        False: a clip without an audio track gets zero features and ``has_audio`` false; True: it
        is rejected (``no_audio``).
    reject_silent : bool
        False: a silent clip gets zero features and ``silent`` true; True: it is rejected
        (``silent``).
    silence_db : float
        A clip whose RMS over the whole track is below this level, dB relative to full scale, is
        silent.
    deepspeech : DeepSpeechConfig
    """

    section: ClassVar[str] = "audio"
    error: ClassVar[type[ValueError]] = AudioConfigError

    require_audio: bool = False
    reject_silent: bool = False
    silence_db: float = -60.0
    deepspeech: DeepSpeechConfig = field(default_factory=DeepSpeechConfig)

    def __post_init__(self):
        if self.deepspeech.mode not in DEEPSPEECH_MODES:
            raise AudioConfigError(
                f"audio.deepspeech.mode must be one of {DEEPSPEECH_MODES}, got {self.deepspeech.mode!r}"
            )
        if self.deepspeech.backend not in DEEPSPEECH_BACKENDS:
            raise AudioConfigError(
                f"audio.deepspeech.backend must be one of {DEEPSPEECH_BACKENDS}, got {self.deepspeech.backend!r}"
            )
        if self.deepspeech.backend == "deepspeech" and self.deepspeech.mode == "logits":
            raise AudioConfigError(
                "audio.deepspeech.mode logits needs backend litert: the deepspeech package gives decoded "
                "characters, not per-step character probabilities (use mode tokens with backend deepspeech)"
            )
        if self.deepspeech.scorer is not None and self.deepspeech.backend != "deepspeech":
            raise AudioConfigError("audio.deepspeech.scorer is used only by backend deepspeech; set it to null")
        if self.deepspeech.threads < 1:
            raise AudioConfigError(f"audio.deepspeech.threads must be ≥ 1, got {self.deepspeech.threads!r}")
        if not self.silence_db <= 0:
            raise AudioConfigError(f"audio.silence_db must be ≤ 0 (dBFS), got {self.silence_db!r}")



@dataclass
class AudioStats(ShardStats):
    """Outcome of :func:`audio_shard`: :class:`~headgan_prep.store.rejections.ShardStats` (clips read,
    written and rejected; frames written) and

    Attributes
    ----------
    n_silent, n_without_audio : int
        Written clips with zero features because they are silent or have no audio track.
    audio_seconds : float
        Duration of the clips written, seconds (``T / fps``).
    """

    n_silent: int = 0
    n_without_audio: int = 0
    audio_seconds: float = 0.0

    @property
    def realtime_factor(self) -> float:
        """Seconds of clips written per second of wall time."""
        return self.audio_seconds / self.seconds if self.seconds > 0 else 0.0


def rms_db(audio: np.ndarray) -> float:
    """RMS level of ``(N,)`` samples in [-1, 1], dB relative to full scale (-inf when empty or zero)."""
    if audio.size == 0:
        return float("-inf")
    power = float(np.mean(np.square(audio, dtype=np.float64)))
    return 10.0 * np.log10(power) if power > 0 else float("-inf")


def layout() -> dict:
    """Column layout of ``features`` (root attribute ``layout``)."""
    return {
        "lowlevel": [0, N_LOWLEVEL],
        "lowlevel_names": list(audio_lowlevel.FEATURE_NAMES),
        "deepspeech": [N_LOWLEVEL, N_FEATURES],
        "deepspeech_window": DEEPSPEECH_WINDOW,
        "deepspeech_window_frames": [-(DEEPSPEECH_WINDOW // 2), DEEPSPEECH_WINDOW // 2 - 1],
        "deepspeech_classes": list(DEEPSPEECH_CLASSES),
    }


DeepSpeechRunner = ds.DeepSpeechModel | DeepSpeechPackageModel
"""What runs the DeepSpeech model: backend ``litert`` or ``deepspeech``."""


@contextmanager
def open_deepspeech(
    settings: DeepSpeechConfig, models_dir: Path, python: str = DEFAULT_PYTHON
) -> Iterator[DeepSpeechRunner | None]:
    """The DeepSpeech model of the configured backend (None in mode ``none``), closed on exit.

    Parameters
    ----------
    settings : DeepSpeechConfig
    models_dir : Path
        Folder with the model file and the scorer.
    python : str
        Interpreter of the ``deepspeech`` backend's worker (Python ≤ 3.9 with the package).
    """
    if settings.mode == "none":
        yield None
    elif settings.backend == "litert":
        yield ds.DeepSpeechModel(resolve_model(models_dir, settings.model), settings.threads)
    else:
        scorer = resolve_model(models_dir, settings.scorer) if settings.scorer else None
        with DeepSpeechPackageModel(resolve_model(models_dir, settings.model), scorer, python) as model:
            yield model


def clip_features(
    audio: np.ndarray, sample_rate: int, fps: float, n_frames: int, mode: str, model: DeepSpeechRunner | None
) -> tuple[np.ndarray, str]:
    """Features of one clip's audio (not silent: see :func:`is_silent`) and its transcript.

    Parameters
    ----------
    audio : np.ndarray
        ``(N,)`` mono samples in [-1, 1].
    sample_rate : int
        Hz; 16000 unless ``mode`` is ``none``.
    fps : float
        Frame rate, frames/s.
    n_frames : int
        Frames ``T`` of the clip.
    mode : str
        ``deepspeech.mode``.
    model : DeepSpeechModel, DeepSpeechPackageModel or None
        The acoustic model (None in mode ``none``).

    Returns
    -------
    features : np.ndarray
        ``(T, 300)`` float32.
    transcript : str
        Greedy DeepSpeech transcript, empty in mode ``none``.
    """
    features = np.zeros((n_frames, N_FEATURES), np.float32)
    features[:, :N_LOWLEVEL] = audio_lowlevel.lowlevel_features(audio, sample_rate, fps, n_frames)
    if mode == "none":
        return features, ""
    features[:, N_LOWLEVEL:], transcript = ds.deepspeech_features(model, audio, n_frames, fps, mode)
    return features, transcript


def is_silent(audio: np.ndarray, sample_rate: int, fps: float, cfg: AudioConfig) -> bool:
    """Whether a clip's track counts as silent: RMS below ``cfg.silence_db`` dBFS, or too short for
    one short-term analysis window."""
    window, step = audio_lowlevel.analysis_windows(sample_rate, fps)
    return audio_lowlevel.count_windows(len(audio), window, step) == 0 or rms_db(audio) < cfg.silence_db


def _process_clip(
    source: zarr.Group, cfg: AudioConfig, model: DeepSpeechRunner | None
) -> tuple[np.ndarray | None, dict, RejectionRow | None]:
    """Features and attributes of one crop-store group, or its rejection row."""
    attrs = source.attrs
    clip_id, n_frames = attrs["clip_id"], int(attrs["n_frames"])
    fps, sample_rate = float(attrs["fps"]), int(attrs["sample_rate"])
    if model is not None and sample_rate != ds.SAMPLE_RATE:
        raise AudioConfigError(
            f"DeepSpeech needs {ds.SAMPLE_RATE} Hz audio, {clip_id} has {sample_rate} Hz (ingest.sample_rate)"
        )
    audio = source["audio"][...] if attrs["has_audio"] else np.zeros(0, np.float32)
    has_audio = bool(attrs["has_audio"])
    silent = bool(has_audio and is_silent(audio, sample_rate, fps, cfg))
    level = rms_db(audio)

    def reject(reason: str, detail: str) -> tuple[None, dict, RejectionRow]:
        return None, {}, RejectionRow(clip_id, str(attrs.get("source_path", "")), "audio", reason, detail)

    if not has_audio and cfg.require_audio:
        return reject("no_audio", "no audio track and audio.require_audio is set")
    if silent and cfg.reject_silent:
        return reject("silent", f"RMS {level:.1f} dBFS < silence_db={cfg.silence_db:g}, or shorter than one window")
    clip_attrs = {
        "clip_id": clip_id,
        "n_frames": n_frames,
        "fps": fps,
        "sample_rate": sample_rate,
        "has_audio": has_audio,
        "silent": silent,
        "rms_db": round(float(level), 3) if np.isfinite(level) else None,
        "deepspeech_mode": cfg.deepspeech.mode,
        "transcript": "",
    }
    if not has_audio or silent:
        return np.zeros((n_frames, N_FEATURES), np.float32), clip_attrs, None
    features, clip_attrs["transcript"] = clip_features(audio, sample_rate, fps, n_frames, cfg.deepspeech.mode, model)
    return features, clip_attrs, None


def audio_shard(
    crops_store: Path,
    out_store: Path,
    rejected_tsv: Path,
    cfg: AudioConfig,
    models_dir: Path,
    deepspeech_python: str = DEFAULT_PYTHON,
) -> AudioStats:
    """Compute the audio features of every clip of a crop store.

    Parameters
    ----------
    crops_store : Path
        ``results/crops/{shard}.zarr`` (:mod:`headgan_prep.ingest.shard`).
    out_store : Path
        Zarr store to create, ``results/audio/{shard}.zarr``; replaced if it exists.
    rejected_tsv : Path
        Rejection log, always written (header only when nothing is rejected).
    cfg : AudioConfig
    models_dir : Path
        Folder with the DeepSpeech model file ``cfg.deepspeech.model`` and scorer (not read in mode
        ``none``).
    deepspeech_python : str
        Python ≤ 3.9 interpreter with the ``deepspeech`` package (backend ``deepspeech``).

    Returns
    -------
    AudioStats

    Raises
    ------
    AudioConfigError
        ``cfg`` is not an :class:`AudioConfig`, or DeepSpeech is asked for on audio not at 16 kHz.
    headgan_prep.models.registry.ModelFileMissing
        The DeepSpeech model file or scorer is missing (modes ``tokens`` and ``logits``).
    headgan_prep.audio.deepspeech_package.DeepSpeechPackageMissing
        Backend ``deepspeech`` and ``deepspeech_python`` lacks the package.
    """
    if not isinstance(cfg, AudioConfig):
        raise AudioConfigError(f"cfg must be an AudioConfig, got {type(cfg).__name__}")
    with open_deepspeech(cfg.deepspeech, models_dir, deepspeech_python) as model:
        return _audio_shard(crops_store, out_store, rejected_tsv, cfg, model)


def _audio_shard(
    crops_store: Path, out_store: Path, rejected_tsv: Path, cfg: AudioConfig, model: DeepSpeechRunner | None
) -> AudioStats:
    """:func:`audio_shard` with the model open."""
    source = zarr.open_group(store=str(crops_store), mode="r")
    clip_ids = clip_groups(source)
    stats = AudioStats(n_clips=len(clip_ids))
    attributes = {"schema": SCHEMA, "config": cfg.to_dict(), "layout": layout()}
    with shard_job(out_store, rejected_tsv, stats, attributes) as job:
        for clip_id in clip_ids:
            group = source[clip_id]
            try:
                features, attrs, rejection = _process_clip(group, cfg, model)
            except (AudioConfigError, MemoryError):
                raise
            except Exception as error:  # one broken clip must not stop the shard
                path = str(group.attrs.get("source_path", ""))
                rejection = RejectionRow(clip_id, path, "audio", "error", f"{type(error).__name__}: {error}")
            if rejection is not None:
                job.reject(rejection)
                continue
            write_clip_group(job.root, clip_id, attrs, {"features": features.astype(np.float32, copy=False)})
            stats.n_silent += int(attrs["silent"])
            stats.n_without_audio += int(not attrs["has_audio"])
            stats.audio_seconds += len(features) / attrs["fps"]
            job.kept(len(features))
    return stats
