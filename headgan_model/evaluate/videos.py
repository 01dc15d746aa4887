"""Generated videos read back for scoring: uint8 frames (FFmpeg's libraries through PyAV) and the
encoding that produced them.

Frames are decoded by the ingest stage's decoder (:func:`headgan_prep.ingest.video.decode_frames`,
at the file's own frame rate, so no frame is dropped or repeated) and a truncated file is an error.
The encoder settings come from the file: libx264 writes its version and options (rate control,
``crf``, threads, …) into the first frame's SEI message, which :func:`video_format` parses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

from headgan_model.metrics.frames import FrameMismatch
from headgan_prep.ingest.video import VideoError, decode_frames, probe

X264_SEI = re.compile(rb"x264 - core (\d+)[^\x00]*? - options: ([^\x00]*)")
"""libx264's SEI user data: core version and its ``key=value`` options."""
X264_OPTIONS = ("rc", "crf", "bitrate", "qp", "threads", "bframes", "keyint")
"""The x264 options a protocol records (those that change the decoded frames or their bytes)."""


class VideoReadError(ValueError):
    """A generated video is missing, cannot be decoded, or does not match its ground truth."""


@dataclass(frozen=True)
class VideoFormat:
    """How a video file is encoded.

    Attributes
    ----------
    codec : str
        Decoder name, e.g. ``h264``.
    profile : str or None
        Codec profile, e.g. ``High``.
    pix_fmt : str
        Pixel format, e.g. ``yuv420p`` (chroma subsampled: colours are not stored per pixel).
    width, height : int
        Frame size, pixels.
    fps : str
        Frame rate as a fraction, e.g. ``25``.
    encoder : str or None
        ``x264 core {N}`` when libx264 wrote the stream, else None.
    options : dict
        The encoder's :data:`X264_OPTIONS` as strings (empty for other encoders).
    """

    codec: str
    profile: str | None
    pix_fmt: str
    width: int
    height: int
    fps: str
    encoder: str | None = None
    options: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "codec": self.codec,
            "profile": self.profile,
            "pix_fmt": self.pix_fmt,
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            "encoder": self.encoder,
            "options": dict(sorted(self.options.items())),
        }


def video_format(path: str | Path) -> VideoFormat:
    """The encoding of ``path``'s first video stream (module docstring).

    Raises
    ------
    VideoReadError
        The file is missing or not a video.
    """
    path = Path(path)
    if not path.is_file():
        raise VideoReadError(f"generated video {path} is missing")
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            context = stream.codec_context
            first = next(container.demux(stream), None)
            payload = bytes(first) if first is not None else b""
            encoder, options = None, {}
            match = X264_SEI.search(payload)
            if match:
                encoder = f"x264 core {match.group(1).decode()}"
                pairs = (
                    item.split("=", 1) for item in match.group(2).decode("ascii", "replace").split() if "=" in item
                )
                options = {key: value for key, value in pairs if key in X264_OPTIONS}
            return VideoFormat(
                context.name,
                context.profile,
                context.pix_fmt,
                context.width,
                context.height,
                str(stream.average_rate),
                encoder,
                options,
            )
    except (av.FFmpegError, IndexError) as error:
        raise VideoReadError(f"{path} is not a readable video: {error}") from None


def read_frames(path: str | Path) -> np.ndarray:
    """All frames of a generated video at its own frame rate.

    Returns
    -------
    np.ndarray
        ``(T, H, W, 3)`` uint8 RGB.

    Raises
    ------
    VideoReadError
        Missing, undecodable or truncated file (the message names it).
    """
    path = Path(path)
    if not path.is_file():
        raise VideoReadError(f"generated video {path} is missing")
    try:
        info = probe(path)
        return decode_frames(path, fps=info.fps, info=info)
    except VideoError as error:
        raise VideoReadError(f"{path}: {error}") from None


def check_like(generated: np.ndarray, real: np.ndarray, what: str) -> None:
    """Raise :class:`~headgan_model.metrics.frames.FrameMismatch` naming ``what`` (a clip and its
    file) when a generated video and its ground truth differ in frame count or size.

    Parameters
    ----------
    generated, real : np.ndarray
        ``(T, H, W, 3)`` and ``(T', H', W', 3)`` uint8.
    """
    if generated.shape != real.shape:
        raise FrameMismatch(
            f"{what}: the generated video has {len(generated)} frames of {generated.shape[2]}×{generated.shape[1]}, "
            f"its ground truth {len(real)} frames of {real.shape[2]}×{real.shape[1]}: videos of different lengths "
            "or sizes cannot be scored frame by frame (regenerate them with `snakemake apps`)"
        )


def unique_formats(formats: dict[str, dict]) -> list[dict]:
    """The distinct encodings of ``{video name: VideoFormat.to_dict()}``, each with its ``videos`` count."""
    distinct: dict[str, dict] = {}
    for item in formats.values():
        key = repr(sorted(item.items()))
        distinct.setdefault(key, {**item, "videos": 0})["videos"] += 1
    return [distinct[key] for key in sorted(distinct)]
