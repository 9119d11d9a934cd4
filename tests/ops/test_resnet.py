"""Torchvision-layout ResNet: shapes vs spec tables, parameter counts vs torchvision, numerical equality
with torchvision after loading its state dict, loader key mapping, DuML geometry."""
import pytest
import torch
import torch.nn.functional as F
import torchvision

from ltr.models.backbones.resnet import (
    FrozenBatchNorm2d,
    count_parameters,
    load_resnet_checkpoint,
    resnet18,
    resnet50,
    resnet50_interp,
)

ALL = ("conv1", "layer1", "layer2", "layer3", "layer4")


def _tv_params_without_fc(m):
    return sum(p.numel() for n, p in m.named_parameters() if not n.startswith("fc."))


def test_param_counts_match_torchvision():
    assert count_parameters(resnet50()) == _tv_params_without_fc(torchvision.models.resnet50()) == 23_508_032
    assert count_parameters(resnet18()) == _tv_params_without_fc(torchvision.models.resnet18()) == 11_176_512
    # DuML variant with 1x1 shortcuts has exactly the torchvision parameters; 3x3 shortcuts add 8x the
    # stride-2 shortcut weights (layer2..4: 256*512 + 512*1024 + 1024*2048).
    assert count_parameters(resnet50_interp()) == 23_508_032
    extra = 8 * (256 * 512 + 512 * 1024 + 1024 * 2048)
    assert count_parameters(resnet50_interp(shortcut="3x3")) == 23_508_032 + extra


@torch.no_grad()
def test_resnet18_equals_torchvision_after_loading(tmp_path):
    torch.manual_seed(0)
    tv = torchvision.models.resnet18().eval()
    # make BN statistics non-trivial so a wrong BN mapping would show
    for m in tv.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    path = tmp_path / "resnet18.pth"
    torch.save({"module." + k: v for k, v in tv.state_dict().items()}, path)  # DataParallel-style keys
    # compared in float64: frozen BN folds (x - mean) / std * w + b into x * scale + bias, whose float32
    # rounding differs from torchvision's by ~1e-4 relative on some CPUs (seen on AMD EPYC) - not a mapping error
    tv = tv.double()
    for frozen in (False, True):
        net = resnet18(output_layers=ALL, frozen_bn=frozen).eval()
        missing, unexpected = load_resnet_checkpoint(net, path)
        assert not missing and not unexpected
        net = net.double()
        x = torch.randn(2, 3, 64, 80, dtype=torch.float64)
        out = net(x)
        y = tv.relu(tv.bn1(tv.conv1(x)))
        torch.testing.assert_close(out["conv1"], y)
        y = tv.maxpool(y)
        for name in ("layer1", "layer2", "layer3", "layer4"):
            y = getattr(tv, name)(y)
            torch.testing.assert_close(out[name], y)


def test_loader_prefixes_and_errors(tmp_path):
    tv = torchvision.models.resnet18()
    sd = {"feature_extractor." + k: v for k, v in tv.state_dict().items()}
    sd["classifier.filter"] = torch.zeros(3)  # head of a tracker checkpoint: must be ignored
    path = tmp_path / "dimp_like.pth"
    torch.save({"net": sd, "epoch": 3}, path)
    net = resnet18()
    load_resnet_checkpoint(net, path)
    torch.testing.assert_close(net.layer3[1].conv2.weight, tv.layer3[1].conv2.weight)
    # a ResNet-18 checkpoint into a ResNet-50 must fail loudly naming the file
    with pytest.raises((KeyError, ValueError), match="dimp_like.pth"):
        load_resnet_checkpoint(resnet50(), path)
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        load_resnet_checkpoint(net, tmp_path / "nope.pth")


@torch.no_grad()
def test_shapes_torchvision_geometry():
    net = resnet50(output_layers=ALL).eval()
    # fcot.md §2.9 (288 input): layer1/2/3 = 72/36/18
    out = net(torch.randn(1, 3, 288, 288))
    assert out["layer1"].shape == (1, 256, 72, 72)
    assert out["layer2"].shape == (1, 512, 36, 36)
    assert out["layer3"].shape == (1, 1024, 18, 18)
    assert out["layer4"].shape == (1, 2048, 9, 9)
    # dcfst.md §2: ResNet-18 at 288: layer2 128x36x36, layer3 256x18x18
    out = resnet18(output_layers=("layer2", "layer3")).eval()(torch.randn(1, 3, 288, 288))
    assert out["layer2"].shape == (1, 128, 36, 36) and out["layer3"].shape == (1, 256, 18, 18)
    for s, exp in ((127, 8), (255, 16)):  # ceil(s/16) with torchvision padding
        assert resnet18().eval()(torch.randn(1, 3, s, s))["layer3"].shape[-1] == exp


@torch.no_grad()
def test_early_exit_and_bad_layer():
    net = resnet18(output_layers=("layer1",))
    net.layer2 = None  # would crash if forward ran past layer1
    assert set(net(torch.randn(1, 3, 32, 32))) == {"layer1"}
    with pytest.raises(ValueError, match="layer5"):
        resnet18(output_layers=("layer5",))


@torch.no_grad()
@pytest.mark.parametrize("shortcut", ["1x1_center", "3x3"])
def test_duml_interp_shapes(shortcut):
    # duml.md §2.1 table: layer2 / layer3 / layer4 native = 31/15/7 (255), 39/19/9 (319), 15/7/3 (127)
    net = resnet50_interp(shortcut=shortcut).eval()
    for s, (a, b, c) in ((127, (15, 7, 3)), (255, (31, 15, 7)), (319, (39, 19, 9))):
        out = net(torch.randn(1, 3, s, s))
        assert out["layer2"].shape == (1, 512, a, a)
        assert out["layer3_native"].shape[-1] == b and out["layer4_native"].shape[-1] == c
        assert out["layer3"].shape == (1, 1024, a, a) and out["layer4"].shape == (1, 2048, a, a)


@torch.no_grad()
def test_center_shortcut_equals_3x3_with_centre_tap_only():
    net = resnet50_interp().body.eval()
    ds = net.layer2[0].downsample
    x = torch.randn(1, 256, 17, 16)
    w3 = torch.zeros(512, 256, 3, 3)
    w3[:, :, 1, 1] = ds[0].weight[:, :, 0, 0]
    ref = ds[1](F.conv2d(x, w3, stride=2, padding=0))
    main = net.layer2[0].conv2(torch.randn(1, 128, 17, 16))
    assert ref.shape[-2:] == main.shape[-2:]
    torch.testing.assert_close(ds(x), ref)


def test_frozen_bn_matches_eval_bn_and_has_no_grad():
    bn = torch.nn.BatchNorm2d(4).eval()
    bn.running_mean.uniform_(); bn.running_var.uniform_(0.5, 2); bn.weight.data.uniform_(); bn.bias.data.uniform_()
    fbn = FrozenBatchNorm2d(4)
    fbn.load_state_dict(bn.state_dict())
    x = torch.randn(2, 4, 3, 3)
    torch.testing.assert_close(fbn(x), bn(x))
    assert count_parameters(fbn) == 0
    net = resnet18(frozen_bn=True).train()
    before = net.bn1.running_mean.clone()
    net(torch.randn(2, 3, 32, 32))
    assert torch.equal(before, net.bn1.running_mean)
