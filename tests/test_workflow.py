"""The Snakemake workflow: lint, config validation, end-to-end runs and reruns of only what changed."""

import json
import re
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
import zarr
from tests.training import SMALL_TRAINING

from headgan_prep.cli import main
from headgan_prep.morphable.model import MorphableModel
from headgan_prep.store.rejections import read_rejections
from headgan_prep.store.shard_job import clip_groups

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = str(Path(sys.executable).parent)


def snakemake(workdir: Path, *args: str, config: dict | None = None, check: bool = True):
    """Run the repository's workflow in ``workdir``; returns the CompletedProcess."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO_ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        "2",
        *args,
    ]
    if config is not None:
        path = workdir / "test-config.yaml"
        path.write_text(yaml.safe_dump(config))
        cmd += ["--configfile", str(REPO_ROOT / "config.yaml"), str(path)]
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ["PATH"])
    result = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def tiny_config(tmp_path: Path, models_dir: Path, **dataset) -> dict:
    return {
        "results": "results",
        "models": {"dir": str(models_dir)},
        "demo": {
            "out_dir": "results/demo",
            "seconds": 1.2,  # 30 frames: ingest's min_frames is 25
            "frame_size": [320, 240],
            "face_size": 120,
            "clips_per_identity": 2,
        },
        "manifest": {"clips_per_shard": 2},
        "dataset": dataset or {"demo": True},
        "audio": {"deepspeech": {"mode": "none"}},
    }


@pytest.fixture(scope="module")
def workflow_models(tmp_path_factory, request):
    """The real detector and FaceMesh models (the workflow's default backends) in a models dir."""
    require_model = request.getfixturevalue("require_model")
    require_model("mediapipe/face_landmark.tflite")
    return require_model("mediapipe/face_detection_short_range.tflite").parents[1]


def test_lint_and_format_are_clean(tmp_path):
    result = snakemake(tmp_path, "--lint", config=tiny_config(tmp_path, tmp_path / "models"), check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Lints for" not in result.stdout + result.stderr
    fmt = subprocess.run(
        [os.path.join(BIN, "snakefmt"), "--check", "Snakefile", "workflow/rules"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


@pytest.mark.parametrize("profile", ["default", "slurm", "slurm-cpu"])
def test_profiles_plan_the_workflow(tmp_path, profile):
    config = tiny_config(tmp_path, tmp_path / "models")
    result = snakemake(
        tmp_path, "-n", "preprocess", "--profile", str(REPO_ROOT / "workflow/profiles" / profile), config=config
    )
    assert set(job_rules(result.stdout)) == {"make_demo", "manifest", "preprocess"}


@pytest.mark.parametrize(
    "override, message",
    [
        ({"ingest": {"detector": {"backend": "dlib"}}}, "dlib"),
        ({"manifest": {"clips_per_shard": 0}}, "clips_per_shard"),
        ({"dataset": {"demo": False}}, "root"),
        ({"ingest": {"unknown_key": 1}}, "unknown_key"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path, override, message):
    config = tiny_config(tmp_path, tmp_path / "models")
    for section, values in override.items():
        config[section] = {**config.get(section, {}), **values}
    result = snakemake(tmp_path, "-n", config=config, check=False)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr


def test_missing_unfetchable_model_names_the_file(tmp_path):
    config = tiny_config(tmp_path, tmp_path / "models")
    config["ingest"] = {"detector": {"backend": "insightface", "model": "det_10g.onnx"}}
    result = snakemake(tmp_path, "-n", config=config, check=False)
    assert result.returncode != 0
    assert "det_10g.onnx" in result.stdout + result.stderr


def test_missing_deepspeech_model_names_the_file(tmp_path):
    config = tiny_config(tmp_path, tmp_path / "models")
    config["audio"] = {"deepspeech": {"mode": "tokens"}}
    result = snakemake(tmp_path, "-n", config=config, check=False)
    assert result.returncode != 0
    assert "deepspeech-0.9.3-models.tflite" in result.stdout + result.stderr


@pytest.mark.parametrize("target", ["evaluate", "all"])
def test_evaluate_and_all_are_planned(tmp_path, target):
    config = tiny_config(tmp_path, tmp_path / "models")
    config["train"] = {"vgg": {"enabled": False}}
    result = snakemake(tmp_path, "-n", target, config=config)
    assert {"make_demo", "manifest", target} <= set(job_rules(result.stdout))


def dag_edges(dot: str) -> set[tuple[str, str]]:
    """(upstream rule, downstream rule) pairs of a `snakemake --dag` picture."""
    labels = dict(re.findall(r'^\s*(\d+)\[label = "([a-z_0-9]+)', dot, re.M))
    return {(labels[a], labels[b]) for a, b in re.findall(r"^\s*(\d+) -> (\d+)", dot, re.M)}


def test_stage_waves_hold_each_stage_until_the_one_before_is_done_for_every_shard(tmp_path):
    root = tmp_path / "videos"
    for i in range(12):
        (root / f"id{i // 4:05d}" / "yt").mkdir(parents=True, exist_ok=True)
        (root / f"id{i // 4:05d}" / "yt" / f"{i:05d}.mp4").touch()
    models = tmp_path / "models"
    for relative in ("mediapipe/face_detection_short_range.tflite", "mediapipe/face_landmark.tflite"):
        (models / relative).parent.mkdir(parents=True, exist_ok=True)
        (models / relative).touch()
    config = tiny_config(tmp_path, models, demo=False, root=str(root), split_csv=None)
    snakemake(tmp_path, "manifest", config=config)
    n_shards = len((tmp_path / "results/manifest_shards.tsv").read_text().splitlines()) - 1
    assert n_shards == 8  # 12 clips / 2 per shard → the next power of two
    wave_edges = {
        ("ingest", "stage_wave"), ("stage_wave", "landmarks"), ("stage_wave", "audio"),
        ("landmarks", "stage_wave"), ("stage_wave", "fit"), ("fit", "stage_wave"), ("stage_wave", "render"),
    }
    for waves in (False, True):
        config["scheduling"] = {"stage_waves": waves}
        edges = dag_edges(snakemake(tmp_path, "--dag", "dot", "preprocess", config=config).stdout)
        assert ("ingest", "landmarks") in edges and ("fit", "render") in edges
        assert wave_edges - edges == (set() if waves else wave_edges)
        planned = job_rules(snakemake(tmp_path, "-n", "preprocess", config=config).stdout)
        assert planned.count("stage_wave") == (3 if waves else 0) and planned.count("ingest") == n_shards


def test_missing_vgg_weights_stop_train_only_and_name_the_file(tmp_path):
    config = tiny_config(tmp_path, tmp_path / "models")
    config["train"] = {"vgg": {"enabled": True}}
    result = snakemake(tmp_path, "-n", "train", config=config, check=False)
    assert result.returncode != 0
    assert "vgg19-dcbbe1ae.pth" in result.stdout + result.stderr
    assert "download.pytorch.org" in result.stdout + result.stderr
    assert snakemake(tmp_path, "-n", "preprocess", config=config).returncode == 0


TINY_TRAINING = {**SMALL_TRAINING, "steps": 2, "workers": 1, "checkpoint_every": 1, "mouth_size": 64}
"""Training settings whose steps take about a second at 256² on a CPU."""


def store_stamps(results: Path) -> dict[str, int]:
    """mtime (ns) of every shard store: a store that was rewritten gets a new one."""
    return {p.name: p.stat().st_mtime_ns for p in sorted((results / "crops").glob("*.zarr"))}


def test_demo_end_to_end_and_rerun_only_what_changed(tmp_path, workflow_models):
    # 1. the default path: demo data generated by the workflow, then the preprocess target
    config = tiny_config(tmp_path, workflow_models)
    snakemake(tmp_path, "preprocess", config=config)
    results = tmp_path / "results"
    manifest = (results / "manifest.tsv").read_text().splitlines()
    shards = sorted({row.split("\t")[4] for row in manifest[1:]})
    assert len(manifest) - 1 == len(list((results / "demo/videos").rglob("*.mp4")))
    assert store_stamps(results).keys() == {f"{s}.zarr" for s in shards}
    assert any(s.startswith("test-") for s in shards) and any(s.startswith("train-") for s in shards)
    for shard in shards:
        store = zarr.open_group(results / f"crops/{shard}.zarr", mode="r")
        assert store.attrs["shard"] == shard
        assert (results / f"benchmarks/ingest/{shard}.tsv").is_file()
        assert (results / f"rejected/ingest/{shard}.tsv").read_text().startswith("clip_id\t")
        features = zarr.open_group(results / f"audio/{shard}.zarr", mode="r")
        assert clip_groups(features) == clip_groups(store)
        assert (results / f"benchmarks/audio/{shard}.tsv").is_file()
        landmarks = zarr.open_group(results / f"landmarks/{shard}.zarr", mode="r")
        assert clip_groups(landmarks) == clip_groups(store) and landmarks.attrs["shard"] == shard
        assert (results / f"benchmarks/landmarks/{shard}.tsv").is_file()
        fits = zarr.open_group(results / f"fit/{shard}.zarr", mode="r")
        rejected = {row.clip_id for row in read_rejections(results / f"rejected/fit/{shard}.tsv")}
        assert sorted(clip_groups(fits) + sorted(rejected)) == sorted(clip_groups(landmarks))
        assert fits.attrs["shard"] == shard and fits.attrs["model"] and fits.attrs["solver"] == "pinv"
        for clip_id in clip_groups(fits):
            clip = fits[clip_id]
            assert clip["camera"].shape == (clip.attrs["n_frames"], 7) and clip["valid"][...].any()
        assert (results / f"benchmarks/fit/{shard}.tsv").is_file()
        nmfc = zarr.open_group(results / f"nmfc/{shard}.zarr", mode="r")
        assert clip_groups(nmfc) == clip_groups(fits) and nmfc.attrs["shard"] == shard
        for clip_id in clip_groups(nmfc):
            assert nmfc[clip_id]["nmfc"].shape == (fits[clip_id].attrs["n_frames"], 256, 256, 3)
            assert nmfc[clip_id]["nmfc"][0].any() or not fits[clip_id]["valid"][0]
        assert (results / f"benchmarks/render/{shard}.tsv").is_file()
    assert {p.name for p in (results / "preview/landmarks").iterdir()} == {"test.png", "train.png"}
    assert {p.name for p in (results / "preview/nmfc").iterdir()} == {"test.png", "train.png"}
    assert {p.name for p in (results / "preview/expression").iterdir()} == {"test.png", "train.png"}
    assert {p.name for p in (results / "preview/dataset").iterdir()} == {"test.png", "train.png"}
    for split in ("train", "test"):
        assert json.loads((results / f"dataset/{split}.json").read_text())["n_clips"] >= 1
    assert main(["check", "--results", str(results)]) == 0
    assert "Nothing to be done" in snakemake(tmp_path, "-n", "preprocess", config=config).stdout

    # training on the demo's training split; more steps continue the run from its newest checkpoint
    config["train"] = dict(TINY_TRAINING)
    snakemake(tmp_path, "train", config=config)
    run = results / "train/headgan"
    assert {"generator.pt", "samples.png", "loss_curves.png", "losses.tsv"} <= {p.name for p in run.iterdir()}
    assert any((run / "tensorboard").iterdir())
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-00000001.pt", "step-00000002.pt"]
    config["train"]["steps"] = 3
    snakemake(tmp_path, "train", config=config)
    assert "resumed" in (results / "logs/train/headgan.log").read_text()
    assert (run / "checkpoints/step-00000003.pt").is_file()
    assert len((run / "losses.tsv").read_text().splitlines()) == 1 + 3
    # the official code's recipe and the landmark ablation train on the demo as well
    variants = {
        "official": {"preset": "official", "flow_mask": {"target": "nmfc"}},
        "landmarks": {"generator": {**TINY_TRAINING["generator"], "condition": "landmarks"}},
    }
    for name, variant in variants.items():
        config["train"] = {**TINY_TRAINING, "run": name, **variant}
        snakemake(tmp_path, "train", config=config)
        run = results / "train" / name
        assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-00000001.pt", "step-00000002.pt"]
        assert (run / "samples.png").is_file() and sorted(p.name for p in (run / "samples").iterdir())
        settings = json.loads(json.dumps(torch.load(run / "generator.pt", weights_only=True)["generator_config"]))
        assert settings["flow_mask"] == (name == "official") and settings["condition"] == name.replace("official", "nmfc")

    # 2. the same data as a user dataset: editing one clip re-runs its shard only
    data = tmp_path / "data"
    shutil.copytree(results / "demo/videos", data / "videos")
    shutil.copy(results / "demo/splits.csv", data / "splits.csv")
    user = tiny_config(
        tmp_path, workflow_models, demo=False, root=str(data / "videos"), split_csv=str(data / "splits.csv")
    )
    user["results"] = "user-results"
    snakemake(tmp_path, "preprocess", config=user)
    results = tmp_path / "user-results"
    before = store_stamps(results)
    assert len(before) >= 3
    assert "Nothing to be done" in snakemake(tmp_path, "-n", "preprocess", config=user).stdout

    rows = [row.split("\t") for row in (results / "manifest.tsv").read_text().splitlines()[1:]]
    clip_path, shard = rows[0][3], rows[0][4]
    other = next(r[3] for r in rows if r[4] != shard)
    shutil.copy(data / "videos" / other, data / "videos" / clip_path)
    snakemake(tmp_path, "preprocess", config=user)
    after = store_stamps(results)
    assert {name for name in before if before[name] != after[name]} == {f"{shard}.zarr"}

    # 3. a detection parameter re-runs every ingest job, not the manifest
    user["ingest"] = {"detector": {"score_threshold": 0.55}}
    dry = snakemake(tmp_path, "-n", "preprocess", config=user).stdout
    assert "manifest" not in job_rules(dry)
    assert job_rules(dry).count("ingest") == len(after)

    # 4. a landmark parameter re-runs the landmark jobs, their previews, the 3DMM and the fits only
    user["ingest"] = {}
    user["landmarks"] = {"smoothing": "savgol"}
    dry = snakemake(tmp_path, "-n", "preprocess", config=user).stdout
    assert sorted(set(job_rules(dry))) == [
        "dataset",
        "fit",
        "landmarks",
        "learn_3dmm",
        "preprocess",
        "preview_dataset",
        "preview_expression",
        "preview_landmarks",
        "preview_nmfc",
        "render",
    ]
    assert job_rules(dry).count("landmarks") == len(after)

    # 5. a fit parameter re-runs the fit jobs and what is rendered from them only
    user["landmarks"] = {}
    user["fit"] = {"solver": "bounded"}
    dry = snakemake(tmp_path, "-n", "preprocess", config=user).stdout
    assert sorted(set(job_rules(dry))) == [
        "dataset", "fit", "preprocess", "preview_dataset", "preview_expression", "preview_nmfc", "render"
    ]
    assert job_rules(dry).count("fit") == len(after)

    # 6. a render parameter re-runs the render jobs and their previews only
    user["fit"] = {}
    user["render"] = {"colouring": "vertex"}
    dry = snakemake(tmp_path, "-n", "preprocess", config=user).stdout
    assert sorted(set(job_rules(dry))) == [
        "dataset", "preprocess", "preview_dataset", "preview_expression", "preview_nmfc", "render"
    ]
    assert job_rules(dry).count("render") == len(after)


def test_learned_3dmm_from_the_demo_landmarks(tmp_path, workflow_models):
    config = tiny_config(tmp_path, workflow_models)
    snakemake(tmp_path, "results/3dmm/learned.h5", config=config)
    model = MorphableModel.load(tmp_path / "results/3dmm/learned.h5")
    assert (model.n_vertices, len(model.triangles), model.n_exp) == (468, 852, 28)
    assert 1 <= model.n_id < 80 and (tmp_path / "results/benchmarks/learn_3dmm.tsv").is_file()
    # model axes: y up (forehead above chin), z towards the viewer (nose tip in front of the cheeks)
    forehead, chin, nose_tip, cheek = model.mean[[10, 152, 1, 234]]
    assert forehead[1] > chin[1] and nose_tip[2] > cheek[2]
    a, b, c = (model.mean[model.triangles[:, i], :2] for i in range(3))
    facing = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]) > 0
    assert facing.mean() > 0.85  # counter-clockwise seen from the front, but where the face turns away

    config["morphable_model"] = {"n_exp": 10}
    assert job_rules(snakemake(tmp_path, "-n", "results/3dmm/learned.h5", config=config).stdout) == ["learn_3dmm"]


def job_rules(dry_run_output: str) -> list[str]:
    """Rule names of the jobs a dry run lists (one entry per job)."""
    return [
        line.split()[1].rstrip(":") for line in dry_run_output.splitlines() if line.startswith(("rule ", "checkpoint "))
    ]


@pytest.mark.slow
@pytest.mark.parametrize(
    "clips, config, limit_s",
    [(150_000, [], 60), (1_100_000, ["--config", str(REPO_ROOT / "configs/voxceleb2.yaml")], 120)],
    ids=["150k", "voxceleb2-1.1M"],
)
def test_dry_run_of_a_voxceleb_sized_dataset_is_fast(tmp_path, clips, config, limit_s):
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks/bench_dag.py"), "--clips", str(clips), "--workdir", str(tmp_path),
         *config, "--profile", str(REPO_ROOT / "workflow/profiles/slurm")],
        capture_output=True,
        text=True,
        env=dict(os.environ, PATH=BIN + os.pathsep + os.environ["PATH"]),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    timing = json.loads(result.stdout.strip().splitlines()[-1])
    assert timing["ingest_jobs"] == 2048
    assert timing["dry_run_s"] < limit_s
    assert timing["sbatch_calls"] <= 30
