"""Frontalisation: the frontal NMFC images show head angles near 0; audio-free and silent-audio generators."""

import numpy as np
import pytest
import zarr

from headgan_model.apps.clips import split_clips
from headgan_model.apps.frontalise import AUDIO_FREE, SILENT, frontal_parameters, frontalise_shard, nmfc_pose
from headgan_model.apps.settings import AppsConfigError, AppsSettings
from headgan_model.apps.tables import read_tsv
from headgan_model.apps.video import read_mp4
from headgan_prep.dataset.reader import DatasetReader
from headgan_prep.morphable.model import MorphableModel
from headgan_prep.render.renderer import NMFCRenderer

pytestmark = pytest.mark.usefixtures("single_torch_thread")


def test_the_pose_of_nmfc_images_is_the_fitted_one_and_frontal_after_frontalising(apps_results):
    model = MorphableModel.load(apps_results.model)
    renderer = NMFCRenderer(model, size=128)
    for clip in split_clips(DatasetReader(apps_results.test_index)):
        fitted = zarr.open_group(str(apps_results.results / f"fit/{clip.entry['shard']}.zarr"), mode="r")[clip.clip_id]["euler"][...]
        big = clip.parameters.camera.copy()
        big[:, [0, 5, 6]] *= 4  # the 32² cameras in a 128² crop: more face pixels to measure on
        parameters = type(clip.parameters)(clip.parameters.identity, clip.parameters.expression, big)
        measured = nmfc_pose(renderer.render_parameters(parameters), model)
        assert np.abs(measured - fitted).max() < 3, clip.clip_id  # the input poses, up to ±25° yaw
        for expression in ("own", "neutral"):
            frontal = nmfc_pose(renderer.render_parameters(frontal_parameters(parameters, expression)), model)
            assert np.abs(frontal).max() < 1.5, (clip.clip_id, expression)


def test_frontalised_clips_with_the_audio_free_generator_and_with_silent_features(apps_results, tmp_path):
    settings = AppsSettings.from_dict({"device": "cpu", "audio_free_generator": str(apps_results.audio_free_generator)})
    rows = frontalise_shard(apps_results.test_index, "test-0000", apps_results.model, apps_results.generator, tmp_path / "a", settings, preview=tmp_path / "a.png")
    assert [r["audio"] for r in rows] == [AUDIO_FREE] * 2 and read_tsv(tmp_path / "a/clips.tsv")[0]["audio"] == AUDIO_FREE
    for row in rows:
        frames, audio, info = read_mp4(tmp_path / f"a/{row['clip_id']}.mp4")
        assert len(frames) == row["n_frames"] and info["fps"] == 25 and audio is not None
        assert float(row["frontal_abs_angles"]) < float(row["input_abs_angles"])
    rows = frontalise_shard(apps_results.test_index, "test-0001", apps_results.model, apps_results.generator, tmp_path / "b", AppsSettings.from_dict({"device": "cpu"}))
    assert [r["audio"] for r in rows] == [SILENT]
    wrong = AppsSettings.from_dict({"audio_free_generator": str(apps_results.generator)})
    with pytest.raises(AppsConfigError, match="uses audio"):
        frontalise_shard(apps_results.test_index, "test-0001", apps_results.model, apps_results.generator, tmp_path / "c", wrong)
