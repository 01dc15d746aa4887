import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from headgan_model.train.losses import (
    GENERATOR_TERM_WEIGHTS,
    LossWeights,
    crop_mouths,
    discriminator_losses,
    feature_matching_loss,
    generator_losses,
    hinge_discriminator_loss,
    hinge_generator_loss,
)
from headgan_model.networks.vgg import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    VGG19_FILENAME,
    VGG19_URL,
    VGG19Features,
    VGGLoss,
    VGGWeightsMissing,
    load_vgg19,
)

# torchvision's vgg19().features: (index, input channels, output channels) of its 16 3 × 3
# convolutions, each followed by a ReLU; 2 × 2 max pools at the other indices.
TORCHVISION_CONVOLUTIONS = [
    (0, 3, 64),
    (2, 64, 64),
    (5, 64, 128),
    (7, 128, 128),
    (10, 128, 256),
    (12, 256, 256),
    (14, 256, 256),
    (16, 256, 256),
    (19, 256, 512),
    (21, 512, 512),
    (23, 512, 512),
    (25, 512, 512),
    (28, 512, 512),
    (30, 512, 512),
    (32, 512, 512),
    (34, 512, 512),
]
TORCHVISION_POOLS = [4, 9, 18, 27, 36]
# Shapes of torchvision's classifier entries, stored as zero-stride views of one element so that
# the test files stay small (the loader ignores these entries).
TORCHVISION_CLASSIFIER = {
    "classifier.0.weight": (4096, 25088),
    "classifier.0.bias": (4096,),
    "classifier.3.weight": (4096, 4096),
    "classifier.3.bias": (4096,),
    "classifier.6.weight": (1000, 4096),
    "classifier.6.bias": (1000,),
}


@pytest.fixture(scope="module")
def network():
    torch.manual_seed(0)
    return VGG19Features()


@pytest.fixture(scope="module")
def torchvision_state():
    torch.manual_seed(1)
    state = {}
    for index, inputs, outputs in TORCHVISION_CONVOLUTIONS:
        state[f"features.{index}.weight"] = torch.randn(outputs, inputs, 3, 3) * 0.05
        state[f"features.{index}.bias"] = torch.randn(outputs) * 0.05
    for key, shape in TORCHVISION_CLASSIFIER.items():
        state[key] = torch.zeros(1).expand(shape)
    return state


@pytest.fixture(scope="module")
def torchvision_file(tmp_path_factory, torchvision_state):
    path = tmp_path_factory.mktemp("vgg") / VGG19_FILENAME
    torch.save(torchvision_state, path)
    return path


def test_layout_matches_torchvision_vgg19_features(network):
    expected = {}
    for index, inputs, outputs in TORCHVISION_CONVOLUTIONS:
        expected[f"features.{index}.weight"] = (outputs, inputs, 3, 3)
        expected[f"features.{index}.bias"] = (outputs,)
    assert {key: tuple(value.shape) for key, value in network.state_dict().items()} == expected
    assert len(network.features) == 37
    for index, *_ in TORCHVISION_CONVOLUTIONS:
        convolution = network.features[index]
        assert isinstance(convolution, nn.Conv2d)
        assert (convolution.kernel_size, convolution.padding, convolution.stride) == ((3, 3), (1, 1), (1, 1))
        assert isinstance(network.features[index + 1], nn.ReLU)
    for index in TORCHVISION_POOLS:
        pool = network.features[index]
        assert isinstance(pool, nn.MaxPool2d)
        assert (pool.kernel_size, pool.stride) == (2, 2)


def test_relu_activation_shapes_at_64_pixels(network):
    with torch.no_grad():
        activations = network(torch.zeros(2, 3, 64, 64))
    assert [tuple(a.shape) for a in activations] == [
        (2, 64, 64, 64),
        (2, 128, 32, 32),
        (2, 256, 16, 16),
        (2, 512, 8, 8),
        (2, 512, 4, 4),
    ]
    assert all((a >= 0).all() for a in activations)


