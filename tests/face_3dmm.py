"""Synthetic morphable models and clips seen through known cameras, for the fit and render tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from headgan_prep.fit.camera import FRONTAL_ROTATION
from headgan_prep.morphable.model import MorphableModel
from headgan_prep.fit.rotation import euler_to_matrix


def synthetic_model(n_vertices=300, n_id=20, n_exp=8, seed=0) -> MorphableModel:
    """Random model: mean on an ellipsoid about 180 × 140 × 100 units, random orthonormal bases."""
    rng = np.random.default_rng(seed)
    direction = rng.normal(size=(n_vertices, 3))
    mean = direction / np.linalg.norm(direction, axis=1, keepdims=True) * [70, 90, 50]
    q, _ = np.linalg.qr(rng.normal(size=(3 * n_vertices, n_id + n_exp)))
    return MorphableModel(mean, q[:, :n_id], q[:, n_id:], [[0, 1, 2]], np.arange(n_vertices), name="synthetic")


def bumpy_head(n_rings=14, n_segments=28, seed=0) -> MorphableModel:
    """Closed UV-sphere mesh about 140 × 180 × 120 units, with bumps deep enough to hide parts of
    itself when turned, and small random bases: 2 + (n_rings − 1) · n_segments vertices,
    2 · (n_rings − 1) · n_segments triangles."""
    rng = np.random.default_rng(seed)
    theta = np.linspace(0, np.pi, n_rings + 1)[1:-1, None]
    phi = np.linspace(0, 2 * np.pi, n_segments, endpoint=False)[None]
    radius = 1 + 0.25 * np.sin(3 * theta) * np.cos(4 * phi)
    ring = np.stack([np.sin(theta) * np.cos(phi), np.cos(theta) + 0 * phi, np.sin(theta) * np.sin(phi)], -1)
    ring = (ring * radius[..., None]).reshape(-1, 3)
    vertices = np.concatenate([[[0, 1, 0]], ring, [[0, -1, 0]]]) * [70, 90, 60]

    def index(i, j):
        return 1 + i * n_segments + j % n_segments

    triangles = [[0, index(0, j + 1), index(0, j)] for j in range(n_segments)]
    for i in range(n_rings - 2):
        for j in range(n_segments):
            triangles += [[index(i, j), index(i, j + 1), index(i + 1, j)]]
            triangles += [[index(i, j + 1), index(i + 1, j + 1), index(i + 1, j)]]
    triangles += [[len(vertices) - 1, index(n_rings - 2, j), index(n_rings - 2, j + 1)] for j in range(n_segments)]
    basis, _ = np.linalg.qr(rng.normal(size=(3 * len(vertices), 7)))
    return MorphableModel(vertices, basis[:, :4], basis[:, 4:], triangles, np.arange(10), name="bumpy head")


@dataclass
class Clip:
    """Known parameters and the image points they give, ``x = s · R[:2] · X + t`` (z: ``s · R[2] · X``)."""

    identity: np.ndarray
    expression: np.ndarray
    euler: np.ndarray
    scale: np.ndarray
    translation: np.ndarray
    points: np.ndarray


def synthetic_clip(model: MorphableModel, n_frames=40, noise_px=0.0, max_yaw=60.0, seed=1) -> Clip:
    """Frames of one identity with random expressions, head poses (yaw up to ±max_yaw), scales
    and translations in a 256-pixel crop, with Gaussian noise of ``noise_px`` on every coordinate."""
    rng = np.random.default_rng(seed)
    identity = rng.normal(size=model.n_id) * 20
    expression = rng.normal(size=(n_frames, model.n_exp)) * 8
    euler = np.c_[
        rng.uniform(-30, 30, n_frames), rng.uniform(-max_yaw, max_yaw, n_frames), rng.uniform(-20, 20, n_frames)
    ]
    euler[0] = (0, max_yaw, 0)
    scale = rng.uniform(0.5, 1.2, n_frames)
    translation = rng.uniform(90, 160, (n_frames, 2))
    rotation = FRONTAL_ROTATION @ euler_to_matrix(euler)
    shapes = model.shapes(identity, expression).astype(np.float64)
    points = scale[:, None, None] * shapes @ np.swapaxes(rotation, 1, 2)
    points[..., :2] += translation[:, None]
    points += rng.normal(size=points.shape) * noise_px
    return Clip(identity, expression, euler, scale, translation, points.astype(np.float32))
