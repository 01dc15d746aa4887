import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
from tests.media import write_zero_frame_video
import pytest

from headgan_prep.ingest.video import VideoError, decode_audio, decode_clip, decode_frames, fit_within, probe


def make_video(
    path: Path,
    *,
    rate: str = "25",
    seconds: float = 2.0,
    size: str = "64x48",
    audio_rate: int | None = None,
    channels: int = 1,
    faststart: bool = False,
) -> Path:
    """Synthetic H.264 clip (ffmpeg ``testsrc``), optionally with a sine AAC track."""
    command = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=size={size}:rate={rate}"]
    if audio_rate:
        command += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate={audio_rate}"]
        command += ["-c:a", "aac", "-ac", str(channels)]
    command += ["-t", str(seconds), "-c:v", "libx264", "-pix_fmt", "yuv420p"]
    if faststart:
        command += ["-movflags", "+faststart"]
    subprocess.run(command + [str(path)], check=True)
    return path


def truncate(path: Path, out: Path, fraction: float = 0.6) -> Path:
    data = path.read_bytes()
    out.write_bytes(data[: int(len(data) * fraction)])
    return out


@pytest.mark.parametrize("rate", ["30000/1001", "60", "24", "25"])
def test_decode_resamples_to_25_fps(tmp_path, rate):
    path = make_video(tmp_path / "clip.mp4", rate=rate, seconds=2.0)
    info = probe(path)
    frames = decode_frames(path, fps=25.0)
    assert frames.dtype == np.uint8 and frames.shape[1:] == (48, 64, 3)
    assert abs(len(frames) - round(info.duration_s * 25)) <= 1
    assert abs(info.fps - float(Fraction(rate))) < 1e-6


def test_probe_reports_exact_ntsc_rate_and_size(tmp_path):
    info = probe(make_video(tmp_path / "ntsc.mp4", rate="30000/1001", size="96x64"))
    assert info.fps_fraction == "30000/1001"
    assert (info.width, info.height, info.codec) == (96, 64, "h264")
    assert not info.has_audio and info.audio_sample_rate is None
    assert abs(info.n_frames - 60) <= 1


def test_variable_frame_rate_source(tmp_path):
    constant = make_video(tmp_path / "cfr.mp4", rate="30", seconds=2.0)
    variable = tmp_path / "vfr.mkv"
    # drop every third frame without retiming: the remaining frames keep uneven timestamps
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-i",
            str(constant),
            "-vf",
            "select='mod(n\\,3)'",
            "-fps_mode",
            "vfr",
            "-c:v",
            "libx264",
            str(variable),
        ],
        check=True,
    )
    frames = decode_frames(variable)
    assert abs(len(frames) - 50) <= 1


def test_scale_to_and_fit_within(tmp_path):
    path = make_video(tmp_path / "wide.mp4", size="320x180", seconds=1.0)
    size = fit_within(320, 180, 128)
    assert size == (128, 72)
    assert fit_within(320, 180, 320) is None and fit_within(320, 180, None) is None
    assert decode_frames(path, scale_to=size).shape == (25, 72, 128, 3)


def test_audio_44k_stereo_becomes_16k_mono(tmp_path):
    path = make_video(tmp_path / "stereo.mp4", seconds=2.0, audio_rate=44100, channels=2)
    info = probe(path)
    assert info.has_audio and info.audio_sample_rate == 44100 and info.audio_channels == 2
    audio = decode_audio(path, 16000)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) - 32000) <= 16000 * 0.05  # AAC priming adds a few ms
    assert 0.05 < np.abs(audio).max() <= 1.0


def test_decode_clip_matches_separate_decodes(tmp_path):
    path = make_video(tmp_path / "av.mp4", seconds=1.0, audio_rate=22050)
    frames, audio = decode_clip(path, 25.0, (32, 24), 16000)
    np.testing.assert_array_equal(frames, decode_frames(path, 25.0, (32, 24)))
    np.testing.assert_array_equal(audio, decode_audio(path, 16000))


def test_no_audio_track(tmp_path):
    path = make_video(tmp_path / "silent.mp4")
    assert decode_audio(path) is None
    frames, audio = decode_clip(path)
    assert audio is None and len(frames) == 50


def test_truncated_file_is_corrupt_with_index_at_end(tmp_path):
    path = truncate(make_video(tmp_path / "full.mp4", seconds=4.0), tmp_path / "cut.mp4")
    with pytest.raises(VideoError) as error:
        decode_frames(path)
    assert error.value.reason == "corrupt"


def test_truncated_file_is_corrupt_with_index_first(tmp_path):
    full = make_video(tmp_path / "full.mp4", seconds=4.0, faststart=True)
    path = truncate(full, tmp_path / "cut.mp4")
    assert probe(path).n_frames == 100  # the index survives, the data does not
    with pytest.raises(VideoError, match="truncated") as error:
        decode_frames(path)
    assert error.value.reason == "corrupt"


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(VideoError) as error:
        probe(path)
    assert error.value.reason == "corrupt"


def test_missing_path():
    with pytest.raises(VideoError) as error:
        decode_frames("/nonexistent/clip.mp4")
    assert error.value.reason == "unreadable"


def test_non_video_file(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 100)
    with pytest.raises(VideoError) as error:
        probe(path)
    assert error.value.reason == "corrupt"


def test_audio_only_file_has_no_video_stream(tmp_path):
    path = tmp_path / "tone.m4a"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=sample_rate=16000", "-t", "1", str(path)],
        check=True,
    )
    with pytest.raises(VideoError, match="no video stream") as error:
        probe(path)
    assert error.value.reason == "corrupt"


def test_zero_frames(tmp_path):
    path = tmp_path / "empty.avi"
    write_zero_frame_video(path)
    with pytest.raises(VideoError) as error:
        decode_frames(path)
    assert error.value.reason == "zero_frames"


def test_unknown_reason_is_refused():
    with pytest.raises(ValueError):
        VideoError("bad_reason", "x")
