"""Ingest on demo clips with the real detectors.

Face-position accuracy, asserted in pixels of the 256×256 crop (source pixels × 256 / crop side):

* the fixed crop-box centre is within 10 px of the mean ground-truth face centre of the clip;
* on every kept frame, the centre the crop would have if it were placed on that frame's detected
  box (the box centre moved up by the backend's ``center_shift``, as the crop box is) is within
  10 px of that frame's ground-truth face centre.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tests.media import write_zero_frame_video
import pytest
import zarr

from headgan_prep.ingest import shard as ingest_module
from headgan_prep.demo.generate import demo_portrait, make_clip
from headgan_prep.ingest.shard import IngestConfig, IngestConfigError, ingest_shard
from headgan_prep.models.registry import ModelFileMissing
from headgan_prep.store.rejections import REJECTION_COLUMNS, read_rejections

CROP = 256


@dataclass(frozen=True)
class Row:
    clip_id: str
    identity: str
    split: str
    path: Path


GOOD = {
    "good-a": dict(portrait=0, seed=1),
    "good-b": dict(portrait=1, seed=2),
    "silent": dict(portrait=2, seed=3, audio=False),
    "ntsc": dict(portrait=0, seed=4, fps=30000 / 1001),
}
BAD = {
    "no-face": (dict(portrait=1, seed=5, face_visible_fraction=0.0), "no_face"),
    "half-face": (dict(portrait=1, seed=6, face_visible_fraction=0.5), "no_face"),
    "two-faces": (dict(portrait=0, seed=7, faces="two"), "multiple_faces"),
    "huge-motion": (dict(portrait=2, seed=8, motion_scale=10.0), "large_motion"),
    "short": (dict(portrait=0, seed=9, seconds=0.6), "too_short"),
}
BROKEN = {"corrupt": "corrupt", "truncated": "corrupt", "zero-frames": "zero_frames", "missing": "unreadable"}


def _render(path: Path, portrait: int, **options):
    options.setdefault("seconds", 2.0)
    return make_clip(path, demo_portrait(portrait), frame_size=(480, 360), face_size=140, **options)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("dataset")
    truth, rows = {}, {}
    for name, options in {**GOOD, **{k: v[0] for k, v in BAD.items()}}.items():
        truth[name] = _render(root / f"{name}.mp4", **options)
        rows[name] = Row(name, f"id-{name}", "train", root / f"{name}.mp4")
    (root / "corrupt.mp4").write_text("not a video\n" * 50)
    good = (root / "good-a.mp4").read_bytes()
    (root / "truncated.mp4").write_bytes(good[: int(0.6 * len(good))])
    write_zero_frame_video(root / "zero-frames.avi")
    for name, file in (
        ("corrupt", "corrupt.mp4"),
        ("truncated", "truncated.mp4"),
        ("zero-frames", "zero-frames.avi"),
        ("missing", "missing.mp4"),
    ):
        rows[name] = Row(name, f"id-{name}", "train", root / file)
    return rows, truth


def run_ingest(rows, out: Path, models_dir: Path, cfg: IngestConfig | None = None, shard: str = "train-0000"):
    store, tsv = out / f"{shard}.zarr", out / f"{shard}.rejected.tsv"
    stats = ingest_shard(rows, store, tsv, cfg or IngestConfig(), models_dir, progress=False)
    return stats, store, tsv


@pytest.fixture(scope="module")
def blazeface_run(dataset, tmp_path_factory, models_dir):
    model = models_dir / "mediapipe/face_detection_short_range.tflite"
    if not model.is_file():
        pytest.skip(f"{model} missing")
    rows, _ = dataset
    return run_ingest(list(rows.values()), tmp_path_factory.mktemp("blazeface"), models_dir)


def assert_faces_centred(store: Path, truth: dict, center_shift: float, names) -> None:
    root = zarr.open_group(store, mode="r")
    for name in names:
        group = root[name]
        x0, y0, side = group.attrs["crop_box"]
        to_crop = CROP / side
        centre = truth[name].center[:, 0]  # (T, 2) main face
        crop_centre = np.array([x0 + side / 2, y0 + side / 2])
        assert np.hypot(*(crop_centre - centre.mean(axis=0))) * to_crop <= 10, name

        boxes, valid = group["boxes"][:], group["valid"][:]
        assert valid.all(), name
        frame_centre = (boxes[:, :2] + boxes[:, 2:]) / 2
        frame_centre[:, 1] -= center_shift * (boxes[:, 3] - boxes[:, 1])
        error = np.hypot(*(frame_centre - centre).T) * to_crop
        assert error.max() <= 10, (name, error.max())


def test_blazeface_keeps_good_clips_and_centres_faces(blazeface_run, dataset):
    stats, store, _ = blazeface_run
    _, truth = dataset
    assert sorted(zarr.open_group(store, mode="r").group_keys()) == sorted(GOOD)
    assert stats.n_kept == len(GOOD) and stats.n_rejected == len(BAD) + len(BROKEN)
    assert_faces_centred(store, truth, IngestConfig().crop_center_shift, ["good-a", "good-b", "silent"])


def test_each_bad_input_is_one_rejection_row_with_its_reason(blazeface_run):
    _, _, tsv = blazeface_run
    assert tsv.read_text().splitlines()[0].split("\t") == list(REJECTION_COLUMNS)
    rows = {row.clip_id: row for row in read_rejections(tsv)}
    expected = {**{k: v[1] for k, v in BAD.items()}, **BROKEN}
    assert {k: row.reason for k, row in rows.items()} == expected
    assert all(row.detail and row.stage in {"probe", "decode", "track"} for row in rows.values())
    assert rows["missing"].stage == "probe" and rows["short"].stage == "decode"


def test_store_schema(blazeface_run):
    _, store, _ = blazeface_run
    root = zarr.open_group(store, mode="r")
    assert root.metadata.zarr_format == 3
    attrs = dict(root.attrs)
    assert attrs["schema"] == "headgan.crops/1" and attrs["shard"] == "train-0000"
    assert attrs["n_clips"] == len(GOOD)
    assert IngestConfig.from_dict(attrs["config"]) == IngestConfig()
    for name in GOOD:
        group = root[name]
        meta = dict(group.attrs)
        n = meta["n_frames"]
        frames = group["frames"]
        assert frames.shape == (n, CROP, CROP, 3) and frames.dtype == np.uint8
        assert frames.chunks == (1, CROP, CROP, 3) and frames.compressors
        assert group["boxes"].shape == (n, 4) and group["boxes"].dtype == np.float32
        assert group["scores"].shape == (n,) and group["valid"].dtype == np.bool_
        assert group["audio"].dtype == np.float32
        assert meta["clip_id"] == name and meta["identity"] == f"id-{name}" and meta["split"] == "train"
        assert meta["fps"] == 25.0 and meta["sample_rate"] == 16000
        assert meta["source_size"] == [480, 360] and len(meta["crop_box"]) == 3
        assert meta["detector"] == "mediapipe:face_detection_short_range"
        assert meta["source_path"].endswith(".mp4")
        assert abs(n - 50) <= 1 and frames[n // 2].std() > 10
    assert dict(root["silent"].attrs)["has_audio"] is False and root["silent"]["audio"].shape == (0,)
    assert dict(root["good-a"].attrs)["has_audio"] is True
    assert abs(root["good-a"]["audio"].shape[0] - 32000) < 1000
    ntsc = dict(root["ntsc"].attrs)
    assert ntsc["source_fps"] == "30000/1001" and abs(ntsc["source_fps_float"] - 29.97) < 0.01


def test_insightface_backend_centres_faces(dataset, tmp_path, models_dir, require_model):
    require_model("insightface/scrfd_500m_bnkps.onnx")
    rows, truth = dataset
    cfg = IngestConfig.from_dict({"detector": {"backend": "insightface"}})
    stats, store, _ = run_ingest([rows["good-a"], rows["good-b"]], tmp_path, models_dir, cfg)
    assert stats.n_kept == 2
    assert dict(zarr.open_group(store, mode="r")["good-a"].attrs)["detector"].startswith("insightface:")
    assert_faces_centred(store, truth, cfg.crop_center_shift, ["good-a", "good-b"])


def test_detecting_every_third_frame_still_centres_faces(dataset, tmp_path, models_dir, require_model):
    require_model("mediapipe/face_detection_short_range.tflite")
    rows, truth = dataset
    cfg = IngestConfig.from_dict({"detector": {"detect_every": 3}})
    stats, store, _ = run_ingest([rows["good-a"], rows["two-faces"]], tmp_path, models_dir, cfg)
    assert stats.n_kept == 1 and stats.rejected_by_reason == {"multiple_faces": 1}
    assert_faces_centred(store, truth, cfg.crop_center_shift, ["good-a"])


def _tree_bytes(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_input_same_bytes(dataset, tmp_path, models_dir, require_model):
    require_model("mediapipe/face_detection_short_range.tflite")
    rows, _ = dataset
    chosen = [rows["good-b"], rows["corrupt"], rows["good-a"]]
    _, first, first_tsv = run_ingest(chosen, tmp_path / "one", models_dir)
    _, second, second_tsv = run_ingest(chosen[::-1], tmp_path / "two", models_dir)
    one, two = _tree_bytes(first), _tree_bytes(second)
    assert one.keys() == two.keys() and len(one) > 10
    assert [name for name in one if one[name] != two[name]] == []
    assert first_tsv.read_bytes() == second_tsv.read_bytes()


class Killed(BaseException):
    """Stands for the job being killed (not an ordinary per-clip error)."""


def test_killed_job_leaves_no_store_and_rerun_cleans_up(dataset, tmp_path, models_dir, require_model, monkeypatch):
    require_model("mediapipe/face_detection_short_range.tflite")
    rows, _ = dataset
    chosen = [rows["good-a"], rows["good-b"]]
    real_write = ingest_module.write_clip
    calls = []

    def write_then_die(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise Killed()
        real_write(*args, **kwargs)

    monkeypatch.setattr(ingest_module, "write_clip", write_then_die)
    with pytest.raises(Killed):
        run_ingest(chosen, tmp_path, models_dir)
    assert not (tmp_path / "train-0000.zarr").exists()
    assert not (tmp_path / "train-0000.rejected.tsv").exists()
    monkeypatch.setattr(ingest_module, "write_clip", real_write)

    stale = tmp_path / ".train-0000.zarr.tmp-999999"  # what a SIGKILL-ed job leaves
    (stale / "good-a").mkdir(parents=True)
    stats, store, tsv = run_ingest(chosen, tmp_path, models_dir)
    assert stats.n_kept == 2 and store.is_dir() and tsv.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train-0000.rejected.tsv", "train-0000.zarr"]


def test_require_audio_rejects_silent_clip(dataset, tmp_path, models_dir, require_model):
    require_model("mediapipe/face_detection_short_range.tflite")
    rows, _ = dataset
    cfg = IngestConfig(require_audio=True)
    stats, _, tsv = run_ingest([rows["silent"]], tmp_path, models_dir, cfg)
    assert stats.n_kept == 0 and [r.reason for r in read_rejections(tsv)] == ["no_audio"]


def test_too_long_and_empty_shard(dataset, tmp_path, models_dir, require_model):
    require_model("mediapipe/face_detection_short_range.tflite")
    rows, _ = dataset
    stats, store, tsv = run_ingest([rows["good-a"]], tmp_path, models_dir, IngestConfig(max_seconds=1.0))
    assert [r.reason for r in read_rejections(tsv)] == ["too_long"]
    root = zarr.open_group(store, mode="r")
    assert list(root.group_keys()) == [] and root.attrs["n_clips"] == 0


def test_unexpected_error_is_a_row_and_the_job_goes_on(dataset, tmp_path, models_dir, require_model, monkeypatch):
    require_model("mediapipe/face_detection_short_range.tflite")
    rows, _ = dataset
    real_select = ingest_module.tracking.select_main_face

    def broken_for_b(dets, min_iou):
        if broken_for_b.calls == 1:  # clips go in clip-id order: the second call is good-b
            raise RuntimeError("tracker exploded")
        broken_for_b.calls += 1
        return real_select(dets, min_iou)

    broken_for_b.calls = 0
    monkeypatch.setattr(ingest_module.tracking, "select_main_face", broken_for_b)
    stats, store, tsv = run_ingest([rows["good-a"], rows["good-b"]], tmp_path, models_dir)
    (row,) = read_rejections(tsv)
    assert (row.clip_id, row.reason) == ("good-b", "error") and "tracker exploded" in row.detail
    assert list(zarr.open_group(store, mode="r").group_keys()) == ["good-a"]


def test_missing_model_fails_the_whole_job(dataset, tmp_path):
    rows, _ = dataset
    with pytest.raises(ModelFileMissing):
        run_ingest([rows["good-a"]], tmp_path / "out", tmp_path / "no-models")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_config_from_dict():
    cfg = IngestConfig.from_dict({"margin": 1.6, "detector": {"backend": "insightface", "threads": 2}})
    assert cfg.margin == 1.6 and cfg.detector.backend == "insightface" and cfg.detector.threads == 2
    assert IngestConfig.from_dict(cfg.to_dict()) == cfg
    assert IngestConfig.from_dict(None) == IngestConfig()
    with pytest.raises(IngestConfigError, match="marign"):
        IngestConfig.from_dict({"marign": 1.6})
    with pytest.raises(IngestConfigError, match="ingest.detector"):
        IngestConfig.from_dict({"detector": {"treshold": 0.5}})
    with pytest.raises(IngestConfigError, match="min_face_fraction"):
        IngestConfig.from_dict({"min_face_fraction": 1.5})
    with pytest.raises(IngestConfigError, match="backend"):
        IngestConfig.from_dict({"detector": {"backend": "dlib"}})
    with pytest.raises(IngestConfigError):
        ingest_shard([], Path("x.zarr"), Path("x.tsv"), {"margin": 1.6}, Path("."), progress=False)
