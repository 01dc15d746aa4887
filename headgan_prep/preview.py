"""Preview pictures of the stage stores, for people and for `snakemake --report`."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import zarr


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    """Write ``text`` in the top-left corner of an RGB tile (H, W, 3) uint8, in place."""
    cv2.putText(tile, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(tile, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return tile


def _resized(frame: np.ndarray, tile: int) -> np.ndarray:
    """A (S, S, 3) uint8 frame resized to (tile, tile, 3), writable."""
    return np.ascontiguousarray(cv2.resize(np.asarray(frame), (tile, tile), interpolation=cv2.INTER_AREA))


def _crop_tile(frames, tile: int, t: int) -> np.ndarray:
    """Tile of frame ``t`` of a (T, S, S, 3) frames array."""
    return _resized(frames[t], tile)


def _landmark_tile(frames, marks: dict[str, np.ndarray], tile: int, t: int) -> np.ndarray:
    """Tile of frame ``t`` with the landmarks drawn; ``marks`` holds a landmark clip's ``points``,
    ``ibug68`` and ``mouth_box`` arrays."""
    img = _resized(frames[t], tile)
    scale = tile / frames.shape[2]
    for points, colour in ((marks["points"][t], (0, 255, 0)), (marks["ibug68"][t], (255, 0, 0))):
        for x, y in points[:, :2] * scale:
            cv2.circle(img, (int(x), int(y)), 0, colour, -1)
    x0, y0, x1, y1 = (marks["mouth_box"][t] * scale).round().astype(int)
    cv2.rectangle(img, (x0, y0), (x1, y1), (0, 0, 255), 1)
    return img


def _clip_row(clip_id: str, valid: np.ndarray, tile_at, frames_per_clip: int) -> np.ndarray:
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
        tiles.append(_label(img, f"t={t}" if i else clip_id[:22]))
    tiles += [np.zeros_like(tiles[0])] * (frames_per_clip - len(tiles))
    return np.concatenate(tiles, axis=1)


def _paired_clips(crop_stores: list[Path], stage_stores: list[Path], max_clips: int):
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


def _stack(rows: list[np.ndarray], tile: int) -> np.ndarray:
    """Rows stacked into one image; a single black tile with a note when there is no row."""
    if not rows:
        return _label(np.zeros((tile, tile * 2, 3), np.uint8), "no clips")
    return np.concatenate(rows, axis=0)


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
            rows.append(_clip_row(clip_id, clip["valid"][:], tile_at, frames_per_clip))
    return _stack(rows, tile)


def write_png(image: np.ndarray, path: Path) -> None:
    """Write an RGB image (H, W, 3) uint8 as PNG, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.png")
    if not cv2.imwrite(str(tmp), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {tmp}")
    os.replace(tmp, path)


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
        _clip_row(
            clip_id,
            marks["valid"][:],
            # one chunk per clip: read each array once, not once per tile
            partial(_landmark_tile, crops["frames"], {k: marks[k][:] for k in ("points", "ibug68", "mouth_box")}, tile),
            frames_per_clip,
        )
        for clip_id, crops, marks in _paired_clips(crop_stores, landmark_stores, max_clips)
    ]
    return _stack(rows, tile)


def _nmfc_triple(frames, nmfc, tile: int, t: int) -> np.ndarray:
    """Crop, NMFC and the NMFC laid over the crop (half each where the face is drawn) of frame ``t``;
    (tile, 3·tile, 3) uint8."""
    crop, face = _resized(frames[t], tile), _resized(nmfc[t], tile)
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
        _clip_row(clip_id, nmfc["valid"][:], partial(_nmfc_triple, crops["frames"], nmfc["nmfc"], tile), frames_per_clip)
        for clip_id, crops, nmfc in _paired_clips(crop_stores, nmfc_stores, max_clips)
    ]
    return _stack(rows, tile)


def _audio_heat_map(features: np.ndarray, t: int, tile: int, frames: int = 32) -> np.ndarray:
    """The audio features of ``frames`` frames around ``t`` as a heat map: time left to right, the
    300 features top to bottom, each z-scored over the clip (clipped at ±3 σ), viridis; frame ``t``
    marked by a white column. ``features`` (T, F) float; returns (tile, tile, 3) uint8."""
    mean, std = features.mean(axis=0), features.std(axis=0)
    z = np.clip((features - mean) / np.where(std > 0, std, 1.0), -3.0, 3.0)
    first = int(np.clip(t - frames // 2, 0, max(len(features) - frames, 0)))
    window = z[first : first + frames].T
    levels = np.round((window + 3.0) / 6.0 * 255.0).astype(np.uint8)
    heat = cv2.cvtColor(cv2.applyColorMap(levels, cv2.COLORMAP_VIRIDIS), cv2.COLOR_BGR2RGB)
    heat = np.ascontiguousarray(cv2.resize(heat, (tile, tile), interpolation=cv2.INTER_NEAREST))
    x = int((t - first + 0.5) * tile / window.shape[1])
    heat[:, max(x - 1, 0) : x + 1] = 255
    return heat


def dataset_sample_grid(reader, *, n_samples: int = 8, seed: int = 0, tile: int = 128) -> np.ndarray:
    """Grid of random self-reenactment samples of a dataset index, as training reads them.

    One row per sample (clip and frame t drawn with ``numpy.random.default_rng(seed)``, the
    reference frame uniformly from the same clip): reference y_ref | its NMFC x_ref | frame y_t with
    its 68 landmarks (red) and mouth box (blue) | NMFC images x_{t−2}, x_{t−1}, x_t | the audio
    features around t as a heat map (:func:`_audio_heat_map`).

    Parameters
    ----------
    reader : headgan_prep.dataset_reader.DatasetReader
    n_samples, seed, tile : int

    Returns
    -------
    RGB image (rows·tile, 7·tile, 3) uint8; a single black tile with a note when the index is empty.
    """
    from headgan_prep.dataset_reader import read_sample

    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n_samples if len(reader) else 0):
        clip = int(rng.integers(len(reader)))
        t, reference = (int(v) for v in rng.integers(0, reader.n_frames[clip], 2))
        sample = read_sample(reader, clip, t, reference)
        frame = _resized(sample["image"][0], tile)
        scale = tile / sample["image"].shape[1]
        for x, y in reader.read("landmarks", "ibug68", clip, [t])[0, :, :2] * scale:
            cv2.circle(frame, (int(x), int(y)), 1, (255, 0, 0), -1)
        x0, y0, x1, y1 = (sample["mouth_box"][0] * scale).round().astype(int)
        cv2.rectangle(frame, (x0, y0), (x1, y1), (0, 0, 255), 1)
        features = reader.read("audio", "features", clip, slice(None))
        tiles = [
            _label(_resized(sample["ref_image"], tile), reader.clips[clip]["clip_id"][:22]),
            _label(_resized(sample["ref_nmfc"], tile), f"x_ref {reference}"),
            _label(frame, f"y_t t={t}"),
            *(_label(_resized(x, tile), name) for x, name in zip(sample["nmfc"][0], ("x_t-2", "x_t-1", "x_t"))),
            _label(_audio_heat_map(features, t, tile), "audio"),
        ]
        rows.append(np.concatenate(tiles, axis=1))
    return _stack(rows, tile)
