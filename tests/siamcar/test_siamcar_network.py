"""SiamCAR network structure (siamcar.md §7.1–7.5): shapes, neck crop, fusion order, head, parameter
counts, initialisation and weight loaders (pysot/TracKit backbone files, official SiamCAR checkpoints)."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ltr.models.backbones.resnet_atrous import AtrousResNet, load_atrous_resnet_weights, resnet50_atrous
from ltr.models.layers.neck import AdjustAllLayer, AdjustLayer
from ltr.models.siamcar import CARHead, SiamCARModelConfig, SiamCARNet, build_siamcar
from ltr.models.siamcar.network import backbone_feature_size
from ltr.models.siamcar.official import load_official_siamcar, load_siamcar_weights


def _n(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope="module")
def full_net() -> SiamCARNet:
    return build_siamcar()


def _small(width: int = 4, used=(2, 3, 4)) -> AtrousResNet:
    # same geometry as ResNet-50 (strides, paddings, dilations), few channels: spatial sizes are identical
    return AtrousResNet(layers=(1, 1, 1, 1), used_layers=used, width=width)


# ----------------------------------------------------------------------------- §7.1 backbone shapes
@torch.no_grad()
def test_backbone_spatial_sizes_and_conv1_padding_zero():
    net = _small().eval()
    sizes = {}

    def hook(m, i, o):
        sizes[i[0].shape[-1]] = o.shape[-1]

    net.conv1.register_forward_hook(hook)
    zs = net(torch.rand(1, 3, 127, 127))
    xs = net(torch.rand(1, 3, 255, 255))
    # conv1 7x7 stride 2 pad 0: (127-7)//2+1 = 61, (255-7)//2+1 = 125
    assert sizes == {127: 61, 255: 125}
    assert [tuple(z.shape[-2:]) for z in zs] == [(15, 15)] * 3
    assert [tuple(x.shape[-2:]) for x in xs] == [(31, 31)] * 3
    assert [z.shape[1] for z in zs] == [4 * 8, 4 * 16, 4 * 32]
    assert backbone_feature_size(127) == 15 and backbone_feature_size(255) == 31


def test_backbone_channels_full_size():
    net = resnet50_atrous()
    assert net.out_channels == [512, 1024, 2048]
    # layer geometry of spec §2.2
    l2, l3, l4 = net.layer2[0], net.layer3[0], net.layer4[0]
    assert (l2.conv2.stride, l2.conv2.padding) == ((2, 2), (0, 0))
    assert l2.downsample[0].kernel_size == (3, 3) and l2.downsample[0].padding == (0, 0)
    assert (l3.conv2.dilation, l3.conv2.padding) == ((1, 1), (1, 1))
    assert (net.layer3[1].conv2.dilation, net.layer3[1].conv2.padding) == ((2, 2), (2, 2))
    assert (l3.downsample[0].dilation, l3.downsample[0].padding) == ((1, 1), (1, 1))
    assert (l4.conv2.dilation, l4.conv2.padding) == ((2, 2), (2, 2))
    assert (net.layer4[2].conv2.dilation, net.layer4[2].conv2.padding) == ((4, 4), (4, 4))
    assert (l4.downsample[0].dilation, l4.downsample[0].padding) == ((2, 2), (2, 2))
    assert all(m.bias is None for m in net.modules() if isinstance(m, torch.nn.Conv2d))


def test_used_layers_controls_built_layers():
    net = AtrousResNet(used_layers=[3], width=4, layers=(1, 1, 1, 1))  # Ocean: up to layer3
    assert not hasattr(net, "layer4") and net.out_channels == [64]
    assert not any(k.startswith("layer4") for k in net.state_dict())
    with pytest.raises(ValueError, match="used_layers"):
        AtrousResNet(used_layers=[5])


# ----------------------------------------------------------------------------- §7.2 neck
@torch.no_grad()
def test_neck_template_crop_is_central_7x7_slice():
    neck = AdjustAllLayer([8, 16, 32], 12).eval()
    uncropped = AdjustAllLayer([8, 16, 32], 12, center_size=None).eval()
    uncropped.load_state_dict(neck.state_dict())
    feats_z = [torch.randn(2, c, 15, 15) for c in (8, 16, 32)]
    feats_x = [torch.randn(2, c, 31, 31) for c in (8, 16, 32)]
    for a, b in zip(neck(feats_z), uncropped(feats_z)):
        assert a.shape == (2, 12, 7, 7)
        torch.testing.assert_close(a, b[:, :, 4:11, 4:11], rtol=0, atol=0)
    assert all(o.shape == (2, 12, 31, 31) for o in neck(feats_x))
    # key layout of pysot (multi-level) and TracKit Ocean (single AdjustLayer)
    assert "downsample2.downsample.0.weight" in neck.state_dict()
    assert set(AdjustLayer(1024, 256).state_dict()) >= {"downsample.0.weight", "downsample.1.running_var"}


@torch.no_grad()
def test_network_template_is_cropped_search_is_not():
    m = SiamCARModelConfig(backbone_layers=[1, 1, 1, 1], backbone_width=4, neck_channels=16, gn_groups=4)
    net = build_siamcar(m).eval()
    zf = net.template(torch.rand(1, 3, 127, 127) * 255)
    xf = net.extract(torch.rand(1, 3, 255, 255) * 255)
    assert [tuple(f.shape) for f in zf] == [(1, 16, 7, 7)] * 3
    assert [tuple(f.shape) for f in xf] == [(1, 16, 31, 31)] * 3


# ----------------------------------------------------------------------------- §7.3/7.4 xcorr, fusion, head
@torch.no_grad()
def test_fusion_order_and_head_outputs():
    torch.manual_seed(0)
    m = SiamCARModelConfig(backbone_layers=[1, 1, 1, 1], backbone_width=4, neck_channels=16, gn_groups=4)
    net = build_siamcar(m).eval()
    zf = [torch.randn(2, 16, 7, 7) for _ in range(3)]
    xf = [torch.randn(2, 16, 31, 31) for _ in range(3)]
    fused = net.fuse(zf, xf)
    # independent reference: per-(b, c) correlation loop (no flip), levels concatenated l2, l3, l4,
    # then the ConvTranspose 1x1 as an explicit matmul with its [in, out] weight
    ref_corr = torch.zeros(2, 48, 25, 25)
    for lvl in range(3):
        for b in range(2):
            for c in range(16):
                ref_corr[b, lvl * 16 + c] = F.conv2d(xf[lvl][b, c][None, None], zf[lvl][b, c][None, None])[0, 0]
    w = net.down.weight[:, :, 0, 0]  # [in=48, out=16]
    ref = torch.einsum("bihw,io->bohw", ref_corr, w) + net.down.bias.view(1, -1, 1, 1)
    torch.testing.assert_close(fused, ref, rtol=1e-4, atol=1e-4)
    # batched == per-sample
    single = net.fuse([z[1:] for z in zf], [x[1:] for x in xf])
    torch.testing.assert_close(fused[1:], single, rtol=1e-5, atol=1e-5)
    out = net.head(fused)
    assert out["cls"].shape == (2, 2, 25, 25) and out["cen"].shape == (2, 1, 25, 25) and out["loc"].shape == (2, 4, 25, 25)
    assert bool((out["loc"] > 0).all())


def test_head_initialisation():
    torch.manual_seed(0)
    head = CARHead(256)
    assert [i for i, m in enumerate(head.cls_tower) if isinstance(m, torch.nn.Conv2d)] == [0, 3, 6, 9]
    assert [i for i, m in enumerate(head.bbox_tower) if isinstance(m, torch.nn.GroupNorm)] == [1, 4, 7, 10]
    w = torch.cat([m.weight.detach().flatten() for m in head.modules() if isinstance(m, torch.nn.Conv2d)])
    assert abs(float(w.std()) - 0.01) < 5e-4 and abs(float(w.mean())) < 5e-4
    torch.testing.assert_close(head.cls_logits.bias, torch.full((2,), -math.log(0.99 / 0.01)))
    assert abs(-math.log(0.99 / 0.01) + 4.595) < 1e-3
    assert float(head.bbox_pred.bias.detach().abs().max()) == 0.0


# ----------------------------------------------------------------------------- §7.5 parameter counts
def test_parameter_counts_match_spec(full_net):
    bb = full_net.backbone
    assert _n(bb) == 45_528_128
    assert _n(bb.conv1) + _n(bb.bn1) + _n(bb.layer1) == 225_344
    assert (_n(bb.layer2), _n(bb.layer3), _n(bb.layer4)) == (2_268_160, 11_292_672, 31_741_952)
    assert _n(full_net.neck) == 919_040
    assert _n(full_net.down) == 196_864
    assert _n(full_net.car_head) == 4_740_871
    assert _n(full_net) == 51_384_903
    trainable_1_10 = _n(full_net.neck) + _n(full_net.down) + _n(full_net.car_head)
    assert trainable_1_10 == 5_856_775
    assert trainable_1_10 + _n(bb.layer2) + _n(bb.layer3) + _n(bb.layer4) == 51_159_559
    assert tuple(full_net.down.weight.shape) == (768, 256, 1, 1)


# ----------------------------------------------------------------------------- loaders
def _official_layout(net: SiamCARNet, module_prefix: bool, rpn: bool):
    """A checkpoint in the official layout built from the spec's key naming, not from our module names."""
    out = {}
    for k, v in net.state_dict().items():
        if rpn and k.startswith("car_head."):
            k = "rpn_head." + k[len("car_head."):]
        out[("module." if module_prefix else "") + k] = v.clone()
    return out


