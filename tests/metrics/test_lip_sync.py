"""SyncNet loading (the real key layout, wrong and missing files) and the LSE-C / LSE-D protocol:
the offset search on injected embeddings, the windows of frames and audio."""

from pathlib import Path

import numpy as np
import pytest
import torch

from headgan_model.metrics.lip_sync import (
    MAX_OFFSET,
    SyncScore,
    audio_windows,
    distance_curve,
    face_windows,
    lse_results,
    score_curve,
    sync_score,
)
from headgan_model.metrics.mfcc import int16_scale, mfcc
from headgan_model.metrics.syncnet import SyncNet, SyncNetWeightsMissing, load_syncnet

KEYS = Path(__file__).parent / "data/syncnet_v2_keys.txt"


def reference_layout() -> dict[str, tuple[int, ...]]:
    """Key → shape of syncnet_python's state dict (the committed listing)."""
    layout = {}
    for line in KEYS.read_text().splitlines():
        if line and not line.startswith("#"):
            key, shape = line.split("\t")
            layout[key] = tuple(int(n) for n in shape.split(",")) if shape else ()
    return layout


def write_weights(path: Path, layout: dict, seed: int = 0) -> dict:
    """A state dict of random tensors in ``layout``, without ``num_batches_tracked`` (as the 2018
    file has none), saved at ``path``."""
    generator = torch.Generator().manual_seed(seed)
    state = {key: torch.rand(shape, generator=generator) for key, shape in layout.items() if key.split(".")[-1] != "num_batches_tracked"}
    torch.save(state, path)
    return state


def test_the_network_has_the_reference_layout():
    assert {key: tuple(value.shape) for key, value in SyncNet().state_dict().items()} == reference_layout()


def test_a_file_in_the_real_layout_loads(tmp_path):
    state = write_weights(tmp_path / "syncnet_v2.model", reference_layout())
    network = load_syncnet(tmp_path / "syncnet_v2.model")
    assert not network.training and not any(p.requires_grad for p in network.parameters())
    loaded = network.state_dict()
    for key, value in state.items():
        assert torch.equal(loaded[key], value), key
    assert network.forward_lip(torch.zeros(2, 3, 5, 224, 224)).shape == (2, 1024)
    assert network.forward_aud(torch.zeros(2, 1, 13, 20)).shape == (2, 1024)


def test_wrong_files_are_refused(tmp_path):
    layout = reference_layout()
    missing = dict(layout)
    del missing["netfclip.3.weight"]
    write_weights(tmp_path / "missing.model", missing)
    with pytest.raises(ValueError, match=r"netfclip\.3\.weight is missing"):
        load_syncnet(tmp_path / "missing.model")
    misshapen = dict(layout) | {"netcnnlip.0.weight": (96, 1, 5, 7, 7)}  # grey input: another network
    write_weights(tmp_path / "grey.model", misshapen)
    with pytest.raises(ValueError, match=r"netcnnlip\.0\.weight is shaped \(96, 1, 5, 7, 7\), expected shape \(96, 3, 5, 7, 7\)"):
        load_syncnet(tmp_path / "grey.model")
    write_weights(tmp_path / "extra.model", dict(layout) | {"fc.weight": (2, 2)})
    with pytest.raises(ValueError, match=r"unknown keys \['fc.weight'\]"):
        load_syncnet(tmp_path / "extra.model")
    torch.save([torch.zeros(1)], tmp_path / "list.model")
    with pytest.raises(ValueError, match="holds a list"):
        load_syncnet(tmp_path / "list.model")
    (tmp_path / "text.model").write_text("not a model")
    with pytest.raises(ValueError, match="not a torch state dict file"):
        load_syncnet(tmp_path / "text.model")


def test_a_missing_file_says_where_to_get_it(tmp_path):
    with pytest.raises(SyncNetWeightsMissing) as caught:
        load_syncnet(tmp_path / "syncnet/syncnet_v2.model")
    message = str(caught.value)
    assert str(tmp_path / "syncnet/syncnet_v2.model") in message
    assert "download_model.sh" in message and "joonson/syncnet_python" in message and "MIT" in message


