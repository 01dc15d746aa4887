"""Throughput of the ingest stage on demo data, in frames per second (25 fps output frames).

For 256×256 and 1280×720 sources it times, on one core (the process and its ffmpeg children
pinned to one CPU, every thread count 1):

* ``decode``: probe + frames and audio decoding (frames scaled to ``decode_max_side``);
* ``detect``: detection alone on decoded frames held in memory;
* ``ingest``: the whole stage, :func:`headgan_prep.ingest.shard.ingest_shard` writing a Zarr store;

and ``ingest`` on all cores: one process per CPU, each ingesting its own slice of the clips into
its own shard, as parallel Snakemake jobs do (timed from the moment all workers are ready). Prints
one line per measurement and a JSON summary. Other load on the machine lowers the numbers.

    python benchmarks/bench_ingest.py --data /tmp/headgan-bench --clips 8 --seconds 8 [--detect-every 4]
"""

import argparse
import json
import multiprocessing
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from headgan_prep.demo.generate import SOURCES, make_demo
from headgan_prep.ingest.detect import make_detector
from headgan_prep.ingest.shard import IngestConfig, detect_all, ingest_shard
from headgan_prep.ingest.video import decode_clip, fit_within, probe

REPO_ROOT = Path(__file__).resolve().parents[1]
SOURCE_KINDS = {"256": ((256, 256), 100), "720p": ((1280, 720), 280)}


@dataclass(frozen=True)
class BenchClip:
    clip_id: str
    identity: str
    split: str
    path: Path


def demo_clips(data: Path, kind: str, n_clips: int, seconds: float) -> list[BenchClip]:
    """The demo clips of one source kind, generated under ``data/kind`` unless already there."""
    frame_size, face_size = SOURCE_KINDS[kind]
    root = data / kind
    marker = root / f".complete-{n_clips}-{seconds:g}"
    if not marker.exists():
        identities = min(len(SOURCES), n_clips)
        per_identity = -(-n_clips // identities)
        make_demo(
            root,
            identities=identities,
            clips_per_identity=per_identity,
            seconds=seconds,
            frame_size=frame_size,
            face_size=face_size,
            progress=True,
        )
        marker.touch()
    paths = sorted((root / "videos").rglob("*.mp4"))[:n_clips]
    return [
        BenchClip(p.relative_to(root / "videos").with_suffix("").as_posix().replace("/", "+"), p.parts[-3], "train", p)
        for p in paths
    ]


def pin_to_one_cpu() -> set[int]:
    """Pin this process (and the ffmpeg processes it starts) to one CPU; return the previous set."""
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(allowed)})
    return allowed


def bench_decode(clips: list[BenchClip], cfg: IngestConfig) -> tuple[float, int]:
    start, n_frames = time.perf_counter(), 0
    for clip in clips:
        info = probe(clip.path)
        frames, _ = decode_clip(
            clip.path,
            cfg.fps,
            fit_within(info.width, info.height, cfg.decode_max_side),
            cfg.sample_rate,
            threads=cfg.decode_threads,
            info=info,
        )
        n_frames += len(frames)
    return n_frames / (time.perf_counter() - start), n_frames


def bench_detect(clips: list[BenchClip], cfg: IngestConfig, models_dir: Path) -> tuple[float, int]:
    detector = make_detector(cfg.detector.backend, models_dir, model=cfg.detector.model, threads=cfg.detector.threads)
    batches = []
    for clip in clips:
        info = probe(clip.path)
        batches.append(
            decode_clip(clip.path, cfg.fps, fit_within(info.width, info.height, cfg.decode_max_side), info=info)[0]
        )
    detect_all(detector, batches[0][:8], cfg.detector.detect_max_side, cfg.detector.batch_frames)  # warm-up
    start = time.perf_counter()
    for frames in batches:
        detect_all(detector, frames, cfg.detector.detect_max_side, cfg.detector.batch_frames)
    n_frames = sum(len(f) for f in batches)
    return n_frames / (time.perf_counter() - start), n_frames


