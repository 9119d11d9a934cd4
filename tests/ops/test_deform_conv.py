"""Deformable conv wrappers and Ocean's box-derived offsets (ocean.md §2.5, §7 check 5)."""
import pytest
import torch
import torch.nn.functional as F
from torchvision.ops import deform_conv2d

from ops.deform_conv import (
    DeformConv2d,
    deform_conv2d_pure,
    DeformConv2dPack,
    ModulatedDeformConv2d,
    ModulatedDeformConv2dPack,
    ocean_box_offsets,
    ocean_grid,
    ocean_sample_points,
)


def _bilinear(img: torch.Tensor, y: float, x: float) -> torch.Tensor:
    """Hand-written bilinear read of img (C,H,W) at (y, x), zero outside the map."""
    C, H, W = img.shape
    y0, x0 = int(torch.floor(torch.tensor(y))), int(torch.floor(torch.tensor(x)))
    out = torch.zeros(C, dtype=img.dtype)
    for yy, wy in ((y0, 1 - (y - y0)), (y0 + 1, y - y0)):
        for xx, wx in ((x0, 1 - (x - x0)), (x0 + 1, x - x0)):
            if 0 <= yy < H and 0 <= xx < W:
                out += wy * wx * img[:, yy, xx]
    return out


def _deform_ref(x, offset, weight, mask=None, padding=1):
    """Loop reference of a 3x3 stride-1 deformable conv with the documented offset layout."""
    B, C, H, W = x.shape
    O = weight.shape[0]
    Ho, Wo = offset.shape[-2:]
    out = torch.zeros(B, O, Ho, Wo, dtype=x.dtype)
    for b in range(B):
        for i in range(Ho):
            for j in range(Wo):
                for k in range(9):
                    ki, kj = divmod(k, 3)
                    y = i - padding + ki + float(offset[b, 2 * k, i, j])
                    xx = j - padding + kj + float(offset[b, 2 * k + 1, i, j])
                    v = _bilinear(x[b], y, xx)
                    if mask is not None:
                        v = v * mask[b, k, i, j]
                    out[b, :, i, j] += weight[:, :, ki, kj] @ v
    return out


@pytest.mark.parametrize("backend", ["torchvision", "pure"])
def test_layout_matches_loop_reference_v1_v2(backend):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 5, 6, generator=g, dtype=torch.float64)
    off = 1.5 * torch.randn(2, 18, 5, 6, generator=g, dtype=torch.float64)
    mask = torch.rand(2, 9, 5, 6, generator=g, dtype=torch.float64)
    m1 = DeformConv2d(3, 4, 3, padding=1, backend=backend).double()
    torch.testing.assert_close(m1(x, off), _deform_ref(x, off, m1.weight.detach()))
    m2 = ModulatedDeformConv2d(3, 4, 3, padding=1, backend=backend).double()
    torch.testing.assert_close(m2(x, off, mask), _deform_ref(x, off, m2.weight.detach(), mask))


