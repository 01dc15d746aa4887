# Shared workflow helpers: config validation, shard lists, model inputs (tests: tests/test_workflow.py, tests/test_config.py)
import json
import os
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

from headgan_prep.manifest.table import read_shard_table
from headgan_prep.ingest.detect import detector_model_path
from headgan_prep.landmarks.shard import LandmarksConfig
from headgan_prep.morphable.learn import FACEMESH_TESSELLATION_FILE
from headgan_prep.models.registry import fetchable_models, resolve_model
from headgan_prep.store.layout import STAGES

min_version("9.0")


validate(config, schema="../schemas/config.schema.yaml")

RESULTS = Path(config["results"])
MODELS_DIR = Path(config["models"]["dir"])


def dataset_root():
    """Folder holding the clips: the generated demo dataset or the user's root."""
    if config["dataset"]["demo"]:
        return Path(config["demo"]["out_dir"]) / "videos"
    return Path(config["dataset"]["root"])


def split_csv():
    """Split CSV (``filename,split``) or None."""
    if config["dataset"]["demo"]:
        return Path(config["demo"]["out_dir"]) / "splits.csv"
    csv = config["dataset"]["split_csv"]
    return Path(csv) if csv else None


def dataset_listing_digest(wildcards):
    """Digest of the clip listing (paths, sizes, mtimes) under a user dataset root.

    A parameter of the manifest rule, so that adding, removing or replacing a clip re-runs the
    manifest; the per-shard jobs re-run only where their own clips changed (:func:`shard_listing`).
    A function, so that only a run that plans the manifest job scans the root, not every job.
    """
    if config["dataset"]["demo"]:
        return "demo"
    from headgan_prep.manifest.table import listing_digest

    return listing_digest(dataset_root(), tuple(config["dataset"]["extensions"]))


_SHARD_TABLE_CACHE = {}


def manifest_shards():
    """Shard → (clip count, listing digest) from the manifest's shard table (after the checkpoint).

    Read once per manifest version: input functions of every shard job call this. The table has a
    row per shard, not per clip, so planning 1.1 M clips reads 2,048 rows.
    """
    table = checkpoints.manifest.get().output.shards
    key = (table, os.stat(table).st_mtime_ns)
    if key not in _SHARD_TABLE_CACHE:
        _SHARD_TABLE_CACHE.clear()
        _SHARD_TABLE_CACHE[key] = read_shard_table(table)
    return _SHARD_TABLE_CACHE[key]


def detector_model():
    """Model file (relative to the models dir) of the configured face detector."""
    detector = config["ingest"]["detector"]
    return detector_model_path(detector["backend"], detector["model"])


def model_input(relative):
    """Path of a model file under the models dir, as a rule input.

    Files the ``models`` rule can fetch are left to it; a missing file it cannot fetch is an error
    naming the file and where users get it.
    """
    if relative not in fetchable_models():
        resolve_model(MODELS_DIR, relative)
    return MODELS_DIR / relative


# Outputs of the `preprocess` target: each stage's .smk file adds its per-shard and per-split files.
#
# Scheduling: the chain ingest → landmarks → learn_3dmm → fit → render is the longest path of the
# DAG, and learn_3dmm waits for every training shard's landmarks. Its rules carry priorities (50 down
# to 10) so that free cores take them first; audio, the previews and the indexes (priority 0) fill
# the cores the chain leaves idle, e.g. while learn_3dmm runs alone.
PREPROCESS_PER_SHARD = []
PREPROCESS_PER_SPLIT = []


def preprocess_outputs(wildcards):
    """Every file of PREPROCESS_PER_SHARD for every shard and of PREPROCESS_PER_SPLIT for every split."""
    shards = sorted(manifest_shards())
    splits = sorted({shard.rsplit("-", 1)[0] for shard in shards})
    return expand(PREPROCESS_PER_SHARD, shard=shards) + expand(
        PREPROCESS_PER_SPLIT, split=splits
    )


WAVE_STAGES = ("crops", "landmarks", "fit")
"""Per-shard stores whose stage is a wave with `scheduling.stage_waves` (workflow/rules/waves.smk)."""


def stage_wave(stage):
    """With `scheduling.stage_waves`, the marker that every shard's `results/{stage}` store is done.

    An input of the next stage's shard jobs, marked ancient: it holds them back until the whole
    stage is done (so that they go to the cluster together), but its new mtime after one shard re-ran
    does not re-run the other shards' jobs.
    """
    if not config["scheduling"]["stage_waves"]:
        return []
    return ancient(RESULTS / f"waves/{stage}.done")


