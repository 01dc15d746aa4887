"""Facial video compression (paper §4.4): a reference image and 35 quantised floats per frame.

**Encoder.** A clip becomes its reference frame as a JPEG, the identity parameters once (float32),
and per frame the 28 expression and 7 camera parameters (35 values for the paper's 28-component
expression basis; ``n_exp + 7`` in general). Each of these per-frame values is quantised uniformly
to ``bits`` bits between its minimum and maximum over the clip (both sent once as float32): the
code of ``v`` is ``round((v − low) / step)`` with ``step = (high − low) / (2^bits − 1)``, so the
decoded value is within ``step / 2`` of ``v``. Frames the fit marked invalid take the values of the
nearest valid frame. With ``audio_kbps`` the clip's audio is sent too, as AAC (FFmpeg's encoder,
ADTS frames); the generator does not see it: the decoder's generator is the audio-free one or gets
silent-audio features (:func:`headgan_model.apps.frontalise.audio_free_animator`).

**Stream** (little-endian; :func:`stream_bits` counts it)::

    header        11 × uint32: magic, version, T, bits, n_id, n_values, reference frame, JPEG bytes,
                  audio bytes, audio sample rate, audio samples
    identity      n_id × float32
    low, high     2 · n_values × float32
    reference     the JPEG
    audio         the AAC frames (none without audio)
    codes         T · n_values · bits bits, packed MSB first, padded to a whole byte

With 16 bits the per-frame payload is 35 · 16 = 560 bits, 14 kbit/s at 25 fps; the header,
identity, ranges and JPEG are sent once per clip.

**Decoder.** The dequantised parameters are rendered as NMFC images and the generator regenerates
the clip from the decoded JPEG (its NMFC image rendered from the decoded parameters of the
reference frame).

:func:`compare_codecs` encodes the same crops with H.264 and H.265 (libx264, libx265 through PyAV)
at target bitrates and measures the bits they took and the quality of the decoded frames against
the clip's: PSNR, and LPIPS (AlexNet, :mod:`headgan_model.metrics.lpips`, lower is better) when its
weights are in the models folder; without them the LPIPS cells say ``missing`` with the reason.
"""

from __future__ import annotations

import io
import struct
import textwrap
from dataclasses import dataclass, replace
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
from headgan_model.metrics.lpips import LPIPSNetwork, load_lpips, lpips_per_frame
from headgan_model.metrics.result import MetricResult
from headgan_prep.dataset.reader import DatasetReader
from headgan_prep.fit.camera import CAMERA_SIZE
from headgan_prep.fit.parameters import FaceParameters
from headgan_prep.models.registry import ModelFileMissing
from headgan_prep.morphable.model import MorphableModel
from headgan_prep.render.renderer import NMFCRenderer, RenderConfig
from headgan_prep.store.atomic import atomic_directory, atomic_file

