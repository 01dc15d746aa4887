import pickle

import numpy as np
import pytest
import torch
import zarr
from tests.stores import SIZE, write_results
from torch.utils.data import DataLoader

from headgan_model.train.data import SelfReenactmentDataset, TrainingSampler, normalize_batch
from headgan_prep.dataset.index import build_index, write_index
from headgan_prep.dataset.reader import DatasetReaderError, nmfc_window

CLIPS = {"train-0000": {"id1+a+1": 5, "id2+b+1": 9}, "train-0001": {"id1+c+1": 2}}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    results = tmp_path_factory.mktemp("data") / "results"
    write_results(results, CLIPS)
    index, _ = build_index(results, "train")
    write_index(index, results / "dataset/train.json")
    return results


def stored(results, stage, clip_id, name):
    shard = next(s for s, clips in CLIPS.items() if clip_id in clips)
    return zarr.open_group(str(results / stage / f"{shard}.zarr"), mode="r")[clip_id][name][...]


def test_a_sample_holds_the_stored_arrays_of_its_frame_and_reference(results):
    dataset = SelfReenactmentDataset(results / "dataset/train.json")
    clip = [c["clip_id"] for c in dataset.reader.clips].index("id2+b+1")
    sample = dataset[(clip, 6, 1)]
    nmfc = stored(results, "nmfc", "id2+b+1", "nmfc")
    frames = stored(results, "crops", "id2+b+1", "frames")
    assert sample["nmfc"].shape == (9, SIZE, SIZE) and sample["nmfc"].dtype == torch.float32
    for position, t in enumerate((4, 5, 6)):  # oldest first: x_{t-2}, x_{t-1}, x_t
        expected = torch.from_numpy(nmfc[t].transpose(2, 0, 1) / 255.0).float()
        torch.testing.assert_close(sample["nmfc"][3 * position : 3 * position + 3], expected)
    torch.testing.assert_close(sample["image"], torch.from_numpy(frames[6].transpose(2, 0, 1) / 127.5 - 1).float())
    torch.testing.assert_close(sample["ref_image"], torch.from_numpy(frames[1].transpose(2, 0, 1) / 127.5 - 1).float())
    torch.testing.assert_close(sample["ref_nmfc"], torch.from_numpy(nmfc[1].transpose(2, 0, 1) / 255.0).float())
    np.testing.assert_array_equal(sample["audio"].numpy(), stored(results, "audio", "id2+b+1", "features")[6])
    np.testing.assert_array_equal(sample["mouth_box"].numpy(), stored(results, "landmarks", "id2+b+1", "mouth_box")[6])
    assert (int(sample["clip"]), int(sample["frame"]), int(sample["reference"])) == (clip, 6, 1)
    assert sample["image"].min() >= -1 and sample["image"].max() <= 1
    assert sample["nmfc"].min() >= 0 and sample["nmfc"].max() <= 1


def test_past_nmfc_images_repeat_the_first_frame_at_the_clip_start(results):
    np.testing.assert_array_equal(nmfc_window(np.array([0, 1, 5]), 2), [[0, 0, 0], [0, 0, 1], [3, 4, 5]])
    dataset = SelfReenactmentDataset(results / "dataset/train.json", as_uint8=True)
    sample = dataset[(0, 1, 0)]
    nmfc = stored(results, "nmfc", dataset.reader.clips[0]["clip_id"], "nmfc")
    stacked = sample["nmfc"].numpy().reshape(3, 3, SIZE, SIZE).transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(stacked, nmfc[[0, 0, 1]])


