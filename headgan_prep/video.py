"""Probe and decode video clips with ffmpeg.

Frames are resampled to a fixed rate (25 fps by default) with ffmpeg's ``fps`` filter, whatever the
source rate (29.97, 60, 24 or variable), and read as packed RGB through a pipe in one go. Audio is
resampled to mono float32 (16 kHz by default).

Truncation policy
-----------------
A clip that ffmpeg cannot decode to the end is rejected as ``corrupt``, never kept in part. ffmpeg
signals truncation in two ways: a non-zero exit (a missing ``moov`` atom, broken headers) or, for a
file whose index survives but whose data is cut, a zero exit with fewer frames than the container
announces. The second case is caught by comparing the decoded frame count with the probed duration
(:data:`MIN_DECODED_FRACTION`). Partial clips would otherwise enter training with audio and video
of different lengths.
"""

from __future__ import annotations

import fcntl
import math
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import ffmpeg
import numpy as np

VIDEO_ERROR_REASONS = ("unreadable", "corrupt", "zero_frames")
MIN_DECODED_FRACTION = 0.9
"""A decode yielding fewer than this fraction of the frames expected from the probed duration
(minus one frame of rounding) is treated as truncated."""
STDERR_TAIL_CHARS = 400
PIPE_BUFFER_BYTES = 1 << 20


class VideoError(Exception):
    """A clip cannot be probed or decoded.

    Parameters
    ----------
    reason : str
        One of :data:`VIDEO_ERROR_REASONS`: ``unreadable`` (missing file, no permission),
        ``corrupt`` (ffprobe/ffmpeg fail, no video stream, truncated data) or ``zero_frames``.
    detail : str
        Human-readable explanation (for a failing ffmpeg: the tail of its stderr).
    """

    def __init__(self, reason: str, detail: str):
        if reason not in VIDEO_ERROR_REASONS:
            raise ValueError(f"unknown video error reason {reason!r}")
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class VideoInfo:
    """What ffprobe says about a clip.

    Attributes
    ----------
    width, height : int
        Frame size in pixels (as stored; rotation metadata is not applied).
    fps : float
        Average frame rate in frames/s.
    fps_fraction : str
        The same rate as an exact fraction, e.g. ``"30000/1001"``.
    duration_s : float
        Duration in seconds (video stream, else container).
    n_frames : int
        Number of source frames: the container's count when given, else ``round(duration_s * fps)``.
    codec : str
        Video codec name, e.g. ``"h264"``.
    has_audio : bool
        Whether there is an audio stream.
    audio_sample_rate : int or None
        Sample rate of the first audio stream in Hz.
    audio_channels : int or None
        Channel count of the first audio stream.
    """

    width: int
    height: int
    fps: float
    fps_fraction: str
    duration_s: float
    n_frames: int
    codec: str
    has_audio: bool
    audio_sample_rate: int | None
    audio_channels: int | None

    def frames_at(self, fps: float) -> int:
        """Number of frames expected after resampling to ``fps`` frames/s."""
        return int(round(self.duration_s * fps))


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise VideoError("unreadable", f"{path} does not exist")
    if not path.is_file():
        raise VideoError("unreadable", f"{path} is not a regular file")
    if not os.access(path, os.R_OK):
        raise VideoError("unreadable", f"{path} is not readable (permission denied)")


def _stderr_tail(stderr: bytes | None) -> str:
    """Last characters of ffmpeg's stderr, without the per-run memory addresses
    (``[mov,mp4 @ 0x55d0c0]``) so the same failure gives the same text."""
    text = (stderr or b"").decode("utf-8", "replace")
    text = re.sub(r" @ 0x[0-9a-f]+\]", "]", text).strip()
    return text[-STDERR_TAIL_CHARS:] or "ffmpeg failed without a message"


