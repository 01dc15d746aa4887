"""Inference with a trained generator: loading ``generator.pt`` and generating frame sequences.

``generator.pt`` (written by :meth:`headgan_model.train.trainer.Trainer.save_generator`) holds the
schema, the training step, the generator's settings (the ``train.generator`` section) and its
weights. :func:`load_generator` rebuilds the network from the settings through the training
settings' dataclasses and refuses a file of another schema or whose weights do not fit them.

:class:`Animator` generates a sequence in batches from one reference: the reference's features
are computed once (:meth:`~headgan_model.networks.generator.Generator.encode_reference`), and frame
t gets the NMFC window ``x_{t−2:t}`` (oldest first, the first image repeated before the start) and
audio row t, as in training (:mod:`headgan_model.train.data`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from headgan_model.networks.generator import IMAGE_CHANNELS, Generator, GeneratorConfig
from headgan_model.train.settings import TrainConfigError, TrainSettings
from headgan_model.train.trainer import GENERATOR_SCHEMA
from headgan_prep.dataset.reader import nmfc_window

log = logging.getLogger(__name__)


class GeneratorFileError(ValueError):
    """``generator.pt`` is missing, is not a generator file, or does not fit its own settings."""


class AudioMismatchError(ValueError):
    """Audio features given to an audio-free generator, or missing for one that uses audio."""


@dataclass(frozen=True)
class LoadedGenerator:
    """A generator ready for inference.

    Attributes
    ----------
    network : Generator
        In eval mode, on ``device``.
    config : GeneratorConfig
    step : int
        Training steps it had.
    path : Path
    device : torch.device
    """

    network: Generator
    config: GeneratorConfig
    step: int
    path: Path
    device: torch.device


def resolve_device(device: str) -> torch.device:
    """``auto`` (CUDA when available), ``cuda`` or ``cpu`` as a torch device.

    Raises
    ------
    ValueError
        ``cuda`` asked for and not available.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device cuda was asked for and CUDA is not available (use device auto or cpu)")
    return torch.device(device)