def test_int_keys_walk_every_frame_in_index_order_with_the_middle_frame_as_reference(results):
    dataset = SelfReenactmentDataset(results / "dataset/train.json")
    assert len(dataset) == 5 + 9 + 2
    keys = [(int(s["clip"]), int(s["frame"]), int(s["reference"])) for s in (dataset[i] for i in range(len(dataset)))]
    lengths = dataset.n_frames
    assert keys == [(c, t, int(lengths[c]) // 2) for c in range(3) for t in range(lengths[c])]
    with pytest.raises(IndexError):
        dataset[len(dataset)]
    with pytest.raises(IndexError):
        dataset[(0, 0, int(lengths[0]))]


def test_sequence_mode_returns_consecutive_frames_and_skips_short_clips(results):
    dataset = SelfReenactmentDataset(results / "dataset/train.json", sequence_length=4)
    by_id = {c["clip_id"]: i for i, c in enumerate(dataset.reader.clips)}
    assert len(dataset) == (5 - 3) + (9 - 3)  # id1+c+1 has 2 frames
    sample = dataset[(by_id["id2+b+1"], 3, 8)]
    assert sample["nmfc"].shape == (4, 9, SIZE, SIZE) and sample["image"].shape == (4, 3, SIZE, SIZE)
    assert sample["audio"].shape == (4, 300) and sample["mouth_box"].shape == (4, 4)
    assert sample["ref_image"].shape == (3, SIZE, SIZE)
    assert sample["frame"].tolist() == [3, 4, 5, 6]
    features = stored(results, "audio", "id2+b+1", "features")
    np.testing.assert_array_equal(sample["audio"].numpy(), features[3:7])
    # the current NMFC image of frame i of the sequence is the previous image of frame i + 1
    torch.testing.assert_close(sample["nmfc"][:-1, 6:9], sample["nmfc"][1:, 3:6])
    sampler = TrainingSampler(dataset, batch_size=4, seed=1)
    drawn = {dataset.reader.clips[c]["clip_id"] for c, _, _ in (sampler.key(d) for d in range(20))}
    assert drawn == {"id1+a+1", "id2+b+1"}


def test_the_sampler_is_a_function_of_seed_and_step(results):
    dataset = SelfReenactmentDataset(results / "dataset/train.json")

    def draws(seed, start_step, n, **kw):
        stream = iter(TrainingSampler(dataset, batch_size=3, seed=seed, start_step=start_step, **kw))
        return [next(stream) for _ in range(n)]

    run = draws(7, 0, 30)
    assert run == draws(7, 0, 30)
    assert run != draws(8, 0, 30)
    assert draws(7, 4, 18) == run[12:]  # resuming at step 4 continues the same stream
    # every clip once per epoch of 3 draws; starts and references inside the clip
    for epoch in range(10):
        assert sorted(c for c, _, _ in run[3 * epoch : 3 * epoch + 3]) == [0, 1, 2]
    assert all(0 <= t < dataset.n_frames[c] and 0 <= r < dataset.n_frames[c] for c, t, r in run)
    # two ranks draw disjoint parts of the one stream
    rank0, rank1 = draws(7, 0, 6, rank=0, world_size=2), draws(7, 0, 6, rank=1, world_size=2)
    assert rank0[:3] == run[:3] and rank1[:3] == run[3:6] and rank0[3:] == run[6:9]


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_dataloader_workers_open_their_own_stores(results, context):
    dataset = SelfReenactmentDataset(results / "dataset/train.json", as_uint8=True)
    dataset[0]  # the parent has open handles before the workers start
    sampler = TrainingSampler(dataset, batch_size=4, seed=3)
    loader = DataLoader(dataset, batch_size=4, sampler=sampler, num_workers=2, multiprocessing_context=context)
    batches = [batch for batch, _ in zip(loader, range(3))]
    stream = iter(sampler)
    for batch in batches:
        keys = [next(stream) for _ in range(4)]
        expected = normalize_batch(torch.utils.data.default_collate([dataset[k] for k in keys]))
        got = normalize_batch(batch)
        assert got["image"].dtype == torch.float32 and batch["image"].dtype == torch.uint8
        for name in ("nmfc", "image", "ref_image", "ref_nmfc", "audio", "mouth_box", "clip", "frame"):
            torch.testing.assert_close(got[name], expected[name])


def test_a_reader_pickles_without_its_open_stores(results):
    dataset = SelfReenactmentDataset(results / "dataset/train.json")
    dataset[0]
    copy = pickle.loads(pickle.dumps(dataset))
    assert copy.reader._open == {} and len(dataset.reader._open) > 0
    torch.testing.assert_close(copy[3]["image"], dataset[3]["image"])


def test_a_missing_or_stale_index_is_a_clear_error(results, tmp_path):
    with pytest.raises(DatasetReaderError, match="dataset index missing"):
        SelfReenactmentDataset(tmp_path / "dataset/train.json")
    (tmp_path / "bad.json").write_text('{"schema": "other"}')
    with pytest.raises(DatasetReaderError, match="schema"):
        SelfReenactmentDataset(tmp_path / "bad.json")
    index, _ = build_index(results, "train")
    index["clips"][0]["clip_id"] = "id9+gone+1"
    stale = results / "dataset/stale.json"
    write_index(index, stale)
    with pytest.raises(DatasetReaderError, match="id9\\+gone\\+1.*rerun"):
        SelfReenactmentDataset(stale)[0]