MAGIC = 0x48474E43
"""``"HGNC"``: first word of a stream."""
VERSION = 1
HEADER = struct.Struct("<11I")
AAC_PRIMING = 1024
"""Samples of silence FFmpeg's AAC encoder puts before the audio (dropped when decoding)."""
DECODERS = {"libx264": "h264", "libx265": "hevc"}
"""Decoder of each compared encoder."""
CODEC_OPTIONS = {"libx264": {"threads": "1"}, "libx265": {"x265-params": "log-level=error:pools=1:frame-threads=1"}}
"""Single-threaded encoders: the same frames give the same bits."""
RESULT_COLUMNS = ("clip_id", "method", "setting", "bits_per_frame", "kbps", "psnr_db", "lpips")
LPIPS_NET = "alex"
"""LPIPS backbone of the report (the ``lpips`` package's default)."""


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
    audio : bytes
        AAC frames of the audio (empty: none).
    sample_rate, n_samples : int
        Of the audio (0 without).
    """

    identity: np.ndarray
    low: np.ndarray
    high: np.ndarray
    codes: np.ndarray
    bits: int
    reference: int
    jpeg: bytes
    audio: bytes = b""
    sample_rate: int = 0
    n_samples: int = 0

    @property
    def n_frames(self) -> int:
        return len(self.codes)

    def to_bytes(self) -> bytes:
        """The stream (module docstring)."""
        n_values = self.codes.shape[1]
        header = HEADER.pack(
            MAGIC,
            VERSION,
            self.n_frames,
            self.bits,
            len(self.identity),
            n_values,
            self.reference,
            len(self.jpeg),
            len(self.audio),
            self.sample_rate,
            self.n_samples,
        )
        shifts = np.arange(self.bits - 1, -1, -1, dtype=np.uint64)
        code_bits = ((self.codes.astype(np.uint64)[..., None] >> shifts) & 1).astype(np.uint8)
        floats = np.concatenate([self.identity, self.low, self.high]).astype("<f4").tobytes()
        return header + floats + self.jpeg + self.audio + np.packbits(code_bits.ravel()).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Encoded:
        """Parse a stream of :meth:`to_bytes`."""
        magic, version, n_frames, bits, n_id, n_values, reference, n_jpeg, n_audio, rate, n_samples = (
            HEADER.unpack_from(data)
        )
        if (magic, version) != (MAGIC, VERSION):
            raise ValueError(f"not a HeadGAN compressed stream (magic {magic:#x}, version {version})")
        offset = HEADER.size
        floats = np.frombuffer(data, "<f4", n_id + 2 * n_values, offset).astype(np.float32)
        offset += 4 * len(floats)
        jpeg, audio = data[offset : offset + n_jpeg], data[offset + n_jpeg : offset + n_jpeg + n_audio]
        offset += n_jpeg + n_audio
        code_bits = np.unpackbits(np.frombuffer(data, np.uint8, offset=offset))[: n_frames * n_values * bits]
        weights = np.uint64(1) << np.arange(bits - 1, -1, -1, dtype=np.uint64)
        codes = (code_bits.reshape(n_frames, n_values, bits).astype(np.uint64) * weights).sum(axis=-1).astype(np.uint32)
        identity, low, high = floats[:n_id], floats[n_id : n_id + n_values], floats[n_id + n_values :]
        return cls(identity, low, high, codes, bits, reference, jpeg, audio, rate, n_samples)


def stream_bits(n_frames: int, n_id: int, n_values: int, bits: int, jpeg_bytes: int, audio_bytes: int = 0) -> int:
    """Length in bits of a stream (module docstring): header, floats, JPEG and audio, codes padded to a byte."""
    payload = HEADER.size + 4 * (n_id + 2 * n_values) + jpeg_bytes + audio_bytes
    return 8 * (payload + -(-n_frames * n_values * bits // 8))


def encode_audio(waveform: np.ndarray, sample_rate: int, kbps: float) -> bytes:
    """``(N,)`` float32 mono samples as AAC frames (ADTS) at about ``kbps`` kbit/s."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="adts") as container:
        stream = container.add_stream("aac", rate=sample_rate, layout="mono")
        stream.bit_rate = int(kbps * 1000)
        samples = np.asarray(waveform, np.float32)[None]
        for start in range(0, samples.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, start : start + 1024]), "fltp", "mono")
            frame.sample_rate, frame.pts, frame.time_base = sample_rate, start, Fraction(1, sample_rate)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def decode_audio(encoded: Encoded) -> np.ndarray:
    """``(n_samples,)`` float32: the stream's audio decoded (empty without audio)."""
    if not encoded.audio:
        return np.zeros(0, np.float32)
    with av.open(io.BytesIO(encoded.audio), format="adts") as container:
        samples = np.concatenate([frame.to_ndarray().mean(axis=0) for frame in container.decode(audio=0)])
    return samples[AAC_PRIMING : AAC_PRIMING + encoded.n_samples].astype(np.float32)


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


def encode(
    parameters: FaceParameters,
    valid: np.ndarray,
    reference_frame: np.ndarray,
    reference: int,
    bits: int,
    jpeg_quality: int,
) -> Encoded:
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
    ok, jpeg = cv2.imencode(
        ".jpg", cv2.cvtColor(reference_frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]
    )
    if not ok:
        raise RuntimeError("JPEG encoding of the reference frame failed")
    return Encoded(parameters.identity, low, high, codes, bits, reference, jpeg.tobytes())


def with_audio(encoded: Encoded, waveform: np.ndarray, sample_rate: int, kbps: float) -> Encoded:
    """``encoded`` with ``(N,)`` float32 mono audio added as AAC at about ``kbps`` kbit/s."""
    return replace(
        encoded, audio=encode_audio(waveform, sample_rate, kbps), sample_rate=sample_rate, n_samples=len(waveform)
    )


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


