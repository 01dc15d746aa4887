"""Read training samples out of the per-shard stores through a dataset index (numpy, no torch).

A :class:`DatasetReader` opens the index of one split (``results/dataset/{split}.json``, see
:mod:`headgan_prep.dataset.index`) and reads frames, NMFC images, audio features, mouth boxes and
68-point landmarks of any clip and frame range. :func:`read_sample` assembles one self-reenactment
sample (paper §4.1) from it: for frames t … t+n−1 the current and ``past`` previous NMFC images,
the real frames, the audio rows and the mouth boxes, plus one reference frame of the same clip and
its NMFC image.

Stores are opened lazily, once per process: a reader can be pickled to DataLoader workers (spawn)
or inherited by them (fork) and each process opens its own handles. Every stage writes the per-frame
image arrays with one chunk per frame, so a sample of three NMFC images and two frames reads five
chunks whatever the clip length.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from pathlib import Path

import numpy as np
import zarr

from headgan_prep.dataset.index import SCHEMA as INDEX_SCHEMA
from headgan_prep.dataset.sketch import draw_sketch
from headgan_prep.store.frame_shards import ShardedFrames


class DatasetReaderError(ValueError):
    """The index cannot be read or names a store that cannot be opened."""


MAX_OPEN_ARRAYS = 4096
"""Arrays a process keeps open (or in memory); the least recently used are dropped first."""
SMALL_ARRAY_BYTES = 4 << 20
"""Arrays of one chunk up to this size are kept in memory whole (:meth:`DatasetReader.array`)."""


class DatasetReader:
    """The clips of one split's dataset index and the arrays of their stores.

    Parameters
    ----------
    index_path : str or Path
        ``results/dataset/{split}.json``.
    results : str or Path, optional
        Folder the index's store paths are relative to; default: the index's grandparent
        (``results/``).

    Attributes
    ----------
    clips : list of dict
        The index's clip entries (clip_id, identity, shard, n_frames, stores), by clip id.
    n_frames : numpy.ndarray
        (n_clips,) int64 frame count per clip.
    split : str
    """

    def __init__(self, index_path: str | Path, results: str | Path | None = None):
        index_path = Path(index_path)
        try:
            index = json.loads(index_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DatasetReaderError(f"{index_path}: dataset index missing (run `snakemake preprocess`)") from None
        except json.JSONDecodeError as err:
            raise DatasetReaderError(f"{index_path}: not a dataset index: {err}") from None
        if index.get("schema") != INDEX_SCHEMA:
            raise DatasetReaderError(f"{index_path}: schema {index.get('schema')!r}, expected {INDEX_SCHEMA!r}")
        self.index_path = index_path
        self.results = Path(results) if results is not None else index_path.parent.parent
        self.split = index["split"]
        self.clips = index["clips"]
        self.n_frames = np.array([clip["n_frames"] for clip in self.clips], dtype=np.int64)
        self._open: OrderedDict[tuple[str, str, int], zarr.Array | ShardedFrames | np.ndarray] = OrderedDict()
        self._pid = os.getpid()

    def __len__(self) -> int:
        """Number of clips."""
        return len(self.clips)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_open"] = OrderedDict()
        return state

    def array(self, stage: str, name: str, clip: int) -> zarr.Array | ShardedFrames | np.ndarray:
        """Array ``name`` of clip number ``clip`` in ``stage``'s store, opened once per process.

        An array stored as one chunk of at most :data:`SMALL_ARRAY_BYTES` (audio features, mouth
        boxes, landmarks: one chunk per clip) is read whole and kept as a numpy array: any row of
        it would decompress the whole chunk anyway. A sharded frame array (crops, NMFC images) is
        read through :class:`~headgan_prep.store.frame_shards.ShardedFrames` where its layout allows.
        """
        if self._pid != os.getpid():
            self._open, self._pid = OrderedDict(), os.getpid()
        key = (stage, name, clip)
        array = self._open.get(key)
        if array is None:
            entry = self.clips[clip]
            path = self.results / entry["stores"][stage]
            try:
                array = zarr.open_array(store=str(path), path=f"{entry['clip_id']}/{name}", mode="r")
            except (FileNotFoundError, KeyError, zarr.errors.NodeNotFoundError) as err:
                raise DatasetReaderError(
                    f"{path}: no array {entry['clip_id']}/{name} ({type(err).__name__}); the index "
                    f"{self.index_path} is older than the stores — rerun `snakemake preprocess`"
                ) from None
            if array.chunks == array.shape and array.nbytes <= SMALL_ARRAY_BYTES:
                array = array[...]
            else:
                array = ShardedFrames.open(array) or array
            self._open[key] = array
            if len(self._open) > MAX_OPEN_ARRAYS:
                self._open.popitem(last=False)
        else:
            self._open.move_to_end(key)
        return array

    def read(self, stage: str, name: str, clip: int, frames: np.ndarray | slice) -> np.ndarray:
        """Rows ``frames`` of array ``name`` of clip number ``clip`` in ``stage``'s store.

        Parameters
        ----------
        stage, name : str
            E.g. ``"nmfc", "nmfc"`` or ``"landmarks", "mouth_box"``.
        clip : int
            Position of the clip in :attr:`clips`.
        frames : numpy.ndarray of int or slice
            Frame numbers (any order, repeats allowed) or a slice.
        """
        array = self.array(stage, name, clip)
        if isinstance(frames, slice) or isinstance(array, np.ndarray):
            return array[frames]
        unique, positions = np.unique(np.asarray(frames, dtype=np.int64), return_inverse=True)
        # one slice per run of consecutive frames (Zarr's orthogonal indexing of sharded arrays
        # reads far more than the chunks it needs)
        breaks = np.flatnonzero(np.diff(unique) != 1) + 1
        runs = [array[int(run[0]) : int(run[-1]) + 1] for run in np.split(unique, breaks)]
        return np.concatenate(runs)[positions]

    def valid(self, clip: int) -> np.ndarray:
        """(T,) bool: the frames of clip number ``clip`` valid in every stage (the index's ``invalid_frames``)."""
        valid = np.ones(int(self.n_frames[clip]), dtype=bool)
        valid[self.clips[clip]["invalid_frames"]] = False
        return valid

    def middle_frame(self, clip: int) -> int:
        """The fixed reference frame of a clip at test time: its middle frame (the official policy)."""
        return int(self.n_frames[clip] // 2)


def nmfc_window(frames: np.ndarray, past: int) -> np.ndarray:
    """Frame numbers of the NMFC images x_{t−past} … x_t of each frame t, clamped at frame 0.

    Parameters
    ----------
    frames : (n,) int
    past : int
        Number of previous frames (the paper's k = 2).

    Returns
    -------
    (n, past + 1) int64, oldest first; before the clip's start the first frame repeats.
    """
    offsets = np.arange(-past, 1, dtype=np.int64)
    return np.maximum(np.asarray(frames, dtype=np.int64)[:, None] + offsets, 0)


def usable_starts(valid: np.ndarray, length: int, past: int) -> np.ndarray:
    """The first frames t of the samples of ``length`` frames that read valid frames only.

    A sample starting at t reads the NMFC images of :func:`nmfc_window` of t … t + length − 1,
    that is frames max(t − past, 0) … t + length − 1 (clamped at the clip's start), and the crops
    of t … t + length − 1: all of them must be valid.

    Parameters
    ----------
    valid : (T,) bool
        Per frame, valid in every stage (:meth:`DatasetReader.valid`).
    length : int
        Frames per sample, ≥ 1.
    past : int
        Previous NMFC images per frame, ≥ 0.

    Returns
    -------
    (n,) int64, increasing: the usable starts (empty when the clip has none).
    """
    valid = np.asarray(valid, dtype=bool)
    n_starts = len(valid) - length + 1
    if n_starts < 1:
        return np.zeros(0, dtype=np.int64)
    # invalid frames among the first i, so frames a … b−1 are all valid when bad[b] == bad[a]
    bad = np.concatenate([[0], np.cumsum(~valid)])
    starts = np.arange(n_starts)
    first = np.maximum(starts - past, 0)
    return starts[bad[starts + length] == bad[first]].astype(np.int64)


CONDITIONS = ("nmfc", "landmarks")
"""What a sample's ``nmfc`` entries hold: NMFC images, or landmark sketches (:mod:`headgan_prep.dataset.sketch`)."""


def read_sample(
    reader: DatasetReader,
    clip: int,
    start: int,
    reference: int,
    length: int = 1,
    past: int = 2,
    condition: str = "nmfc",
) -> dict:
    """One self-reenactment sample of ``length`` consecutive frames, as stored (uint8 images).

    Parameters
    ----------
    reader : DatasetReader
    clip : int
        Clip position in ``reader.clips``.
    start : int
        First frame t; frames t … t + length − 1 must exist.
    reference : int
        Frame number of the reference image y_ref (same clip).
    length : int
        Number of consecutive frames.
    past : int
        Previous NMFC images per frame (k = 2 gives 3 NMFC images, 9 channels).
    condition : str
        ``nmfc``: the NMFC store's images; ``landmarks``: sketches drawn from the landmark store's
        68 iBUG points instead (the landmark ablation), in the same entries and layout.

    Returns
    -------
    dict of numpy arrays
        ``nmfc`` (length, past+1, S, S, 3) uint8, oldest first (x_{t−k} … x_t);
        ``image`` (length, S, S, 3) uint8 (y_t); ``audio`` (length, 300) float32 (h_t);
        ``mouth_box`` (length, 4) float32 ``[x0, y0, x1, y1]`` crop pixels;
        ``ref_image`` (S, S, 3) uint8; ``ref_nmfc`` (S, S, 3) uint8;
        ``clip``, ``frames`` (length,) int64, ``reference`` (ints).

    Raises
    ------
    IndexError
        A frame or the reference lies outside the clip.
    """
    n_frames = int(reader.n_frames[clip])
    if start < 0 or start + length > n_frames or not 0 <= reference < n_frames:
        raise IndexError(
            f"clip {reader.clips[clip]['clip_id']} has {n_frames} frames: frames {start}…{start + length - 1}, "
            f"reference {reference} out of range"
        )
    frames = np.arange(start, start + length, dtype=np.int64)
    window = nmfc_window(frames, past)
    image = reader.read("crops", "frames", clip, slice(start, start + length))
    if condition == "landmarks":
        points = reader.read("landmarks", "ibug68", clip, np.append(window.ravel(), reference))
        nmfc = np.stack([draw_sketch(p, image.shape[1]) for p in points])
    else:
        nmfc = reader.read("nmfc", "nmfc", clip, np.append(window.ravel(), reference))
    return {
        "nmfc": nmfc[:-1].reshape(length, past + 1, *nmfc.shape[1:]),
        "image": image,
        "audio": reader.read("audio", "features", clip, slice(start, start + length)),
        "mouth_box": reader.read("landmarks", "mouth_box", clip, slice(start, start + length)),
        "ref_image": reader.read("crops", "frames", clip, slice(reference, reference + 1))[0],
        "ref_nmfc": nmfc[-1],
        "clip": clip,
        "frames": frames,
        "reference": reference,
    }
