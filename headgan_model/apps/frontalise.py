"""Frontalisation (paper §4.4): every test clip seen from the front, with its own or a neutral expression.

Each frame's camera rotation is made frontal (head Euler angles 0, 0, 0; scale and translation
kept, :func:`headgan_prep.fit.parameters.edit`) and its expression kept (``own``) or zeroed
(``neutral``); the NMFC images of these parameters drive the generator with the clip's middle frame
as reference. Frontalisation has no speech to follow: the paper uses the audio-free generator
(``apps.audio_free_generator``); without one the run's generator gets silent-audio (all-zero)
features, as the audio stage stores for a silent clip, and ``clips.tsv`` says which.

:func:`nmfc_pose` measures the head angles an NMFC image shows (its colours are mean-shape
coordinates, so every face pixel is a 2D–3D correspondence for an affine camera fit): the frontal
views' angles are written next to the fitted angles of the input.

Written into ``results/apps/{run}/frontalise/{shard}/`` (temporary sibling, renamed when complete)::

    {clip_id}.mp4        the frontal clip, H.264 at 25 fps, with the clip's audio
    {clip_id}.side.mp4   reference | real | frontal NMFC | generated
    clips.tsv            clip_id, n_frames, reference, expression, audio, mean |angles| in and out
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from headgan_model.apps.clips import split_clips
from headgan_model.apps.inference import Animator, load_generator
from headgan_model.apps.reconstruct import preview_rows, write_preview
from headgan_model.apps.settings import AppsConfigError, AppsSettings, frame_number
from headgan_model.apps.tables import write_tsv
from headgan_model.apps.video import write_task_videos
from headgan_prep.dataset.reader import DatasetReader
from headgan_prep.fit.camera import affine_camera, affine_to_camera, head_rotation
from headgan_prep.fit.parameters import FaceParameters, edit
from headgan_prep.fit.rotation import matrix_to_euler
from headgan_prep.morphable.model import MorphableModel
from headgan_prep.render.renderer import NMFCRenderer, RenderConfig
from headgan_prep.store.atomic import atomic_directory

AUDIO_FREE = "none (audio-free generator)"
SILENT = "silent features (zeros) to the run's generator"
COLUMNS = ("clip_id", "n_frames", "reference", "expression", "audio", "input_abs_angles", "frontal_abs_angles")
MIN_FACE_PIXELS = 12
"""Face pixels an NMFC image needs for :func:`nmfc_pose` (fewer: NaN)."""


def audio_free_animator(settings: AppsSettings, run_generator: Path) -> tuple[Animator, str]:
    """The animator of the audio-free tasks and what it does with audio (:data:`AUDIO_FREE` or
    :data:`SILENT`): ``apps.audio_free_generator`` when set (it must be audio-free), otherwise the
    run's generator, which then gets zero features when it uses audio."""
    path = Path(settings.audio_free_generator) if settings.audio_free_generator else Path(run_generator)
    loaded = load_generator(path, settings.device)
    if settings.audio_free_generator and loaded.config.use_audio:
        raise AppsConfigError(
            f"apps.audio_free_generator {path} uses audio (use_audio true); train one with train.generator.use_audio: false"
        )
    return Animator(loaded, settings.precision, settings.batch), SILENT if loaded.config.use_audio else AUDIO_FREE


def task_audio(animator: Animator, n_frames: int) -> np.ndarray | None:
    """The audio features of an audio-free task: None, or ``(T, audio_dim)`` zeros for a generator that uses audio."""
    return np.zeros((n_frames, animator.generator.config.audio_dim), np.float32) if animator.use_audio else None


def nmfc_pose(nmfc: np.ndarray, model: MorphableModel) -> np.ndarray:
    """Head Euler angles an NMFC image shows, from an affine camera fitted to its face pixels.

    Every non-black pixel's colour is a normalised mean-shape position (:func:`headgan_prep.render.
    renderer.nmfc_colours`), seen at the pixel's centre; the least-squares affine camera of these
    correspondences gives the rotation (identity and expression offsets of the rendered shape count
    as noise).

    Parameters
    ----------
    nmfc : np.ndarray
        ``(T, S, S, 3)`` uint8.
    model : MorphableModel

    Returns
    -------
    np.ndarray
        ``(T, 3)`` [pitch, yaw, roll] degrees; NaN for images with fewer than
        :data:`MIN_FACE_PIXELS` face pixels.
    """
    mean = model.mean.astype(np.float64)
    low, extent = mean.min(axis=0), np.ptp(mean, axis=0)
    angles = np.full((len(nmfc), 3), np.nan)
    for t, image in enumerate(np.asarray(nmfc)):
        rows, cols = np.nonzero(image.any(axis=-1))
        if len(rows) < MIN_FACE_PIXELS:
            continue
        points = low + image[rows, cols].astype(np.float64) / 255.0 * extent
        pixels = np.c_[cols + 0.5, rows + 0.5]
        camera = affine_to_camera(affine_camera(points[None], pixels[None]))
        if np.isfinite(camera).all():
            angles[t] = matrix_to_euler(head_rotation(camera))[0]
    return angles


def frontal_parameters(parameters: FaceParameters, expression: str) -> FaceParameters:
    """Frontal cameras with the own (``"own"``) or zero (``"neutral"``) expression."""
    return edit(parameters, 1.0 if expression == "own" else 0.0, frontal=True)


def frontalise_shard(
    index_path: Path,
    shard: str,
    model_path: Path,
    generator_path: Path,
    out_dir: Path,
    settings: AppsSettings,
    render: RenderConfig = RenderConfig(),
    preview: Path | None = None,
) -> list[dict]:
    """Frontalise every clip of one shard (module docstring); returns the rows of ``clips.tsv``."""
    animator, audio_note = audio_free_animator(settings, generator_path)
    model = MorphableModel.load(model_path)
    clips = split_clips(DatasetReader(index_path), shard)
    rows, pictures = [], []
    with atomic_directory(Path(out_dir)) as tmp:
        renderer = None
        for clip in clips:
            renderer = renderer or NMFCRenderer(
                model, size=clip.frames.shape[1], batch=render.batch, colouring=render.colouring
            )
            reference = frame_number(settings.reconstruct.reference, clip.n_frames)
            nmfc = renderer.render_parameters(
                frontal_parameters(clip.parameters, settings.frontalise.expression), clip.fit_valid
            )
            generated = animator.animate(
                clip.frames[reference], clip.nmfc[reference], nmfc, task_audio(animator, clip.n_frames)
            )
            columns = (clip.frames[reference], clip.frames, nmfc)
            side = write_task_videos(tmp, clip.clip_id, generated, columns, *clip.waveform, settings.video)
            rows.append(
                {
                    "clip_id": clip.clip_id,
                    "n_frames": clip.n_frames,
                    "reference": reference,
                    "expression": settings.frontalise.expression,
                    "audio": audio_note,
                    "input_abs_angles": f"{np.nanmean(np.abs(nmfc_pose(clip.nmfc, model))):.2f}",
                    "frontal_abs_angles": f"{np.nanmean(np.abs(nmfc_pose(nmfc, model))):.2f}",
                }
            )
            if not pictures:
                pictures = preview_rows(side, ("reference", "real", "frontal NMFC", "generated"))
        write_tsv(tmp / "clips.tsv", rows, COLUMNS)
    if preview is not None:
        write_preview(pictures, preview)
    return rows
