"""Command line of the workflow's application jobs: ``headgan-apps`` (also ``python -m headgan_model.apps.cli``).

One sub-command per task, reading the stores of a dataset index and writing a task folder of
``results/apps/{run}/``. Settings come as a JSON object (``--settings``), the ``apps:`` section of
``config.yaml``, as the workflow passes it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from headgan_model.apps.inference import AudioMismatchError, GeneratorFileError
from headgan_model.apps.settings import AppsConfigError, AppsSettings
from headgan_prep.dataset.reader import DatasetReaderError
from headgan_prep.morphable.model import MorphableModelError
from headgan_prep.render.renderer import RenderConfig, RenderConfigError, RenderError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="headgan-apps", description="The workflow's application jobs.")
    tasks = parser.add_subparsers(dest="task", required=True)

    def task(name: str, help: str) -> argparse.ArgumentParser:
        sub = tasks.add_parser(name, help=help)
        sub.add_argument("--index", required=True, type=Path, help="the test split's index, results/dataset/test.json")
        sub.add_argument("--generator", required=True, type=Path, help="generator.pt")
        sub.add_argument("--out", required=True, type=Path, help="task folder to write")
        sub.add_argument("--preview", type=Path, help="PNG preview to write")
        sub.add_argument("--settings", default="{}", help="JSON of config.yaml `apps:`")
        return sub

    sub = task("reconstruct", "self-reenactment of every clip of a shard")
    sub.add_argument("--shard", required=True)
    sub = task("reenact", "cross-identity reenactment of (driving, source) pairs")
    sub.add_argument("--source-index", required=True, type=Path, help="index of the sources' split")
    _model_arguments(sub)
    sub = task("frontalise", "frontal views of every clip of a shard")
    sub.add_argument("--shard", required=True)
    _model_arguments(sub)
    _model_arguments(task("edit", "expression and pose editing grid of one source frame"))
    sub = task("compress", "compression of test clips against H.264/H.265")
    _model_arguments(sub)
    sub.add_argument("--models-dir", default=Path("models"), type=Path, help="models folder (LPIPS weights)")
    return parser


def _model_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--model", required=True, type=Path, help="the 3DMM the clips were fitted with")
    sub.add_argument("--render-settings", default="{}", help="JSON of config.yaml `render:`")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = AppsSettings.from_dict(json.loads(args.settings))
        render = RenderConfig.from_dict(json.loads(getattr(args, "render_settings", "{}")))
        if args.task == "reconstruct":
            from headgan_model.apps.reconstruct import reconstruct_shard

            reconstruct_shard(args.index, args.shard, args.generator, args.out, settings, args.preview)
        elif args.task == "reenact":
            from headgan_model.apps.reenact import reenact_pairs

            reenact_pairs(
                args.index, args.source_index, args.model, args.generator, args.out, settings, render, args.preview
            )
        elif args.task == "frontalise":
            from headgan_model.apps.frontalise import frontalise_shard

            frontalise_shard(
                args.index, args.shard, args.model, args.generator, args.out, settings, render, args.preview
            )
        elif args.task == "edit":
            from headgan_model.apps.edit import edit_source

            edit_source(args.index, args.model, args.generator, args.out, settings, render)
        elif args.task == "compress":
            from headgan_model.apps.compress import compress_split

            compress_split(
                args.index, args.model, args.generator, args.out, settings, render, args.preview, args.models_dir
            )
    except (
        AppsConfigError,
        GeneratorFileError,
        AudioMismatchError,
        DatasetReaderError,
        MorphableModelError,
        RenderConfigError,
        RenderError,
    ) as error:
        print(f"headgan-apps {args.task}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
