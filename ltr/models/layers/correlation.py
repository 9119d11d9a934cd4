"""Cross-correlation family shared by the Siamese trackers (SiamFC, SiamRPN++, SiamCAR, Ocean).

All functions treat the template ``kernel`` as a *correlation* kernel (no flip), exactly like
``torch.nn.functional.conv2d``. Batching is done with one grouped convolution: the batch is folded
into the channel dimension so every sample is correlated only with its own template, which keeps
batch > 1 correct without a Python loop.

Shapes (B = batch, C = channels, H×W search, h×w template, "valid" correlation unless ``padding``):

================================  ======================  ======================  =======================
function                          search ``x``            template ``kernel``     output
================================  ======================  ======================  =======================
``xcorr_naive`` (SiamFC)          B×C×H×W                 B×C×h×w                 B×1×H'×W'
``xcorr_depthwise`` (pysot)       B×C×H×W                 B×C×h×w                 B×C×H'×W'
``xcorr_up`` (SiamRPN up-chan.)   B×C×H×W                 B×(K·C)×h×w             B×K×H'×W'
``xcorr_pixelwise``               B×C×H×W                 B×C×h×w                 B×(h·w)×H×W
================================  ======================  ======================  =======================

with H' = H + 2·pad − dil·(h − 1), W' likewise.
"""
from __future__ import annotations

from typing import Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "xcorr_naive",
    "xcorr_depthwise",
    "xcorr_up",
    "xcorr_pixelwise",
    "xcorr_depthwise_multi",
    "NaiveXCorr",
    "DepthwiseXCorr",
    "UpChannelXCorr",
    "PixelwiseXCorr",
    "MultiRateDepthwiseXCorr",
]

IntPair = Union[int, Tuple[int, int]]


def _check_pair(x: torch.Tensor, kernel: torch.Tensor, name: str) -> None:
    if x.dim() != 4 or kernel.dim() != 4:
        raise ValueError(f"{name}: expected 4-D tensors (B,C,H,W), got x {tuple(x.shape)} and kernel {tuple(kernel.shape)}")
    if x.shape[0] != kernel.shape[0]:
        raise ValueError(f"{name}: batch mismatch, x has {x.shape[0]} samples, kernel has {kernel.shape[0]}")


def xcorr_naive(x: torch.Tensor, kernel: torch.Tensor, padding: IntPair = 0) -> torch.Tensor:
    """SiamFC correlation: sum over all channels, one response map per sample (B×1×H'×W')."""
    _check_pair(x, kernel, "xcorr_naive")
    if x.shape[1] != kernel.shape[1]:
        raise ValueError(f"xcorr_naive: channel mismatch x {x.shape[1]} vs kernel {kernel.shape[1]}")
    # depth-wise then channel sum: same result as a groups=B conv, ~3-6x faster on CPU (scripts/bench_ops.py)
    return xcorr_depthwise(x, kernel, padding=padding).sum(1, keepdim=True)


def xcorr_depthwise(x: torch.Tensor, kernel: torch.Tensor, dilation: IntPair = 1, padding: IntPair = 0) -> torch.Tensor:
    """Depth-wise correlation (pysot ``xcorr_depthwise``): channel c of x with channel c of its own template.

    ``dilation`` spreads the template taps (an atrous correlation); ``dilation=(dH, dW)`` follows the
    PyTorch convention (rows first).
    """
    _check_pair(x, kernel, "xcorr_depthwise")
    if x.shape[1] != kernel.shape[1]:
        raise ValueError(f"xcorr_depthwise: channel mismatch x {x.shape[1]} vs kernel {kernel.shape[1]}")
    b, c, hh, ww = x.shape
    k = kernel.reshape(b * c, 1, kernel.shape[2], kernel.shape[3])
    out = F.conv2d(x.reshape(1, b * c, hh, ww), k, dilation=dilation, padding=padding, groups=b * c)
    return out.reshape(b, c, out.shape[-2], out.shape[-1])


def xcorr_up(x: torch.Tensor, kernel: torch.Tensor, padding: IntPair = 0) -> torch.Tensor:
    """Up-channel correlation (SiamRPN ``xcorr_fast``): the template carries K full C-channel filters.

    ``kernel`` channel k·C + c is filter k, input channel c (the layout of a conv producing K·C channels
    viewed as K×C), output is B×K×H'×W'.
    """
    _check_pair(x, kernel, "xcorr_up")
    b, c, hh, ww = x.shape
    if kernel.shape[1] % c != 0:
        raise ValueError(f"xcorr_up: kernel channels {kernel.shape[1]} not a multiple of search channels {c}")
    k = kernel.reshape(-1, c, kernel.shape[2], kernel.shape[3])  # (B*K, C, h, w)
    out = F.conv2d(x.reshape(1, b * c, hh, ww), k, padding=padding, groups=b)
    return out.reshape(b, -1, out.shape[-2], out.shape[-1])


