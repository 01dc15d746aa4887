import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from headgan_model.networks.blocks import SPADE, AdaIN, AdaINBlock, ConvEncoder, SPADEBlock, resize_flow, warp
from headgan_model.networks.discriminator import (
    DiscriminatorConfig,
    ImageDiscriminator,
    MouthDiscriminator,
    MultiscaleDiscriminator,
    PatchDiscriminator,
)
from headgan_model.networks.generator import Generator, GeneratorConfig
from headgan_model.networks.summary import count_parameters

SMALL = GeneratorConfig(width=4, audio_dim=12, spade_hidden=8)


def generator_inputs(config: GeneratorConfig, size: int, batch: int = 1, seed: int = 0) -> dict:
    generator = torch.Generator().manual_seed(seed)
    inputs = {
        "nmfc": torch.rand(batch, config.nmfc_channels, size, size, generator=generator),
        "ref_image": torch.rand(batch, 3, size, size, generator=generator) * 2 - 1,
        "ref_nmfc": torch.rand(batch, 3, size, size, generator=generator),
    }
    if config.use_audio:
        inputs["audio"] = torch.randn(batch, config.audio_dim, generator=generator)
    return inputs


def trace_stages(network: nn.Module, output_layer: nn.Module, trace: list) -> None:
    """Record (kind, output shape without batch) of the encoder stages, blocks, shuffles and output layer."""
    kinds = {SPADEBlock: "spade", AdaINBlock: "adain", nn.PixelShuffle: "shuffle"}
    labelled = [(stage, "conv") for stage in network.encoder.stages]
    labelled += [(module, kinds[type(module)]) for module in network.modules() if type(module) in kinds]
    labelled.append((output_layer, "out"))
    for module, kind in labelled:
        module.register_forward_hook(lambda _m, _i, output, kind=kind: trace.append((kind, tuple(output.shape[1:]))))


pytestmark = pytest.mark.usefixtures("single_torch_thread")


@pytest.fixture(scope="module")
def full_width_run():
    """One forward of the paper's generator (width 32, audio, flow) on a 256² frame, with its stage shapes."""
    torch.manual_seed(0)
    generator = Generator(GeneratorConfig()).eval()
    flow_trace, rendering_trace = [], []
    trace_stages(generator.flow_network, generator.flow_network.to_flow, flow_trace)
    trace_stages(generator.rendering_network, generator.rendering_network.to_image, rendering_trace)
    inputs = generator_inputs(generator.config, 256)
    with torch.no_grad():
        outputs = generator(**inputs)
    return inputs, outputs, flow_trace, rendering_trace


ENCODER_TRACE = [("conv", (32, 256, 256)), ("conv", (128, 128, 128)), ("conv", (512, 64, 64))]


def test_full_width_generator_outputs(full_width_run):
    inputs, outputs, _, _ = full_width_run
    assert outputs["image"].shape == (1, 3, 256, 256)
    assert outputs["image"].abs().max() <= 1
    assert torch.equal(outputs["flow"], torch.zeros(1, 2, 256, 256))
    torch.testing.assert_close(outputs["warped"], inputs["ref_image"], rtol=0, atol=1e-6)


def test_flow_network_stages_match_table_1(full_width_run):
    _, _, flow_trace, _ = full_width_run
    assert flow_trace == ENCODER_TRACE + [
        ("spade", (512, 64, 64)),
        ("spade", (512, 64, 64)),
        ("spade", (512, 64, 64)),
        ("shuffle", (128, 128, 128)),
        ("spade", (128, 128, 128)),
        ("shuffle", (32, 256, 256)),
        ("out", (2, 256, 256)),
    ]


def test_rendering_network_stages_match_table_2(full_width_run):
    _, _, _, rendering_trace = full_width_run
    assert rendering_trace == ENCODER_TRACE + [
        ("spade", (512, 64, 64)),
        ("adain", (512, 64, 64)),
        ("shuffle", (128, 128, 128)),
        ("spade", (128, 128, 128)),
        ("adain", (128, 128, 128)),
        ("shuffle", (32, 256, 256)),
        ("spade", (32, 256, 256)),
        ("adain", (32, 256, 256)),
        ("spade", (32, 256, 256)),
        ("out", (3, 256, 256)),
    ]


