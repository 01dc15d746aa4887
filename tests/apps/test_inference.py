"""Loading generator.pt and generating sequences with one reference."""

import numpy as np
import pytest
import torch

from headgan_model.apps.clips import split_clips
from headgan_model.apps.inference import Animator, AudioMismatchError, GeneratorFileError, load_generator
from headgan_model.train.data import SelfReenactmentDataset
from headgan_prep.dataset.reader import DatasetReader

pytestmark = pytest.mark.usefixtures("single_torch_thread")


def test_loaded_generator_has_the_saved_settings_and_weights(apps_results):
    loaded = load_generator(apps_results.generator, "cpu")
    saved = torch.load(apps_results.generator, weights_only=True)
    assert loaded.config.width == 4 and loaded.config.use_audio and loaded.step == 2
    assert not loaded.network.training
    for name, value in loaded.network.state_dict().items():
        assert torch.equal(value, saved["generator"][name]), name


def test_sequences_equal_the_generator_on_training_samples(apps_results):
    """Batched generation with the reference encoded once gives G's output on the test samples
    (x_{t−2:t} windows, audio rows and middle-frame reference of the training data)."""
    loaded = load_generator(apps_results.generator, "cpu")
    dataset = SelfReenactmentDataset(apps_results.test_index)
    clip = split_clips(DatasetReader(apps_results.test_index))[0]
    reference = clip.n_frames // 2
    animator = Animator(loaded, "fp32", batch=3)  # 3 does not divide the clip's frames
    generated = animator.animate(clip.frames[reference], clip.nmfc[reference], clip.nmfc, clip.audio_features)
    assert generated.shape == (clip.n_frames, 32, 32, 3) and generated.dtype == np.uint8
    with torch.inference_mode():
        for t in (0, 1, clip.n_frames - 1):
            sample = dataset[t]
            assert sample["reference"] == reference and sample["frame"] == t
            out = loaded.network(sample["nmfc"][None], sample["ref_image"][None], sample["ref_nmfc"][None], sample["audio"][None])
            expected = ((out["image"][0].clamp(-1, 1) + 1) * 127.5).round().permute(1, 2, 0).numpy()
            assert np.abs(generated[t].astype(int) - expected.astype(int)).max() <= 1, t


def test_audio_and_audio_free_generators_refuse_the_wrong_input(apps_results):
    clip = split_clips(DatasetReader(apps_results.test_index))[0]
    with pytest.raises(AudioMismatchError, match="uses audio"):
        Animator(load_generator(apps_results.generator, "cpu")).animate(clip.frames[0], clip.nmfc[0], clip.nmfc, None)
    silent = Animator(load_generator(apps_results.audio_free_generator, "cpu"))
    with pytest.raises(AudioMismatchError, match="audio-free"):
        silent.animate(clip.frames[0], clip.nmfc[0], clip.nmfc, clip.audio_features)
    assert silent.animate(clip.frames[0], clip.nmfc[0], clip.nmfc, None).shape == clip.frames.shape


def test_missing_foreign_and_mismatched_files_are_refused(apps_results, tmp_path):
    with pytest.raises(GeneratorFileError, match="missing.*snakemake train"):
        load_generator(tmp_path / "generator.pt")
    saved = torch.load(apps_results.generator, weights_only=True)
    torch.save({**saved, "schema": "headgan.checkpoint/1"}, tmp_path / "checkpoint.pt")
    with pytest.raises(GeneratorFileError, match="schema 'headgan.checkpoint/1'"):
        load_generator(tmp_path / "checkpoint.pt")
    torch.save({**saved, "generator_config": {**saved["generator_config"], "n_frames_G": 3}}, tmp_path / "other.pt")
    with pytest.raises(GeneratorFileError, match="another architecture.*n_frames_G"):
        load_generator(tmp_path / "other.pt")
    torch.save({**saved, "generator_config": {**saved["generator_config"], "width": 8}}, tmp_path / "wide.pt")
    with pytest.raises(GeneratorFileError, match="weights do not fit"):
        load_generator(tmp_path / "wide.pt")
    (tmp_path / "text.pt").write_text("not a generator")
    with pytest.raises(GeneratorFileError, match="not a readable generator file"):
        load_generator(tmp_path / "text.pt")