def xcorr_pixelwise(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Pixel-wise correlation: every template pixel is a 1×1 filter; output channel i·w + j is template pixel (i, j).

    Keeps the search resolution (B×(h·w)×H×W); implemented as a batched matrix product.
    """
    _check_pair(x, kernel, "xcorr_pixelwise")
    if x.shape[1] != kernel.shape[1]:
        raise ValueError(f"xcorr_pixelwise: channel mismatch x {x.shape[1]} vs kernel {kernel.shape[1]}")
    b, c, hh, ww = x.shape
    k = kernel.flatten(2).transpose(1, 2)  # (B, h*w, C)
    out = torch.bmm(k, x.flatten(2))  # (B, h*w, H*W)
    return out.reshape(b, -1, hh, ww)


def xcorr_depthwise_multi(
    xs: Sequence[torch.Tensor],
    kernels: Sequence[torch.Tensor],
    weights: torch.Tensor | None = None,
    dilations: Sequence[IntPair] | None = None,
) -> torch.Tensor:
    """Weighted sum of several depth-wise correlations (Ocean's multi-rate combination, Eq. 9).

    ``weights`` (len = number of pairs) are used as given (apply softmax yourself); ``None`` = plain sum.
    Every pair must produce the same output size.
    """
    if len(xs) != len(kernels) or len(xs) == 0:
        raise ValueError(f"xcorr_depthwise_multi: need equally many (>0) search maps and templates, got {len(xs)} and {len(kernels)}")
    if dilations is None:
        dilations = [1] * len(xs)
    out = None
    for i, (x, z) in enumerate(zip(xs, kernels)):
        r = xcorr_depthwise(x, z, dilation=dilations[i])
        if weights is not None:
            r = r * weights[i]
        if out is not None and out.shape != r.shape:
            raise ValueError(f"xcorr_depthwise_multi: pair {i} gives {tuple(r.shape)}, previous pairs {tuple(out.shape)}")
        out = r if out is None else out + r
    assert out is not None
    return out


class NaiveXCorr(nn.Module):
    """SiamFC head: ``out_scale · xcorr_naive(x, z) + bias`` (SiamFC uses scale 0.001 and a learnable bias)."""

    def __init__(self, out_scale: float = 1.0, learn_bias: bool = False) -> None:
        super().__init__()
        self.out_scale = out_scale
        self.bias = nn.Parameter(torch.zeros(1)) if learn_bias else None

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        out = xcorr_naive(x, z) * self.out_scale
        return out + self.bias if self.bias is not None else out


class DepthwiseXCorr(nn.Module):
    """Parameter-free depth-wise correlation module (template first, like pysot's heads call it)."""

    def __init__(self, dilation: IntPair = 1) -> None:
        super().__init__()
        self.dilation = dilation

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return xcorr_depthwise(x, z, dilation=self.dilation)


class UpChannelXCorr(nn.Module):
    """SiamRPN up-channel correlation: a conv lifts the template to K·C channels, then ``xcorr_up``."""

    def __init__(self, in_channels: int, out_maps: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.template_conv = nn.Conv2d(in_channels, in_channels * out_maps, kernel_size)
        self.search_conv = nn.Conv2d(in_channels, in_channels, kernel_size)

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return xcorr_up(self.search_conv(x), self.template_conv(z))


class PixelwiseXCorr(nn.Module):
    """Parameter-free pixel-wise correlation module (output channels = template pixels)."""

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return xcorr_pixelwise(x, z)


class MultiRateDepthwiseXCorr(nn.Module):
    """Ocean's feature combination (ocean.md §2.3, TracKit ``matrix`` + ``GroupDW``).

    For each rate (dH, dW) a separate template conv and search conv (3×3, no padding, no bias, BN, ReLU)
    are applied to the neck output; each pair is correlated depth-wise and the correlations are summed
    with ``softmax(self.weight)`` (initialised to ones, i.e. equal weights 1/3).

    Default rates ((1,1), (2,1), (1,2)) are PyTorch ``dilation=(dH, dW)``; in the paper's Φ_ab notation
    these are Φ11, Φ12, Φ21. With a 7×7 template and 31×31 search every pair yields 25×25.
    Parameters: ``template_convs[i]`` / ``search_convs[i]`` are Sequential(conv, bn, relu).
    """

    def __init__(
        self,
        channels: int = 256,
        rates: Sequence[Tuple[int, int]] = ((1, 1), (2, 1), (1, 2)),
        kernel_size: int = 3,
    ) -> None:
        super().__init__()
        self.rates = [tuple(r) for r in rates]

        def branch(rate: Tuple[int, int]) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(channels, channels, kernel_size, bias=False, dilation=rate),
                nn.BatchNorm2d(channels),
                nn.ReLU(inplace=True),
            )

        self.template_convs = nn.ModuleList([branch(r) for r in self.rates])
        self.search_convs = nn.ModuleList([branch(r) for r in self.rates])
        self.weight = nn.Parameter(torch.ones(len(self.rates)))

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        zs = [conv(z) for conv in self.template_convs]
        xs = [conv(x) for conv in self.search_convs]
        return xcorr_depthwise_multi(xs, zs, weights=F.softmax(self.weight, dim=0))
