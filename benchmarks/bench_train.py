"""Training throughput: iterations/s, samples/s and peak memory of HeadGAN training steps at 256².

Usage: ``python benchmarks/bench_train.py [--width 32] [--spade-hidden 128] [--d-width 64] [--batch-size 6] [--steps 5]
[--device auto] [--precision fp32 bf16] [--compile off on] [--vgg]``

Prints the parameter counts of G, D and D_m at full width (the paper's sizes), then, per precision
and torch.compile setting, times ``--steps`` full training steps (G forward, D and D_m on real and
generated frames, G update, D and D_m updates) on random 256² stores after warm-up steps. The
perceptual loss runs on a randomly initialised VGG19 with ``--vgg`` (same cost as the real
weights). Peak memory: CUDA's max allocated, or the process's peak resident set on the CPU.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from stores import write_results  # noqa: E402

from headgan_model.networks.discriminator import DiscriminatorConfig, ImageDiscriminator, MouthDiscriminator  # noqa: E402
from headgan_model.networks.generator import Generator, GeneratorConfig  # noqa: E402
from headgan_model.train.settings import TrainSettings  # noqa: E402
from headgan_model.networks.summary import count_parameters  # noqa: E402
from headgan_model.train.trainer import Trainer  # noqa: E402
from headgan_model.networks.vgg import vgg19_feature_layers  # noqa: E402
from headgan_prep.dataset.index import build_index, write_index  # noqa: E402


def peak_memory_gib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=32, help="generator width (paper 32)")
    parser.add_argument("--spade-hidden", type=int, default=128, help="hidden channels of SPADE (paper code 128)")
    parser.add_argument("--d-width", type=int, default=64, help="discriminator width (paper 64)")
    parser.add_argument("--batch-size", type=int, default=6)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    parser.add_argument("--precision", nargs="+", default=["fp32"], choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--compile", nargs="+", default=["off"], choices=["off", "on"])
    parser.add_argument("--vgg", action="store_true", help="include the VGG19 perceptual loss")
    args = parser.parse_args()

    print(
        f"parameters at full width: G {count_parameters(Generator(GeneratorConfig())):,}, "
        f"D {count_parameters(ImageDiscriminator(DiscriminatorConfig())):,}, "
        f"D_m {count_parameters(MouthDiscriminator(DiscriminatorConfig.mouth())):,}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        results = tmp / "results"
        write_results(results, {"train-0000": {"id1+a+1": 16, "id2+b+1": 16}}, size=args.size)
        index = results / "dataset/train.json"
        write_index(build_index(results, "train")[0], index)
        vgg_path = tmp / "models/torchvision/vgg19.pth"
        vgg_path.parent.mkdir(parents=True)
        torch.save({f"features.{k}": v for k, v in vgg19_feature_layers().state_dict().items()}, vgg_path)
        for precision in args.precision:
            for compiled in args.compile:
                settings = TrainSettings.from_dict(
                    {
                        "batch_size": args.batch_size,
                        "generator": {"width": args.width, "spade_hidden": args.spade_hidden},
                        "discriminator": {"width": args.d_width},
                        "mouth_discriminator": {"width": args.d_width},
                        "vgg": {"enabled": args.vgg, "weights": str(vgg_path)},
                        "precision": precision,
                        "compile": compiled == "on",
                        "device": args.device,
                        "workers": 0,
                    }
                )
                trainer = Trainer(settings, index, tmp / f"run-{precision}-{compiled}")
                batch = next(iter(trainer.loader()))
                for _ in range(args.warmup):
                    trainer.train_step(batch)
                sync = torch.cuda.synchronize if trainer.device.type == "cuda" else (lambda: None)
                sync()
                start = time.perf_counter()
                for _ in range(args.steps):
                    trainer.train_step(batch)
                sync()
                elapsed = time.perf_counter() - start
                print(
                    f"{trainer.device} {precision:4s} compile {compiled:3s} G width {args.width}/{args.spade_hidden}, "
                    f"D width {args.d_width}, batch {args.batch_size}, "
                    f"{args.size}²: {args.steps / elapsed:6.2f} it/s  {args.steps * args.batch_size / elapsed:7.1f} samples/s  "
                    f"peak {peak_memory_gib(trainer.device):5.1f} GiB"
                )
                del trainer
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                    torch.cuda.reset_peak_memory_stats()


if __name__ == "__main__":
    main()
