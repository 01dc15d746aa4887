"""Direct Zarr v3 writes: a clip's group in a stage store, its attributes and one-chunk arrays.

Every stage store holds one group per clip with a few arrays of one chunk each (points, boxes,
scores, fits, features). zarr-python spends 4–5 ms of CPU on each group or array it creates and
fills (event-loop round trips, existence checks, the codec pipeline), about 25 ms per clip and
stage, more than some stages spend on the clip's computation. This module writes the same files
itself: the ``zarr.json`` documents come from zarr's own metadata classes (so they are the
documents zarr writes), and an array's single chunk is its little-endian bytes run through the
compressor, which is what zarr's ``bytes`` codec followed by that compressor produce. The tests
check that the files are byte-identical to zarr's and that zarr reads them back.

Only what the stores use is handled: Zarr v3 on a local store, regular chunk grid, default chunk
keys (``c/0/0``), no dimension names, one chunk covering the array, and compressors ``zstd``,
``blosc`` (one-byte types) or none. :func:`array_document` also describes the sharded frame arrays of
:mod:`headgan_prep.store.frame_shards`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numcodecs
import numpy as np
import zarr
from zarr.codecs import BloscCodec, BytesCodec, Crc32cCodec, ShardingCodec, ZstdCodec
from zarr.core.buffer import default_buffer_prototype
from zarr.core.group import GroupMetadata
from zarr.core.metadata.v3 import ArrayV3Metadata
from zarr.storage import LocalStore

DEFAULT_COMPRESSOR = ZstdCodec(level=0, checksum=False)
"""zarr's default compressor of Zarr v3 arrays."""
METADATA_FILE = "zarr.json"


def local_path(group: zarr.Group) -> Path:
    """Folder of ``group`` in its local store.

    Raises
    ------
    ValueError
        The group is not in a local Zarr v3 store.
    """
    if not isinstance(group.store, LocalStore) or group.metadata.zarr_format != 3:
        raise ValueError(f"direct writes need a local Zarr v3 store, not {group.store}")
    return Path(group.store.root) / group.path


def _json_fill_value(value, dtype: np.dtype):
    """``value`` as the v3 metadata writes it for ``dtype`` (NaN and infinities as strings)."""
    if dtype.kind == "b":
        return bool(value)
    if dtype.kind in "iu":
        return int(value)
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _bytes_codec(dtype: np.dtype) -> BytesCodec:
    """The ``bytes`` codec zarr picks: little-endian, without an endianness for one-byte types."""
    return BytesCodec(endian=None if dtype.itemsize == 1 else "little")


def array_document(
    shape: tuple[int, ...],
    dtype,
    compressor: BloscCodec | ZstdCodec | None = DEFAULT_COMPRESSOR,
    fill_value=0,
    shard_chunks: tuple[int, ...] | None = None,
) -> bytes:
    """The ``zarr.json`` of an array stored as one chunk (or one shard) covering it.

    Parameters
    ----------
    shape : tuple of int
        Array shape; a zero-length dimension gets a chunk length of 1, as zarr requires.
    dtype : numpy dtype
    compressor : BloscCodec, ZstdCodec or None
    fill_value : scalar
    shard_chunks : tuple of int, optional
        Inner chunk shape: the array is then one shard of such chunks
        (:mod:`headgan_prep.store.frame_shards`), with the index at the end, checksummed.

    Returns
    -------
    bytes
        The document zarr's ``create_array`` writes for these settings.
    """
    dtype = np.dtype(dtype)
    encoder(compressor, dtype)  # refuses what is not handled
    chunk_shape = [max(1, n) for n in shape]
    codecs = [_bytes_codec(dtype)] + ([compressor] if compressor is not None else [])
    if shard_chunks is not None:
        index_codecs = [BytesCodec(endian="little"), Crc32cCodec()]
        codecs = [ShardingCodec(chunk_shape=shard_chunks, codecs=codecs, index_codecs=index_codecs)]
    document = {
        "shape": list(shape),
        "data_type": dtype.name,
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": chunk_shape}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": _json_fill_value(fill_value, dtype),
        "codecs": [codec.to_dict() for codec in codecs],
        "attributes": {},
        "zarr_format": 3,
        "node_type": "array",
        "storage_transformers": [],
    }
    metadata = ArrayV3Metadata.from_dict(json.loads(json.dumps(document)))
    return metadata.to_buffer_dict(default_buffer_prototype())[METADATA_FILE].to_bytes()


