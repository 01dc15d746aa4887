"""Cross-identity reenactment (paper §4.3): a source frame driven by a clip of another identity.

The driven shape of frame t has the source's identity and the driving clip's expression
(:func:`headgan_prep.fit.parameters.adapt_identity`); its camera is the driving camera adapted to
the source as the official code's ``adapt_cam_params`` does (:func:`adapt_camera`): the driving
rotation, the driving scale rescaled by the ratio of the source's to the driving's mean scale, and
the driving translation per unit scale moved from the driving's mean to the source's, both
smoothed by a moving average. The NMFC images of these parameters drive the generator with the
source frame as reference and the driving audio features; the video gets the driving audio.

Written into ``results/apps/{run}/reenact/`` (built in a temporary sibling, renamed when complete)::

    {driving}__{source}.mp4        the reenacted clip, H.264 at 25 fps, with the driving audio
    {driving}__{source}.side.mp4   source | driving | reenacted NMFC | generated
    pairs.tsv                      driving, source, source frame, n_frames, identities
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from headgan_model.apps.clips import Clip, split_clips
from headgan_model.apps.inference import Animator, load_generator
from headgan_model.apps.reconstruct import preview_rows, write_preview
from headgan_model.apps.settings import AppsConfigError, AppsSettings, frame_number
from headgan_model.apps.tables import write_tsv
from headgan_model.apps.video import write_task_videos
from headgan_prep.dataset.reader import DatasetReader
from headgan_prep.fit.parameters import FaceParameters, adapt_identity
from headgan_prep.morphable.model import MorphableModel
from headgan_prep.render.renderer import NMFCRenderer, RenderConfig
from headgan_prep.store.atomic import atomic_directory

PAIR_COLUMNS = ("driving", "source", "source_frame", "n_frames", "driving_identity", "source_identity")


def moving_average(signal: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over axis 0 with the ends repeated (length kept).

    Parameters
    ----------
    signal : np.ndarray
        ``(T, ...)``.
    window : int
        Frames averaged; an even window reaches one frame further back than forward.

    Returns
    -------
    np.ndarray
        ``(T, ...)`` float64.
    """
    signal = np.asarray(signal, np.float64)
    left, right = window // 2, window // 2 if window % 2 else window // 2 - 1
    padded = np.concatenate([np.repeat(signal[:1], left, 0), signal, np.repeat(signal[-1:], right, 0)])
    cumulative = np.concatenate([np.zeros((1, *signal.shape[1:])), np.cumsum(padded, axis=0)])
    return (cumulative[window:] - cumulative[:-window]) / window


