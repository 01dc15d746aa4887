"""Shot cuts: where a clip jumps from one camera shot to another, and its longest shot.

The main-face tracker links faces by box overlap only, so across a cut it can move from one person
to another. A cut is found as PySceneDetect's ``ContentDetector`` finds one (without its
dependency): frames are subsampled (every k-th pixel of every k-th row) to about
:data:`ANALYSIS_WIDTH` pixels wide and converted to HSV; a
frame's *content change* is the mean absolute difference of its H, S and V values from the
previous frame's (0–255 each, averaged over the three channels). A cut is a frame whose change is
above ``threshold`` (27 as in PySceneDetect) and more than :data:`CONTRAST` times the median change
of the :data:`WINDOW` frames around it (so a fast pan, which raises
the changes of its neighbours as well, is not one), at least ``min_shot`` frames after the
previous cut.
"""

from __future__ import annotations

import cv2
import numpy as np

ANALYSIS_WIDTH = 96
"""Least width in pixels of the subsampled copies the changes are measured on."""
DEFAULT_THRESHOLD = 27.0
"""Content change of a cut (PySceneDetect ``ContentDetector`` default)."""
CONTRAST = 3.0
"""A cut's change is more than this many times the median change of the frames around it."""
WINDOW = 12
"""Frames on each side of a candidate cut whose median change it is compared with."""
MIN_SHOT_S = 0.5
"""Shortest shot, seconds: a cut closer to the previous one (or to the start) is not counted."""


def content_changes(frames: np.ndarray) -> np.ndarray:
    """Mean absolute HSV difference of each frame from the previous one.

    Parameters
    ----------
    frames : np.ndarray
        ``(T, H, W, 3)`` uint8 RGB.

    Returns
    -------
    np.ndarray
        ``(T,)`` float64 in [0, 255]; 0 for the first frame.
    """
    if not len(frames):
        return np.zeros(0)
    step = max(1, frames.shape[2] // ANALYSIS_WIDTH)
    small = np.ascontiguousarray(frames[:, ::step, ::step])
    hsv = cv2.cvtColor(small.reshape(-1, small.shape[2], 3), cv2.COLOR_RGB2HSV).reshape(small.shape)
    changes = np.zeros(len(frames))
    if len(frames) > 1:
        rows = hsv.shape[1] * hsv.shape[2]
        difference = cv2.absdiff(hsv[1:].reshape(-1, hsv.shape[2], 3), hsv[:-1].reshape(-1, hsv.shape[2], 3))
        changes[1:] = difference.reshape(len(frames) - 1, -1).sum(axis=1, dtype=np.int64) / (3 * rows)
    return changes


def find_cuts(changes: np.ndarray, threshold: float = DEFAULT_THRESHOLD, min_shot: int = 12) -> np.ndarray:
    """Frames that start a new shot (module docstring), from :func:`content_changes`.

    Returns
    -------
    np.ndarray
        Sorted int64 frame indices (> 0).
    """
    cuts: list[int] = []
    for t in np.flatnonzero(changes > threshold):
        if t == 0 or (cuts and t - cuts[-1] < min_shot) or t < min_shot:
            continue
        around = np.r_[changes[max(1, t - WINDOW) : t], changes[t + 1 : t + 1 + WINDOW]]
        if not len(around) or changes[t] > CONTRAST * np.median(around):
            cuts.append(int(t))
    return np.asarray(cuts, np.int64)


def longest_shot(cuts: np.ndarray, n_frames: int) -> tuple[int, int]:
    """``(start, stop)`` of the longest shot between the cuts (the first of equal ones)."""
    edges = np.r_[0, np.asarray(cuts, np.int64), n_frames]
    lengths = np.diff(edges)
    k = int(lengths.argmax())
    return int(edges[k]), int(edges[k + 1])