def test_official_checkpoint_loader(tmp_path):
    torch.manual_seed(1)
    m = SiamCARModelConfig(backbone_layers=[1, 1, 1, 1], backbone_width=4, neck_channels=16, gn_groups=4)
    src = build_siamcar(m)
    for p in src.parameters():
        p.data.normal_()
    sd = _official_layout(src, module_prefix=True, rpn=True)
    sd.pop("module.backbone.bn1.num_batches_tracked")  # counters may be absent: allowed
    ckpt = {"epoch": 20, "state_dict": sd, "optimizer": {"state": {}, "param_groups": []}}
    path = tmp_path / "model_general.pth"
    torch.save(ckpt, path)
    dst = build_siamcar(m)
    rep = load_official_siamcar(dst, path)
    assert rep["counters_missing"] == ["backbone.bn1.num_batches_tracked"]
    for k, v in src.state_dict().items():
        if not k.endswith("num_batches_tracked"):
            torch.testing.assert_close(dst.state_dict()[k], v, rtol=0, atol=0)
    # generic loader dispatches on the format
    dst2 = build_siamcar(m)
    load_siamcar_weights(dst2, path)
    torch.testing.assert_close(dst2.down.weight, src.down.weight, rtol=0, atol=0)
    # full coverage is enforced (pysot only logs), and shapes are checked
    bad = dict(sd)
    bad.pop("module.down.bias")
    with pytest.raises(KeyError, match="down.bias"):
        load_official_siamcar(build_siamcar(m), {"state_dict": bad})
    bad = dict(sd)
    bad["module.down.weight"] = bad["module.down.weight"].transpose(0, 1)  # a Conv2d-shaped weight
    with pytest.raises(ValueError, match="down.weight"):
        load_official_siamcar(build_siamcar(m), {"state_dict": bad})