def ingest_slice(clips: list[BenchClip], out: Path, cfg_dict: dict, models_dir: Path, barrier=None) -> tuple:
    """Ingest ``clips`` into ``out`` (one worker's shard) once every worker is ready (``barrier``).

    Returns the frames written and the wall-clock start and end times (seconds since the epoch).
    """
    cfg = IngestConfig.from_dict(cfg_dict)
    if barrier is not None:
        barrier.wait()
    start = time.time()
    stats = ingest_shard(clips, out, out.with_suffix(".tsv"), cfg, models_dir, progress=False)
    if stats.n_rejected:
        raise RuntimeError(f"benchmark clips rejected: {stats.rejected_by_reason}")
    return stats.n_frames, start, time.time()


def bench_ingest_one_core(clips, workdir: Path, cfg: IngestConfig, models_dir: Path) -> tuple[float, int]:
    n_frames, start, end = ingest_slice(clips, workdir / "one.zarr", cfg.to_dict(), models_dir)
    return n_frames / (end - start), n_frames


def bench_ingest_parallel(clips, workdir: Path, cfg: IngestConfig, models_dir: Path, workers: int) -> tuple[float, int]:
    """All workers start together (after their imports); throughput = frames / (last end − first start)."""
    slices = [clips[i::workers] for i in range(workers) if clips[i::workers]]
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(len(slices), mp_context=context) as pool:
        barrier = manager.Barrier(len(slices))
        futures = [
            pool.submit(ingest_slice, part, workdir / f"bench-{i:04d}.zarr", cfg.to_dict(), models_dir, barrier)
            for i, part in enumerate(slices)
        ]
        results = [f.result() for f in futures]
    n_frames = sum(r[0] for r in results)
    return n_frames / (max(r[2] for r in results) - min(r[1] for r in results)), n_frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "headgan-bench")
    parser.add_argument("--clips", type=int, default=8, help="clips per source kind")
    parser.add_argument("--seconds", type=float, default=8.0, help="clip length (VoxCeleb averages ≈8 s)")
    parser.add_argument("--kinds", nargs="+", default=list(SOURCE_KINDS), choices=list(SOURCE_KINDS))
    parser.add_argument("--backend", default="mediapipe")
    parser.add_argument(
        "--detect-every", type=int, default=IngestConfig().detector.detect_every, help="ingest.detector.detect_every"
    )
    parser.add_argument(
        "--models-dir", type=Path, default=Path(os.environ.get("HEADGAN_MODELS_DIR", REPO_ROOT / "models"))
    )
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)), help="processes for all cores")
    args = parser.parse_args()

    cfg = IngestConfig.from_dict({"detector": {"backend": args.backend, "detect_every": args.detect_every}})
    results = {
        "cpus": len(os.sched_getaffinity(0)),
        "workers": args.workers,
        "backend": args.backend,
        "detect_every": args.detect_every,
    }
    for kind in args.kinds:
        clips = demo_clips(args.data, kind, args.clips, args.seconds)
        workdir = Path(tempfile.mkdtemp(prefix=f"bench-ingest-{kind}-"))
        try:
            allowed = pin_to_one_cpu()
            measured = {
                "decode_1core": bench_decode(clips, cfg),
                "detect_1core": bench_detect(clips, cfg, args.models_dir),
                "ingest_1core": bench_ingest_one_core(clips, workdir, cfg, args.models_dir),
            }
            os.sched_setaffinity(0, allowed)
            measured[f"ingest_{args.workers}proc"] = bench_ingest_parallel(
                clips, workdir, cfg, args.models_dir, args.workers
            )
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        for name, (fps, n_frames) in measured.items():
            per_core = fps / args.workers if name.endswith("proc") else fps
            print(f"{kind:>5} {name:<14} {fps:8.1f} frames/s  ({per_core:7.1f} per core, {n_frames} frames)")
            results[f"{kind}_{name}_fps"] = round(fps, 1)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
