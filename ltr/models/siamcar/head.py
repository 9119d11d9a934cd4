"""SiamCAR's classification-and-regression head (siamcar.md §2.5).

Two towers of ``num_convs`` × (3×3 conv with bias → GroupNorm → ReLU) on the fused 256-channel
response.  The cls tower feeds both the 2-way classifier and the centerness branch (the paper's
parallel branch); the bbox tower feeds the (l, t, r, b) regressor whose output is ``exp(·)`` in
search-patch pixels — no learnable scale, no stride normalisation.

Sequential indices (conv at 0, 3, 6, 9; GN at 1, 4, 7, 10) and the names ``cls_tower``,
``bbox_tower``, ``cls_logits``, ``bbox_pred``, ``centerness`` match the official checkpoint.
"""
from __future__ import annotations

import math
from typing import Tuple

import torch
import torch.nn as nn

__all__ = ["CARHead"]


class CARHead(nn.Module):
    def __init__(
        self,
        in_channels: int = 256,
        num_classes: int = 2,
        num_convs: int = 4,
        gn_groups: int = 32,
        prior_prob: float = 0.01,
    ) -> None:
        super().__init__()
        if in_channels % gn_groups != 0:
            raise ValueError(f"CARHead: in_channels {in_channels} not divisible by gn_groups {gn_groups}")
        if not 0.0 < prior_prob < 1.0:
            raise ValueError(f"CARHead: prior_prob must be in (0, 1), got {prior_prob}")

        def tower() -> nn.Sequential:
            layers = []
            for _ in range(num_convs):
                layers += [
                    nn.Conv2d(in_channels, in_channels, kernel_size=3, stride=1, padding=1),
                    nn.GroupNorm(gn_groups, in_channels),
                    nn.ReLU(),
                ]
            return nn.Sequential(*layers)

        self.cls_tower = tower()
        self.bbox_tower = tower()
        self.cls_logits = nn.Conv2d(in_channels, num_classes, kernel_size=3, stride=1, padding=1)
        self.bbox_pred = nn.Conv2d(in_channels, 4, kernel_size=3, stride=1, padding=1)
        self.centerness = nn.Conv2d(in_channels, 1, kernel_size=3, stride=1, padding=1)

        for mod in (self.cls_tower, self.bbox_tower, self.cls_logits, self.bbox_pred, self.centerness):
            for m in mod.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.normal_(m.weight, std=0.01)
                    nn.init.zeros_(m.bias)
        # focal-loss prior (FCOS); irrelevant under the 2-way softmax but kept for fidelity
        nn.init.constant_(self.cls_logits.bias, -math.log((1.0 - prior_prob) / prior_prob))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return ``(cls logits B×2×H×W, ltrb B×4×H×W > 0, centerness logit B×1×H×W)``."""
        cls_t = self.cls_tower(x)
        cls = self.cls_logits(cls_t)
        cen = self.centerness(cls_t)
        loc = torch.exp(self.bbox_pred(self.bbox_tower(x)))
        return cls, loc, cen
