"""SLURM memory and wall time per rule, from the `benchmark:` files of a finished `preprocess` run.

Per per-shard rule, the job seconds of every shard are fitted as ``start + frames × per_frame``
(least squares over the shards; frames of a shard from the dataset indexes), then scaled to a shard
of ``--clips-per-shard`` clips of ``--frames-per-clip`` frames and multiplied by ``--safety`` (slower
nodes, larger sources: 1280×720 decodes about twice as slow as the demo's 480×360). Memory is the
largest RSS seen times ``--safety`` plus the frames of the longest clip (``ingest.max_seconds``) that
the stage holds at once: the decoded source (``ingest.decode_max_side``, 16:9) for ingest, the
256×256 RGB crops for the others. learn_3dmm streams the training split's landmark stores
(``procrustes_iterations`` + 1 passes): its time is ``--train-clips`` (at most ``max_clips``, which it
samples) × ``frames_per_clip`` frames at
``--learn-frames-per-s`` (``benchmarks/bench_learn_3dmm.py``), times ``--safety``; its memory the
largest RSS times ``--safety`` plus what does not show on the demo: five (3M)² float64 matrices, three
3M float64 shapes per training identity (``--train-identities``), the points of the longest clip and
the clips kept between passes (``CLIP_CACHE_BYTES``).
Prints the ``set-resources`` block of workflow/profiles/slurm/config.v8+.yaml:

    snakemake --cores 2 preprocess                      # the demo; rules write results/benchmarks/
    python benchmarks/slurm_resources.py --results results
"""

import argparse
import csv
import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml

from headgan_prep.morphable.learn import CLIP_CACHE_BYTES

PER_SHARD_RULES = ("ingest", "landmarks", "fit", "render", "audio")
MIB = 2**20


def read_benchmark(path: Path) -> dict[str, float]:
    """The first row of a Snakemake benchmark TSV: s (wall seconds), max_rss (MiB), …"""
    with path.open() as handle:
        row = next(csv.DictReader(handle, delimiter="\t"))
    return {key: float(value) for key, value in row.items() if key != "h:m:s" and value not in ("", "NA")}


def shard_frames(results: Path) -> dict[str, int]:
    """Frames per shard over the clips that the dataset indexes list."""
    frames = defaultdict(int)
    for index in sorted((results / "dataset").glob("*.json")):
        for clip in json.loads(index.read_text())["clips"]:
            frames[clip["shard"]] += clip["n_frames"]
    return dict(frames)


def fit_time(points: list[tuple[int, float]]) -> tuple[float, float]:
    """``(start_s, per_frame_s)`` of seconds = start + frames × per_frame, both clipped at 0."""
    frames = np.array([p[0] for p in points], float)
    seconds = np.array([p[1] for p in points], float)
    if len(set(frames)) < 2:
        return 0.0, float(seconds.sum() / frames.sum())
    per_frame, start = np.polyfit(frames, seconds, 1)
    if per_frame <= 0:
        return 0.0, float(seconds.sum() / frames.sum())
    return max(float(start), 0.0), float(per_frame)


def round_up(value: float, step: int) -> int:
    return int(math.ceil(value / step) * step)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--config", type=Path, default=Path(__file__).resolve().parents[1] / "config.yaml")
    parser.add_argument("--clips-per-shard", type=int, default=128)
    parser.add_argument("--frames-per-clip", type=int, default=200, help="8 s at 25 fps, about VoxCeleb2's mean")
    parser.add_argument("--train-clips", type=int, default=1_100_000, help="training clips learn_3dmm is sized for (VoxCeleb2)")
    parser.add_argument("--train-identities", type=int, default=6_000, help="their identities (VoxCeleb2: 5,994)")
    parser.add_argument("--learn-frames-per-s", type=float, default=1_900.0, help="learn_3dmm's rate, bench_learn_3dmm.py")
    parser.add_argument("--safety", type=float, default=3.0)
    args = parser.parse_args()
    config = yaml.safe_load(args.config.read_text())
    ingest = config["ingest"]
    longest = int(ingest["max_seconds"] * ingest["fps"])
    side = ingest["decode_max_side"]
    held_bytes = {"ingest": longest * side * (side * 9 // 16) * 3}
    for rule in ("landmarks", "fit", "render", "audio"):
        held_bytes[rule] = longest * ingest["crop_size"] ** 2 * 3
    frames = shard_frames(args.results)
    target_frames = args.clips_per_shard * args.frames_per_clip
    resources, report = {}, {}
    for rule in PER_SHARD_RULES:
        rows = {p.stem: read_benchmark(p) for p in sorted((args.results / "benchmarks" / rule).glob("*.tsv"))}
        points = [(frames[shard], row["s"]) for shard, row in rows.items() if frames.get(shard)]
        if not points:
            raise SystemExit(f"no benchmark of rule {rule} in {args.results}/benchmarks/{rule}/")
        start, per_frame = fit_time(points)
        seconds = args.safety * (start + target_frames * per_frame)
        rss = max(row["max_rss"] for row in rows.values())
        resources[rule] = {
            "runtime": max(10, round_up(seconds / 60, 5)),
            "mem_mb": max(1000, round_up(args.safety * rss + held_bytes[rule] / MIB, 500)),
        }
        report[rule] = {"start_s": round(start, 2), "ms_per_frame": round(1000 * per_frame, 3), "max_rss_mb": rss}
    learn = read_benchmark(args.results / "benchmarks/learn_3dmm.tsv")
    dimension = 3 * (468 if config["landmarks"]["backend"] == "mediapipe" else 1103)
    held = 5 * dimension**2 * 8 + 3 * args.train_identities * dimension * 8 + longest * dimension * 12 + CLIP_CACHE_BYTES
    learned_clips = min(args.train_clips, config["morphable_model"]["max_clips"])
    learn_seconds = learned_clips * config["morphable_model"]["frames_per_clip"] / args.learn_frames_per_s
    resources["learn_3dmm"] = {
        "runtime": max(30, round_up(args.safety * max(learn["s"], learn_seconds) / 60, 30)),
        "mem_mb": round_up(args.safety * learn["max_rss"] + held / MIB, 1000),
    }
    print("# measured:", json.dumps(report))
    print(yaml.safe_dump({"set-resources": resources}, sort_keys=False), end="")


if __name__ == "__main__":
    main()
