"""The SLURM profiles on a real cluster: `bash scripts/slurm-localhost.sh up`, then `pytest -m slurm`.

The runs go through the shipped profiles with one command-line setting for speed only: status
checks after 1 s instead of 40 s. sbatch is wrapped by a script that logs each call, so the tests
count the calls.
"""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from tests.training import SMALL_TRAINING

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = str(Path(sys.executable).parent)
PROFILES = REPO_ROOT / "workflow/profiles"
FAST = ["--slurm-init-seconds-before-status-checks", "1"]
TINY_TRAINING = {**SMALL_TRAINING, "steps": 2, "workers": 1, "checkpoint_every": 1, "mouth_size": 64}
"""Two training steps at 256² on a CPU (train_model asks SLURM for workers + 1 = 2 CPUs)."""

pytestmark = pytest.mark.slurm


@pytest.fixture(scope="module")
def cluster():
    """A SLURM cluster that answers, with the profiles' CPU partition `cpu` up."""
    try:
        result = subprocess.run(["sinfo", "-h", "-o", "%R %a"], capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        pytest.fail("sinfo not found: start a cluster with `bash scripts/slurm-localhost.sh up`")
    if result.returncode != 0 or "cpu up" not in result.stdout:
        pytest.fail(f"no SLURM partition `cpu` up (sinfo: {result.stdout} {result.stderr}); "
                    "start a cluster with `bash scripts/slurm-localhost.sh up`")


@pytest.fixture(scope="module")
def sbatch_log(tmp_path_factory):
    """(folder put first on PATH, log file): an `sbatch` there logs its arguments, then runs the real one."""
    real = subprocess.run(["which", "sbatch"], capture_output=True, text=True, check=True).stdout.strip()
    folder = tmp_path_factory.mktemp("sbatch-wrapper")
    log = folder / "sbatch.log"
    wrapper = folder / "sbatch"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {log}\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    return folder, log


def demo_config(models_dir: Path, **extra) -> dict:
    """The demo at test size: 12 clips of 1.2 s, 8 clips per shard (2 training shards, 1 test shard)."""
    return {
        "results": "results",
        "models": {"dir": str(models_dir)},
        "demo": {"out_dir": "results/demo", "seconds": 1.2, "frame_size": [320, 240], "face_size": 120},
        "manifest": {"clips_per_shard": 8},
        "audio": {"deepspeech": {"mode": "none"}},
        **extra,
    }


def snakemake(workdir: Path, *args: str, config: dict, path_prefix: Path | None = None, timeout: float = 600,
              background: bool = False):
    """Run the workflow in ``workdir`` (CompletedProcess, or the Popen with ``background``)."""
    path = workdir / "test-config.yaml"
    path.write_text(yaml.safe_dump(config))
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO_ROOT / "Snakefile"), "--directory", str(workdir),
           *args, "--configfile", str(REPO_ROOT / "config.yaml"), str(path)]
    prefix = [str(path_prefix)] if path_prefix else []
    env = dict(os.environ, PATH=os.pathsep.join([*prefix, BIN, os.environ["PATH"]]),
               PYTHONPATH=os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
    if background:
        return subprocess.Popen(cmd, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout)


def succeeded(result) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    return output


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory, cluster, require_model, sbatch_log):
    """The demo's preprocess run locally and through workflow/profiles/slurm, with the sbatch calls."""
    require_model("mediapipe/face_landmark.tflite")
    models = require_model("mediapipe/face_detection_short_range.tflite").parents[1]
    config = demo_config(models, scheduling={"stage_waves": True})  # as the VoxCeleb configs
    local = tmp_path_factory.mktemp("local")
    succeeded(snakemake(local, "--cores", "2", "preprocess", config=config))
    remote = tmp_path_factory.mktemp("slurm")
    folder, log = sbatch_log
    start = time.perf_counter()
    output = succeeded(snakemake(remote, "--profile", str(PROFILES / "slurm"), *FAST, "preprocess",
                                 config=config, path_prefix=folder))
    wall = time.perf_counter() - start
    calls = log.read_text().splitlines()
    log.unlink()
    jobs = int(re.findall(r"(\d+) of \d+ steps \(100%\) done", output)[-1]) - 1  # less the target rule
    print(f"\ndemo preprocess through SLURM: {wall:.0f} s, {jobs} jobs, {len(calls)} sbatch calls")
    return {"local": local, "remote": remote, "config": config, "calls": calls, "jobs": jobs, "output": output}


def result_files(results: Path) -> dict[str, Path]:
    """Every output file under ``results`` but the logs and benchmarks (which hold times)."""
    return {
        str(p.relative_to(results)): p
        for p in results.rglob("*")
        if p.is_file() and p.relative_to(results).parts[0] not in ("logs", "benchmarks")
    }


def test_preprocess_through_the_profile_equals_a_local_run(demo_runs):
    local = result_files(demo_runs["local"] / "results")
    remote = result_files(demo_runs["remote"] / "results")
    assert sorted(remote) == sorted(local)
    assert any(name.startswith("nmfc/train-0001.zarr/") for name in local)
    # the shard table's listing digests hold the demo videos' mtimes (each run made its own): shards and counts equal
    table = "manifest_shards.tsv"
    assert [row.split("\t")[:2] for row in local.pop(table).read_text().splitlines()] == [
        row.split("\t")[:2] for row in remote.pop(table).read_text().splitlines()
    ]
    for name, path in local.items():
        # the crop stores' attributes hold the absolute path of each source video
        expected = path.read_bytes().replace(str(demo_runs["local"]).encode(), str(demo_runs["remote"]).encode())
        assert remote[name].read_bytes() == expected, name


