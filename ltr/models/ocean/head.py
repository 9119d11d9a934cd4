"""Ocean's offline head (ocean.md §2.3–2.5): multi-rate depth-wise matching, towers, predictors, OA head.

Two *independent* matching branches (classification and regression) each encode the template and the
search features with three dilated 3×3 convolutions (separate template/search weights, TracKit
``matrix``), correlate them depth-wise and combine the three maps with ``softmax(w)`` (TracKit
``GroupDW``). The shared :class:`~ltr.models.layers.correlation.MultiRateDepthwiseXCorr` holds the convs
and the weight; this module calls its parts separately so a tracker can encode the template once.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ltr.models.layers.correlation import MultiRateDepthwiseXCorr, xcorr_depthwise
from ops.deform_conv import DeformConv2d

__all__ = ["OceanMatching", "OceanHead", "OceanAlignHead", "score_size"]


def score_size(search_size: int, exemplar_size: int = 127, stride: int = 8) -> int:
    """Score-map side of the full-size network: (X − 127) // 8 + 1 + 8 (TracKit ``OceanConfig.renew``)."""
    return (search_size - exemplar_size) // stride + 1 + 8


class OceanMatching(MultiRateDepthwiseXCorr):
    """Multi-rate depth-wise correlation with a switch for the paper's plain sum.

    ``combine='softmax'`` (official code): S = Σ softmax(w)_i · corr_i, w initialised to ones.
    ``combine='sum'`` (paper Eq. 9): S = Σ corr_i; the weight stays a (unused) parameter so both
    variants share one state-dict layout.
    """

    def __init__(self, channels: int = 256, rates: Sequence[Tuple[int, int]] = ((1, 1), (2, 1), (1, 2)),
                 combine: str = "softmax") -> None:
        super().__init__(channels, rates)
        if combine not in ("softmax", "sum"):
            raise ValueError(f"OceanMatching: combine must be 'softmax' or 'sum', got {combine!r}")
        self.combine = combine

    def combination_weights(self) -> torch.Tensor:
        if self.combine == "softmax":
            return F.softmax(self.weight, dim=0)
        return torch.ones_like(self.weight)

    def encode_template(self, z: torch.Tensor) -> List[torch.Tensor]:
        return [conv(z) for conv in self.template_convs]

    def encode_search(self, x: torch.Tensor) -> List[torch.Tensor]:
        return [conv(x) for conv in self.search_convs]

    def correlate(self, zs: List[torch.Tensor], xs: List[torch.Tensor]) -> torch.Tensor:
        w = self.combination_weights()
        out: Optional[torch.Tensor] = None
        for i, (z, x) in enumerate(zip(zs, xs)):
            r = w[i] * xcorr_depthwise(x, z)
            out = r if out is None else out + r
        assert out is not None
        return out

    def forward(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return self.correlate(self.encode_template(z), self.encode_search(x))


def _tower(channels: int, num: int) -> nn.Sequential:
    layers: List[nn.Module] = []
    for _ in range(num):
        layers += [nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU()]
    return nn.Sequential(*layers)


class OceanHead(nn.Module):
    """TracKit ``box_tower``: matching (cls/reg), 4-layer towers, ltrb = exp(α·y + β), cls logit = 0.1·conv.

    Parameters (256 channels, 4 tower layers): 11,820,304 (ocean.md §2.6).
    """

    def __init__(self, channels: int = 256, tower_num: int = 4,
                 rates: Sequence[Tuple[int, int]] = ((1, 1), (2, 1), (1, 2)),
                 combine: str = "softmax", cls_scale: float = 0.1,
                 adjust_init: float = 0.1, bias_init: float = 1.0) -> None:
        super().__init__()
        rates = [tuple(int(v) for v in r) for r in rates]
        self.cls_match = OceanMatching(channels, rates, combine)
        self.reg_match = OceanMatching(channels, rates, combine)
        self.bbox_tower = _tower(channels, tower_num)
        self.cls_tower = _tower(channels, tower_num)
        self.bbox_pred = nn.Conv2d(channels, 4, 3, padding=1)
        self.cls_pred = nn.Conv2d(channels, 1, 3, padding=1)
        # exp(α·y + β): α scalar, β per side (TracKit ``adjust`` / ``bias``)
        self.adjust = nn.Parameter(torch.full((1,), float(adjust_init)))
        self.bias = nn.Parameter(torch.full((1, 4, 1, 1), float(bias_init)))
        self.cls_scale = float(cls_scale)

    def encode_template(self, zf: torch.Tensor) -> Dict[str, List[torch.Tensor]]:
        """Template half of both matching branches (constant during tracking, so trackers cache it)."""
        return {"cls": self.cls_match.encode_template(zf), "reg": self.reg_match.encode_template(zf)}

    def forward(self, zf: Optional[torch.Tensor], xf: torch.Tensor,
                z_enc: Optional[Dict[str, List[torch.Tensor]]] = None) -> Dict[str, torch.Tensor]:
        """Returns ``cls`` (B×1×S×S logit z_r), ``reg`` (B×4×S×S ltrb px), ``reg_feature`` (F_reg) and the
        intermediate maps ``cls_dw``/``reg_dw``/``cls_feature``/``bbox_raw``/``cls_raw``."""
        if z_enc is None:
            if zf is None:
                raise ValueError("OceanHead: give the template features zf or their encoding z_enc")
            z_enc = self.encode_template(zf)
        cls_dw = self.cls_match.correlate(z_enc["cls"], self.cls_match.encode_search(xf))
        reg_dw = self.reg_match.correlate(z_enc["reg"], self.reg_match.encode_search(xf))
        reg_feature = self.bbox_tower(reg_dw)
        bbox_raw = self.bbox_pred(reg_feature)
        reg = torch.exp(self.adjust * bbox_raw + self.bias)
        cls_feature = self.cls_tower(cls_dw)
        cls_raw = self.cls_pred(cls_feature)
        return {"cls": self.cls_scale * cls_raw, "reg": reg, "reg_feature": reg_feature,
                "cls_dw": cls_dw, "reg_dw": reg_dw, "cls_feature": cls_feature,
                "bbox_raw": bbox_raw, "cls_raw": cls_raw}


class OceanAlignHead(nn.Module):
    """Object-aware classification (TracKit ``AlignHead``): DeformConv 3×3 (no bias) on F_reg at box-derived
    offsets → ReLU → 1×1 conv → logit z_o. 590,081 parameters at 256 channels.

    ``kind='deform'`` (official) or ``'conv'`` (the paper's wording, "a 3×3 conv over f": the same
    3×3 weight applied on the regular lattice, i.e. offsets ignored).
    """

    def __init__(self, channels: int = 256, kind: str = "deform") -> None:
        super().__init__()
        if kind not in ("deform", "conv"):
            raise ValueError(f"OceanAlignHead: kind must be 'deform' or 'conv', got {kind!r}")
        self.kind = kind
        # shared DCN v1 wrapper; its init is mmdet-v1's U(±1/sqrt(C·k·k)); the 1×1 conv keeps PyTorch's default
        self.deform = DeformConv2d(channels, channels, 3, padding=1, bias=False)
        self.cls = nn.Conv2d(channels, 1, 1)

    def forward(self, reg_feature: torch.Tensor, offsets: torch.Tensor) -> Dict[str, torch.Tensor]:
        if self.kind == "deform":
            feat = self.deform(reg_feature, offsets)
        else:
            feat = F.conv2d(reg_feature, self.deform.weight, None, padding=1)
        return {"deform_out": feat, "align": self.cls(F.relu(feat))}
