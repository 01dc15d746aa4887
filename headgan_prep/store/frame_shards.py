"""Direct reads and writes of the stores' sharded frame arrays (crops, NMFC images).

The crop and NMFC arrays are Zarr v3 arrays of shape (T, S, S, 3) held in one shard file per clip,
one inner chunk per frame. zarr-python spends about 1–1.5 ms of bookkeeping per inner chunk on such
an array (event-loop round trips, re-reading the shard index), several times the cost of
compressing or decompressing the frame itself. This module reads and writes that one layout
directly, following the Zarr v3 sharding specification: the compressed frames one after the
other, then the index of (offset, nbytes) uint64 pairs and its CRC32C at the end of the file (an
all-ones pair marks a chunk never written, read as the fill value). The metadata document is
zarr's own (:mod:`headgan_prep.store.zarr_direct`); the tests check that the files are byte-identical
to what zarr writes and that zarr reads them back.

Only that layout is handled — one shard covering the array, chunks of one frame, uint8, inner
codecs ``bytes`` then none, ``blosc`` or ``zstd``, little-endian index with CRC32C at the end,
local files. :meth:`ShardedFrames.open` returns None for anything else, and callers fall back to
zarr.
"""

from __future__ import annotations

import os
from pathlib import Path

import google_crc32c
import numcodecs
import numpy as np
import zarr
from zarr.codecs import BloscCodec, BytesCodec, Crc32cCodec, ShardingCodec, ZstdCodec
from zarr.codecs.sharding import ShardingCodecIndexLocation
from zarr.storage import LocalStore

from headgan_prep.store.zarr_direct import METADATA_FILE, array_document, chunk_key, encoder

MISSING = np.iinfo(np.uint64).max
"""Offset and size of a chunk the shard does not hold."""


class ShardedFrames:
    """Frames of a (T, …) uint8 Zarr v3 array stored as one shard of one-frame chunks.

    Attributes
    ----------
    path : Path
        The shard file.
    shape : tuple of int
    index : numpy.ndarray
        (T, 2) uint64: byte offset and size of each frame's chunk in the shard file.
    """

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: np.dtype, fill_value, decode, index: np.ndarray):
        self.path = path
        self.shape = shape
        self.dtype = dtype
        self.fill_value = fill_value
        self._decode = decode
        self.index = index

    @classmethod
    def open(cls, array: zarr.Array) -> ShardedFrames | None:
        """A direct reader of ``array``, or None when its layout is not the one described above."""
        codecs = array.metadata.codecs if array.metadata.zarr_format == 3 else ()
        if len(codecs) != 1 or not isinstance(codecs[0], ShardingCodec) or not isinstance(array.store, LocalStore):
            return None
        sharding = codecs[0]
        frame_chunk = (1, *array.shape[1:])
        if array.metadata.chunk_grid.chunk_shape != array.shape or sharding.chunk_shape != frame_chunk:
            return None
        if array.dtype != np.uint8 or sharding.index_location != ShardingCodecIndexLocation.end:
            return None
        index_codecs = sharding.index_codecs
        if len(index_codecs) != 2 or not isinstance(index_codecs[1], Crc32cCodec):
            return None
        if not isinstance(index_codecs[0], BytesCodec) or str(index_codecs[0].endian.value) != "little":
            return None
        inner = sharding.codecs
        if not isinstance(inner[0], BytesCodec) or len(inner) > 2:
            return None
        compressor = inner[1] if len(inner) == 2 else None
        if compressor is None:
            decode = bytes
        elif isinstance(compressor, BloscCodec):
            decode = numcodecs.blosc.decompress
        elif isinstance(compressor, ZstdCodec):
            decode = numcodecs.Zstd().decode
        else:
            return None
        path = Path(array.store.root) / array.path / array.metadata.encode_chunk_key((0,) * array.ndim)
        n_frames = array.shape[0]
        if not path.is_file():
            index = np.full((n_frames, 2), MISSING, np.uint64)
        else:
            index_bytes = 16 * n_frames
            with path.open("rb") as handle:
                handle.seek(-(index_bytes + 4), os.SEEK_END)
                index = np.frombuffer(handle.read(index_bytes), dtype="<u8").reshape(n_frames, 2).astype(np.uint64)
        return cls(path, tuple(array.shape), np.dtype(array.dtype), array.metadata.fill_value, decode, index)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, frames: slice) -> np.ndarray:
        """Frames ``frames`` (a slice with step 1) as an (n, …) array."""
        start, stop, step = frames.indices(self.shape[0])
        if step != 1:
            raise IndexError("ShardedFrames reads slices with step 1")
        out = np.empty((max(stop - start, 0), *self.shape[1:]), self.dtype)
        if len(out) == 0:
            return out
        fd = os.open(self.path, os.O_RDONLY) if self.path.is_file() else None
        try:
            for i, (offset, nbytes) in enumerate(self.index[start:stop]):
                if offset == MISSING:
                    out[i] = self.fill_value
                else:
                    raw = os.pread(fd, int(nbytes), int(offset))
                    out[i] = np.frombuffer(self._decode(raw), self.dtype).reshape(self.shape[1:])
        finally:
            if fd is not None:
                os.close(fd)
        return out


def read_frames(array: zarr.Array) -> np.ndarray:
    """The whole array, read directly when it has the layout above (else through zarr)."""
    direct = ShardedFrames.open(array)
    return direct[0 : array.shape[0]] if direct is not None else array[...]


def write_frames(
    folder: Path, name: str, frames: np.ndarray, compressor: BloscCodec | ZstdCodec | None, fill_value: int = 0
) -> None:
    """Create array ``name`` holding ``frames`` in the layout above, in a group of a local store.

    Parameters
    ----------
    folder : Path
        The group's folder (:func:`headgan_prep.store.zarr_direct.create_group`,
        :func:`headgan_prep.store.zarr_direct.local_path`).
    name : str
    frames : (T, ...) uint8, T ≥ 1
    compressor : BloscCodec, ZstdCodec or None
        Compression of each frame (blosc with ``noshuffle`` or ``shuffle``).
    fill_value : int

    Every frame is stored (none is left to the fill value), so the file's bytes depend only on
    ``frames`` and ``compressor``. The metadata document is zarr's own
    (:func:`headgan_prep.store.zarr_direct.array_document`).
    """
    frames = np.ascontiguousarray(frames, dtype=np.uint8)
    folder = Path(folder) / name
    folder.mkdir()
    document = array_document(frames.shape, np.uint8, compressor, fill_value, shard_chunks=(1, *frames.shape[1:]))
    (folder / METADATA_FILE).write_bytes(document)
    encode = encoder(compressor)
    encoded = [encode(frame.tobytes()) for frame in frames]
    sizes = np.array([len(chunk) for chunk in encoded], dtype=np.uint64)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.uint64)
    index = np.stack([offsets, sizes], axis=1).astype("<u8").tobytes()
    checksum = np.uint32(google_crc32c.value(index)).astype("<u4").tobytes()
    path = folder / chunk_key(frames.ndim)
    path.parent.mkdir(parents=True)
    with path.open("wb") as handle:
        for chunk in encoded:
            handle.write(chunk)
        handle.write(index + checksum)
