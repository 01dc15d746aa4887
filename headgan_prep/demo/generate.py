"""Deterministic demo dataset: small talking-head-like videos with known face positions.

The faces are real photographs shipped inside installed packages: ``skimage.data.astronaut()`` and
the group photo ``t1.jpg`` bundled with insightface, cut into single-face portraits at fixed,
hand-checked coordinates. Each clip pastes one portrait (or two) with a soft elliptical mask over a
smooth seeded background and moves it with smooth head-like motion (translation, scale, in-plane
rotation); the audio track is speech synthesised by ``espeak-ng`` with a voice per identity. In
expressive clips the main face talks and blinks: its photograph's mouth opens and its eyes close on a
seeded schedule, by a local warp of the mouth and eye regions (:mod:`headgan_prep.demo.expression`),
located by mouth and eye points measured once on each photograph.

Output of :func:`make_demo` under ``out_dir``:

``videos/{identity}/{youtube_id}/{clip:05d}.mp4`` (``layout="voxceleb"``)
    ``identity`` is ``id00001``, ``id00002``, …; ``youtube_id`` is a deterministic 11-character
    id; every YouTube id holds up to two clips, numbered from ``00001``.
``videos/{identity}_{clip:05d}.mp4`` (``layout="flat"``)
    The same clips, numbered per identity from ``00001``.
``ground_truth/{clip_id}.npz``
    Where the faces are in every frame and how open their mouths and eyes are (see
    :class:`GroundTruth`). The clip id is the video's path
    relative to ``videos/``, without extension, with ``/`` replaced by ``+``
    (``id00001/aBcDeFgHiJk/00001.mp4`` → ``id00001+aBcDeFgHiJk+00001``).
``splits.csv``
    Header ``filename,split``; ``filename`` is the path relative to ``videos/``. The last identity
    is ``test``, the others ``train`` (identity-disjoint, like VoxCeleb); a single identity is
    ``train``.

Videos are H.264 (libx264, yuv420p, CRF 18, preset ``fast``, GOP of 12 frames, one encoder thread)
with 16 kHz mono AAC audio, muxed with bit-exact flags and without metadata, so that the same
arguments give the same bytes on the same machine (encoder version strings are embedded).

Geometry conventions: pixel coordinates are ``(x, y)`` with ``x`` to the right and ``y`` down, the
origin at the centre of the top-left pixel. A face box is a square; its rotation angle is in
degrees, positive counter-clockwise as seen on screen (the convention of
``cv2.getRotationMatrix2D``).
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import io
import shutil
import subprocess
import tempfile
import time
import wave
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from scipy.signal import resample_poly
from tqdm import tqdm

from headgan_prep.demo.expression import MOUTH_MAX_OPENING, FacePoints, Schedule, express, talking_and_blinking

AUDIO_RATE = 16000
"""Sample rate of the audio track, Hz (mono)."""
PORTRAIT_SIZE = 320
"""Side of a portrait image, pixels."""
PORTRAIT_FACE_CENTER = (0.5 * PORTRAIT_SIZE, 0.42 * PORTRAIT_SIZE)
"""Face-box centre ``(x, y)`` in every portrait, pixels."""
PORTRAIT_FACE_SIDE = 0.45 * PORTRAIT_SIZE
"""Face-box side in every portrait, pixels."""
TRANSLATION_AMPLITUDE = 0.04
"""Largest face-centre offset from its rest position, as a fraction of the frame width (x) and
height (y), at ``motion_scale=1``."""
SCALE_AMPLITUDE = 1.10
"""Largest scale factor (and smallest: its inverse) at ``motion_scale=1``; the scale moves as
``SCALE_AMPLITUDE ** (motion_scale * u)`` with ``u`` in [-1, 1]."""
ROTATION_AMPLITUDE_DEG = 10.0
"""Largest in-plane rotation at ``motion_scale=1``, degrees."""
MAX_MOTION_HZ = 1.0
"""Highest frequency of the motion sinusoids, Hz."""
MIN_MOTION_HZ = 0.15
"""Lowest frequency of the motion sinusoids, Hz."""
MOTION_COMPONENTS = 3
"""Number of sinusoids summed per motion channel."""
GOP = 12
"""Keyframe interval of the encoded videos, frames."""
SPEECH_LEAD_IN = 0.1
"""Silence before the speech starts, seconds."""
EXPRESSION_SEED = 104729
"""Second seed word of a clip's expression schedule (``default_rng([seed, EXPRESSION_SEED])``), apart
from its background and motion (``default_rng([seed, 7919])``)."""
FACES_MODES = ("one", "two")
LAYOUTS = ("voxceleb", "flat")

SENTENCES = (
    "Good morning, it is a pleasure to see you again.",
    "The weather has been lovely all week.",
    "I think we should take the early train.",
    "Please pass me the cards on the table.",
    "Nobody expected the game to end so soon.",
    "We walked along the river until sunset.",
    "Could you tell me where the station is?",
    "That was the best coffee I have had in years.",
    "The meeting starts at nine sharp tomorrow.",
    "She painted the whole house in one day.",
    "Let me show you how this machine works.",
    "I never knew the city was so beautiful at night.",
    "Our team won the match by a single point.",
    "He reads a new book every single week.",
    "The garden is full of roses this summer.",
    "We have to leave before it starts raining.",
)
"""Sentences spoken in the clips; clip ``k`` of identity ``i`` in :func:`make_demo` says
``SENTENCES[(i * clips_per_identity + k) % len(SENTENCES)]``."""


@dataclass(frozen=True)
class Voice:
    """An espeak-ng voice: ``name`` (``-v``), ``pitch`` (``-p``, 0–99), ``speed`` (``-s``, words/min)."""

    name: str
    pitch: int
    speed: int


@dataclass(frozen=True)
class PortraitSource:
    """Where a portrait comes from: a face box, hand-checked, in a bundled photograph.

    ``image`` is ``"astronaut"`` (``skimage.data.astronaut()``) or a file name in insightface's
    ``data/images`` folder; ``face_center`` is ``(x, y)`` and ``face_side`` the side of the square
    face box (brows-to-chin height), both in pixels of that photograph, as are the mouth and eye
    ``points``.
    """

    image: str
    face_center: tuple[float, float]
    face_side: float
    voice: Voice
    points: FacePoints


@dataclass(frozen=True)
class Portrait:
    """A single-face portrait ready to paste.

    Attributes
    ----------
    name : str
        Identity name (``id00001``, …).
    rgba : np.ndarray
        ``(PORTRAIT_SIZE, PORTRAIT_SIZE, 4)`` uint8, RGB plus a soft elliptical alpha (255 inside).
    face_center : tuple of float
        Face-box centre ``(x, y)`` in portrait pixels.
    face_side : float
        Face-box side in portrait pixels.
    voice : Voice
        The identity's speaking voice.
    points : FacePoints
        Mouth and eye points in portrait pixels (where an expressive clip warps the photograph).
    """

    name: str
    rgba: np.ndarray
    face_center: tuple[float, float]
    face_side: float
    voice: Voice
    points: FacePoints


def _points(mouth: tuple, eyes: tuple) -> FacePoints:
    """:class:`FacePoints` from nested tuples of ``(x, y)`` pixels."""
    return FacePoints(np.array(mouth, np.float64), np.array(eyes, np.float64))


SOURCES = (
    PortraitSource(
        "astronaut", (226.0, 120.0), 106.0, Voice("en-us+f3", 62, 165),
        _points(((201.0, 139.0), (246.0, 142.0), (222.5, 146.0)),
                (((194.0, 101.0), (213.0, 103.5), (202.0, 97.5), (203.5, 104.5)),
                 ((237.0, 105.0), (256.5, 104.5), (248.5, 100.0), (246.5, 106.5)))),
    ),
    PortraitSource(
        "t1.jpg", (518.0, 340.0), 130.0, Voice("en-us+m3", 45, 160),
        _points(((484.5, 371.0), (530.0, 381.5), (505.0, 383.5)),
                (((483.0, 317.0), (503.0, 325.5), (492.0, 317.0), (494.0, 324.0)),
                 ((529.5, 332.5), (551.5, 336.0), (543.5, 331.0), (538.5, 336.0)))),
    ),
    PortraitSource(
        "t1.jpg", (796.0, 411.0), 120.0, Voice("en-gb+m1", 55, 175),
        _points(((765.5, 438.5), (806.0, 442.5), (780.5, 446.5)),
                (((754.0, 395.5), (770.5, 399.5), (760.5, 395.0), (763.0, 399.0)),
                 ((793.0, 402.5), (813.5, 402.5), (804.5, 400.0), (801.0, 403.5)))),
    ),
    PortraitSource(
        "t1.jpg", (958.0, 133.0), 126.0, Voice("en-us+m7", 35, 150),
        _points(((935.0, 174.0), (960.5, 170.0), (938.5, 173.5)),
                (((915.5, 122.0), (924.0, 121.0), (917.5, 120.5), (920.0, 123.5)),
                 ((940.5, 119.0), (959.0, 114.5), (948.5, 115.5), (947.5, 119.5)))),
    ),
    PortraitSource(
        "t1.jpg", (1178.0, 337.0), 112.0, Voice("en-us+f4", 70, 170),
        _points(((1155.0, 367.0), (1194.5, 365.0), (1171.0, 368.5)),
                (((1141.5, 326.5), (1158.5, 326.5), (1149.0, 324.5), (1150.0, 328.5)),
                 ((1183.5, 325.0), (1204.5, 323.5), (1194.0, 322.0), (1193.0, 326.0)))),
    ),
    PortraitSource(
        "t1.jpg", (112.0, 329.0), 125.0, Voice("en-gb+f2", 58, 155),
        _points(((116.0, 370.5), (148.0, 352.5), (132.0, 361.0)),
                (((76.5, 333.5), (96.0, 325.0), (84.5, 327.0), (87.5, 332.0)),
                 ((120.5, 313.5), (139.0, 304.0), (129.0, 306.0), (131.0, 310.5)))),
    ),
)
"""The demo identities, in order: the astronaut, then five people of the group photo ``t1.jpg``
(the man in the dark shirt at the centre, the man in the red shirt, the standing man at the top
right, the blonde woman on the right, the woman with cards on the left). The mouth and eye points
are MediaPipe FaceMesh's (mouth corners 61 and 291, the middle of the inner lips 13 and 14; eye
corners 33, 133, 362, 263 and lids 159, 145, 386, 374) on each portrait, rounded to half a pixel
and checked by eye."""


@dataclass(frozen=True)
class GroundTruth:
    """Where the faces of a clip are, frame by frame.

    ``T`` is the number of frames and ``F`` the number of faces (1 or 2; face 0 is the clip's main
    identity). Positions are frame pixels (see the module's geometry conventions).

    Attributes
    ----------
    center : np.ndarray
        ``(T, F, 2)`` float64, face-box centre ``(x, y)``, pixels.
    side : np.ndarray
        ``(T, F)`` float64, face-box side, pixels.
    angle : np.ndarray
        ``(T, F)`` float64, in-plane rotation, degrees, counter-clockwise on screen.
    scale : np.ndarray
        ``(T, F)`` float64, face-box side relative to its rest size (``side / rest side``).
    visible : np.ndarray
        ``(T, F)`` bool, whether the face is drawn in the frame (hidden faces keep moving along
        their trajectory but are not drawn).
    matrix : np.ndarray
        ``(T, F, 2, 3)`` float64, the affine map from portrait pixels to frame pixels
        (``cv2.warpAffine`` convention).
    mouth_opening : np.ndarray
        ``(T, F)`` float64, how far the lower lip's middle is moved down from where the photograph
        has it, frame pixels (0: the photograph's own mouth; see
        :mod:`headgan_prep.demo.expression`).
    eye_openness : np.ndarray
        ``(T, F)`` float64, the fraction of the photograph's eye height left open by the upper lids
        (1: as photographed, 0: closed), both eyes alike.
    identities : np.ndarray
        ``(F,)`` str, identity name of each face.
    fps : Fraction
        Frame rate, frames per second.
    frame_size : tuple of int
        ``(width, height)`` of the frames, pixels.
    """

    center: np.ndarray
    side: np.ndarray
    angle: np.ndarray
    scale: np.ndarray
    visible: np.ndarray
    matrix: np.ndarray
    mouth_opening: np.ndarray
    eye_openness: np.ndarray
    identities: np.ndarray
    fps: Fraction
    frame_size: tuple[int, int]

    @property
    def n_frames(self) -> int:
        """Number of frames ``T``."""
        return self.center.shape[0]

    def arrays(self) -> dict[str, np.ndarray]:
        """All fields as arrays, as stored in the ``.npz`` file.

        ``fps`` becomes ``fps_num`` and ``fps_den`` (int64 scalars), ``frame_size`` a ``(2,)`` int64
        array ``(width, height)``.
        """
        return {
            "center": self.center,
            "side": self.side,
            "angle": self.angle,
            "scale": self.scale,
            "visible": self.visible,
            "matrix": self.matrix,
            "mouth_opening": self.mouth_opening,
            "eye_openness": self.eye_openness,
            "identities": self.identities,
            "fps_num": np.int64(self.fps.numerator),
            "fps_den": np.int64(self.fps.denominator),
            "frame_size": np.array(self.frame_size, dtype=np.int64),
        }

    def save(self, path: Path) -> None:
        """Write :meth:`arrays` to an ``.npz`` file with reproducible bytes (fixed zip dates)."""
        save_npz(Path(path), self.arrays())

    @classmethod
    def load(cls, path: Path) -> GroundTruth:
        """Read a file written by :meth:`save`."""
        with np.load(path) as data:
            return cls(
                center=data["center"],
                side=data["side"],
                angle=data["angle"],
                scale=data["scale"],
                visible=data["visible"],
                matrix=data["matrix"],
                mouth_opening=data["mouth_opening"],
                eye_openness=data["eye_openness"],
                identities=data["identities"],
                fps=Fraction(int(data["fps_num"]), int(data["fps_den"])),
                frame_size=(int(data["frame_size"][0]), int(data["frame_size"][1])),
            )


@dataclass(frozen=True)
class DemoClip:
    """One generated clip: ``path`` relative to ``videos/`` (POSIX), its clip id, identity, split,
    frame count and exact frame rate (frames per second)."""

    path: str
    clip_id: str
    identity: str
    split: str
    n_frames: int
    fps: Fraction


@dataclass(frozen=True)
class DemoSummary:
    """What :func:`make_demo` wrote: the output folder, the clips and the time taken (seconds)."""

    out_dir: Path
    clips: list[DemoClip]
    elapsed_s: float


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` as an uncompressed ``.npz`` readable by ``np.load``, byte-reproducibly.

    ``np.savez`` stamps each zip member with the current time; here every member is dated
    1980-01-01 and written in the given key order.
    """
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for key, value in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(value), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, buffer.getvalue())