@pytest.mark.parametrize("cfg", [
    dict(stride=1, padding=1, dilation=1, groups=1, og=1, k=3),
    dict(stride=2, padding=2, dilation=2, groups=2, og=2, k=3),
    dict(stride=1, padding=0, dilation=1, groups=1, og=4, k=(2, 3)),
])
def test_pure_equals_torchvision_values_and_grads(cfg):
    g = torch.Generator().manual_seed(7)
    kh, kw = (cfg["k"], cfg["k"]) if isinstance(cfg["k"], int) else cfg["k"]
    B, C, H, W, O = 2, 4, 7, 6, 6
    x = torch.randn(B, C, H, W, generator=g, dtype=torch.float64)
    w = torch.randn(O, C // cfg["groups"], kh, kw, generator=g, dtype=torch.float64)
    bias = torch.randn(O, generator=g, dtype=torch.float64)
    Ho = (H + 2 * cfg["padding"] - cfg["dilation"] * (kh - 1) - 1) // cfg["stride"] + 1
    Wo = (W + 2 * cfg["padding"] - cfg["dilation"] * (kw - 1) - 1) // cfg["stride"] + 1
    off = 2 * torch.randn(B, 2 * cfg["og"] * kh * kw, Ho, Wo, generator=g, dtype=torch.float64)
    mask = torch.rand(B, cfg["og"] * kh * kw, Ho, Wo, generator=g, dtype=torch.float64)
    kw_args = dict(stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"], mask=mask)
    res = []
    for fn in (deform_conv2d_pure, deform_conv2d):
        ins = [t.clone().requires_grad_() for t in (x, off, w, bias, mask)]
        kw2 = dict(kw_args, mask=ins[4])
        out = fn(ins[0], ins[1], ins[2], ins[3], **kw2)
        (out * torch.arange(out.numel(), dtype=out.dtype).reshape(out.shape).sin()).sum().backward()
        res.append([out.detach()] + [t.grad for t in ins])
    for a, b in zip(*res):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-8)


def test_packs_start_as_regular_conv():
    x = torch.randn(1, 4, 7, 7)
    p1 = DeformConv2dPack(4, 5, 3, padding=1, bias=True)
    torch.testing.assert_close(p1(x), F.conv2d(x, p1.weight, p1.bias, padding=1))
    p2 = ModulatedDeformConv2dPack(4, 5, 3, padding=1)
    assert p2.conv_offset_mask.out_channels == 27  # fcot.md §2.4: 18 offsets + 9 mask logits
    torch.testing.assert_close(p2(x), F.conv2d(x, p2.weight, None, padding=1) * 0.5 + p2.bias.view(1, -1, 1, 1))


def test_gradcheck_wrappers():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1, 2, 4, 4, generator=g, dtype=torch.float64, requires_grad=True)
    off = (0.3 + 0.4 * torch.rand(1, 18, 4, 4, generator=g, dtype=torch.float64)).requires_grad_()
    mask = torch.rand(1, 9, 4, 4, generator=g, dtype=torch.float64, requires_grad=True)
    m = ModulatedDeformConv2d(2, 3, 3, padding=1, bias=True).double()
    w = m.weight.detach().clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda a, o, mk, ww: deform_conv2d(a, o, ww, m.bias, padding=1, mask=mk),
                                    (x, off, mask, w))
    assert torch.autograd.gradcheck(lambda a, o, mk: m(a, o, mk), (x, off, mask))
    m1 = DeformConv2d(2, 3, 3, padding=1).double()
    assert torch.autograd.gradcheck(lambda a, o: m1(a, o), (x, off))
    assert torch.autograd.gradcheck(lambda a, o, mk, ww: deform_conv2d_pure(a, o, ww, None, padding=1, mask=mk),
                                    (x, off, mask, w))
    pk = ModulatedDeformConv2dPack(2, 2, 3, padding=1).double()
    torch.nn.init.normal_(pk.conv_offset_mask.weight, std=0.1)
    assert torch.autograd.gradcheck(lambda a: pk(a), (x,))


def test_bad_offset_shape_message():
    with pytest.raises(ValueError, match="offset must be"):
        DeformConv2d(2, 2, 3, padding=1)(torch.zeros(1, 2, 4, 4), torch.zeros(1, 9, 4, 4))


# ------------------------------------------------------------------ Ocean (ocean.md §2.5 and §7.5)

def test_ocean_grid():
    g = ocean_grid(25, 255, 8)
    assert g[12] == 127 and g[0] == 31 and torch.all(g.diff() == 8)
    assert ocean_grid(27, 271, 8)[13] == 135


def test_ocean_offsets_zero_for_7788_and_equals_conv():
    reg = torch.tensor([7.0, 7.0, 8.0, 8.0]).view(1, 4, 1, 1).expand(2, 4, 25, 25).contiguous()
    off = ocean_box_offsets(reg)
    assert off.shape == (2, 18, 25, 25)
    assert torch.count_nonzero(off) == 0
    dc = DeformConv2d(6, 4, 3, padding=1)
    f = torch.randn(2, 6, 25, 25)
    torch.testing.assert_close(dc(f, off), F.conv2d(f, dc.weight, padding=1))


