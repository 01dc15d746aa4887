import json
import os
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

from headgan_prep.manifest import clips_by_shard, read_manifest
from headgan_prep.detect import detector_model_path
from headgan_prep.models import fetchable_models, resolve_model

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


def dataset_listing_digest():
    """Digest of the clip listing (paths, sizes, mtimes) under a user dataset root.

    A parameter of the manifest rule, so that adding, removing or replacing a clip re-runs the
    manifest; the per-shard jobs re-run only where their own clips changed.
    """
    if config["dataset"]["demo"]:
        return "demo"
    from headgan_prep.manifest import listing_digest

    return listing_digest(dataset_root(), tuple(config["dataset"]["extensions"]))


_MANIFEST_CACHE = {}


def manifest_shards():
    """Clips of the manifest, grouped by shard (evaluated after the manifest checkpoint).

    Read once per manifest version: input functions of every shard job call this.
    """
    manifest = checkpoints.manifest.get().output.tsv
    key = (manifest, os.stat(manifest).st_mtime_ns)
    if key not in _MANIFEST_CACHE:
        _MANIFEST_CACHE.clear()
        _MANIFEST_CACHE[key] = clips_by_shard(read_manifest(manifest))
    return _MANIFEST_CACHE[key]


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
