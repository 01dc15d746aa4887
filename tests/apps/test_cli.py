"""The command lines: a task through headgan-apps, and clear errors with exit status 2."""

import json

import pytest

from headgan_model.apps.cli import main as apps_main
from headgan_model.apps.infer import main as infer_main

pytestmark = pytest.mark.usefixtures("single_torch_thread")


def test_headgan_apps_runs_a_task_and_names_a_missing_generator(apps_results, tmp_path, capsys):
    common = [
        "--index",
        str(apps_results.test_index),
        "--out",
        str(tmp_path / "out"),
        "--settings",
        json.dumps({"device": "cpu"}),
    ]
    assert (
        apps_main(
            [
                "reconstruct",
                "--shard",
                "test-0001",
                "--generator",
                str(apps_results.generator),
                "--preview",
                str(tmp_path / "p.png"),
                *common,
            ]
        )
        == 0
    )
    assert (tmp_path / "out/id5+e+1.mp4").is_file() and (tmp_path / "p.png").is_file()
    assert apps_main(["reconstruct", "--shard", "test-0001", "--generator", str(tmp_path / "none.pt"), *common]) == 2
    assert "none.pt: generator file missing" in capsys.readouterr().err
    assert (
        apps_main(
            [
                "edit",
                "--model",
                str(apps_results.model),
                "--generator",
                str(apps_results.generator),
                *common[:-2],
                "--settings",
                '{"batch": 0}',
            ]
        )
        == 2
    )
    assert "apps.batch must be ≥ 1" in capsys.readouterr().err


def test_headgan_infer_says_what_is_missing(tmp_path, capsys):
    assert (
        infer_main(
            [
                "compress",
                "--video",
                str(tmp_path / "v.mp4"),
                "--out",
                str(tmp_path / "c.hgnc"),
                "--results",
                str(tmp_path),
                "--model",
                str(tmp_path / "m.h5"),
            ]
        )
        == 2
    )
    assert "m.h5" in capsys.readouterr().err
