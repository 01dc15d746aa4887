"""Training settings: the ``train:`` section of ``config.yaml`` as frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field

from headgan_model.networks.discriminator import DiscriminatorConfig
from headgan_model.networks.generator import GeneratorConfig
from headgan_model.train.losses import LossWeights
from headgan_prep.settings import StageSettings


class TrainConfigError(ValueError):
    """The ``train:`` section of the configuration is invalid."""


PRECISIONS = ("fp32", "bf16", "fp16")
"""Compute precisions on a GPU: fp32, or autocast to bfloat16 / float16 (the latter with loss scaling)."""


@dataclass(frozen=True)
class VGGSettings:
    """The perceptual loss's network.

    Attributes
    ----------
    enabled : bool
        False trains without the VGG terms (said in the log); the paper uses them.
    weights : str
        torchvision's ImageNet VGG19 state dict, relative to the models directory (or absolute).
    """

    enabled: bool = True
    weights: str = "torchvision/vgg19-dcbbe1ae.pth"


@dataclass(frozen=True)
class TrainSettings(StageSettings):
    """Hyper-parameters and bookkeeping of a training run (paper §4.1, supplement §2–3).

    Attributes
    ----------
    run : str
        Run name: outputs go to ``{results}/train/{run}/``.
    steps : int
        Optimisation steps (one generator and one discriminator update each).
    batch_size : int
        Samples per step and process (official: 6).
    lr : float
        Adam learning rate of G, D and D_m (paper: 2e-4).
    beta1, beta2 : float
        Adam betas (paper: 0.5, 0.999).
    generator, discriminator, mouth_discriminator : dataclasses
        Network sizes (paper: G width 32; D and D_m width 64).
    losses : LossWeights
        λ of Eq. 6 (paper: L1 50, VGG 10, feature matching 10).
    vgg : VGGSettings
    precision : str
        ``fp32``, ``bf16`` or ``fp16`` autocast on a GPU; on the CPU training runs in fp32.
    compile : bool
        ``torch.compile`` the three networks.
    device : str
        ``auto`` (CUDA when available), ``cuda`` or ``cpu``.
    workers : int
        DataLoader worker processes per training process.
    seed : int
        Seeds the initial weights and the sample stream.
    checkpoint_every, keep_checkpoints : int
        Steps between checkpoints; how many of the newest to keep.
    log_every, sample_every : int
        Steps between logged scalars and between sample grids (TensorBoard and PNG).
    sample_rows : int
        Samples per grid.
    mouth_size : int
        Side of the mouth crops D_m sees, pixels (the landmark stage's boxes are 64).
    nproc : int
        Training processes on the node (DDP through torchrun, one per GPU) when run by the workflow.
    """

    section = "train"
    error = TrainConfigError

    run: str = "headgan"
    steps: int = 200_000
    batch_size: int = 6
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    mouth_discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig.mouth)
    losses: LossWeights = field(default_factory=LossWeights)
    vgg: VGGSettings = field(default_factory=VGGSettings)
    precision: str = "bf16"
    compile: bool = False
    device: str = "auto"
    workers: int = 4
    seed: int = 0
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    log_every: int = 50
    sample_every: int = 1000
    sample_rows: int = 4
    mouth_size: int = 64
    nproc: int = 1

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise TrainConfigError(f"train.precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.device not in ("auto", "cuda", "cpu"):
            raise TrainConfigError(f"train.device must be auto, cuda or cpu, got {self.device!r}")
        for name in ("steps", "batch_size", "checkpoint_every", "keep_checkpoints", "log_every", "sample_every", "nproc"):
            if getattr(self, name) < 1:
                raise TrainConfigError(f"train.{name} must be ≥ 1, got {getattr(self, name)}")
        if not self.run or "/" in self.run:
            raise TrainConfigError(f"train.run must be a non-empty name without '/', got {self.run!r}")

    def architecture(self) -> dict:
        """The settings a checkpoint's weights depend on (a resumed run must match them)."""
        return {
            "generator": self.to_dict()["generator"],
            "discriminator": self.to_dict()["discriminator"],
            "mouth_discriminator": self.to_dict()["mouth_discriminator"],
        }