def stage_stores(wildcards):
    """Every shard's `results/{stage}/{shard}.zarr` (after the manifest checkpoint)."""
    return expand(
        RESULTS / f"{wildcards.stage}/{{shard}}.zarr", shard=sorted(manifest_shards())
    )


TRAIN_RUN = RESULTS / "train" / config["train"]["run"]


def vgg_weights_input(wildcards):
    """The VGG19 weights file as an input of training ([] when the perceptual loss is off); an input
    function, so that a missing file stops `train` only."""
    vgg = config["train"]["vgg"]
    if not vgg["enabled"]:
        return []
    if Path(vgg["weights"]).is_absolute():
        return vgg["weights"]
    return model_input(vgg["weights"])


def train_launcher():
    """`headgan-train`, or torchrun with one process per GPU when train.nproc > 1."""
    nproc = config["train"]["nproc"]
    if nproc == 1:
        return "headgan-train"
    return f"torchrun --standalone --nproc_per_node={nproc} -m headgan_model.cli"


def shard_listing(wildcards):
    """Digest of the shard's clips (ids, paths, sizes, mtimes): a parameter of ingest, so that the
    shard re-runs when one of its clips is added, removed or replaced, without its videos as inputs.
    """
    return manifest_shards()[wildcards.shard][1]


def split_shards(split):
    """The shards of one split, sorted (after the manifest checkpoint)."""
    return sorted(s for s in manifest_shards() if s.rsplit("-", 1)[0] == split)


def split_stage_stores(stage):
    """Input function: the `results/{stage}/{shard}.zarr` stores of every shard of the job's split."""
    return lambda wildcards: expand(
        RESULTS / f"{stage}/{{shard}}.zarr", shard=split_shards(wildcards.split)
    )


def split_stage_outputs(wildcards):
    """Stores and rejection logs of every stage for every shard of one split, by stage."""
    shards = split_shards(wildcards.split)
    outputs = {}
    for stage in STAGES:
        outputs[stage.name] = [stage.store(RESULTS, shard) for shard in shards]
        if stage.rejected is not None:
            outputs[f"rejected_{stage.rejected}"] = [
                stage.rejection_log(RESULTS, shard) for shard in shards
            ]
    return outputs


def train_landmark_stores(wildcards):
    """Landmark stores of every shard of the training split (a missing split is an error naming it)."""
    shards = split_shards("train")
    if not shards:
        raise WorkflowError(
            "learning the 3DMM (morphable_model.source: learned) needs clips in the 'train' split; "
            "the manifest has none"
        )
    return expand(RESULTS / "landmarks/{shard}.zarr", shard=shards)


def morphable_model_file():
    """The 3DMM file the fit uses: the learned model, or the configured file (checked to exist)."""
    settings = config["morphable_model"]
    if settings["source"] == "learned":
        return RESULTS / "3dmm/learned.h5"
    if not settings.get("file"):
        raise WorkflowError(
            "morphable_model.file must name a model file when source is 'file'"
        )
    path = Path(settings["file"])
    if not path.is_file():
        raise WorkflowError(
            f"morphable model file {path} (morphable_model.file) does not exist; convert LSFM or BFM "
            "with `headgan-prep convert-3dmm`, or set morphable_model.source: learned"
        )
    return path


def landmark_models():
    """Model files (relative to the models dir) of the landmarks stage: landmark model, face detector."""
    cfg = LandmarksConfig.from_dict(config["landmarks"])
    return [cfg.model_path, detector_model_path(cfg.backend, cfg.detector_model)]


def deepspeech_model():
    """The DeepSpeech model file and scorer as rule inputs (none when ``audio.deepspeech.mode`` is none)."""
    deepspeech = config["audio"]["deepspeech"]
    if deepspeech["mode"] == "none":
        return []
    scorer = deepspeech.get("scorer")
    return [model_input(deepspeech["model"])] + (
        [model_input(scorer)] if scorer else []
    )


def deepspeech_python():
    """The Python 3.9 interpreter of the ``deepspeech`` backend (rule deepspeech_python) as a rule
    input; none with backend litert or mode none."""
    deepspeech = config["audio"]["deepspeech"]
    if deepspeech["mode"] == "none" or deepspeech["backend"] != "deepspeech":
        return []
    return [RESULTS / "deepspeech/python"]


