"""Crop preview grid: layout and invalid-frame borders."""

import numpy as np

from headgan_prep.ingest.preview import crop_grid
from tests.stores import crop_store, grey_clip


def test_crop_grid_layout_and_invalid_border(tmp_path):
    store = crop_store(tmp_path / "a.zarr", {"c1": grey_clip(10, 100, invalid=[9]), "c2": grey_clip(3, 200)})
    grid = crop_grid([store], frames_per_clip=4, tile=32)
    assert grid.shape == (2 * 32, 4 * 32, 3)
    first_row, second_row = grid[:32], grid[32:]
    last_tile = first_row[:, 96:]
    np.testing.assert_array_equal(last_tile[16, 0], [255, 0, 0])  # frame 9 is invalid: red border
    np.testing.assert_array_equal(first_row[16, 64], [100, 100, 100])  # a valid tile keeps its grey
    assert (second_row[:, 96:] == 0).all()  # a 3-frame clip fills 3 tiles, the 4th stays black
    assert crop_grid([store], max_clips=1, tile=32).shape[0] == 32
