"""Metric throughput: frames/s of each metric on random uint8 frame pairs at 256².

Usage: ``python benchmarks/bench_metrics.py [--device auto] [--frames 16] [--seconds 3] [--metrics l1 lpips-alex ...]``

Each metric of :data:`METRICS` is timed on batches of ``--frames`` random 256 × 256 RGB frame pairs
(one pair counts as one frame; FID features read the generated frames only) for about ``--seconds``
after a warm-up batch. The networks are randomly initialised: they cost what the real weights cost,
and the benchmark needs no weight file. With FID, also printed: the time of one Fréchet distance
between 2048-d statistics (FID's final step, independent of the frame count). A metric is added by putting
a factory ``device -> (generated, target) -> anything`` into :data:`METRICS`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import rate  # noqa: E402

from headgan_model.metrics.fid import FIDInception, fid_features  # noqa: E402
from headgan_model.metrics.frechet import FeatureStatistics, frechet_distance  # noqa: E402
from headgan_model.metrics.lpips import LPIPSNetwork, lpips_per_frame  # noqa: E402
from headgan_model.metrics.pixel import l1_per_frame, mse_per_frame, ssim_per_frame  # noqa: E402

Metric = Callable[[np.ndarray, np.ndarray], object]


def _lpips(net: str) -> Callable[[torch.device], Metric]:
    def factory(device: torch.device) -> Metric:
        network = LPIPSNetwork(net).eval().requires_grad_(False)
        return lambda generated, target: lpips_per_frame(generated, target, network, device=device)

    return factory


def _fid(device: torch.device) -> Metric:
    network = FIDInception().eval().requires_grad_(False)
    return lambda generated, target: fid_features(generated, network, device=device)


METRICS: dict[str, Callable[[torch.device], Metric]] = {
    "l1": lambda device: lambda g, t: l1_per_frame(g, t, device=device),
    "psnr (mse)": lambda device: lambda g, t: mse_per_frame(g, t, device=device),
    "ssim": lambda device: lambda g, t: ssim_per_frame(g, t, device=device),
    "lpips-alex": _lpips("alex"),
    "lpips-vgg": _lpips("vgg"),
    "fid features": _fid,
}
"""Metric name -> factory building the metric for a device."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    parser.add_argument("--frames", type=int, default=16, help="frame pairs per call")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=3.0, help="timing per metric, after a warm-up call")
    parser.add_argument("--metrics", nargs="+", default=list(METRICS), choices=list(METRICS), metavar="NAME")
    args = parser.parse_args()

    name = "cuda" if args.device == "auto" and torch.cuda.is_available() else args.device.replace("auto", "cpu")
    device = torch.device(name)
    rng = np.random.default_rng(0)
    shape = (args.frames, args.size, args.size, 3)
    generated, target = rng.integers(0, 256, shape, dtype=np.uint8), rng.integers(0, 256, shape, dtype=np.uint8)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"{where}; batches of {args.frames} frame pairs of {args.size}×{args.size}")
    for metric in args.metrics:
        compute = METRICS[metric](device)

        def work() -> int:
            compute(generated, target)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            return args.frames

        speed = rate(work, args.seconds)
        print(f"  {metric:14s} {speed:9.1f} frames/s  {1000 / speed:8.2f} ms/frame")

    if "fid features" not in args.metrics:
        return
    features = rng.normal(size=(5000, 2048))
    first, second = FeatureStatistics.of(features[:2500]), FeatureStatistics.of(features[2500:] + 0.1)
    start = time.perf_counter()
    frechet_distance(first, second)
    print(f"  Fréchet distance of 2048-d statistics: {time.perf_counter() - start:.2f} s per call (CPU, scipy)")


if __name__ == "__main__":
    main()