def exact_fps(fps: float | Fraction) -> Fraction:
    """Exact frame rate for a nominal one.

    NTSC rates given as decimals map to their exact ``N*1000/1001`` value (29.97 → 30000/1001,
    23.976 → 24000/1001, 59.94 → 60000/1001); other rates are the nearest fraction with a
    denominator ≤ 1001.
    """
    if isinstance(fps, Fraction):
        return fps
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    ntsc = round(fps * 1.001)
    if abs(fps - round(fps)) > 1e-6 and abs(fps * 1.001 - ntsc) < 2e-3:
        return Fraction(ntsc * 1000, 1001)
    return Fraction(fps).limit_denominator(1001)


def youtube_id(identity: str, video_index: int, seed: int) -> str:
    """Deterministic 11-character alphanumeric id of an identity's ``video_index``-th video."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    number = int.from_bytes(hashlib.sha256(f"{seed}:{identity}:{video_index}".encode()).digest())
    chars = []
    for _ in range(11):
        number, digit = divmod(number, len(alphabet))
        chars.append(alphabet[digit])
    return "".join(chars)


def _photo(image: str) -> np.ndarray:
    """A bundled photograph as ``(H, W, 3)`` uint8 RGB."""
    if image == "astronaut":
        from skimage import data

        return data.astronaut()
    spec = importlib.util.find_spec("insightface")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("insightface is not installed: its bundled images are needed")
    path = Path(spec.submodule_search_locations[0]) / "data" / "images" / image
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(f"cannot read {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _elliptical_alpha(size: int) -> np.ndarray:
    """Soft elliptical mask, ``(size, size)`` uint8, 255 inside and fading to 0 before the edges."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    radius = np.hypot((xx - 0.5 * (size - 1)) / (0.42 * size), (yy - 0.5 * (size - 1)) / (0.47 * size))
    alpha = np.clip((1.0 - radius) / 0.12, 0.0, 1.0)
    alpha = alpha * alpha * (3.0 - 2.0 * alpha)
    return np.rint(255.0 * alpha).astype(np.uint8)


