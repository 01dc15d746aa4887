"""Reconstruction scores (Table 1, left): every test clip regenerated from one of its frames.

Reads the reconstruction task folders (``results/apps/{run}/reconstruct/{shard}/``, see
:mod:`headgan_model.apps.reconstruct`) and the test split's crops. Per clip, every generated frame
is compared with its ground-truth frame: L1 and PSNR (supplement §5, via the MSE), SSIM (an
extra), LPIPS and CSIM (ArcFace embeddings of the two frames); beyond the paper, AKD (the
pipeline's 68 iBUG landmarks of both frames) and the lip sync of the generated frames with the
clip's own audio (LSE-D, LSE-C). Over the split: L1, SSIM, LPIPS, CSIM and AKD are means over all
frames (pairs), PSNR is that of the mean MSE, FID compares all generated with all ground-truth
frames, FVD one window per video, LSE-D and LSE-C are means over the videos.
"""

from __future__ import annotations

from pathlib import Path

from headgan_model.apps.clips import split_clips
from headgan_model.evaluate.clip_metrics import NOT_COMPUTED, SyncSet, clip_akd, clip_csim, frame_metric
from headgan_model.evaluate.distributions import FidSet, FvdSet
from headgan_model.evaluate.networks import Networks
from headgan_model.evaluate.outputs import check_known, task_rows
from headgan_model.evaluate.scores import TaskScores, pooled
from headgan_model.evaluate.videos import check_like, read_frames, unique_formats, video_format
from headgan_model.metrics.lip_sync import MAX_OFFSET
from headgan_model.metrics.lpips import lpips_per_frame
from headgan_model.metrics.pixel import l1_per_frame, mse_per_frame, psnr_from_mse, ssim_per_frame
from headgan_model.metrics.result import MetricResult
from headgan_prep.dataset.reader import DatasetReader


def score_reconstruction(index_path: Path, task_dirs: list[Path], networks: Networks) -> TaskScores:
    """Scores of the reconstructed test clips (module docstring).

    Parameters
    ----------
    index_path : Path
        The test split's index (``results/dataset/test.json``).
    task_dirs : list of Path
        The reconstruction folders of the test shards.
    networks : Networks

    Returns
    -------
    TaskScores
        L1, PSNR, SSIM, LPIPS, FID, FVD, CSIM, AKD, LSE-D, LSE-C; one row per clip.

    Raises
    ------
    headgan_model.metrics.frames.FrameMismatch
        A generated video differs from its clip in frame count or size.
    headgan_model.evaluate.videos.VideoReadError
        A generated video is missing or unreadable.
    """
    settings, device = networks.settings, networks.device
    clips = {clip.clip_id: clip for clip in split_clips(DatasetReader(index_path))}
    entries = task_rows(task_dirs)
    check_known([row["clip_id"] for _, row in entries], clips, f"reconstruction of {index_path}")
    fid_set = FidSet(networks, settings.computes("FID"))
    fvd_set = FvdSet(networks, [clips[row["clip_id"]].n_frames for _, row in entries], settings.computes("FVD"))
    sync_set = SyncSet(networks)
    per_clip = {name: [] for name in ("L1", "MSE", "SSIM", "LPIPS", "CSIM", "AKD")}
    rows, formats, steps = [], {}, set()
    for folder, row in entries:
        clip, video = clips[row["clip_id"]], folder / f"{row['clip_id']}.mp4"
        generated, real = read_frames(video), clip.frames
        check_like(generated, real, f"reconstructed clip {clip.clip_id} ({video})")
        formats[clip.clip_id] = video_format(video).to_dict()
        steps.add(row.get("generator_step"))
        pixel = settings.computes("L1") or settings.computes("PSNR")
        l1 = frame_metric("L1", pixel, lambda: l1_per_frame(generated, real, device=device))
        mse = frame_metric("MSE", pixel, lambda: mse_per_frame(generated, real, device=device))
        ssim = frame_metric(
            "SSIM", settings.computes("SSIM"), lambda: ssim_per_frame(generated, real, device=device)
        )
        lpips = frame_metric(
            "LPIPS",
            settings.computes("LPIPS"),
            lambda: lpips_per_frame(generated, real, networks.lpips(), device=device, batch_size=settings.batch),
        )
        identity = clip_csim(networks, real, generated)
        for name, result, weight in (
            ("L1", l1, len(real)),
            ("MSE", mse, len(real)),
            ("SSIM", ssim, len(real)),
            ("LPIPS", lpips, len(real)),
        ):
            per_clip[name].append((clip.clip_id, result, weight))
        per_clip["CSIM"].append((clip.clip_id, identity, identity.details.get("pairs", 0.0)))
        keypoints = clip_akd(networks, real, generated)
        per_clip["AKD"].append((clip.clip_id, keypoints, keypoints.details.get("pairs", 0.0)))
        sync = sync_set.add(clip.clip_id, generated, clip)
        fid_set.add(generated, real)
        fvd_set.add(generated, real)
        rows.append(
            {
                "clip_id": clip.clip_id,
                "shard": clip.entry["shard"],
                "n_frames": clip.n_frames,
                "reference": int(row["reference"]),
                "L1": l1.value,
                "PSNR": None if mse.value is None else psnr_from_mse(mse.value),
                "SSIM": ssim.value,
                "LPIPS": lpips.value,
                "CSIM": identity.value,
                "csim_pairs": identity.details.get("pairs"),
                "AKD": keypoints.value,
                "akd_pairs": keypoints.details.get("pairs"),
                "LSE-D": None if sync is None else sync.distance,
                "LSE-C": None if sync is None else sync.confidence,
                "lse_offset": None if sync is None else sync.offset,
            }
        )
    mse = pooled("MSE", per_clip["MSE"])
    psnr = (
        MetricResult("PSNR", psnr_from_mse(mse.value), mse.warnings, details={"mse": mse.value, **mse.details})
        if mse.value is not None and settings.computes("PSNR")
        else MetricResult.unavailable("PSNR", mse.missing or NOT_COMPUTED)
    )
    l1 = pooled("L1", per_clip["L1"]) if settings.computes("L1") else MetricResult.unavailable("L1", NOT_COMPUTED)
    metrics = {
        "L1": l1,
        "PSNR": psnr,
        "SSIM": pooled("SSIM", per_clip["SSIM"]),
        "LPIPS": pooled("LPIPS", per_clip["LPIPS"]),
        "FID": fid_set.result(),
        "FVD": fvd_set.result(),
        "CSIM": pooled("CSIM", per_clip["CSIM"]),
        "AKD": pooled("AKD", per_clip["AKD"]),
        **sync_set.results(),
    }
    protocol = {
        "clips": len(entries),
        "frames": int(sum(clips[row["clip_id"]].n_frames for _, row in entries)),
        "generator_steps": sorted(str(step) for step in steps),
        "fvd_window_frames": fvd_set.frames if entries else None,
        "akd_keypoints": f"68 iBUG points of the {networks.landmarks.backend} landmarks, (x, y) crop pixels",
        "lse": {"audio": "the clip's 16 kHz track (crop store)", "max_offset_frames": MAX_OFFSET},
        "video_formats": unique_formats(formats),
    }
    return TaskScores("reconstruct", metrics, rows, protocol, {k: str(v) for k, v in networks.files.items()})
