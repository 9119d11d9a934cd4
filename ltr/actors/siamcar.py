"""SiamCAR training actor: forward a template/search batch, assign labels on the score grid, compute losses.

Labels are computed here from the search-crop GT box (vectorised over the batch), exactly as the
official ``loss_car.py`` does inside the loss, so the data pipeline stays tracker-agnostic:

* grid: cell (i, j) ↔ crop point (offset + stride·j, offset + stride·i), offset 32 for 255/25 (§2.7);
* regression targets l = x − x0, t = y − y0, r = x1 − x, b = y1 − y (crop px, unnormalised);
* positives: central ``pos_region``² sub-box (official) or the whole box (paper), everything else 0;
  negative pairs (``neg``) get no positives;
* L = cls_w·CE_balanced + loc_w·IoU(log, centerness-weighted or plain mean) + cen_w·BCE(centerness).

Inputs must be BGR 0–255 (``train.processing.normalize: bgr255``), the network's convention.
"""
from __future__ import annotations

from typing import Any, Dict, Tuple

import torch

from ltr.admin.config import ConfigError
from ltr.admin.registry import ACTORS
from ltr.data.labels import central_region_mask, centerness_targets, grid_points, inside_box_mask, ltrb_targets
from ltr.models.loss.classification import balanced_cross_entropy, hard_negative_cross_entropy, masked_bce_with_logits
from ltr.models.loss.iou import iou_loss

__all__ = ["SiamCARActor", "siamcar_targets", "training_grid_offset"]


def training_grid_offset(search_size: int, score_size: int, stride: int) -> float:
    """Round-half-up of (X − (S − 1)·stride)/2: 32 for 255/25/8, the official constant."""
    import math

    return float(math.floor((search_size - (score_size - 1) * stride) / 2.0 + 0.5))


def siamcar_targets(
    boxes: torch.Tensor,
    score_size: int,
    stride: int,
    offset: float,
    label_rule: str = "official",
    pos_region: float = 0.4,
) -> Dict[str, torch.Tensor]:
    """Per-cell targets for GT ``boxes`` (B, 4) xywh in search-crop px.

    Returns ``labels`` (B, S, S) float {0, 1}, ``pos`` (B, S·S) bool, ``ltrb`` (B, S·S, 4),
    ``centerness`` (B, S·S) (0 outside the box).
    """
    pts = grid_points(score_size, stride, offset, device=boxes.device, dtype=torch.float32)
    ltrb = ltrb_targets(pts, boxes.float())
    if label_rule == "official":
        pos = central_region_mask(ltrb, ratio=pos_region / 2.0)
    elif label_rule == "paper":
        pos = inside_box_mask(ltrb)
    else:
        raise ValueError(f"siamcar_targets: label_rule must be 'official' or 'paper', got '{label_rule}'")
    b = boxes.shape[0]
    return {
        "labels": pos.float().reshape(b, score_size, score_size),
        "pos": pos,
        "ltrb": ltrb,
        "centerness": centerness_targets(ltrb),
    }


@ACTORS.register("siamcar")
class SiamCARActor:
    def __init__(self, net: torch.nn.Module, cfg: Any) -> None:
        self.net = net
        self.cfg = cfg
        self.loss_cfg = cfg.train.loss
        norm = getattr(cfg.train.processing, "normalize", "bgr255")
        if norm != "bgr255":
            raise ConfigError(f"siamcar: train.processing.normalize must be 'bgr255' (the network's BGR 0-255 input), got '{norm}'")
        # ImageNet trunk (pysot resnet50.model); a resumed run overwrites it with the checkpoint
        load_trunk = getattr(net, "load_pretrained_backbone", None)
        if callable(load_trunk):
            load_trunk()
        m = cfg.model
        self.stride = m.stride
        self.score_size = m.score_size()
        lc = self.loss_cfg
        self.offset = lc.grid_offset if lc.grid_offset is not None else training_grid_offset(m.search_size, self.score_size, m.stride)

    def compute_losses(self, out: Dict[str, torch.Tensor], boxes: torch.Tensor,
                       neg: torch.Tensor | None = None) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """Losses of network outputs ``out`` against GT ``boxes`` (B, 4) xywh in search-crop px."""
        lc = self.loss_cfg
        cls, loc, cen = out["cls"], out["loc"], out["cen"]
        b, _, s, _ = cls.shape
        if s != self.score_size:
            raise RuntimeError(f"siamcar: network score map is {s}x{s}, config expects {self.score_size} (model sizes)")
        t = siamcar_targets(boxes, s, self.stride, self.offset, lc.label_rule, lc.pos_region)
        pos = t["pos"]
        if neg is not None:
            pos = pos & ~neg.reshape(b, 1).bool()
        labels = pos.float().reshape(b, s, s)
        cls_loss = balanced_cross_entropy(cls, labels)
        hard = None
        if lc.hard_neg_topk > 0:
            outside = ~inside_box_mask(t["ltrb"])  # cells of the target box are neither mined nor positives
            if neg is not None:  # a negative pair's GT box is another object's: every cell is a negative
                outside = outside | neg.reshape(b, 1).bool()
            hard = hard_negative_cross_entropy(cls, outside.reshape(b, s, s), lc.hard_neg_topk)
            cls_loss = cls_loss + lc.hard_neg_weight * hard
        loc_flat = loc.permute(0, 2, 3, 1).reshape(b, s * s, 4)[pos]
        tgt = t["ltrb"][pos]
        cen_t = t["centerness"][pos]
        weight = cen_t if lc.reg_weighting == "centerness" else None
        loc_loss = iou_loss(loc_flat, tgt, weight=weight, loss_type="log")
        cen_loss = masked_bce_with_logits(cen.reshape(b, s * s)[pos], cen_t)
        total = lc.cls_weight * cls_loss + lc.loc_weight * loc_loss + lc.cen_weight * cen_loss
        stats = {
            "loss": total.detach(),
            "cls": cls_loss.detach(),
            "loc": loc_loss.detach(),
            "cen": cen_loss.detach(),
            "num_pos": pos.sum().float() / max(b, 1),
        }
        if hard is not None:
            stats["hard_neg"] = hard.detach()
        return total, stats

    def __call__(self, batch: Dict[str, torch.Tensor]) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        out = self.net(batch["template"], batch["search"])
        return self.compute_losses(out, batch["search_box"], batch.get("neg"))
