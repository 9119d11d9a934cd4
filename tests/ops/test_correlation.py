"""Correlation family vs explicit Python-loop references (batch 1 and 3) and float64 gradcheck."""
import pytest
import torch

from ltr.models.layers.correlation import (
    MultiRateDepthwiseXCorr,
    xcorr_depthwise,
    xcorr_depthwise_multi,
    xcorr_naive,
    xcorr_pixelwise,
    xcorr_up,
)


def _valid_corr_loop(x2d: torch.Tensor, k2d: torch.Tensor, dh: int = 1, dw: int = 1) -> torch.Tensor:
    """Single-channel valid correlation by looping over output positions (no flip)."""
    H, W = x2d.shape
    h, w = k2d.shape
    oh, ow = H - dh * (h - 1), W - dw * (w - 1)
    out = torch.zeros(oh, ow, dtype=x2d.dtype)
    for i in range(oh):
        for j in range(ow):
            out[i, j] = (x2d[i:i + dh * (h - 1) + 1:dh, j:j + dw * (w - 1) + 1:dw] * k2d).sum()
    return out


@pytest.mark.parametrize("b", [1, 3])
def test_naive_matches_loop(b):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(b, 3, 9, 8, generator=g, dtype=torch.float64)
    z = torch.randn(b, 3, 3, 4, generator=g, dtype=torch.float64)
    out = xcorr_naive(x, z)
    assert out.shape == (b, 1, 7, 5)
    for n in range(b):
        ref = sum(_valid_corr_loop(x[n, c], z[n, c]) for c in range(3))
        torch.testing.assert_close(out[n, 0], ref)


@pytest.mark.parametrize("b", [1, 3])
@pytest.mark.parametrize("dil", [(1, 1), (2, 1), (1, 2)])
def test_depthwise_matches_loop(b, dil):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(b, 4, 11, 10, generator=g, dtype=torch.float64)
    z = torch.randn(b, 4, 3, 3, generator=g, dtype=torch.float64)
    out = xcorr_depthwise(x, z, dilation=dil)
    for n in range(b):
        for c in range(4):
            torch.testing.assert_close(out[n, c], _valid_corr_loop(x[n, c], z[n, c], *dil))


@pytest.mark.parametrize("b", [1, 3])
def test_up_channel_matches_loop(b):
    g = torch.Generator().manual_seed(2)
    C, K = 3, 2
    x = torch.randn(b, C, 7, 7, generator=g, dtype=torch.float64)
    z = torch.randn(b, K * C, 3, 3, generator=g, dtype=torch.float64)
    out = xcorr_up(x, z)
    assert out.shape == (b, K, 5, 5)
    for n in range(b):
        for k in range(K):
            ref = sum(_valid_corr_loop(x[n, c], z[n, k * C + c]) for c in range(C))
            torch.testing.assert_close(out[n, k], ref)


@pytest.mark.parametrize("b", [1, 3])
def test_pixelwise_matches_loop(b):
    g = torch.Generator().manual_seed(3)
    x = torch.randn(b, 5, 6, 7, generator=g, dtype=torch.float64)
    z = torch.randn(b, 5, 2, 3, generator=g, dtype=torch.float64)
    out = xcorr_pixelwise(x, z)
    assert out.shape == (b, 6, 6, 7)
    for n in range(b):
        for i in range(2):
            for j in range(3):
                for yy in range(6):
                    for xx in range(7):
                        ref = (z[n, :, i, j] * x[n, :, yy, xx]).sum()
                        torch.testing.assert_close(out[n, i * 3 + j, yy, xx], ref)


@pytest.mark.parametrize("b", [1, 3])
def test_multi_rate_matches_loop(b):
    g = torch.Generator().manual_seed(4)
    rates = [(1, 1), (2, 1), (1, 2)]
    xs = [torch.randn(b, 2, 9, 9, generator=g, dtype=torch.float64) for _ in rates]
    zs = [torch.randn(b, 2, 3, 3, generator=g, dtype=torch.float64) for _ in rates]
    # Template sizes differ per rate in Ocean; emulate with equal template and per-rate dilated correlation.
    w = torch.tensor([0.2, 0.5, 0.3], dtype=torch.float64)
    # Crop search maps so every dilated correlation has the same size (5x5).
    xs_c = [xs[0][..., 1:8, 1:8], xs[1][..., :, 1:8], xs[2][..., 1:8, :]]
    out = xcorr_depthwise_multi(xs_c, zs, weights=w, dilations=rates)
    assert out.shape == (b, 2, 5, 5)
    for n in range(b):
        for c in range(2):
            ref = sum(w[i] * _valid_corr_loop(xs_c[i][n, c], zs[i][n, c], *rates[i]) for i in range(3))
            torch.testing.assert_close(out[n, c], ref)


def test_ocean_module_shapes_and_params():
    m = MultiRateDepthwiseXCorr(256)
    # ocean.md §2.6: one encoder ("matrix" + GroupDW) = 3,542,016 conv/BN params + 3 weights.
    assert sum(p.numel() for p in m.parameters()) == 3_542_016 + 3
    m.eval()
    out = m(torch.randn(2, 256, 7, 7), torch.randn(2, 256, 31, 31))
    assert out.shape == (2, 256, 25, 25)


def test_gradcheck_all():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(2, 3, 6, 6, generator=g, dtype=torch.float64, requires_grad=True)
    z = torch.randn(2, 3, 3, 3, generator=g, dtype=torch.float64, requires_grad=True)
    z_up = torch.randn(2, 6, 3, 3, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(xcorr_naive, (x, z))
    assert torch.autograd.gradcheck(lambda a, b: xcorr_depthwise(a, b, dilation=(2, 1)), (x, z))
    assert torch.autograd.gradcheck(xcorr_up, (x, z_up))
    assert torch.autograd.gradcheck(xcorr_pixelwise, (x, z))


def test_bad_input_messages():
    with pytest.raises(ValueError, match="batch mismatch"):
        xcorr_depthwise(torch.zeros(2, 3, 5, 5), torch.zeros(1, 3, 3, 3))
    with pytest.raises(ValueError, match="channel mismatch"):
        xcorr_naive(torch.zeros(1, 3, 5, 5), torch.zeros(1, 2, 3, 3))