class LPIPSScore:
    """LPIPS (AlexNet) of decoded against real frames, missing with the reason when its weights are not
    in the models folder.

    Parameters
    ----------
    models_dir : Path
        The models folder (``lpips/alexnet.ckpt``, ``lpips/v0.1/alex.pth``).
    device : torch.device or str
    batch : int
        Frame pairs per forward pass.
    """

    def __init__(self, models_dir: Path, device="cpu", batch: int = 16):
        self.device, self.batch = device, batch
        self.network: LPIPSNetwork | None = None
        self.missing: str | None = None
        try:
            self.network = load_lpips(models_dir, LPIPS_NET)
        except ModelFileMissing as error:
            self.missing = str(error)

    def __call__(self, generated: np.ndarray, target: np.ndarray) -> MetricResult:
        """Mean over the frames of two ``(T, S, S, 3)`` uint8 videos."""
        if self.network is None:
            return MetricResult.unavailable("LPIPS", self.missing)
        values = lpips_per_frame(generated, target, self.network, device=self.device, batch_size=self.batch)
        return MetricResult("LPIPS", float(values.mean()))


def lpips_cell(result: MetricResult) -> str:
    """The ``lpips`` column of ``results.tsv``: the value, or ``missing (reason)``."""
    return f"{result.value:.4f}" if result.missing is None else f"missing ({' '.join(result.missing.split())})"


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


def compress_clip(
    clip: Clip, renderer: NMFCRenderer, animator: Animator, settings: AppsSettings, lpips: LPIPSScore
) -> tuple[Encoded, np.ndarray, list[dict]]:
    """Encode and decode one clip and compare with the codecs; returns the stream, the decoded
    frames and the rows of ``results.tsv``."""
    options = settings.compress
    reference = clip.n_frames // 2
    encoded = encode(
        clip.parameters, clip.fit_valid, clip.frames[reference], reference, options.bits, options.jpeg_quality
    )
    waveform, rate = clip.waveform
    if options.audio_kbps and len(waveform):
        encoded = with_audio(encoded, waveform, rate, options.audio_kbps)
    decoded = decode(Encoded.from_bytes(encoded.to_bytes()), renderer, animator)
    seconds = clip.n_frames / FPS
    n_values = encoded.codes.shape[1]
    total = stream_bits(
        clip.n_frames, len(encoded.identity), n_values, options.bits, len(encoded.jpeg), len(encoded.audio)
    )
    audio_note = f", AAC {len(encoded.audio)} bytes" if encoded.audio else ""
    quality = {"psnr_db": f"{psnr(decoded, clip.frames):.3f}", "lpips": lpips_cell(lpips(decoded, clip.frames))}
    rows = [
        {
            "clip_id": clip.clip_id,
            "method": "headgan",
            "setting": f"{n_values} values × {options.bits} bits",
            "bits_per_frame": n_values * options.bits,
            "kbps": f"{n_values * options.bits * FPS / 1000:.3f}",
            **quality,
        },
        {
            "clip_id": clip.clip_id,
            "method": "headgan+reference",
            "setting": f"JPEG q{options.jpeg_quality}, {len(encoded.jpeg)} bytes{audio_note}",
            "bits_per_frame": f"{total / clip.n_frames:.1f}",
            "kbps": f"{total / seconds / 1000:.3f}",
            **quality,
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
                    "lpips": lpips_cell(lpips(frames, clip.frames)),
                }
            )
    return encoded, decoded, rows


def _mean(members: list[dict], column: str) -> float | None:
    """Mean of a numeric column over rows; None when a cell is missing."""
    values = [str(m[column]) for m in members]
    return None if any(v.startswith("missing") for v in values) else float(np.mean([float(v) for v in values]))


def _missing_reasons(rows: list[dict]) -> list[str]:
    return list(dict.fromkeys(r["lpips"] for r in rows if str(r["lpips"]).startswith("missing")))


