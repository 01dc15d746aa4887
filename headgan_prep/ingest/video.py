"""Probe and decode video clips in-process with FFmpeg's libraries (PyAV).

Frames are resampled to a fixed rate (25 fps by default) with FFmpeg's ``fps`` filter, whatever the
source rate (29.97, 60, 24 or variable), optionally scaled (``scale``, area filter) and converted
to packed RGB in the same filter graph. Audio is resampled to mono float32 (16 kHz by default) with
libswresample. One pass over the container decodes both streams: no process is started and no
frame is copied through a pipe, which at VoxCeleb clip lengths halves the decode time per frame
against running the ``ffmpeg`` program (its start-up alone is ≈ 60 ms a clip, ffprobe's another 70).

Truncation policy
-----------------
A clip that cannot be decoded to the end is rejected as ``corrupt``, never kept in part.
Truncation shows in two ways: the container cannot be opened (a missing ``moov`` atom, broken
headers), or, for a file whose index survives but whose data is cut, fewer frames decode than the
container announces. The second case is caught by comparing the decoded frame count with the
probed duration (:data:`MIN_DECODED_FRACTION`). Partial clips would otherwise enter training with
audio and video of different lengths. A packet that fails to decode is skipped, as the ``ffmpeg``
program does (error concealment); only the frame count decides.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

VIDEO_ERROR_REASONS = ("unreadable", "corrupt", "zero_frames")
MIN_DECODED_FRACTION = 0.9
"""A decode yielding fewer than this fraction of the frames expected from the probed duration
(minus one frame of rounding) is treated as truncated."""


class VideoError(Exception):
    """A clip cannot be probed or decoded.

    Parameters
    ----------
    reason : str
        One of :data:`VIDEO_ERROR_REASONS`: ``unreadable`` (missing file, no permission),
        ``corrupt`` (FFmpeg cannot open or demux it, no video stream, truncated data) or
        ``zero_frames``.
    detail : str
        Human-readable explanation (for an FFmpeg failure: its error message).
    """

    def __init__(self, reason: str, detail: str):
        if reason not in VIDEO_ERROR_REASONS:
            raise ValueError(f"unknown video error reason {reason!r}")
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a clip.

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
    if path.stat().st_size == 0:
        raise VideoError("corrupt", f"{path} is empty (0 bytes)")


def _open(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), mode="r")
    except av.error.FFmpegError as error:
        raise VideoError("corrupt", f"{path}: {error.strerror}") from None


def _positive_rate(rate) -> Fraction | None:
    return Fraction(rate) if rate is not None and rate > 0 else None


def _seconds(value: int | None, unit: Fraction | float | None) -> float | None:
    if value is None or unit is None:
        return None
    seconds = float(value * unit)
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def _info(path: Path, container: av.container.InputContainer) -> VideoInfo:
    if not container.streams.video:
        raise VideoError("corrupt", f"{path} has no video stream")
    video = container.streams.video[0]
    audio = container.streams.audio[0] if container.streams.audio else None
    rate = _positive_rate(video.average_rate) or _positive_rate(video.base_rate)
    if rate is None:
        raise VideoError("corrupt", f"{path}: no usable frame rate in the video stream")
    duration = _seconds(video.duration, video.time_base) or _seconds(container.duration, Fraction(1, av.time_base))
    counted = video.frames or None  # 0: the container does not say
    if duration is None and counted:
        duration = counted / float(rate)
    if not duration:
        raise VideoError("zero_frames", f"{path}: the video stream has no frames")
    return VideoInfo(
        width=int(video.codec_context.width),
        height=int(video.codec_context.height),
        fps=float(rate),
        fps_fraction=f"{rate.numerator}/{rate.denominator}",
        duration_s=duration,
        n_frames=counted if counted else int(round(duration * float(rate))),
        codec=str(video.codec_context.name),
        has_audio=audio is not None,
        audio_sample_rate=int(audio.sample_rate) if audio is not None and audio.sample_rate else None,
        audio_channels=int(audio.channels) if audio is not None and audio.channels else None,
    )


def probe(path: str | os.PathLike) -> VideoInfo:
    """Read a clip's stream parameters.

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
        ``unreadable`` when the file is missing or not readable, ``corrupt`` when FFmpeg cannot
        open it or there is no video stream, ``zero_frames`` when the video stream is empty.
    """
    path = Path(path)
    _check_readable(path)
    with _open(path) as container:
        return _info(path, container)


class _FrameSink:
    """Collects filtered RGB frames into one growing ``(T, H, W, 3)`` uint8 array."""

    def __init__(self, expected: int, size: tuple[int, int]):
        width, height = size
        self.frames = np.empty((max(expected, 1) + 2, height, width, 3), np.uint8)
        self.count = 0

    def add_all(self, frames: Iterator[av.VideoFrame]) -> None:
        for frame in frames:
            if self.count == len(self.frames):
                self.frames = np.concatenate([self.frames, np.empty_like(self.frames[: len(self.frames) // 2 + 1])])
            self.frames[self.count] = frame.to_ndarray()
            self.count += 1

    def result(self) -> np.ndarray:
        return self.frames[: self.count]


def _video_graph(stream: av.VideoStream, fps: float, scale_to: tuple[int, int] | None) -> av.filter.Graph:
    """buffer → fps → [scale, area] → rgb24 → buffersink."""
    graph = av.filter.Graph()
    chain = [graph.add_buffer(template=stream), graph.add("fps", f"fps={Fraction(fps).limit_denominator(1001)}")]
    if scale_to is not None:
        chain.append(graph.add("scale", f"{scale_to[0]}:{scale_to[1]}:flags=area"))
    chain += [graph.add("format", "rgb24"), graph.add("buffersink")]
    for upstream, downstream in zip(chain, chain[1:]):
        upstream.link_to(downstream)
    graph.configure()
    return graph


def _pull_all(graph: av.filter.Graph) -> Iterator[av.VideoFrame]:
    while True:
        try:
            yield graph.pull()
        except (av.error.BlockingIOError, av.error.EOFError):
            return


def _decode_packet(stream_decoder, packet) -> list:
    """Frames of one packet (empty for a packet that fails to decode: concealment, as ffmpeg)."""
    try:
        return stream_decoder.decode(packet)
    except av.error.InvalidDataError:
        return []


def _decode(
    path: Path,
    info: VideoInfo,
    video_output: tuple[float, tuple[int, int] | None] | None,
    sample_rate: int | None,
    threads: int,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """One pass over the container: frames when ``video_output`` is ``(fps, scale_to)``, audio when
    ``sample_rate`` is given and the clip has an audio stream (None otherwise)."""
    with _open(path) as container:
        streams, sink, resampler, samples = [], None, None, []
        if video_output is not None:
            fps, scale_to = video_output
            video = container.streams.video[0]
            video.thread_type = "AUTO" if threads > 1 else "SLICE"
            video.thread_count = threads
            graph = _video_graph(video, fps, scale_to)
            sink = _FrameSink(info.frames_at(fps), scale_to or (info.width, info.height))
            streams.append(video)
        if sample_rate and container.streams.audio:
            resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
            streams.append(container.streams.audio[0])
        try:
            for packet in container.demux(*streams):
                decoded = _decode_packet(packet.stream.codec_context, packet)
                if packet.stream.type == "video":
                    for frame in decoded:
                        graph.push(frame)
                        sink.add_all(_pull_all(graph))
                else:
                    samples += [chunk.to_ndarray()[0] for frame in decoded for chunk in resampler.resample(frame)]
            if sink is not None:
                graph.push(None)
                sink.add_all(_pull_all(graph))
            if resampler is not None:
                samples += [chunk.to_ndarray()[0] for chunk in resampler.resample(None)]
        except av.error.FFmpegError as error:
            raise VideoError("corrupt", f"{path}: {error.strerror}") from None
    frames = None if sink is None else _checked_frames(path, info, video_output[0], sink.result())
    if resampler is None:
        return frames, None
    sound = np.concatenate(samples) if samples else np.zeros(0, np.float32)
    return frames, np.clip(sound, -1.0, 1.0)


def _checked_frames(path: Path, info: VideoInfo, fps: float, frames: np.ndarray) -> np.ndarray:
    """``frames``, unless none decoded (``zero_frames``) or fewer than expected (``corrupt``)."""
    if len(frames) == 0:
        raise VideoError("zero_frames", f"{path}: no frame could be decoded")
    expected = info.frames_at(fps)
    if len(frames) < MIN_DECODED_FRACTION * expected - 1:
        raise VideoError("corrupt", f"{path}: truncated, decoded {len(frames)} of {expected} frames at {fps:g} fps")
    return frames


def _prepared(path: str | os.PathLike, info: VideoInfo | None) -> tuple[Path, VideoInfo]:
    path = Path(path)
    if info is None:
        return path, probe(path)
    _check_readable(path)
    return path, info


def decode_clip(
    path: str | os.PathLike,
    fps: float = 25.0,
    scale_to: tuple[int, int] | None = None,
    sample_rate: int = 16000,
    *,
    threads: int = 1,
    info: VideoInfo | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Decode frames and audio in one pass over the container.

    Parameters
    ----------
    path : path-like
        Video file.
    fps : float
        Output frame rate in frames/s; the ``fps`` filter drops or repeats frames to reach it.
    scale_to : (width, height) or None
        Resize every frame to this size in pixels (``scale``, area filter) before output; None
        keeps the source size.
    sample_rate : int
        Output audio rate in Hz.
    threads : int
        Decoder threads.
    info : VideoInfo, optional
        Result of :func:`probe` for ``path``; probed here when omitted.

    Returns
    -------
    frames : np.ndarray
        ``(T, H, W, 3)`` uint8 RGB, ``T ≈ duration_s * fps``.
    audio : np.ndarray or None
        ``(S,)`` float32 mono in [-1, 1] (channels averaged), None when the clip has no audio stream.

    Raises
    ------
    VideoError
        As :func:`probe`; ``corrupt`` when decoding fails or the clip is truncated (see module
        docstring), ``zero_frames`` when nothing decodes.
    """
    path, info = _prepared(path, info)
    return _decode(path, info, (fps, scale_to), sample_rate, threads)


def decode_frames(
    path: str | os.PathLike,
    fps: float = 25.0,
    scale_to: tuple[int, int] | None = None,
    *,
    threads: int = 1,
    info: VideoInfo | None = None,
) -> np.ndarray:
    """Decode a clip to ``(T, H, W, 3)`` uint8 RGB frames at a fixed frame rate.

    Parameters and errors as :func:`decode_clip`; the audio stream is not decoded.
    """
    path, info = _prepared(path, info)
    return _decode(path, info, (fps, scale_to), None, threads)[0]


def decode_audio(
    path: str | os.PathLike,
    sample_rate: int = 16000,
    *,
    info: VideoInfo | None = None,
) -> np.ndarray | None:
    """Decode the first audio stream to ``(S,)`` float32 mono in [-1, 1] at ``sample_rate`` Hz.

    Returns None when the clip has no audio stream. Raises :class:`VideoError` as :func:`probe`, and
    ``corrupt`` when demuxing fails.
    """
    path, info = _prepared(path, info)
    return _decode(path, info, None, sample_rate, 1)[1] if info.has_audio else None


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
