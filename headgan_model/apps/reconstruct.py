"""Reconstruction (self-reenactment, paper §4.2): every test clip regenerated from one of its frames.

For each clip of a shard the reference is one frame of the clip (the middle one by default, the
official test policy) and the driving inputs are the clip's own NMFC images and audio features.
Written into the task folder ``results/apps/{run}/reconstruct/{shard}/`` (built in a temporary
sibling and renamed when complete)::

    {clip_id}.mp4        the generated clip, H.264 at 25 fps, with the clip's audio track
    {clip_id}.side.mp4   reference | real | NMFC | generated, side by side, with the audio
    clips.tsv            clip_id, n_frames, reference frame, audio seconds, generator step
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from headgan_model.apps.clips import Clip, split_clips
from headgan_model.apps.inference import Animator, load_generator
from headgan_model.apps.settings import AppsSettings, frame_number
from headgan_model.apps.tables import write_tsv
from headgan_model.apps.video import write_task_videos
from headgan_prep.dataset.reader import DatasetReader
from headgan_prep.preview import label, resized, write_png
from headgan_prep.store.atomic import atomic_directory

PREVIEW_FRAMES = 4
"""Frames of the first clip in the preview picture."""
PREVIEW_TILE = 128


def reconstruct_clip(animator: Animator, clip: Clip, reference: int) -> np.ndarray:
    """``(T, S, S, 3)`` uint8: the clip generated from its frame ``reference`` and its own NMFC
    images and audio features (no audio for an audio-free generator)."""
    audio = clip.audio_features if animator.use_audio else None
    return animator.animate(clip.frames[reference], clip.nmfc[reference], clip.nmfc, audio)


def reconstruct_shard(
    index_path: Path,
    shard: str,
    generator_path: Path,
    out_dir: Path,
    settings: AppsSettings,
    preview: Path | None = None,
) -> list[dict]:
    """Reconstruct every clip of one shard of a split's index.

    Parameters
    ----------
    index_path : Path
        ``results/dataset/test.json``.
    shard : str
        Shard name, e.g. ``test-0000``; the index's clips of that shard are reconstructed.
    generator_path : Path
        ``generator.pt``.
    out_dir : Path
        The task folder (module docstring); replaced.
    settings : AppsSettings
    preview : Path, optional
        PNG of a few frames of the first clip (reference | real | NMFC | generated per row).

    Returns
    -------
    list of dict
        The rows of ``clips.tsv``.
    """
    animator = Animator(load_generator(generator_path, settings.device), settings.precision, settings.batch)
    clips = split_clips(DatasetReader(index_path), shard)
    rows, pictures = [], []
    with atomic_directory(Path(out_dir)) as tmp:
        for clip in clips:
            reference = frame_number(settings.reconstruct.reference, clip.n_frames)
            generated = reconstruct_clip(animator, clip, reference)
            waveform, rate = clip.waveform
            columns = (clip.frames[reference], clip.frames, clip.nmfc)
            side = write_task_videos(tmp, clip.clip_id, generated, columns, waveform, rate, settings.video)
            rows.append(
                {
                    "clip_id": clip.clip_id,
                    "n_frames": clip.n_frames,
                    "reference": reference,
                    "audio_seconds": f"{len(waveform) / rate:.3f}",
                    "generator_step": animator.generator.step,
                }
            )
            if not pictures:
                pictures = preview_rows(side, ("reference", "real", "NMFC", "generated"))
        write_tsv(tmp / "clips.tsv", rows, ("clip_id", "n_frames", "reference", "audio_seconds", "generator_step"))
    if preview is not None:
        write_preview(pictures, preview)
    return rows


def write_preview(rows: list[np.ndarray], path: Path) -> None:
    """Write the rows of :func:`preview_rows` as one PNG (a labelled black tile when there are none)."""
    write_png(
        np.concatenate(rows) if rows else label(np.zeros((PREVIEW_TILE, 4 * PREVIEW_TILE, 3), np.uint8), "no clips"),
        path,
    )


def preview_rows(side: np.ndarray, names: tuple[str, ...], n_frames: int = PREVIEW_FRAMES) -> list[np.ndarray]:
    """Rows of a preview: ``n_frames`` frames evenly spaced over a side-by-side video ``(T, S, k·S, 3)``,
    each resized to tiles of :data:`PREVIEW_TILE` and the first labelled with ``names``."""
    size = side.shape[1]
    rows = []
    for i, t in enumerate(np.unique(np.linspace(0, len(side) - 1, n_frames).round().astype(int))):
        tiles = [resized(side[t][:, k * size : (k + 1) * size], PREVIEW_TILE) for k in range(side.shape[2] // size)]
        tiles = [label(tile, name if i == 0 else f"t={t}") for tile, name in zip(tiles, names)]
        rows.append(np.concatenate(tiles, axis=1))
    return rows
