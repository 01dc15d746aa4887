"""Cross-identity reenactment: the adapted camera, the reenacted NMFC images, the pairs and the videos."""

import numpy as np
import pytest

from headgan_model.apps.clips import split_clips
from headgan_model.apps.inference import Animator, load_generator
from headgan_model.apps.reenact import Reenactor, adapt_camera, choose_pairs, moving_average, reenact_pairs
from headgan_model.apps.settings import AppsConfigError, AppsSettings
from headgan_model.apps.tables import read_tsv
from headgan_model.apps.video import read_mp4
from headgan_prep.dataset.reader import DatasetReader
from headgan_prep.morphable.model import MorphableModel
from headgan_prep.render.renderer import NMFCRenderer, RenderConfig

pytestmark = pytest.mark.usefixtures("single_torch_thread")


def test_moving_average_repeats_the_ends_and_keeps_the_length():
    signal = np.array([0.0, 0, 0, 3, 3, 3])
    np.testing.assert_allclose(moving_average(signal, 3), [0, 0, 1, 2, 3, 3])
    np.testing.assert_allclose(moving_average(signal, 4), [0, 0, 0.75, 1.5, 2.25, 3])  # [t-2, t+1]
    np.testing.assert_allclose(moving_average(signal, 1), signal)


def test_adapted_camera_by_hand():
    driving = np.zeros((4, 7))
    driving[:, 0] = [2.0, 2.0, 4.0, 4.0]  # mean scale 3
    driving[:, 1:5] = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]
    driving[:, 5] = [20.0, 40.0, 40.0, 80.0]  # per unit scale 10, 20, 10, 20 (mean 15)
    driving[:, 6] = [2.0, 2.0, 4.0, 4.0]  # per unit scale 1 (mean 1)
    source = np.array([[6.0, 0, 1, 0, 0, 30.0, 60.0]])  # per unit scale 5, 10
    adapted = adapt_camera(driving, source, window=1)
    np.testing.assert_allclose(adapted[:, 0], [4, 4, 8, 8])  # × 6 / 3
    np.testing.assert_allclose(adapted[:, 1:5], driving[:, 1:5])
    np.testing.assert_allclose(adapted[:, 5], [4 * 0, 4 * 10, 8 * 0, 8 * 10])  # S · (n − 15 + 5)
    np.testing.assert_allclose(adapted[:, 6], [40, 40, 80, 80])  # S · (1 − 1 + 10)
    # a source driven by its own constant camera keeps it; invalid driving frames stay NaN
    still = np.repeat(source, 5, axis=0)
    still[2] = np.nan
    adapted = adapt_camera(still, source, window=15)
    np.testing.assert_allclose(adapted[[0, 1, 3, 4]], np.repeat(source, 4, axis=0), rtol=1e-6)
    assert np.isnan(adapted[2]).all()


def test_reenacted_nmfc_is_the_source_identity_with_the_driving_expression_and_adapted_camera(apps_results):
    reader = DatasetReader(apps_results.test_index)
    source, driving = split_clips(reader)[:2]
    model = MorphableModel.load(apps_results.model)
    animator = Animator(load_generator(apps_results.generator, "cpu"), "fp32")
    nmfc, generated = Reenactor(animator, model, RenderConfig(), 32, window=3).reenact(source, 4, driving)
    assert nmfc.shape == generated.shape == (driving.n_frames, 32, 32, 3)
    # the same camera by hand: driving scale × source / driving mean scale, translations per unit scale moved
    cam_d, cam_s = driving.parameters.camera.astype(float), source.parameters.camera[4].astype(float)
    scale = moving_average(cam_d[:, 0] * cam_s[0] / cam_d[:, 0].mean(), 3)
    per_scale = cam_d[:, 5:] / cam_d[:, :1]
    translation = scale[:, None] * moving_average(per_scale - per_scale.mean(0) + cam_s[5:] / cam_s[0], 3)
    camera = np.c_[scale, cam_d[:, 1:5], translation]
    renderer = NMFCRenderer(model, size=32)
    direct = renderer.render_clip(source.parameters.identity, driving.parameters.expression, camera)
    assert (nmfc != direct).any(axis=-1).mean() < 0.002  # up to rounding at silhouettes
    own_identity = renderer.render_clip(driving.parameters.identity, driving.parameters.expression, camera)
    assert (nmfc != own_identity).any(axis=-1).mean() > 0.02


def test_random_pairs_are_cross_identity_and_seeded(apps_results):
    clips = split_clips(DatasetReader(apps_results.test_index))
    pairs = choose_pairs(clips, clips, 15, seed=0)
    assert len(pairs) == 6 and all(d.identity != s.identity for d, s in pairs)  # 3 identities: 3 · 2 pairs
    assert [(d.clip_id, s.clip_id) for d, s in choose_pairs(clips, clips, 2, seed=0)] == [(d.clip_id, s.clip_id) for d, s in pairs[:2]]
    assert {(d.clip_id, s.clip_id) for d, s in choose_pairs(clips, clips, 6, seed=1)} == {(d.clip_id, s.clip_id) for d, s in pairs}
    with pytest.raises(AppsConfigError, match="no cross-identity"):
        choose_pairs(clips[:1], clips[:1], 3, seed=0)


def test_pairs_are_written_with_the_driving_audio(apps_results, tmp_path):
    settings = AppsSettings.from_dict({"device": "cpu", "reenact": {"pairs": [["id4+d+1", "id5+e+1"]]}})
    rows = reenact_pairs(apps_results.test_index, apps_results.test_index, apps_results.model, apps_results.generator, tmp_path / "out", settings, preview=tmp_path / "p.png")
    assert read_tsv(tmp_path / "out/pairs.tsv") == [{k: str(v) for k, v in row.items()} for row in rows]
    assert rows == [{"driving": "id4+d+1", "source": "id5+e+1", "source_frame": 3, "n_frames": 8, "driving_identity": "id4", "source_identity": "id5"}]
    frames, audio, info = read_mp4(tmp_path / "out/id4+d+1__id5+e+1.mp4")
    assert frames.shape == (8, 32, 32, 3) and info["fps"] == 25 and 0 <= len(audio) - 8 * 640 < 1024
    assert read_mp4(tmp_path / "out/id4+d+1__id5+e+1.side.mp4")[0].shape == (8, 32, 128, 3)
    with pytest.raises(AppsConfigError, match="'nope' is not in the source split"):
        reenact_pairs(apps_results.test_index, apps_results.test_index, apps_results.model, apps_results.generator, tmp_path / "x", AppsSettings.from_dict({"reenact": {"pairs": [["id4+d+1", "nope"]]}}))
