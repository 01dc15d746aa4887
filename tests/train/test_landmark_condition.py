"""The landmark ablation: samples hold sketches of the stored 68 points, and the generator trains on them."""

import numpy as np
import pytest
import torch
import zarr
from tests.stores import write_results
from tests.training import SMALL_TRAINING

from headgan_model.train.data import SelfReenactmentDataset
from headgan_model.train.settings import TrainSettings
from headgan_model.train.trainer import Trainer
from headgan_prep.dataset.index import build_index, write_index
from headgan_prep.dataset.sketch import draw_sketch

pytestmark = pytest.mark.usefixtures("single_torch_thread")
SIZE = 32


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    results = tmp_path_factory.mktemp("sketch") / "results"
    write_results(results, {"train-0000": {"id1+a+1": 8, "id2+b+1": 6}}, size=SIZE)
    path = results / "dataset/train.json"
    write_index(build_index(results, "train")[0], path)
    return path


def test_landmark_samples_hold_the_sketches_of_the_stored_points(index):
    dataset = SelfReenactmentDataset(index, as_uint8=True, condition="landmarks")
    clip_id = dataset.reader.clips[0]["clip_id"]
    points = zarr.open_group(str(index.parent.parent / "landmarks/train-0000.zarr"), mode="r")[clip_id]["ibug68"][...]
    sample = dataset[(0, 1, 5)]
    stacked = sample["nmfc"].numpy().reshape(3, 3, SIZE, SIZE).transpose(0, 2, 3, 1)
    for position, t in enumerate((0, 0, 1)):  # x_{t-2}, x_{t-1}, x_t clamped at the clip's start
        np.testing.assert_array_equal(stacked[position], draw_sketch(points[t], SIZE))
    np.testing.assert_array_equal(sample["ref_nmfc"].numpy().transpose(1, 2, 0), draw_sketch(points[5], SIZE))
    nmfc = SelfReenactmentDataset(index, as_uint8=True)[(0, 1, 5)]
    torch.testing.assert_close(sample["image"], nmfc["image"])
    assert not torch.equal(sample["nmfc"], nmfc["nmfc"])


def test_the_landmark_conditioned_generator_trains_a_step(index, tmp_path):
    settings = TrainSettings.from_dict({**SMALL_TRAINING, "generator": {**SMALL_TRAINING["generator"], "condition": "landmarks"}})
    trainer = Trainer(settings, index, tmp_path / "run")
    assert trainer.dataset.condition == "landmarks"
    batch = next(iter(trainer.loader()))
    assert set(torch.unique(batch["nmfc"]).tolist()) <= {0, 255}
    before = [p.detach().clone() for p in trainer.networks["generator"].parameters()]
    for _ in range(2):
        losses = trainer.train_step(batch)
    changed = sum(not torch.equal(a, b) for a, b in zip(before, trainer.networks["generator"].parameters()))
    assert changed == len(before)
    assert all(np.isfinite(value) for value in losses.values())
    assert trainer.save_generator().is_file()
    assert torch.load(tmp_path / "run/generator.pt", weights_only=True)["generator_config"]["condition"] == "landmarks"
