"""Speed of the audio features, as real-time factors on one core (seconds of audio per second).

The process is pinned to one CPU with every thread count 1. On espeak-ng speech it times:

* ``lowlevel``: :func:`headgan_prep.audio.lowlevel.lowlevel_features` (the 84 features);
* ``pyaudioanalysis``: pyAudioAnalysis's ``mid_feature_extraction`` with the same windows (when
  installed; on the first ``--reference-seconds`` only, it is slow);
* ``mfcc``: DeepSpeech's MFCC front end (:func:`headgan_prep.audio.deepspeech.mfcc`);
* ``deepspeech``: front end + acoustic model + per-frame tokens, with the model file given by
  ``--deepspeech-model`` (the 0.9.3 release ``.tflite``; not measured without it);
* ``stage``: the whole stage, :func:`headgan_prep.audio.shard.audio_shard`, reading a crop store with
  the speech as clips of ``--clip-seconds`` and writing the feature store, low-level features
  only (``deepspeech.mode: none``), and in mode ``tokens`` with ``--deepspeech-model``.

Prints one line per measurement and a JSON summary. Other load on the machine lowers the numbers.

    python benchmarks/bench_audio.py --seconds 120 [--deepspeech-model models/deepspeech/deepspeech-0.9.3-models.tflite]
"""

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import zarr

from headgan_prep.audio.shard import (
    DEEPSPEECH_MODEL,
    AudioConfig,
    DeepSpeechConfig,
    audio_shard,
)
from headgan_prep.audio.lowlevel import analysis_windows, lowlevel_features
from headgan_prep.audio.deepspeech import DeepSpeechModel, deepspeech_features, mfcc
from headgan_prep.demo.generate import AUDIO_RATE, SENTENCES, SOURCES, speech

FPS = 25.0


def spoken_audio(seconds: float, workdir: Path) -> np.ndarray:
    """``seconds`` of espeak-ng speech, sentence after sentence, float32 in [-1, 1]."""
    pieces, total, k = [], 0, 0
    while total < seconds * AUDIO_RATE:
        voice = SOURCES[k % len(SOURCES)].voice
        piece = speech(voice, SENTENCES[k % len(SENTENCES)], 4 * AUDIO_RATE, workdir)
        pieces.append(piece)
        total += len(piece)
        k += 1
    return (np.concatenate(pieces)[: int(seconds * AUDIO_RATE)] / 32768).astype(np.float32)


def best_of(repeats: int, function) -> float:
    """Shortest wall time of ``repeats`` calls, seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def crop_store(path: Path, audio: np.ndarray, clip_seconds: float) -> Path:
    """A crop store holding ``audio`` cut into clips (audio and attributes only)."""
    root = zarr.open_group(store=str(path), mode="w", zarr_format=3)
    per_clip = int(clip_seconds * AUDIO_RATE)
    for index, start in enumerate(range(0, len(audio) - per_clip + 1, per_clip)):
        clip = audio[start : start + per_clip]
        group = root.create_group(
            f"clip{index:04d}",
            attributes={
                "clip_id": f"clip{index:04d}",
                "n_frames": int(clip_seconds * FPS),
                "fps": FPS,
                "sample_rate": AUDIO_RATE,
                "has_audio": True,
            },
        )
        group.create_array("audio", data=clip, chunks=clip.shape)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="seconds of speech")
    parser.add_argument("--clip-seconds", type=float, default=8.0, help="clip length for the stage")
    parser.add_argument("--reference-seconds", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--deepspeech-model", type=Path, help="DeepSpeech 0.9.3 .tflite file")
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    summary = {}
    with tempfile.TemporaryDirectory(prefix="bench-audio-") as tmp:
        tmp = Path(tmp)
        audio = spoken_audio(args.seconds, tmp)
        n_frames = int(args.seconds * FPS)

        seconds = best_of(args.repeats, lambda: lowlevel_features(audio, AUDIO_RATE, FPS, n_frames))
        summary["lowlevel_x_realtime"] = args.seconds / seconds

        try:
            from pyAudioAnalysis import MidTermFeatures
        except ImportError:
            print("pyaudioanalysis: not installed")
        else:
            window, step = analysis_windows(AUDIO_RATE, FPS)
            part = audio[: int(args.reference_seconds * AUDIO_RATE)].astype(np.float64) * 32768
            mid_window = round(AUDIO_RATE * 8 / FPS) + window - step
            seconds = best_of(
                1,
                lambda: MidTermFeatures.mid_feature_extraction(
                    part, AUDIO_RATE, mid_window, round(AUDIO_RATE / FPS), window, step
                ),
            )
            summary["pyaudioanalysis_x_realtime"] = args.reference_seconds / seconds

        seconds = best_of(args.repeats, lambda: mfcc(audio))
        summary["mfcc_x_realtime"] = args.seconds / seconds
        if args.deepspeech_model is None:
            print("deepspeech: not measured (no --deepspeech-model)")
        else:
            model = DeepSpeechModel(args.deepspeech_model)
            seconds = best_of(1, lambda: deepspeech_features(model, audio, n_frames, FPS, "tokens"))
            summary["deepspeech_x_realtime"] = args.seconds / seconds

        store = crop_store(tmp / "crops/train-0000.zarr", audio, args.clip_seconds)
        out = tmp / "audio/train-0000.zarr"
        modes = ["none"] if args.deepspeech_model is None else ["none", "tokens"]
        if args.deepspeech_model is not None:
            (tmp / "models" / DEEPSPEECH_MODEL).parent.mkdir(parents=True)
            (tmp / "models" / DEEPSPEECH_MODEL).symlink_to(args.deepspeech_model.resolve())
        for mode in modes:
            cfg = AudioConfig(deepspeech=DeepSpeechConfig(mode=mode))
            stats = []
            seconds = best_of(
                args.repeats if mode == "none" else 1,
                lambda cfg=cfg, stats=stats: stats.append(
                    audio_shard(store, out, tmp / "rejected.tsv", cfg, tmp / "models")
                ),
            )
            summary[f"stage_{mode}_x_realtime"] = stats[-1].audio_seconds / seconds

    for name, value in summary.items():
        print(f"{name}: {value:.1f}")
    print(json.dumps({"seconds": args.seconds, **{k: round(v, 1) for k, v in summary.items()}}))


if __name__ == "__main__":
    main()
