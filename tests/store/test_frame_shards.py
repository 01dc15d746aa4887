import numpy as np
import pytest
import zarr
from zarr.codecs import GzipCodec, ZstdCodec

from headgan_prep.store.frame_shards import ShardedFrames, read_frames, write_frames
from headgan_prep.ingest.shard import FRAME_CODEC
from headgan_prep.store.zarr_direct import local_path

EVERY_CHUNK = {"array.write_empty_chunks": True}


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
    settings = dict(EVERY_CHUNK, **{"array.write_empty_chunks": write_empty})
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


@pytest.mark.parametrize("compressor", [FRAME_CODEC, ZstdCodec(level=0, checksum=False), None], ids=["lz4", "zstd", "raw"])
def test_written_frames_read_back_through_zarr_and_repeat_byte_for_byte(tmp_path, compressor):
    data = frames(n=5)
    for name in ("a", "b"):
        write_frames(local_path(zarr.open_group(str(tmp_path / f"{name}.zarr"), mode="w")), "frames", data, compressor)
    array = zarr.open_array(str(tmp_path / "a.zarr"), path="frames", mode="r")
    assert array.chunks == (1, 16, 16, 3) and array.shards == (5, 16, 16, 3)
    np.testing.assert_array_equal(array[...], data)
    np.testing.assert_array_equal(array[2:4], data[2:4])
    np.testing.assert_array_equal(read_frames(array), data)
    shard = "frames/c/0/0/0/0"
    assert (tmp_path / "a.zarr" / shard).read_bytes() == (tmp_path / "b.zarr" / shard).read_bytes()


def test_other_compressors_are_refused(tmp_path):
    with pytest.raises(ValueError, match="blosc, zstd or no compressor"):
        write_frames(local_path(zarr.open_group(str(tmp_path / "a.zarr"), mode="w")), "frames", frames(), GzipCodec())


@pytest.mark.parametrize("compressor", [FRAME_CODEC, ZstdCodec(level=0, checksum=False), None], ids=["lz4", "zstd", "raw"])
def test_written_files_are_those_zarr_writes(tmp_path, compressor):
    data = frames(n=6)
    write_frames(local_path(zarr.open_group(str(tmp_path / "ours.zarr"), mode="w")), "frames", data, compressor, fill_value=3)
    theirs = zarr.open_group(str(tmp_path / "theirs.zarr"), mode="w")
    with zarr.config.set(EVERY_CHUNK):  # every chunk stored, as write_frames does
        array = theirs.create_array(
            "frames", shape=data.shape, dtype=np.uint8, chunks=(1, 16, 16, 3), shards=data.shape,
            compressors=compressor, fill_value=3,
        )
        array[...] = data
    for name in ("frames/zarr.json", "frames/c/0/0/0/0"):
        assert (tmp_path / "ours.zarr" / name).read_bytes() == (tmp_path / "theirs.zarr" / name).read_bytes(), name