def _run_to_bytes(stream) -> bytes:
    """Run an ffmpeg-python output stream writing to ``pipe:`` and return all of stdout.

    stdout is read in one call through an enlarged pipe (fewer context switches than
    ``communicate``); stderr goes to a temporary file so neither pipe can fill up and block.
    """
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(stream.compile(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr)
        try:
            fcntl.fcntl(process.stdout.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BUFFER_BYTES)
        except OSError:
            pass  # the system caps pipe sizes lower: the default size only costs speed
        with process.stdout:
            data = process.stdout.read()
        if process.wait() != 0:
            stderr.seek(0)
            raise VideoError("corrupt", _stderr_tail(stderr.read()))
    return data


def _parse_rate(text: str | None) -> Fraction | None:
    try:
        rate = Fraction(text)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return rate if rate > 0 else None


def _float_or_none(text) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def probe(path: str | os.PathLike) -> VideoInfo:
    """Probe a clip with ffprobe.

    Parameters
    ----------
    path : path-like
        Video file.

    Returns
    -------
    VideoInfo

    Raises
    ------
    VideoError
        ``unreadable`` when the file is missing or not readable, ``corrupt`` when ffprobe fails or
        there is no video stream, ``zero_frames`` when the video stream is empty.
    """
    path = Path(path)
    _check_readable(path)
    if path.stat().st_size == 0:
        raise VideoError("corrupt", f"{path} is empty (0 bytes)")
    try:
        meta = ffmpeg.probe(str(path), v="error")
    except ffmpeg.Error as error:
        raise VideoError("corrupt", _stderr_tail(error.stderr)) from None
    streams = meta.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    if video is None:
        raise VideoError("corrupt", f"{path} has no video stream")
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)

    rate = _parse_rate(video.get("avg_frame_rate")) or _parse_rate(video.get("r_frame_rate"))
    if rate is None:
        raise VideoError("corrupt", f"{path}: no usable frame rate in the video stream")
    duration = _float_or_none(video.get("duration")) or _float_or_none(meta.get("format", {}).get("duration"))
    counted = int(video["nb_frames"]) if str(video.get("nb_frames", "")).isdigit() else None
    if duration is None and counted:
        duration = counted / float(rate)
    if not duration or counted == 0:
        raise VideoError("zero_frames", f"{path}: the video stream has no frames")
    return VideoInfo(
        width=int(video["width"]),
        height=int(video["height"]),
        fps=float(rate),
        fps_fraction=f"{rate.numerator}/{rate.denominator}",
        duration_s=duration,
        n_frames=counted if counted else int(round(duration * float(rate))),
        codec=str(video.get("codec_name", "unknown")),
        has_audio=audio is not None,
        audio_sample_rate=int(audio["sample_rate"]) if audio and "sample_rate" in audio else None,
        audio_channels=int(audio["channels"]) if audio and "channels" in audio else None,
    )


def _video_output(source, fps: float, scale_to: tuple[int, int] | None):
    stream = source.video.filter("fps", fps=fps)
    if scale_to is not None:
        stream = stream.filter("scale", scale_to[0], scale_to[1], flags="area")
    return ffmpeg.output(stream, "pipe:", format="rawvideo", pix_fmt="rgb24")


def _audio_output(source, target: str, sample_rate: int):
    return ffmpeg.output(source.audio, target, format="f32le", acodec="pcm_f32le", ac=1, ar=sample_rate)


def _frames_from_bytes(raw: bytes, path, info: VideoInfo, fps: float, size: tuple[int, int]) -> np.ndarray:
    width, height = size
    frame_bytes = width * height * 3
    n_frames = len(raw) // frame_bytes
    if n_frames == 0:
        raise VideoError("zero_frames", f"{path}: no frame could be decoded")
    expected = info.frames_at(fps)
    if n_frames < MIN_DECODED_FRACTION * expected - 1:
        raise VideoError("corrupt", f"{path}: truncated, decoded {n_frames} of {expected} frames at {fps:g} fps")
    return np.frombuffer(raw, np.uint8, count=n_frames * frame_bytes).reshape(n_frames, height, width, 3)


