"""L1, MSE, PSNR and SSIM on hand-computed cases; SSIM against scikit-image."""

import math

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from headgan_model.metrics.frames import FrameMismatch
from headgan_model.metrics.pixel import (
    l1,
    l1_per_frame,
    mse_per_frame,
    psnr,
    psnr_from_mse,
    ssim,
    ssim_per_frame,
)


def constant(value: int, shape=(2, 8, 8, 3)) -> np.ndarray:
    return np.full(shape, value, dtype=np.uint8)


def test_constant_offset():
    generated, target = constant(10), constant(13)
    assert l1(generated, target) == 3.0
    np.testing.assert_array_equal(mse_per_frame(generated, target), [9.0, 9.0])
    assert psnr(generated, target) == pytest.approx(20 * math.log10(255) - 10 * math.log10(9), abs=1e-12)


def test_one_pixel_one_channel():
    target = np.zeros((1, 2, 2, 3), np.uint8)
    generated = target.copy()
    generated[0, 1, 0, 2] = 255
    assert l1(generated, target) == pytest.approx(255 / 12, abs=1e-12)
    assert mse_per_frame(generated, target)[0] == pytest.approx(255**2 / 12, abs=1e-9)
    assert psnr(generated, target) == pytest.approx(10 * math.log10(12), abs=1e-12)


def test_extremes_do_not_overflow():
    generated, target = constant(0, (3, 256, 256, 3)), constant(255, (3, 256, 256, 3))
    assert l1(generated, target) == 255.0
    np.testing.assert_array_equal(mse_per_frame(generated, target), [65025.0] * 3)
    assert psnr(generated, target) == pytest.approx(0.0, abs=1e-12)


def test_psnr_averages_mse_over_frames_not_psnr():
    """PSNR of a set is computed from the MSE over all its frames (supplement §5)."""
    target = constant(100, (2, 4, 4, 3))
    generated = target.copy()
    generated[1] += 2  # frame 0 exact (PSNR inf), frame 1 MSE 4
    np.testing.assert_array_equal(mse_per_frame(generated, target), [0.0, 4.0])
    assert psnr(generated, target) == pytest.approx(20 * math.log10(255) - 10 * math.log10(2), abs=1e-12)
    assert psnr_from_mse(np.array([0.0, 4.0]))[0] == math.inf


def test_per_frame_and_leading_axes():
    rng = np.random.default_rng(0)
    generated = rng.integers(0, 256, (2, 3, 6, 5, 3), dtype=np.uint8)  # 2 videos of 3 frames
    target = rng.integers(0, 256, (2, 3, 6, 5, 3), dtype=np.uint8)
    difference = generated.astype(np.int64) - target
    expected = np.abs(difference).reshape(6, -1).mean(axis=1)
    np.testing.assert_allclose(l1_per_frame(generated, target, batch_size=4), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(mse_per_frame(generated, target), (difference**2).reshape(6, -1).mean(axis=1))
    assert l1(generated, target) == pytest.approx(np.abs(difference).mean(), abs=1e-12)


def test_identical():
    frames = np.random.default_rng(1).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    assert l1(frames, frames) == 0.0
    assert psnr(frames, frames) == math.inf
    assert ssim(frames, frames) == pytest.approx(1.0, abs=1e-12)


def test_mismatch_and_type_errors():
    with pytest.raises(FrameMismatch, match="same length"):
        l1(constant(0, (3, 8, 8, 3)), constant(0, (4, 8, 8, 3)))
    with pytest.raises(FrameMismatch, match=r"\(2, 8, 9, 3\)"):
        psnr(constant(0), constant(0, (2, 8, 9, 3)))
    with pytest.raises(TypeError, match="uint8"):
        l1(np.zeros((2, 8, 8, 3)), np.zeros((2, 8, 8, 3)))
    with pytest.raises(ValueError, match=r"\(\.\.\., H, W, 3\)"):
        l1(np.zeros((2, 8, 8), np.uint8), np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(ValueError, match="at least 11"):
        ssim(constant(0, (1, 10, 20, 3)), constant(0, (1, 10, 20, 3)))


def test_ssim_of_constant_images():
    """Flat frames a and b: no variance, SSIM = (2ab + C1) / (a² + b² + C1) with C1 = (0.01·255)²."""
    c1 = (0.01 * 255) ** 2
    value = ssim_per_frame(constant(50, (1, 12, 12, 3)), constant(80, (1, 12, 12, 3)))[0]
    assert value == pytest.approx((2 * 50 * 80 + c1) / (50**2 + 80**2 + c1), abs=1e-12)


@pytest.mark.parametrize("shape", [(11, 11), (32, 45), (64, 64)])
def test_ssim_matches_scikit_image(shape):
    rng = np.random.default_rng(sum(shape))
    y, x = np.mgrid[: shape[0], : shape[1]]
    smooth = (127 + 100 * np.sin(x / 5.0)[..., None] * np.cos(y / 7.0)[..., None] * [1, 0.5, -1]).astype(np.uint8)
    target = np.stack([smooth, rng.integers(0, 256, (*shape, 3), dtype=np.uint8)])
    noise = rng.integers(-40, 41, target.shape)
    generated = np.clip(target.astype(int) + noise, 0, 255).astype(np.uint8)
    expected = [
        structural_similarity(
            g, t, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=-1
        )
        for g, t in zip(generated, target)
    ]
    np.testing.assert_allclose(ssim_per_frame(generated, target), expected, rtol=0, atol=1e-10)