def deepspeech_python_arg():
    """``--deepspeech-python`` option of ``headgan-prep audio`` for :func:`deepspeech_python`."""
    return " ".join(f"--deepspeech-python {path}" for path in deepspeech_python())


def manifest_inputs(wildcards):
    """The demo dataset (when used) and the split CSV are inputs; a user root is tracked by digest."""
    inputs = {}
    if config["dataset"]["demo"]:
        inputs["videos"] = rules.make_demo.output.videos
    if split_csv() is not None:
        inputs["split_csv"] = split_csv()
    return inputs


# Applications (workflow/rules/apps.smk)
APPS_RUN = RESULTS / "apps" / config["train"]["run"]
APPS_SETTINGS = json.dumps(config.get("apps", {}), sort_keys=True)


def test_shards():
    """The test split's shards (after the manifest checkpoint)."""
    return split_shards("test")


def audio_free_generator():
    """The audio-free generator of frontalise and edit as an input ([] without one)."""
    path = config.get("apps", {}).get("audio_free_generator")
    return [path] if path else []


def test_shard_stores(wildcards):
    """Crop, NMFC, audio and fit stores of one test shard."""
    return [
        RESULTS / f"{stage}/{wildcards.shard}.zarr"
        for stage in ("crops", "nmfc", "audio", "fit")
    ]


def apps_outputs(wildcards):
    """Every application's outputs: reconstruction per test shard, the other tasks once."""
    return expand(
        [APPS_RUN / "reconstruct/{shard}", APPS_RUN / "frontalise/{shard}"],
        shard=test_shards(),
    ) + [
        APPS_RUN / "reenact/videos",
        APPS_RUN / "edit/grid.png",
        APPS_RUN / "compress/streams",
    ]


def all_split_stores(split):
    """Every stage's store of every shard of one split."""
    return [
        stage.store(RESULTS, shard) for shard in split_shards(split) for stage in STAGES
    ]


REENACT_SPLIT = config.get("apps", {}).get("reenact", {}).get("source_split", "test")
# Evaluation (workflow/rules/evaluate.smk)
EVAL_RUN = RESULTS / "eval" / config["train"]["run"]
EVALUATE = config.get("evaluate", {})
EVALUATE_SETTINGS = json.dumps(EVALUATE, sort_keys=True)
EVAL_TASKS = ("reconstruct", "reenact", "frontalise")


def metric_model_inputs(wildcards):
    """Model files of the metrics the ``models`` rule can fetch (LPIPS, I3D, MobileFaceNet, SCRFD),
    or that are present (SyncNet's); a missing file nobody can fetch is no input: its metric is reported missing.
    """
    from headgan_model.evaluate.settings import EvaluateSettings
    from headgan_model.metrics.i3d import I3D_CHECKPOINT
    from headgan_model.metrics.lpips import BACKBONES
    from headgan_prep.ingest.detect import detector_model_path

    settings = EvaluateSettings.from_dict(EVALUATE)
    backbone = BACKBONES[settings.lpips.net]
    wanted = [
        backbone.backbone_file,
        backbone.linear_file,
        I3D_CHECKPOINT,
        settings.csim.model,
        detector_model_path("insightface", settings.csim.detector),
        settings.syncnet.weights,
    ]
    fetchable = set(fetchable_models())
    return [
        MODELS_DIR / relative
        for relative in wanted
        if relative in fetchable or (MODELS_DIR / relative).is_file()
    ]


def head_pose_models(wildcards):
    """Landmark and detector files of ARD, ARE and AKD (those of the landmarks stage)."""
    return [model_input(relative) for relative in landmark_models()]


def other_run_metrics(wildcards):
    """metrics.json of the runs of ``evaluate.runs`` that have one (Table 3 says which have none)."""
    paths = [
        RESULTS / "eval" / run / "metrics.json"
        for run in EVALUATE.get("runs", [])
        if run != config["train"]["run"]
    ]
    return [path for path in paths if path.is_file()]


def evaluate_outputs(wildcards):
    """Every file of ``results/eval/{run}/``."""
    return [
        EVAL_RUN / name
        for name in (
            "metrics.json",
            "table1.md",
            "table2.md",
            "table3.md",
            "protocol.json",
        )
    ] + [EVAL_RUN / f"{task}.csv" for task in EVAL_TASKS]
