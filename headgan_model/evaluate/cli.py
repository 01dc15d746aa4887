"""Command line of the workflow's evaluation jobs (``python -m headgan_model.evaluate.cli``).

One sub-command per task scores the applications' videos of a run and writes the task's score file
and per-clip CSV; ``report`` turns the score files into ``metrics.json``, the tables and
``protocol.json``. Settings come as JSON objects, the sections of ``config.yaml`` as the workflow
passes them (``evaluate:``, ``apps:``, ``landmarks:``, ``fit:``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import torch

from headgan_model.evaluate.networks import Networks
from headgan_model.evaluate.outputs import TaskOutputError
from headgan_model.evaluate.settings import EvaluateConfigError, EvaluateSettings
from headgan_model.evaluate.videos import VideoReadError
from headgan_model.metrics.frames import FrameMismatch
from headgan_prep.dataset.reader import DatasetReaderError
from headgan_prep.fit.algorithm import FitConfig, FitConfigError
from headgan_prep.landmarks.shard import LandmarksConfig, LandmarksConfigError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="headgan-evaluate", description="The workflow's evaluation jobs.")
    tasks = parser.add_subparsers(dest="task", required=True)

    def task(name: str, help: str) -> argparse.ArgumentParser:
        sub = tasks.add_parser(name, help=help)
        sub.add_argument("--index", required=True, type=Path, help="the test split's index, results/dataset/test.json")
        sub.add_argument(
            "--videos", required=True, type=Path, nargs="+", help="the task's folders under results/apps/{run}/"
        )
        sub.add_argument("--models-dir", required=True, type=Path)
        sub.add_argument("--scores", required=True, type=Path, help="score file (JSON) to write")
        sub.add_argument("--csv", required=True, type=Path, help="per-clip CSV to write")
        sub.add_argument("--settings", default="{}", help="JSON of config.yaml `evaluate:`")
        sub.add_argument("--threads", type=int, default=1, help="CPU threads of torch")
        return sub

    def head_pose(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--model", required=True, type=Path, help="the 3DMM the clips were fitted with")
        sub.add_argument("--landmarks-settings", default="{}", help="JSON of config.yaml `landmarks:`")
        sub.add_argument("--fit-settings", default="{}", help="JSON of config.yaml `fit:`")

    sub = task("reconstruct", "Table 1 left: the reconstructed test clips")
    sub.add_argument("--landmarks-settings", default="{}", help="JSON of config.yaml `landmarks:` (AKD's keypoints)")
    sub = task("reenact", "Table 1 right: the reenacted pairs")
    sub.add_argument("--source-index", required=True, type=Path, help="index of the sources' split")
    head_pose(sub)
    head_pose(task("frontalise", "Table 2: one frontalised frame per test clip"))

    report = tasks.add_parser("report", help="metrics.json, table1-3.md and protocol.json of a run")
    report.add_argument("--run", required=True)
    report.add_argument("--out", required=True, type=Path, help="results/eval/{run}")
    report.add_argument("--scores", required=True, nargs="+", help="task=score file")
    report.add_argument("--index", required=True, type=Path)
    report.add_argument("--generator", required=True, type=Path)
    report.add_argument("--model", required=True, type=Path)
    report.add_argument("--settings", default="{}", help="JSON of config.yaml `evaluate:`")
    report.add_argument("--apps-settings", default="{}", help="JSON of config.yaml `apps:`")
    return parser


def _networks(args: argparse.Namespace, settings: EvaluateSettings) -> Networks:
    landmarks = json.loads(args.landmarks_settings)
    landmarks["threads"] = args.threads
    if not hasattr(args, "model"):
        return Networks(settings, args.models_dir, landmarks=LandmarksConfig.from_dict(landmarks))
    return Networks(
        settings,
        args.models_dir,
        args.model,
        LandmarksConfig.from_dict(landmarks),
        FitConfig.from_dict(json.loads(args.fit_settings)),
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = EvaluateSettings.from_dict(json.loads(args.settings))
        if args.task == "report":
            from headgan_model.evaluate.report import write_report

            scores = dict(item.split("=", 1) for item in args.scores)
            files = {"generator": args.generator, "morphable_model": args.model}
            apps = json.loads(args.apps_settings)
            write_report(
                args.run,
                args.out,
                {k: Path(v) for k, v in scores.items()},
                settings,
                apps,
                args.index,
                files,
                args.out.parent,
            )
            return 0
        from headgan_model.evaluate.scores import write_scores

        torch.set_num_threads(args.threads)
        networks = _networks(args, settings)
        if args.task == "reconstruct":
            from headgan_model.evaluate.reconstruction import score_reconstruction

            scores = score_reconstruction(args.index, args.videos, networks)
        elif args.task == "reenact":
            from headgan_model.evaluate.reenactment import score_reenactment

            scores = score_reenactment(args.index, args.source_index, args.videos[0], networks)
        else:
            from headgan_model.evaluate.frontalisation import score_frontalisation

            scores = score_frontalisation(args.index, args.videos, networks)
        scores.protocol |= {"device": networks.device, "torch_threads": args.threads}
        write_scores(scores, args.scores, args.csv)
        for name, result in scores.metrics.items():
            logging.info(
                "%s %s: %s%s",
                args.task,
                name,
                result.value if result.missing is None else "missing",
                f" ({result.missing})" if result.missing else "",
            )
    except (
        EvaluateConfigError,
        LandmarksConfigError,
        FitConfigError,
        DatasetReaderError,
        TaskOutputError,
        VideoReadError,
        FrameMismatch,
    ) as error:
        print(f"headgan-evaluate {args.task}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
