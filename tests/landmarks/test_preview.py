"""Landmark preview grid: points and mouth box drawn."""

import numpy as np
import zarr

from headgan_prep.landmarks.preview import landmark_grid
from tests.stores import crop_store, grey_clip


def test_landmark_grid_draws_points_and_mouth_box(tmp_path):
    crops = crop_store(tmp_path / "c" / "s.zarr", {"c1": grey_clip(2, 50)})
    marks = zarr.open_group(str(tmp_path / "l" / "s.zarr"), mode="w").create_group("c1")
    marks.create_array("points", data=np.tile(np.array([[[10.0, 20.0, 0.0]]], np.float32), (2, 1, 1)))
    marks.create_array("ibug68", data=np.tile(np.array([[[40.0, 40.0, 0.0]]], np.float32), (2, 1, 1)))
    marks.create_array("mouth_box", data=np.tile(np.array([[8.0, 48.0, 24.0, 60.0]], np.float32), (2, 1)))
    marks.create_array("valid", data=np.ones(2, bool))
    grid = landmark_grid([crops], [tmp_path / "l" / "s.zarr"], frames_per_clip=2, tile=64)
    tile = grid[:, 64:]
    np.testing.assert_array_equal(tile[20, 10], [0, 255, 0])
    np.testing.assert_array_equal(tile[40, 40], [255, 0, 0])
    np.testing.assert_array_equal(tile[54, 8], [0, 0, 255])
