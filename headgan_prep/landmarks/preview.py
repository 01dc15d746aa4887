"""Preview of the landmark stores: crops with their points and mouth boxes drawn."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import cv2
import numpy as np

from headgan_prep.preview import clip_row, paired_clips, resized, stack


def _landmark_tile(frames, marks: dict[str, np.ndarray], tile: int, t: int) -> np.ndarray:
    """Tile of frame ``t`` with the landmarks drawn; ``marks`` holds a landmark clip's ``points``,
    ``ibug68`` and ``mouth_box`` arrays."""
    img = resized(frames[t], tile)
    scale = tile / frames.shape[2]
    for points, colour in ((marks["points"][t], (0, 255, 0)), (marks["ibug68"][t], (255, 0, 0))):
        for x, y in points[:, :2] * scale:
            cv2.circle(img, (int(x), int(y)), 0, colour, -1)
    x0, y0, x1, y1 = (marks["mouth_box"][t] * scale).round().astype(int)
    cv2.rectangle(img, (x0, y0), (x1, y1), (0, 0, 255), 1)
    return img


def landmark_grid(
    crop_stores: list[Path], landmark_stores: list[Path], *, max_clips: int = 12, frames_per_clip: int = 6, tile: int = 128
) -> np.ndarray:
    """Grid of crops with their landmarks drawn, laid out as :func:`crop_grid`.

    Crop and landmark stores are paired by file name (``{shard}.zarr``); clips missing from the
    landmark store (rejected) are skipped. The dense points are drawn as small green dots, the 68
    iBUG points in red and the mouth box in blue; frames whose landmarks are not valid (filled
    from a neighbour) get a red border.

    Returns an RGB image (rows·tile, frames_per_clip·tile, 3) uint8; a single black tile with a note
    when no clip has landmarks.
    """
    rows = [
        clip_row(
            clip_id,
            marks["valid"][:],
            # one chunk per clip: read each array once, not once per tile
            partial(_landmark_tile, crops["frames"], {k: marks[k][:] for k in ("points", "ibug68", "mouth_box")}, tile),
            frames_per_clip,
        )
        for clip_id, crops, marks in paired_clips(crop_stores, landmark_stores, max_clips)
    ]
    return stack(rows, tile)
