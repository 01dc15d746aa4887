"""Pixel metrics of reconstruction: L1, MSE, PSNR (supplement §5) and SSIM (an extra).

The paper averages the absolute difference of RGB values in [0, 255] over channels, pixel
locations and frames (L1), and computes PSNR = 20·log10(255) − 10·log10(MSE) from the mean squared
error over channels, pixel locations and frames. Both reductions weigh every frame of a set
equally, so the score of a test set is the mean of the per-frame values returned here: for PSNR,
:func:`psnr_from_mse` of the mean per-frame MSE (not the mean of per-frame PSNRs).

Per-frame sums of absolute and squared differences are exact integers (int64), so L1 and MSE do not
depend on the device or on how frames are batched.

SSIM follows Wang et al. (2004) as scikit-image computes it with ``gaussian_weights=True``:
an 11 × 11 Gaussian window of σ = 1.5 (truncated at 3.5 σ), population covariances,
K1 = 0.01, K2 = 0.03, data range 255, borders extended by reflection (``scipy.ndimage`` mode
``reflect``), the SSIM map averaged over the frame without its 5-pixel border, then over the three
channels.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from headgan_model.metrics.frames import as_frame_pairs, batches, to_nchw

MAX_VALUE = 255
"""Peak value of a channel (uint8 RGB)."""
SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5
SSIM_RADIUS = int(SSIM_TRUNCATE * SSIM_SIGMA + 0.5)
"""Half width of the SSIM window, pixels (5: an 11 × 11 window)."""
SSIM_K1, SSIM_K2 = 0.01, 0.03


def _mean_differences(generated, target, power: int, device, batch_size: int) -> np.ndarray:
    """Per frame, the mean of |g − t|^power over pixels and channels, shape ``(N,)`` float64 (the
    differences are int32, at most 255² squared; their sums exact int64)."""
    generated, target = as_frame_pairs(generated, target)
    sums = np.empty(len(generated), dtype=np.int64)
    for part in batches(len(generated), batch_size):
        difference = torch.from_numpy(generated[part]).to(device).to(torch.int32)
        difference -= torch.from_numpy(target[part]).to(device).to(torch.int32)
        difference = difference.abs_() if power == 1 else difference.square_()
        sums[part] = difference.sum(dim=(1, 2, 3), dtype=torch.int64).cpu().numpy()
    return sums / generated[0].size


def l1_per_frame(generated, target, *, device="cpu", batch_size: int = 64) -> np.ndarray:
    """Mean absolute RGB difference of each frame.

    Parameters
    ----------
    generated, target : np.ndarray
        uint8 RGB frames, the same shape ``(..., H, W, 3)`` (see :mod:`headgan_model.metrics.frames`).
    device : str or torch.device
        Where the differences are summed.
    batch_size : int
        Frames per step.

    Returns
    -------
    np.ndarray
        ``(N,)`` float64, in RGB units (0–255), N the number of frames.
    """
    return _mean_differences(generated, target, 1, device, batch_size)


def mse_per_frame(generated, target, *, device="cpu", batch_size: int = 64) -> np.ndarray:
    """Mean squared RGB difference of each frame: ``(N,)`` float64, in squared RGB units.

    Parameters as :func:`l1_per_frame`.
    """
    return _mean_differences(generated, target, 2, device, batch_size)


def psnr_from_mse(mse) -> np.ndarray | float:
    """PSNR in dB, 20·log10(255) − 10·log10(MSE); ``inf`` where MSE is 0.

    Parameters
    ----------
    mse : float or np.ndarray
        Mean squared error(s) in squared RGB units.
    """
    mse = np.asarray(mse, dtype=np.float64)
    with np.errstate(divide="ignore"):
        value = 20 * math.log10(MAX_VALUE) - 10 * np.log10(mse)
    return float(value) if value.ndim == 0 else value


def l1(generated, target, *, device="cpu", batch_size: int = 64) -> float:
    """The paper's L1: mean absolute RGB difference over channels, pixels and all frames (0–255)."""
    return float(l1_per_frame(generated, target, device=device, batch_size=batch_size).mean())


