"""Writing generated videos: H.264 mp4 at 25 fps with an AAC audio track (FFmpeg's libraries via PyAV).

Files are written to a hidden temporary sibling and renamed when complete
(:func:`headgan_prep.store.atomic.atomic_file`). With a fixed encoder thread count the bytes depend
only on the frames, the audio and the settings.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from headgan_model.apps.settings import VideoSettings
from headgan_prep.store.atomic import atomic_file

FPS = 25
"""Frame rate of every generated video (the pipeline's ingest rate)."""
AUDIO_CODEC = "aac"
AUDIO_BITRATE = 64_000
"""Bits per second of the AAC track."""


def write_mp4(
    path: str | Path,
    frames: np.ndarray,
    audio: np.ndarray | None = None,
    sample_rate: int = 16_000,
    settings: VideoSettings = VideoSettings(),
    fps: int = FPS,
) -> Path:
    """Write frames (and audio) as an H.264 mp4.

    Parameters
    ----------
    path : str or Path
    frames : np.ndarray
        ``(T, H, W, 3)`` uint8 RGB; H and W even (yuv420p).
    audio : np.ndarray, optional
        ``(S,)`` float32 mono samples in [−1, 1]; None or empty: no audio track.
    sample_rate : int
        Of ``audio``, Hz.
    settings : VideoSettings
        crf, preset and threads of libx264.
    fps : int

    Returns
    -------
    Path
    """
    path = Path(path)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    if frames.shape[1] % 2 or frames.shape[2] % 2:
        raise ValueError(f"frame height and width must be even for yuv420p, got {frames.shape[1]}×{frames.shape[2]}")
    options = {"crf": str(settings.crf), "preset": settings.preset, "threads": str(settings.threads)}
    with atomic_file(path, "wb") as handle, av.open(handle, "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=fps, options=options)
        video.width, video.height, video.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        sound = None
        if audio is not None and len(audio):
            sound = container.add_stream(AUDIO_CODEC, rate=sample_rate, layout="mono")
            sound.bit_rate = AUDIO_BITRATE
        for frame in frames:
            container.mux(video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(video.encode(None))
        if sound is not None:
            samples = np.asarray(audio, np.float32)[None]
            chunk = sound.codec_context.frame_size or 1024
            for start in range(0, samples.shape[1], chunk):
                piece = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(samples[:, start : start + chunk]), format="fltp", layout="mono"
                )
                piece.sample_rate, piece.pts, piece.time_base = sample_rate, start, Fraction(1, sample_rate)
                container.mux(sound.encode(piece))
            container.mux(sound.encode(None))
    return path


def side_by_side(*columns: np.ndarray) -> np.ndarray:
    """Frames of several ``(T, S, S, 3)`` (or ``(S, S, 3)``, repeated) uint8 videos next to each other,
    ``(T, S, k·S, 3)``, in the order given (e.g. reference | real | NMFC | generated)."""
    n_frames = max(len(c) for c in columns if np.ndim(c) == 4)
    tiles = [np.broadcast_to(c, (n_frames, *np.shape(c))) if np.ndim(c) == 3 else c for c in columns]
    return np.concatenate(tiles, axis=2)


def write_task_videos(
    folder: Path,
    name: str,
    generated: np.ndarray,
    columns: tuple[np.ndarray, ...],
    audio: np.ndarray | None,
    sample_rate: int,
    settings: VideoSettings,
) -> np.ndarray:
    """Write an application's two videos of one clip into ``folder``: ``{name}.mp4``, the
    ``(T, S, S, 3)`` generated frames, and ``{name}.side.mp4``, ``columns`` then the generated
    frames side by side (:func:`side_by_side`); both with ``audio``. Returns the side-by-side
    frames ``(T, S, k·S, 3)``."""
    side = side_by_side(*columns, generated)
    write_mp4(folder / f"{name}.mp4", generated, audio, sample_rate, settings)
    write_mp4(folder / f"{name}.side.mp4", side, audio, sample_rate, settings)
    return side


def read_mp4(path: str | Path) -> tuple[np.ndarray, np.ndarray | None, dict]:
    """Decode an mp4 written by :func:`write_mp4`.

    Returns
    -------
    frames : np.ndarray
        ``(T, H, W, 3)`` uint8.
    audio : np.ndarray or None
        ``(S,)`` float32 mono, or None without audio track.
    info : dict
        ``fps`` (Fraction), ``codec``, ``audio_codec``, ``sample_rate``.
    """
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        info = {
            "fps": stream.average_rate,
            "codec": stream.codec_context.name,
            "audio_codec": None,
            "sample_rate": None,
        }
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])
    audio = None
    with av.open(str(path)) as container:
        if container.streams.audio:
            stream = container.streams.audio[0]
            info["audio_codec"], info["sample_rate"] = stream.codec_context.name, stream.rate
            audio = np.concatenate([f.to_ndarray().mean(axis=0) for f in container.decode(stream)]).astype(np.float32)
    return frames, audio, info
