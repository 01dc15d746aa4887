"""NMFC rendering throughput: frames/s of ``NMFCRenderer.render`` at 256², with and without batching.

Usage: ``python benchmarks/bench_render.py [--frames 256] [--batches 1 16 64]``

Meshes: closed bumpy UV spheres (``tests/face_3dmm.py``), one of about 500 vertices and one the
size of LSFM (about 53K vertices, 107K triangles), turned to random poses (yaw up to ±60°) and
scales filling much of the crop. Timed: ``render`` of ``--frames`` frames (projection on the CPU,
upload, one draw and one readback per batch), best of ``--repeats`` runs, after a warm-up. Printed
per mesh and batch size: frames/s and ms per frame, with the OpenGL renderer's name (llvmpipe is
Mesa's software rasteriser).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from face_3dmm import bumpy_head  # noqa: E402
from headgan_prep.fit.camera import FRONTAL_ROTATION  # noqa: E402
from headgan_prep.render.renderer import NMFCRenderer, gl_context  # noqa: E402
from headgan_prep.fit.rotation import euler_to_matrix, matrix_to_quaternion  # noqa: E402

MESHES = {"small (~500 vertices)": (19, 28), "LSFM-sized (~53K vertices)": (192, 280)}


def cameras(n_frames: int, rng: np.random.Generator) -> np.ndarray:
    euler = np.c_[rng.uniform(-20, 20, n_frames), rng.uniform(-60, 60, n_frames), rng.uniform(-20, 20, n_frames)]
    rotation = matrix_to_quaternion(FRONTAL_ROTATION @ euler_to_matrix(euler))
    return np.c_[rng.uniform(0.9, 1.1, n_frames), rotation, rng.uniform(118, 138, (n_frames, 2))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=256)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    print(f"renderer: {gl_context().info['GL_RENDERER']}; {args.frames} frames of 256×256, best of {args.repeats}")
    for name, (rings, segments) in MESHES.items():
        model = bumpy_head(rings, segments)
        shapes = np.broadcast_to(model.mean, (args.frames, *model.mean.shape))
        camera = cameras(args.frames, rng)
        print(f"{name}: {model.n_vertices} vertices, {len(model.triangles)} triangles")
        for batch in args.batches:
            renderer = NMFCRenderer(model, batch=batch)
            renderer.render(shapes[:batch], camera[:batch])
            best = np.inf
            for _ in range(args.repeats):
                start = time.perf_counter()
                renderer.render(shapes, camera)
                best = min(best, time.perf_counter() - start)
            print(f"  batch {batch:3d}: {args.frames / best:8.1f} frames/s  {1000 * best / args.frames:7.2f} ms/frame")


if __name__ == "__main__":
    main()
