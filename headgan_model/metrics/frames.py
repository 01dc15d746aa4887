"""Checks and conversions shared by the metrics: uint8 RGB frames in, float tensors out.

Every metric takes frames as uint8 arrays shaped ``(..., H, W, 3)``: one frame ``(H, W, 3)``, a
video or a batch of frames ``(N, H, W, 3)``, or several equally long videos ``(V, T, H, W, 3)``;
the leading axes are flattened into one axis of frames.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor


class FrameMismatch(ValueError):
    """Two frame sets that a metric compares frame by frame differ in count, size or layout."""


def as_frames(frames: np.ndarray, name: str = "frames") -> np.ndarray:
    """``frames`` as ``(N, H, W, 3)`` uint8, the leading axes flattened (a view when possible).

    Raises
    ------
    TypeError
        ``frames`` is not a uint8 array.
    ValueError
        Its shape is not ``(..., H, W, 3)`` or it holds no frame.
    """
    frames = np.asarray(frames)
    if frames.dtype != np.uint8:
        raise TypeError(f"{name} must be uint8 RGB frames, got dtype {frames.dtype}")
    if frames.ndim < 3 or frames.shape[-1] != 3:
        raise ValueError(f"{name} must be shaped (..., H, W, 3), got {frames.shape}")
    frames = frames.reshape(-1, *frames.shape[-3:])
    if len(frames) == 0 or frames.shape[1] == 0 or frames.shape[2] == 0:
        raise ValueError(f"{name} holds no pixel: shape {frames.shape}")
    return frames


def as_frame_pairs(generated: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both sets as ``(N, H, W, 3)`` uint8, checked to be frame-by-frame comparable.

    Raises
    ------
    FrameMismatch
        The shapes differ (another frame count, frame size or number of videos); the message gives both.
    """
    generated, target = np.asarray(generated), np.asarray(target)
    if generated.shape != target.shape:
        raise FrameMismatch(
            f"generated frames shaped {generated.shape} and target frames shaped {target.shape} are not "
            "comparable frame by frame: videos must have the same length and frame size"
        )
    return as_frames(generated, "generated"), as_frames(target, "target")


def batches(n: int, batch_size: int) -> Iterator[slice]:
    """Consecutive slices of ``range(n)`` of at most ``batch_size`` items."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


def to_nchw(frames: np.ndarray, device: str | torch.device, dtype: torch.dtype = torch.float32) -> Tensor:
    """``(N, H, W, 3)`` uint8 frames as a ``(N, 3, H, W)`` tensor of ``dtype`` on ``device``, values 0–255."""
    return torch.from_numpy(np.ascontiguousarray(frames)).to(device).permute(0, 3, 1, 2).to(dtype)
