"""Channel-adjust necks of the pysot family (SiamRPN++, SiamCAR, Ocean).

A 1×1 conv (no bias) + BatchNorm brings each backbone level to a common width.  Template maps
(narrower than ``crop_threshold``) are centre-cropped to ``center_size``: for a 127 template the
15×15 map becomes its central 7×7 ([4:11] in both axes), which removes the zero-padding border
effects of the dilated trunk (siamcar.md §2.3, ocean.md §2.2).

Key layout matches pysot (``downsample.{0,1}`` inside ``AdjustLayer``; ``downsample{2,3,4}`` or a
single ``downsample`` in ``AdjustAllLayer``) and TracKit's Ocean ``AdjustLayer`` (``neck.downsample.{0,1}``).
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import torch
import torch.nn as nn

__all__ = ["AdjustLayer", "AdjustAllLayer", "center_crop"]


def center_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """Central ``size``×``size`` window of an N×C×H×W map (left index ``(W - size) // 2``)."""
    h, w = x.shape[-2:]
    if size > min(h, w):
        raise ValueError(f"center_crop: crop {size} larger than the map {h}×{w}")
    t = (h - size) // 2
    l = (w - size) // 2
    return x[..., t:t + size, l:l + size]


class AdjustLayer(nn.Module):
    """1×1 conv + BN (no ReLU); maps narrower than ``crop_threshold`` are centre-cropped.

    Args:
        center_size: side of the template crop (7); ``None`` disables cropping.
        crop_threshold: pysot crops when the map width is < 20, i.e. only template maps.
    """

    def __init__(self, in_channels: int, out_channels: int, center_size: Optional[int] = 7, crop_threshold: int = 20) -> None:
        super().__init__()
        self.downsample = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False),
            nn.BatchNorm2d(out_channels),
        )
        self.center_size = center_size
        self.crop_threshold = crop_threshold

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.downsample(x)
        if self.center_size is not None and x.shape[-1] < self.crop_threshold:
            x = center_crop(x, self.center_size)
        return x


class AdjustAllLayer(nn.Module):
    """One :class:`AdjustLayer` per backbone level, applied to a list of maps."""

    def __init__(
        self,
        in_channels: Sequence[int],
        out_channels: Sequence[int] | int,
        center_size: Optional[int] = 7,
        crop_threshold: int = 20,
    ) -> None:
        super().__init__()
        if isinstance(out_channels, int):
            out_channels = [out_channels] * len(in_channels)
        if len(in_channels) != len(out_channels) or not in_channels:
            raise ValueError(f"AdjustAllLayer: need matching non-empty channel lists, got {list(in_channels)} / {list(out_channels)}")
        self.num = len(in_channels)
        if self.num == 1:
            self.downsample = AdjustLayer(in_channels[0], out_channels[0], center_size, crop_threshold)
        else:
            for i, (ci, co) in enumerate(zip(in_channels, out_channels)):
                self.add_module(f"downsample{i + 2}", AdjustLayer(ci, co, center_size, crop_threshold))

    def forward(self, features: Sequence[torch.Tensor] | torch.Tensor) -> List[torch.Tensor] | torch.Tensor:
        if self.num == 1:
            if isinstance(features, torch.Tensor):
                return self.downsample(features)
            return [self.downsample(features[0])]
        if len(features) != self.num:
            raise ValueError(f"AdjustAllLayer: expected {self.num} feature maps, got {len(features)}")
        return [getattr(self, f"downsample{i + 2}")(f) for i, f in enumerate(features)]
