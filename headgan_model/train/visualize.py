"""Pictures of training: flow fields as colours, sample grids and loss curves."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from headgan_prep.store.atomic import atomic_file

GRID_COLUMNS = ("reference", "driving NMFC", "flow", "warped", "generated", "real")
"""Columns of :func:`sample_grid`, left to right."""


def flow_to_rgb(flow: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """Colour-code flow fields: hue = direction, saturation = magnitude / ``max_magnitude``.

    Parameters
    ----------
    flow : (..., 2, H, W) float
        Displacements (x, y) in pixels.
    max_magnitude : float, optional
        Magnitude shown fully saturated; default: the largest in ``flow`` (at least 1 pixel).

    Returns
    -------
    (..., H, W, 3) uint8 RGB; zero flow is white.
    """
    dx, dy = flow[..., 0, :, :], flow[..., 1, :, :]
    magnitude = np.hypot(dx, dy)
    scale = max(float(magnitude.max()) if max_magnitude is None else max_magnitude, 1.0)
    hue = ((np.arctan2(dy, dx) + np.pi) / (2 * np.pi) * 179).astype(np.uint8)
    saturation = np.clip(magnitude / scale * 255, 0, 255).astype(np.uint8)
    hsv = np.stack([hue, saturation, np.full_like(hue, 255)], axis=-1)
    flat = hsv.reshape(-1, hsv.shape[-2], 3)
    return cv2.cvtColor(flat, cv2.COLOR_HSV2RGB).reshape(hsv.shape)


def to_uint8(images: np.ndarray, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    """(..., 3, H, W) floats in [low, high] → (..., H, W, 3) uint8."""
    scaled = (np.asarray(images, dtype=np.float32) - low) / (high - low) * 255.0
    return np.clip(np.round(scaled), 0, 255).astype(np.uint8).swapaxes(-3, -2).swapaxes(-2, -1)


def sample_grid(
    reference: np.ndarray,
    nmfc: np.ndarray,
    generated: np.ndarray,
    real: np.ndarray,
    flow: np.ndarray | None = None,
    warped: np.ndarray | None = None,
) -> np.ndarray:
    """One row per sample: reference | driving NMFC x_t | flow | warped | generated | real.

    Parameters
    ----------
    reference, generated, real : (B, 3, H, W) float in [−1, 1]
    nmfc : (B, 3, H, W) float in [0, 1]
        The current NMFC image x_t.
    flow : (B, 2, H, W) float pixels, optional
        Without the flow network the flow and warped tiles are grey.
    warped : (B, 3, H, W) float in [−1, 1], optional

    Returns
    -------
    (B·H, 6·W, 3) uint8 RGB.
    """
    grey = np.full(to_uint8(real).shape, 128, np.uint8)
    tiles = [
        to_uint8(reference),
        to_uint8(nmfc, 0.0, 1.0),
        flow_to_rgb(flow) if flow is not None else grey,
        to_uint8(warped) if warped is not None else grey,
        to_uint8(generated),
        to_uint8(real),
    ]
    rows = np.concatenate(tiles, axis=2)  # (B, H, 6W, 3)
    return rows.reshape(-1, *rows.shape[2:])


def plot_losses(steps: np.ndarray, losses: dict[str, np.ndarray], path: Path) -> None:
    """Loss curves (generator terms left, discriminator terms right) as a PNG, written atomically.

    Parameters
    ----------
    steps : (N,) int
    losses : dict of (N,) float
        Named loss series; names starting with ``d_`` go to the discriminator panel.
    path : Path
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for name, values in sorted(losses.items()):
        (right if name.startswith("d_") else left).plot(steps, values, label=name, linewidth=1)
    left.set_yscale("symlog", linthresh=0.1)  # the terms span 0.01 … 100, and g_adv can be negative
    for axis, title in ((left, "generator (unweighted terms and weighted total)"), (right, "discriminators")):
        axis.set_title(title)
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
        if axis.lines:
            axis.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    with atomic_file(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=100)
    plt.close(figure)
