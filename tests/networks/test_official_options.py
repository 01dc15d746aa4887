"""The network options of HeadGAN's official code change what they should (train.preset: official)."""

import math

import pytest
import torch
import torch.nn.functional as F

from headgan_model.networks.blocks import ConvEncoder, SPADEBlock
from headgan_model.networks.discriminator import DiscriminatorConfig, ImageDiscriminator, MouthDiscriminator
from headgan_model.networks.generator import Generator, GeneratorConfig
from headgan_model.networks.init import xavier_init
from headgan_model.networks.summary import count_parameters
from headgan_model.networks.vgg import IMAGENET_MEAN, IMAGENET_STD, VGG19Features

pytestmark = pytest.mark.usefixtures("single_torch_thread")
SMALL = GeneratorConfig(width=4, spade_hidden=8)


def inputs(batch=2, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.rand(batch, 9, size, size, generator=g),
        torch.rand(batch, 3, size, size, generator=g) * 2 - 1,
        torch.rand(batch, 3, size, size, generator=g),
        torch.randn(batch, 300, generator=g),
    )


def test_a_residual_spade_block_adds_its_input_and_no_parameter():
    torch.manual_seed(0)
    plain = SPADEBlock(8, 3, hidden=8)
    residual = SPADEBlock(8, 3, hidden=8, residual=True)
    residual.load_state_dict(plain.state_dict())
    x, condition = torch.randn(2, 8, 6, 6), torch.rand(2, 3, 12, 12)
    torch.testing.assert_close(residual(x, condition), x + plain(x, condition))
    assert count_parameters(residual) == count_parameters(plain)


def test_the_flow_mask_head_multiplies_the_flow_and_costs_one_conv():
    base = GeneratorConfig(width=4, spade_hidden=8)
    masked = GeneratorConfig(width=4, spade_hidden=8, flow_mask=True)
    torch.manual_seed(1)
    generator = Generator(masked)
    assert count_parameters(generator) - count_parameters(Generator(base)) == 4 * 7 * 7 + 1
    torch.nn.init.normal_(generator.flow_network.to_flow.weight, std=0.1)
    raw = {}
    generator.flow_network.to_flow.register_forward_hook(lambda module, args, out: raw.setdefault("flow", out))
    out = generator(*inputs())
    assert out["mask"].shape == (2, 1, 16, 16) and 0 <= out["mask"].min() and out["mask"].max() <= 1
    torch.testing.assert_close(out["flow"], raw["flow"] * out["mask"])
    assert Generator(base)(*inputs())["mask"] is None


def test_spade_hidden_256_widens_every_spade_normalisation():
    wide = GeneratorConfig(width=4, spade_hidden=256)
    narrow = GeneratorConfig(width=4, spade_hidden=128)
    n_spade = sum(1 for m in Generator(wide).modules() if type(m).__name__ == "SPADE")
    assert n_spade == 2 * (3 + 1 + 3 + 1)  # two per block: F's 4 blocks, R's 3 stages and reference block
    difference = count_parameters(Generator(wide)) - count_parameters(Generator(narrow))
    # per SPADE of norm channels C and condition channels c: 128 more hidden channels in the shared
    # 3×3 conv (9c + 1 each) and as inputs of the γ and β convs (9C each, twice)
    expected = 0
    for m in Generator(wide).modules():
        if type(m).__name__ == "SPADE":
            c, channels = m.shared[0].in_channels, m.gamma.out_channels
            expected += 128 * (9 * c + 1) + 2 * 128 * 9 * channels
    assert difference == expected


