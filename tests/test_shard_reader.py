import numpy as np
import pytest
import zarr

from headgan_prep.ingest import FRAME_CODEC, ZARR_WRITE_SETTINGS
from headgan_prep.shard_reader import ShardedFrames


def frames(n=7, size=16, seed=0):
    out = np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    out[3] = 0  # the fill value: a chunk zarr may leave unwritten
    return out


@pytest.mark.parametrize(
    "codec, write_empty",
    [(FRAME_CODEC, True), ("auto", False), (None, False)],
    ids=["crops: blosc-lz4, every chunk", "nmfc: zstd, empty chunks skipped", "uncompressed"],
)
def test_direct_reads_equal_zarr_reads(tmp_path, codec, write_empty):
    data = frames()
    settings = dict(ZARR_WRITE_SETTINGS, **{"array.write_empty_chunks": write_empty})
    with zarr.config.set(settings):
        kwargs = {} if codec == "auto" else {"compressors": codec}
        array = zarr.create_array(
            str(tmp_path / "a.zarr"), shape=data.shape, dtype=np.uint8, chunks=(1, 16, 16, 3), shards=data.shape, **kwargs
        )
        array[...] = data
    reader = ShardedFrames.open(zarr.open_array(str(tmp_path / "a.zarr"), mode="r"))
    assert reader is not None and len(reader) == 7
    np.testing.assert_array_equal(reader[0:7], data)
    for start, stop in [(2, 5), (3, 4), (6, 7), (5, 5)]:
        np.testing.assert_array_equal(reader[start:stop], data[start:stop])


def test_an_array_never_written_reads_as_its_fill_value(tmp_path):
    array = zarr.create_array(
        str(tmp_path / "a.zarr"), shape=(4, 8, 8, 3), dtype=np.uint8, chunks=(1, 8, 8, 3), shards=(4, 8, 8, 3), fill_value=7
    )
    reader = ShardedFrames.open(zarr.open_array(str(tmp_path / "a.zarr"), mode="r"))
    assert (reader[1:3] == 7).all() and reader[1:3].shape == (2, 8, 8, 3)
    del array


@pytest.mark.parametrize(
    "layout",
    [
        {"chunks": (1, 8, 8, 3)},  # not sharded
        {"chunks": (2, 8, 8, 3), "shards": (4, 8, 8, 3)},  # two frames per chunk
        {"chunks": (1, 8, 8, 3), "shards": (2, 8, 8, 3)},  # two shards
    ],
)
def test_other_layouts_are_left_to_zarr(tmp_path, layout):
    zarr.create_array(str(tmp_path / "a.zarr"), shape=(4, 8, 8, 3), dtype=np.uint8, **layout)
    assert ShardedFrames.open(zarr.open_array(str(tmp_path / "a.zarr"), mode="r")) is None
