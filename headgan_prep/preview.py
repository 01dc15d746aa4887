"""Grid pictures of the stage stores, for people and for `snakemake --report`: the tiles, rows and
PNG writing every stage's preview (``headgan_prep.{ingest,landmarks,render,dataset}.preview``) shares."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import zarr


def label(tile: np.ndarray, text: str) -> np.ndarray:
    """Write ``text`` in the top-left corner of an RGB tile (H, W, 3) uint8, in place."""
    cv2.putText(tile, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(tile, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return tile


def resized(frame: np.ndarray, tile: int) -> np.ndarray:
    """A (S, S, 3) uint8 frame resized to (tile, tile, 3), writable."""
    return np.ascontiguousarray(cv2.resize(np.asarray(frame), (tile, tile), interpolation=cv2.INTER_AREA))


def clip_row(clip_id: str, valid: np.ndarray, tile_at, frames_per_clip: int) -> np.ndarray:
    """One grid row: ``frames_per_clip`` frames evenly spaced over the clip.

    ``valid`` is the clip's (T,) bool mask (invalid frames get a red border); ``tile_at(t)`` gives
    the (H, W, 3) uint8 image of frame ``t``, the same size for every frame. Returns
    (H, frames_per_clip·W, 3) uint8, black where the clip has fewer frames.
    """
    index = np.unique(np.linspace(0, len(valid) - 1, frames_per_clip).round().astype(int))
    tiles = []
    for i, t in enumerate(index):
        img = tile_at(int(t))
        if not valid[t]:
            cv2.rectangle(img, (0, 0), (img.shape[1] - 1, img.shape[0] - 1), (255, 0, 0), 3)
        tiles.append(label(img, f"t={t}" if i else clip_id[:22]))
    tiles += [np.zeros_like(tiles[0])] * (frames_per_clip - len(tiles))
    return np.concatenate(tiles, axis=1)


def paired_clips(crop_stores: list[Path], stage_stores: list[Path], max_clips: int):
    """The first ``max_clips`` clips of the stage stores, in order, as ``(clip_id, crop group, stage
    group)``; crop and stage stores are paired by file name (``{shard}.zarr``)."""
    crops_by_name = {Path(p).name: Path(p) for p in crop_stores}
    n = 0
    for store_path in stage_stores:
        stage = zarr.open_group(str(store_path), mode="r")
        crops = zarr.open_group(str(crops_by_name[Path(store_path).name]), mode="r")
        for clip_id in sorted(stage.group_keys())[: max_clips - n]:
            n += 1
            yield clip_id, crops[clip_id], stage[clip_id]


def stack(rows: list[np.ndarray], tile: int) -> np.ndarray:
    """Rows stacked into one image; a single black tile with a note when there is no row."""
    if not rows:
        return label(np.zeros((tile, tile * 2, 3), np.uint8), "no clips")
    return np.concatenate(rows, axis=0)


def write_png(image: np.ndarray, path: Path) -> None:
    """Write an RGB image (H, W, 3) uint8 as PNG, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.png")
    if not cv2.imwrite(str(tmp), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {tmp}")
    os.replace(tmp, path)
