"""Training throughput: samples/s, peak memory, model FLOPs utilisation and data wait of HeadGAN training.

Usage: ``python benchmarks/bench_train.py [--preset paper] [--width 32] [--spade-hidden 128] [--d-width 64]
[--size 256] [--batch-sizes 6 max] [--max-batch 512] [--precision fp32 bf16] [--compile off on] [--steps 10]
[--workers 4] [--vgg] [--device auto] [--peak-tflops T]``

Prints the parameter counts of G, D and D_m, then one row per precision, torch.compile setting and
batch size (``max``: the largest batch that fits, found by doubling from 6 until CUDA runs out of
memory and bisecting, at most ``--max-batch``; on the CPU that cap) of a markdown table:

* samples/s and ms per step over ``--steps`` full training steps (G forward, D and D_m on real and
  generated frames, G update, D and D_m updates) after warm-up steps, the batches coming from the
  training DataLoader (``--workers`` processes) over random stores of ``--size``² frames;
* peak memory: CUDA's max allocated, or the process's peak resident set on the CPU;
* TFLOP per step: the FLOPs of one training step counted by ``torch.utils.flop_counter`` (convs,
  matmuls and the rest it knows, forward and backward; counted once per batch size, eagerly);
* MFU: those FLOPs × steps/s over the chip's dense bf16 peak (``--peak-tflops``, or known for H100,
  H200 and A100; ``n/a`` otherwise), for every row, so that rows compare;
* × fp32: samples/s over those of the fp32 row of the same compile setting and batch;
* data wait: the share of the step time spent waiting for the next batch.

On the CPU, bf16 and fp16 run in fp32 (as training does); the row says what ran.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.stores import write_results  # noqa: E402

from headgan_model.networks.summary import count_parameters  # noqa: E402
from headgan_model.networks.vgg import vgg19_feature_layers  # noqa: E402
from headgan_model.train.settings import TrainSettings  # noqa: E402
from headgan_model.train.trainer import Trainer  # noqa: E402
from headgan_prep.dataset.index import build_index, write_index  # noqa: E402

BF16_PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0}
"""Dense bf16 tensor-core peaks (SXM parts), TFLOP/s, by device name."""


def peak_memory_gib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def peak_tflops(device: torch.device, given: float | None) -> float | None:
    if given is not None:
        return given
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in BF16_PEAK_TFLOPS.items() if key in name), None)


def repeated(batch: dict[str, torch.Tensor], size: int) -> dict[str, torch.Tensor]:
    """A batch of ``size`` samples made by repeating ``batch``'s."""
    index = torch.arange(size) % len(batch["image"])
    return {name: value[index] for name, value in batch.items()}


def fits(trainer: Trainer, batch: dict[str, torch.Tensor], size: int) -> bool:
    """Whether two training steps at batch ``size`` run without running out of CUDA memory."""
    try:
        for _ in range(2):
            trainer.train_step(repeated(batch, size))
        return True
    except torch.OutOfMemoryError:
        return False
    finally:
        if trainer.device.type == "cuda":
            torch.cuda.empty_cache()


def largest_batch(trainer: Trainer, batch: dict[str, torch.Tensor], start: int, cap: int) -> int:
    """The largest batch ≤ ``cap`` that fits (doubling from ``start``, then bisecting)."""
    if trainer.device.type != "cuda":
        return cap
    good, bad = 0, None
    size = min(start, cap)
    while bad is None and good < cap:
        if fits(trainer, batch, size):
            good, size = size, min(2 * size, cap)
        else:
            bad = size
    while bad is not None and bad - good > 1:
        middle = (good + bad) // 2
        good, bad = (middle, bad) if fits(trainer, batch, middle) else (good, middle)
    return good


def step_flops(trainer: Trainer, batch: dict[str, torch.Tensor]) -> int:
    """FLOPs of one training step (forward and backward of every network, counted eagerly)."""
    with FlopCounterMode(display=False) as counter:
        trainer.train_step(batch)
    return counter.get_total_flops()


def timed_run(trainer: Trainer, steps: int, warmup: int) -> dict[str, float]:
    """Steps fed by the training DataLoader: step time and the time spent waiting on data."""
    batches = iter(trainer.loader())
    for _ in range(warmup):
        trainer.train_step(next(batches))
    wait = total = 0.0
    for _ in range(steps):
        start = time.perf_counter()
        batch = next(batches)
        loaded = time.perf_counter()
        trainer.train_step(batch)  # returns floats of the losses: the device has finished the step
        end = time.perf_counter()
        wait, total = wait + loaded - start, total + end - start
    del batches
    return {"step_s": total / steps, "wait": wait / total}


