"""Preview grids: layout, invalid-frame borders, drawing of landmarks."""

import numpy as np
import zarr

from headgan_prep.preview import crop_grid, landmark_grid, write_png


def crop_store(path, clips):
    root = zarr.open_group(str(path), mode="w")
    for clip_id, (frames, valid) in clips.items():
        group = root.create_group(clip_id)
        group.create_array("frames", data=frames)
        group.create_array("valid", data=valid)
    return path


def grey_clip(n, level, invalid=()):
    frames = np.full((n, 64, 64, 3), level, np.uint8)
    valid = np.ones(n, bool)
    valid[list(invalid)] = False
    return frames, valid


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


def test_empty_grid_and_png(tmp_path):
    grid = crop_grid([crop_store(tmp_path / "e.zarr", {})], tile=32)
    assert grid.shape == (32, 64, 3)
    write_png(grid, tmp_path / "out" / "g.png")
    assert (tmp_path / "out" / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_dataset_sample_grid_shows_each_sample_as_training_reads_it(tmp_path):
    import cv2
    from stores import write_results

    from headgan_prep.dataset_index import build_index, write_index
    from headgan_prep.dataset_reader import DatasetReader, read_sample
    from headgan_prep.preview import dataset_sample_grid

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
