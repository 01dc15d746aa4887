"""The dataset index of one split: the clips training can read, with their frame counts and stores.

A clip is indexed when every stage of :data:`headgan_prep.store.layout.STAGES` has its group and
all stages agree on its frame count T (crops ``frames``, landmarks ``points``, fit ``camera``,
nmfc ``nmfc``, audio ``features``). Every other clip of the split's stores and rejection logs gets
one row of the dataset rejection log (stage ``dataset``), for the first stage that lacks it:

* ``rejected_upstream``: the stage's rejection log names the clip (detail: that stage and reason);
* ``missing_in_{stage}``: the stage's store has no group for it and its log does not name it;
* ``frame_count_mismatch``: the frame counts per stage differ (detail: ``stage=T`` per stage).

An indexed clip also lists its invalid frames: those whose ``valid`` flag is false in any stage
that has one (:data:`VALID_STAGES`: no face in the crop, no landmarks, no fit, no NMFC image), so
training can leave them out without opening every store.

Index layout (JSON, sorted keys, same stores → same bytes)::

    schema        "headgan.dataset/2"
    split         split name
    stages        stage names, in workflow order
    n_clips, n_frames, n_identities
    clips         [{clip_id, identity, shard, n_frames, invalid_frames, stores: {stage: path}}], by clip id;
                  invalid_frames: the sorted frame numbers invalid in any of VALID_STAGES

Store paths are relative to the results folder (the index lives in ``{results}/dataset/``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import zarr

from headgan_prep.store.atomic import atomic_file
from headgan_prep.store.rejections import RejectionRow, read_rejections
from headgan_prep.store.shard_job import clip_groups
from headgan_prep.store.layout import STAGES, shards

SCHEMA = "headgan.dataset/2"
VALID_STAGES = tuple(stage.name for stage in STAGES if any(array.name == "valid" for array in stage.arrays))
"""The stages with a per-frame ``valid`` flag (crops, landmarks, fit, nmfc)."""


class DatasetIndexError(Exception):
    """A store the index needs is missing."""


@dataclass(frozen=True)
class ClipSources:
    """What the stores and rejection logs of one shard say about its clips.

    Attributes
    ----------
    groups : dict[str, dict[str, zarr.Group]]
        Per stage name, the clip groups of its store by clip id.
    rejected : dict[str, dict[str, RejectionRow]]
        Per stage name, the rows of its rejection log by clip id.
    """

    groups: dict[str, dict[str, zarr.Group]]
    rejected: dict[str, dict[str, RejectionRow]]

    def clip_ids(self) -> list[str]:
        """Every clip id that occurs in a store or a rejection log of the shard, sorted."""
        ids = {c for by_id in self.groups.values() for c in by_id}
        return sorted(ids | {c for by_id in self.rejected.values() for c in by_id})


def read_shard(results: Path, shard: str) -> ClipSources:
    """Open every stage's store and rejection log of ``shard`` (a missing store is a :class:`DatasetIndexError`)."""
    groups, rejected = {}, {}
    for stage in STAGES:
        path = stage.store(results, shard)
        if not (path / "zarr.json").is_file():
            raise DatasetIndexError(f"{path}: {stage.name} store missing")
        root = zarr.open_group(str(path), mode="r")
        groups[stage.name] = {clip_id: root[clip_id] for clip_id in clip_groups(root)}
        log = stage.rejection_log(results, shard)
        rejected[stage.name] = {row.clip_id: row for row in read_rejections(log)} if log and log.is_file() else {}
    return ClipSources(groups, rejected)


def clip_entry(sources: ClipSources, clip_id: str, shard: str) -> tuple[dict | None, RejectionRow | None]:
    """The index entry of one clip, or its rejection row."""
    counts = {}
    for stage in STAGES:
        group = sources.groups[stage.name].get(clip_id)
        if group is None:
            upstream = sources.rejected[stage.name].get(clip_id)
            if upstream is not None:
                detail = f"{stage.name}: {upstream.reason}: {upstream.detail}"
                return None, RejectionRow(clip_id, upstream.path, "dataset", "rejected_upstream", detail)
            return None, RejectionRow(clip_id, "", "dataset", f"missing_in_{stage.name}", f"no group in {shard}")
        counts[stage.name] = int(group[stage.frames_array].shape[0])
    if len(set(counts.values())) > 1:
        detail = " ".join(f"{name}={n}" for name, n in counts.items())
        return None, RejectionRow(clip_id, "", "dataset", "frame_count_mismatch", detail)
    valid = np.logical_and.reduce([sources.groups[name][clip_id]["valid"][...] for name in VALID_STAGES])
    entry = {
        "clip_id": clip_id,
        "identity": str(sources.groups["crops"][clip_id].attrs["identity"]),
        "shard": shard,
        "n_frames": counts["crops"],
        "invalid_frames": np.flatnonzero(~valid).tolist(),
        "stores": {stage.name: f"{stage.name}/{shard}.zarr" for stage in STAGES},
    }
    return entry, None


def build_index(results: Path, split: str) -> tuple[dict, list[RejectionRow]]:
    """Index of one split from its stores under ``results``.

    Parameters
    ----------
    results : Path
        The results folder holding ``{stage}/{shard}.zarr`` and ``rejected/{stage}/{shard}.tsv``.
    split : str
        Split name; its shards are the stores named ``{split}-*.zarr``.

    Returns
    -------
    index : dict
        Layout in the module docstring.
    rejected : list of RejectionRow
        The clips left out (stage ``dataset``).

    Raises
    ------
    DatasetIndexError
        A stage has no store for a shard of the split.
    """
    clips, rejected = [], []
    for shard in shards(results, split):
        sources = read_shard(results, shard)
        for clip_id in sources.clip_ids():
            entry, rejection = clip_entry(sources, clip_id, shard)
            if entry is not None:
                clips.append(entry)
            else:
                rejected.append(rejection)
    clips.sort(key=lambda c: c["clip_id"])
    index = {
        "schema": SCHEMA,
        "split": split,
        "stages": [stage.name for stage in STAGES],
        "n_clips": len(clips),
        "n_frames": sum(c["n_frames"] for c in clips),
        "n_identities": len({c["identity"] for c in clips}),
        "clips": clips,
    }
    return index, rejected


def write_index(index: dict, path: Path) -> None:
    """Atomically write ``index`` as JSON with sorted keys (same index → same bytes)."""
    with atomic_file(path, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(index, sort_keys=True, indent=1, ensure_ascii=False) + "\n")