@lru_cache(maxsize=None)
def demo_portrait(index: int) -> Portrait:
    """The ``index``-th demo identity (0-based) as a :class:`Portrait` named ``id{index+1:05d}``.

    The photograph is cropped to a square around the face box (hair above, shoulders below),
    resized so that the face box lands at :data:`PORTRAIT_FACE_CENTER` with side
    :data:`PORTRAIT_FACE_SIDE`; borders beyond the photograph repeat its edge pixels.
    """
    if not 0 <= index < len(SOURCES):
        raise ValueError(f"identity index must be in [0, {len(SOURCES)}), got {index}")
    source = SOURCES[index]
    zoom = PORTRAIT_FACE_SIDE / source.face_side
    matrix = np.array(
        [
            [zoom, 0.0, PORTRAIT_FACE_CENTER[0] - zoom * source.face_center[0]],
            [0.0, zoom, PORTRAIT_FACE_CENTER[1] - zoom * source.face_center[1]],
        ]
    )
    rgb = cv2.warpAffine(
        _photo(source.image),
        matrix,
        (PORTRAIT_SIZE, PORTRAIT_SIZE),
        flags=cv2.INTER_AREA if zoom < 1 else cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_REPLICATE,
    )
    rgba = np.dstack([rgb, _elliptical_alpha(PORTRAIT_SIZE)])
    rgba.setflags(write=False)
    points = source.points.mapped(matrix)
    return Portrait(f"id{index + 1:05d}", rgba, PORTRAIT_FACE_CENTER, PORTRAIT_FACE_SIDE, source.voice, points)


