"""Command line of training: ``headgan-train`` (also ``python -m headgan_model.cli`` under torchrun).

Settings come as a JSON object (``--settings``), the same dict as the ``train:`` section of
``config.yaml``, so the workflow passes its config section through unchanged.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from headgan_model.train.data import NoTrainingClips
from headgan_model.train.settings import TrainConfigError, TrainSettings
from headgan_model.networks.vgg import VGGWeightsMissing
from headgan_prep.dataset.reader import DatasetReaderError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="headgan-train", description="Train HeadGAN on a dataset index.")
    parser.add_argument("--index", required=True, help="training split's index, results/dataset/train.json")
    parser.add_argument("--out", required=True, help="the run's folder, results/train/{run}")
    parser.add_argument("--settings", default="{}", help="JSON of config.yaml `train:`")
    parser.add_argument("--models-dir", default="models", help="models directory (VGG19 weights)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from headgan_model.train.trainer import train

    try:
        settings = TrainSettings.from_dict(json.loads(args.settings))
        train(settings, Path(args.index), Path(args.out), Path(args.models_dir), progress=not args.no_progress)
    except (TrainConfigError, VGGWeightsMissing, DatasetReaderError, NoTrainingClips) as error:
        print(f"headgan-train: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
