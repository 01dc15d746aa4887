"""The `headgan-prep` command: sub-commands the rules call, and its error messages."""

import json

import pytest

from headgan_prep.cli import main
from headgan_prep.manifest.table import read_manifest
from headgan_prep.store.rejections import read_rejections


def write_clips(root, paths):
    for rel in paths:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"not decoded by the manifest")


def test_manifest_command_writes_manifest_and_left_out(tmp_path):
    write_clips(tmp_path / "data", ["id1/yt1/00001.mp4", "id2/yt2/00001.mp4"])
    (tmp_path / "splits.csv").write_text("filename,split\nid1/yt1/00001.mp4,test\n")
    settings = json.dumps({"default_split": None, "clips_per_shard": 8})
    code = main(["-q", "manifest", "--root", str(tmp_path / "data"), "--split-csv", str(tmp_path / "splits.csv"),
                 "--settings", settings, "--out", str(tmp_path / "m.tsv"), "--left-out", str(tmp_path / "l.tsv")])
    assert code == 0
    assert [(c.clip_id, c.split, c.shard) for c in read_manifest(tmp_path / "m.tsv")] == [
        ("id1+yt1+00001", "test", "test-0000")
    ]
    (row,) = read_rejections(tmp_path / "l.tsv")
    assert (row.path, row.stage, row.reason) == ("id2/yt2/00001.mp4", "manifest", "not_in_split_csv")


def test_bad_dataset_root_is_a_message_not_a_traceback(tmp_path, capsys):
    code = main(["-q", "manifest", "--root", str(tmp_path / "nope"), "--out", str(tmp_path / "m.tsv"),
                 "--left-out", str(tmp_path / "l.tsv")])
    assert code == 1
    assert "nope is not a directory" in capsys.readouterr().err
    assert not (tmp_path / "m.tsv").exists()


def ingest_args(tmp_path, settings):
    write_clips(tmp_path / "data", ["a.mp4"])
    main(["-q", "manifest", "--root", str(tmp_path / "data"), "--out", str(tmp_path / "m.tsv"),
          "--left-out", str(tmp_path / "l.tsv")])
    return ["-q", "ingest", "--manifest", str(tmp_path / "m.tsv"), "--shard", "train-0000", "--root",
            str(tmp_path / "data"), "--models-dir", str(tmp_path / "models"), "--settings", json.dumps(settings),
            "--out", str(tmp_path / "crops.zarr"), "--rejected", str(tmp_path / "rejected.tsv")]


def test_ingest_without_its_model_names_the_file(tmp_path, capsys):
    assert main(ingest_args(tmp_path, {})) == 1
    err = capsys.readouterr().err
    assert "face_detection_short_range.tflite" in err and "headgan-prep fetch-models" in err
    assert not (tmp_path / "crops.zarr").exists()


def test_ingest_with_bad_settings_names_the_key(tmp_path):
    with pytest.raises(SystemExit, match="margn"):
        main(ingest_args(tmp_path, {"margn": 2}))


def test_unknown_shard(tmp_path):
    args = ingest_args(tmp_path, {})
    args[args.index("train-0000")] = "train-0042"
    with pytest.raises(SystemExit, match="train-0042"):
        main(args)
