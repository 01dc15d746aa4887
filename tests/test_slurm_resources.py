"""benchmarks/slurm_resources.py: SLURM time and memory per rule from the `benchmark:` files of a run."""

import json
import subprocess
import sys
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def write_benchmark(path: Path, seconds: float, rss_mb: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{seconds}\t0:00:00\t{rss_mb}\t0\t0\t0\t0\t0\t0\t0\n")


def test_times_scale_with_the_frames_of_a_shard_and_memory_with_the_longest_clip(tmp_path):
    results = tmp_path / "results"
    frames = {"train-0000": 400, "test-0000": 100}
    (results / "dataset").mkdir(parents=True)
    for split in ("train", "test"):
        clips = [{"shard": shard, "n_frames": n} for shard, n in frames.items() if shard.startswith(split)]
        (results / f"dataset/{split}.json").write_text(json.dumps({"clips": clips}))
    for rule in ("ingest", "landmarks", "fit", "render", "audio"):
        per_frame = 0.01 if rule == "ingest" else 0.001  # s; start 2 s
        for shard, n in frames.items():
            write_benchmark(results / f"benchmarks/{rule}/{shard}.tsv", 2 + n * per_frame, 100)
    write_benchmark(results / "benchmarks/learn_3dmm.tsv", 1200, 100)

    def sized(*learn_options):
        result = subprocess.run(
            [sys.executable, str(REPO_ROOT / "benchmarks/slurm_resources.py"), "--results", str(results),
             "--clips-per-shard", "100", "--frames-per-clip", "300", "--safety", "2", *learn_options],
            capture_output=True, text=True, check=True,
        )
        return yaml.safe_load(result.stdout)["set-resources"]

    resources = sized("--train-clips", "1000")
    # ingest: 2 × (2 s + 30,000 frames × 10 ms) = 604 s → 15 min (steps of 5)
    assert resources["ingest"]["runtime"] == 15
    assert resources["landmarks"]["runtime"] == 10  # 64 s, below the 10-minute floor
    # ingest holds a 60 s clip decoded at 640×360: 1500 × 691,200 B = 989 MiB, + 2 × 100 MB
    assert resources["ingest"]["mem_mb"] == 1500
    assert resources["render"]["mem_mb"] == 1000  # 1500 crops of 256² = 281 MiB + 200 MB
    assert resources["learn_3dmm"]["runtime"] == 60  # 2 × 1200 s (more than 1000 clips take) in steps of 30 min
    # 2 × 100 MB + five 1404² float64 matrices (75 MiB), 3 × 1404 float64 per identity (6,000: 193 MiB)
    # a 60 s clip of 468 points (24 MiB) and 256 MiB of clips kept between passes: 748 MiB, in steps of 1000
    assert resources["learn_3dmm"]["mem_mb"] == 1000
    # 114,000 clips are sampled to max_clips = 20,000: × 50 frames at 190 frames/s = 5263 s, × 2 = 176 min;
    # 60,000 identities: 1928 MiB more (2676 MiB)
    learn = sized("--train-clips", "114000", "--learn-frames-per-s", "190", "--train-identities", "60000")["learn_3dmm"]
    assert learn == {"runtime": 180, "mem_mb": 3000}
    # 10,000 clips (fewer than max_clips) × 50 frames at 190 frames/s = 2632 s, × 2 = 88 min
    assert sized("--train-clips", "10000", "--learn-frames-per-s", "190")["learn_3dmm"]["runtime"] == 90