def test_input_in_minus_one_one_is_normalised_with_imagenet_statistics(network):
    images = torch.rand(1, 3, 16, 16) * 2 - 1
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    first = network.features[0]
    with torch.no_grad():
        expected = F.relu(first((images + 1) / 2 * (1 / std) - mean / std))
        relu1_1 = network(images)[0]
    torch.testing.assert_close(relu1_1, expected)


def test_torchvision_state_dict_loads_and_classifier_is_ignored(torchvision_file, torchvision_state):
    loaded = load_vgg19(torchvision_file)
    state = loaded.state_dict()
    assert set(state) == {key for key in torchvision_state if key.startswith("features.")}
    for key, value in state.items():
        assert torch.equal(value, torchvision_state[key])
    assert not loaded.training
    assert not any(parameter.requires_grad for parameter in loaded.parameters())


def test_features_only_state_dict_loads(tmp_path, torchvision_state):
    path = tmp_path / "features.pth"
    torch.save(
        {
            key.removeprefix("features."): value
            for key, value in torchvision_state.items()
            if key.startswith("features.")
        },
        path,
    )
    loaded = load_vgg19(str(path))
    assert torch.equal(loaded.features[34].weight, torchvision_state["features.34.weight"])


def test_missing_weights_name_the_file_the_url_and_the_switch(tmp_path):
    path = tmp_path / VGG19_FILENAME
    with pytest.raises(VGGWeightsMissing) as raised:
        load_vgg19(path)
    assert isinstance(raised.value, FileNotFoundError)
    message = str(raised.value)
    assert str(path) in message
    assert VGG19_URL in message
    assert "train.vgg.enabled: false" in message


@pytest.mark.parametrize(
    "change, bad_key",
    [
        (lambda state: state.pop("features.34.bias"), "features.34.bias"),
        (lambda state: state.update({"features.0.weight": torch.zeros(64, 3, 5, 5)}), "features.0.weight"),
        (lambda state: state.update({"features.21.weight": [1.0]}), "features.21.weight"),
    ],
    ids=["missing", "misshapen", "not-a-tensor"],
)
def test_wrong_state_dict_names_the_first_bad_key(tmp_path, torchvision_state, change, bad_key):
    state = dict(torchvision_state)
    change(state)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(ValueError, match=bad_key.replace(".", r"\.")):
        load_vgg19(path)


@pytest.mark.parametrize("content", [b"not a torch file", None])
def test_file_without_a_state_dict_is_rejected(tmp_path, content):
    path = tmp_path / "bad.pth"
    if content is None:
        torch.save(torch.zeros(3), path)
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError):
        load_vgg19(path)


def test_vgg_loss_is_the_weighted_l1_of_the_activations(network):
    loss = VGGLoss(network)
    torch.manual_seed(2)
    real = torch.rand(1, 3, 16, 16) * 2 - 1
    fake = (torch.rand(1, 3, 16, 16) * 2 - 1).requires_grad_()
    value = loss(fake, real)
    with torch.no_grad():
        expected = sum(
            weight * (a - b).abs().mean()
            for weight, a, b in zip([1 / 32, 1 / 16, 1 / 8, 1 / 4, 1], network(fake), network(real))
        )
    torch.testing.assert_close(value.detach(), expected)
    assert value > 0
    assert loss(real, real) == 0
    value.backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    assert all(not parameter.requires_grad and parameter.grad is None for parameter in network.parameters())


def logits(*values):
    return torch.tensor(values, dtype=torch.float32).view(1, 1, 1, -1)


def test_hinge_discriminator_loss_by_hand():
    real = [[torch.ones(1, 2, 2, 2), logits(2.0, 0.5)], [logits(-0.5)]]
    fake = [[torch.ones(1, 2, 2, 2), logits(-2.0, 0.5)], [logits(2.0)]]
    # scale 1: real mean(0, 0.5) = 0.25, fake mean(0, 1.5) = 0.75; scale 2: real 1.5, fake 3
    expected = ((0.25 + 0.75) + (1.5 + 3.0)) / 2
    assert hinge_discriminator_loss(real, fake).item() == pytest.approx(expected)
    assert hinge_discriminator_loss([[logits(1.0, 3.0)]], [[logits(-1.0, -4.0)]]).item() == 0


