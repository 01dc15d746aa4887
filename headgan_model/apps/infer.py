"""``headgan-infer``: the applications on users' own files (also ``python -m headgan_model.apps.infer``).

Every input goes through the pipeline's preprocessing in-process with the settings the run's stores
were made with (:mod:`headgan_model.apps.prepare`); outputs are crop-sized mp4s at 25 fps (with the
driving audio where there is one), a PNG grid, or a compressed stream. Examples::

    headgan-infer reenact --source face.jpg --driving talk.mp4 --generator results/train/RUN/generator.pt --out out.mp4 --paste full.mp4
    headgan-infer reconstruct --video talk.mp4 --generator … --out out.mp4 --side side.mp4
    headgan-infer frontalise --video talk.mp4 --generator … --out frontal.mp4
    headgan-infer edit --source face.jpg --generator … --out grid.png
    headgan-infer compress --video talk.mp4 --out talk.hgnc
    headgan-infer decompress --stream talk.hgnc --generator … --out decoded.mp4
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from headgan_model.apps.clips import split_clips
from headgan_model.apps.compress import Encoded, decode, decode_audio, encode, with_audio
from headgan_model.apps.edit import edit_cells, expression_spread, grid
from headgan_model.apps.frontalise import audio_free_animator, frontal_parameters, task_audio
from headgan_model.apps.inference import Animator, AudioMismatchError, GeneratorFileError, load_generator
from headgan_model.apps.prepare import InputRejected, PipelineSettings, Prepared, Preparer
from headgan_model.apps.paste import paste_back
from headgan_model.apps.reenact import reenactment_parameters
from headgan_model.apps.settings import AppsConfigError, AppsSettings
from headgan_model.apps.video import side_by_side, write_mp4
from headgan_prep.dataset.reader import DatasetReader, DatasetReaderError
from headgan_prep.fit.parameters import FaceParameters
from headgan_prep.morphable.model import MorphableModel, MorphableModelError
from headgan_prep.preview import write_png
from headgan_prep.render.renderer import NMFCRenderer
from headgan_prep.store.atomic import atomic_file


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="headgan-infer", description="HeadGAN's applications on your own files.")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help: str, generator: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help)
        if generator:
            sub.add_argument("--generator", required=True, type=Path, help="results/train/RUN/generator.pt")
        sub.add_argument("--out", required=True, type=Path, help="output file")
        sub.add_argument(
            "--results", default=Path("results"), type=Path, help="the run's results folder (its stores' settings)"
        )
        sub.add_argument("--models-dir", default=Path("models"), type=Path, help="models directory")
        sub.add_argument("--model", type=Path, help="the run's 3DMM (default RESULTS/3dmm/learned.h5)")
        sub.add_argument("--settings", default="{}", help="JSON of config.yaml `apps:` (device, precision, batch, …)")
        return sub

    sub = command("reconstruct", "regenerate a video from its middle frame")
    sub.add_argument("--video", required=True, type=Path)
    sub.add_argument("--side", type=Path, help="also write reference | real | NMFC | generated")
    sub = command("reenact", "drive a source image (or a video's middle frame) with a driving video")
    sub.add_argument("--source", required=True, type=Path)
    sub.add_argument("--driving", required=True, type=Path)
    sub.add_argument("--side", type=Path, help="also write source | driving | NMFC | generated")
    sub.add_argument("--paste", type=Path, help="also write the generated face pasted back into the source image")
    sub = command("frontalise", "a video seen from the front")
    sub.add_argument("--video", required=True, type=Path)
    sub = command("edit", "expression and pose editing grid of a source image (PNG)")
    sub.add_argument("--source", required=True, type=Path)
    sub = command("compress", "a video to a reference image + 35 quantised floats per frame", generator=False)
    sub.add_argument("--video", required=True, type=Path)
    sub = command("decompress", "regenerate a compressed video", generator=True)
    sub.add_argument("--stream", required=True, type=Path)
    return parser


def _preparer(args) -> Preparer:
    model = MorphableModel.load(args.model or args.results / "3dmm/learned.h5")
    return Preparer(PipelineSettings.from_results(args.results), args.models_dir, model)


def _frame(prepared: Prepared, index: int) -> FaceParameters:
    p = prepared.parameters
    return FaceParameters(p.identity, p.expression[index : index + 1], p.camera[index : index + 1])


def run(args, settings: AppsSettings) -> None:
    """Run one command of :func:`main`'s parsed arguments."""
    if args.command == "decompress":
        encoded = Encoded.from_bytes(args.stream.read_bytes())
        model = MorphableModel.load(args.model or args.results / "3dmm/learned.h5")
        pipeline = PipelineSettings.from_results(args.results)
        render = pipeline.render
        renderer = NMFCRenderer(model, size=pipeline.ingest.crop_size, batch=render.batch, colouring=render.colouring)
        animator, _ = audio_free_animator(settings, args.generator)
        frames = decode(encoded, renderer, animator)
        write_mp4(args.out, frames, decode_audio(encoded), encoded.sample_rate, settings.video)
        return
    preparer = _preparer(args)
    if args.command == "compress":
        clip = preparer.prepare(args.video)
        reference = len(clip.frames) // 2
        options = settings.compress
        encoded = encode(
            clip.parameters, clip.valid, clip.frames[reference], reference, options.bits, options.jpeg_quality
        )
        if options.audio_kbps and len(clip.waveform):
            encoded = with_audio(encoded, clip.waveform, clip.sample_rate, options.audio_kbps)
        data = encoded.to_bytes()
        with atomic_file(args.out, "wb") as handle:
            handle.write(data)
        return
    if args.command in ("frontalise", "edit"):
        animator, note = audio_free_animator(settings, args.generator)
        logging.getLogger(__name__).info("audio: %s", note)
    else:
        animator = Animator(load_generator(args.generator, settings.device), settings.precision, settings.batch)
    if args.command in ("reconstruct", "frontalise"):
        clip = preparer.prepare(args.video)
        reference = len(clip.frames) // 2
        if args.command == "reconstruct":
            nmfc, audio = clip.nmfc, clip.audio_features if animator.use_audio else None
        else:
            nmfc = preparer.renderer.render_parameters(
                frontal_parameters(clip.parameters, settings.frontalise.expression), clip.valid
            )
            audio = task_audio(animator, len(nmfc))
        generated = animator.animate(clip.frames[reference], clip.nmfc[reference], nmfc, audio)
        write_mp4(args.out, generated, clip.waveform, clip.sample_rate, settings.video)
        if getattr(args, "side", None):
            write_mp4(
                args.side,
                side_by_side(clip.frames[reference], clip.frames, nmfc, generated),
                clip.waveform,
                clip.sample_rate,
                settings.video,
            )
    elif args.command == "reenact":
        source, driving = preparer.prepare(args.source), preparer.prepare(args.driving)
        frame = len(source.frames) // 2
        parameters = reenactment_parameters(_frame(source, frame), driving.parameters, settings.reenact.smoothing)
        nmfc = preparer.renderer.render_parameters(parameters)
        audio = driving.audio_features if animator.use_audio else None
        generated = animator.animate(source.frames[frame], source.nmfc[frame], nmfc, audio)
        write_mp4(args.out, generated, driving.waveform, driving.sample_rate, settings.video)
        if args.side:
            side = side_by_side(source.frames[frame], driving.frames, nmfc, generated)
            write_mp4(args.side, side, driving.waveform, driving.sample_rate, settings.video)
        if args.paste:
            if source.image is None:
                raise AppsConfigError("--paste needs a source image (a video source's frames are not kept)")
            pasted = paste_back(source.image, generated, source.crop_box)
            write_mp4(args.paste, pasted, driving.waveform, driving.sample_rate, settings.video)
    elif args.command == "edit":
        source = preparer.prepare(args.source)
        frame = len(source.frames) // 2
        spread = expression_spread(split_clips(DatasetReader(args.results / "dataset/test.json")))
        cells, described = edit_cells(_frame(source, frame), spread, settings)
        nmfc = preparer.renderer.render_parameters(cells)
        generated = animator.animate(
            source.frames[frame], source.nmfc[frame], nmfc, task_audio(animator, len(nmfc)), stills=True
        )
        write_png(grid(source.frames[frame], generated, described), args.out)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        run(args, AppsSettings.from_dict(json.loads(args.settings)))
    except (
        InputRejected,
        AppsConfigError,
        GeneratorFileError,
        AudioMismatchError,
        DatasetReaderError,
        MorphableModelError,
        FileNotFoundError,
    ) as error:
        print(f"headgan-infer {args.command}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
