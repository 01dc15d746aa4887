"""Fréchet Video Distance (Unterthiner et al. 2018) as StyleGAN-V measures it.

Protocol (StyleGAN-V, ``src/metrics/frechet_video_distance.py``):

- one clip of 16 consecutive frames per video; a real video's clip starts at a random frame
  (uniform over the starts that fit, drawn from ``numpy.random.default_rng(seed)`` in video
  order), a generated video's at its first frame;
- every frame resized to 224 × 224 bilinearly from uint8 RGB with torch's ``interpolate``
  (half-pixel centres, no antialiasing), then scaled to [-1, 1] (x / 127.5 - 1). StyleGAN-V's
  TorchScript I3D resizes with torch's interpolation; the TensorFlow original's ``resize_bilinear``
  samples differently, hence "matches the original up to the upsampling operation" there;
- features: the 400 Kinetics logits of the tfhub I3D (:mod:`headgan_model.metrics.i3d`);
- statistics: mean and the covariance normalised by N (not N - 1), as StyleGAN-V's ``FeatureStats``;
- FVD: the Fréchet distance of the two Gaussians.

Videos shorter than 16 frames do not stop the metric: all clips are cut to the shortest video's
length (at least 9 frames, what I3D needs) and the result carries a warning, because such a value
is not comparable to 16-frame FVDs. Fewer clips than 400 (the feature dimension) give a singular
covariance, also reported as a warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from headgan_model.metrics.frechet import frechet_distance_of_gaussians
from headgan_model.metrics.i3d import I3D_CHECKPOINT, MIN_FRAMES, N_CLASSES, InceptionI3d, load_i3d
from headgan_model.metrics.result import MetricResult
from headgan_prep.models.registry import ModelFileMissing, resolve_model

FVD_FRAMES = 16
I3D_SIZE = 224


def _check_video(video: np.ndarray, what: str) -> np.ndarray:
    video = np.asarray(video)
    if video.ndim != 4 or video.shape[-1] != 3 or video.dtype != np.uint8:
        raise ValueError(f"{what}: expected a (T, H, W, 3) uint8 RGB video, got {video.shape} {video.dtype}")
    return video


def clip_starts(lengths: Sequence[int], n_frames: int, random_start: bool, seed: int = 0) -> np.ndarray:
    """First frame of each video's clip.

    Parameters
    ----------
    lengths : sequence of int
        Frames of each video, all ≥ ``n_frames``.
    n_frames : int
        Clip length.
    random_start : bool
        Uniform over ``0 … length - n_frames`` (real videos) or 0 (generated videos).
    seed : int
        Seed of ``numpy.random.default_rng``; one draw per video, in order.

    Returns
    -------
    np.ndarray
        (N,) int64 start frames.
    """
    lengths = np.asarray(lengths, np.int64)
    if (lengths < n_frames).any():
        raise ValueError(f"videos of {lengths.min()} frames are shorter than the {n_frames}-frame clip")
    if not random_start:
        return np.zeros(len(lengths), np.int64)
    rng = np.random.default_rng(seed)
    return np.array([rng.integers(0, n - n_frames + 1) for n in lengths], np.int64)


def sample_clips(videos: Sequence[np.ndarray], n_frames: int, starts: np.ndarray) -> np.ndarray:
    """Stack one clip per video: (N, n_frames, H, W, 3) uint8 from N (T_i, H, W, 3) uint8 videos."""
    return np.stack([video[start : start + n_frames] for video, start in zip(videos, starts)])


def i3d_input(clips: np.ndarray, device: str | torch.device = "cpu") -> torch.Tensor:
    """I3D input from uint8 clips.

    Parameters
    ----------
    clips : np.ndarray
        (N, T, H, W, 3) uint8 RGB.
    device : str or torch.device

    Returns
    -------
    torch.Tensor
        (N, 3, T, 224, 224) float32 in [-1, 1].
    """
    n, t, h, w, _ = clips.shape
    x = torch.from_numpy(np.ascontiguousarray(clips)).to(device).reshape(n * t, h, w, 3).permute(0, 3, 1, 2).float()
    if (h, w) != (I3D_SIZE, I3D_SIZE):
        x = F.interpolate(x, size=(I3D_SIZE, I3D_SIZE), mode="bilinear", align_corners=False, antialias=False)
    x = x / 127.5 - 1.0
    return x.reshape(n, t, 3, I3D_SIZE, I3D_SIZE).permute(0, 2, 1, 3, 4).contiguous()


@torch.no_grad()
def i3d_features(
    clips: np.ndarray, network: InceptionI3d, device: str | torch.device = "cpu", batch_size: int = 4
) -> np.ndarray:
    """Kinetics-400 logits of uint8 clips, ``batch_size`` clips per forward pass.

    Parameters
    ----------
    clips : np.ndarray
        (N, T, H, W, 3) uint8 RGB, T ≥ 9.

    Returns
    -------
    np.ndarray
        (N, 400) float64 logits.
    """
    network = network.to(device)
    batches = (clips[i : i + batch_size] for i in range(0, len(clips), batch_size))
    return torch.cat([network(i3d_input(batch, device)).double().cpu() for batch in batches]).numpy()


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D) of (N, D) features, the covariance normalised by N."""
    features = np.asarray(features, np.float64)
    mean = features.mean(axis=0)
    centred = features - mean
    return mean, centred.T @ centred / len(features)


