"""scripts/readme_figures.py on an apps folder of every task, made with the tiny generator."""

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

from headgan_model.apps.compress import compress_split
from headgan_model.apps.edit import edit_source
from headgan_model.apps.frontalise import frontalise_shard
from headgan_model.apps.reconstruct import reconstruct_shard
from headgan_model.apps.reenact import reenact_pairs
from headgan_model.apps.settings import AppsSettings
from headgan_model.apps.video import read_mp4

REPO = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("readme_figures", REPO / "scripts" / "readme_figures.py")
readme_figures = importlib.util.module_from_spec(spec)
spec.loader.exec_module(readme_figures)

pytestmark = pytest.mark.usefixtures("single_torch_thread")


@pytest.fixture(scope="module")
def apps_folder(apps_results, tmp_path_factory):
    """``results/apps/{run}/`` of the tiny generator: every task, shards as the workflow writes them."""
    apps = tmp_path_factory.mktemp("apps-run") / "audio"
    r = apps_results
    settings = AppsSettings.from_dict(
        {
            "device": "cpu",
            "reenact": {"n_pairs": 1},
            "edit": {"components": 1, "amounts": [-1.0, 1.0], "angles": [10.0]},
            "compress": {"max_clips": 1, "bitrates": [16.0], "codecs": ["libx264"]},
        }
    )
    reconstruct_shard(r.test_index, "test-0000", r.generator, apps / "reconstruct/test-0000", settings)
    reenact_pairs(r.test_index, r.test_index, r.model, r.generator, apps / "reenact/videos", settings)
    frontalise_shard(r.test_index, "test-0000", r.model, r.generator, apps / "frontalise/test-0000", settings)
    edit_source(r.test_index, r.model, r.generator, apps / "edit", settings)
    compress_split(
        r.test_index,
        r.model,
        r.generator,
        apps / "compress/streams",
        settings,
        plot=apps / "compress/rate_quality.png",
        models_dir=apps / "no-models",
    )
    return apps


def test_one_small_deterministic_picture_per_task(apps_folder, tmp_path):
    written = readme_figures.readme_figures(apps_folder, tmp_path / "a", n_frames=3, width=100)
    again = readme_figures.readme_figures(apps_folder, tmp_path / "b", n_frames=3, width=100)
    assert set(written) == {"reconstruct", "reenact", "frontalise", "edit", "compress"}
    for task, path in written.items():
        assert path.read_bytes() == again[task].read_bytes(), task
        picture = cv2.imread(str(path))
        assert picture.shape[1] <= 100 and path.stat().st_size < 300_000
    # a side-by-side strip: frames 0, middle and last of the first clip's video (4 panels of 32²)
    frames, _, _ = read_mp4(apps_folder / "reconstruct/test-0000/id3+c+1.side.mp4")
    strip = cv2.cvtColor(cv2.imread(str(written["reconstruct"])), cv2.COLOR_BGR2RGB)
    assert frames.shape[1:] == (32, 128, 3) and strip.shape == (75, 100, 3)
    expected = cv2.resize(np.concatenate([frames[0], frames[4], frames[9]]), (100, 75), interpolation=cv2.INTER_AREA)
    other = cv2.resize(np.concatenate([frames[9], frames[0], frames[4]]), (100, 75), interpolation=cv2.INTER_AREA)
    error = np.abs(strip.astype(int) - expected).mean()
    assert error < 8 < np.abs(strip.astype(int) - other).mean()  # the palette costs a few levels


def test_frame_strip_picks_evenly_spaced_frames():
    frames = np.arange(10, dtype=np.uint8)[:, None, None, None] * np.ones((1, 2, 3, 3), np.uint8)
    strip = readme_figures.frame_strip(frames, 4)
    assert strip.shape == (8, 3, 3) and list(strip[::2, 0, 0]) == [0, 3, 6, 9]
    assert readme_figures.frame_strip(frames[:2], 4).shape == (4, 3, 3)


def test_a_folder_without_a_task_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="reconstruct/\\*/\\*.side.mp4"):
        readme_figures.readme_figures(tmp_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing written
