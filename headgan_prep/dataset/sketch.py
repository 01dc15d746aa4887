"""Landmark sketches: the 68 iBUG points joined by edges, the conditioning of HeadGAN's landmark ablation.

As vid2vid / fs-vid2vid draw a face (and HeadGAN's official ``landmarks_to_sketch``): white
straight segments between consecutive points of the jaw line, each eyebrow, the nose bridge and
the lower nose, each eye (closed), and the outer and inner lips (closed), 2 pixels wide (a point at
pixel (x, y) paints x−1 … x, y−1 … y), on black, in all three channels, so that a sketch takes the
place of an NMFC image channel for channel.
"""

from __future__ import annotations

import numpy as np

FACE_EDGES: tuple[tuple[int, ...], ...] = (
    tuple(range(0, 17)),  # jaw line
    tuple(range(17, 22)),  # left eyebrow
    tuple(range(22, 27)),  # right eyebrow
    tuple(range(27, 31)),  # nose bridge
    tuple(range(31, 36)),  # lower nose
    (36, 37, 38, 39, 40, 41, 36),  # left eye
    (42, 43, 44, 45, 46, 47, 42),  # right eye
    (48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 48),  # outer lips
    (60, 61, 62, 63, 64, 65, 66, 67, 60),  # inner lips
)
"""Polylines through the iBUG 68 points (0-based)."""
SEGMENTS = np.array([(a, b) for line in FACE_EDGES for a, b in zip(line[:-1], line[1:])], dtype=np.int64)
"""(n, 2) point pairs joined by a segment."""


def draw_sketch(points: np.ndarray, size: int) -> np.ndarray:
    """The sketch of one face.

    Parameters
    ----------
    points : (68, 2) or (68, 3) float
        iBUG points in crop pixels (x right, y down; pixel (i, j) covers [j, j + 1] × [i, i + 1]);
        a third column (depth) is ignored. Points outside the image are drawn clipped to it.
    size : int
        Side of the square sketch, pixels.

    Returns
    -------
    (size, size, 3) uint8
        255 on the edges, 0 elsewhere.
    """
    xy = np.floor(np.asarray(points, dtype=np.float64)[:, :2]).astype(np.int64)
    start, end = xy[SEGMENTS[:, 0]], xy[SEGMENTS[:, 1]]
    # one sample per pixel along the longer axis of each segment, both ends included
    steps = np.maximum(np.abs(end - start).max(axis=1), 1)
    segment = np.repeat(np.arange(len(steps)), steps + 1)
    t = (np.arange(len(segment)) - np.repeat(np.cumsum(steps + 1) - (steps + 1), steps + 1)) / steps[segment]
    samples = np.rint(start[segment] + t[:, None] * (end - start)[segment]).astype(np.int64)
    sketch = np.zeros((size, size), dtype=np.uint8)
    for dy in (-1, 0):
        for dx in (-1, 0):
            sketch[np.clip(samples[:, 1] + dy, 0, size - 1), np.clip(samples[:, 0] + dx, 0, size - 1)] = 255
    return np.repeat(sketch[:, :, None], 3, axis=2)