def test_conv_encoder_scales():
    features = ConvEncoder(6, 8)(torch.rand(2, 6, 32, 48))
    assert [tuple(feature.shape) for feature in features] == [(2, 8, 32, 48), (2, 32, 16, 24), (2, 128, 8, 12)]
    assert all((feature >= 0).all() for feature in features)


def test_spade_resizes_its_condition_and_starts_from_instance_norm():
    spade = SPADE(8, 9, hidden=16)
    x = torch.randn(2, 8, 16, 16)
    assert spade(x, torch.rand(2, 9, 64, 64)).shape == x.shape
    for layer in (spade.gamma, spade.beta):
        nn.init.zeros_(layer.weight)
        nn.init.zeros_(layer.bias)
    torch.testing.assert_close(spade(x, torch.rand(2, 9, 64, 64)), F.instance_norm(x))


def test_adain_modulates_each_sample_by_its_style():
    adain = AdaIN(8, 5)
    x = torch.randn(1, 8, 6, 6).expand(2, -1, -1, -1)
    out = adain(x, torch.randn(2, 5))
    assert out.shape == (2, 8, 6, 6)
    assert not torch.allclose(out[0], out[1])
    nn.init.zeros_(adain.affine.weight)
    nn.init.zeros_(adain.affine.bias)
    torch.testing.assert_close(adain(x, torch.randn(2, 5)), F.instance_norm(x))


@pytest.mark.parametrize("spectral", [True, False])
def test_blocks_keep_shape_and_spectral_option(spectral):
    x = torch.randn(2, 8, 8, 8)
    spade_block = SPADEBlock(8, 3, spectral=spectral, hidden=16)
    adain_block = AdaINBlock(8, 5, spectral=spectral)
    assert spade_block(x, torch.rand(2, 3, 32, 32)).shape == x.shape
    assert adain_block(x, torch.randn(2, 5)).shape == x.shape
    for block in (spade_block, adain_block):
        assert nn.utils.parametrize.is_parametrized(block.conv_0) == spectral
        assert nn.utils.parametrize.is_parametrized(block.conv_1) == spectral


def test_warp_shifts_by_an_integer_flow():
    source = torch.rand(2, 3, 16, 20)
    flow = torch.zeros(2, 2, 16, 20)
    flow[:, 0], flow[:, 1] = 3, -2
    out = warp(source, flow)
    # out[y, x] = source[y - 2, x + 3]
    torch.testing.assert_close(out[:, :, 2:, :-3], source[:, :, :-2, 3:])
    # outside the image: the border pixel
    torch.testing.assert_close(out[:, :, 2:, -1], source[:, :, :-2, -1])
    torch.testing.assert_close(out[:, :, 0, :-3], source[:, :, 0, 3:])


def test_warp_by_zero_flow_is_identity_and_checks_shapes():
    source = torch.rand(1, 4, 12, 10)
    torch.testing.assert_close(warp(source, torch.zeros(1, 2, 12, 10)), source, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="flow must be"):
        warp(source, torch.zeros(1, 2, 6, 5))


def test_resize_flow_rescales_vectors():
    flow = torch.empty(1, 2, 16, 32)
    flow[:, 0], flow[:, 1] = 1.5, -2.0
    resized = resize_flow(flow, (8, 8))
    assert resized.shape == (1, 2, 8, 8)
    torch.testing.assert_close(resized[:, 0], torch.full((1, 8, 8), 1.5 * 8 / 32))
    torch.testing.assert_close(resized[:, 1], torch.full((1, 8, 8), -2.0 * 8 / 16))
    assert resize_flow(flow, (16, 32)) is flow