def test_the_official_encoder_has_spectral_norm_affine_norms_and_reflection_padding():
    torch.manual_seed(2)
    plain = ConvEncoder(6, 4)
    official = ConvEncoder(6, 4, spectral=True, affine=True, reflect=True)
    # affine instance norms: a scale and a shift per channel of w + 4w + 16w
    assert count_parameters(official) - count_parameters(plain) == 2 * (4 + 16 + 64)
    assert all(hasattr(stage[0], "parametrizations") for stage in official.stages)
    assert not any(hasattr(stage[0], "parametrizations") for stage in plain.stages)
    x = torch.randn(1, 6, 16, 16)
    conv = official.stages[0][0].eval()  # no power iteration: the same weight in both
    reference = F.conv2d(F.pad(x, (3, 3, 3, 3), mode="reflect"), conv.weight)
    torch.testing.assert_close(conv(x), reference)
    assert conv.padding_mode == "reflect" and plain.stages[0][0].padding_mode == "zeros"
    assert official.stages[1][0].padding_mode == "zeros"  # the stride-2 convs keep zero padding


def test_affine_norms_in_the_discriminators_and_d_m_of_four_layers():
    plain, affine = DiscriminatorConfig(width=8), DiscriminatorConfig(width=8, affine_norm=True)
    # norms after layers 2-4 of each scale: 16, 32, 64 channels, a scale and a shift each, two scales
    difference = count_parameters(ImageDiscriminator(affine)) - count_parameters(ImageDiscriminator(plain))
    assert difference == 2 * 2 * (16 + 32 + 64)
    mouth3 = MouthDiscriminator(DiscriminatorConfig(width=8, n_layers=3))
    mouth4 = MouthDiscriminator(DiscriminatorConfig(width=8, n_layers=4))
    crops, audio = torch.randn(2, 3, 64, 64), torch.randn(2, 300)
    assert [s[-1].shape[-1] for s in mouth3(crops, audio)] == [19, 11]
    assert [s[-1].shape[-1] for s in mouth4(crops, audio)] == [11, 7]
    assert [len(s) for s in mouth4(crops, audio)] == [5, 5]


def test_a_mouth_discriminator_without_audio_sees_the_crop_alone():
    config = DiscriminatorConfig(width=8, n_layers=2)
    with_audio, without = MouthDiscriminator(config, 300), MouthDiscriminator(config, 0)
    # the first conv of each scale loses its 300 audio input channels (4×4 kernels, 8 filters)
    assert count_parameters(with_audio) - count_parameters(without) == 2 * 300 * 16 * 8
    crops = torch.randn(2, 3, 16, 16)
    assert without(crops, None)[0][-1].shape[0] == 2
    with pytest.raises(ValueError, match="0 audio features"):
        without(crops, torch.zeros(2, 300))


def test_raw_vgg_input_feeds_the_images_unchanged():
    torch.manual_seed(3)
    imagenet, raw = VGG19Features(), VGG19Features(imagenet_input=False)
    raw.load_state_dict(imagenet.state_dict())
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    # the image whose ImageNet mapping is x gives imagenet-VGG the activations raw-VGG has on x
    y = (x * std + mean) * 2 - 1
    for a, b in zip(raw(x), imagenet(y), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_xavier_initialisation_with_gain_0_02():
    torch.manual_seed(4)
    generator = xavier_init(Generator(GeneratorConfig(width=8, spade_hidden=16, flow_mask=True)), 0.02)
    conv = generator.rendering_network.stages[0].spade_block.conv_1  # spectrally normalised 128 → 128, 3×3
    weight = conv.parametrizations.weight.original
    fan = 128 * 9
    assert weight.std().item() == pytest.approx(0.02 * math.sqrt(2 / (2 * fan)), rel=0.05)
    assert torch.count_nonzero(conv.bias) == 0
    linear = generator.rendering_network.stages[0].adain_block.norm_0.affine  # 300 → 256
    assert linear.weight.std().item() == pytest.approx(0.02 * math.sqrt(2 / (300 + 256)), rel=0.05)
    norms = [m for m in ConvEncoder(3, 4, affine=True).modules() if isinstance(m, torch.nn.InstanceNorm2d)]
    xavier_init(torch.nn.Sequential(*norms))
    assert all(torch.equal(m.weight, torch.ones_like(m.weight)) for m in norms)
