"""Facial video compression (paper §4.4): a reference image and 35 quantised floats per frame.

**Encoder.** A clip becomes its reference frame as a JPEG, the identity parameters once (float32),
and per frame the 28 expression and 7 camera parameters (35 values for the paper's 28-component
expression basis; ``n_exp + 7`` in general). Each of these per-frame values is quantised uniformly
to ``bits`` bits between its minimum and maximum over the clip (both sent once as float32): the
code of ``v`` is ``round((v − low) / step)`` with ``step = (high − low) / (2^bits − 1)``, so the
decoded value is within ``step / 2`` of ``v``. Frames the fit marked invalid take the values of the
nearest valid frame. No audio is sent; the decoder's generator is the audio-free one or gets
silent-audio features (:func:`headgan_model.apps.frontalise.audio_free_animator`).

**Stream** (little-endian; :func:`stream_bits` counts it)::

    header        8 × uint32: magic, version, T, bits, n_id, n_values, reference frame, JPEG bytes
    identity      n_id × float32
    low, high     2 · n_values × float32
    reference     the JPEG
    codes         T · n_values · bits bits, packed MSB first, padded to a whole byte

With 16 bits the per-frame payload is 35 · 16 = 560 bits, 14 kbit/s at 25 fps; the header,
identity, ranges and JPEG are sent once per clip.

**Decoder.** The dequantised parameters are rendered as NMFC images and the generator regenerates
the clip from the decoded JPEG (its NMFC image rendered from the decoded parameters of the
reference frame).

:func:`compare_codecs` encodes the same crops with H.264 and H.265 (libx264, libx265 through PyAV)
at target bitrates and measures the bits they took and the PSNR of the decoded frames.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from headgan_model.apps.clips import Clip, split_clips
from headgan_model.apps.frontalise import audio_free_animator, task_audio
from headgan_model.apps.inference import Animator
from headgan_model.apps.settings import AppsSettings
from headgan_model.apps.tables import write_tsv
from headgan_model.apps.video import FPS, write_mp4
from headgan_prep.dataset.reader import DatasetReader
from headgan_prep.fit.camera import CAMERA_SIZE
from headgan_prep.fit.parameters import FaceParameters
from headgan_prep.morphable.model import MorphableModel
from headgan_prep.render.renderer import NMFCRenderer, RenderConfig
from headgan_prep.store.atomic import atomic_directory, atomic_file

MAGIC = 0x48474E43
"""``"HGNC"``: first word of a stream."""
VERSION = 1
HEADER = struct.Struct("<8I")
DECODERS = {"libx264": "h264", "libx265": "hevc"}
"""Decoder of each compared encoder."""
CODEC_OPTIONS = {"libx264": {"threads": "1"}, "libx265": {"x265-params": "log-level=error:pools=1:frame-threads=1"}}
"""Single-threaded encoders: the same frames give the same bits."""
RESULT_COLUMNS = ("clip_id", "method", "setting", "bits_per_frame", "kbps", "psnr_db")


@dataclass(frozen=True)
class Encoded:
    """One compressed clip.

    Attributes
    ----------
    identity : np.ndarray
        ``(n_id,)`` float32.
    low, high : np.ndarray
        ``(n_values,)`` float32 range of each per-frame value.
    codes : np.ndarray
        ``(T, n_values)`` uint32 quantised values.
    bits : int
    reference : int
        Frame number of the reference.
    jpeg : bytes
        The reference frame.
    """

    identity: np.ndarray
    low: np.ndarray
    high: np.ndarray
    codes: np.ndarray
    bits: int
    reference: int
    jpeg: bytes

    @property
    def n_frames(self) -> int:
        return len(self.codes)

    def to_bytes(self) -> bytes:
        """The stream (module docstring)."""
        n_values = self.codes.shape[1]
        header = HEADER.pack(MAGIC, VERSION, self.n_frames, self.bits, len(self.identity), n_values, self.reference, len(self.jpeg))
        shifts = np.arange(self.bits - 1, -1, -1, dtype=np.uint64)
        code_bits = ((self.codes.astype(np.uint64)[..., None] >> shifts) & 1).astype(np.uint8)
        floats = np.concatenate([self.identity, self.low, self.high]).astype("<f4").tobytes()
        return header + floats + self.jpeg + np.packbits(code_bits.ravel()).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Encoded:
        """Parse a stream of :meth:`to_bytes`."""
        magic, version, n_frames, bits, n_id, n_values, reference, n_jpeg = HEADER.unpack_from(data)
        if (magic, version) != (MAGIC, VERSION):
            raise ValueError(f"not a HeadGAN compressed stream (magic {magic:#x}, version {version})")
        offset = HEADER.size
        floats = np.frombuffer(data, "<f4", n_id + 2 * n_values, offset).astype(np.float32)
        offset += 4 * len(floats)
        jpeg = data[offset : offset + n_jpeg]
        code_bits = np.unpackbits(np.frombuffer(data, np.uint8, offset=offset + n_jpeg))[: n_frames * n_values * bits]
        weights = np.uint64(1) << np.arange(bits - 1, -1, -1, dtype=np.uint64)
        codes = (code_bits.reshape(n_frames, n_values, bits).astype(np.uint64) * weights).sum(axis=-1).astype(np.uint32)
        identity, low, high = floats[:n_id], floats[n_id : n_id + n_values], floats[n_id + n_values :]
        return cls(identity, low, high, codes, bits, reference, jpeg)


def stream_bits(n_frames: int, n_id: int, n_values: int, bits: int, jpeg_bytes: int) -> int:
    """Length in bits of a stream (module docstring): header, floats and JPEG, codes padded to a byte."""
    return 8 * (HEADER.size + 4 * (n_id + 2 * n_values) + jpeg_bytes + -(-n_frames * n_values * bits // 8))


def quantise(values: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Uniform quantisation of each column between its minimum and maximum.

    Parameters
    ----------
    values : np.ndarray
        ``(T, D)`` finite.
    bits : int

    Returns
    -------
    codes : np.ndarray
        ``(T, D)`` uint32 in ``[0, 2^bits − 1]``.
    low, high : np.ndarray
        ``(D,)`` float32.
    """
    values = np.asarray(values, np.float64)
    low, high = values.min(axis=0).astype(np.float32), values.max(axis=0).astype(np.float32)
    step = quantisation_step(low, high, bits)
    codes = np.round((values - low) / np.where(step > 0, step, 1.0))
    return np.clip(codes, 0, (1 << bits) - 1).astype(np.uint32), low, high


