"""Whole-DAG preprocessing throughput: frames/s per core of `snakemake preprocess`, from mp4 to indexes.

Usage: ``python benchmarks/bench_preprocess.py [--cores 2] [--clips-per-identity 8] [--seconds 10]
[--clips-per-shard 8] [--repeat 1] [--workdir DIR] [--keep]``

Generates the demo dataset at the given size (not timed), then times ``snakemake --cores N
preprocess`` in a fresh working directory: manifest, ingest, landmarks, 3DMM learning, fit,
render, audio (DeepSpeech off unless ``--deepspeech`` names a model dir setting), previews and the
dataset indexes. Printed: clips, decoded frames (the crop stores' frame counts), wall time,
frames/s and frames/s per core (frames / (wall × cores)), and the per-rule wall times from the
``benchmark:`` files. With ``--repeat N`` the timed run is done N times from scratch (results
deleted and the disk cache flushed in between, outside the timing) and the median is printed too:
on shared virtual machines one run can differ from the next by 20 %.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import yaml
import zarr

from headgan_prep.store.shard_job import clip_groups

REPO_ROOT = Path(__file__).resolve().parents[1]


def snakemake(workdir: Path, cores: int, *targets: str) -> None:
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO_ROOT / "Snakefile"), "--directory", str(workdir)]
    cmd += ["--cores", str(cores), *targets, "--quiet", "all"]
    cmd += ["--configfile", str(REPO_ROOT / "config.yaml"), "bench.yaml"]
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    subprocess.run(cmd, cwd=workdir, env=env, check=True)


def decoded_frames(results: Path) -> tuple[int, int]:
    """(clips, frames) in the crop stores."""
    clips = frames = 0
    for store in sorted((results / "crops").glob("*.zarr")):
        root = zarr.open_group(str(store), mode="r")
        for clip_id in clip_groups(root):
            clips += 1
            frames += int(root[clip_id]["frames"].shape[0])
    return clips, frames


def rule_times(results: Path) -> dict[str, float]:
    """Summed wall seconds per rule from the ``benchmark:`` files under ``results/benchmarks``."""
    totals: dict[str, float] = defaultdict(float)
    for path in (results / "benchmarks").rglob("*.tsv"):
        relative = path.relative_to(results / "benchmarks")
        rule = relative.parts[0] if len(relative.parts) > 1 else relative.stem
        with path.open() as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                totals[rule] += float(row["s"])
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--clips-per-identity", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clips-per-shard", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=1, help="timed runs; the median is printed too")
    parser.add_argument("--models-dir", default=str(REPO_ROOT / "models"))
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--keep", action="store_true", help="keep the working folder")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-preprocess-"))
    workdir.mkdir(parents=True, exist_ok=True)
    config = {
        "results": "results",
        "models": {"dir": str(Path(args.models_dir).resolve())},
        "demo": {"out_dir": "demo", "clips_per_identity": args.clips_per_identity, "seconds": args.seconds},
        "manifest": {"clips_per_shard": args.clips_per_shard},
        "audio": {"deepspeech": {"mode": "none"}},
    }
    (workdir / "bench.yaml").write_text(yaml.safe_dump(config))
    try:
        snakemake(workdir, args.cores, "demo/splits.csv")
        results = workdir / "results"
        walls = []
        for _ in range(args.repeat):
            shutil.rmtree(results, ignore_errors=True)
            os.sync()
            start = time.perf_counter()
            snakemake(workdir, args.cores, "preprocess")
            walls.append(time.perf_counter() - start)
            clips, frames = decoded_frames(results)
            print(f"{clips} clips, {frames} decoded frames, {args.cores} cores, wall {walls[-1]:.1f} s")
            print(f"preprocess: {frames / walls[-1]:.1f} frames/s, {frames / (walls[-1] * args.cores):.1f} frames/s per core")
        if args.repeat > 1:
            wall = statistics.median(walls)
            print(f"median of {args.repeat}: wall {wall:.1f} s, {frames / (wall * args.cores):.1f} frames/s per core")
        print("job time per rule, last run:")
        for rule, seconds in rule_times(results).items():
            print(f"  {rule:20s} {seconds:8.1f} s job time  {frames / seconds:9.1f} frames/s per job-second")
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
