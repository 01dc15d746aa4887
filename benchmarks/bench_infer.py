"""Inference speed: frames/s of the generator alone and of a whole reenactment, mp4 in to mp4 out.

Usage: ``python benchmarks/bench_infer.py [--width 32] [--size 256] [--batch 8] [--device auto]
[--precision fp32 bf16] [--seconds 10] [--results results --source face.jpg --driving talk.mp4
[--generator generator.pt] [--models-dir models]]``

``G``: the generator (randomly initialised at ``--width``; the cost does not depend on the weights)
generating a sequence from one reference with :class:`headgan_model.apps.inference.Animator`,
``--batch`` frames per forward pass, on random NMFC images and audio features. ``reenact``: with
``--results``, ``--source`` and ``--driving``, the whole of ``headgan-infer reenact``: decoding,
detection, crop, landmarks, fit, NMFC rendering and audio features of both files, generation and
H.264 encoding of the output (the generator of ``--generator``, or the random one); frames/s of
the driving clip, and the time of each part.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import rate  # noqa: E402

from headgan_model.apps.inference import Animator, LoadedGenerator, load_generator, resolve_device  # noqa: E402
from headgan_model.apps.prepare import PipelineSettings, Preparer  # noqa: E402
from headgan_model.apps.reenact import reenactment_parameters  # noqa: E402
from headgan_model.apps.video import write_mp4  # noqa: E402
from headgan_model.networks.generator import Generator, GeneratorConfig  # noqa: E402
from headgan_model.networks.summary import count_parameters  # noqa: E402
from headgan_prep.fit.parameters import FaceParameters  # noqa: E402
from headgan_prep.morphable.model import MorphableModel  # noqa: E402


def random_generator(width: int, device: torch.device) -> LoadedGenerator:
    torch.manual_seed(0)
    config = GeneratorConfig(width=width)
    return LoadedGenerator(Generator(config).to(device).eval(), config, 0, Path("random"), device)


def bench_generator(loaded: LoadedGenerator, size: int, batch: int, precision: str, seconds: float) -> float:
    rng = np.random.default_rng(0)
    n_frames = batch
    nmfc = rng.integers(0, 256, (n_frames, size, size, 3), dtype=np.uint8)
    reference = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    audio = rng.normal(size=(n_frames, 300)).astype(np.float32)
    animator = Animator(loaded, precision, batch)

    def work() -> int:
        frames = animator.animate(reference, nmfc[0], nmfc, audio)
        if loaded.device.type == "cuda":
            torch.cuda.synchronize()
        return len(frames)

    return rate(work, seconds)


def bench_reenact(args, loaded: LoadedGenerator, precision: str) -> None:
    timings = {}
    start = time.perf_counter()
    model = MorphableModel.load(args.results / "3dmm/learned.h5")
    preparer = Preparer(PipelineSettings.from_results(args.results), args.models_dir, model)
    timings["set-up"] = time.perf_counter() - start
    start = time.perf_counter()
    source = preparer.prepare(args.source)
    driving = preparer.prepare(args.driving)
    timings["preprocess"] = time.perf_counter() - start
    start = time.perf_counter()
    frame = len(source.frames) // 2
    one = FaceParameters(
        source.parameters.identity,
        source.parameters.expression[frame : frame + 1],
        source.parameters.camera[frame : frame + 1],
    )
    nmfc = preparer.renderer.render_parameters(reenactment_parameters(one, driving.parameters))
    timings["render"] = time.perf_counter() - start
    start = time.perf_counter()
    animator = Animator(loaded, precision, args.batch)
    generated = animator.animate(
        source.frames[frame], source.nmfc[frame], nmfc, driving.audio_features if animator.use_audio else None
    )
    timings["generate"] = time.perf_counter() - start
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        write_mp4(Path(tmp) / "out.mp4", generated, driving.waveform, driving.sample_rate)
    timings["encode"] = time.perf_counter() - start
    total = sum(v for k, v in timings.items() if k != "set-up")
    parts = ", ".join(f"{k} {v:.2f} s" for k, v in timings.items())
    print(
        f"reenact {len(generated)} frames {generated.shape[1]}²: {len(generated) / total:.3g} frames/s mp4 to mp4 ({parts})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--results", type=Path)
    parser.add_argument("--source", type=Path)
    parser.add_argument("--driving", type=Path)
    parser.add_argument("--generator", type=Path)
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    random = random_generator(args.width, device)
    print(
        f"G width {args.width}: {count_parameters(random.network) / 1e6:.2f} M parameters; device {device}, torch threads {torch.get_num_threads()}"
    )
    precisions = args.precision if device.type == "cuda" else ["fp32"]
    for precision in precisions:
        fps = bench_generator(random, args.size, args.batch, precision, args.seconds)
        print(f"G {args.size}², batch {args.batch}, {precision}: {fps:.3g} frames/s")
    if args.results and args.source and args.driving:
        loaded = load_generator(args.generator, args.device) if args.generator else random
        for precision in precisions:
            bench_reenact(args, loaded, precision)
    return 0


if __name__ == "__main__":
    sys.exit(main())
