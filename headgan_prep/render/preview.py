"""Preview of the NMFC stores: strips of crop, NMFC image and overlay."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from headgan_prep.preview import clip_row, paired_clips, resized, stack


def _nmfc_triple(frames, nmfc, tile: int, t: int) -> np.ndarray:
    """Crop, NMFC and the NMFC laid over the crop (half each where the face is drawn) of frame ``t``;
    (tile, 3·tile, 3) uint8."""
    crop, face = resized(frames[t], tile), resized(nmfc[t], tile)
    overlay = np.where(face.any(axis=-1, keepdims=True), crop // 2 + face // 2, crop)
    return np.concatenate([crop, face, overlay], axis=1)


def nmfc_strips(
    crop_stores: list[Path], nmfc_stores: list[Path], *, max_clips: int = 12, frames_per_clip: int = 3, tile: int = 128
) -> np.ndarray:
    """Strips of crop | NMFC | overlay: one row per clip (the first ``max_clips`` clips of the NMFC
    stores, in order), ``frames_per_clip`` frames evenly spaced over the clip.

    Crop and NMFC stores are paired by file name (``{shard}.zarr``); frames the fit marked invalid
    (black NMFC) get a red border.

    Returns an RGB image (rows·tile, frames_per_clip·3·tile, 3) uint8; a single black tile with a note
    when the NMFC stores hold no clip.
    """
    rows = [
        clip_row(clip_id, nmfc["valid"][:], partial(_nmfc_triple, crops["frames"], nmfc["nmfc"], tile), frames_per_clip)
        for clip_id, crops, nmfc in paired_clips(crop_stores, nmfc_stores, max_clips)
    ]
    return stack(rows, tile)