def background(rng: np.random.Generator, frame_size: tuple[int, int]) -> np.ndarray:
    """Smooth seeded background: a colour gradient plus blurred low-frequency noise.

    Returns
    -------
    np.ndarray
        ``(H, W, 3)`` uint8 RGB for ``frame_size = (W, H)``.
    """
    width, height = frame_size
    colours = rng.uniform(40.0, 215.0, size=(2, 3))
    direction = rng.uniform(0.0, 2.0 * np.pi)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = (xx / width - 0.5) * np.cos(direction) + (yy / height - 0.5) * np.sin(direction)
    ramp = np.clip(ramp + 0.5, 0.0, 1.0)[..., None]
    gradient = colours[0] * (1.0 - ramp) + colours[1] * ramp
    noise = rng.normal(0.0, 18.0, size=(6, 8, 3)).astype(np.float32)
    noise = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(np.rint(gradient + noise), 0, 255).astype(np.uint8)


def smooth_trajectory(rng: np.random.Generator, times: np.ndarray) -> np.ndarray:
    """Smooth random signal in [-1, 1]: a weighted sum of :data:`MOTION_COMPONENTS` sinusoids.

    Frequencies are uniform in [:data:`MIN_MOTION_HZ`, :data:`MAX_MOTION_HZ`], phases uniform,
    weights positive and summing to 1, so ``|signal| <= 1`` and
    ``|d signal / dt| <= 2 pi MAX_MOTION_HZ`` per second.

    Parameters
    ----------
    rng : np.random.Generator
    times : np.ndarray
        ``(T,)`` seconds.

    Returns
    -------
    np.ndarray
        ``(T,)`` float64.
    """
    freqs = rng.uniform(MIN_MOTION_HZ, MAX_MOTION_HZ, size=MOTION_COMPONENTS)
    phases = rng.uniform(0.0, 2.0 * np.pi, size=MOTION_COMPONENTS)
    weights = rng.uniform(0.5, 1.0, size=MOTION_COMPONENTS)
    weights /= weights.sum()
    return np.sin(2.0 * np.pi * freqs[None, :] * times[:, None] + phases[None, :]) @ weights