def test_resized_flow_moves_a_downsampled_image_consistently():
    source = torch.rand(1, 3, 32, 32)
    flow = torch.zeros(1, 2, 32, 32)
    flow[:, 0] = 4
    half = F.avg_pool2d(source, 2)
    out = warp(half, resize_flow(flow, (16, 16)))
    torch.testing.assert_close(out[:, :, :, :-2], half[:, :, :, 2:])


def test_untrained_flow_network_warps_by_identity():
    generator = Generator(SMALL)
    inputs = generator_inputs(SMALL, 32, batch=2)
    outputs = generator(**inputs)
    assert torch.equal(outputs["flow"], torch.zeros(2, 2, 32, 32))
    torch.testing.assert_close(outputs["warped"], inputs["ref_image"], rtol=0, atol=1e-6)


def test_generator_works_on_non_square_frames():
    generator = Generator(SMALL)
    inputs = generator_inputs(SMALL, 32)
    inputs = {name: value[..., :24] if value.ndim == 4 else value for name, value in inputs.items()}
    outputs = generator(**inputs)
    assert outputs["image"].shape == (1, 3, 32, 24)
    assert outputs["flow"].shape == (1, 2, 32, 24)


def test_no_audio_variant_has_no_adain():
    config = GeneratorConfig(width=4, spade_hidden=8, use_audio=False)
    generator = Generator(config)
    assert not any(isinstance(module, (AdaIN, AdaINBlock)) for module in generator.modules())
    outputs = generator(**generator_inputs(config, 32))
    assert outputs["image"].shape == (1, 3, 32, 32)
    assert outputs["flow"].shape == (1, 2, 32, 32)


def test_no_flow_variant_has_no_flow_network():
    config = GeneratorConfig(width=4, audio_dim=12, spade_hidden=8, use_flow=False)
    generator = Generator(config)
    assert generator.flow_network is None
    assert not any("flow" in name for name, _ in generator.named_parameters())
    outputs = generator(**generator_inputs(config, 32))
    assert outputs["image"].shape == (1, 3, 32, 32)
    assert outputs["flow"] is None and outputs["warped"] is None
    assert count_parameters(generator) < count_parameters(Generator(SMALL))


def test_audio_mismatch_is_a_value_error():
    inputs = generator_inputs(SMALL, 32)
    with pytest.raises(ValueError, match="uses audio"):
        Generator(SMALL)(**{**inputs, "audio": None})
    with pytest.raises(ValueError, match="audio must be"):
        Generator(SMALL)(**{**inputs, "audio": torch.zeros(1, 5)})
    no_audio = GeneratorConfig(width=4, spade_hidden=8, use_audio=False)
    with pytest.raises(ValueError, match="no audio input"):
        Generator(no_audio)(**generator_inputs(no_audio, 32), audio=torch.zeros(1, 300))


def test_bad_sizes_are_value_errors():
    generator = Generator(SMALL)
    inputs = generator_inputs(SMALL, 32)
    cropped = {name: value[..., :30] if value.ndim == 4 else value for name, value in inputs.items()}
    with pytest.raises(ValueError, match="divisible by 4"):
        generator(**cropped)
    with pytest.raises(ValueError, match="ref_image"):
        generator(**{**inputs, "ref_image": inputs["ref_image"][..., :16, :16]})
    with pytest.raises(ValueError, match="nmfc must be"):
        generator(**{**inputs, "nmfc": inputs["nmfc"][:, :3]})


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    generator = Generator(SMALL).train()
    # The zero-initialised flow head passes no gradient on to F's decoder; give it weights.
    nn.init.normal_(generator.flow_network.to_flow.weight, std=0.1)
    outputs = generator(**generator_inputs(SMALL, 32, batch=2))
    loss = sum((outputs[name] * torch.randn_like(outputs[name])).sum() for name in ("image", "warped"))
    loss.backward()
    for name, parameter in generator.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name
        if parameter.ndim > 1:  # biases right before an instance norm are cancelled by it: no gradient
            assert parameter.grad.abs().max() > 0, name