def quantisation_step(low: np.ndarray, high: np.ndarray, bits: int) -> np.ndarray:
    """``(D,)`` float64 step ``(high − low) / (2^bits − 1)``."""
    return (np.asarray(high, np.float64) - np.asarray(low, np.float64)) / ((1 << bits) - 1)


def dequantise(encoded: Encoded) -> np.ndarray:
    """``(T, n_values)`` float32 decoded per-frame values."""
    return (encoded.low + encoded.codes * quantisation_step(encoded.low, encoded.high, encoded.bits)).astype(np.float32)


def _nearest_valid(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(valid)
    return values[rows[np.abs(np.arange(len(values))[:, None] - rows[None]).argmin(axis=1)]]


def encode(parameters: FaceParameters, valid: np.ndarray, reference_frame: np.ndarray, reference: int, bits: int, jpeg_quality: int) -> Encoded:
    """Compress a clip's fit and its reference frame.

    Parameters
    ----------
    parameters : FaceParameters
        The fit: ``(T, n_exp)`` expressions and ``(T, 7)`` cameras.
    valid : np.ndarray
        ``(T,)`` bool, frames with a valid fit (at least one).
    reference_frame : np.ndarray
        ``(S, S, 3)`` uint8.
    reference : int
        Its frame number.
    bits : int
    jpeg_quality : int
    """
    values = np.concatenate([parameters.expression, parameters.camera], axis=1)
    codes, low, high = quantise(_nearest_valid(values, np.asarray(valid, bool)), bits)
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(reference_frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    if not ok:
        raise RuntimeError("JPEG encoding of the reference frame failed")
    return Encoded(parameters.identity, low, high, codes, bits, reference, jpeg.tobytes())


def decoded_parameters(encoded: Encoded) -> FaceParameters:
    """The dequantised fit."""
    values = dequantise(encoded)
    return FaceParameters(encoded.identity, values[:, :-CAMERA_SIZE], values[:, -CAMERA_SIZE:])


def decode(encoded: Encoded, renderer: NMFCRenderer, animator: Animator) -> np.ndarray:
    """``(T, S, S, 3)`` uint8: the clip regenerated from a stream."""
    reference = cv2.cvtColor(cv2.imdecode(np.frombuffer(encoded.jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    nmfc = renderer.render_parameters(decoded_parameters(encoded))
    return animator.animate(reference, nmfc[encoded.reference], nmfc, task_audio(animator, encoded.n_frames))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 videos (mean squared error over every pixel and channel)."""
    error = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)
    return float("inf") if error == 0 else float(10 * np.log10(255.0**2 / error))


def encode_with_codec(frames: np.ndarray, codec: str, kbps: float) -> tuple[int, np.ndarray]:
    """Encode frames with libx264 or libx265 at a target bitrate and decode them back.

    Returns
    -------
    bits : int
        Bits of the encoded stream (every packet, no container).
    decoded : np.ndarray
        ``(T, S, S, 3)`` uint8.
    """
    encoder = av.CodecContext.create(codec, "w")
    encoder.width, encoder.height, encoder.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
    encoder.time_base, encoder.framerate = Fraction(1, FPS), FPS
    encoder.bit_rate = int(kbps * 1000)
    encoder.options = CODEC_OPTIONS[codec]
    packets = []
    for t, frame in enumerate(frames):
        picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        picture.pts = t
        packets += encoder.encode(picture)
    packets += encoder.encode(None)
    decoder = av.CodecContext.create(DECODERS[codec], "r")
    pictures = [p for packet in packets for p in decoder.decode(packet)] + list(decoder.decode(None))
    return 8 * sum(p.size for p in packets), np.stack([p.to_ndarray(format="rgb24") for p in pictures])


def compress_clip(clip: Clip, renderer: NMFCRenderer, animator: Animator, settings: AppsSettings) -> tuple[Encoded, np.ndarray, list[dict]]:
    """Encode and decode one clip and compare with the codecs; returns the stream, the decoded
    frames and the rows of ``results.tsv``."""
    options = settings.compress
    reference = clip.n_frames // 2
    encoded = encode(clip.parameters, clip.fit_valid, clip.frames[reference], reference, options.bits, options.jpeg_quality)
    decoded = decode(Encoded.from_bytes(encoded.to_bytes()), renderer, animator)
    seconds = clip.n_frames / FPS
    n_values = encoded.codes.shape[1]
    total = stream_bits(clip.n_frames, len(encoded.identity), n_values, options.bits, len(encoded.jpeg))
    rows = [
        {
            "clip_id": clip.clip_id,
            "method": "headgan",
            "setting": f"{n_values} values × {options.bits} bits",
            "bits_per_frame": n_values * options.bits,
            "kbps": f"{n_values * options.bits * FPS / 1000:.3f}",
            "psnr_db": f"{psnr(decoded, clip.frames):.3f}",
        },
        {
            "clip_id": clip.clip_id,
            "method": "headgan+reference",
            "setting": f"JPEG q{options.jpeg_quality}, {len(encoded.jpeg)} bytes",
            "bits_per_frame": f"{total / clip.n_frames:.1f}",
            "kbps": f"{total / seconds / 1000:.3f}",
            "psnr_db": f"{psnr(decoded, clip.frames):.3f}",
        },
    ]
    for codec in options.codecs:
        for kbps in options.bitrates:
            bits, frames = encode_with_codec(clip.frames, codec, kbps)
            rows.append(
                {
                    "clip_id": clip.clip_id,
                    "method": codec,
                    "setting": f"target {kbps:g} kbit/s",
                    "bits_per_frame": f"{bits / clip.n_frames:.1f}",
                    "kbps": f"{bits / seconds / 1000:.3f}",
                    "psnr_db": f"{psnr(frames, clip.frames):.3f}",
                }
            )
    return encoded, decoded, rows


def summary_table(rows: list[dict]) -> str:
    """Markdown table of the mean bits/frame, kbit/s and PSNR of each method and setting over the clips."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        key = (row["method"], row["setting"] if row["method"].startswith("lib") else row["method"])
        groups.setdefault(key, []).append(row)
    lines = ["| method | setting | bits/frame | kbit/s | PSNR (dB) |", "|---|---|---:|---:|---:|"]
    for (method, _), members in groups.items():
        mean = {k: np.mean([float(m[k]) for m in members]) for k in ("bits_per_frame", "kbps", "psnr_db")}
        setting = members[0]["setting"] if method.startswith("lib") or method == "headgan" else "reference amortised over the clip"
        lines.append(f"| {method} | {setting} | {mean['bits_per_frame']:.1f} | {mean['kbps']:.2f} | {mean['psnr_db']:.2f} |")
    return "\n".join(lines) + "\n"


def plot_rate_quality(rows: list[dict], path: Path) -> None:
    """Rate–PSNR plot (kbit/s, log scale) of every method, clips averaged, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    for method in dict.fromkeys(r["method"] for r in rows):
        settings = list(dict.fromkeys(r["setting"] for r in rows if r["method"] == method))
        points = [
            (np.mean([float(r["kbps"]) for r in rows if r["method"] == method and r["setting"] == s]),
             np.mean([float(r["psnr_db"]) for r in rows if r["method"] == method and r["setting"] == s]))
            for s in settings
        ]
        x, y = zip(*sorted(points))
        axes.plot(x, y, "o-" if method.startswith("lib") else "s", label=method)
    axes.set_xscale("log")
    axes.set_xlabel("kbit/s at 25 fps")
    axes.set_ylabel("PSNR (dB)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    with atomic_file(Path(path), "wb") as handle:
        figure.savefig(handle, format="png", dpi=120, metadata={"Software": None})
    plt.close(figure)


def compress_split(
    index_path: Path,
    model_path: Path,
    generator_path: Path,
    out_dir: Path,
    settings: AppsSettings,
    render: RenderConfig = RenderConfig(),
    plot: Path | None = None,
) -> list[dict]:
    """Compress the first ``max_clips`` test clips and compare with H.264/H.265.

    Writes into ``out_dir`` (temporary sibling, renamed when complete): ``{clip_id}.hgnc`` (the
    stream), ``{clip_id}.mp4`` (the decoded clip), ``results.tsv`` (per clip and setting),
    ``table.md`` (means over the clips); ``plot`` gets the rate–PSNR plot.
    """
    clips = split_clips(DatasetReader(index_path))[: settings.compress.max_clips]
    animator, _ = audio_free_animator(settings, generator_path)
    model = MorphableModel.load(model_path)
    rows, renderer = [], None
    with atomic_directory(Path(out_dir)) as tmp:
        for clip in clips:
            renderer = renderer or NMFCRenderer(model, size=clip.frames.shape[1], batch=render.batch, colouring=render.colouring)
            encoded, decoded, clip_rows = compress_clip(clip, renderer, animator, settings)
            (tmp / f"{clip.clip_id}.hgnc").write_bytes(encoded.to_bytes())
            write_mp4(tmp / f"{clip.clip_id}.mp4", decoded, settings=settings.video)
            rows += clip_rows
        write_tsv(tmp / "results.tsv", rows, RESULT_COLUMNS)
        (tmp / "table.md").write_text(summary_table(rows))
    if plot is not None:
        plot_rate_quality(rows, plot)
    return rows
