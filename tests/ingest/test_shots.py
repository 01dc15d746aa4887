"""Shot cuts: none inside real clips, found where two real clips are joined; the ingest policies."""

import subprocess

import numpy as np
import pytest
import zarr

from headgan_prep.ingest.shard import IngestConfig, IngestConfigError, ingest_shard
from headgan_prep.ingest.shots import content_changes, find_cuts, longest_shot
from headgan_prep.ingest.video import decode_clip
from headgan_prep.manifest.table import Clip
from headgan_prep.store.rejections import read_rejections


def test_longest_shot_and_cut_spacing():
    assert longest_shot(np.array([10, 50]), 60) == (10, 50)
    assert longest_shot(np.array([], np.int64), 60) == (0, 60)
    assert longest_shot(np.array([30]), 60) == (0, 30)  # the first of equal shots
    changes = np.ones(100)
    changes[[40, 45, 80]] = 50.0
    np.testing.assert_array_equal(find_cuts(changes, 27.0, min_shot=12), [40, 80])  # 45 is too close to 40
    pan = np.ones(100)
    pan[30:60] = 40.0  # a fast pan: every frame of it changes a lot, none stands out
    assert len(find_cuts(pan, 27.0, min_shot=12)) == 0
    with pytest.raises(IngestConfigError, match="shot_cuts"):
        IngestConfig(shot_cuts="split")


def test_no_cuts_within_real_clips_and_cuts_where_they_are_joined(require_sample):
    first, _ = decode_clip(require_sample("pyfeat/WolfgangLanger_Pexels.mp4"), 25.0, (320, 180))
    second, _ = decode_clip(require_sample("pyfeat/single_face.mp4"), 25.0, (320, 180))
    assert len(find_cuts(content_changes(first))) == 0  # crying to laughing, the camera moving: one shot
    assert len(find_cuts(content_changes(second))) == 0
    joined = np.concatenate([first[:200], second, first[200:]])
    np.testing.assert_array_equal(find_cuts(content_changes(joined)), [200, 200 + len(second)])


def test_ingest_keeps_the_longest_shot_or_rejects(require_sample, require_model, models_dir, tmp_path):
    require_model("mediapipe/face_detection_short_range.tflite")
    joined = tmp_path / "joined.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-t", "6", "-i", str(require_sample("pyfeat/WolfgangLanger_Pexels.mp4")),
         "-i", str(require_sample("pyfeat/single_face.mp4")), "-filter_complex",
         "[0:v]scale=640:360,fps=25,setsar=1[a];[1:v]scale=640:360,fps=25,setsar=1[b];[a][b]concat=n=2:v=1:a=0",
         "-an", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", str(joined)],
        check=True,
    )
    clip = Clip("joined", "joined", "train", str(joined))
    store, rejected = tmp_path / "crops/train-0000.zarr", tmp_path / "rejected.tsv"
    ingest_shard([clip], store, rejected, IngestConfig(), models_dir, progress=False)
    attrs = zarr.open_group(str(store), mode="r")["joined"].attrs
    assert attrs["n_cuts"] == 1 and attrs["shot"] == [0, 150] and attrs["n_frames"] == 150
    ingest_shard([clip], tmp_path / "r/train-0000.zarr", rejected, IngestConfig(shot_cuts="reject"), models_dir,
                 progress=False)
    (row,) = read_rejections(rejected)
    assert (row.stage, row.reason, row.detail) == ("shots", "shot_cut", "1 shot cut(s), at frame(s) 150")