def load_fvd_network(models_dir: str | Path) -> InceptionI3d:
    """The I3D of ``models_dir`` (``i3d/i3d-kinetics-400.ckpt``); ModelFileMissing names the file."""
    return load_i3d(resolve_model(models_dir, I3D_CHECKPOINT))


def fvd(
    real_videos: Sequence[np.ndarray],
    fake_videos: Sequence[np.ndarray],
    *,
    network: InceptionI3d | None = None,
    models_dir: str | Path = "models",
    n_frames: int = FVD_FRAMES,
    seed: int = 0,
    device: str | torch.device = "cpu",
    batch_size: int = 4,
) -> MetricResult:
    """FVD between real and generated videos (StyleGAN-V protocol, module docstring).

    Parameters
    ----------
    real_videos, fake_videos : sequence of np.ndarray
        (T_i, H, W, 3) uint8 RGB videos, all of one frame size; the lengths may differ.
    network : InceptionI3d or None
        The I3D; None loads it from ``models_dir``.
    models_dir : str or Path
        Models folder holding ``i3d/i3d-kinetics-400.ckpt`` (used when ``network`` is None).
    n_frames : int
        Clip length of the protocol (16).
    seed : int
        Seed of the real clips' start frames.
    device : str or torch.device
        Where I3D runs.
    batch_size : int
        Clips per I3D forward pass.

    Returns
    -------
    MetricResult
        ``FVD``; missing (with the reason) without the weights file, with fewer than 2 clips per
        side or videos shorter than 9 frames; warnings for clips shorter than ``n_frames`` and for
        fewer clips than 400. ``details``: ``n_real``, ``n_fake``, ``n_frames``.

    Raises
    ------
    ValueError
        A video is not (T, H, W, 3) uint8, or the frame sizes differ.
    """
    real = [_check_video(v, f"real video {i}") for i, v in enumerate(real_videos)]
    fake = [_check_video(v, f"generated video {i}") for i, v in enumerate(fake_videos)]
    sizes = {v.shape[1:3] for v in real + fake}
    if len(sizes) > 1:
        raise ValueError(f"FVD: the videos have different frame sizes {sorted(sizes)}; resize them to one first")
    if min(len(real), len(fake)) < 2:
        reason = f"needs at least 2 videos per side, got {len(real)} real, {len(fake)} generated"
        return MetricResult.unavailable("FVD", reason)
    shortest = min(len(v) for v in real + fake)
    if shortest < MIN_FRAMES:
        return MetricResult.unavailable("FVD", f"a video has {shortest} frames, I3D needs at least {MIN_FRAMES}")
    warnings = []
    clip_frames = min(n_frames, shortest)
    if clip_frames < n_frames:
        warnings.append(f"FVD on {clip_frames}-frame clips (the shortest video), not {n_frames}: not comparable")
    if min(len(real), len(fake)) < N_CLASSES:
        warnings.append(
            f"FVD from {len(real)} real and {len(fake)} generated clips, fewer than the {N_CLASSES} features: "
            "singular covariances, the value is biased"
        )
    if network is None:
        try:
            network = load_fvd_network(models_dir)
        except ModelFileMissing as error:
            return MetricResult.unavailable("FVD", str(error))
    real_clips = sample_clips(real, clip_frames, clip_starts([len(v) for v in real], clip_frames, True, seed))
    fake_clips = sample_clips(fake, clip_frames, clip_starts([len(v) for v in fake], clip_frames, False))
    mu_r, sigma_r = feature_statistics(i3d_features(real_clips, network, device, batch_size))
    mu_f, sigma_f = feature_statistics(i3d_features(fake_clips, network, device, batch_size))
    value, notes = frechet_distance_of_gaussians(mu_r, sigma_r, mu_f, sigma_f)
    return MetricResult(
        "FVD",
        value,
        tuple(warnings) + notes,
        details={"n_real": float(len(real)), "n_fake": float(len(fake)), "n_frames": float(clip_frames)},
    )
