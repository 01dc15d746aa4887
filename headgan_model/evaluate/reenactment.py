"""Reenactment scores (Table 1, right): a source frame driven by a test clip of another identity.

Reads the reenactment folder (``results/apps/{run}/reenact/``, :mod:`headgan_model.apps.reenact`),
the driving clips (test split) and the sources (``apps.reenact.source_split``). There is no ground
truth, so per pair: CSIM of every generated frame against the source frame (supplement §5), ARD
between the generated frames' head angles (the pipeline's landmarks and 3DMM fit run on them) and
the driving clip's fitted angles (its fit store, measured by the same landmarks and fit), AU-H
between OpenFace's action units of driving and generated frames; beyond the paper, the lip sync of
the generated frames with the driving clip's audio (LSE-D, LSE-C). Over the pairs: frame-weighted
means (LSE-D, LSE-C: means over the pairs), and FID between all generated frames and the driving
clips' real frames.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from headgan_model.apps.clips import Clip, split_clips
from headgan_model.evaluate.clip_metrics import NOT_COMPUTED, SyncSet, clip_csim
from headgan_model.evaluate.distributions import FidSet
from headgan_model.evaluate.networks import MetricUnavailable, Networks
from headgan_model.evaluate.outputs import check_known, pair_rows
from headgan_model.evaluate.scores import TaskScores, pooled
from headgan_model.evaluate.videos import check_like, read_frames, unique_formats, video_format
from headgan_model.metrics.action_units import au_h
from headgan_model.metrics.head_pose import HeadAngles, average_rotation_distance
from headgan_model.metrics.result import MetricResult
from headgan_model.metrics.lip_sync import MAX_OFFSET
from headgan_prep.dataset.reader import DatasetReader


def fitted_angles(clip: Clip) -> HeadAngles:
    """The head angles of a clip's fit store (``euler``, NaN where the fit is not ``valid``)."""
    euler = np.asarray(clip.reader.read("fit", "euler", clip.index, slice(None)), np.float64)
    valid = clip.fit_valid
    return HeadAngles(np.where(valid[:, None], euler, np.nan), valid.copy())


def _ard(networks: Networks, driving: Clip, generated: np.ndarray) -> MetricResult:
    if not networks.settings.computes("ARD"):
        return MetricResult.unavailable("ARD", NOT_COMPUTED)
    try:
        estimator = networks.head_pose()
    except MetricUnavailable as error:
        return MetricResult.unavailable("ARD", str(error))
    return average_rotation_distance(fitted_angles(driving), estimator.angles(generated))


def score_reenactment(test_index: Path, source_index: Path, task_dir: Path, networks: Networks) -> TaskScores:
    """Scores of the reenacted pairs (module docstring).

    Parameters
    ----------
    test_index, source_index : Path
        Indexes of the driving clips' and the sources' splits.
    task_dir : Path
        ``results/apps/{run}/reenact/videos``.
    networks : Networks

    Returns
    -------
    TaskScores
        FID, CSIM, ARD, AU-H, LSE-D, LSE-C; one row per pair.
    """
    settings = networks.settings
    driving_clips = {clip.clip_id: clip for clip in split_clips(DatasetReader(test_index))}
    source_clips = {clip.clip_id: clip for clip in split_clips(DatasetReader(source_index))}
    pairs = pair_rows(task_dir)
    check_known([p["driving"] for p in pairs], driving_clips, f"driving clips of {task_dir}")
    check_known([p["source"] for p in pairs], source_clips, f"sources of {task_dir}")
    fid_set = FidSet(networks, settings.computes("FID"))
    sync_set = SyncSet(networks)
    per_pair = {name: [] for name in ("CSIM", "ARD", "AU-H")}
    rows, formats = [], {}
    for pair in pairs:
        driving, source = driving_clips[pair["driving"]], source_clips[pair["source"]]
        name = f"{driving.clip_id}__{source.clip_id}"
        video = Path(task_dir) / f"{name}.mp4"
        generated = read_frames(video)
        check_like(generated, driving.frames, f"reenacted pair {name} ({video})")
        formats[name] = video_format(video).to_dict()
        frame = int(pair["source_frame"])
        identity = clip_csim(networks, source.frames[frame : frame + 1], generated)
        pose = _ard(networks, driving, generated)
        units = (
            au_h(driving.frames, generated, settings.openface.binary)
            if settings.computes("AU-H")
            else MetricResult.unavailable("AU-H", NOT_COMPUTED)
        )
        for metric, result in (("CSIM", identity), ("ARD", pose), ("AU-H", units)):
            weight = result.details.get("pairs" if metric == "CSIM" else "frames", 0.0)
            per_pair[metric].append((name, result, weight))
        fid_set.add(generated, driving.frames)
        sync = sync_set.add(name, generated, driving)
        rows.append(
            {
                "driving": driving.clip_id,
                "source": source.clip_id,
                "source_frame": frame,
                "n_frames": driving.n_frames,
                "CSIM": identity.value,
                "csim_pairs": identity.details.get("pairs"),
                "ARD": pose.value,
                "ard_frames": pose.details.get("frames"),
                "AU-H": units.value,
                "au_frames": units.details.get("frames"),
                "LSE-D": None if sync is None else sync.distance,
                "LSE-C": None if sync is None else sync.confidence,
                "lse_offset": None if sync is None else sync.offset,
            }
        )
    metrics = {
        "FID": fid_set.result(),
        "CSIM": pooled("CSIM", per_pair["CSIM"]),
        "ARD": pooled("ARD", per_pair["ARD"]),
        "AU-H": pooled("AU-H", per_pair["AU-H"]),
        **sync_set.results(),
    }
    protocol = {
        "pairs": len(pairs),
        "frames": int(sum(driving_clips[p["driving"]].n_frames for p in pairs)),
        "identities": len({p["driving_identity"] for p in pairs} | {p["source_identity"] for p in pairs}),
        "source_split": DatasetReader(source_index).split,
        "driving_angles": "fit store of the driving clips (euler, valid)",
        "openface_binary": settings.openface.binary,
        "lse": {"audio": "the driving clip's 16 kHz track (crop store)", "max_offset_frames": MAX_OFFSET},
        "video_formats": unique_formats(formats),
    }
    return TaskScores("reenact", metrics, rows, protocol, {k: str(v) for k, v in networks.files.items()})
