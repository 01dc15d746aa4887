"""PyTorch access to the training data: self-reenactment samples and a reproducible sampler.

A sample (paper §3.3, §4.1) is frame t of a clip with

* ``nmfc``: x_{t−2:t}, the NMFC images of t−2, t−1 and t stacked channel-wise, oldest first
  (9, S, S) in [0, 1]; before the clip's first frame the first NMFC image repeats;
* ``image``: the real frame y_t, (3, S, S) in [−1, 1];
* ``ref_image`` and ``ref_nmfc``: a reference frame y_ref of the same clip, (3, S, S) in [−1, 1],
  and its NMFC image x_ref, (3, S, S) in [0, 1];
* ``audio``: the 300 audio features h_t of frame t, float32;
* ``mouth_box``: ``[x0, y0, x1, y1]`` of the 64 × 64 mouth square of frame t, crop pixels;
* ``clip``, ``frame``, ``reference``: where it came from (int64).

With ``condition="landmarks"`` (the landmark ablation) ``nmfc`` and ``ref_nmfc`` hold sketches of
the 68 landmarks (:mod:`headgan_prep.dataset.sketch`) in the same layout and range.

In sequence mode (``sequence_length=n``) every per-frame entry gains a leading axis of n
consecutive frames; the reference is one frame for the whole sequence.

Keys: an int ``i`` is the i-th (clip, start frame) pair in index order with the clip's middle
frame as reference — the fixed test-time policy of the official code; a tuple
``(clip, start, reference)`` names all three, as :class:`TrainingSampler` draws them: from frames
valid in every stage only, the reference never one of the sample's own frames.
With ``as_uint8=True`` images stay uint8 in the same channel-first layout (4× less to move between
DataLoader workers and to the GPU); :func:`normalize_batch` then gives the ranges above on the device.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import logging

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from headgan_prep.dataset.reader import CONDITIONS, DatasetReader, read_sample, usable_starts

log = logging.getLogger(__name__)

IMAGE_KEYS = ("image", "ref_image")
"""Entries that are RGB frames: [−1, 1] as floats."""
NMFC_KEYS = ("nmfc", "ref_nmfc")
"""Entries that are NMFC images: [0, 1] as floats."""


class SelfReenactmentDataset(Dataset):
    """Self-reenactment samples of one split.

    Parameters
    ----------
    index_path : str or Path
        ``results/dataset/{split}.json``.
    results : str or Path, optional
        Folder the index's store paths are relative to (default: the index's grandparent).
    sequence_length : int, optional
        None: single frames; n: n consecutive frames per sample (clips shorter than n are skipped).
    past : int
        Previous NMFC images stacked with the current one (paper: k = 2).
    as_uint8 : bool
        Keep images uint8 (see module docstring).
    condition : str
        ``nmfc`` (NMFC images) or ``landmarks``: ``nmfc`` and ``ref_nmfc`` hold landmark sketches
        drawn from the landmark store instead (:mod:`headgan_prep.dataset.sketch`, the ablation).
    """

    def __init__(
        self,
        index_path: str | Path,
        results: str | Path | None = None,
        sequence_length: int | None = None,
        past: int = 2,
        as_uint8: bool = False,
        condition: str = "nmfc",
    ):
        if sequence_length is not None and sequence_length < 1:
            raise ValueError(f"sequence_length must be ≥ 1 or None, got {sequence_length}")
        if condition not in CONDITIONS:
            raise ValueError(f"condition must be one of {', '.join(CONDITIONS)}, got {condition!r}")
        self.condition = condition
        self.reader = DatasetReader(index_path, results)
        self.sequence_length = sequence_length
        self.past = past
        self.as_uint8 = as_uint8
        self.n_starts = np.maximum(self.reader.n_frames - self.length + 1, 0)
        self._first_key = np.concatenate([[0], np.cumsum(self.n_starts)])

    @property
    def length(self) -> int:
        """Frames per sample."""
        return self.sequence_length or 1

    @property
    def n_frames(self) -> np.ndarray:
        """(n_clips,) frame count per clip."""
        return self.reader.n_frames

    def training_frames(self, clip: int) -> tuple[np.ndarray, np.ndarray]:
        """What training may draw from clip number ``clip``.

        Returns
        -------
        starts : (n,) int64
            First frames of samples whose every frame (crops and NMFC window) is valid in every stage.
        valid : (m,) int64
            The clip's valid frames, increasing: the references, less the sample's own frames.
        """
        valid = self.reader.valid(clip)
        return usable_starts(valid, self.length, self.past), np.flatnonzero(valid)

    def training_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """Per clip, (n_clips,) int64 each: the usable starts (:meth:`training_frames`) and the
        references a sample has (valid frames less the sample's ``length``, never below 0)."""
        n_starts = self.n_starts.copy()
        n_references = np.maximum(self.n_frames - self.length, 0)
        for clip, entry in enumerate(self.reader.clips):
            if entry["invalid_frames"]:
                starts, valid = self.training_frames(clip)
                n_starts[clip], n_references[clip] = len(starts), max(len(valid) - self.length, 0)
        return n_starts, n_references

    def __len__(self) -> int:
        """Number of (clip, start frame) pairs."""
        return int(self._first_key[-1])

    def locate(self, key: int) -> tuple[int, int]:
        """(clip, start frame) of the int key ``key``."""
        if not 0 <= key < len(self):
            raise IndexError(f"sample {key} out of range ({len(self)} samples)")
        clip = int(np.searchsorted(self._first_key, key, side="right") - 1)
        return clip, int(key - self._first_key[clip])

    def __getitem__(self, key) -> dict[str, torch.Tensor]:
        if isinstance(key, (tuple, list)):
            clip, start, reference = (int(k) for k in key)
        else:
            clip, start = self.locate(int(key))
            reference = self.reader.middle_frame(clip)
        sample = read_sample(self.reader, clip, start, reference, self.length, self.past, self.condition)
        return self._to_tensors(sample)

    def _to_tensors(self, sample: dict) -> dict[str, torch.Tensor]:
        n, k1, size = sample["nmfc"].shape[:3]
        # (n, k+1, S, S, 3) → (n, 3(k+1), S, S): channels of x_{t−k} first
        nmfc = torch.from_numpy(np.ascontiguousarray(sample["nmfc"].transpose(0, 1, 4, 2, 3))).reshape(n, 3 * k1, size, size)
        out = {
            "nmfc": nmfc,
            "image": torch.from_numpy(np.ascontiguousarray(sample["image"].transpose(0, 3, 1, 2))),
            "ref_image": torch.from_numpy(np.ascontiguousarray(sample["ref_image"].transpose(2, 0, 1))),
            "ref_nmfc": torch.from_numpy(np.ascontiguousarray(sample["ref_nmfc"].transpose(2, 0, 1))),
            "audio": torch.from_numpy(np.asarray(sample["audio"], dtype=np.float32)),
            "mouth_box": torch.from_numpy(np.asarray(sample["mouth_box"], dtype=np.float32)),
            "clip": torch.tensor(sample["clip"], dtype=torch.int64),
            "frame": torch.from_numpy(sample["frames"]),
            "reference": torch.tensor(sample["reference"], dtype=torch.int64),
        }
        if self.sequence_length is None:
            for name in ("nmfc", "image", "audio", "mouth_box", "frame"):
                out[name] = out[name][0]
        return out if self.as_uint8 else normalize_batch(out)


def normalize_batch(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map uint8 image entries to floats: frames to [−1, 1], NMFC images to [0, 1] (others unchanged).

    Works on any device; entries that are already floating point are left as they are.
    """
    out = dict(batch)
    for name in IMAGE_KEYS + NMFC_KEYS:
        value = out.get(name)
        if value is not None and value.dtype == torch.uint8:
            value = value.float() / 255.0
            out[name] = value * 2.0 - 1.0 if name in IMAGE_KEYS else value
    return out


class NoTrainingClips(ValueError):
    """No clip of a dataset index has the valid frames a training sample needs."""


class TrainingSampler(Sampler):
    """An endless, reproducible stream of ``(clip, start, reference)`` keys for training.

    Clips are visited in a fresh random order every epoch (each clip once per epoch, as the official
    loader does); per draw the start frame is uniform over the clip's usable starts (every frame the
    sample reads valid in every stage: its crops and its NMFC window x_{t−2:t}, clamped at the clip's
    start) and the reference uniform over the clip's valid frames other than the sample's own.
    Clips without a usable start or without a reference are left out, and their number logged.
    Draw number d of the whole run (over every rank) depends only on ``(seed, d)``, so resuming at
    ``start_step`` continues the exact stream, whatever the number of DataLoader workers.

    Parameters
    ----------
    dataset : SelfReenactmentDataset
    batch_size : int
        Samples per step on this rank.
    seed : int
    start_step : int
        First training step to draw for (resume).
    rank, world_size : int
        This process's rank and the number of processes (DDP): step s of rank r takes draws
        ``(s · world_size + r) · batch_size + j``, j < batch_size.

    Raises
    ------
    NoTrainingClips
        No clip of the index has a usable sample.
    """

    def __init__(self, dataset: SelfReenactmentDataset, batch_size: int, seed: int = 0, start_step: int = 0, rank: int = 0, world_size: int = 1):
        n_starts, n_references = dataset.training_counts()
        usable = np.flatnonzero((n_starts > 0) & (n_references > 0))
        if len(usable) == 0:
            raise NoTrainingClips(
                f"no clip of {dataset.reader.index_path} has {dataset.length} consecutive frames with their "
                f"{dataset.past} previous NMFC images and another reference frame, all valid in every stage "
                f"({len(n_starts)} clips)"
            )
        if len(usable) < len(n_starts):
            log.warning(
                "%d of %d clips skipped: fewer valid frames than a sample needs (%d with %d previous and a reference)",
                len(n_starts) - len(usable), len(n_starts), dataset.length, dataset.past,
            )
        self.dataset = dataset
        self.clips = usable
        self.length = dataset.length
        self.batch_size, self.seed, self.start_step = batch_size, seed, start_step
        self.rank, self.world_size = rank, world_size
        self._epoch, self._order = -1, usable

    def key(self, draw: int) -> tuple[int, int, int]:
        """(clip, start, reference) of draw number ``draw``."""
        epoch, position = divmod(draw, len(self.clips))
        if epoch != self._epoch:
            self._epoch, self._order = epoch, np.random.default_rng([self.seed, epoch]).permutation(self.clips)
        clip = int(self._order[position])
        if self.dataset.reader.clips[clip]["invalid_frames"]:
            starts, valid = self.dataset.training_frames(clip)
        else:  # every frame valid (the common case, without building the arrays)
            starts, valid = range(self.dataset.n_starts[clip]), range(self.dataset.n_frames[clip])
        i, r = np.random.default_rng([self.seed, epoch, draw]).integers(0, [len(starts), len(valid) - self.length])
        start = int(starts[i])
        # the sample's frames start … start + length − 1 are valid: consecutive entries of `valid`
        own = start if isinstance(valid, range) else int(np.searchsorted(valid, start))
        return clip, start, int(valid[r if r < own else r + self.length])

    def __iter__(self) -> Iterator[tuple[int, int, int]]:
        step = self.start_step
        while True:
            first = (step * self.world_size + self.rank) * self.batch_size
            for draw in range(first, first + self.batch_size):
                yield self.key(draw)
            step += 1
