"""The README's example pictures, one per application, from a finished ``results/apps/{run}/``.

* ``reconstruct.png``, ``reenact.png``, ``frontalise.png``: a few frames, evenly spaced over the
  clip, of the first side-by-side video of the task (first shard and clip by name), one frame per
  row;
* ``edit.png``: the editing grid;
* ``compress.png``: the rate–quality plot.

Each picture is scaled to at most ``--width`` pixels wide (area averaging) and written as a PNG
with a 256-colour palette (median cut, no dithering), so that it stays small. The same apps folder
gives the same bytes.

Usage::

    python scripts/readme_figures.py --apps results/apps/RUN --out docs/figures
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from headgan_model.apps.video import read_mp4  # noqa: E402
from headgan_prep.store.atomic import atomic_file  # noqa: E402

VIDEO_TASKS = {
    "reconstruct": "reconstruct/*/*.side.mp4",
    "reenact": "reenact/videos/*.side.mp4",
    "frontalise": "frontalise/*/*.side.mp4",
}
"""Side-by-side videos of each task, relative to the apps folder."""
PICTURES = {"edit": "edit/grid.png", "compress": "compress/rate_quality.png"}
"""Pictures the tasks write, relative to the apps folder."""


def first_match(apps: Path, pattern: str) -> Path:
    """The first file (by path) under ``apps`` matching ``pattern``; FileNotFoundError naming it."""
    matches = sorted(apps.glob(pattern))
    if not matches:
        raise FileNotFoundError(f"no {apps / pattern}: is {apps} a finished `snakemake apps` folder?")
    return matches[0]


def frame_strip(frames: np.ndarray, n_frames: int) -> np.ndarray:
    """``(n · H, W, 3)`` uint8: ``n_frames`` frames of a ``(T, H, W, 3)`` video evenly spaced from
    the first to the last, stacked top to bottom (all frames when the video is shorter)."""
    picks = np.unique(np.linspace(0, len(frames) - 1, min(n_frames, len(frames))).round().astype(int))
    return np.concatenate(list(frames[picks]), axis=0)


def scaled(image: np.ndarray, width: int) -> np.ndarray:
    """``image`` (H, W, 3) uint8 scaled to at most ``width`` pixels wide, aspect kept (area averaging)."""
    if image.shape[1] <= width:
        return image
    height = max(1, round(image.shape[0] * width / image.shape[1]))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def png_bytes(image: np.ndarray) -> bytes:
    """``(H, W, 3)`` uint8 RGB as a 256-colour palette PNG (median cut, no dithering)."""
    palette = Image.fromarray(image).quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    buffer = io.BytesIO()
    palette.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def read_rgb(path: Path) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB of an image file."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{path} is not an image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def readme_figures(apps: Path, out: Path, n_frames: int = 3, width: int = 640) -> dict[str, Path]:
    """Write the pictures (module docstring) into ``out``; returns each task's PNG by task name."""
    images = {}
    for task, pattern in VIDEO_TASKS.items():
        frames, _, _ = read_mp4(first_match(apps, pattern))
        images[task] = frame_strip(frames, n_frames)
    for task, relative in PICTURES.items():
        images[task] = read_rgb(first_match(apps, relative))
    written = {}
    for task, image in images.items():
        path = out / f"{task}.png"
        with atomic_file(path, "wb") as handle:
            handle.write(png_bytes(scaled(image, width)))
        written[task] = path
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", required=True, type=Path, help="results/apps/RUN of a finished `snakemake apps`")
    parser.add_argument("--out", default=ROOT / "docs/figures", type=Path, help="folder of the PNGs")
    parser.add_argument("--frames", default=3, type=int, help="frames per side-by-side strip")
    parser.add_argument("--width", default=640, type=int, help="largest width of a picture in pixels")
    args = parser.parse_args(argv)
    try:
        written = readme_figures(args.apps, args.out, args.frames, args.width)
    except (FileNotFoundError, ValueError) as error:
        print(f"readme_figures: {error}", file=sys.stderr)
        return 2
    for task, path in written.items():
        print(f"{task}: {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
