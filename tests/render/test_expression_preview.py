"""The preview of a split's worst expression errors."""

import numpy as np
import zarr

from headgan_prep.cli import main
from headgan_prep.render.expression_preview import expression_strip, worst_frames
from headgan_prep.store.layout import stage
from tests.stores import replace_array, write_results


def test_worst_frames_are_picked_across_clips_and_shards(tmp_path):
    results = tmp_path / "results"
    write_results(results, {"train-0000": {"id1+a+1": 4, "id2+b+1": 3}, "train-0001": {"id3+c+1": 2}}, size=32)
    replace_array(results, "fit", "train-0000", "id1+a+1", "expression_error", np.float32([0.1, 0.9, np.nan, 0.2]))
    replace_array(results, "fit", "train-0000", "id2+b+1", "expression_error", np.float32([0.0, 0.0, 0.5]))
    replace_array(results, "fit", "train-0001", "id3+c+1", "expression_error", np.float32([0.7, 0.05]))
    fit = [stage("fit").store(results, s) for s in ("train-0000", "train-0001")]
    assert [(round(e, 3), c, t) for e, _, c, t in worst_frames(fit, 3)] == [
        (0.9, "id1+a+1", 1),
        (0.7, "id3+c+1", 0),
        (0.5, "id2+b+1", 2),
    ]
    stores = {name: [stage(name).store(results, s) for s in ("train-0000", "train-0001")] for name in
              ("crops", "landmarks", "nmfc")}
    image = expression_strip(stores["crops"], stores["landmarks"], fit, stores["nmfc"], n_frames=3, per_row=2, tile=32)
    assert image.shape == (64, 128, 3) and image.dtype == np.uint8
    nmfc = zarr.open_group(str(stores["nmfc"][0]), mode="r")["id1+a+1"]["nmfc"][1]
    np.testing.assert_array_equal(image[:32, 32:64], nmfc)  # the worst frame's NMFC, top left, right half
    assert not image[32:, 64:].any()  # the fourth place of the 2 × 2 grid is empty
    out = tmp_path / "x.png"
    args = ["preview-expression", "--out", str(out), "--frames", "2", "--crops", *map(str, stores["crops"]),
            "--landmarks", *map(str, stores["landmarks"]), "--fit", *map(str, fit), "--nmfc", *map(str, stores["nmfc"])]
    assert main(args) == 0 and out.stat().st_size > 0
