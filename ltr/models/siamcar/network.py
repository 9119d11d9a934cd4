"""The SiamCAR network: atrous ResNet-50 → AdjustAllLayer → per-level DW-xcorr → concat → 1×1 → CAR head.

Input convention (all weights of this network, official or trained here): **BGR, float, 0–255**,
N×3×H×W, no mean/std normalisation (pysot).  The trackers/actors convert RGB uint8 crops.

Submodule names ``backbone``, ``neck``, ``car_head``, ``down`` follow the official checkpoint so its
state dict loads key for key (``ltr.models.siamcar.official``).  ``down`` is a ConvTranspose2d with a
1×1 kernel — numerically a 1×1 conv, but its weight is stored [in, out, 1, 1].
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn

from ltr.admin.registry import NETWORKS
from ltr.models.backbones.resnet_atrous import AtrousResNet, load_atrous_resnet_weights
from ltr.models.layers.correlation import xcorr_depthwise
from ltr.models.layers.neck import AdjustAllLayer, center_crop

from .config import SiamCARModelConfig
from .head import CARHead

__all__ = ["SiamCARNet", "build_siamcar", "backbone_feature_size"]


def backbone_feature_size(image_size: int) -> int:
    """Side of the atrous-ResNet output for a square input (conv1 pad 0, max-pool, layer2 stride 2 pad 0)."""
    s = (image_size - 7) // 2 + 1
    s = (s + 2 - 3) // 2 + 1
    return (s - 3) // 2 + 1


class SiamCARNet(nn.Module):
    def __init__(
        self,
        backbone: AtrousResNet,
        neck_channels: int = 256,
        neck_center_size: Optional[int] = 7,
        head_convs: int = 4,
        gn_groups: int = 32,
        prior_prob: float = 0.01,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        levels = len(backbone.out_channels)
        # the template crop is applied explicitly in ``template`` (pysot crops any map < 20 wide, which
        # would also hit the search maps of small crop sizes); identical for the official geometry
        self.neck = AdjustAllLayer(backbone.out_channels, neck_channels, center_size=None)
        self.neck_center_size = neck_center_size
        self.car_head = CARHead(neck_channels, num_classes=2, num_convs=head_convs, gn_groups=gn_groups, prior_prob=prior_prob)
        self.down = nn.ConvTranspose2d(neck_channels * levels, neck_channels, kernel_size=1, stride=1)

    # ------------------------------------------------------------------ pieces
    def extract(self, img: torch.Tensor) -> List[torch.Tensor]:
        """Backbone + neck of one branch (no crop: the search branch)."""
        feats = self.backbone(img)
        out = self.neck(feats)
        return out if isinstance(out, list) else [out]

    def template(self, z: torch.Tensor) -> List[torch.Tensor]:
        """Template features, centre-cropped to ``neck_center_size`` (15×15 → 7×7 [4:11]); computed once per sequence."""
        feats = self.extract(z)
        c = self.neck_center_size
        if c is None:
            return feats
        return [center_crop(f, c) if f.shape[-1] > c else f for f in feats]

    def fuse(self, zf: Sequence[torch.Tensor], xf: Sequence[torch.Tensor]) -> torch.Tensor:
        """Per-level depth-wise xcorr, concatenated in level order (layer2, 3, 4), then ``down``."""
        if len(zf) != len(xf):
            raise ValueError(f"SiamCARNet.fuse: {len(zf)} template levels vs {len(xf)} search levels")
        corr = torch.cat([xcorr_depthwise(x, z) for z, x in zip(zf, xf)], dim=1)
        return self.down(corr)

    def head(self, fused: torch.Tensor) -> Dict[str, torch.Tensor]:
        cls, loc, cen = self.car_head(fused)
        return {"cls": cls, "loc": loc, "cen": cen}

    def load_pretrained_backbone(self) -> None:
        """Load ``model.pretrained_backbone`` (ImageNet trunk) — done by the training actor, not at build time,
        so trackers that load a full checkpoint never need the ImageNet file."""
        if getattr(self, "pretrained_backbone", None):
            from ltr.admin.checkpoint import resolve_weights_path

            load_atrous_resnet_weights(self.backbone, resolve_weights_path(self.pretrained_backbone))

    def track(self, zf: Sequence[torch.Tensor], x: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Search-branch forward with cached template features ``zf``."""
        return self.head(self.fuse(zf, self.extract(x)))

    def forward(self, template: torch.Tensor, search: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Training forward: ``cls`` B×2×S×S logits, ``loc`` B×4×S×S (l,t,r,b patch px), ``cen`` B×1×S×S logit."""
        return self.track(self.template(template), search)


@NETWORKS.register("siamcar")
def build_siamcar(cfg: Optional[SiamCARModelConfig] = None) -> SiamCARNet:
    """Build SiamCAR from the ``model`` section (default: the official full-size network)."""
    cfg = cfg or SiamCARModelConfig()
    backbone = AtrousResNet(layers=cfg.backbone_layers, used_layers=cfg.used_layers, width=cfg.backbone_width)
    net = SiamCARNet(
        backbone,
        neck_channels=cfg.neck_channels,
        neck_center_size=cfg.neck_center_size,
        head_convs=cfg.head_convs,
        gn_groups=cfg.gn_groups,
        prior_prob=cfg.prior_prob,
    )
    net.pretrained_backbone = cfg.pretrained_backbone
    return net
