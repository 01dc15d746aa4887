"""Preview of a dataset index: random samples as training reads them."""

from __future__ import annotations

import cv2
import numpy as np

from headgan_prep.dataset.reader import read_sample
from headgan_prep.preview import label, resized, stack


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
    reader : headgan_prep.dataset.reader.DatasetReader
    n_samples, seed, tile : int

    Returns
    -------
    RGB image (rows·tile, 7·tile, 3) uint8; a single black tile with a note when the index is empty.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n_samples if len(reader) else 0):
        clip = int(rng.integers(len(reader)))
        t, reference = (int(v) for v in rng.integers(0, reader.n_frames[clip], 2))
        sample = read_sample(reader, clip, t, reference)
        frame = resized(sample["image"][0], tile)
        scale = tile / sample["image"].shape[1]
        for x, y in reader.read("landmarks", "ibug68", clip, [t])[0, :, :2] * scale:
            cv2.circle(frame, (int(x), int(y)), 1, (255, 0, 0), -1)
        x0, y0, x1, y1 = (sample["mouth_box"][0] * scale).round().astype(int)
        cv2.rectangle(frame, (x0, y0), (x1, y1), (0, 0, 255), 1)
        features = reader.read("audio", "features", clip, slice(None))
        tiles = [
            label(resized(sample["ref_image"], tile), reader.clips[clip]["clip_id"][:22]),
            label(resized(sample["ref_nmfc"], tile), f"x_ref {reference}"),
            label(frame, f"y_t t={t}"),
            *(label(resized(x, tile), name) for x, name in zip(sample["nmfc"][0], ("x_t-2", "x_t-1", "x_t"))),
            label(_audio_heat_map(features, t, tile), "audio"),
        ]
        rows.append(np.concatenate(tiles, axis=1))
    return stack(rows, tile)
