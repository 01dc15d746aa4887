"""The protocol of an evaluation: everything that changes a score, written next to the scores.

FID, FVD and their relatives move with clip and frame counts, resolution, crop, the generated
videos' codec and quality, the exact weights of every network and the implementations that run
them; :func:`build_protocol` collects all of these. It holds no time stamp and no timing, so the
same inputs give the same ``protocol.json``.
"""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

import zarr

from headgan_model.evaluate.scores import TaskScores
from headgan_model.evaluate.settings import EvaluateSettings
from headgan_prep.dataset.reader import DatasetReader
from headgan_prep.models.registry import sha256_of

SCHEMA = "headgan.eval.protocol/1"
PACKAGES = (
    "torch",
    "numpy",
    "scipy",
    "onnxruntime",
    "insightface",
    "opencv-python",
    "ai-edge-litert",
    "av",
    "headgan-pipeline",
)
"""Distributions whose versions the protocol records (``python`` is added)."""
ROOT_KEYS_LEFT_OUT = ("shard", "n_clips")
"""Store root attributes that differ from shard to shard and change no score."""


def versions() -> dict[str, str]:
    """Version of Python and of each of :data:`PACKAGES` (``not installed`` when absent)."""
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def file_entry(path: str | Path) -> dict:
    """``{"sha256", "bytes"}`` of a file, or ``{"missing": true}``."""
    path = Path(path)
    if not path.is_file():
        return {"missing": True}
    return {"sha256": sha256_of(path), "bytes": path.stat().st_size}


def store_attributes(index_path: Path) -> dict[str, list[dict]]:
    """Per stage, the distinct root attributes (settings) of the stores an index reads, shard and
    clip count left out; the crop store's give the crop (margin, size, detector, …)."""
    reader = DatasetReader(index_path)
    paths: dict[str, set[str]] = {}
    for entry in reader.clips:
        for stage, relative in entry["stores"].items():
            paths.setdefault(stage, set()).add(relative)
    found = {}
    for stage, relatives in sorted(paths.items()):
        distinct = {}
        for relative in sorted(relatives):
            attributes = dict(zarr.open_group(str(reader.results / relative), mode="r").attrs)
            attributes = {key: value for key, value in sorted(attributes.items()) if key not in ROOT_KEYS_LEFT_OUT}
            distinct.setdefault(repr(attributes), attributes)
        found[stage] = list(distinct.values())
    return found


def build_protocol(
    run: str,
    scores: dict[str, TaskScores],
    settings: EvaluateSettings,
    apps_settings: dict,
    index_path: Path,
    files: dict[str, Path],
) -> dict:
    """The protocol of one run's evaluation.

    Parameters
    ----------
    run : str
    scores : dict
        Task → its scores (their ``protocol`` and ``files``).
    settings : EvaluateSettings
    apps_settings : dict
        The ``apps:`` section the videos were generated with (video encoding, reference frames,
        pair seed, …).
    index_path : Path
        The test split's index (its stores' root attributes are recorded).
    files : dict
        Further files by name (generator, 3DMM), hashed like the weights.

    Returns
    -------
    dict
        ``schema, run, seed, tasks, resolution, video, stores, weights, versions, evaluate, apps``.
    """
    weights = {name: Path(path) for task in scores.values() for name, path in task.files.items()} | dict(files)
    formats = [item for task in scores.values() for item in task.protocol.get("video_formats", [])]
    return {
        "schema": SCHEMA,
        "run": run,
        "seed": {"evaluate": settings.seed, "reenact_pairs": apps_settings.get("reenact", {}).get("seed")},
        "tasks": {name: task.protocol for name, task in sorted(scores.items())},
        "resolution": sorted({f"{item['width']}x{item['height']}" for item in formats}),
        "video": {
            "apps.video": apps_settings.get("video", {}),
            "codecs": sorted({f"{item['codec']} {item['pix_fmt']}" for item in formats}),
        },
        "stores": store_attributes(index_path),
        "weights": {name: {"path": str(path), **file_entry(path)} for name, path in sorted(weights.items())},
        "versions": versions(),
        "evaluate": settings.to_dict(),
        "apps": apps_settings,
    }