def test_zero_flow_head_still_learns():
    generator = Generator(SMALL)
    outputs = generator(**generator_inputs(SMALL, 32))
    (outputs["image"].square().sum() + outputs["warped"].square().sum()).backward()
    assert generator.flow_network.to_flow.weight.grad.abs().max() > 0


def test_count_parameters():
    assert count_parameters(nn.Linear(3, 2)) == 8
    assert count_parameters(spectral_norm(nn.Conv2d(2, 3, 3))) == 2 * 3 * 9 + 3
    for module in (Generator(SMALL), MouthDiscriminator(DiscriminatorConfig(width=4), audio_dim=12)):
        assert count_parameters(module) == sum(parameter.numel() for parameter in module.parameters())


def layer_shapes(outputs):
    return [[tuple(layer.shape) for layer in scale] for scale in outputs]


def test_image_discriminator_output_format():
    discriminator = ImageDiscriminator()
    with torch.no_grad():
        outputs = discriminator(torch.rand(1, 3, 256, 256), torch.rand(1, 3, 256, 256) * 2 - 1)
    assert isinstance(outputs, list) and all(isinstance(scale, list) for scale in outputs)
    assert layer_shapes(outputs) == [
        [(1, 64, 129, 129), (1, 128, 65, 65), (1, 256, 33, 33), (1, 512, 34, 34), (1, 1, 35, 35)],
        [(1, 64, 65, 65), (1, 128, 33, 33), (1, 256, 17, 17), (1, 512, 18, 18), (1, 1, 19, 19)],
    ]


def test_mouth_discriminator_output_format_and_audio_conditioning():
    discriminator = MouthDiscriminator()
    mouth = torch.rand(2, 3, 64, 64) * 2 - 1
    audio = torch.randn(2, 300)
    with torch.no_grad():
        outputs = discriminator(mouth, audio)
        other_audio = discriminator(mouth, torch.randn(2, 300))
    assert layer_shapes(outputs) == [
        [(2, 64, 33, 33), (2, 128, 17, 17), (2, 256, 18, 18), (2, 1, 19, 19)],
        [(2, 64, 17, 17), (2, 128, 9, 9), (2, 256, 10, 10), (2, 1, 11, 11)],
    ]
    assert not torch.allclose(outputs[0][-1], other_audio[0][-1])


def test_patch_discriminator_layers():
    config = DiscriminatorConfig(width=8, n_layers=4, max_width=32)
    discriminator = PatchDiscriminator(5, config)
    convs = [module for module in discriminator.modules() if isinstance(module, nn.Conv2d)]
    assert [conv.out_channels for conv in convs] == [8, 16, 32, 32, 1]
    assert [conv.stride for conv in convs] == [(2, 2), (2, 2), (2, 2), (1, 1), (1, 1)]
    assert all(nn.utils.parametrize.is_parametrized(conv) for conv in convs)
    assert sum(isinstance(module, nn.InstanceNorm2d) for module in discriminator.modules()) == 3


def test_multiscale_discriminator_downsamples_between_scales():
    config = DiscriminatorConfig(width=4, n_layers=2, num_scales=3)
    discriminator = MultiscaleDiscriminator(3, config).eval()
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        outputs = discriminator(x)
        quarter = F.avg_pool2d(F.avg_pool2d(x, 3, 2, 1, count_include_pad=False), 3, 2, 1, count_include_pad=False)
        expected = discriminator.scales[2](quarter)
    assert len(outputs) == 3 and all(len(scale) == 3 for scale in outputs)
    torch.testing.assert_close(outputs[2][-1], expected[-1])
    assert [scale[-1].shape[-1] for scale in outputs] == [19, 11, 7]


def test_mouth_config_is_shallower():
    assert DiscriminatorConfig.mouth().n_layers == DiscriminatorConfig().n_layers - 1
    with pytest.raises(ValueError):
        DiscriminatorConfig(n_layers=0)
