import shutil

import numpy as np
import pytest
import zarr
from tests.stores import replace_array, write_results

from headgan_prep.audio import shard as audio
from headgan_prep.fit import shard as fit_store
from headgan_prep.ingest import shard as ingest
from headgan_prep.landmarks import shard as landmarks
from headgan_prep.render import shard as nmfc_store
from headgan_prep.dataset.check import check_results
from headgan_prep.cli import main
from headgan_prep.store.layout import STAGES


@pytest.fixture
def results(tmp_path):
    results = tmp_path / "results"
    write_results(results, {"train-0000": {"id1+a+1": 4, "id2+b+1": 6}, "test-0000": {"id3+c+1": 5}})
    return results


def test_sound_stores_pass_with_a_summary_table(results, capsys):
    assert main(["check", "--results", str(results)]) == 0
    out = capsys.readouterr()
    stages, expression = out.out.split("\n\n")
    rows = [line.split() for line in stages.splitlines()]
    assert rows[0] == ["stage", "shards", "clips", "frames", "problems"]
    assert rows[1:] == [[stage, "2", "3", "15", "0"] for stage in ("crops", "landmarks", "fit", "nmfc", "audio")]
    assert [line.split()[:3] for line in expression.splitlines()[1:]] == [["test", "1", "5"], ["train", "2", "10"]]
    assert out.err == ""


def test_expression_error_summary_per_split(results, capsys):
    replace_array(results, "fit", "train-0000", "id1+a+1", "expression_error", np.float32([0.1, 0.2, np.nan, 0.3]))
    replace_array(results, "fit", "train-0000", "id2+b+1", "expression_error", np.full(6, 0.05, np.float32))
    report = check_results(results)
    assert report.expression["train"].row("train") == (
        "train", 2, 9, "0.050", f"{np.percentile([0.05] * 6 + [0.1, 0.2, 0.3], 90):.3f}", "0.300", "id1+a+1 (0.200)"
    )
    assert main(["check", "--results", str(results)]) == 0
    assert "expression error median" in capsys.readouterr().out


def test_layout_matches_the_stages_constants():
    schemas = {stage.name: stage.schema for stage in STAGES}
    assert schemas == {
        "crops": ingest.SCHEMA,
        "landmarks": landmarks.SCHEMA,
        "fit": fit_store.SCHEMA,
        "nmfc": nmfc_store.SCHEMA,
        "audio": audio.SCHEMA,
    }
    (features,) = next(stage for stage in STAGES if stage.name == "audio").arrays
    assert features.shape == ("T", audio.N_FEATURES)


def set_schema(results):
    root = zarr.open_group(str(results / "landmarks/train-0000.zarr"), mode="a")
    root.attrs["schema"] = "headgan.landmarks/0"


def half_written_store(results):
    (results / "nmfc/.train-0000.zarr.tmp-1234").mkdir()


def half_written_new_store(results):
    (results / "fit/.train-0001.zarr.tmp-99").mkdir()


def with_nan(results):
    features = np.zeros((4, 300), np.float32)
    features[2, 7] = np.nan
    replace_array(results, "audio", "train-0000", "id1+a+1", "features", features)


CORRUPTIONS = {
    "wrong dtype": (
        lambda r: replace_array(r, "audio", "train-0000", "id1+a+1", "features", np.zeros((4, 300))),
        "audio/train-0000.zarr/id1+a+1/features: dtype float64, expected float32",
    ),
    "wrong shape": (
        lambda r: replace_array(r, "landmarks", "test-0000", "id3+c+1", "points", np.zeros((5, 5, 2), np.float32)),
        "landmarks/test-0000.zarr/id3+c+1/points: shape (5, 5, 2), expected (T, M, 3)",
    ),
    "shape disagreeing within a clip": (
        lambda r: replace_array(r, "fit", "train-0000", "id2+b+1", "valid", np.ones(5, bool)),
        "fit/train-0000.zarr/id2+b+1/valid: shape (5,), expected (T,) with T=6",
    ),
    "NaN in audio features": (with_nan, "audio/train-0000.zarr/id1+a+1/features: holds NaN"),
    "frame-count mismatch": (
        lambda r: [
            replace_array(r, "nmfc", "train-0000", "id2+b+1", name, values)
            for name, values in (("nmfc", np.zeros((5, 8, 8, 3), np.uint8)), ("valid", np.ones(5, bool)))
        ],
        "nmfc/train-0000.zarr/id2+b+1/nmfc: frame count 5 differs from crops (6)",
    ),
    "missing array": (
        lambda r: shutil.rmtree(r / "crops/test-0000.zarr/id3+c+1/boxes"),
        "crops/test-0000.zarr/id3+c+1/boxes: missing",
    ),
    "missing store": (lambda r: shutil.rmtree(r / "fit/test-0000.zarr"), "fit/test-0000.zarr: missing"),
    "half-written temp dir": (
        half_written_store,
        "nmfc/train-0000.zarr: half-written: temporary .train-0000.zarr.tmp-1234 left",
    ),
    "temp dir of a store never finished": (half_written_new_store, "fit/train-0001.zarr: half-written: temporary"),
    "missing zarr.json": (
        lambda r: (r / "audio/test-0000.zarr/zarr.json").unlink(),
        "audio/test-0000.zarr: half-written: no zarr.json",
    ),
    "clip group without zarr.json": (
        lambda r: (r / "crops/train-0000.zarr/id1+a+1/zarr.json").unlink(),
        "crops/train-0000.zarr/id1+a+1: clip group has no zarr.json",
    ),
    "wrong schema": (
        set_schema,
        "landmarks/train-0000.zarr: schema 'headgan.landmarks/0', expected 'headgan.landmarks/1'",
    ),
}


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_each_corruption_fails_the_check_naming_it(results, capsys, kind):
    corrupt, message = CORRUPTIONS[kind]
    assert check_results(results).problems == []
    corrupt(results)
    assert main(["check", "--results", str(results)]) == 1
    err = capsys.readouterr().err
    assert message in err, err
    assert err.startswith(str(results))
