"""A whole clip of a split, as the applications read it from the stores of a dataset index."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import zarr

from headgan_prep.dataset.reader import DatasetReader
from headgan_prep.fit.parameters import FaceParameters


@dataclass
class Clip:
    """The stored arrays of one clip, read on first use.

    Attributes
    ----------
    reader : DatasetReader
    index : int
        Position of the clip in ``reader.clips``.
    """

    reader: DatasetReader
    index: int

    @property
    def entry(self) -> dict:
        """The index entry: clip_id, identity, shard, n_frames, stores."""
        return self.reader.clips[self.index]

    @property
    def clip_id(self) -> str:
        return self.entry["clip_id"]

    @property
    def identity(self) -> str:
        return self.entry["identity"]

    @property
    def n_frames(self) -> int:
        return int(self.entry["n_frames"])

    def _read(self, stage: str, name: str) -> np.ndarray:
        return np.asarray(self.reader.read(stage, name, self.index, slice(None)))

    @cached_property
    def frames(self) -> np.ndarray:
        """``(T, S, S, 3)`` uint8 crops."""
        return self._read("crops", "frames")

    @cached_property
    def nmfc(self) -> np.ndarray:
        """``(T, S, S, 3)`` uint8 NMFC images."""
        return self._read("nmfc", "nmfc")

    @cached_property
    def audio_features(self) -> np.ndarray:
        """``(T, 300)`` float32 audio features."""
        return self._read("audio", "features").astype(np.float32)

    @cached_property
    def waveform(self) -> tuple[np.ndarray, int]:
        """``(S,)`` float32 16 kHz mono samples (empty without audio) and the sample rate, Hz."""
        group = zarr.open_group(str(self.reader.results / self.entry["stores"]["crops"]), path=self.clip_id, mode="r")
        return self._read("crops", "audio").astype(np.float32), int(group.attrs["sample_rate"])

    @cached_property
    def parameters(self) -> FaceParameters:
        """The fit: identity, per-frame expression and camera (NaN on invalid frames)."""
        return FaceParameters(self._read("fit", "identity"), self._read("fit", "expression"), self._read("fit", "camera"))

    @cached_property
    def fit_valid(self) -> np.ndarray:
        """``(T,)`` bool: frames with a valid fit."""
        return self._read("fit", "valid").astype(bool)


def split_clips(reader: DatasetReader, shard: str | None = None) -> list[Clip]:
    """The clips of an index (those of one shard when ``shard`` is given), in index order."""
    return [Clip(reader, i) for i, entry in enumerate(reader.clips) if shard is None or entry["shard"] == shard]