def _fill_invalid(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``values`` with the rows of invalid frames taken from the nearest valid frame (earlier on a tie)."""
    valid_rows = np.flatnonzero(valid)
    nearest = valid_rows[np.abs(np.arange(len(values))[:, None] - valid_rows[None]).argmin(axis=1)]
    return values[nearest]


def adapt_camera(driving: np.ndarray, source: np.ndarray, window: int = 15) -> np.ndarray:
    """Driving cameras adapted to a source (the official code's ``adapt_cam_params``).

    With ``s`` the scale and ``n = t / s`` the translation per unit scale of each camera: scale
    ``S_t = s_t · mean(s_source) / mean(s_driving)``, translation ``S_t · (n_t − mean(n_driving) +
    mean(n_source))``, each moving-averaged over ``window`` frames; the rotation is the driving one.
    A source seen through a constant camera driven by itself gets that camera back.

    Parameters
    ----------
    driving : np.ndarray
        ``(T, 7)`` cameras of the driving clip; rows of invalid frames are NaN.
    source : np.ndarray
        ``(K, 7)`` cameras of the source (one frame, or a clip).
    window : int

    Returns
    -------
    np.ndarray
        ``(T, 7)`` float32; NaN where the driving camera is.

    Raises
    ------
    ValueError
        No finite driving or source camera.
    """
    driving = np.asarray(driving, np.float64)
    source = np.asarray(source, np.float64).reshape(-1, 7)
    valid = np.isfinite(driving).all(axis=1)
    source = source[np.isfinite(source).all(axis=1)]
    if not valid.any() or not len(source):
        raise ValueError("the driving clip and the source need a valid camera each")
    filled = _fill_invalid(driving, valid)
    scale = filled[:, 0] * source[:, 0].mean() / driving[valid, 0].mean()
    per_scale = filled[:, 5:7] / filled[:, :1]
    shifted = per_scale - per_scale[valid].mean(axis=0) + (source[:, 5:7] / source[:, :1]).mean(axis=0)
    scale = moving_average(scale, window)
    adapted = filled.copy()
    adapted[:, 0] = scale
    adapted[:, 5:7] = scale[:, None] * moving_average(shifted, window)
    adapted[~valid] = np.nan
    return adapted.astype(np.float32)


def reenactment_parameters(source: FaceParameters, driving: FaceParameters, window: int = 15) -> FaceParameters:
    """The source's identity with the driving expressions, seen through the adapted driving cameras.

    Parameters
    ----------
    source : FaceParameters
        The source's fit (its cameras: one frame or several).
    driving : FaceParameters
    window : int
        Smoothing of :func:`adapt_camera`.
    """
    reenacted = adapt_identity(source.identity, driving)
    return FaceParameters(reenacted.identity, reenacted.expression, adapt_camera(driving.camera, source.camera, window))


def choose_pairs(driving: list[Clip], sources: list[Clip], n_pairs: int, seed: int) -> list[tuple[Clip, Clip]]:
    """``n_pairs`` random (driving, source) pairs of different identities, seeded (all when fewer).

    Raises
    ------
    AppsConfigError
        No pair of different identities exists.
    """
    candidates = [(d, s) for d in driving for s in sources if d.identity != s.identity]
    if not candidates:
        identities = sorted({c.identity for c in driving + sources})
        raise AppsConfigError(
            f"no cross-identity (driving, source) pair: the clips hold the identities {identities}; "
            "set apps.reenact.source_split to a split of other identities or list apps.reenact.pairs"
        )
    order = np.random.default_rng(seed).permutation(len(candidates))[:n_pairs]
    return [candidates[i] for i in order]


def named_pairs(driving: list[Clip], sources: list[Clip], pairs: list) -> list[tuple[Clip, Clip]]:
    """The configured ``[[driving id, source id], …]`` pairs as clips (an unknown id is an error)."""
    by_id = [{c.clip_id: c for c in clips} for clips in (driving, sources)]
    chosen = []
    for driving_id, source_id in pairs:
        for clip_id, known, split in ((driving_id, by_id[0], "driving"), (source_id, by_id[1], "source")):
            if clip_id not in known:
                raise AppsConfigError(
                    f"apps.reenact.pairs: {split} clip {clip_id!r} is not in the {split} split's index"
                )
        chosen.append((by_id[0][driving_id], by_id[1][source_id]))
    return chosen


class Reenactor:
    """Renders reenacted NMFC images and generates the reenacted frames.

    Parameters
    ----------
    animator : Animator
    model : MorphableModel
        The model the clips were fitted with.
    render : RenderConfig
        Colouring and batch of the NMFC renderer (as the render stage's).
    size : int
        Crop side, pixels.
    window : int
        Smoothing of the adapted cameras.
    """

    def __init__(self, animator: Animator, model: MorphableModel, render: RenderConfig, size: int, window: int):
        self.animator, self.window = animator, window
        self.renderer = NMFCRenderer(model, size=size, batch=render.batch, colouring=render.colouring)

    def nmfc(self, source: FaceParameters, driving: FaceParameters) -> np.ndarray:
        """``(T, S, S, 3)`` uint8 NMFC images of :func:`reenactment_parameters` (black on invalid driving frames)."""
        return self.renderer.render_parameters(reenactment_parameters(source, driving, self.window))

    def reenact(self, source: Clip, source_frame: int, driving: Clip) -> tuple[np.ndarray, np.ndarray]:
        """The reenacted NMFC images and generated frames, each ``(T, S, S, 3)`` uint8, of a source
        frame driven by a clip (its audio features, unless the generator is audio-free)."""
        fit = source.parameters
        frame = FaceParameters(
            fit.identity, fit.expression[source_frame : source_frame + 1], fit.camera[source_frame : source_frame + 1]
        )
        nmfc = self.nmfc(frame, driving.parameters)
        audio = driving.audio_features if self.animator.use_audio else None
        return nmfc, self.animator.animate(source.frames[source_frame], source.nmfc[source_frame], nmfc, audio)


def reenact_pairs(
    test_index: Path,
    source_index: Path,
    model_path: Path,
    generator_path: Path,
    out_dir: Path,
    settings: AppsSettings,
    render: RenderConfig = RenderConfig(),
    preview: Path | None = None,
) -> list[dict]:
    """Reenact the configured or random (driving, source) pairs.

    Parameters
    ----------
    test_index : Path
        Index of the driving clips' split (``results/dataset/test.json``).
    source_index : Path
        Index of the sources' split (``apps.reenact.source_split``).
    model_path : Path
        The 3DMM the clips were fitted with.
    generator_path : Path
    out_dir : Path
        The task folder (module docstring); replaced.
    settings : AppsSettings
    render : RenderConfig
        The render stage's settings.
    preview : Path, optional
        PNG of a few frames of the first pair.

    Returns
    -------
    list of dict
        The rows of ``pairs.tsv``.
    """
    options = settings.reenact
    driving = split_clips(DatasetReader(test_index))
    sources = split_clips(DatasetReader(source_index))
    pairs = (
        named_pairs(driving, sources, options.pairs)
        if options.pairs
        else choose_pairs(driving, sources, options.n_pairs, options.seed)
    )
    animator = Animator(load_generator(generator_path, settings.device), settings.precision, settings.batch)
    size = pairs[0][0].frames.shape[1]
    reenactor = Reenactor(animator, MorphableModel.load(model_path), render, size, options.smoothing)
    rows, pictures = [], []
    with atomic_directory(Path(out_dir)) as tmp:
        for drive, source in pairs:
            frame = frame_number(options.source_frame, source.n_frames)
            nmfc, generated = reenactor.reenact(source, frame, drive)
            name = f"{drive.clip_id}__{source.clip_id}"
            columns = (source.frames[frame], drive.frames, nmfc)
            side = write_task_videos(tmp, name, generated, columns, *drive.waveform, settings.video)
            rows.append(
                {
                    "driving": drive.clip_id,
                    "source": source.clip_id,
                    "source_frame": frame,
                    "n_frames": drive.n_frames,
                    "driving_identity": drive.identity,
                    "source_identity": source.identity,
                }
            )
            if not pictures:
                pictures = preview_rows(side, ("source", "driving", "NMFC", "generated"))
        write_tsv(tmp / "pairs.tsv", rows, PAIR_COLUMNS)
    if preview is not None:
        write_preview(pictures, preview)
    return rows