def _samples_from_bytes(raw: bytes) -> np.ndarray:
    return np.clip(np.frombuffer(raw, np.float32, count=len(raw) // 4), -1.0, 1.0)


def _global_args(stream, threads: int):
    return stream.global_args("-loglevel", "error", "-filter_threads", str(threads)).overwrite_output()


def decode_frames(
    path: str | os.PathLike,
    fps: float = 25.0,
    scale_to: tuple[int, int] | None = None,
    *,
    threads: int = 1,
    info: VideoInfo | None = None,
) -> np.ndarray:
    """Decode a clip to RGB frames at a fixed frame rate.

    Parameters
    ----------
    path : path-like
        Video file.
    fps : float
        Output frame rate in frames/s; ffmpeg's ``fps`` filter drops or repeats frames to reach it.
    scale_to : (width, height) or None
        Resize every frame to this size in pixels (ffmpeg ``scale``, area filter) before output;
        None keeps the source size.
    threads : int
        ffmpeg decoder and filter threads.
    info : VideoInfo, optional
        Result of :func:`probe` for ``path``; probed here when omitted.

    Returns
    -------
    np.ndarray
        ``(T, H, W, 3)`` uint8 RGB, ``T ≈ duration_s * fps``. The array is a read-only view of the
        decoded bytes (no copy).

    Raises
    ------
    VideoError
        As :func:`probe`; ``corrupt`` when ffmpeg fails or the clip is truncated (see module
        docstring), ``zero_frames`` when nothing decodes.
    """
    info = info or probe(path)
    source = ffmpeg.input(str(path), threads=threads)
    raw = _run_to_bytes(_global_args(_video_output(source, fps, scale_to), threads))
    return _frames_from_bytes(raw, path, info, fps, scale_to or (info.width, info.height))


def decode_audio(
    path: str | os.PathLike,
    sample_rate: int = 16000,
    *,
    info: VideoInfo | None = None,
) -> np.ndarray | None:
    """Decode the first audio stream to mono float32.

    Parameters
    ----------
    path : path-like
        Video file.
    sample_rate : int
        Output sample rate in Hz.
    info : VideoInfo, optional
        Result of :func:`probe` for ``path``; probed here when omitted.

    Returns
    -------
    np.ndarray or None
        ``(S,)`` float32 samples in [-1, 1] (channels averaged by ffmpeg), or None when the clip has
        no audio stream.

    Raises
    ------
    VideoError
        As :func:`probe`; ``corrupt`` when ffmpeg fails on the audio.
    """
    info = info or probe(path)
    if not info.has_audio:
        return None
    source = ffmpeg.input(str(path))
    return _samples_from_bytes(_run_to_bytes(_global_args(_audio_output(source, "pipe:", sample_rate), 1)))


def decode_clip(
    path: str | os.PathLike,
    fps: float = 25.0,
    scale_to: tuple[int, int] | None = None,
    sample_rate: int = 16000,
    *,
    threads: int = 1,
    info: VideoInfo | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Decode frames and audio in one ffmpeg run (one process start less than decoding them apart).

    Parameters and errors are those of :func:`decode_frames` and :func:`decode_audio`; the audio
    goes through a temporary file while the frames come through the pipe.

    Returns
    -------
    frames : np.ndarray
        ``(T, H, W, 3)`` uint8 RGB (read-only).
    audio : np.ndarray or None
        ``(S,)`` float32 mono in [-1, 1], None when the clip has no audio stream.
    """
    info = info or probe(path)
    if not info.has_audio:
        return decode_frames(path, fps, scale_to, threads=threads, info=info), None
    source = ffmpeg.input(str(path), threads=threads)
    with tempfile.TemporaryDirectory(prefix="headgan-audio-") as folder:
        audio_path = os.path.join(folder, "audio.f32")
        outputs = ffmpeg.merge_outputs(
            _video_output(source, fps, scale_to), _audio_output(source, audio_path, sample_rate)
        )
        raw = _run_to_bytes(_global_args(outputs, threads))
        with open(audio_path, "rb") as handle:
            audio = _samples_from_bytes(handle.read())
    return _frames_from_bytes(raw, path, info, fps, scale_to or (info.width, info.height)), audio


def fit_within(width: int, height: int, max_side: int | None) -> tuple[int, int] | None:
    """Size ``(width, height)`` scaled down so the longer side is at most ``max_side`` pixels.

    Returns None when no scaling is needed (``max_side`` None or not smaller than the longer side),
    so the result can be passed straight to :func:`decode_frames` as ``scale_to``. Both sides stay
    even (what most encoders and the ``scale`` filter prefer) and at least 2 pixels.
    """
    if not max_side or max(width, height) <= max_side:
        return None
    factor = max_side / max(width, height)
    return max(2, 2 * round(width * factor / 2)), max(2, 2 * round(height * factor / 2))
