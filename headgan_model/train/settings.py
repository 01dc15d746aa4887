"""Training settings: the ``train:`` section of ``config.yaml`` as frozen dataclasses.

``preset`` picks the values of the keys where HeadGAN's paper and its official code differ
(:data:`PRESETS`): ``paper`` (the default: the dataclass defaults) or ``official``. A key given
explicitly (not null) overrides its preset's value, so each difference can also be chosen alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from headgan_model.networks.discriminator import DiscriminatorConfig
from headgan_model.networks.generator import GeneratorConfig
from headgan_model.networks.init import INIT_SCHEMES
from headgan_model.train.foreground import FlowMaskSettings
from headgan_model.train.losses import LossWeights
from headgan_model.train.schedule import LRSchedule
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
    input : str
        ``imagenet``: the images mapped to the ImageNet statistics the weights expect;
        ``raw``: the [-1, 1] images as they are (HeadGAN's official code).
    """

    enabled: bool = True
    weights: str = "torchvision/vgg19-dcbbe1ae.pth"
    input: str = "imagenet"

    def __post_init__(self):
        if self.input not in ("imagenet", "raw"):
            raise TrainConfigError(f"train.vgg.input must be imagenet or raw, got {self.input!r}")


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
    preset : str
        ``paper`` or ``official``: the values of the keys in :data:`PRESETS` not given explicitly.
    d_every : int
        Generator steps per update of D and D_m (paper: 1; official code: 4).
    lr_schedule : LRSchedule
        Constant rate, then a linear decay (paper: constant; official: 6 epochs, then 4 of decay).
    init : str
        Weight initialisation of the three networks, one of ``default`` (PyTorch's) or ``xavier``.
    init_gain : float
        Gain of the Xavier initialisation (official code: 0.02).
    mouth_audio : str
        ``always``: D_m sees the audio features (paper); ``with_generator``: only when the
        generator uses audio (official code: the audio-free generator's D_m sees the crop alone).
    flow_mask : FlowMaskSettings
        The foreground mask F's flow mask is trained against (with ``generator.flow_mask``).
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
    preset: str = "paper"
    d_every: int = 1
    lr_schedule: LRSchedule = field(default_factory=LRSchedule)
    init: str = "default"
    init_gain: float = 0.02
    mouth_audio: str = "always"
    flow_mask: FlowMaskSettings = field(default_factory=FlowMaskSettings)

    @classmethod
    def from_dict(cls, values: dict | None) -> TrainSettings:
        """Build from the ``train:`` section: its ``preset``'s values (:data:`PRESETS`) under the
        keys it gives; null values count as not given."""
        values = _without_nulls(values or {})
        preset = values.get("preset", "paper")
        if preset not in PRESETS:
            raise TrainConfigError(f"train.preset must be one of {', '.join(PRESETS)}, got {preset!r}")
        try:
            return super().from_dict(_merged(PRESETS[preset], values))
        except TrainConfigError:
            raise
        except ValueError as error:  # a nested section's own check
            raise TrainConfigError(str(error)) from None

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise TrainConfigError(f"train.precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.device not in ("auto", "cuda", "cpu"):
            raise TrainConfigError(f"train.device must be auto, cuda or cpu, got {self.device!r}")
        if self.init not in INIT_SCHEMES:
            raise TrainConfigError(f"train.init must be one of {', '.join(INIT_SCHEMES)}, got {self.init!r}")
        if self.mouth_audio not in ("always", "with_generator"):
            raise TrainConfigError(f"train.mouth_audio must be always or with_generator, got {self.mouth_audio!r}")
        for name in ("steps", "batch_size", "checkpoint_every", "keep_checkpoints", "log_every", "sample_every", "nproc", "d_every"):
            if getattr(self, name) < 1:
                raise TrainConfigError(f"train.{name} must be ≥ 1, got {getattr(self, name)}")
        if not self.run or "/" in self.run:
            raise TrainConfigError(f"train.run must be a non-empty name without '/', got {self.run!r}")

    @property
    def mouth_audio_dim(self) -> int:
        """Audio features D_m sees (0: none)."""
        if self.mouth_audio == "with_generator" and not self.generator.use_audio:
            return 0
        return self.generator.audio_dim

    def architecture(self) -> dict:
        """The settings a checkpoint's weights depend on (a resumed run must match them)."""
        return {
            "generator": self.to_dict()["generator"],
            "discriminator": self.to_dict()["discriminator"],
            "mouth_discriminator": self.to_dict()["mouth_discriminator"],
            "mouth_audio_dim": self.mouth_audio_dim,
        }


PRESETS: dict[str, dict] = {
    "paper": {
        "beta1": 0.5,
        "beta2": 0.999,
        "d_every": 1,
        "lr_schedule": {"constant": 0, "decay": 0, "unit": "steps"},
        "init": "default",
        "mouth_audio": "always",
        "generator": {
            "residual": False,
            "flow_mask": False,
            "spade_hidden": 128,
            "encoder_spectral": False,
            "encoder_affine": False,
            "reflect_padding": False,
        },
        "discriminator": {"affine_norm": False},
        "mouth_discriminator": {"affine_norm": False, "n_layers": 3},
        "losses": {"l1_region": "frame", "fm_layer_weight": "1"},
        "vgg": {"input": "imagenet"},
    },
    "official": {
        "beta1": 0.0,
        "beta2": 0.9,
        "d_every": 4,
        "lr_schedule": {"constant": 6, "decay": 4, "unit": "epochs"},
        "init": "xavier",
        "mouth_audio": "with_generator",
        "generator": {
            "residual": True,
            "flow_mask": True,
            "spade_hidden": 256,
            "encoder_spectral": True,
            "encoder_affine": True,
            "reflect_padding": True,
        },
        "discriminator": {"affine_norm": True},
        "mouth_discriminator": {"affine_norm": True, "n_layers": 4},
        "losses": {"l1_region": "face", "fm_layer_weight": "4/(n_layers+1)"},
        "vgg": {"input": "raw"},
    },
}
"""Per preset, the ``train:`` values it sets (nested like the section), the same keys in both:
``paper`` the paper's (also the dataclass defaults), ``official`` those of HeadGAN's official
code (michaildoukas/headGAN) where it differs from the paper."""


def preset_keys(preset: dict | None = None, prefix: str = "") -> list[str]:
    """Dotted names of the keys a preset sets (default: the ``official`` preset's)."""
    preset = PRESETS["official"] if preset is None else preset
    keys = []
    for key, value in preset.items():
        if isinstance(value, dict) and key != "lr_schedule":
            keys += preset_keys(value, f"{prefix}{key}.")
        else:
            keys.append(prefix + key)
    return keys


def _without_nulls(values: dict) -> dict:
    return {k: _without_nulls(v) if isinstance(v, dict) else v for k, v in values.items() if v is not None}


def _merged(base: dict, values: dict) -> dict:
    """``base`` updated by ``values``, nested sections key by key (only where both are dicts)."""
    out = dict(base)
    for key, value in values.items():
        out[key] = _merged(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return out
