"""Frontalisation scores (Table 2): one random frame of every test video, seen from the front.

The paper frontalises "one randomly selected frame from each video of the test split". The
frontalisation folders (``results/apps/{run}/frontalise/{shard}/``,
:mod:`headgan_model.apps.frontalise`) hold every frame of every test clip frontalised (its own
expression or the neutral face, the clip's reference frame giving the appearance); here one frame
per clip is drawn, uniformly, by ``numpy.random.default_rng(evaluate.seed)`` in clip-id order, and
scored: CSIM of the frontal frame against the reference frame (the identity it should keep), ARE
of its head angles (the pipeline's landmarks and fit on the frame) from the frontal pose, FID
between the frontal frames and the same frames of the real videos.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from headgan_model.apps.clips import split_clips
from headgan_model.evaluate.clip_metrics import NOT_COMPUTED, clip_csim
from headgan_model.evaluate.distributions import FidSet
from headgan_model.evaluate.networks import MetricUnavailable, Networks
from headgan_model.evaluate.outputs import check_known, task_rows
from headgan_model.evaluate.scores import TaskScores, pooled
from headgan_model.evaluate.videos import check_like, read_frames, unique_formats, video_format
from headgan_model.metrics.head_pose import AXES, HeadAngles, average_rotation_error
from headgan_model.metrics.result import MetricResult
from headgan_prep.dataset.reader import DatasetReader



def sampled_frames(lengths: list[int], seed: int) -> list[int]:
    """One frame per video of ``lengths`` frames, uniform, ``default_rng(seed)`` drawn in order."""
    rng = np.random.default_rng(seed)
    return [int(rng.integers(0, n)) for n in lengths]


def score_frontalisation(index_path: Path, task_dirs: list[Path], networks: Networks) -> TaskScores:
    """Scores of one frontalised frame per test clip (module docstring).

    Parameters
    ----------
    index_path : Path
        The test split's index.
    task_dirs : list of Path
        The frontalisation folders of the test shards.
    networks : Networks

    Returns
    -------
    TaskScores
        FID, CSIM, ARE; one row per clip with the frame drawn.
    """
    settings = networks.settings
    clips = {clip.clip_id: clip for clip in split_clips(DatasetReader(index_path))}
    entries = task_rows(task_dirs)
    check_known([row["clip_id"] for _, row in entries], clips, f"frontalisation of {index_path}")
    frames = sampled_frames([clips[row["clip_id"]].n_frames for _, row in entries], settings.seed)
    fid_set = FidSet(networks, settings.computes("FID"))
    identities, angles, rows, formats = [], [], [], {}
    for (folder, row), t in zip(entries, frames):
        clip, video = clips[row["clip_id"]], folder / f"{row['clip_id']}.mp4"
        generated = read_frames(video)
        check_like(generated, clip.frames, f"frontalised clip {clip.clip_id} ({video})")
        formats[clip.clip_id] = video_format(video).to_dict()
        reference = int(row["reference"])
        frontal = generated[t : t + 1]
        identity = clip_csim(networks, clip.frames[reference : reference + 1], frontal)
        identities.append((clip.clip_id, identity, identity.details.get("pairs", 0.0)))
        pose = _angles(networks, frontal)
        if pose is not None:
            angles.append(pose)
        fid_set.add(frontal, clip.frames[t : t + 1])
        euler = pose.euler[0] if pose is not None else np.full(3, np.nan)
        rows.append(
            {
                "clip_id": clip.clip_id,
                "n_frames": clip.n_frames,
                "frame": t,
                "reference": reference,
                "expression": row.get("expression"),
                "CSIM": identity.value,
                **{axis: None if np.isnan(value) else float(value) for axis, value in zip(AXES, euler)},
            }
        )
    metrics = {"FID": fid_set.result(), "CSIM": pooled("CSIM", identities), "ARE": _are(networks, angles)}
    protocol = {
        "clips": len(entries),
        "frames": len(entries),
        "frame_choice": f"one per clip, uniform, numpy default_rng({settings.seed}) in clip-id order",
        "expression": sorted({row.get("expression") for _, row in entries if row.get("expression")}),
        "audio": sorted({row.get("audio") for _, row in entries if row.get("audio")}),
        "video_formats": unique_formats(formats),
    }
    return TaskScores("frontalise", metrics, rows, protocol, {k: str(v) for k, v in networks.files.items()})


def _angles(networks: Networks, frames: np.ndarray) -> HeadAngles | None:
    """Head angles of ``(1, S, S, 3)`` frames, or None when ARE is not computed or has no estimator."""
    if not networks.settings.computes("ARE"):
        return None
    try:
        return networks.head_pose().angles(frames)
    except MetricUnavailable:
        return None


def _are(networks: Networks, angles: list[HeadAngles]) -> MetricResult:
    if not networks.settings.computes("ARE"):
        return MetricResult.unavailable("ARE", NOT_COMPUTED)
    try:
        networks.head_pose()
    except MetricUnavailable as error:
        return MetricResult.unavailable("ARE", str(error))
    if not angles:
        return MetricResult.unavailable("ARE", "no clip to score")
    joined = HeadAngles(np.concatenate([a.euler for a in angles]), np.concatenate([a.valid for a in angles]))
    return average_rotation_error(joined)