def _groups(rows: list[dict]) -> dict[tuple[str, str], list[dict]]:
    """Rows by (method, setting) of a codec, by method alone for HeadGAN (whose settings name each
    clip's JPEG size)."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        key = (row["method"], row["setting"] if row["method"].startswith("lib") else row["method"])
        groups.setdefault(key, []).append(row)
    return groups


def summary_table(rows: list[dict]) -> str:
    """Markdown table of the mean bits/frame, kbit/s, PSNR and LPIPS of each method and setting over
    the clips; a missing LPIPS reads ``missing``, its reason under the table."""
    groups = _groups(rows)
    lines = [
        "| method | setting | bits/frame | kbit/s | PSNR (dB) | LPIPS |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for (method, _), members in groups.items():
        mean = {k: _mean(members, k) for k in ("bits_per_frame", "kbps", "psnr_db")}
        lpips = _mean(members, "lpips")
        setting = (
            members[0]["setting"]
            if method.startswith("lib") or method == "headgan"
            else "reference amortised over the clip"
        )
        lines.append(
            f"| {method} | {setting} | {mean['bits_per_frame']:.1f} | {mean['kbps']:.2f} | {mean['psnr_db']:.2f} | "
            + ("missing" if lpips is None else f"{lpips:.4f}")
            + " |"
        )
    lines += [f"\nLPIPS {reason}" for reason in _missing_reasons(rows)]
    return "\n".join(lines) + "\n"


def plot_rate_quality(rows: list[dict], path: Path) -> None:
    """Rate–PSNR and rate–LPIPS panels (kbit/s, log scale) of every method, clips averaged, as PNG;
    without LPIPS its panel says why."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    reasons = _missing_reasons(rows)
    groups = _groups(rows)
    for method in dict.fromkeys(r["method"] for r in rows):
        members = [g for (m, _), g in groups.items() if m == method]
        points = sorted((_mean(g, "kbps"), _mean(g, "psnr_db"), _mean(g, "lpips")) for g in members)
        x, y_psnr, y_lpips = zip(*points)
        style = "o-" if method.startswith("lib") else "s"
        left.plot(x, y_psnr, style, label=method)
        if not reasons:
            right.plot(x, y_lpips, style, label=method)
    left.set_ylabel("PSNR (dB), higher is better")
    right.set_ylabel("LPIPS (AlexNet), lower is better")
    if reasons:
        right.text(0.5, 0.5, "LPIPS missing:\n" + textwrap.fill(reasons[0], 50), ha="center", va="center", fontsize=7)
        right.set_xticks([])
        right.set_yticks([])
    for axes in (left, right):
        if axes.lines:
            axes.set_xscale("log")
            axes.grid(True, which="both", alpha=0.3)
            axes.legend()
        axes.set_xlabel("kbit/s at 25 fps")
    figure.tight_layout()
    with atomic_file(Path(path), "wb") as handle:
        figure.savefig(handle, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)


def compress_split(
    index_path: Path,
    model_path: Path,
    generator_path: Path,
    out_dir: Path,
    settings: AppsSettings,
    render: RenderConfig = RenderConfig(),
    plot: Path | None = None,
    models_dir: Path = Path("models"),
) -> list[dict]:
    """Compress the first ``max_clips`` test clips and compare with H.264/H.265.

    Writes into ``out_dir`` (temporary sibling, renamed when complete): ``{clip_id}.hgnc`` (the
    stream), ``{clip_id}.mp4`` (the decoded clip), ``results.tsv`` (per clip and setting),
    ``table.md`` (means over the clips); ``plot`` gets the rate–PSNR and rate–LPIPS plot. LPIPS
    reads its weights from ``models_dir``.
    """
    clips = split_clips(DatasetReader(index_path))[: settings.compress.max_clips]
    animator, _ = audio_free_animator(settings, generator_path)
    lpips = LPIPSScore(models_dir, animator.device, settings.batch)
    model = MorphableModel.load(model_path)
    rows, renderer = [], None
    with atomic_directory(Path(out_dir)) as tmp:
        for clip in clips:
            renderer = renderer or NMFCRenderer(
                model, size=clip.frames.shape[1], batch=render.batch, colouring=render.colouring
            )
            encoded, decoded, clip_rows = compress_clip(clip, renderer, animator, settings, lpips)
            (tmp / f"{clip.clip_id}.hgnc").write_bytes(encoded.to_bytes())
            stream = Encoded.from_bytes(encoded.to_bytes())
            audio = decode_audio(stream)
            write_mp4(tmp / f"{clip.clip_id}.mp4", decoded, audio, stream.sample_rate, settings.video)
            rows += clip_rows
        write_tsv(tmp / "results.tsv", rows, RESULT_COLUMNS)
        (tmp / "table.md").write_text(summary_table(rows))
    if plot is not None:
        plot_rate_quality(rows, plot)
    return rows
