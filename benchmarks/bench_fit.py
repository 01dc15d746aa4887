"""3DMM fit throughput: frames/s of ``Fitter.fit`` on one core, both solvers.

Usage: ``python benchmarks/bench_fit.py [--frames 1000] [--points 1035] [--n-id 157] [--n-exp 28]``

Data: a random model (mean on an ellipsoid, orthonormal bases) with HeadGAN's sizes (1035 fitted
points, LSFM's 157 identity and 28 expression components) and a clip of one identity with random
expressions, head poses (yaw up to ±60°), scales and translations in a 256-pixel crop, plus 0.5 px
Gaussian noise. Timed: the whole fit of the clip (alignment, shape parameters, identity,
expression, camera, Euler angles, residuals), best of ``--repeats`` runs. BLAS runs on one thread.

The fit store also measures each clip's expression error (:mod:`headgan_prep.fit.expression`, the
first 68 points standing for the iBUG ones); its frames/s are printed last.

``bounded`` is timed twice: with loose bounds that some frames hit (only those frames go through
``scipy.optimize.lsq_linear``), and with tight bounds every frame hits (the worst case). Printed per
setting: frames/s, the residuals, the largest expression error in units of its noise std (noise /
scale; with tight bounds it is the bound's doing) and the fraction of frames with an expression
parameter at a bound.
"""

from __future__ import annotations

import os

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from face_3dmm import synthetic_clip, synthetic_model  # noqa: E402
from headgan_prep.fit.algorithm import FitConfig, Fitter  # noqa: E402
from headgan_prep.fit.expression import expression_error  # noqa: E402

NOISE_PX = 0.5


def run(fitter: Fitter, points: np.ndarray, repeats: int):
    fitter.fit(points[:10])
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fit = fitter.fit(points)
        best = min(best, time.perf_counter() - start)
    return fit, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--points", type=int, default=1035)
    parser.add_argument("--n-id", type=int, default=157)
    parser.add_argument("--n-exp", type=int, default=28)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    model = synthetic_model(args.points, args.n_id, args.n_exp)
    clip = synthetic_clip(model, n_frames=args.frames, noise_px=NOISE_PX)
    print(f"T={args.frames} frames, M={args.points} points, n_id={args.n_id}, n_exp={args.n_exp}, one core")
    settings = [
        ("pinv", {}, args.repeats),
        ("pinv, 3 iterations", {"iterations": 3}, args.repeats),
        ("bounded, loose bounds", {"solver": "bounded", "bound_identity": 60.0, "bound_expression": 20.0}, 1),
        ("bounded, tight bounds", {"solver": "bounded", "bound_identity": 1.0, "bound_expression": 1.0}, 1),
    ]
    for name, values, repeats in settings:
        cfg = FitConfig(**values)
        fitter = Fitter(model, cfg)
        fit, seconds = run(fitter, clip.points, repeats)
        bounded = np.mean((np.abs(fit.expression) >= cfg.bound_expression - 1e-3).any(axis=1))
        residual = fit.residual[fit.valid]
        noise_std = NOISE_PX / clip.scale[:, None]
        error = np.max(np.abs(fit.expression - clip.expression) / noise_std)
        print(
            f"{name:30s} {args.frames / seconds:10.0f} frames/s  ({seconds * 1e3:8.1f} ms)  "
            f"residual median {np.median(residual):.3f} px, p95 {np.percentile(residual, 95):.3f} px  "
            f"max |Δ expression| {error:.1f} noise std, frames at an expression bound {bounded:.0%}"
        )
    fit = Fitter(model, FitConfig()).fit(clip.points)
    best = np.inf
    for _ in range(args.repeats):
        start = time.perf_counter()
        expression_error(model, fit, clip.points, clip.points[:, :68])
        best = min(best, time.perf_counter() - start)
    print(f"{'expression error':30s} {args.frames / best:10.0f} frames/s  ({best * 1e3:8.1f} ms)")


if __name__ == "__main__":
    main()