def test_hinge_generator_loss_by_hand():
    fake = [[torch.ones(1, 2, 2, 2), logits(-2.0, 0.5)], [logits(2.0)]]
    assert hinge_generator_loss(fake).item() == pytest.approx((0.75 - 2.0) / 2)


def test_feature_matching_by_hand():
    fake_a = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 1, 2, 2).requires_grad_()
    real_a = torch.ones(1, 1, 2, 2, requires_grad=True)
    fake = [[fake_a, logits(0.0, 0.0), logits(100.0)], [logits(2.0), logits(5.0)]]
    real = [[real_a, logits(1.0, -3.0), logits(-100.0)], [logits(-2.0), logits(-5.0)]]
    # scale 1: mean(0, 1, 2, 3) = 1.5 and mean(1, 3) = 2; scale 2: 4; the logits are not matched
    value = feature_matching_loss(fake, real)
    assert value.item() == pytest.approx((1.5 + 2.0 + 4.0) / 2)
    value.backward()
    assert fake_a.grad is not None
    assert real_a.grad is None


def test_crop_mouths_slices_at_the_rounded_clamped_corner():
    rng = np.random.default_rng(3)
    images = rng.normal(size=(4, 3, 10, 12)).astype(np.float32)
    boxes = np.array(
        [
            [2.4, 3.6, 6.4, 7.6],  # → x 2, y 4
            [10.6, -1.2, 14.6, 2.8],  # → x 11 → 8 (right border), y -1 → 0
            [-3.0, 7.5, 1.0, 11.5],  # → x 0, y 8 (tie to even) → 6 (bottom border)
            [8.0, 6.0, 12.0, 10.0],  # the bottom-right corner exactly
        ],
        dtype=np.float32,
    )
    corners = [(2, 4), (8, 0), (0, 6), (8, 6)]
    tensor = torch.from_numpy(images).requires_grad_()
    crops = crop_mouths(tensor, torch.from_numpy(boxes), size=4)
    assert crops.shape == (4, 3, 4, 4)
    for b, (x, y) in enumerate(corners):
        np.testing.assert_array_equal(crops[b].detach().numpy(), images[b, :, y : y + 4, x : x + 4])
    crops.sum().backward()
    mask = np.zeros_like(images)
    for b, (x, y) in enumerate(corners):
        mask[b, :, y : y + 4, x : x + 4] = 1
    np.testing.assert_array_equal(tensor.grad.numpy(), mask)


def test_crop_mouths_rejects_crops_larger_than_the_images():
    with pytest.raises(ValueError):
        crop_mouths(torch.zeros(1, 3, 32, 32), torch.zeros(1, 4))


def discriminator_outputs(seed, scales, requires_grad=False):
    generator = torch.Generator().manual_seed(seed)
    return [
        [
            torch.randn(2, 4, 8, 8, generator=generator, requires_grad=requires_grad),
            torch.randn(2, 1, 4, 4, generator=generator, requires_grad=requires_grad),
        ]
        for _ in range(scales)
    ]


@pytest.fixture(scope="module")
def pieces():
    generator = torch.Generator().manual_seed(4)
    images = [torch.rand(2, 3, 16, 16, generator=generator) * 2 - 1 for _ in range(3)]
    return {
        "generated": images[0].requires_grad_(),
        "warped": images[1].requires_grad_(),
        "real": images[2],
        "d_fake": discriminator_outputs(5, scales=2, requires_grad=True),
        "d_real": discriminator_outputs(6, scales=2),
        "dm_fake": discriminator_outputs(7, scales=1, requires_grad=True),
        "dm_real": discriminator_outputs(8, scales=1),
    }


def test_default_weights_are_the_papers():
    assert LossWeights() == LossWeights(
        l1=50, vgg=10, feature_matching=10, adversarial=1, mouth_adversarial=1, l1_region="frame", fm_layer_weight="1"
    )


