"""Time a dry run of `preprocess` over a generated VoxCeleb-sized dataset (empty clip files).

Creates N empty clips in VoxCeleb layout under --workdir, runs the manifest checkpoint for real,
then times `snakemake -n preprocess` and prints a JSON line:
{"clips": N, "ingest_jobs": J, "jobs": {rule: count}, "manifest_s": ..., "dry_run_s": ...}.
With --profile, the dry run goes through that profile, and the line adds "sbatch_calls": the sbatch
calls of the planned jobs when each rule's jobs are ready together (one wave): one per job, or one
per `slurm-array-limit` jobs of the rules in the profile's `slurm-array-jobs`.

    python benchmarks/bench_dag.py --clips 150000 --workdir /tmp/dag
    python benchmarks/bench_dag.py --clips 1100000 --workdir /tmp/dag2 --config configs/voxceleb2.yaml \
        --profile workflow/profiles/slurm
"""

import argparse
import json
import math
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


def snakemake(workdir: Path, configs: list[Path], *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO_ROOT / "Snakefile"), "--directory",
           str(workdir), "--cores", "1", *args, "--configfile", str(REPO_ROOT / "config.yaml"), *map(str, configs)]
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def sbatch_calls(jobs: dict[str, int], profile: Path) -> int:
    """sbatch calls of ``jobs`` (rule -> count) through ``profile`` when each rule's jobs are ready together."""
    settings = yaml.safe_load((profile / "config.v8+.yaml").read_text())
    array_rules = {rule.strip() for rule in settings.get("slurm-array-jobs", "").split(",") if rule.strip()}
    limit = int(settings.get("slurm-array-limit", 1000))
    local = {"models", "preprocess"}  # a local rule and the target (no job)
    return sum(
        math.ceil(count / limit) if rule in array_rules and count > 1 else count
        for rule, count in jobs.items()
        if rule not in local
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=150_000)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--config", type=Path, action="append", default=[],
                        help="config files merged over config.yaml (before the generated dataset's)")
    parser.add_argument("--profile", type=Path, help="dry-run through this profile (e.g. workflow/profiles/slurm)")
    args = parser.parse_args()
    workdir = args.workdir.resolve()
    root = workdir / "videos"
    make_empty_dataset(root, args.clips)
    model = workdir / "models/mediapipe/face_detection_short_range.tflite"
    model.parent.mkdir(parents=True, exist_ok=True)
    model.touch()
    config = workdir / "bench-config.yaml"
    config.write_text(yaml.safe_dump({"dataset": {"demo": False, "root": str(root), "split_csv": None},
                                      "models": {"dir": str(workdir / "models")},
                                      "audio": {"deepspeech": {"mode": "none"}}}))
    configs = [path.resolve() for path in args.config] + [config]
    start = time.perf_counter()
    snakemake(workdir, configs, "manifest")
    manifest_s = time.perf_counter() - start
    profile = ["--profile", str(args.profile.resolve())] if args.profile else []
    start = time.perf_counter()
    dry = snakemake(workdir, configs, "preprocess", "-n", "--quiet", "rules", *profile)
    dry_run_s = time.perf_counter() - start
    jobs = {}
    for line in dry.stdout.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[1].isdigit() and fields[0] != "total":
            jobs[fields[0]] = int(fields[1])
    result = {"clips": args.clips, "ingest_jobs": jobs.get("ingest", 0), "jobs": jobs,
              "manifest_s": round(manifest_s, 2), "dry_run_s": round(dry_run_s, 2)}
    if args.profile:
        result["sbatch_calls"] = sbatch_calls(jobs, args.profile)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
