"""Application settings: the ``apps:`` section of ``config.yaml`` as frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field

from headgan_prep.settings import StageSettings


class AppsConfigError(ValueError):
    """The ``apps:`` section of the configuration is invalid."""


DEVICES = ("auto", "cuda", "cpu")
PRECISIONS = ("fp32", "bf16")
"""Inference precisions: fp32, or autocast to bfloat16 on a GPU (the CPU runs fp32)."""


@dataclass(frozen=True)
class VideoSettings:
    """H.264 encoding of every generated video (25 fps, yuv420p, AAC audio).

    Attributes
    ----------
    crf : int
        libx264 constant rate factor (0 lossless … 51; 18 is visually lossless).
    preset : str
        libx264 preset.
    threads : int
        Encoder threads; a fixed number keeps the bytes a function of the frames.
    """

    crf: int = 18
    preset: str = "medium"
    threads: int = 1


@dataclass(frozen=True)
class ReconstructSettings:
    """Self-reenactment of every test clip from one of its frames.

    Attributes
    ----------
    reference : str or int
        ``"middle"`` (the official test policy) or a frame number.
    """

    reference: str | int = "middle"


@dataclass(frozen=True)
class ReenactSettings:
    """Cross-identity reenactment: a source frame driven by a clip of another identity.

    Attributes
    ----------
    pairs : list
        ``[[driving clip id, source clip id], …]``; empty: ``n_pairs`` random pairs.
    n_pairs : int
        Random (driving, source) pairs of different identities (paper: 15).
    seed : int
        Seeds the random pairs.
    source_split : str
        Split the sources come from (driving clips: the test split).
    source_frame : str or int
        ``"middle"`` or a frame number of the source clip.
    smoothing : int
        Window (frames) of the moving average over the adapted scale and translation.
    """

    pairs: list = field(default_factory=list)
    n_pairs: int = 15
    seed: int = 0
    source_split: str = "test"
    source_frame: str | int = "middle"
    smoothing: int = 15


@dataclass(frozen=True)
class FrontaliseSettings:
    """Frontal views of test clips.

    Attributes
    ----------
    expression : str
        ``"own"`` (each frame's expression) or ``"neutral"`` (zero expression).
    """

    expression: str = "own"


@dataclass(frozen=True)
class EditSettings:
    """Expression and pose editing of one source frame (a grid like the paper's Fig. 7).

    Attributes
    ----------
    source : str or None
        Clip id of the source; None: the first test clip.
    components : int
        The first k expression components are moved, one grid row each.
    amounts : list of float
        Moves, in standard deviations of the component over the test split's fitted frames.
    angles : list of float
        Degrees added to yaw, pitch and roll (one row each).
    """

    source: str | None = None
    components: int = 3
    amounts: list = field(default_factory=lambda: [-2.0, -1.0, 0.0, 1.0, 2.0])
    angles: list = field(default_factory=lambda: [-20.0, -10.0, 0.0, 10.0, 20.0])


@dataclass(frozen=True)
class CompressSettings:
    """Facial video compression: reference image + 35 quantised floats per frame, against H.264/H.265.

    Attributes
    ----------
    bits : int
        Bits per quantised float (uniform between the clip's minimum and maximum of each value).
    jpeg_quality : int
        JPEG quality of the reference frame.
    bitrates : list of float
        kbit/s of the H.264 and H.265 encodings compared with.
    codecs : list of str
        Encoders compared with (through PyAV).
    max_clips : int
        Test clips compressed.
    """

    bits: int = 16
    jpeg_quality: int = 90
    bitrates: list = field(default_factory=lambda: [8.0, 16.0, 32.0, 64.0, 128.0, 256.0])
    codecs: list = field(default_factory=lambda: ["libx264", "libx265"])
    max_clips: int = 4


@dataclass(frozen=True)
class AppsSettings(StageSettings):
    """Inference options and the settings of each application.

    Attributes
    ----------
    device : str
        ``auto`` (CUDA when available), ``cuda`` or ``cpu``.
    precision : str
        ``fp32`` or ``bf16`` (autocast on a GPU; the CPU runs fp32).
    batch : int
        Frames per forward pass of G.
    audio_free_generator : str or None
        An audio-free ``generator.pt`` (``use_audio: false``) for frontalisation and editing, as the
        paper; None: the run's generator with silent-audio (zero) features, said in the outputs.
    video, reconstruct, reenact, frontalise, edit, compress : dataclasses
    """

    section = "apps"
    error = AppsConfigError

    device: str = "auto"
    precision: str = "bf16"
    batch: int = 16
    audio_free_generator: str | None = None
    video: VideoSettings = field(default_factory=VideoSettings)
    reconstruct: ReconstructSettings = field(default_factory=ReconstructSettings)
    reenact: ReenactSettings = field(default_factory=ReenactSettings)
    frontalise: FrontaliseSettings = field(default_factory=FrontaliseSettings)
    edit: EditSettings = field(default_factory=EditSettings)
    compress: CompressSettings = field(default_factory=CompressSettings)

    def __post_init__(self):
        if self.device not in DEVICES:
            raise AppsConfigError(f"apps.device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if self.precision not in PRECISIONS:
            raise AppsConfigError(f"apps.precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.batch < 1:
            raise AppsConfigError(f"apps.batch must be ≥ 1, got {self.batch}")
        if self.frontalise.expression not in ("own", "neutral"):
            raise AppsConfigError(f"apps.frontalise.expression must be own or neutral, got {self.frontalise.expression!r}")
        if not 2 <= self.compress.bits <= 32:
            raise AppsConfigError(f"apps.compress.bits must be in [2, 32], got {self.compress.bits}")
        for name, value in (("reconstruct.reference", self.reconstruct.reference), ("reenact.source_frame", self.reenact.source_frame)):
            if value != "middle" and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise AppsConfigError(f"apps.{name} must be 'middle' or a frame number, got {value!r}")


def frame_number(choice: str | int, n_frames: int) -> int:
    """The frame a ``"middle"``-or-number setting picks in a clip of ``n_frames`` frames (the
    middle frame is ``n_frames // 2``, as :meth:`headgan_prep.dataset.reader.DatasetReader.middle_frame`).

    Raises
    ------
    AppsConfigError
        The number is beyond the clip.
    """
    frame = n_frames // 2 if choice == "middle" else int(choice)
    if not 0 <= frame < n_frames:
        raise AppsConfigError(f"frame {frame} is beyond a clip of {n_frames} frames")
    return frame