def settings_for(args, batch_size: int, precision: str, compiled: bool, vgg_path: Path) -> TrainSettings:
    return TrainSettings.from_dict(
        {
            "preset": args.preset,
            "batch_size": batch_size,
            "generator": {"width": args.width, "spade_hidden": args.spade_hidden},
            "discriminator": {"width": args.d_width},
            "mouth_discriminator": {"width": args.d_width},
            "vgg": {"enabled": args.vgg, "weights": str(vgg_path)},
            "flow_mask": {"target": "nmfc"},
            "mouth_size": min(64, args.size),
            "precision": precision,
            "compile": compiled,
            "device": args.device,
            "workers": args.workers,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="paper", choices=["paper", "official"])
    parser.add_argument("--width", type=int, default=32, help="generator width (paper 32)")
    parser.add_argument("--spade-hidden", type=int, default=None, help="hidden channels of SPADE (default: the preset's)")
    parser.add_argument("--d-width", type=int, default=64, help="discriminator width (paper 64)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch-sizes", nargs="+", default=["6", "max"], help="batch sizes; max: the largest that fits")
    parser.add_argument("--max-batch", type=int, default=512, help="cap of the largest-batch search (the CPU's max)")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"])
    parser.add_argument("--precision", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--compile", nargs="+", default=["off", "on"], choices=["off", "on"])
    parser.add_argument("--vgg", action="store_true", help="include the VGG19 perceptual loss")
    parser.add_argument("--peak-tflops", type=float, default=None, help="the chip's dense bf16 peak, TFLOP/s")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        results = tmp / "results"
        write_results(results, {"train-0000": {f"id{i}+a+1": 32 for i in range(8)}}, size=args.size)
        index = results / "dataset/train.json"
        write_index(build_index(results, "train")[0], index)
        vgg_path = tmp / "models/torchvision/vgg19.pth"
        vgg_path.parent.mkdir(parents=True)
        torch.save({f"features.{k}": v for k, v in vgg19_feature_layers().state_dict().items()}, vgg_path)

        probe = Trainer(settings_for(args, 6, "fp32", False, vgg_path), index, tmp / "probe")
        counts = ", ".join(f"{name} {count_parameters(net):,}" for name, net in probe.networks.items())
        peak = peak_tflops(probe.device, args.peak_tflops)
        print(f"preset {args.preset}, {args.size}², parameters: {counts}; device {probe.device}"
              f"{'' if probe.device.type == 'cpu' else ' ' + torch.cuda.get_device_name(probe.device)}, "
              f"bf16 peak {'n/a' if peak is None else f'{peak:g} TFLOP/s'}")
        sample = next(iter(probe.loader()))
        flops: dict[int, int] = {}
        print("| precision | compile | batch | samples/s | ms/step | peak GiB | TFLOP/step | MFU | × fp32 | data wait |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        fp32_rate: dict[tuple[str, int], float] = {}
        for precision in args.precision:
            sizes = []
            for entry in args.batch_sizes:
                if entry == "max":
                    searcher = Trainer(settings_for(args, 6, precision, False, vgg_path), index, tmp / f"max-{precision}")
                    entry = largest_batch(searcher, sample, 6, args.max_batch)
                    del searcher
                sizes.append(int(entry))
            for compiled in args.compile:
                for batch_size in sizes:
                    if batch_size not in flops:
                        flops[batch_size] = step_flops(probe, repeated(sample, batch_size))
                    settings = settings_for(args, batch_size, precision, compiled == "on", vgg_path)
                    trainer = Trainer(settings, index, tmp / f"run-{precision}-{compiled}-{batch_size}")
                    if trainer.device.type == "cuda":
                        torch.cuda.reset_peak_memory_stats(trainer.device)
                    ran = "fp32" if trainer.autocast_dtype is None else precision
                    try:
                        timing = timed_run(trainer, args.steps, args.warmup)
                    except torch.OutOfMemoryError:
                        print(f"| {ran} | {compiled} | {batch_size} | out of memory | | | | | | |")
                        continue
                    rate = batch_size / timing["step_s"]
                    if precision == "fp32":
                        fp32_rate[(compiled, batch_size)] = rate
                    tflop = flops[batch_size] / 1e12
                    mfu = "n/a" if peak is None else f"{100 * tflop / timing['step_s'] / peak:.1f} %"
                    base = fp32_rate.get((compiled, batch_size))
                    speedup = "" if base is None else f"{rate / base:.2f}"
                    print(
                        f"| {ran} | {compiled} | {batch_size} | {rate:.1f} | {1000 * timing['step_s']:.1f} | "
                        f"{peak_memory_gib(trainer.device):.1f} | {tflop:.3f} | {mfu} | {speedup} | {100 * timing['wait']:.1f} % |",
                        flush=True,
                    )
                    del trainer
                    if probe.device.type == "cuda":
                        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
