"""A small results folder for the applications: stores of two splits whose fits are faces of a
synthetic 3DMM seen through plausible cameras (NMFC images rendered from them), and tiny generators
trained on it for a few steps."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import zarr
from tests.face_3dmm import bumpy_head
from tests.stores import replace_array, write_results
from tests.training import SMALL_TRAINING

from headgan_model.train.settings import TrainSettings
from headgan_model.train.trainer import train
from headgan_prep.dataset.index import build_index, write_index
from headgan_prep.fit.camera import FRONTAL_ROTATION
from headgan_prep.fit.rotation import euler_to_matrix, matrix_to_quaternion
from headgan_prep.render.renderer import RenderConfig
from headgan_prep.render.shard import render_shard

SIZE = 32
"""Side of the test crops and NMFC images."""
SHARDS = {
    "train-0000": {"id1+a+1": 12, "id2+b+1": 9},
    "test-0000": {"id3+c+1": 10, "id4+d+1": 8},
    "test-0001": {"id5+e+1": 7},
}
SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class AppsResults:
    """Paths of the test results folder."""

    results: Path
    model: Path
    generator: Path
    audio_free_generator: Path

    @property
    def test_index(self) -> Path:
        return self.results / "dataset/test.json"


def face_fit(n_frames: int, n_id: int, n_exp: int, seed: int) -> dict[str, np.ndarray]:
    """Fit arrays of a face filling a SIZE² crop: small head turns, expressions, moving cameras."""
    rng = np.random.default_rng(seed)
    euler = np.c_[rng.uniform(-15, 15, n_frames), rng.uniform(-25, 25, n_frames), rng.uniform(-10, 10, n_frames)]
    rotation = FRONTAL_ROTATION @ euler_to_matrix(euler)
    scale = rng.uniform(0.1, 0.12, n_frames)
    translation = SIZE / 2 + rng.uniform(-2, 2, (n_frames, 2))
    camera = np.c_[scale, matrix_to_quaternion(rotation), translation].astype(np.float32)
    return {
        "identity": (rng.normal(size=n_id) * 5).astype(np.float32),
        "expression": (rng.normal(size=(n_frames, n_exp)) * 5).astype(np.float32),
        "camera": camera,
        "euler": euler.astype(np.float32),
    }


@pytest.fixture(scope="session")
def apps_results(tmp_path_factory) -> AppsResults:
    results = tmp_path_factory.mktemp("apps") / "results"
    write_results(results, SHARDS, size=SIZE)
    model = bumpy_head()
    model_path = results / "3dmm/learned.h5"
    model_path.parent.mkdir(parents=True)
    model.save(model_path)
    for seed, (shard, clips) in enumerate(SHARDS.items()):
        crops = zarr.open_group(str(results / f"crops/{shard}.zarr"), mode="a")
        for k, (clip_id, n_frames) in enumerate(sorted(clips.items())):
            crops[clip_id].attrs.update({"sample_rate": SAMPLE_RATE, "has_audio": True})
            for name, values in face_fit(n_frames, model.n_id, model.n_exp, 10 * seed + k).items():
                replace_array(results, "fit", shard, clip_id, name, values)
        render_shard(results / f"fit/{shard}.zarr", model_path, results / f"nmfc/{shard}.zarr", RenderConfig(), size=SIZE)
    for split in ("train", "test"):
        write_index(build_index(results, split)[0], results / f"dataset/{split}.json")
    generators = {}
    for name, use_audio in (("audio", True), ("silent", False)):
        values = {**SMALL_TRAINING, "steps": 2, "run": name, "generator": {**SMALL_TRAINING["generator"], "use_audio": use_audio}}
        out = results / "train" / name
        train(TrainSettings.from_dict(values), results / "dataset/train.json", out, progress=False)
        generators[name] = out / "generator.pt"
    return AppsResults(results, model_path, generators["audio"], generators["silent"])
