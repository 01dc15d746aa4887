"""Image pairs of the LPIPS reference values, made with integer arithmetic only (no random
generator, no floating-point rounding), so that every numpy version makes the same bytes."""

import numpy as np


def texture(height: int, width: int, seed: int) -> np.ndarray:
    """A busy, non-repeating-looking pattern: quadratic residues mod 256, ``(H, W, 3)`` uint8."""
    y, x, c = np.meshgrid(np.arange(height), np.arange(width), np.arange(3), indexing="ij")
    return ((x * x * (7 + seed) + y * y * 3 + y * (31 + 3 * seed) + x * y * 13 + c * 101 + seed * 57) % 256).astype(
        np.uint8
    )


def smooth(height: int, width: int, seed: int) -> np.ndarray:
    """Sums of triangle waves: soft gradients and edges, ``(H, W, 3)`` uint8."""
    y, x, c = np.meshgrid(np.arange(height), np.arange(width), np.arange(3), indexing="ij")
    wave_x = np.abs((x * 3 + seed * 17 + c * 11) % 128 - 64)
    wave_y = np.abs((y * 2 + c * 40 + seed * 5) % 96 - 48)
    return (wave_x * 2 + wave_y + 20).astype(np.uint8)


def blocky(image: np.ndarray) -> np.ndarray:
    """Every 2 × 2 block set to its top-left pixel."""
    return image[::2, ::2].repeat(2, axis=0).repeat(2, axis=1)[: image.shape[0], : image.shape[1]]


def cases() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Named ``(first, second)`` pairs of ``(H, W, 3)`` uint8 images."""
    a, b = smooth(64, 64, 1), texture(64, 64, 2)
    c = smooth(48, 80, 3)
    d = smooth(128, 128, 4)
    return {
        "smooth vs shifted 1 px": (a, np.roll(a, 1, axis=1)),
        "texture vs brighter": (b, np.clip(b.astype(int) + 20, 0, 255).astype(np.uint8)),
        "smooth vs texture": (a, b),
        "smooth vs smooth+texture 48x80": (c, ((c.astype(int) * 3 + texture(48, 80, 5)) // 4).astype(np.uint8)),
        "smooth vs blocky 128x128": (d, blocky(((d.astype(int) + texture(128, 128, 6) // 8) % 256).astype(np.uint8))),
    }
