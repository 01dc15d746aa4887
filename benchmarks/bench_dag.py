"""Time a dry run of `preprocess` over a generated VoxCeleb-sized dataset (empty clip files).

Creates N empty clips in VoxCeleb layout under --workdir, runs the manifest checkpoint for real,
then times `snakemake -n preprocess` and prints a JSON line:
{"clips": N, "ingest_jobs": J, "manifest_s": ..., "dry_run_s": ...}.

    python benchmarks/bench_dag.py --clips 150000 --workdir /tmp/dag
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]


def make_empty_dataset(root: Path, n_clips: int) -> None:
    """``n_clips`` empty files as {identity}/{youtube_id}/{clip}.mp4 (25 clips per identity)."""
    for i in range(n_clips):
        folder = root / f"id{i // 25:05d}" / f"yt{(i // 5) % 5:09d}"
        if i % 5 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i % 5:05d}.mp4").touch()


def snakemake(workdir: Path, config: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO_ROOT / "Snakefile"), "--directory",
           str(workdir), "--cores", "1", *args, "--configfile", str(REPO_ROOT / "config.yaml"), str(config)]
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=150_000)
    parser.add_argument("--workdir", type=Path, required=True)
    args = parser.parse_args()
    workdir = args.workdir.resolve()
    root = workdir / "videos"
    make_empty_dataset(root, args.clips)
    model = workdir / "models/mediapipe/face_detection_short_range.tflite"
    model.parent.mkdir(parents=True, exist_ok=True)
    model.touch()
    config = workdir / "bench-config.yaml"
    config.write_text(yaml.safe_dump({"dataset": {"demo": False, "root": str(root)},
                                      "models": {"dir": str(workdir / "models")}}))
    start = time.perf_counter()
    snakemake(workdir, config, "manifest")
    manifest_s = time.perf_counter() - start
    start = time.perf_counter()
    dry = snakemake(workdir, config, "preprocess", "-n", "--quiet", "rules")
    dry_run_s = time.perf_counter() - start
    jobs = dict(
        line.split()[:2] for line in dry.stdout.splitlines() if line.strip().startswith(("ingest", "preprocess"))
    )
    print(json.dumps({"clips": args.clips, "ingest_jobs": int(jobs.get("ingest", 0)),
                      "manifest_s": round(manifest_s, 2), "dry_run_s": round(dry_run_s, 2)}))


if __name__ == "__main__":
    main()