def psnr(generated, target, *, device="cpu", batch_size: int = 64) -> float:
    """The paper's PSNR in dB, from the MSE over channels, pixels and all frames (``inf`` if equal)."""
    return psnr_from_mse(mse_per_frame(generated, target, device=device, batch_size=batch_size).mean())


def _blur_matrix(size: int, dtype: torch.dtype, device) -> Tensor:
    """``(size, size)`` matrix of the 1-D Gaussian of σ = 1.5 over ±5 pixels, borders reflected
    about the edge (``d c b a | a b c d``, scipy.ndimage's ``reflect``): row i holds the weights of
    output pixel i (size ≥ 5)."""
    offsets = torch.arange(-SSIM_RADIUS, SSIM_RADIUS + 1, dtype=dtype, device=device)
    weights = torch.exp(-0.5 * (offsets / SSIM_SIGMA) ** 2)
    weights = weights / weights.sum()
    rows = torch.arange(size, device=device).view(-1, 1)
    columns = rows + torch.arange(-SSIM_RADIUS, SSIM_RADIUS + 1, device=device).view(1, -1)
    columns = torch.where(columns < 0, -columns - 1, columns)
    columns = torch.where(columns >= size, 2 * size - 1 - columns, columns)
    matrix = torch.zeros(size, size, dtype=dtype, device=device)
    matrix.index_put_((rows.expand_as(columns), columns), weights.expand_as(columns), accumulate=True)
    return matrix


def ssim_per_frame(generated, target, *, device="cpu", batch_size: int = 16) -> np.ndarray:
    """Structural similarity of each frame (Wang et al. 2004, scikit-image's Gaussian-window SSIM).

    Parameters
    ----------
    generated, target : np.ndarray
        uint8 RGB frames, the same shape ``(..., H, W, 3)``, H and W at least 11.
    device : str or torch.device
        Where it is computed (in float64).
    batch_size : int
        Frames per step.

    Returns
    -------
    np.ndarray
        ``(N,)`` float64, at most 1 (identical frames).

    Raises
    ------
    ValueError
        Frames smaller than the 11 × 11 window.
    """
    generated, target = as_frame_pairs(generated, target)
    height, width = generated.shape[1:3]
    size = 2 * SSIM_RADIUS + 1
    if height < size or width < size:
        raise ValueError(f"SSIM needs frames of at least {size}×{size} pixels, got {height}×{width}")
    c1, c2 = (SSIM_K1 * MAX_VALUE) ** 2, (SSIM_K2 * MAX_VALUE) ** 2
    blur_rows = _blur_matrix(height, torch.float64, device)
    blur_columns = _blur_matrix(width, torch.float64, device).T
    values = np.empty(len(generated), dtype=np.float64)
    r = SSIM_RADIUS
    for part in batches(len(generated), batch_size):
        x = to_nchw(generated[part], device, torch.float64)
        y = to_nchw(target[part], device, torch.float64)
        moments = blur_rows @ torch.cat([x, y, x * x, y * y, x * y], dim=1) @ blur_columns
        ux, uy, uxx, uyy, uxy = moments.chunk(5, dim=1)
        vx, vy, vxy = uxx - ux * ux, uyy - uy * uy, uxy - ux * uy
        ssim_map = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
        values[part] = ssim_map[:, :, r : height - r, r : width - r].mean(dim=(1, 2, 3)).cpu().numpy()
    return values


def ssim(generated, target, *, device="cpu", batch_size: int = 16) -> float:
    """Mean SSIM over all frames (see :func:`ssim_per_frame`)."""
    return float(ssim_per_frame(generated, target, device=device, batch_size=batch_size).mean())
