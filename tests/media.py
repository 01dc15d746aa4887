"""Small media files the tests make with ffmpeg."""

import subprocess
from pathlib import Path


def write_zero_frame_video(path: Path) -> Path:
    """An AVI container with a video stream and no frame."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x48", "-frames:v", "0",
         "-c:v", "mpeg4", str(path)],
        check=True,
    )
    return path
