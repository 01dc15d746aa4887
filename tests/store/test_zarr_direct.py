"""Direct Zarr writes: the files are those zarr writes, and zarr reads them back."""

from pathlib import Path

import numpy as np
import pytest
import zarr
from zarr.codecs import BloscCodec, ZstdCodec
from zarr.storage import MemoryStore

from headgan_prep.store.zarr_direct import DEFAULT_COMPRESSOR, create_group, local_path, write_array, write_clip_group

EVERY_CHUNK = {"array.write_empty_chunks": True}
"""zarr settings storing chunks equal to the fill value too, as the direct writes do."""
LZ4 = BloscCodec(cname="lz4", clevel=5, shuffle="noshuffle")


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def clip_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    points = rng.normal(size=(25, 468, 3)).astype(np.float32)
    points[3] = np.nan
    return {
        "points": points,
        "valid": rng.random(25) > 0.3,
        "frames": rng.integers(0, 256, (4, 8, 8, 3), dtype=np.uint8),
        "audio": np.zeros(0, np.float32),
        "zeros": np.zeros((25, 4), np.float64),
        "count": np.arange(25, dtype=np.int64),
        "scalar": np.array(2.5, np.float32),
    }


FILLS = {"points": np.nan, "valid": False, "frames": 0, "audio": 0.0, "zeros": 0.0, "count": -1, "scalar": np.inf}
ATTRIBUTES = {"clip_id": "id1+a+1", "n_frames": 25, "crop_box": [1.5, 2.0, 256.0], "nested": {"k": None}}


@pytest.mark.parametrize(
    "compressor, names",
    [
        (DEFAULT_COMPRESSOR, None),
        (ZstdCodec(level=3, checksum=True), None),
        (None, None),
        (LZ4, ["frames", "valid"]),
        (BloscCodec(cname="zstd", clevel=3), ["frames"]),  # shuffle left to zarr: bitshuffle
    ],
    ids=["zstd", "zstd-3-checksum", "raw", "blosc-lz4", "blosc-default-shuffle"],
)
def test_files_are_byte_identical_to_zarrs(tmp_path, compressor, names):
    arrays = {k: v for k, v in clip_arrays().items() if names is None or k in names}
    ours = zarr.open_group(str(tmp_path / "ours.zarr"), mode="w", zarr_format=3)
    folder = create_group(ours, "clip", ATTRIBUTES)
    for name, values in arrays.items():
        write_array(folder, name, values, FILLS[name], compressor)

    theirs = zarr.open_group(str(tmp_path / "theirs.zarr"), mode="w", zarr_format=3)
    group = theirs.create_group("clip", attributes=ATTRIBUTES)
    with zarr.config.set(EVERY_CHUNK):  # every chunk written, as ours
        for name, values in arrays.items():
            chunks = tuple(max(1, n) for n in values.shape)
            array = group.create_array(
                name, shape=values.shape, dtype=values.dtype, chunks=chunks, fill_value=FILLS[name], compressors=compressor
            )
            if values.size:
                array[...] = values
    ours_files, theirs_files = tree(tmp_path / "ours.zarr" / "clip"), tree(tmp_path / "theirs.zarr" / "clip")
    assert ours_files.keys() == theirs_files.keys() and len(ours_files) == 1 + 2 * len(arrays) - ("audio" in arrays)
    assert [name for name in ours_files if ours_files[name] != theirs_files[name]] == []


def test_zarr_reads_the_group_back(tmp_path):
    arrays = clip_arrays(seed=1)
    root = zarr.open_group(str(tmp_path / "s.zarr"), mode="w", zarr_format=3)
    folder = create_group(root, "clip", ATTRIBUTES)
    for name, values in arrays.items():
        write_array(folder, name, values, FILLS[name])
    write_clip_group(root, "defaults", {}, {"x": arrays["points"]})
    clip = zarr.open_group(str(tmp_path / "s.zarr"), mode="r")["clip"]
    assert dict(clip.attrs) == ATTRIBUTES
    assert sorted(clip.array_keys()) == sorted(arrays)
    for name, values in arrays.items():
        stored = clip[name]
        assert stored.dtype == values.dtype and stored.shape == values.shape
        np.testing.assert_array_equal(stored[...], values)
    assert np.isnan(clip["points"].fill_value) and clip["count"].fill_value == -1
    defaults = zarr.open_array(str(tmp_path / "s.zarr"), path="defaults/x", mode="r")
    np.testing.assert_array_equal(defaults[...], arrays["points"])
    assert defaults.fill_value == 0 and defaults.compressors == (DEFAULT_COMPRESSOR,)


def test_blosc_on_wider_types_is_refused(tmp_path):
    root = zarr.open_group(str(tmp_path / "s.zarr"), mode="w", zarr_format=3)
    with pytest.raises(ValueError, match="one-byte types only"):
        write_array(create_group(root, "clip", {}), "x", np.ones(3, np.float32), compressor=LZ4)


def test_a_group_is_never_overwritten_and_other_stores_are_refused(tmp_path):
    root = zarr.open_group(str(tmp_path / "s.zarr"), mode="w", zarr_format=3)
    write_clip_group(root, "clip", {}, {"x": np.ones(3)})
    with pytest.raises(FileExistsError):
        create_group(root, "clip", {})
    assert local_path(root["clip"]) == tmp_path / "s.zarr" / "clip"
    with pytest.raises(ValueError, match="local Zarr v3 store"):
        local_path(zarr.open_group(MemoryStore(), mode="w", zarr_format=3))
    with pytest.raises(ValueError, match="local Zarr v3 store"):
        local_path(zarr.open_group(str(tmp_path / "v2.zarr"), mode="w", zarr_format=2))
