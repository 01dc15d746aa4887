"""Tests of the demo dataset generator: layout, reproducibility, streams and ground truth."""

import csv
import json
import re
import subprocess
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from headgan_prep.demo import generate as demo
from headgan_prep.demo.generate import GroundTruth, demo_portrait, make_clip, make_demo

TINY = dict(identities=3, clips_per_identity=3, seconds=0.4, frame_size=(256, 256), face_size=96, progress=False)


@pytest.fixture(scope="module")
def tiny_demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "a"
    return make_demo(out, **TINY)


def probe(path: Path) -> list[dict]:
    """Streams of a media file, with counted video frames."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json", str(path)],
        check=True,
        capture_output=True,
    )
    return json.loads(result.stdout)["streams"]


def decode_frames(path: Path, size: tuple[int, int]) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 RGB frames of a video."""
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        check=True,
        capture_output=True,
    ).stdout
    width, height = size
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def decode_audio(path: Path) -> np.ndarray:
    """``(N,)`` float64 samples of a video's audio at 16 kHz mono."""
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "s16le", "-ac", "1", "-ar", "16000", "-"],
        check=True,
        capture_output=True,
    ).stdout
    return np.frombuffer(raw, np.int16).astype(np.float64)


def expected_face(portrait, center, side, angle, size):
    """The portrait warped, independently of the generator, so that its face box has ``center``,
    ``side`` and ``angle`` (degrees, counter-clockwise on screen) in a frame of ``size``."""
    matrix = cv2.getRotationMatrix2D(portrait.face_center, angle, side / portrait.face_side)
    matrix[:, 2] += np.asarray(center) - np.asarray(portrait.face_center)
    return cv2.warpAffine(np.ascontiguousarray(portrait.rgba[..., :3]), matrix, size, flags=cv2.INTER_LINEAR)


def face_error(frame, portrait, center, side, angle):
    """Mean absolute RGB difference between a frame and the expected face, inside a disc of radius
    ``0.3 * side`` around ``center`` (eyes, nose and mouth)."""
    height, width = frame.shape[:2]
    expected = expected_face(portrait, center, side, angle, (width, height)).astype(np.float64)
    yy, xx = np.mgrid[0:height, 0:width]
    disc = np.hypot(xx - center[0], yy - center[1]) < 0.3 * side
    return np.abs(frame.astype(np.float64) - expected)[disc].mean()


