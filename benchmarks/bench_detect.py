"""Face detection throughput: frames/s of each backend, raw model calls vs full ``detect``.

Usage: ``python benchmarks/bench_detect.py [--models-dir models] [--seconds 1.5]``

For each detector, frame size (256×256: the astronaut photo resized; 1280×720: the photo pasted
into a black frame) and thread count (1 and all cores), prints

* ``raw``: model calls on an already prepared input (BlazeFace: LiteRT interpreter calls at the
  detector's batch size; insightface: ONNX Runtime session runs on a 1×3×S×S blob), in frames/s;
* ``detect``: ``FaceDetector.detect`` on batches of 64 frames, pre- and post-processing included.

OpenCV's thread count is set to the same value, so one thread means one core.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

import cv2
import numpy as np
import skimage.data

from headgan_prep.ingest.detect import BlazeFaceDetector, InsightFaceDetector, auto_input_size, letterbox_frames, make_detector
from timing import rate

DETECTORS = [
    ("mediapipe", None),
    ("mediapipe", "face_detection_full_range_sparse.tflite"),
    ("insightface", None),
]
BATCH = 64


def test_frames(height: int, width: int) -> np.ndarray:
    """(BATCH, height, width, 3) uint8 RGB frames showing the astronaut photo."""
    photo = skimage.data.astronaut()
    if (height, width) == (256, 256):
        frame = cv2.resize(photo, (256, 256), interpolation=cv2.INTER_AREA)
    else:
        frame = np.zeros((height, width, 3), np.uint8)
        y, x = (height - photo.shape[0]) // 2, (width - photo.shape[1]) // 2
        frame[y : y + photo.shape[0], x : x + photo.shape[1]] = photo
    return np.repeat(frame[None], BATCH, axis=0)


def raw_work(detector, frames: np.ndarray, threads: int) -> Callable[[], int]:
    """A model-only call on prepared input, returning the frames it covers."""
    if isinstance(detector, BlazeFaceDetector):
        tensor, _ = letterbox_frames(frames[: detector.batch_size], detector.config.input_size)
        return lambda: len(detector.infer(tensor)[1])
    assert isinstance(detector, InsightFaceDetector)
    import onnxruntime

    size = detector.input_size or auto_input_size(*frames.shape[1:3])
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(
        detector.model.model_file, sess_options=options, providers=["CPUExecutionProvider"]
    )
    blob = np.zeros((1, 3, size, size), np.float32)
    name = session.get_inputs()[0].name
    return lambda: session.run(None, {name: blob}) and 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models-dir", default="models")
    parser.add_argument("--seconds", type=float, default=1.5, help="measuring time per figure")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    print(f"{'detector':<45} {'frame':>9} {'threads':>7} {'batch':>5} {'raw f/s':>8} {'detect f/s':>10} {'faces':>5}")
    for backend, model in DETECTORS:
        for height, width in [(256, 256), (720, 1280)]:
            frames = test_frames(height, width)
            for threads in sorted({1, cores}):
                cv2.setNumThreads(threads)
                detector = make_detector(
                    backend, args.models_dir, model=model, threads=threads, providers=["CPUExecutionProvider"]
                )
                raw = rate(raw_work(detector, frames, threads), args.seconds)
                full = rate(lambda: len(detector.detect(frames)), args.seconds)
                faces = len(detector.detect(frames[:1])[0].scores)
                batch = getattr(detector, "batch_size", 1)
                print(
                    f"{detector.name:<45} {width:>4}x{height:<4} {threads:>7} {batch:>5} {raw:>8.0f} {full:>10.0f}"
                    f" {faces:>5}"
                )


if __name__ == "__main__":
    main()
