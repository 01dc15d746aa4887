"""Metric throughput: frames/s of each metric on 256 × 256 frames.

Usage: ``python benchmarks/bench_metrics.py [--seconds 10] [--device cpu] [--threads 1] [--models-dir models]
[--openface PATH] [--only NAME ...]``

Data: the astronaut's demo portrait at 256², turned and shifted a little on every frame (a head
that moves), as real and as generated frames. Timed per metric, after one warm-up call, for at
least ``--seconds``: L1, PSNR (its MSE) and SSIM on 32 pairs; LPIPS (AlexNet, VGG16) and FID's
Inception features on 32 frames, with untrained networks (they cost what the real weights cost, so
no weight file is needed), and once the Fréchet distance of two 2048-d statistics (FID's last
step, independent of the frame count); FVD (I3D on four real and four generated 16-frame clips, plus the Fréchet
distance), CSIM (SCRFD-500M + MobileFaceNet ArcFace on 32 pairs), ARD (FaceMesh landmarks and the
3DMM fit of 32 driving and 32 generated frames, with a random model of FaceMesh's 468 points and
LSFM's 157 + 28 components), AU-H (OpenFace on 32 + 32 frames, only with ``--openface``), AKD
(FaceMesh's 68 iBUG points of 32 generated and 32 real frames), LSE (SyncNet on a 64-frame video
with 2.56 s of seeded noise as its audio, with a randomly initialised SyncNet: the speed of the
real weights, not their scores). Frames counts the generated frames a call scores (every metric
but LSE also processes as many real frames).
A metric whose model file is missing is printed as missing, with the file.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tests.face_3dmm import synthetic_model  # noqa: E402
from timing import rate  # noqa: E402

from headgan_prep.demo.generate import demo_portrait  # noqa: E402
from headgan_model.metrics.pixel import l1_per_frame, mse_per_frame, ssim_per_frame  # noqa: E402
from headgan_prep.models.registry import ModelFileMissing  # noqa: E402

SIZE = 256
N_FRAMES = 32


def moving_head(n_frames: int, seed: int) -> np.ndarray:
    """(n_frames, 256, 256, 3) uint8: the portrait turned by up to ±10° and shifted by up to ±6 px."""
    rgb = np.ascontiguousarray(demo_portrait(0).rgba[..., :3])
    portrait = cv2.resize(rgb, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(seed)
    frames = []
    for angle, (dx, dy) in zip(rng.uniform(-10, 10, n_frames), rng.uniform(-6, 6, (n_frames, 2))):
        matrix = cv2.getRotationMatrix2D((SIZE / 2, SIZE / 2), angle, 1.0)
        matrix[:, 2] += (dx, dy)
        frames.append(cv2.warpAffine(portrait, matrix, (SIZE, SIZE), borderMode=cv2.BORDER_REPLICATE))
    return np.stack(frames)


def pixel_work(per_frame) -> Callable:
    def build(args, real, fake) -> Callable[[], int]:
        return lambda: (per_frame(fake[:N_FRAMES], real[:N_FRAMES], device=args.device), N_FRAMES)[1]

    return build


def lpips_work(net: str) -> Callable:
    def build(args, real, fake) -> Callable[[], int]:
        from headgan_model.metrics.lpips import LPIPSNetwork, lpips_per_frame

        network = LPIPSNetwork(net).eval().requires_grad_(False)
        return lambda: (lpips_per_frame(fake[:N_FRAMES], real[:N_FRAMES], network, device=args.device), N_FRAMES)[1]

    return build


def fid_work(args, real, fake) -> Callable[[], int]:
    from headgan_model.metrics.fid import FIDInception, fid_features

    network = FIDInception().eval().requires_grad_(False)
    return lambda: (fid_features(fake[:N_FRAMES], network, device=args.device), N_FRAMES)[1]


def frechet_seconds() -> float:
    """Seconds of one Fréchet distance between two statistics of 2500 random 2048-d features."""
    from headgan_model.metrics.frechet import FeatureStatistics, frechet_distance

    features = np.random.default_rng(0).normal(size=(5000, 2048))
    first, second = FeatureStatistics.of(features[:2500]), FeatureStatistics.of(features[2500:] + 0.1)
    start = time.perf_counter()
    frechet_distance(first, second)
    return time.perf_counter() - start


def fvd_work(args, real, fake) -> Callable[[], int]:
    from headgan_model.metrics.fvd import fvd, load_fvd_network

    network = load_fvd_network(args.models_dir)
    real_clips = [real[i : i + 16] for i in range(0, 64, 16)]
    fake_clips = [fake[i : i + 16] for i in range(0, 64, 16)]

    def work() -> int:
        fvd(real_clips, fake_clips, network=network, device=args.device)
        return 4 * 16

    return work


def csim_work(args, real, fake) -> Callable[[], int]:
    from headgan_model.metrics.csim import csim, make_embedder

    providers = ["CPUExecutionProvider"]
    if args.device.startswith("cuda"):
        providers.insert(0, "CUDAExecutionProvider")
    embedder = make_embedder(args.models_dir, providers=providers, threads=args.threads)
    return lambda: (csim(real[:N_FRAMES], fake[:N_FRAMES], embedder), N_FRAMES)[1]


def ard_work(args, real, fake) -> Callable[[], int]:
    from headgan_model.metrics.head_pose import HeadPoseEstimator, ard
    from headgan_prep.fit.algorithm import FitConfig
    from headgan_prep.landmarks.shard import LandmarksConfig, make_landmarker

    cfg = LandmarksConfig(threads=args.threads)
    model = synthetic_model(468, 157, 28)
    estimator = HeadPoseEstimator(make_landmarker(cfg, args.models_dir), model, cfg, FitConfig())
    return lambda: (ard(real[:N_FRAMES], fake[:N_FRAMES], estimator), N_FRAMES)[1]


def auh_work(args, real, fake) -> Callable[[], int]:
    from headgan_model.metrics.action_units import au_h, find_binary

    if find_binary(args.openface) is None:
        raise FileNotFoundError(f"OpenFace FeatureExtraction not found ({args.openface or 'on PATH'})")
    return lambda: (au_h(real[:N_FRAMES], fake[:N_FRAMES], args.openface), N_FRAMES)[1]


def akd_work(args, real, fake) -> Callable[[], int]:
    from headgan_model.metrics.keypoints import KeypointDetector, akd
    from headgan_prep.landmarks.shard import LandmarksConfig, make_landmarker

    cfg = LandmarksConfig(threads=args.threads)
    detector = KeypointDetector(make_landmarker(cfg, args.models_dir), cfg.min_score)
    return lambda: (akd(fake[:N_FRAMES], real[:N_FRAMES], detector), N_FRAMES)[1]


def lse_work(args, real, fake) -> Callable[[], int]:
    import torch

    from headgan_model.metrics.lip_sync import SAMPLES_PER_FRAME, sync_score
    from headgan_model.metrics.syncnet import SyncNet

    torch.manual_seed(0)
    network = SyncNet().eval()  # randomly initialised: timing only
    samples = np.random.default_rng(0).uniform(-0.3, 0.3, len(fake) * SAMPLES_PER_FRAME)
    return lambda: (sync_score(fake, samples, network, device=args.device), len(fake))[1]


METRICS = {
    "L1": pixel_work(l1_per_frame),
    "PSNR": pixel_work(mse_per_frame),
    "SSIM": pixel_work(ssim_per_frame),
    "LPIPS-alex": lpips_work("alex"),
    "LPIPS-vgg": lpips_work("vgg"),
    "FID": fid_work,
    "FVD": fvd_work,
    "CSIM": csim_work,
    "ARD": ard_work,
    "AU-H": auh_work,
    "AKD": akd_work,
    "LSE": lse_work,
}
"""Metric name -> builder of the timed call (which returns the generated frames it scored)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--device", default="cpu", help="torch device of FVD and LSE (cuda also runs CSIM's ONNX on CUDA)")
    parser.add_argument("--threads", type=int, default=1, help="torch / ONNX Runtime / TFLite threads")
    parser.add_argument("--models-dir", default="models")
    parser.add_argument("--openface", default=None, help="OpenFace's FeatureExtraction (default: on PATH)")
    parser.add_argument("--only", action="append", choices=sorted(METRICS), help="time only these metrics")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    real, fake = moving_head(64, seed=0), moving_head(64, seed=1)
    print(f"{SIZE}² frames, device {args.device}, {args.threads} thread(s)")
    for name, build in METRICS.items():
        if args.only and name not in args.only:
            continue
        try:
            work = build(args, real, fake)
        except (ModelFileMissing, FileNotFoundError) as error:
            print(f"{name:10s}  missing: {error}")
            continue
        note = "  (randomly initialised SyncNet: speed only)" if name == "LSE" else ""
        print(f"{name:10s}  {rate(work, args.seconds):8.1f} frames/s{note}")
        if name == "FID":
            print(f"{'':10s}  Fréchet distance of 2048-d statistics: {frechet_seconds():.2f} s per call (scipy)")


if __name__ == "__main__":
    main()
