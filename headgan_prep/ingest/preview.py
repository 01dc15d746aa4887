"""Preview of the crop stores: a grid of crops per split."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import zarr

from headgan_prep.preview import clip_row, resized, stack


def _crop_tile(frames, tile: int, t: int) -> np.ndarray:
    """Tile of frame ``t`` of a (T, S, S, 3) frames array."""
    return resized(frames[t], tile)


def crop_grid(stores: list[Path], *, max_clips: int = 12, frames_per_clip: int = 6, tile: int = 128) -> np.ndarray:
    """Grid of crops: one row per clip (the first ``max_clips`` clips of the stores, in order),
    ``frames_per_clip`` frames evenly spaced over the clip. Frames whose face was not detected get a
    red border.

    Returns an RGB image (rows·tile, frames_per_clip·tile, 3) uint8; a single black tile with a note
    when the stores hold no clip.
    """
    rows = []
    for store_path in stores:
        group = zarr.open_group(str(store_path), mode="r")
        for clip_id in sorted(group.group_keys())[: max_clips - len(rows)]:
            clip = group[clip_id]
            tile_at = partial(_crop_tile, clip["frames"], tile)
            rows.append(clip_row(clip_id, clip["valid"][:], tile_at, frames_per_clip))
    return stack(rows, tile)