def test_layout_splits_and_ground_truth_files(tiny_demo):
    videos = tiny_demo.out_dir / "videos"
    found = sorted(p.relative_to(videos).as_posix() for p in videos.rglob("*.mp4"))
    assert found == sorted(c.path for c in tiny_demo.clips)
    assert len(found) == 9
    for path in found:
        assert re.fullmatch(r"id0000[123]/[A-Za-z0-9]{11}/0000[12]\.mp4", path)
    assert len({p.rsplit("/", 1)[0] for p in found}) == 6
    with open(tiny_demo.out_dir / "splits.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["filename", "split"]
    assert [r[0] for r in rows[1:]] == found
    assert {r[0].split("/")[0] for r in rows[1:] if r[1] == "test"} == {"id00003"}
    assert {r[1] for r in rows[1:] if not r[0].startswith("id00003")} == {"train"}
    for clip in tiny_demo.clips:
        assert clip.clip_id == clip.path[: -len(".mp4")].replace("/", "+")
        truth = GroundTruth.load(tiny_demo.out_dir / "ground_truth" / f"{clip.clip_id}.npz")
        assert truth.n_frames == clip.n_frames == 10
        assert truth.fps == clip.fps == 25
        assert truth.frame_size == (256, 256)
        assert list(truth.identities) == [clip.identity]
        assert truth.visible.all()


def test_same_arguments_give_same_bytes(tiny_demo, tmp_path):
    again = make_demo(tmp_path / "b", **TINY)
    first = sorted(p.relative_to(tiny_demo.out_dir) for p in tiny_demo.out_dir.rglob("*") if p.is_file())
    second = sorted(p.relative_to(again.out_dir) for p in again.out_dir.rglob("*") if p.is_file())
    assert first == second
    assert len(first) == 19
    for relative in first:
        assert (tiny_demo.out_dir / relative).read_bytes() == (again.out_dir / relative).read_bytes(), relative


def test_flat_layout_without_audio(tmp_path):
    summary = make_demo(
        tmp_path,
        identities=2,
        clips_per_identity=1,
        seconds=0.2,
        frame_size=(128, 128),
        face_size=48,
        layout="flat",
        audio=False,
        progress=False,
    )
    assert sorted(c.path for c in summary.clips) == ["id00001_00001.mp4", "id00002_00001.mp4"]
    assert (tmp_path / "splits.csv").read_text() == "filename,split\nid00001_00001.mp4,train\nid00002_00001.mp4,test\n"
    assert (tmp_path / "ground_truth" / "id00002_00001.npz").is_file()
    assert [s["codec_type"] for s in probe(tmp_path / "videos" / "id00001_00001.mp4")] == ["video"]


def test_video_and_speech_streams(tiny_demo):
    path = tiny_demo.out_dir / "videos" / tiny_demo.clips[0].path
    streams = {s["codec_type"]: s for s in probe(path)}
    video, audio = streams["video"], streams["audio"]
    assert (video["codec_name"], video["pix_fmt"], video["width"], video["height"]) == ("h264", "yuv420p", 256, 256)
    assert video["r_frame_rate"] == "25/1"
    assert int(video["nb_read_frames"]) == 10
    assert (audio["sample_rate"], audio["channels"]) == ("16000", 1)
    samples = decode_audio(path)
    assert 6400 <= samples.size < 6400 + 1024
    lead_in = samples[: int(demo.SPEECH_LEAD_IN * 16000) - 160]
    assert np.sqrt(np.mean(lead_in**2)) < 30
    assert np.sqrt(np.mean(samples[1600:6400] ** 2)) > 1000


def test_speech_differs_between_clips(tiny_demo):
    first, second = (decode_audio(tiny_demo.out_dir / "videos" / c.path)[:6400] for c in tiny_demo.clips[:2])
    assert np.abs(first - second).mean() > 300


def test_ground_truth_matches_rendered_frames(tmp_path):
    portrait = demo_portrait(2)
    truth = make_clip(
        tmp_path / "clip.mp4",
        portrait,
        seconds=0.6,
        frame_size=(256, 192),
        face_size=80,
        seed=3,
        audio=False,
        motion_scale=3.0,
    )
    frames = decode_frames(tmp_path / "clip.mp4", (256, 192))
    assert frames.shape[0] == truth.n_frames == 15
    for t in range(truth.n_frames):
        center, side, angle = truth.center[t, 0], truth.side[t, 0], truth.angle[t, 0]
        error = face_error(frames[t], portrait, center, side, angle)
        assert error < 8, (t, error)
        assert face_error(frames[t], portrait, center + 0.15 * side, side, angle) > error + 5
        if abs(angle) > 8:
            assert face_error(frames[t], portrait, center, side, -angle) > error + 3
    assert np.allclose(truth.side, 80 * truth.scale)


def test_hidden_face_shows_background(tmp_path):
    portrait = demo_portrait(0)
    truth = make_clip(
        tmp_path / "clip.mp4",
        portrait,
        seconds=0.8,
        frame_size=(192, 192),
        face_size=64,
        audio=False,
        face_visible_fraction=0.3,
    )
    visible = truth.visible[:, 0]
    assert visible.sum() == 6 and visible[:3].all() and visible[-3:].all() and not visible[3:-3].any()
    frames = decode_frames(tmp_path / "clip.mp4", (192, 192)).astype(np.float64)
    hidden = frames[~visible]
    assert np.abs(hidden[1:] - hidden[:-1]).mean() < 1.5
    for t in range(truth.n_frames):
        error = face_error(frames[t], portrait, truth.center[t, 0], truth.side[t, 0], truth.angle[t, 0])
        assert (error < 8) == visible[t], (t, error)


def test_two_faces(tmp_path):
    first = demo_portrait(1)
    truth = make_clip(tmp_path / "clip.mp4", first, seconds=0.4, frame_size=(320, 192), audio=False, faces="two")
    assert truth.center.shape == (10, 2, 2) and truth.matrix.shape == (10, 2, 2, 3)
    assert truth.identities[0] == "id00002" and truth.identities[1] != "id00002"
    assert (truth.center[:, 0, 0] < 160).all() and (truth.center[:, 1, 0] > 160).all()
    assert np.allclose(truth.side / truth.scale, 80)
    second = demo_portrait(int(truth.identities[1][2:]) - 1)
    frames = decode_frames(tmp_path / "clip.mp4", (320, 192))
    for t in (0, 9):
        for f, portrait in enumerate((first, second)):
            error = face_error(frames[t], portrait, truth.center[t, f], truth.side[t, f], truth.angle[t, f])
            assert error < 8, (t, f, error)


def test_motion_is_smooth_and_inside_the_frame(tiny_demo):
    for frame_size, face_size, fps in (((480, 360), 160, 25.0), ((256, 256), 96, 60.0)):
        times = np.arange(200) / fps
        for seed in range(20):
            rng = np.random.default_rng(seed)
            rest = (0.5 * (frame_size[0] - 1), 0.5 * (frame_size[1] - 1))
            center, scale, angle = demo.face_motion(rng, times, rest, frame_size, 1.0)
            step = 2 * np.pi * demo.MAX_MOTION_HZ / fps
            assert (np.abs(np.diff(center, axis=0)) <= step * 0.04 * np.array(frame_size) + 1e-9).all()
            assert (np.abs(np.diff(angle)) <= step * 10 + 1e-9).all()
            assert (np.abs(angle) <= 10).all() and (scale <= 1.1 + 1e-12).all() and (scale >= 1 / 1.1 - 1e-12).all()
            reach = np.sqrt(2) / 2 * face_size * scale[:, None]
            assert (center - reach >= 0).all() and (center + reach <= np.array(frame_size) - 1).all()
    for clip in tiny_demo.clips:
        truth = GroundTruth.load(tiny_demo.out_dir / "ground_truth" / f"{clip.clip_id}.npz")
        reach = np.sqrt(2) / 2 * truth.side[..., None]
        assert (truth.center - reach >= 0).all() and (truth.center + reach <= 255).all()


@pytest.mark.parametrize(("fps", "rate", "frames"), [(29.97, "30000/1001", 12), (60.0, "60/1", 24)])
def test_frame_rates_and_no_audio(tmp_path, fps, rate, frames):
    truth = make_clip(
        tmp_path / "clip.mp4", demo_portrait(0), seconds=0.4, fps=fps, frame_size=(128, 96), face_size=40, audio=False
    )
    (video,) = probe(tmp_path / "clip.mp4")
    assert video["codec_type"] == "video"
    assert video["r_frame_rate"] == rate
    assert int(video["nb_read_frames"]) == truth.n_frames == frames
    assert truth.fps == Fraction(rate)


def test_exact_fps():
    assert demo.exact_fps(29.97) == Fraction(30000, 1001)
    assert demo.exact_fps(23.976) == Fraction(24000, 1001)
    assert demo.exact_fps(59.94) == Fraction(60000, 1001)
    assert demo.exact_fps(25.0) == 25
    assert demo.exact_fps(12.5) == Fraction(25, 2)
    with pytest.raises(ValueError):
        demo.exact_fps(0.0)


def test_invalid_arguments(tmp_path):
    with pytest.raises(ValueError):
        make_demo(tmp_path, identities=len(demo.SOURCES) + 1, progress=False)
    with pytest.raises(ValueError):
        make_demo(tmp_path, layout="nested", progress=False)
    with pytest.raises(ValueError):
        make_clip(tmp_path / "x.mp4", demo_portrait(0), frame_size=(101, 100))
    with pytest.raises(ValueError):
        make_clip(tmp_path / "x.mp4", demo_portrait(0), faces="three")
