"""Shared preview machinery: the empty grid and PNG writing."""

from headgan_prep.ingest.preview import crop_grid
from headgan_prep.preview import write_png
from tests.stores import crop_store


def test_empty_grid_and_png(tmp_path):
    grid = crop_grid([crop_store(tmp_path / "e.zarr", {})], tile=32)
    assert grid.shape == (32, 64, 3)
    write_png(grid, tmp_path / "out" / "g.png")
    assert (tmp_path / "out" / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
