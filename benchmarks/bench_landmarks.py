"""Landmarks throughput: frames/s of each backend, one core and all cores.

Usage: ``python benchmarks/bench_landmarks.py [--models-dir models] [--seconds 2] [--frames 100]``

Frames: 256×256 crops of the astronaut photo, turning and moving a little from frame to frame.
OpenCV's thread count is set to the backend's, so one thread means one core.

``mediapipe`` (the real ``face_landmark.tflite`` and BlazeFace models)

* ``model``: FaceMesh interpreter calls on a prepared input;
* ``locate``: ROI, warps, FaceMesh and mapping back (``FaceMeshLandmarker.locate``), with
  ``roi: track`` (the default: one detection, then each ROI from the previous frame's points) and
  ``roi: detect`` (detection on every ``detect_every``-th crop) for ``detect_every`` 4 and 1;
* ``clip``: ``clip_landmarks``: the above plus validity, fill, iBUG points and mouth boxes, for
  ``roi: track`` and ``roi: detect`` with ``detect_every: 4``.

``insightface`` (a generated ONNX model with ``1k3d68.onnx``'s signature and a ResNet-50-style body:
bottleneck stages of 3, 4, 6 and 3 blocks, ≈3 GFLOPs at 192², random weights)

* ``model``: ONNX Runtime runs on a prepared batch;
* ``run``: crop warps, normalisation, the model and mapping back (``DenseLandmarks3D.run``),
  with the face box given (SCRFD's cost is in ``bench_detect.py``);

each at batch 1 and 32.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np
import skimage.data
from timing import rate

from headgan_prep.landmarks.facemesh import INPUT_SIZE
from headgan_prep.landmarks.insightface_1k3d68 import N_POINTS, DenseLandmarks3D
from headgan_prep.landmarks.shard import LandmarksConfig, clip_landmarks, make_landmarker


def test_frames(n: int) -> np.ndarray:
    """(n, 256, 256, 3) uint8 RGB crops of the astronaut's face, turning ±4° and moving ±4 px."""
    photo = skimage.data.astronaut()[:300, 80:380]
    base = cv2.resize(photo, (256, 256), interpolation=cv2.INTER_AREA)
    frames = []
    for a in np.linspace(0, 2 * np.pi, n, endpoint=False):
        matrix = cv2.getRotationMatrix2D((127.5, 127.5), 4 * math.sin(a), 1.0)
        matrix[:, 2] += (4 * math.cos(a), 4 * math.sin(a))
        frames.append(cv2.warpAffine(base, matrix, (256, 256), borderMode=cv2.BORDER_REPLICATE))
    return np.stack(frames)


def resnet_landmark_model(path: Path, seed: int = 0) -> Path:
    """Write a ResNet-50-style ONNX model with 1k3d68's signature (``data`` (N, 3, 192, 192) →
    ``fc1`` (N, 3309)) and random weights."""
    from onnx import TensorProto, helper, numpy_helper, save

    rng = np.random.default_rng(seed)
    nodes, weights = [], []

    def conv(x: str, c_in: int, c_out: int, k: int, stride: int, relu: bool = True) -> str:
        name = f"conv{len(nodes)}"
        w = rng.normal(0, math.sqrt(2 / (c_in * k * k)), (c_out, c_in, k, k)).astype(np.float32)
        weights.extend([numpy_helper.from_array(w, f"{name}_w"), numpy_helper.from_array(np.zeros(c_out, np.float32), f"{name}_b")])
        nodes.append(
            helper.make_node(
                "Conv", [x, f"{name}_w", f"{name}_b"], [name], kernel_shape=[k, k], strides=[stride, stride], pads=[k // 2] * 4
            )
        )
        if not relu:
            return name
        nodes.append(helper.make_node("Relu", [name], [f"{name}_relu"]))
        return f"{name}_relu"

    x = conv("data", 3, 64, 7, 2)
    nodes.append(helper.make_node("MaxPool", [x], ["pool"], kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4))
    x, c_in = "pool", 64
    for stage, (blocks, width) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512))):
        for block in range(blocks):
            stride = 2 if block == 0 and stage > 0 else 1
            y = conv(x, c_in, width, 1, 1)
            y = conv(y, width, width, 3, stride)
            y = conv(y, width, 4 * width, 1, 1, relu=False)
            shortcut = conv(x, c_in, 4 * width, 1, stride, relu=False) if block == 0 else x
            out = f"block{stage}_{block}"
            nodes.append(helper.make_node("Add", [y, shortcut], [out + "_sum"]))
            nodes.append(helper.make_node("Relu", [out + "_sum"], [out]))
            x, c_in = out, 4 * width
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"]))
    nodes.append(helper.make_node("Flatten", ["gap"], ["features"]))
    fc = rng.normal(0, 1e-3, (c_in, 3 * N_POINTS)).astype(np.float32)
    weights += [numpy_helper.from_array(fc, "fc_w"), numpy_helper.from_array(np.zeros(3 * N_POINTS, np.float32), "fc_b")]
    nodes.append(helper.make_node("Gemm", ["features", "fc_w", "fc_b"], ["fc1"]))
    graph = helper.make_graph(
        nodes,
        "resnet_landmarks",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, ["N", 3, INPUT_SIZE, INPUT_SIZE])],
        [helper.make_tensor_value_info("fc1", TensorProto.FLOAT, ["N", 3 * N_POINTS])],
        weights,
    )
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