def test_shard_stages_go_to_slurm_as_job_arrays(demo_runs):
    calls = demo_runs["calls"]
    by_rule = {}
    for call in calls:
        rule = re.search(r"--comment '?rule_([a-z_0-9]+?)(?:_wildcards_|'| )", call).group(1)
        by_rule.setdefault(rule, []).append(call)
    # with stage waves each per-shard stage's 3 jobs are ready together: one sbatch call of 3 array tasks
    for rule in ("ingest", "landmarks", "audio", "fit", "render"):
        assert len(by_rule[rule]) == 1 and "--array=1-3" in by_rule[rule][0], (rule, by_rule.get(rule))
    assert "stage_wave" not in by_rule  # a local rule
    assert len(calls) < demo_runs["jobs"]
    # each rule's threads become --cpus-per-task; the per-rule memory and time of the profile apply
    assert "--cpus-per-task=1" in by_rule["landmarks"][0]
    assert " -t 35 " in by_rule["ingest"][0] and " -p cpu " in by_rule["ingest"][0]
    print({rule: len(rule_calls) for rule, rule_calls in sorted(by_rule.items())})


def running_job(comment_prefix: str, timeout: float) -> tuple[str, str]:
    """(job id, comment) of a RUNNING job whose comment starts with ``comment_prefix``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listing = subprocess.run(["squeue", "-h", "-t", "RUNNING", "-o", "%i|%k"], capture_output=True, text=True)
        for line in listing.stdout.splitlines():
            job_id, comment = line.split("|", 1)
            if comment.startswith(comment_prefix):
                return job_id, comment
        time.sleep(0.2)
    raise AssertionError(f"no running job of {comment_prefix} within {timeout} s")


def test_cancelled_job_fails_in_bounded_time_and_a_rerun_completes_what_is_missing(
    tmp_path, cluster, require_model
):
    models = require_model("mediapipe/face_detection_short_range.tflite").parents[1]
    config = demo_config(models)
    # latency-wait 10: the array tasks of a cancelled first task wait that long, then fail (see the profile)
    profile = ["--profile", str(PROFILES / "slurm"), *FAST, "--latency-wait", "10"]
    target = "results/preview/crops/train.png"  # the training shards' ingest jobs, and their preview
    run = snakemake(tmp_path, *profile, "--retries", "0", target, config=config, background=True)
    try:
        job_id, _ = running_job("rule_ingest", timeout=180)
        subprocess.run(["scancel", job_id], check=True)
        cancelled = time.monotonic()
        output, _ = run.communicate(timeout=240)
    finally:
        run.kill()
    stopped_after = time.monotonic() - cancelled
    assert run.returncode != 0
    assert f"SLURM-job '{job_id}' failed, SLURM status is: 'CANCELLED'" in output
    assert stopped_after < 120
    failed = set(re.findall(r"Error in rule ingest:.*?output: results/crops/([\w.]+-\d{4})\.zarr", output, re.S))
    crops = tmp_path / "results/crops"
    kept = {p.name: p.stat().st_mtime_ns for p in crops.glob("*.zarr")}
    assert failed and {f"{shard}.zarr" for shard in failed}.isdisjoint(kept)
    assert {f"{shard}.zarr" for shard in failed} | set(kept) == {"train-0000.zarr", "train-0001.zarr"}
    print(f"\ncancelled {job_id}; failed: {sorted(failed)}; the run stopped {stopped_after:.0f} s later")

    output = succeeded(snakemake(tmp_path, *profile, target, config=config))
    after = {p.name: p.stat().st_mtime_ns for p in crops.glob("*.zarr")}
    assert {name: after[name] for name in kept} == kept
    assert {f"{shard}.zarr" for shard in failed} <= set(after)
    assert len(re.findall(r"^rule ingest:", output, re.M)) == len(failed)
    assert (tmp_path / target).is_file()


def test_a_gpu_request_the_cluster_refuses_stops_the_run_with_sbatchs_message(demo_runs):
    # the shipped profile's training job on a cluster without GPUs (and without a partition `gpu`)
    config = {**demo_runs["config"], "train": TINY_TRAINING}
    start = time.perf_counter()
    result = snakemake(demo_runs["remote"], "--profile", str(PROFILES / "slurm"), *FAST, "train",
                       config=config, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "SLURM sbatch failed. The error message was 'sbatch: error: Invalid generic resource (gres)" in output
    assert " -p gpu " in output and "--gpus=1" in output  # the call is shown, naming the settings
    assert time.perf_counter() - start < 120


def test_tiny_training_through_the_cpu_profile(demo_runs, sbatch_log):
    folder, log = sbatch_log
    config = {**demo_runs["config"], "train": {**TINY_TRAINING, "device": "cpu"}}
    succeeded(snakemake(demo_runs["remote"], "--profile", str(PROFILES / "slurm-cpu"), *FAST, "train",
                        config=config, path_prefix=folder))
    (call,) = log.read_text().splitlines()
    assert " -p cpu " in call and "--gpus" not in call
    assert "--cpus-per-task=2" in call and "--mem 16000" in call
    run = demo_runs["remote"] / "results/train/headgan"
    assert (run / "generator.pt").is_file()
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-00000001.pt", "step-00000002.pt"]