def chunk_key(ndim: int) -> str:
    """Key of the chunk at the origin, relative to the array folder (``c/0/0`` for 2-D)."""
    return "/".join(["c"] + ["0"] * ndim)


BLOSC_SHUFFLES = {
    "noshuffle": numcodecs.blosc.NOSHUFFLE,
    "shuffle": numcodecs.blosc.SHUFFLE,
    "bitshuffle": numcodecs.blosc.BITSHUFFLE,
}


def encoder(compressor: BloscCodec | ZstdCodec | None, dtype=np.uint8):
    """bytes → encoded bytes of one chunk of ``dtype`` values, as ``compressor`` (None: raw).

    Blosc is taken for one-byte types only: for wider ones zarr sets the codec's type size from
    the array, which is not written out here.
    """
    if compressor is None:
        return bytes
    if isinstance(compressor, BloscCodec):
        if np.dtype(dtype).itemsize != 1:
            raise ValueError(f"direct writes use blosc for one-byte types only, not {np.dtype(dtype)}")
        cname, shuffle = compressor.cname.value.encode(), BLOSC_SHUFFLES[compressor.shuffle.value]
        return lambda raw: numcodecs.blosc.compress(raw, cname, compressor.clevel, shuffle, compressor.blocksize, 1)
    if isinstance(compressor, ZstdCodec):
        return numcodecs.Zstd(level=compressor.level, checksum=compressor.checksum).encode
    raise ValueError(f"direct writes use a blosc, zstd or no compressor, not {compressor}")


def create_group(parent: zarr.Group, name: str, attributes: dict) -> Path:
    """Create subgroup ``name`` of ``parent`` with ``attributes`` (JSON-serialisable); returns its
    folder. The group must not exist yet."""
    folder = local_path(parent) / name
    folder.mkdir()
    document = GroupMetadata(attributes=attributes).to_buffer_dict(default_buffer_prototype())[METADATA_FILE]
    (folder / METADATA_FILE).write_bytes(document.to_bytes())
    return folder


def write_array(
    folder: Path,
    name: str,
    values: np.ndarray,
    fill_value=0,
    compressor: BloscCodec | ZstdCodec | None = DEFAULT_COMPRESSOR,
) -> None:
    """Write array ``name`` holding ``values`` in one chunk into the group folder ``folder``.

    Parameters
    ----------
    folder : Path
        Group folder (:func:`create_group`).
    name : str
    values : np.ndarray
        Any shape; an empty array gets its metadata and no chunk.
    fill_value : scalar
    compressor : BloscCodec, ZstdCodec or None
        None stores the chunk uncompressed.

    The chunk is always written, even when it equals the fill value, so the files depend only on
    ``values``.
    """
    values = np.require(values, requirements="C")  # keeps 0-d arrays 0-d, unlike ascontiguousarray
    array_folder = folder / name
    array_folder.mkdir()
    (array_folder / METADATA_FILE).write_bytes(array_document(values.shape, values.dtype, compressor, fill_value))
    if values.size:
        chunk = array_folder / chunk_key(values.ndim)
        chunk.parent.mkdir(parents=True, exist_ok=True)
        encode = encoder(compressor, values.dtype)
        chunk.write_bytes(encode(values.astype(values.dtype.newbyteorder("<"), copy=False).tobytes()))


def write_clip_group(parent: zarr.Group, name: str, attributes: dict, arrays: dict[str, np.ndarray]) -> Path:
    """Create group ``name`` of ``parent`` with ``attributes`` and one-chunk ``arrays`` (zstd, fill
    value 0); returns the group folder."""
    folder = create_group(parent, name, attributes)
    for array_name, values in arrays.items():
        write_array(folder, array_name, values)
    return folder
