"""Training data throughput: samples/s of the DataLoader over a dataset index (256² stores).

Usage: ``python benchmarks/bench_loader.py [--index results/dataset/train.json] [--workers 0 2]
[--batch-size 6] [--seconds 10] [--sequence-length N]``

Reads the stores `snakemake preprocess` wrote (run it first; ``bench_preprocess.py --keep`` leaves a
larger demo set). Timed: batches of the training loader as training gets them (:class:`TrainingSampler`
keys, uint8 images; :func:`normalize_batch` runs on the training device afterwards and is not part of
the loader) for ``--seconds`` after a warm-up of a few batches. Printed per worker count: samples/s, batches/s and ms per batch. The training target is
a batch of 6 at 256² never waiting on data: ≥ 300 samples/s with 2 workers.
"""

from __future__ import annotations

import argparse
import time

from torch.utils.data import DataLoader

from headgan_model.train.data import SelfReenactmentDataset, TrainingSampler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", default="results/dataset/train.json")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--batch-size", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--sequence-length", type=int, default=None)
    args = parser.parse_args()

    dataset = SelfReenactmentDataset(args.index, sequence_length=args.sequence_length, as_uint8=True)
    size = dataset[0]["image"].shape[-1]
    print(f"{args.index}: {len(dataset.reader)} clips, {len(dataset)} samples, {size}×{size}, batch {args.batch_size}")
    for workers in args.workers:  # fork, the Linux default
        sampler = TrainingSampler(dataset, args.batch_size, seed=0)
        loader = DataLoader(
            dataset,
            batch_size=args.batch_size,
            sampler=sampler,
            num_workers=workers,
            persistent_workers=workers > 0,
            prefetch_factor=4 if workers else None,
        )
        batches = iter(loader)
        for _ in range(3):
            next(batches)
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < args.seconds:
            next(batches)
            n += 1
        elapsed = time.perf_counter() - start
        print(
            f"  {workers} workers: {n * args.batch_size / elapsed:8.1f} samples/s  {n / elapsed:6.1f} batches/s"
            f"  {1000 * elapsed / n:6.1f} ms/batch"
        )
        del batches


if __name__ == "__main__":
    main()