def load_generator(path: str | Path, device: str = "auto") -> LoadedGenerator:
    """Load ``generator.pt``.

    Parameters
    ----------
    path : str or Path
        ``results/train/{run}/generator.pt``.
    device : str
        ``auto``, ``cuda`` or ``cpu``.

    Raises
    ------
    GeneratorFileError
        The file is missing or unreadable, has another schema, settings of another architecture
        (keys this code does not know), or weights that do not fit its settings.
    """
    path = Path(path)
    if not path.is_file():
        raise GeneratorFileError(f"{path}: generator file missing; `snakemake train` writes it (results/train/RUN/generator.pt)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises pickle, zip and runtime errors alike for a bad file
        raise GeneratorFileError(f"{path}: not a readable generator file ({type(error).__name__}: {error})") from None
    if not isinstance(state, dict) or state.get("schema") != GENERATOR_SCHEMA:
        schema = state.get("schema") if isinstance(state, dict) else type(state).__name__
        raise GeneratorFileError(f"{path}: schema {schema!r}, expected {GENERATOR_SCHEMA!r} (a generator.pt written by training)")
    try:
        config = TrainSettings.from_dict({"generator": state["generator_config"]}).generator
    except (TrainConfigError, KeyError) as error:
        raise GeneratorFileError(f"{path}: a generator of another architecture than this code builds: {error}") from None
    network = Generator(config)
    try:
        network.load_state_dict(state["generator"])
    except (RuntimeError, KeyError) as error:
        first = str(error).strip().splitlines()[:3]
        raise GeneratorFileError(f"{path}: the weights do not fit the generator its settings describe: {' '.join(first)}") from None
    torch_device = resolve_device(device)
    return LoadedGenerator(network.to(torch_device).eval(), config, int(state.get("step", 0)), path, torch_device)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """``(B, 3, H, W)`` images in [−1, 1] → ``(B, H, W, 3)`` uint8 (rounded, clipped)."""
    scaled = ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return scaled.permute(0, 2, 3, 1).cpu().numpy()


class Animator:
    """Generates frame sequences with a loaded generator, ``batch`` frames per forward pass.

    Parameters
    ----------
    generator : LoadedGenerator
    precision : str
        ``fp32``, or ``bf16`` autocast on a GPU (the CPU runs fp32, said in the log).
    batch : int
        Frames per forward pass.
    """

    def __init__(self, generator: LoadedGenerator, precision: str = "bf16", batch: int = 16):
        if batch < 1:
            raise ValueError(f"batch must be ≥ 1, got {batch}")
        self.generator, self.batch = generator, batch
        self.device = generator.device
        self.autocast = precision == "bf16" and self.device.type == "cuda"
        if precision == "bf16" and not self.autocast:
            log.info("precision bf16 applies on a GPU; generating in fp32 on %s", self.device)
        self.past = generator.config.nmfc_channels // IMAGE_CHANNELS - 1
        self.precision = "bf16" if self.autocast else "fp32"

    @property
    def use_audio(self) -> bool:
        """Whether the generator takes audio features."""
        return self.generator.config.use_audio

    def _images(self, images: np.ndarray, signed: bool) -> torch.Tensor:
        """``(B, H, W, 3)`` uint8 → ``(B, 3, H, W)`` float on the device, [−1, 1] or [0, 1]."""
        tensor = torch.from_numpy(np.ascontiguousarray(images)).to(self.device).permute(0, 3, 1, 2).float() / 255.0
        return tensor * 2.0 - 1.0 if signed else tensor

    def frames(
        self, ref_image: np.ndarray, ref_nmfc: np.ndarray, nmfc: np.ndarray, audio: np.ndarray | None, stills: bool = False
    ) -> Iterator[np.ndarray]:
        """Generate the frames of a sequence, one batch at a time.

        Parameters
        ----------
        ref_image : np.ndarray
            ``(S, S, 3)`` uint8 reference frame y_ref.
        ref_nmfc : np.ndarray
            ``(S, S, 3)`` uint8 its NMFC image x_ref.
        nmfc : np.ndarray
            ``(T, S, S, 3)`` uint8 driving NMFC images x_0 … x_{T−1}.
        audio : np.ndarray or None
            ``(T, audio_dim)`` float32 audio features; None exactly for an audio-free generator.
        stills : bool
            The NMFC images are independent stills (an editing grid), not a sequence: each one's
            window is itself repeated.

        Yields
        ------
        np.ndarray
            ``(b, S, S, 3)`` uint8 generated frames, in order, ``b ≤ batch``.

        Raises
        ------
        AudioMismatchError
            Audio given to an audio-free generator, or missing for one that uses audio.
        ValueError
            Shapes that do not agree.
        """
        n_frames = len(nmfc)
        config = self.generator.config
        if self.use_audio and audio is None:
            raise AudioMismatchError(f"{self.generator.path} uses audio (use_audio true): audio features are needed")
        if not self.use_audio and audio is not None:
            raise AudioMismatchError(f"{self.generator.path} is audio-free (use_audio false): it takes no audio features")
        if audio is not None and np.shape(audio) != (n_frames, config.audio_dim):
            raise ValueError(f"audio must be (T, {config.audio_dim}) = ({n_frames}, {config.audio_dim}), got {np.shape(audio)}")
        if np.shape(ref_image) != np.shape(ref_nmfc) or np.shape(nmfc)[1:] != np.shape(ref_image):
            raise ValueError(f"reference {np.shape(ref_image)}, its NMFC {np.shape(ref_nmfc)} and driving NMFC {np.shape(nmfc)} differ in size")
        network = self.generator.network
        with torch.inference_mode(), torch.autocast("cuda", torch.bfloat16, enabled=self.autocast):
            reference = self._images(ref_image[None], signed=True)
            features = network.encode_reference(reference, self._images(ref_nmfc[None], signed=False))
            for start in range(0, n_frames, self.batch):
                frames = np.arange(start, min(start + self.batch, n_frames))
                # (b, past + 1), oldest first
                window = np.repeat(frames[:, None], self.past + 1, axis=1) if stills else nmfc_window(frames, self.past)
                x = self._images(nmfc[window.ravel()], signed=False)
                x = x.reshape(len(frames), -1, *x.shape[-2:])
                h = None if audio is None else torch.from_numpy(np.asarray(audio[frames], np.float32)).to(self.device)
                yield to_uint8(network.drive(x, reference, features, h)["image"])

    def animate(
        self, ref_image: np.ndarray, ref_nmfc: np.ndarray, nmfc: np.ndarray, audio: np.ndarray | None, stills: bool = False
    ) -> np.ndarray:
        """:meth:`frames` of the whole sequence, ``(T, S, S, 3)`` uint8."""
        size = np.shape(ref_image)
        parts = list(self.frames(ref_image, ref_nmfc, nmfc, audio, stills))
        return np.concatenate(parts) if parts else np.zeros((0, *size), np.uint8)
