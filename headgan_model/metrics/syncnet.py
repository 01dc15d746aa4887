"""SyncNet (Chung & Zisserman, ACCV workshops 2016): the audio-visual network of LSE-C / LSE-D.

The network of ``joonson/syncnet_python`` whose weights are ``syncnet_v2.model`` (a torch state
dict, MIT licence), the one Wav2Lip's LSE scripts load. Two streams map 0.2 s of speech and of
video to 1024-d embeddings whose Euclidean distance is small when lips and sound are in sync:

- **audio** (``netcnnaud`` → ``netfcaud``): ``(N, 1, 13, 20)`` MFCCs (13 coefficients × 20 frames
  at 100 Hz, :mod:`headgan_model.metrics.mfcc`), six 3 × 3 / 5 × 4 convolutions with batch norm and
  ReLU, two max pools, then 512 → 512 → 1024 fully connected;
- **video** (``netcnnlip`` → ``netfclip``): ``(N, 3, 5, 224, 224)`` five consecutive BGR face
  crops, values 0–255 (not normalised), a 5 × 7 × 7 3D convolution over the five frames, five
  2D-in-3D convolutions, three max pools, then 512 → 512 → 1024.

Module names and indices are those of ``syncnet_python``'s ``SyncNetModel.S`` (its parameter-free
ReLU and pool layers occupy indices too), so the file loads key for key (:func:`load_syncnet`).
"""

from __future__ import annotations

from pathlib import Path

from torch import Tensor, nn

from headgan_model.networks.state_file import load_checked, read_state_dict

SYNCNET_WEIGHTS = "syncnet/syncnet_v2.model"
"""Default weights file, relative to the models folder."""
SYNCNET_URL = "http://www.robots.ox.ac.uk/~vgg/software/lipsync/data/syncnet_v2.model"
"""Where ``download_model.sh`` of ``joonson/syncnet_python`` gets the file."""
EMBEDDING = 1024
MFCC_WINDOW = 20
"""MFCC frames per audio input (0.2 s at 100 Hz)."""
VIDEO_WINDOW = 5
"""Video frames per visual input (0.2 s at 25 fps)."""
FACE_SIZE = 224


class SyncNetWeightsMissing(FileNotFoundError):
    """``syncnet_v2.model`` is not at the configured path; the message says where to get it."""

    def __init__(self, path: Path):
        super().__init__(
            f"SyncNet weights {path} missing: get syncnet_v2.model with download_model.sh of "
            f"https://github.com/joonson/syncnet_python ({SYNCNET_URL}, MIT licence) and save it at that path "
            "(or set evaluate.syncnet.weights)"
        )
        self.path = path


def _stream(conv: type[nn.Module], norm: type[nn.Module], pool: type[nn.Module], layers) -> nn.Sequential:
    """Convolution, batch norm, ReLU (and a pool) per entry of ``layers``:
    ``(in, out, conv kwargs, pool kwargs or None)``; a pool of ``{}`` is the identity."""
    modules: list[nn.Module] = []
    for channels_in, channels_out, conv_args, pool_args in layers:
        modules += [conv(channels_in, channels_out, **conv_args), norm(channels_out), nn.ReLU()]
        if pool_args is not None:
            modules.append(pool(**pool_args) if pool_args else nn.Identity())
    return nn.Sequential(*modules)


def _head() -> nn.Sequential:
    return nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, EMBEDDING))


class SyncNet(nn.Module):
    """Both streams (randomly initialised until :func:`load_syncnet` loads the weights)."""

    def __init__(self):
        super().__init__()
        k3 = {"kernel_size": 3, "padding": 1}
        self.netcnnaud = _stream(nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d, (
            (1, 64, k3, {}),
            (64, 192, k3, {"kernel_size": 3, "stride": (1, 2)}),
            (192, 384, k3, None),
            (384, 256, k3, None),
            (256, 256, k3, {"kernel_size": 3, "stride": 2}),
            (256, 512, {"kernel_size": (5, 4)}, None),
        ))  # fmt: skip
        plane3 = {"kernel_size": (1, 3, 3), "padding": (0, 1, 1)}
        self.netcnnlip = _stream(nn.Conv3d, nn.BatchNorm3d, nn.MaxPool3d, (
            (3, 96, {"kernel_size": (5, 7, 7), "stride": (1, 2, 2)}, {"kernel_size": (1, 3, 3), "stride": (1, 2, 2)}),
            (96, 256, {"kernel_size": (1, 5, 5), "stride": (1, 2, 2), "padding": (0, 1, 1)},
             {"kernel_size": (1, 3, 3), "stride": (1, 2, 2), "padding": (0, 1, 1)}),
            (256, 256, plane3, None),
            (256, 256, plane3, None),
            (256, 256, plane3, {"kernel_size": (1, 3, 3), "stride": (1, 2, 2)}),
            (256, 512, {"kernel_size": (1, 6, 6)}, None),
        ))  # fmt: skip
        self.netfcaud = _head()
        self.netfclip = _head()

    def forward_aud(self, mfcc: Tensor) -> Tensor:
        """``(N, 1, 13, 20)`` MFCC windows → ``(N, 1024)`` audio embeddings."""
        return self.netfcaud(self.netcnnaud(mfcc).flatten(1))

    def forward_lip(self, faces: Tensor) -> Tensor:
        """``(N, 3, 5, 224, 224)`` BGR face windows, 0–255 → ``(N, 1024)`` video embeddings."""
        return self.netfclip(self.netcnnlip(faces).flatten(1))


def load_syncnet(path: str | Path) -> SyncNet:
    """SyncNet with the weights of ``path``, frozen, in eval mode, on the CPU.

    Parameters
    ----------
    path : str or Path
        ``syncnet_v2.model`` (a torch state dict in ``syncnet_python``'s key layout;
        ``num_batches_tracked`` entries optional).

    Raises
    ------
    SyncNetWeightsMissing
        No file at ``path``.
    ValueError
        Another file: not a state dict, or keys missing, misshapen or unknown (the message names them).
    """
    path = Path(path)
    if not path.is_file():
        raise SyncNetWeightsMissing(path)
    state = read_state_dict(path, "SyncNet's state dict")
    return load_checked(SyncNet(), state, path, "SyncNet's syncnet_v2.model state dict")
