"""Centre-tap 1×1 shortcuts of the atrous ResNet (``shortcut_kernel=1``): checked against pysot's 3×3
shortcut with every weight but the centre tap zeroed, which is what the 1×1 version claims to compute."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ltr.models.backbones.resnet_atrous import AtrousResNet, CentreTapConv2d, load_atrous_resnet_weights
from ltr.models.ocean import OceanModelConfig, OceanNet


def _centre_embedded(w1: torch.Tensor) -> torch.Tensor:
    """A 3×3 kernel that is zero except its centre tap, which holds the 1×1 kernel."""
    w3 = torch.zeros(w1.shape[0], w1.shape[1], 3, 3, dtype=w1.dtype)
    w3[:, :, 1, 1] = w1[:, :, 0, 0]
    return w3


# (stride, padding, dilation) of pysot's three 3×3 shortcuts: layer2, layer3, layer4
@pytest.mark.parametrize("stride,padding,dilation", [(2, 0, 1), (1, 1, 1), (1, 2, 2)])
@pytest.mark.parametrize("size", [47, 24, 11, 7])
def test_centre_tap_equals_3x3_with_only_its_centre(stride, padding, dilation, size):
    torch.manual_seed(size)
    conv = CentreTapConv2d(5, 6, stride=stride, padding=padding, dilation=dilation)
    x = torch.randn(2, 5, size, size + 3, dtype=torch.float64)
    ref = F.conv2d(x, _centre_embedded(conv.weight.double()), stride=stride, padding=padding, dilation=dilation)
    out = conv.double()(x)
    assert out.shape == ref.shape
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)


def test_centre_tap_refuses_padding_beyond_the_window():
    with pytest.raises(ValueError, match="padding"):
        CentreTapConv2d(2, 2, padding=2, dilation=1)


@torch.no_grad()
@pytest.mark.parametrize("size", [95, 127, 191])
def test_trunk_with_centre_taps_equals_pysot_trunk_with_centre_only_weights(size):
    torch.manual_seed(0)
    cheap = AtrousResNet(layers=(1, 2, 1, 1), used_layers=(2, 3, 4), width=4, shortcut_kernel=1).double().eval()
    for p in cheap.parameters():
        p.normal_(0, 0.3)
    for b in cheap.modules():
        if isinstance(b, torch.nn.BatchNorm2d):
            b.running_mean.normal_(0, 0.1)
            b.running_var.uniform_(0.5, 1.5)
    pysot = AtrousResNet(layers=(1, 2, 1, 1), used_layers=(2, 3, 4), width=4).double().eval()
    state = cheap.state_dict()
    for k, v in pysot.state_dict().items():
        if v.dim() == 4 and v.shape[-1] == 3 and state[k].shape[-1] == 1:
            state[k] = _centre_embedded(state[k])
    pysot.load_state_dict(state)
    x = torch.randn(2, 3, size, size, dtype=torch.float64)
    for a, b in zip(cheap(x), pysot(x)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
    # only the three 3×3 shortcuts shrink, each by 8/9 of its weights
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    shortcuts = [cheap.layer2[0], cheap.layer3[0], cheap.layer4[0]]
    assert n(pysot) - n(cheap) == sum(8 * b.downsample[0].weight.numel() for b in shortcuts)


def test_pysot_weights_do_not_load_into_centre_tap_trunk():
    src = AtrousResNet(layers=(1, 1, 1, 1), used_layers=[3], width=4)
    dst = AtrousResNet(layers=(1, 1, 1, 1), used_layers=[3], width=4, shortcut_kernel=1)
    with pytest.raises(ValueError, match="downsample"):
        load_atrous_resnet_weights(dst, src.state_dict())
    with pytest.raises(ValueError, match="shortcut_kernel"):
        AtrousResNet(shortcut_kernel=5)


@torch.no_grad()
def test_ocean_switch_keeps_every_output_shape():
    def net(k: int) -> OceanNet:
        cfg = OceanModelConfig(backbone_layers=[1, 1, 1], backbone_width=8, channels=16, tower_num=1,
                               exemplar_size=95, template_center=7, backbone_shortcut_kernel=k)
        return OceanNet(cfg).eval()

    z, x = torch.rand(1, 3, 95, 95), torch.rand(1, 3, 191, 191)
    a, b = net(1), net(3)
    oa, ob = a(z, x), b(z, x)
    assert set(oa) == set(ob)
    for k in oa:
        if isinstance(oa[k], torch.Tensor):
            assert oa[k].shape == ob[k].shape, k
    assert isinstance(a.backbone.layer3[0].downsample[0], CentreTapConv2d)
    with pytest.raises(ValueError, match="backbone_shortcut_kernel"):
        OceanModelConfig(backbone_shortcut_kernel=2)
