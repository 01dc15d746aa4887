import json
import shutil

import numpy as np
import pytest
from tests.stores import replace_array, write_results

from headgan_prep.cli import main
from headgan_prep.dataset.index import SCHEMA, DatasetIndexError, build_index
from headgan_prep.store.rejections import read_rejections

STAGE_NAMES = ["crops", "landmarks", "fit", "nmfc", "audio"]


@pytest.fixture
def results(tmp_path):
    results = tmp_path / "results"
    write_results(
        results,
        {
            "train-0000": {"id1+a+1": 4, "id2+b+1": 6},
            "train-0001": {"id1+c+1": 3},
            "test-0000": {"id3+d+1": 5},
        },
    )
    return results


def test_index_lists_every_clip_of_the_split_with_its_stores(results):
    index, rejected = build_index(results, "train")
    assert rejected == []
    assert (index["schema"], index["split"], index["stages"]) == (SCHEMA, "train", STAGE_NAMES)
    assert (index["n_clips"], index["n_frames"], index["n_identities"]) == (3, 13, 2)
    assert index["clips"] == [
        {
            "clip_id": clip_id,
            "identity": clip_id.split("+")[0],
            "shard": shard,
            "n_frames": n_frames,
            "invalid_frames": [],
            "stores": {stage: f"{stage}/{shard}.zarr" for stage in STAGE_NAMES},
        }
        for clip_id, shard, n_frames in [
            ("id1+a+1", "train-0000", 4),
            ("id1+c+1", "train-0001", 3),
            ("id2+b+1", "train-0000", 6),
        ]
    ]
    for clip in index["clips"]:
        assert all((results / path).is_dir() for path in clip["stores"].values())
    test, _ = build_index(results, "test")
    assert [c["clip_id"] for c in test["clips"]] == ["id3+d+1"] and test["n_frames"] == 5


def test_clips_missing_or_disagreeing_are_left_out_with_the_reason(tmp_path):
    results = tmp_path / "results"
    clips = {f"id{i}+x+1": 4 for i in range(6)}
    write_results(
        results,
        {"train-0000": clips},
        rejected={
            "crops": [("train-0000", "id1+x+1", "no_face")],
            "landmarks": [("train-0000", "id2+x+1", "too_many_invalid")],
        },
    )
    replace_array(results, "nmfc", "train-0000", "id3+x+1", "nmfc", np.zeros((3, 8, 8, 3), np.uint8))
    shutil.rmtree(results / "audio/train-0000.zarr/id4+x+1")

    index, rejected = build_index(results, "train")
    assert [c["clip_id"] for c in index["clips"]] == ["id0+x+1", "id5+x+1"]
    assert index["n_frames"] == 8
    assert [(r.clip_id, r.stage, r.reason, r.detail) for r in rejected] == [
        ("id1+x+1", "dataset", "rejected_upstream", "crops: no_face: detail"),
        ("id2+x+1", "dataset", "rejected_upstream", "landmarks: too_many_invalid: detail"),
        ("id3+x+1", "dataset", "frame_count_mismatch", "crops=4 landmarks=4 fit=4 nmfc=3 audio=4"),
        ("id4+x+1", "dataset", "missing_in_audio", "no group in train-0000"),
    ]


def test_cli_writes_the_same_bytes_for_the_same_stores(results, tmp_path):
    outputs = []
    for run in ("a", "b"):
        out, rejected = tmp_path / run / "train.json", tmp_path / run / "train.tsv"
        args = ["-q", "dataset-index", "--split", "train", "--results", str(results)]
        assert main([*args, "--out", str(out), "--rejected", str(rejected)]) == 0
        assert read_rejections(rejected) == []
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    assert json.loads(outputs[0]) == build_index(results, "train")[0]
    assert not list((tmp_path / "a").glob(".*"))  # no temporary left


def test_a_missing_store_is_an_error_naming_it(results):
    shutil.rmtree(results / "fit/train-0001.zarr")
    with pytest.raises(DatasetIndexError, match=r"fit/train-0001.zarr: fit store missing"):
        build_index(results, "train")


def test_a_clip_lists_the_frames_invalid_in_any_stage(results):
    for stage, frames in (("crops", [5]), ("landmarks", [0, 5]), ("fit", [2]), ("nmfc", [3])):
        valid = np.ones(6, bool)
        valid[frames] = False
        replace_array(results, stage, "train-0000", "id2+b+1", "valid", valid)
    index, _ = build_index(results, "train")
    entries = {c["clip_id"]: c for c in index["clips"]}
    assert entries["id2+b+1"]["invalid_frames"] == [0, 2, 3, 5]
    assert entries["id1+a+1"]["invalid_frames"] == []
