"""LSE-D and LSE-C: lip-sync error distance and confidence (Prajwal et al., Wav2Lip, ACM MM 2020).

SyncNet (:mod:`headgan_model.metrics.syncnet`) embeds every 0.2 s of a talking-face video and of its
speech; the protocol is Wav2Lip's ``evaluation/scores_LSE`` (``calculate_scores_LRS.py`` and its
``SyncNetInstance_calc_scores.py``, on top of ``joonson/syncnet_python``), applied to the frames of a
video as they are (the generated videos are already face crops, as LRS2's are):

- frames: every frame in BGR resized to 224 × 224 (OpenCV bilinear), values 0–255; window v is
  frames v … v+4, for v = 0 … L − 6 with L = min(frames, ⌊samples / 640⌋) (the reference's
  ``lastframe = min_length − 5``);
- audio: MFCCs of the 16 kHz track in 16-bit units (:mod:`headgan_model.metrics.mfcc`, 100 Hz),
  window v is MFCC frames 4v … 4v+19 (25 fps video);
- distances: for each video window v and each offset k = −15 … 15 the Euclidean distance
  (``torch.nn.functional.pairwise_distance``, ε = 1e-6 added to the difference) between the video
  embedding v and the audio embedding v + k, where an audio window outside the clip is a zero
  embedding (the reference pads with zeros); the distance curve is the mean over v per offset;
- per video: **LSE-D** the minimum of the curve, **LSE-C** its median minus that minimum, the offset
  ``15 − argmin`` (the audio-visual offset in frames);
- over videos: the plain means of LSE-D and LSE-C (every video counts once).

SyncNet v2 sees the whole face crop in colour (its first layer takes 3 channels × 5 frames), not the
grey mouth crops of the 2016 paper's network, so no mouth region is cut out here either.

The differences to the reference scripts: frames come decoded from the video (the reference writes
them as JPEG files first and reads them back) and the audio is the clip's own 16 kHz track, not
FFmpeg's re-encoding of the video's sound.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from headgan_model.metrics.mfcc import SAMPLE_RATE, int16_scale, mfcc
from headgan_model.metrics.result import MetricResult
from headgan_model.metrics.syncnet import FACE_SIZE, MFCC_WINDOW, VIDEO_WINDOW, SyncNet

MAX_OFFSET = 15
"""Offsets searched, video frames either side (``--vshift 15``)."""
SAMPLES_PER_FRAME = 640
"""16 kHz samples per 25 fps frame."""
MFCC_PER_FRAME = 4
"""MFCC frames (100 Hz) per video frame (25 fps)."""
PAIRWISE_EPS = 1e-6


@dataclass(frozen=True)
class SyncScore:
    """The sync measurement of one video.

    Attributes
    ----------
    distance : float
        LSE-D, the smallest mean distance over the offsets.
    confidence : float
        LSE-C, the median of the mean distances minus the smallest.
    offset : int
        Audio-visual offset in frames at the smallest distance (``MAX_OFFSET − argmin``).
    curve : np.ndarray
        ``(2·MAX_OFFSET + 1,)`` float64 mean distance per offset, offset −MAX_OFFSET first.
    windows : int
        Video windows averaged.
    """

    distance: float
    confidence: float
    offset: int
    curve: np.ndarray
    windows: int


def distance_curve(video: torch.Tensor, audio: torch.Tensor, max_offset: int = MAX_OFFSET) -> np.ndarray:
    """Mean distance per offset between video and audio embeddings (module docstring).

    Parameters
    ----------
    video, audio : torch.Tensor
        ``(W, D)`` embeddings of the same W windows.
    max_offset : int

    Returns
    -------
    np.ndarray
        ``(2·max_offset + 1,)`` float64: entry j is the mean over v of
        ``‖video[v] − audio[v + j − max_offset] + ε‖``, audio outside ``0 … W−1`` a zero vector.
    """
    if video.shape != audio.shape or video.ndim != 2:
        raise ValueError(f"video and audio embeddings must both be (W, D), got {tuple(video.shape)} and {tuple(audio.shape)}")
    span = 2 * max_offset + 1
    padded = F.pad(audio, (0, 0, max_offset, max_offset))
    shifted = padded.unfold(0, span, 1).permute(0, 2, 1)
    distances = F.pairwise_distance(video[:, None, :].expand_as(shifted), shifted, eps=PAIRWISE_EPS)
    return distances.mean(dim=0).double().cpu().numpy()


def score_curve(curve: np.ndarray, windows: int) -> SyncScore:
    """LSE-D, LSE-C and the offset of a distance curve from :func:`distance_curve`."""
    max_offset = (len(curve) - 1) // 2
    best = int(np.argmin(curve))
    minimum = float(curve[best])
    return SyncScore(minimum, float(np.median(curve)) - minimum, max_offset - best, curve, windows)


def face_windows(frames: np.ndarray, n_windows: int) -> torch.Tensor:
    """SyncNet's video input of ``(T, H, W, 3)`` uint8 RGB frames: ``(n_windows, 3, 5, 224, 224)``
    float32 BGR 0–255, window v holding frames v … v+4."""
    faces = np.stack([cv2.resize(frame[..., ::-1], (FACE_SIZE, FACE_SIZE)) for frame in frames])
    faces = torch.from_numpy(faces).permute(3, 0, 1, 2).float()  # (3, T, 224, 224)
    return faces.unfold(1, VIDEO_WINDOW, 1)[:, :n_windows].permute(1, 0, 4, 2, 3)


def audio_windows(samples: np.ndarray, n_windows: int) -> torch.Tensor:
    """SyncNet's audio input of ``(N,)`` float samples in [-1, 1] at 16 kHz: ``(n_windows, 1, 13, 20)``
    float32, window v holding MFCC frames 4v … 4v+19."""
    cepstra = torch.from_numpy(mfcc(int16_scale(samples)).T.copy()).float()  # (13, F)
    return torch.stack([cepstra[:, MFCC_PER_FRAME * v : MFCC_PER_FRAME * v + MFCC_WINDOW] for v in range(n_windows)])[
        :, None
    ]


@torch.no_grad()
def sync_score(
    frames: np.ndarray,
    samples: np.ndarray,
    network: SyncNet,
    *,
    sample_rate: int = SAMPLE_RATE,
    device: str | torch.device = "cpu",
    batch_size: int = 20,
    max_offset: int = MAX_OFFSET,
) -> SyncScore:
    """Sync of one talking-face video with its speech (module docstring).

    Parameters
    ----------
    frames : np.ndarray
        ``(T, H, W, 3)`` uint8 RGB face crops at 25 fps.
    samples : np.ndarray
        ``(N,)`` float mono samples in [-1, 1] at ``sample_rate``.
    network : SyncNet
        Moved to ``device``.
    sample_rate : int
        Must be 16000.
    batch_size : int
        Windows per forward pass (the reference's 20).

    Raises
    ------
    ValueError
        Not 16 kHz, or fewer than 6 frames of both video and audio (one window).
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"expected (T, H, W, 3) uint8 RGB frames, got {frames.shape} {frames.dtype}")
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"LSE needs {SAMPLE_RATE} Hz audio, got {sample_rate} Hz")
    length = min(len(frames), len(samples) // SAMPLES_PER_FRAME)
    n_windows = length - VIDEO_WINDOW
    if n_windows < 1:
        raise ValueError(
            f"LSE needs at least {VIDEO_WINDOW + 1} frames of video and audio, got {len(frames)} frames and "
            f"{len(samples) / SAMPLES_PER_FRAME:.1f} frames of audio"
        )
    network = network.to(device)
    faces, cepstra = face_windows(frames[:length], n_windows), audio_windows(samples, n_windows)
    video, audio = [], []
    for start in range(0, n_windows, batch_size):
        video.append(network.forward_lip(faces[start : start + batch_size].to(device)).cpu())
        audio.append(network.forward_aud(cepstra[start : start + batch_size].to(device)).cpu())
    return score_curve(distance_curve(torch.cat(video), torch.cat(audio), max_offset), n_windows)


def lse_results(scores: list[SyncScore], left_out: dict[str, str] | None = None) -> tuple[MetricResult, MetricResult]:
    """``LSE-D`` and ``LSE-C`` of a set of videos: the plain means over the videos.

    Parameters
    ----------
    scores : list of SyncScore
        The videos measured.
    left_out : dict, optional
        Video → reason for the videos that could not be measured (no audio, too short); counted in
        a warning, or the reasons of the missing results when no video was measured.

    Returns
    -------
    tuple of MetricResult
        ``details``: ``videos``, ``windows`` (summed), ``offset`` (mean absolute offset, frames).
    """
    left_out = left_out or {}
    if not scores:
        reasons = "; ".join(sorted(set(left_out.values()))) or "no video to score"
        return MetricResult.unavailable("LSE-D", reasons), MetricResult.unavailable("LSE-C", reasons)
    warnings = ()
    if left_out:
        named = ", ".join(f"{video} ({reason})" for video, reason in sorted(left_out.items()))
        warnings = (f"{len(left_out)} of {len(scores) + len(left_out)} videos left out: {named}",)
    details = {
        "videos": float(len(scores)),
        "windows": float(sum(s.windows for s in scores)),
        "offset": float(np.mean([abs(s.offset) for s in scores])),
    }
    distance = float(np.mean([s.distance for s in scores]))
    confidence = float(np.mean([s.confidence for s in scores]))
    return (
        MetricResult("LSE-D", distance, tuple(f"LSE-D: {w}" for w in warnings), details=details),
        MetricResult("LSE-C", confidence, tuple(f"LSE-C: {w}" for w in warnings), details=details),
    )
