"""A run on stand-ins (learned 3DMM, zero DeepSpeech columns) says so: log, checkpoints, generator.pt, TensorBoard."""

import logging

import pytest
import torch
import zarr
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tests.stores import write_results
from tests.training import SMALL_TRAINING

from headgan_model.train.settings import TrainSettings
from headgan_model.train.standins import find_stand_ins
from headgan_model.train.trainer import checkpoints, train
from headgan_prep.dataset.index import build_index, write_index
from headgan_prep.dataset.reader import DatasetReader

pytestmark = pytest.mark.usefixtures("single_torch_thread")
SHARDS = {"train-0000": {"id1+a+1": 6}, "train-0001": {"id2+b+1": 6}}


def make_index(results, fit_model, deepspeech_mode):
    write_results(results, SHARDS, size=32)
    for shard in SHARDS:
        zarr.open_group(str(results / "fit" / f"{shard}.zarr"), mode="a").attrs["model"] = fit_model[shard]
        audio = zarr.open_group(str(results / "audio" / f"{shard}.zarr"), mode="a")
        audio.attrs["config"] = {"deepspeech": {"mode": deepspeech_mode}}
    path = results / "dataset/train.json"
    write_index(build_index(results, "train")[0], path)
    return path


def test_the_paper_inputs_have_no_stand_in(tmp_path):
    path = make_index(tmp_path / "results", {"train-0000": "lsfm.h5", "train-0001": "lsfm.h5"}, "logits")
    assert find_stand_ins(DatasetReader(path)) == []


def test_a_run_on_stand_ins_names_them_everywhere(tmp_path, caplog):
    path = make_index(tmp_path / "results", {"train-0000": "learned", "train-0001": "lsfm.h5"}, "none")
    expected = find_stand_ins(DatasetReader(path))
    assert len(expected) == 2
    assert "learned" in expected[0] and "1 of 2 fit stores" in expected[0]
    assert "DeepSpeech columns 84–299 all zero" in expected[1] and "2 of 2 audio stores" in expected[1]

    out = tmp_path / "run"
    with caplog.at_level(logging.WARNING, logger="headgan_model.train.trainer"):
        train(TrainSettings.from_dict(dict(SMALL_TRAINING, steps=2)), path, out, progress=False)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [w for w in warnings if "stand-in" in w] == [f"training on a stand-in: {s}" for s in expected]
    checkpoint = torch.load(checkpoints(out)[-1], weights_only=True)
    assert checkpoint["stand_ins"] == expected
    assert torch.load(out / "generator.pt", weights_only=True)["stand_ins"] == expected
    events = EventAccumulator(str(out / "tensorboard"), size_guidance={"tensors": 0}).Reload()
    (text,) = events.Tensors("run/stand_ins/text_summary")
    written = text.tensor_proto.string_val[0].decode()
    assert all(stand_in in written for stand_in in expected)