def reference_curve(video: torch.Tensor, audio: torch.Tensor, shift: int) -> np.ndarray:
    """The reference's loop: per video window i, the distances to the zero-padded audio windows
    i − shift … i + shift, then their mean over i."""
    padded = torch.cat([torch.zeros(shift, audio.shape[1]), audio, torch.zeros(shift, audio.shape[1])])
    rows = [
        torch.nn.functional.pairwise_distance(video[[i]].repeat(2 * shift + 1, 1), padded[i : i + 2 * shift + 1])
        for i in range(len(video))
    ]
    return torch.stack(rows, 1).mean(1).double().numpy()


@pytest.mark.parametrize("delay", [0, 3, -7, 15])
def test_the_offset_search_finds_a_known_shift(delay):
    """Audio embedding v + delay is video embedding v (plus a little noise): the curve is smallest
    at offset index MAX_OFFSET + delay, the reported offset is −delay."""
    generator = torch.Generator().manual_seed(1)
    n, dim = 40, 1024
    video = torch.randn(n, dim, generator=generator)
    audio = torch.randn(n, dim, generator=generator)
    for v in range(n):
        if 0 <= v + delay < n:
            audio[v + delay] = video[v] + 0.01 * torch.randn(dim, generator=generator)
    curve = distance_curve(video, audio)
    np.testing.assert_allclose(curve, reference_curve(video, audio, MAX_OFFSET), rtol=1e-6)
    score = score_curve(curve, n)
    assert int(np.argmin(curve)) == MAX_OFFSET + delay and score.offset == -delay
    assert score.distance == pytest.approx(curve.min()) and score.confidence == pytest.approx(np.median(curve) - curve.min())
    assert score.confidence > 10


def test_lse_over_videos_is_the_plain_mean():
    curve = np.zeros(31)
    scores = [SyncScore(6.0, 8.0, 1, curve, 10), SyncScore(8.0, 4.0, -3, curve, 30)]
    distance, confidence = lse_results(scores, {"c": "no audio"})
    assert distance.value == 7.0 and confidence.value == 6.0
    assert distance.details == {"videos": 2.0, "windows": 40.0, "offset": 2.0}
    assert distance.warnings == ("LSE-D: 1 of 3 videos left out: c (no audio)",)
    none_d, none_c = lse_results([], {"a": "no audio"})
    assert none_d.value is None and none_d.missing == "no audio" and none_c.missing == "no audio"


def test_windows_of_frames_and_audio():
    frames = np.zeros((12, 64, 64, 3), np.uint8)
    frames[..., 0] = np.arange(12)[:, None, None]  # red channel: the frame number
    faces = face_windows(frames, 7)
    assert faces.shape == (7, 3, 5, 224, 224) and faces.dtype == torch.float32
    # BGR: the red channel is the last one; window v holds frames v … v+4
    np.testing.assert_array_equal(faces[:, 2, :, 100, 100].numpy(), np.arange(7)[:, None] + np.arange(5))
    assert faces[:, :2].abs().max() == 0
    samples = np.random.default_rng(0).uniform(-0.5, 0.5, 12 * 640)
    windows = audio_windows(samples, 7)
    assert windows.shape == (7, 1, 13, 20)
    cepstra = mfcc(int16_scale(samples))
    np.testing.assert_allclose(windows[3, 0].numpy(), cepstra[12:32].T.astype(np.float32))


def test_sync_score_of_a_short_clip(single_torch_thread):
    torch.manual_seed(0)
    network = SyncNet().eval()
    frames = np.random.default_rng(0).integers(0, 256, (10, 32, 32, 3), dtype=np.uint8)
    samples = np.random.default_rng(1).uniform(-0.3, 0.3, 10 * 640)
    score = sync_score(frames, samples, network, batch_size=3)
    assert score.windows == 5 and score.curve.shape == (31,) and score.distance >= 0 and score.confidence >= 0
    again = sync_score(frames, samples, network, batch_size=5)
    np.testing.assert_allclose(again.curve, score.curve, rtol=1e-5)
    # the audio is shorter than the video: the shorter one sets the windows
    assert sync_score(frames, samples[: 8 * 640], network).windows == 3
    with pytest.raises(ValueError, match="at least 6 frames"):
        sync_score(frames[:5], samples, network)
    with pytest.raises(ValueError, match="16000 Hz"):
        sync_score(frames, samples, network, sample_rate=22050)