def test_generator_total_is_the_weighted_sum_of_the_terms(network, pieces):
    weights = LossWeights(l1=2, vgg=3, feature_matching=5, adversarial=7, mouth_adversarial=11)
    terms = generator_losses(**pieces, weights=weights, vgg_loss=VGGLoss(network))
    assert set(terms) == set(GENERATOR_TERM_WEIGHTS) - {"g_flow_mask"} | {"g_total"}
    assert all(value.dim() == 0 for value in terms.values())
    expected = (
        7 * terms["g_adv"]
        + 11 * terms["g_mouth_adv"]
        + 2 * (terms["g_l1"] + terms["g_l1_warp"])
        + 3 * (terms["g_vgg"] + terms["g_vgg_warp"])
        + 5 * (terms["g_feat"] + terms["g_feat_mouth"])
    )
    torch.testing.assert_close(terms["g_total"], expected)
    torch.testing.assert_close(terms["g_l1"], (pieces["generated"] - pieces["real"]).abs().mean())
    torch.testing.assert_close(terms["g_l1_warp"], (pieces["warped"] - pieces["real"]).abs().mean())
    torch.testing.assert_close(terms["g_adv"], hinge_generator_loss(pieces["d_fake"]))
    torch.testing.assert_close(terms["g_feat_mouth"], feature_matching_loss(pieces["dm_fake"], pieces["dm_real"]))
    terms["g_total"].backward()
    assert pieces["generated"].grad is not None and pieces["warped"].grad is not None


def test_generator_terms_without_vgg_or_flow(pieces):
    without_warped = {key: value for key, value in pieces.items() if key != "warped"}
    terms = generator_losses(**without_warped)
    assert set(terms) == {"g_adv", "g_mouth_adv", "g_l1", "g_feat", "g_feat_mouth", "g_total"}
    expected = (
        terms["g_adv"] + terms["g_mouth_adv"] + 50 * terms["g_l1"] + 10 * (terms["g_feat"] + terms["g_feat_mouth"])
    )
    torch.testing.assert_close(terms["g_total"], expected)
    assert set(generator_losses(**pieces)) == {
        "g_adv",
        "g_mouth_adv",
        "g_l1",
        "g_l1_warp",
        "g_feat",
        "g_feat_mouth",
        "g_total",
    }


def test_discriminator_losses():
    d_real, d_fake = discriminator_outputs(9, scales=2), discriminator_outputs(10, scales=2)
    dm_real, dm_fake = discriminator_outputs(11, scales=1), discriminator_outputs(12, scales=1)
    losses = discriminator_losses(d_real=d_real, d_fake=d_fake, dm_real=dm_real, dm_fake=dm_fake)
    assert set(losses) == {"d_image", "d_mouth", "d_total"}
    torch.testing.assert_close(losses["d_image"], hinge_discriminator_loss(d_real, d_fake))
    torch.testing.assert_close(losses["d_mouth"], hinge_discriminator_loss(dm_real, dm_fake))
    torch.testing.assert_close(losses["d_total"], losses["d_image"] + losses["d_mouth"])


def test_crop_mouths_resizes_larger_boxes_to_the_crop_size():
    # an image of 2 × 2 blocks of 16 pixels: a 32-px box resampled to 16 shows each block on 8 pixels
    blocks = torch.arange(4, dtype=torch.float32).reshape(1, 1, 2, 2)
    images = blocks.repeat_interleave(16, dim=2).repeat_interleave(16, dim=3).repeat(2, 3, 1, 1).requires_grad_()
    boxes = torch.tensor([[0.0, 0.0, 32.0, 32.0], [10.0, 20.0, 26.0, 36.0]])  # 32-px box, and a 16-px one
    crops = crop_mouths(images, boxes, size=16)
    assert crops.shape == (2, 3, 16, 16)
    expected = blocks.repeat_interleave(8, dim=2).repeat_interleave(8, dim=3)[0, 0]
    torch.testing.assert_close(crops[0, 0].detach(), expected)
    # the 16-px box, resampled at pixel centres, equals the slice at its (clamped) corner
    torch.testing.assert_close(crops[1].detach(), images[1, :, 16:32, 10:26].detach())
    crops.sum().backward()
    assert images.grad[0].sum().item() == pytest.approx(3 * 16 * 16)  # each output pixel's weights sum to 1
