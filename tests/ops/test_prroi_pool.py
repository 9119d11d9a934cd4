"""PrRoIPool: brute-force numerical integration, gradcheck (features and boxes), compiled == pure."""
import os

import pytest
import torch

from ops import prroi_pool as prp
from ops.prroi_pool import PrRoIPool2D, prroi_pool2d, prroi_pool2d_pure


def _bilinear_zero(F2: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Bilinear interpolation of F2 (C,H,W) at points (x, y) with zero outside the pixel grid (hand-written)."""
    C, H, W = F2.shape
    x0, y0 = torch.floor(x).long(), torch.floor(y).long()
    out = torch.zeros(C, *x.shape, dtype=F2.dtype)
    for dy in (0, 1):
        for dx in (0, 1):
            xi, yi = x0 + dx, y0 + dy
            w = (1 - (x - xi).abs()).clamp(min=0) * (1 - (y - yi).abs()).clamp(min=0)
            ok = (xi >= 0) & (xi < W) & (yi >= 0) & (yi < H)
            v = F2[:, yi.clamp(0, H - 1), xi.clamp(0, W - 1)]
            out += v * (w * ok)
    return out


def _brute_force(feat, rois, ph, pw, scale, n=160):
    """Midpoint rule with n x n samples per bin."""
    K = rois.shape[0]
    out = torch.zeros(K, feat.shape[1], ph, pw, dtype=torch.float64)
    for k in range(K):
        b = int(rois[k, 0])
        x0, y0, x1, y1 = (float(v) * scale for v in rois[k, 1:])
        bw, bh = max(x1 - x0, 0) / pw, max(y1 - y0, 0) / ph
        if bw * bh == 0:
            continue
        for i in range(ph):
            for j in range(pw):
                t = (torch.arange(n, dtype=torch.float64) + 0.5) / n
                ys = y0 + (i + t) * bh
                xs = x0 + (j + t) * bw
                Y, X = torch.meshgrid(ys, xs, indexing="ij")
                out[k, :, i, j] = _bilinear_zero(feat[b].double(), X, Y).mean(dim=(1, 2))
    return out


def _random_rois(g, B, H, W, scale, K):
    """Boxes in image pixels incl. boxes partly outside the map, tiny (sub-pixel-bin) boxes and an empty one."""
    rois = []
    for k in range(K):
        b = k % B
        cx = (torch.rand(1, generator=g).item() * (W + 4) - 2) / scale
        cy = (torch.rand(1, generator=g).item() * (H + 4) - 2) / scale
        w = (0.3 + torch.rand(1, generator=g).item() * W * 0.8) / scale
        h = (0.3 + torch.rand(1, generator=g).item() * H * 0.8) / scale
        rois.append([b, cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
    rois.append([0, 0.2 / scale, 0.4 / scale, 0.9 / scale, 0.7 / scale])  # bins far below one cell
    rois.append([B - 1, -3.0 / scale, -2.0 / scale, 1.5 / scale, 2.5 / scale])  # top-left outside
    rois.append([0, (W - 1.5) / scale, (H - 2.0) / scale, (W + 3) / scale, (H + 1) / scale])  # bottom-right outside
    rois.append([0, -5.0 / scale, -4.0 / scale, (W + 5) / scale, (H + 3) / scale])  # larger than the map
    rois.append([B - 1, -9.0 / scale, 1.0 / scale, -2.0 / scale, 3.0 / scale])  # entirely left of the map -> 0
    rois.append([0, 2.0, 2.0, 2.0, 5.0])  # zero width -> 0
    return torch.tensor(rois, dtype=torch.float64)


def test_pure_matches_brute_force_integration():
    g = torch.Generator().manual_seed(0)
    B, C, H, W, scale = 2, 3, 7, 9, 0.5
    feat = torch.randn(B, C, H, W, generator=g, dtype=torch.float64)
    rois = _random_rois(g, B, H, W, scale, 6)
    for ph, pw in ((2, 3), (1, 1)):
        out = prroi_pool2d_pure(feat, rois, ph, pw, scale)
        ref = _brute_force(feat, rois, ph, pw, scale)
        assert out.shape == ref.shape
        torch.testing.assert_close(out, ref, atol=1e-4, rtol=0)
    assert torch.count_nonzero(prroi_pool2d_pure(feat, rois[-1:], 2, 2, scale)) == 0


def test_constant_map_inside_equals_constant_and_float32_accuracy():
    feat = torch.full((1, 2, 10, 10), 3.0)
    rois = torch.tensor([[0, 1.0, 2.0, 7.5, 8.25]])
    torch.testing.assert_close(prroi_pool2d_pure(feat, rois, 4, 4, 1.0), torch.full((1, 2, 4, 4), 3.0))
    # float32 input gives the float64 answer to float32 precision (float64 accumulation)
    g = torch.Generator().manual_seed(1)
    f = torch.rand(2, 8, 36, 36, generator=g)  # positive features: the prefix table grows large
    r = _random_rois(g, 2, 36, 36, 0.125, 20).float()
    torch.testing.assert_close(prroi_pool2d_pure(f, r, 8, 8, 0.125), prroi_pool2d_pure(f.double(), r.double(), 8, 8, 0.125).float(),
                               atol=2e-6, rtol=1e-5)


def test_gradcheck_pure_features_and_boxes():
    g = torch.Generator().manual_seed(2)
    feat = torch.randn(2, 2, 5, 6, generator=g, dtype=torch.float64, requires_grad=True)
    rois = torch.tensor([[0, 0.7, 1.3, 6.1, 7.9], [1, -1.3, 2.2, 4.6, 12.9], [1, 8.7, 6.1, 10.2, 8.3]], dtype=torch.float64)
    coords = rois[:, 1:].clone().requires_grad_()

    def fn(f, c):
        return prroi_pool2d_pure(f, torch.cat([rois[:, :1], c], 1), 2, 3, 0.5)

    assert torch.autograd.gradcheck(fn, (feat, coords))


def test_module_and_batch_index_error():
    m = PrRoIPool2D(2, 2, 1.0, backend="pure")
    with pytest.raises(ValueError, match="batch index"):
        m(torch.zeros(1, 1, 4, 4), torch.tensor([[1.0, 0, 0, 2, 2]]))
    with pytest.raises(ValueError, match="rois must be"):
        m(torch.zeros(1, 1, 4, 4), torch.zeros(3, 4))


def test_compiled_equals_pure():
    """Builds the JIT extension once (~20 s the first time, then cached); skipped when it cannot build."""
    if os.environ.get("SOTLAB_PRROI_BACKEND") == "pure":
        pytest.skip("SOTLAB_PRROI_BACKEND=pure")
    if not prp.compiled_available():
        pytest.skip(f"compiled PrRoIPool unavailable: {prp.compiled_error()}")
    g = torch.Generator().manual_seed(3)
    B, C, H, W, scale = 2, 3, 7, 9, 0.5
    feat = torch.randn(B, C, H, W, generator=g, dtype=torch.float64)
    rois = _random_rois(g, B, H, W, scale, 8)
    for ph, pw in ((2, 3), (4, 4)):
        torch.testing.assert_close(prroi_pool2d(feat, rois, ph, pw, scale, backend="compiled"),
                                   prroi_pool2d_pure(feat, rois, ph, pw, scale), atol=1e-12, rtol=1e-10)
    # gradients: compiled analytic backward vs autograd of the pure backend, and float64 gradcheck
    f1 = feat.clone().requires_grad_()
    c1 = rois[:, 1:].clone().requires_grad_()
    f2 = feat.clone().requires_grad_()
    c2 = rois[:, 1:].clone().requires_grad_()
    w = torch.randn(rois.shape[0], C, 2, 3, generator=g, dtype=torch.float64)
    (prroi_pool2d(f1, torch.cat([rois[:, :1], c1], 1), 2, 3, scale, backend="compiled") * w).sum().backward()
    (prroi_pool2d_pure(f2, torch.cat([rois[:, :1], c2], 1), 2, 3, scale) * w).sum().backward()
    torch.testing.assert_close(f1.grad, f2.grad, atol=1e-10, rtol=1e-8)
    torch.testing.assert_close(c1.grad, c2.grad, atol=1e-10, rtol=1e-8)
    small = torch.randn(1, 2, 5, 6, generator=g, dtype=torch.float64, requires_grad=True)
    cs = torch.tensor([[0.7, 1.3, 6.1, 7.9], [-1.3, 2.2, 4.6, 12.9]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda f, c: prroi_pool2d(f, torch.cat([torch.zeros(2, 1, dtype=torch.float64), c], 1), 2, 2, 0.5, backend="compiled"),
        (small, cs))
    # float32 path
    torch.testing.assert_close(prroi_pool2d(feat.float(), rois.float(), 2, 3, scale, backend="compiled"),
                               prroi_pool2d_pure(feat, rois, 2, 3, scale).float(), atol=1e-5, rtol=1e-5)


def test_backend_resolution(monkeypatch):
    cpu = torch.device("cpu")
    assert prp._resolve_backend("pure", cpu) == "pure"
    assert prp._resolve_backend("auto", cpu, needs_grad=True) == "pure"
    monkeypatch.setenv("SOTLAB_PRROI_BACKEND", "fast")
    with pytest.raises(ValueError, match="SOTLAB_PRROI_BACKEND"):
        prp._resolve_backend(None, cpu)
