"""Ocean offline network (ocean.md §2): atrous ResNet-50 → neck → matching/towers → (OA head).

Input convention of the Siamese path: **BGR 0–255 float** crops, no normalisation (TracKit/pysot).

Call pattern (no hidden state in the module, so one network serves any number of trackers):

* training: ``out = net(template, search)``;
* tracking: ``ts = net.template(z)`` once, then ``out = net.track(x, ts)`` per frame.

``out`` holds ``cls`` (B×1×S×S plain logit z_r), ``reg`` (B×4×S×S ltrb in crop px) and, with the OA
head, ``align`` (B×1×S×S logit z_o) and ``offsets`` (B×18×S×S).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional

import torch
import torch.nn as nn

from ltr.models.backbones.resnet_atrous import AtrousResNet, load_atrous_resnet_weights
from ltr.models.layers.neck import AdjustLayer
from ops.deform_conv import ocean_box_offsets

from .config import OceanModelConfig
from .head import OceanAlignHead, OceanHead

__all__ = ["OceanNet", "resolve_weights_path", "feature_size"]


def resolve_weights_path(name: str) -> Path:
    """A file path, or a ``pretrained.<name>`` entry of the local settings (error names both)."""
    p = Path(name).expanduser()
    if p.is_file():
        return p
    from ltr.admin.settings import get_settings

    try:
        return get_settings().pretrained_path(name)
    except FileNotFoundError as e:
        raise FileNotFoundError(f"model.pretrained_backbone '{name}': not a file and not a settings entry ({e})") from e


class OceanNet(nn.Module):
    """The Ocean network; ``online`` holds the optional online classifier branch (§3)."""

    def __init__(self, cfg: Optional[OceanModelConfig] = None) -> None:
        super().__init__()
        cfg = cfg or OceanModelConfig()
        self.cfg = cfg
        layers = [int(n) for n in cfg.backbone_layers] + [1]  # layer4 is not built (used_layers=[3])
        self.backbone = AtrousResNet(layers=layers, used_layers=[3], width=cfg.backbone_width,
                                     shortcut_kernel=cfg.backbone_shortcut_kernel)
        self.neck = AdjustLayer(self.backbone.out_channels[0], cfg.channels, center_size=cfg.template_center,
                                crop_threshold=cfg.crop_threshold)
        self.head = OceanHead(cfg.channels, cfg.tower_num, [tuple(r) for r in cfg.rates], cfg.combine,
                              cfg.cls_scale, cfg.reg_adjust_init, cfg.reg_bias_init)
        self.align_head = OceanAlignHead(cfg.channels, cfg.align_kind) if cfg.align else None
        self.online: Optional[nn.Module] = None
        if cfg.online.enabled:
            from .online import OceanOnlineBranch

            self.online = OceanOnlineBranch(self.backbone, cfg.online)

    def load_pretrained_backbone(self) -> None:
        """Load ``model.pretrained_backbone`` (ImageNet trunk) — done by the training actor, not at build time,
        so trackers that load a full checkpoint never need the ImageNet file."""
        if self.cfg.pretrained_backbone:
            load_atrous_resnet_weights(self.backbone, resolve_weights_path(self.cfg.pretrained_backbone))

    # ------------------------------------------------------------------ pieces
    def extract(self, img: torch.Tensor) -> torch.Tensor:
        """Backbone layer3 → neck (template maps are centre-cropped by the neck)."""
        return self.neck(self.backbone(img)[0])

    def offsets(self, reg: torch.Tensor, search_size: int) -> torch.Tensor:
        """OA deformable-conv offsets from the (non-detached) ltrb prediction (§2.5).

        torchvision's CPU ``deform_conv2d`` crashes the process on non-finite offsets (an overflowing
        ``exp`` of an untrained or diverged regressor). Offsets are therefore mapped to finite values and
        clamped to ±(H + W + 4) cells: any sample that far away lies outside the map and reads 0 either
        way, so finite offsets give bit-identical results and gradients.
        """
        off = ocean_box_offsets(reg, search_size, self.cfg.stride)
        lim = float(reg.shape[-1] + reg.shape[-2] + 4)
        return torch.nan_to_num(off, nan=lim, posinf=lim, neginf=-lim).clamp(-lim, lim)

    def predict(self, xf: torch.Tensor, search_size: int, zf: Optional[torch.Tensor] = None,
                z_enc: Optional[Dict[str, Any]] = None, use_align: bool = True,
                detach_offsets: bool = False) -> Dict[str, torch.Tensor]:
        """Head (+ OA head). ``detach_offsets`` stops L_o's gradient into the regressor via the offsets (ablation;
        TracKit keeps it)."""
        out = self.head(zf, xf, z_enc)
        if self.align_head is not None and use_align:
            reg = out["reg"].detach() if detach_offsets else out["reg"]
            out["offsets"] = self.offsets(reg, search_size)
            out.update(self.align_head(out["reg_feature"], out["offsets"]))
        return out

    # ------------------------------------------------------------------ API
    def forward(self, template: torch.Tensor, search: torch.Tensor, use_align: bool = True,
                detach_offsets: bool = False) -> Dict[str, torch.Tensor]:
        """Training forward on B template/search pairs (BGR 0–255)."""
        zf = self.extract(template)
        xf = self.extract(search)
        return self.predict(xf, search.shape[-1], zf=zf, use_align=use_align, detach_offsets=detach_offsets)

    def template(self, z: torch.Tensor) -> Dict[str, Any]:
        """Template state for :meth:`track`: neck features and their matching encodings (computed once)."""
        zf = self.extract(z)
        return {"zf": zf, "enc": self.head.encode_template(zf)}

    def track(self, x: torch.Tensor, template_state: Dict[str, Any], use_align: bool = True) -> Dict[str, torch.Tensor]:
        xf = self.extract(x)
        return self.predict(xf, x.shape[-1], z_enc=template_state["enc"], use_align=use_align)

    def score_size(self, search_size: int) -> int:
        """Score-map side for a search crop (computed from the geometry, valid for reduced variants)."""
        return feature_size(search_size, self.cfg) - feature_size(self.cfg.exemplar_size, self.cfg) + 1


def _trunk_size(size: int) -> int:
    # conv1 (7, s2, p0) → maxpool (3, s2, p1) → layer2 (3, s2, p0); layer3 keeps the size
    s = (size - 7) // 2 + 1
    s = (s + 2 - 3) // 2 + 1
    return (s - 3) // 2 + 1


def feature_size(input_size: int, cfg: OceanModelConfig) -> int:
    """Side of the neck output for an input crop, including the template centre crop (maps narrower than
    ``crop_threshold``; it would also hit a search map that small)."""
    s = _trunk_size(input_size)
    if cfg.template_center is not None and s < cfg.crop_threshold:
        s = cfg.template_center
    return s
