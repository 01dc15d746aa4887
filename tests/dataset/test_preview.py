"""Dataset preview grid: each sample as training reads it."""

import cv2
import numpy as np

from headgan_prep.dataset.index import build_index, write_index
from headgan_prep.dataset.preview import dataset_sample_grid
from headgan_prep.dataset.reader import DatasetReader, read_sample
from tests.stores import write_results


def test_dataset_sample_grid_shows_each_sample_as_training_reads_it(tmp_path):
    results = tmp_path / "results"
    write_results(results, {"train-0000": {"id1+a+1": 40, "id2+b+1": 6}})
    write_index(build_index(results, "train")[0], results / "dataset/train.json")
    reader = DatasetReader(results / "dataset/train.json")
    grid = dataset_sample_grid(reader, n_samples=3, seed=5, tile=32)
    assert grid.shape == (3 * 32, 7 * 32, 3)
    rng = np.random.default_rng(5)  # the grid's draws, replayed
    for row in range(3):
        clip = int(rng.integers(len(reader)))
        t, reference = (int(v) for v in rng.integers(0, reader.n_frames[clip], 2))
        sample = read_sample(reader, clip, t, reference)
        tiles = grid[32 * row : 32 * row + 32].reshape(32, 7, 32, 3).transpose(1, 0, 2, 3)
        below_label = slice(20, 32)
        for tile, image in ((tiles[0], sample["ref_image"]), (tiles[1], sample["ref_nmfc"]), (tiles[5], sample["nmfc"][0, 2])):
            expected = cv2.resize(image, (32, 32), interpolation=cv2.INTER_AREA)
            np.testing.assert_array_equal(tile[below_label], expected[below_label])
        heat = tiles[6]
        assert (heat[below_label] == 255).all(axis=-1).any()  # frame t's white column
    empty = results / "dataset/empty.json"
    write_index(build_index(results, "test")[0], empty)
    assert dataset_sample_grid(DatasetReader(empty), tile=32).shape == (32, 64, 3)