def face_motion(
    rng: np.random.Generator,
    times: np.ndarray,
    rest_center: tuple[float, float],
    frame_size: tuple[int, int],
    motion_scale: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Head-like motion of one face around its rest position.

    Parameters
    ----------
    rng : np.random.Generator
    times : np.ndarray
        ``(T,)`` seconds.
    rest_center : tuple of float
        ``(x, y)`` rest position of the face-box centre, pixels.
    frame_size : tuple of int
        ``(W, H)``, pixels.
    motion_scale : float
        Multiplier on :data:`TRANSLATION_AMPLITUDE`, the exponent of :data:`SCALE_AMPLITUDE` and
        :data:`ROTATION_AMPLITUDE_DEG`.

    Returns
    -------
    center : np.ndarray
        ``(T, 2)`` face-box centre, pixels.
    scale : np.ndarray
        ``(T,)`` scale factor.
    angle : np.ndarray
        ``(T,)`` rotation, degrees.
    """
    shift = motion_scale * TRANSLATION_AMPLITUDE * np.asarray(frame_size, dtype=np.float64)
    dx = shift[0] * smooth_trajectory(rng, times)
    dy = shift[1] * smooth_trajectory(rng, times)
    center = np.stack([rest_center[0] + dx, rest_center[1] + dy], axis=1)
    scale = SCALE_AMPLITUDE ** (motion_scale * smooth_trajectory(rng, times))
    angle = motion_scale * ROTATION_AMPLITUDE_DEG * smooth_trajectory(rng, times)
    return center, scale, angle


def similarity(
    source_center: tuple[float, float], target_center: np.ndarray, zoom: float, angle_deg: float
) -> np.ndarray:
    """``(2, 3)`` affine map taking ``source_center`` to ``target_center`` (``(2,)``), scaling by
    ``zoom`` and rotating by ``angle_deg`` (counter-clockwise on screen)."""
    theta = np.deg2rad(angle_deg)
    a, b = zoom * np.cos(theta), zoom * np.sin(theta)
    sx, sy = source_center
    return np.array(
        [
            [a, b, target_center[0] - (a * sx + b * sy)],
            [-b, a, target_center[1] - (-b * sx + a * sy)],
        ]
    )


def visibility(n_frames: int, visible_fraction: float) -> np.ndarray:
    """``(T,)`` bool: the face is shown in ``round(visible_fraction * T)`` frames.

    The visible frames are split between the start (the larger half) and the end of the clip; the
    face is hidden in one contiguous block in between, so a tracker loses it and finds it again.
    """
    if not 0.0 <= visible_fraction <= 1.0:
        raise ValueError(f"face_visible_fraction must be in [0, 1], got {visible_fraction}")
    n_visible = int(round(visible_fraction * n_frames))
    shown = np.zeros(n_frames, dtype=bool)
    head = (n_visible + 1) // 2
    shown[:head] = True
    shown[n_frames - (n_visible - head) :] = True
    return shown


def composite(frame: np.ndarray, rgba: np.ndarray, matrix: np.ndarray) -> None:
    """Paste the portrait ``rgba`` (``(S, S, 4)`` uint8) into ``frame`` (``(H, W, 3)`` uint8, in
    place) through the ``(2, 3)`` portrait-to-frame affine ``matrix``, blending by its alpha."""
    height, width = frame.shape[:2]
    warped = cv2.warpAffine(
        rgba, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    alpha = warped[..., 3:4].astype(np.float32) * np.float32(1.0 / 255.0)
    blended = frame.astype(np.float32) + alpha * (warped[..., :3].astype(np.float32) - frame)
    frame[...] = np.rint(blended).astype(np.uint8)


def speech(voice: Voice, sentence: str, n_samples: int, workdir: Path) -> np.ndarray:
    """Spoken ``sentence`` at :data:`AUDIO_RATE`, after :data:`SPEECH_LEAD_IN` seconds of silence,
    cut or padded with silence to ``(n_samples,)`` int16."""
    wav_path = workdir / "speech.wav"
    subprocess.run(
        ["espeak-ng", "-w", str(wav_path), "-v", voice.name, "-p", str(voice.pitch), "-s", str(voice.speed), sentence],
        check=True,
        capture_output=True,
    )
    with wave.open(str(wav_path), "rb") as reader:
        rate = reader.getframerate()
        raw = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
        samples = raw.reshape(-1, reader.getnchannels())[:, 0].astype(np.float64)
    ratio = Fraction(AUDIO_RATE, rate)
    resampled = resample_poly(samples, ratio.numerator, ratio.denominator)
    audio = np.zeros(n_samples, dtype=np.float64)
    start = min(n_samples, int(round(SPEECH_LEAD_IN * AUDIO_RATE)))
    length = min(n_samples - start, resampled.size)
    audio[start : start + length] = resampled[:length]
    return np.clip(np.rint(audio), -32768, 32767).astype(np.int16)


def write_wav(path: Path, samples: np.ndarray) -> None:
    """Write ``(N,)`` int16 samples as a mono :data:`AUDIO_RATE` WAV file."""
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(AUDIO_RATE)
        writer.writeframes(samples.astype("<i2").tobytes())


def ffmpeg_command(path: Path, frame_size: tuple[int, int], fps: Fraction, wav: Path | None) -> list[str]:
    """ffmpeg command reading raw RGB frames on stdin (and ``wav`` when given) and writing the
    reproducible H.264/AAC MP4 ``path``."""
    width, height = frame_size
    command = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    command += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}"]
    command += ["-framerate", f"{fps.numerator}/{fps.denominator}", "-i", "pipe:0"]
    if wav is not None:
        command += ["-i", str(wav), "-map", "0:v", "-map", "1:a"]
        command += ["-c:a", "aac", "-b:a", "64k", "-ar", str(AUDIO_RATE), "-ac", "1", "-flags:a", "+bitexact"]
    command += ["-c:v", "libx264", "-preset", "fast", "-crf", "18", "-g", str(GOP), "-pix_fmt", "yuv420p"]
    command += ["-threads", "1", "-flags:v", "+bitexact", "-fflags", "+bitexact", "-map_metadata", "-1"]
    command += [str(path)]
    return command


def make_clip(
    path: Path,
    portrait: Portrait,
    *,
    seconds: float = 2.0,
    fps: float | Fraction = 25.0,
    frame_size: tuple[int, int] = (480, 360),
    face_size: int = 160,
    seed: int = 0,
    audio: bool = True,
    sentence: str | None = None,
    faces: str = "one",
    second: Portrait | None = None,
    motion_scale: float = 1.0,
    face_visible_fraction: float = 1.0,
    expressive: bool = False,
) -> GroundTruth:
    """Render one clip to the MP4 file ``path`` and return where its faces are.

    Parameters
    ----------
    path : Path
        Output ``.mp4`` file; its folder is created.
    portrait : Portrait
        The clip's main face (face 0), e.g. ``demo_portrait(0)``.
    seconds : float
        Duration; the clip has ``round(seconds * fps)`` frames (at least 1).
    fps : float or Fraction
        Frame rate; decimal NTSC rates are made exact (29.97 → 30000/1001, see :func:`exact_fps`).
    frame_size : tuple of int
        ``(W, H)`` in pixels, both even (yuv420p).
    face_size : int
        Face-box side at rest (scale 1), pixels. With ``faces="two"`` it is capped at ``W // 4`` so
        the two portraits do not overlap at rest.
    seed : int
        Seeds the background and the motion; same arguments give the same bytes.
    audio : bool
        Add a 16 kHz mono AAC track with ``sentence`` spoken in the portrait's voice; without it
        the file has no audio stream.
    sentence : str or None
        Text to speak; by default ``SENTENCES[seed % len(SENTENCES)]``.
    faces : str
        ``"one"``: the face rests at the frame centre. ``"two"``: face 0 rests at 28 % of the
        width and ``second`` at 72 %, both at mid-height, each with its own motion.
    second : Portrait or None
        The other face of ``faces="two"``; by default the first demo identity whose name differs
        from ``portrait.name``.
    motion_scale : float
        Multiplier on the motion amplitudes (translation, rotation, log-scale); 0 keeps the face
        still, 10 gives huge motion that can take the face partly out of the frame.
    face_visible_fraction : float
        Fraction of frames, in [0, 1], where the faces are drawn; in the others the frame shows
        the background only (see :func:`visibility`).
    expressive : bool
        The main face talks and blinks (:func:`headgan_prep.demo.expression.talking_and_blinking`,
        seeded by ``seed``); otherwise every face keeps its photograph's expression.

    Returns
    -------
    GroundTruth
        Per-frame face boxes of the faces, in drawing order (face 0 first), and their openings.
    """
    width, height = frame_size
    if width % 2 or height % 2 or width <= 0 or height <= 0:
        raise ValueError(f"frame_size must be positive and even, got {frame_size}")
    if faces not in FACES_MODES:
        raise ValueError(f"faces must be one of {FACES_MODES}, got {faces!r}")
    rate = exact_fps(fps)
    n_frames = max(1, int(round(seconds * rate)))
    times = np.arange(n_frames, dtype=np.float64) / float(rate)
    rng = np.random.default_rng([seed, 7919])
    backdrop = background(rng, frame_size)
    people, rests, rest_side = _arrangement(portrait, second, faces, frame_size, face_size)
    shown = visibility(n_frames, face_visible_fraction)
    motions = [face_motion(rng, times, rest, frame_size, motion_scale) for rest in rests]
    center = np.stack([m[0] for m in motions], axis=1)
    scale = np.stack([m[1] for m in motions], axis=1)
    angle = np.stack([m[2] for m in motions], axis=1)
    matrix = _portrait_matrices(people, center, rest_side * scale, angle)
    if expressive:
        schedule = talking_and_blinking(np.random.default_rng([seed, EXPRESSION_SEED]), times)
    else:
        schedule = Schedule.neutral(n_frames)
    mouth_opening = np.zeros((n_frames, len(people)))
    mouth_opening[:, 0] = schedule.mouth * MOUTH_MAX_OPENING * portrait.points.mouth_width * scale[:, 0] * (
        rest_side / portrait.face_side
    )
    eye_openness = np.ones((n_frames, len(people)))
    eye_openness[:, 0] = 1.0 - schedule.eyes
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="headgan-demo-") as tmp:
        wav = None
        if audio:
            text = sentence if sentence is not None else SENTENCES[seed % len(SENTENCES)]
            n_samples = int(round(n_frames / rate * AUDIO_RATE))
            wav = Path(tmp) / "track.wav"
            write_wav(wav, speech(portrait.voice, text, n_samples, Path(tmp)))
        frames = (_render(backdrop, people, matrix[t], shown[t], schedule, t) for t in range(n_frames))
        _encode(ffmpeg_command(path, frame_size, rate, wav), frames)
    return GroundTruth(
        center=center,
        side=rest_side * scale,
        angle=angle,
        scale=scale,
        visible=np.repeat(shown[:, None], len(people), axis=1),
        matrix=matrix,
        mouth_opening=mouth_opening,
        eye_openness=eye_openness,
        identities=np.array([p.name for p in people]),
        fps=rate,
        frame_size=(width, height),
    )


def _arrangement(
    portrait: Portrait, second: Portrait | None, faces: str, frame_size: tuple[int, int], face_size: int
) -> tuple[list[Portrait], list[tuple[float, float]], float]:
    """Faces of a clip, their rest centres ``(x, y)`` in pixels and their rest face-box side (pixels),
    as documented in :func:`make_clip`."""
    width, height = frame_size
    if faces == "one":
        return [portrait], [(0.5 * (width - 1), 0.5 * (height - 1))], float(face_size)
    other = second if second is not None else _other_identity(portrait.name)
    rests = [(0.28 * (width - 1), 0.5 * (height - 1)), (0.72 * (width - 1), 0.5 * (height - 1))]
    return [portrait, other], rests, float(min(face_size, width // 4))


def _portrait_matrices(people: list[Portrait], center: np.ndarray, side: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """``(T, F, 2, 3)`` portrait-to-frame affine maps putting face ``f`` of ``people`` at
    ``center`` (``(T, F, 2)`` pixels) with face-box ``side`` (``(T, F)`` pixels) and ``angle``
    (``(T, F)`` degrees)."""
    matrix = np.empty(side.shape + (2, 3))
    for t in range(side.shape[0]):
        for f, person in enumerate(people):
            matrix[t, f] = similarity(person.face_center, center[t, f], side[t, f] / person.face_side, angle[t, f])
    return matrix


def _other_identity(name: str) -> Portrait:
    """The first demo identity not named ``name``."""
    return next(p for p in map(demo_portrait, range(len(SOURCES))) if p.name != name)


def _render(
    backdrop: np.ndarray, people: list[Portrait], matrices: np.ndarray, shown: bool, schedule: Schedule, t: int
) -> np.ndarray:
    """Frame ``t``, ``(H, W, 3)`` uint8: ``backdrop`` with each portrait pasted through its ``(2, 3)``
    matrix of ``matrices`` (``(F, 2, 3)``) when ``shown``, the first with the expression of
    ``schedule`` at ``t``."""
    frame = backdrop.copy()
    if shown:
        for f, (person, matrix) in enumerate(zip(people, matrices)):
            rgba = express(person.rgba, person.points, schedule.mouth[t], schedule.eyes[t]) if f == 0 else person.rgba
            composite(frame, rgba, matrix)
    return frame


def _encode(command: list[str], frames: Iterable[np.ndarray]) -> None:
    """Run ffmpeg ``command`` feeding it the ``(H, W, 3)`` uint8 ``frames`` on stdin."""
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for frame in frames:
            process.stdin.write(np.ascontiguousarray(frame).tobytes())
    except BrokenPipeError:
        pass
    finally:
        process.stdin.close()
        errors = process.stderr.read().decode(errors="replace")
        process.stderr.close()
    if process.wait() != 0:
        raise RuntimeError(f"ffmpeg failed ({process.returncode}): {errors.strip()}")


def clip_paths(identity: str, clips: int, seed: int, layout: str) -> list[str]:
    """Paths, relative to ``videos/``, of an identity's ``clips`` clips in ``layout``."""
    if layout == "flat":
        return [f"{identity}_{k + 1:05d}.mp4" for k in range(clips)]
    return [f"{identity}/{youtube_id(identity, k // 2, seed)}/{k % 2 + 1:05d}.mp4" for k in range(clips)]


def make_demo(
    out_dir: Path,
    *,
    identities: int | None = None,
    clips_per_identity: int = 2,
    seconds: float = 2.0,
    fps: float | Fraction = 25.0,
    frame_size: tuple[int, int] = (480, 360),
    face_size: int = 160,
    seed: int = 0,
    layout: str = "voxceleb",
    progress: bool = True,
    audio: bool = True,
    expressive_fraction: float = 0.75,
) -> DemoSummary:
    """Generate the demo dataset under ``out_dir`` (layout described in the module docstring).

    Existing ``videos/``, ``ground_truth/`` and ``splits.csv`` under ``out_dir`` are replaced;
    other files are left alone.

    Parameters
    ----------
    out_dir : Path
        Output folder, created if needed.
    identities : int or None
        How many of the demo identities (:data:`SOURCES`) to use, from the first; all by default.
    clips_per_identity : int
        Clips per identity; identity ``i``'s clip ``k`` speaks
        ``SENTENCES[(i * clips_per_identity + k) % len(SENTENCES)]``.
    seconds, fps, frame_size, face_size, audio
        Passed to :func:`make_clip` for every clip.
    seed : int
        Base seed; clip ``k`` of identity ``i`` is rendered with seed
        ``seed * 1_000_003 + i * 1009 + k``, and YouTube ids depend on it.
    layout : str
        ``"voxceleb"`` or ``"flat"``.
    progress : bool
        Show a tqdm progress bar over the clips.
    expressive_fraction : float
        Fraction of the clips, in [0, 1], whose face talks and blinks (``expressive`` of
        :func:`make_clip`), spread evenly over them in identity-then-clip order
        (:func:`expressive_clips`); the others keep the photograph's expression.

    Returns
    -------
    DemoSummary
    """
    start = time.perf_counter()
    count = len(SOURCES) if identities is None else identities
    if not 1 <= count <= len(SOURCES):
        raise ValueError(f"identities must be in [1, {len(SOURCES)}], got {identities}")
    if clips_per_identity < 1:
        raise ValueError(f"clips_per_identity must be ≥ 1, got {clips_per_identity}")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if not 0.0 <= expressive_fraction <= 1.0:
        raise ValueError(f"expressive_fraction must be in [0, 1], got {expressive_fraction}")
    out_dir = Path(out_dir)
    videos, truth = out_dir / "videos", out_dir / "ground_truth"
    for folder in (videos, truth):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    jobs = []
    for i in range(count):
        person = demo_portrait(i)
        split = "test" if count > 1 and i == count - 1 else "train"
        for k, relative in enumerate(clip_paths(person.name, clips_per_identity, seed, layout)):
            jobs.append((i, k, person, split, relative))
    expressive = expressive_clips(len(jobs), expressive_fraction)
    clips = []
    for j, (i, k, person, split, relative) in enumerate(
        tqdm(jobs, desc="demo clips", unit="clip", disable=not progress)
    ):
        truth_of_clip = make_clip(
            videos / relative,
            person,
            seconds=seconds,
            fps=fps,
            frame_size=frame_size,
            face_size=face_size,
            seed=seed * 1_000_003 + i * 1009 + k,
            audio=audio,
            sentence=SENTENCES[(i * clips_per_identity + k) % len(SENTENCES)],
            expressive=bool(expressive[j]),
        )
        clip_id = "+".join(Path(relative).with_suffix("").parts)
        truth_of_clip.save(truth / f"{clip_id}.npz")
        clips.append(DemoClip(relative, clip_id, person.name, split, truth_of_clip.n_frames, truth_of_clip.fps))
    _write_splits(out_dir / "splits.csv", clips)
    return DemoSummary(out_dir, clips, time.perf_counter() - start)


def expressive_clips(n_clips: int, fraction: float) -> np.ndarray:
    """``(n_clips,)`` bool: ``floor(fraction * n_clips)`` clips chosen evenly, clip ``j`` when
    ``floor((j + 1) * fraction) > floor(j * fraction)`` (with 0.75: all but clips 0, 4, 8, …)."""
    j = np.arange(n_clips)
    return np.floor((j + 1) * fraction + 1e-9) > np.floor(j * fraction + 1e-9)


def _write_splits(path: Path, clips: list[DemoClip]) -> None:
    """Write ``filename,split`` rows, sorted by filename, with ``\\n`` line endings."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["filename", "split"])
        for clip in sorted(clips, key=lambda c: c.path):
            writer.writerow([clip.path, clip.split])
