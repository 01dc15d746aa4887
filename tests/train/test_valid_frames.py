"""Training samples hold frames valid in every stage only, and never the target as reference."""

import functools
import logging

import numpy as np
import pytest
import zarr
from tests.stores import replace_array, write_results

from headgan_model.train.data import SelfReenactmentDataset, TrainingSampler
from headgan_prep.dataset.index import build_index, write_index
from headgan_prep.dataset.reader import nmfc_window

SHARD = "train-0000"
INVALID = {  # clip: {stage: invalid frames}
    "id1+a+1": {"crops": [3], "landmarks": [7], "fit": [0], "nmfc": [9]},
    "id2+b+1": {"fit": [1, 2, 5, 6], "nmfc": [8]},
    "id3+c+1": {"landmarks": [0, 1, 2, 4], "nmfc": [3]},  # 5 frames, none left for a sample
    "id4+d+1": {},  # 3 frames: no reference besides a 3-frame sample
    "id5+e+1": {"crops": [9]},
}
N_FRAMES = {"id1+a+1": 10, "id2+b+1": 12, "id3+c+1": 5, "id4+d+1": 3, "id5+e+1": 10}
USABLE = {  # by hand: t and the NMFC window t-2 … t (clamped at 0) valid
    None: {"id1+a+1": {6}, "id2+b+1": {0, 11}, "id4+d+1": {0, 1, 2}, "id5+e+1": {0, 1, 2, 3, 4, 5, 6, 7, 8}},
    3: {"id5+e+1": {0, 1, 2, 3, 4, 5, 6}},
}


def write_index_with_invalid_frames(results, invalid, n_frames):
    write_results(results, {SHARD: n_frames})
    for clip_id, stages in invalid.items():
        for stage, frames in stages.items():
            valid = np.ones(n_frames[clip_id], bool)
            valid[frames] = False
            replace_array(results, stage, SHARD, clip_id, "valid", valid)
    index, _ = build_index(results, "train")
    write_index(index, results / "dataset/train.json")
    return results / "dataset/train.json"


@pytest.fixture(scope="module")
def index_path(tmp_path_factory):
    return write_index_with_invalid_frames(tmp_path_factory.mktemp("valid") / "results", INVALID, N_FRAMES)


@functools.cache
def stored_valid(index_path, clip_id):
    """Frames valid in every stage, read from the stores themselves."""
    results = index_path.parent.parent
    flags = [
        zarr.open_group(str(results / stage / f"{SHARD}.zarr"), mode="r")[clip_id]["valid"][...]
        for stage in ("crops", "landmarks", "fit", "nmfc")
    ]
    return np.logical_and.reduce(flags)


@pytest.mark.parametrize("length", [None, 3])
def test_no_sample_holds_an_invalid_frame_or_its_target_as_reference(index_path, length):
    dataset = SelfReenactmentDataset(index_path, sequence_length=length)
    ids = [c["clip_id"] for c in dataset.reader.clips]
    sampler = TrainingSampler(dataset, batch_size=4, seed=5)
    keys = [sampler.key(d) for d in range(400)]
    for clip, start, reference in keys:
        valid = stored_valid(index_path, ids[clip])
        frames = np.arange(start, start + dataset.length)
        assert valid[nmfc_window(frames, dataset.past)].all() and valid[frames].all(), (ids[clip], start)
        assert valid[reference] and reference not in frames, (ids[clip], start, reference)
    # what is left is still drawn: every usable start of the clips with a sample to give
    drawn = {}
    for clip, start, _ in keys:
        drawn.setdefault(ids[clip], set()).add(start)
    assert drawn == USABLE[length]
    sample = dataset[keys[0]]
    assert int(sample["reference"]) == keys[0][2]


def test_usable_starts_need_the_whole_nmfc_window_valid():
    from headgan_prep.dataset.reader import usable_starts

    valid = np.array([1, 1, 0, 1, 1, 1, 1, 0, 1], bool)
    np.testing.assert_array_equal(usable_starts(valid, 1, 2), [0, 1, 5, 6])
    np.testing.assert_array_equal(usable_starts(valid, 2, 2), [0, 5])
    np.testing.assert_array_equal(usable_starts(valid, 1, 0), [0, 1, 3, 4, 5, 6, 8])
    assert usable_starts(valid[:1], 2, 2).size == 0
    # frame 0 invalid: the clamped window of frames 1 and 2 reads it
    np.testing.assert_array_equal(usable_starts(np.array([0, 1, 1, 1, 1], bool), 1, 2), [3, 4])


def test_clips_without_enough_valid_frames_are_skipped_with_a_count(index_path, caplog):
    dataset = SelfReenactmentDataset(index_path)
    with caplog.at_level(logging.WARNING, logger="headgan_model.train.data"):
        sampler = TrainingSampler(dataset, batch_size=2)
    assert "1 of 5 clips skipped" in caplog.text
    ids = [c["clip_id"] for c in dataset.reader.clips]
    assert sorted(ids[c] for c in sampler.clips) == ["id1+a+1", "id2+b+1", "id4+d+1", "id5+e+1"]


def test_an_index_without_a_usable_clip_is_a_clear_error(tmp_path):
    invalid = {"id1+a+1": {"nmfc": [0, 2]}, "id2+b+1": {"crops": [0]}}
    index_path = write_index_with_invalid_frames(tmp_path / "results", invalid, {"id1+a+1": 3, "id2+b+1": 1})
    dataset = SelfReenactmentDataset(index_path)
    with pytest.raises(ValueError, match="no clip of .*train.json has 1 consecutive frames.*valid in every stage"):
        TrainingSampler(dataset, batch_size=2)


def test_the_sample_grids_show_valid_frames_only(index_path, tmp_path):
    from tests.training import SMALL_TRAINING

    from headgan_model.train.settings import TrainSettings
    from headgan_model.train.trainer import Trainer

    trainer = Trainer(TrainSettings.from_dict({**SMALL_TRAINING, "sample_rows": 4}), index_path, tmp_path / "run")
    ids = [c["clip_id"] for c in trainer.dataset.reader.clips]
    keys = trainer.sample_keys()
    assert len(keys) == 4
    for clip, frame, reference in keys:
        valid = stored_valid(index_path, ids[clip])
        assert valid[nmfc_window(np.array([frame]), 2)].all() and valid[reference] and reference != frame
    assert keys[0] == (ids.index("id1+a+1"), 6, 5)  # frame 6 the only usable one; 5 is nearest the middle
