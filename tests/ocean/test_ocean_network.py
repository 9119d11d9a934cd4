"""Ocean offline network: spec §2.6/§7 checks and parity with the official outputs (shared/parity/ocean)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ltr.models.ocean import OceanModelConfig, OceanNet
from ltr.models.ocean.loader import load_official_checkpoint, official_to_sotlab, sotlab_to_official

from _ocean_parity import OCEAN_DIR, need, ocean_recipe_state, rel_err

torch.set_num_threads(1)


def _count(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.fixture(scope="module")
def full_net() -> OceanNet:
    torch.manual_seed(0)
    return OceanNet().eval()


def test_parameter_counts_match_spec(full_net):
    # ocean.md §2.6, analytic from the official code (BN buffers excluded)
    n = full_net
    assert _count(n.backbone) == 13_786_176
    assert _count(n.backbone.conv1) + _count(n.backbone.bn1) == 9_536
    assert _count(n.backbone.layer1) == 215_808
    assert _count(n.backbone.layer2) == 2_268_160
    assert _count(n.backbone.layer3) == 11_292_672
    assert _count(n.neck) == 262_656
    assert _count(n.head) == 11_820_304
    assert _count(n.head.cls_match) == 3_542_016 + 3  # encoder + GroupDW weight
    assert _count(n.head.bbox_tower) == 2_362_368
    assert _count(n.align_head) == 590_081
    assert _count(n) == 26_459_217
    assert _count(OceanNet(OceanModelConfig(align=False))) == 25_869_136


def test_trainable_counts_per_phase(full_net):
    # §7.2: epochs 0-9 train everything but the backbone; from 10 on all but conv1/bn1
    n = full_net
    head_only = sum(p.numel() for k, p in n.named_parameters() if not k.startswith("backbone."))
    assert head_only == 12_673_041
    unfrozen = sum(p.numel() for k, p in n.named_parameters()
                   if not k.startswith(("backbone.conv1", "backbone.bn1")))
    assert unfrozen == 26_449_681


def test_initial_state():
    torch.manual_seed(1)
    n = OceanNet(OceanModelConfig(backbone_layers=[1, 1, 1], backbone_width=8, channels=32))
    assert float(n.head.adjust.detach()) == pytest.approx(0.1) and torch.all(n.head.bias == 1.0)
    torch.testing.assert_close(n.head.cls_match.combination_weights(), torch.full((3,), 1 / 3))
    torch.testing.assert_close(n.head.reg_match.combination_weights(), torch.full((3,), 1 / 3))
    n.train()
    out = n(torch.rand(2, 3, 127, 127) * 255, torch.rand(2, 3, 255, 255) * 255)
    # reg = exp(0.1·y + 1) computed independently, and ≈ e at initialisation (towers are BN-normalised)
    torch.testing.assert_close(out["reg"], torch.exp(0.1 * out["bbox_raw"] + 1.0))
    ratio = (out["reg"].detach() / math.e).log().abs()
    assert float(ratio.max()) < 0.5
    torch.testing.assert_close(out["cls"], 0.1 * out["cls_raw"])


@pytest.mark.parametrize("x_size,s", [(255, 25), (271, 27), (287, 29)])
def test_shapes_per_search_size(x_size, s):
    # geometry does not depend on width: use a narrow copy of the full architecture depth-1 stages
    torch.manual_seed(2)
    n = OceanNet(OceanModelConfig(backbone_layers=[1, 1, 1], backbone_width=4, channels=8)).eval()
    with torch.no_grad():
        z = n.backbone(torch.rand(1, 3, 127, 127) * 255)[0]
        x = n.backbone(torch.rand(1, 3, x_size, x_size) * 255)[0]
        assert z.shape[-2:] == (15, 15) and x.shape[-1] == (x_size - 127) // 8 + 15
        ts = n.template(torch.rand(1, 3, 127, 127) * 255)
        assert ts["zf"].shape[-2:] == (7, 7)
        out = n.track(torch.rand(1, 3, x_size, x_size) * 255, ts)
    assert (x_size - 127) / 8 + 9 == s == n.score_size(x_size)
    assert out["reg"].shape == (1, 4, s, s) and bool((out["reg"] > 0).all())
    assert out["cls"].shape == out["align"].shape == (1, 1, s, s)
    assert out["offsets"].shape == (1, 18, s, s)
    for zz, rate in zip(ts["enc"]["cls"], [(1, 1), (2, 1), (1, 2)]):
        assert zz.shape[-2:] == (7 - 2 * rate[0], 7 - 2 * rate[1])


def test_template_cache_equals_full_forward():
    torch.manual_seed(3)
    n = OceanNet(OceanModelConfig(backbone_layers=[1, 1, 1], backbone_width=4, channels=8)).eval()
    z, x = torch.rand(1, 3, 127, 127) * 255, torch.rand(1, 3, 255, 255) * 255
    with torch.no_grad():
        a = n(z, x)
        b = n.track(x, n.template(z))
    for k in ("cls", "reg", "align"):
        torch.testing.assert_close(a[k], b[k])


def test_non_finite_regression_does_not_crash():
    # an overflowing exp gives inf ltrb; torchvision's deform_conv2d would segfault on such offsets
    torch.manual_seed(4)
    n = OceanNet(OceanModelConfig(backbone_layers=[1, 1, 1], backbone_width=4, channels=8)).eval()
    reg = torch.full((1, 4, 25, 25), float("inf"))
    reg[..., 3, 3] = float("nan")
    off = n.offsets(reg, 255)
    assert torch.isfinite(off).all()
    out = n.align_head(torch.rand(1, 8, 25, 25), off)
    assert torch.isfinite(out["align"]).all()


# ------------------------------------------------------------------ official layout / loader

def test_loader_key_mapping_roundtrip(full_net, tmp_path):
    own = full_net.state_dict()
    official = sotlab_to_official(own)
    assert "connect_model.cls_encode.matrix12_k.0.weight" in official
    assert official["connect_model.cls_encode.matrix12_k.0.weight"].shape == (256, 256, 3, 3)
    # matrix12 = dilation (2, 1): rates order of the shared matching module
    assert full_net.head.cls_match.template_convs[1][0].dilation == (2, 1)
    back, unknown = official_to_sotlab({"module." + k: v for k, v in official.items()})
    assert not unknown and set(back) == set(own)
    # a checkpoint file in the official layout, wrapped as TracKit saves it, loads strictly
    torch.manual_seed(5)
    src = OceanNet().state_dict()
    path = tmp_path / "ocean_official.pth"
    torch.save({"epoch": 50, "state_dict": {"module." + k: v for k, v in sotlab_to_official(src).items()}}, path)
    net = OceanNet()
    info = load_official_checkpoint(net, path)
    assert info == {"missing": [], "unused": []}
    for k, v in net.state_dict().items():
        assert torch.equal(v, src[k]), k
    # strictness: a missing key is reported with its name and the file
    bad = sotlab_to_official(src)
    del bad["connect_model.bbox_pred.weight"]
    with pytest.raises(KeyError, match="head.bbox_pred.weight"):
        load_official_checkpoint(OceanNet(), bad)


# ------------------------------------------------------------------ parity with the official network

def _stepwise(net: OceanNet, z: torch.Tensor, x: torch.Tensor):
    """One template and one search forward, keeping every intermediate the goldens store."""
    bb = net.backbone
    res = {}
    zb = bb(z)[0]
    res["z_backbone_l3"] = zb
    stem = bb.relu(bb.bn1(bb.conv1(x)))
    l1 = bb.layer1(bb.maxpool(stem))
    l2 = bb.layer2(l1)
    l3 = bb.layer3(l2)
    res.update(x_backbone_conv1=stem, x_backbone_layer1=l1, x_backbone_layer2=l2, x_backbone_l3=l3)
    res["z_neck_full15"] = net.neck.downsample(zb)
    zf = net.neck(zb)
    xf = net.neck(l3)
    res["z_neck"], res["x_neck"] = zf, xf
    for br, m in (("cls", net.head.cls_match), ("reg", net.head.reg_match)):
        zs, xs = m.encode_template(zf), m.encode_search(xf)
        for tag, zz, xx in zip(("11", "12", "21"), zs, xs):
            res[f"{br}_encode_z{tag}"] = zz
            res[f"{br}_encode_x{tag}"] = xx
            res[f"{br}_xcorr{tag}"] = F.conv2d(xx, zz.transpose(0, 1), groups=zz.shape[1])
        res[f"groupdw_softmax_{br}"] = m.combination_weights()
    out = net.track(x, net.template(z))
    res.update(cls_dw=out["cls_dw"], reg_dw=out["reg_dw"], reg_feature=out["reg_feature"],
               cls_tower_out=out["cls_feature"], bbox_pred_raw=out["bbox_raw"], cls_pred_raw=out["cls_raw"],
               align_offsets=out["offsets"].permute(0, 2, 3, 1).reshape(1, -1, 18),
               # the golden README says "before ReLU", but TracKit's ReLU is in-place, so the hooked tensor
               # holds the post-ReLU values (min 0.0); our pre-ReLU map is compared after a ReLU
               align_deform_out=out["deform_out"].relu(), out_cls_pred=out["cls"], out_bbox_pred=out["reg"],
               out_cls_align=out["align"])
    return res


def _compare_all(res, g, tol):
    """Compare every stored array, applying its suffix convention (_c0_NN, _chansum, _spatialsum)."""
    worst = {}
    for key in g.files:
        if key.startswith("input_") or key.endswith("_f64"):
            continue
        base = key
        for suf in ("_chansum", "_spatialsum"):
            if base.endswith(suf):
                base = base[: -len(suf)]
        if "_c0_" in base:
            base = base.rsplit("_c0_", 1)[0]
        t = res[base].detach().double().numpy()
        if key.endswith("_chansum"):
            a = t.sum(axis=(2, 3))
        elif key.endswith("_spatialsum"):
            a = t.sum(axis=1)
        elif "_c0_" in key:
            a = t[:, : int(key.rsplit("_c0_", 1)[1])]
        else:
            a = t
        worst[key] = rel_err(a, g[key])
    bad = {k: v for k, v in worst.items() if not v <= tol}
    assert not bad, f"rel err above {tol}: {bad}"
    return worst


def test_parity_network_float32():
    g = np.load(need(OCEAN_DIR / "ocean_net.npz"))
    net = OceanNet().eval()
    load_official_checkpoint(net, ocean_recipe_state())
    with torch.no_grad():
        res = _stepwise(net, torch.from_numpy(g["input_z"]), torch.from_numpy(g["input_x"]))
    worst = _compare_all(res, g, 2e-5)
    assert len(worst) == 55  # every stored array was compared


def test_parity_network_float64():
    g = np.load(need(OCEAN_DIR / "ocean_net.npz"))
    net = OceanNet().eval()
    load_official_checkpoint(net, ocean_recipe_state())
    net.double()
    with torch.no_grad():
        out = net.track(torch.from_numpy(g["input_x"]).double(), net.template(torch.from_numpy(g["input_z"]).double()))
    assert rel_err(out["cls"].numpy(), g["out_cls_pred_f64"]) <= 1e-10
    assert rel_err(out["reg"].numpy(), g["out_bbox_pred_f64"]) <= 1e-10
    assert rel_err(out["align"].numpy(), g["out_cls_align_f64"]) <= 1e-10


def _bilinear(feat: torch.Tensor, y: float, x: float) -> torch.Tensor:
    """Zero-padded bilinear sample of a (C, H, W) map at (y, x) (the mmcv/torchvision DCN rule)."""
    c, h, w = feat.shape
    out = torch.zeros(c, dtype=feat.dtype)
    y0, x0 = math.floor(y), math.floor(x)
    for yy in (y0, y0 + 1):
        for xx in (x0, x0 + 1):
            if 0 <= yy < h and 0 <= xx < w:
                out += feat[:, yy, xx] * (1 - abs(y - yy)) * (1 - abs(x - xx))
    return out


def test_align_path_offsets_through_the_network():
    """§7.5 on OceanNet's own path (offsets + clamp + OA head): (7,7,8,8) is a plain conv; a constant box
    samples the 3×3 lattice spanning the box around the shifted centre (manual bilinear gather)."""
    torch.manual_seed(6)
    net = OceanNet(OceanModelConfig(backbone_layers=[1, 1, 1], backbone_width=4, channels=6)).double().eval()
    feat = torch.randn(1, 6, 25, 25, dtype=torch.float64)
    w = net.align_head.deform.weight
    reg = torch.tensor([7.0, 7.0, 8.0, 8.0], dtype=torch.float64).view(1, 4, 1, 1).expand(1, 4, 25, 25)
    off = net.offsets(reg, 255)
    assert float(off.abs().max()) == 0.0
    out = net.align_head(feat, off)
    torch.testing.assert_close(out["deform_out"], F.conv2d(feat, w, padding=1))
    l, t, r, b = 20.0, 12.0, 36.0, 28.0
    reg = torch.tensor([l, t, r, b], dtype=torch.float64).view(1, 4, 1, 1).expand(1, 4, 25, 25)
    off = net.offsets(reg, 255)
    torch.testing.assert_close(off[0, 8], torch.full((25, 25), (b - t - 1) / 16, dtype=torch.float64))  # centre tap Δy
    torch.testing.assert_close(off[0, 9], torch.full((25, 25), (r - l - 1) / 16, dtype=torch.float64))  # centre tap Δx
    out = net.align_head(feat, off)["deform_out"]
    wf, hf = (l + r + 1) / 8, (t + b + 1) / 8
    for i, j in ((12, 12), (0, 3), (24, 20)):
        cy, cx = i + (b - t - 1) / 16, j + (r - l - 1) / 16
        ref = torch.zeros(6, dtype=torch.float64)
        for u in (-1, 0, 1):
            for v in (-1, 0, 1):
                ref += w[:, :, u + 1, v + 1] @ _bilinear(feat[0], cy + u * hf / 2, cx + v * wf / 2)
        torch.testing.assert_close(out[0, :, i, j], ref)
