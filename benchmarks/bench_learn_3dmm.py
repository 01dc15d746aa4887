"""learn_3dmm time and peak memory against the number of training clips.

Usage: ``python benchmarks/bench_learn_3dmm.py [--clips 200 1000 4000] [--frames 60] [--points 468]``

Data: landmark stores (schema ``headgan.landmarks/1``, written as the landmarks stage writes them,
``--clips-per-shard`` clips each) of clips drawn from a random linear face model (mean on an
ellipsoid about 140 × 180 × 100 px, 20 identity and 10 expression directions), one identity per
``--clips-per-identity`` clips, every frame in a random head pose in a 256-pixel crop, plus 0.3 px
noise; every 10th frame invalid. With 468 points the FaceMesh tessellation of ``--models-dir`` is
used, as in the pipeline.

Each count is learned by :func:`headgan_prep.morphable.learn.learn_from_stores` in a fresh process
(BLAS on one thread) from the first stores of the largest set; printed per count: seconds, frames
used (``morphable_model.frames_per_clip`` per clip) per second, and the process's peak resident
memory (``ru_maxrss``) with its baseline after the imports.
"""

from __future__ import annotations

import os

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import zarr  # noqa: E402
from scipy.spatial.transform import Rotation  # noqa: E402

from headgan_prep.landmarks.shard import SCHEMA  # noqa: E402
from headgan_prep.morphable.learn import MorphableModelConfig, learn_from_stores  # noqa: E402
from headgan_prep.store.zarr_direct import write_clip_group  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
N_ID, N_EXP = 20, 10


def write_stores(folder: Path, n_clips: int, n_frames: int, n_points: int, per_shard: int, per_identity: int) -> list[Path]:
    """Landmark stores of ``n_clips`` generated clips (module docstring), ``per_shard`` clips each."""
    rng = np.random.default_rng(0)
    direction = rng.normal(size=(n_points, 3))
    mean = direction / np.linalg.norm(direction, axis=1, keepdims=True) * [70.0, 90.0, 50.0]
    basis = np.linalg.qr(rng.normal(size=(3 * n_points, N_ID + N_EXP)))[0]
    id_sd, exp_sd = np.linspace(30.0, 5.0, N_ID), np.linspace(20.0, 3.0, N_EXP)
    stores = []
    for shard in range(-(-n_clips // per_shard)):
        path = folder / f"train-{shard:04d}.zarr"
        root = zarr.open_group(str(path), mode="w", zarr_format=3)
        clips = range(shard * per_shard, min((shard + 1) * per_shard, n_clips))
        for clip in clips:
            p_id = rng.normal(size=N_ID) * id_sd
            p_exp = rng.normal(size=(n_frames, N_EXP)) * exp_sd
            params = np.concatenate([np.broadcast_to(p_id, (n_frames, N_ID)), p_exp], axis=1)
            shapes = mean + (params @ basis.T).reshape(n_frames, n_points, 3)
            rotations = Rotation.from_rotvec(rng.normal(size=(n_frames, 3)) * 0.15).as_matrix()
            posed = 0.8 * shapes @ np.swapaxes(rotations, 1, 2) + rng.normal(size=(n_frames, 1, 3)) * 3.0
            points = (posed * [1.0, -1.0, -1.0] + [128.0, 128.0, 0.0] + rng.normal(size=posed.shape) * 0.3).astype(np.float32)
            valid = np.arange(n_frames) % 10 != 9
            arrays = {
                "points": points,
                "ibug68": points[:, :68],
                "score": np.ones(n_frames, np.float32),
                "valid": valid,
                "mouth_box": np.tile(np.array([96.0, 160.0, 160.0, 224.0], np.float32), (n_frames, 1)),
            }
            clip_id = f"id{clip // per_identity:05d}+v+{clip:06d}"
            write_clip_group(root, clip_id, {"clip_id": clip_id, "identity": clip_id.split("+")[0]}, arrays)
        root.attrs.update({"schema": SCHEMA, "shard": path.stem, "n_clips": len(clips)})
        stores.append(path)
    return stores


def learn(stores: list[str], models_dir: str) -> None:
    """Child process: learn from the stores, print one JSON line of seconds and memory."""
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    model = learn_from_stores([Path(s) for s in stores], MorphableModelConfig(), Path(models_dir))
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak, "baseline_mb": baseline, "source": model.source}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, nargs="+", default=[200, 1000, 4000])
    parser.add_argument("--frames", type=int, default=60, help="frames per clip (every 10th invalid)")
    parser.add_argument("--points", type=int, default=468)
    parser.add_argument("--clips-per-shard", type=int, default=100)
    parser.add_argument("--clips-per-identity", type=int, default=8)
    parser.add_argument("--models-dir", type=Path, default=REPO / "models")
    parser.add_argument("--learn", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.learn:
        learn(args.learn, str(args.models_dir))
        return
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        stores = write_stores(Path(folder), max(args.clips), args.frames, args.points, args.clips_per_shard, args.clips_per_identity)
        print(f"wrote {max(args.clips)} clips in {len(stores)} stores in {time.perf_counter() - start:.0f} s")
        frames_used = min(args.frames - args.frames // 10, MorphableModelConfig().frames_per_clip)
        for n_clips in sorted(args.clips):
            chosen = [str(s) for s in stores[: -(-n_clips // args.clips_per_shard)]]
            command = [sys.executable, __file__, "--models-dir", str(args.models_dir), "--learn", *chosen]
            result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
            frames = n_clips * frames_used
            print(
                f"{n_clips:6d} clips  {frames:8d} frames  {result['seconds']:7.2f} s  {frames / result['seconds']:8.0f} frames/s  "
                f"peak RSS {result['peak_mb']:7.0f} MiB (after imports {result['baseline_mb']:.0f} MiB)"
            )


if __name__ == "__main__":
    main()