def test_ocean_offsets_constant_box_centre():
    l, t, r, b = 20.0, 10.0, 44.0, 30.0
    reg = torch.tensor([l, t, r, b]).view(1, 4, 1, 1).expand(1, 4, 25, 25).contiguous()
    off = ocean_box_offsets(reg).view(1, 9, 2, 25, 25)
    # centre tap k=4: ((r-l-1)/16, (b-t-1)/16) everywhere (ocean.md §7.5)
    torch.testing.assert_close(off[0, 4, 1], torch.full((25, 25), (r - l - 1) / 16))
    torch.testing.assert_close(off[0, 4, 0], torch.full((25, 25), (b - t - 1) / 16))
    # corner taps: spread by ±(size_f/2 − 1) with size_f = (l+r+1)/8
    wf, hf = (l + r + 1) / 8, (t + b + 1) / 8
    torch.testing.assert_close(off[0, 0, 1] - off[0, 4, 1], torch.full((25, 25), -(wf / 2 - 1)))
    torch.testing.assert_close(off[0, 8, 0] - off[0, 4, 0], torch.full((25, 25), hf / 2 - 1))
    # tap 1 = (u=-1, v=0): only the y offset moves
    torch.testing.assert_close(off[0, 1, 1], off[0, 4, 1])


def test_ocean_sampling_equals_manual_bilinear_gather():
    g = torch.Generator().manual_seed(2)
    S = 9
    X = 8 * (S - 1) + 63  # odd search size whose grid stays inside the crop; grid uses floor(X/2)
    reg = 4 + 30 * torch.rand(1, 4, S, S, generator=g, dtype=torch.float64)
    feat = torch.randn(1, 2, S, S, generator=g, dtype=torch.float64)
    off = ocean_box_offsets(reg, search_size=X)
    pts = ocean_sample_points(reg, search_size=X)
    # hand-computed expected sample points from the definition (ocean.md §2.5)
    gx = 8 * (torch.arange(S, dtype=torch.float64) - S // 2) + X // 2
    i, j = 3, 5
    l, t, r, b = reg[0, :, i, j]
    x1, x2, y1, y2 = gx[j] - l, gx[j] + r, gx[i] - t, gx[i] + b
    cx = ((x1 + x2) / 2 - X / 2) / 8 + S // 2
    cy = ((y1 + y2) / 2 - X / 2) / 8 + S // 2
    wf, hf = (x2 - x1 + 1) / 8, (y2 - y1 + 1) / 8
    for k in range(9):
        u, v = divmod(k, 3)
        torch.testing.assert_close(pts[0, k, 0, i, j], cy + (u - 1) * hf / 2)
        torch.testing.assert_close(pts[0, k, 1, i, j], cx + (v - 1) * wf / 2)
    # a deformable conv with a one-hot weight on tap k reads feat at that point (bilinear)
    for k in (0, 4, 7):
        w = torch.zeros(2, 2, 3, 3, dtype=torch.float64)
        w[0, 0, k // 3, k % 3] = 1.0
        w[1, 1, k // 3, k % 3] = 1.0
        dc = DeformConv2d(2, 2, 3, padding=1).double()
        with torch.no_grad():
            dc.weight.copy_(w)
        out = dc(feat, off)
        for (ii, jj) in ((i, j), (0, 0), (S - 1, 2)):
            ref = _bilinear(feat[0], float(pts[0, k, 0, ii, jj]), float(pts[0, k, 1, ii, jj]))
            torch.testing.assert_close(out[0, :, ii, jj], ref)


def test_ocean_offsets_gradcheck():
    reg = (5 + 20 * torch.rand(1, 4, 3, 3, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(lambda r: ocean_box_offsets(r, search_size=39), (reg,))