MEDIAPIPE_ROI = [{"roi": "track"}, {"roi": "detect", "detect_every": 4}, {"roi": "detect", "detect_every": 1}]
"""Landmarks settings of the ``locate`` figures; ``clip`` takes the first two."""


def bench_mediapipe(models_dir: Path, frames: np.ndarray, threads: int, seconds: float) -> None:
    mesh = make_landmarker(LandmarksConfig(threads=threads), models_dir).mesh
    crop = np.zeros((1, INPUT_SIZE, INPUT_SIZE, 3), np.uint8)
    print(f"mediapipe  threads={threads}  model   {rate(lambda: len(mesh.infer(crop)[1]), seconds):7.0f} frames/s")
    configs = [LandmarksConfig(threads=threads, **setting) for setting in MEDIAPIPE_ROI]
    for cfg in configs:
        landmarker = make_landmarker(cfg, models_dir)
        figure = rate(lambda: len(landmarker.locate(frames)[1]), seconds)
        print(f"mediapipe  threads={threads}  locate  {figure:7.0f} frames/s  ({roi_setting(cfg)})")
    for cfg in configs[:2]:
        landmarker = make_landmarker(cfg, models_dir)
        figure = rate(lambda: len(clip_landmarks(frames, landmarker, cfg).valid), seconds)
        print(f"mediapipe  threads={threads}  clip    {figure:7.0f} frames/s  ({roi_setting(cfg)})")


def roi_setting(cfg: LandmarksConfig) -> str:
    """``roi=…`` of a figure's label, with ``detect_every`` where it applies."""
    return f"roi={cfg.roi}" if cfg.roi == "track" else f"roi={cfg.roi}, detect_every={cfg.detect_every}"


def bench_insightface(model_path: Path, frames: np.ndarray, threads: int, seconds: float) -> None:
    boxes = np.tile(np.array([[64.0, 64.0, 192.0, 192.0]]), (len(frames), 1))
    for batch in (1, 32):
        model = DenseLandmarks3D(model_path, threads=threads, batch_size=batch, providers=["CPUExecutionProvider"])
        blob = np.zeros((batch, 3, INPUT_SIZE, INPUT_SIZE), np.float32)
        raw = rate(lambda: len(model.session.run(None, {model.input_name: blob})[0]), seconds)
        full = rate(lambda: len(model.run(frames[:batch], boxes[:batch])), seconds)
        print(f"insightface threads={threads}  batch={batch:2d}  model {raw:6.1f}  run {full:6.1f} frames/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models-dir", default="models")
    parser.add_argument("--seconds", type=float, default=2.0, help="measuring time per figure")
    parser.add_argument("--frames", type=int, default=100, help="crops per call of the mediapipe figures")
    args = parser.parse_args()
    frames = test_frames(max(args.frames, 32))
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        model_path = resnet_landmark_model(Path(tmp) / "resnet_1k3d68.onnx")
        for threads in sorted({1, cores}):
            cv2.setNumThreads(threads)
            bench_mediapipe(Path(args.models_dir), frames[: args.frames], threads, args.seconds)
            bench_insightface(model_path, frames, threads, args.seconds)


if __name__ == "__main__":
    main()