def test_backbone_loader_pysot_and_trackit_layouts(tmp_path):
    torch.manual_seed(2)
    src = AtrousResNet(layers=(1, 1, 1, 1), width=4)
    for p in src.parameters():
        p.data.normal_()
    sd = {k: v.clone() for k, v in src.state_dict().items()}
    sd["fc.weight"] = torch.zeros(10, 128)  # ImageNet classifier: ignored
    path = tmp_path / "resnet50.model"
    torch.save(sd, path)
    dst = AtrousResNet(layers=(1, 1, 1, 1), width=4)
    rep = load_atrous_resnet_weights(dst, path)
    assert rep["ignored"] == ["fc.weight"]
    torch.testing.assert_close(dst.layer4[0].downsample[0].weight, src.layer4[0].downsample[0].weight, rtol=0, atol=0)
    # TracKit: keys prefixed 'features.features.', Ocean builds no layer4 -> layer4 keys ignored
    trackit = {"features.features." + k: v for k, v in sd.items()}
    ocean = AtrousResNet(layers=(1, 1, 1, 1), width=4, used_layers=[3])
    rep = load_atrous_resnet_weights(ocean, trackit)
    assert any(k.startswith("layer4.") for k in rep["ignored"])
    torch.testing.assert_close(ocean.layer3[0].conv2.weight, src.layer3[0].conv2.weight, rtol=0, atol=0)
    # a full SiamCAR checkpoint: the 'backbone.' part is used
    full = {"module.backbone." + k: v for k, v in sd.items()}
    full["module.down.weight"] = torch.zeros(1)
    dst3 = AtrousResNet(layers=(1, 1, 1, 1), width=4)
    load_atrous_resnet_weights(dst3, full)
    torch.testing.assert_close(dst3.conv1.weight, src.conv1.weight, rtol=0, atol=0)
    missing = {k: v for k, v in sd.items() if not k.startswith("layer3.")}
    with pytest.raises(KeyError, match="layer3"):
        load_atrous_resnet_weights(AtrousResNet(layers=(1, 1, 1, 1), width=4), missing)
