"""IoU losses on (l, t, r, b) distance predictions (UnitBox / FCOS family), shared by SiamCAR and Ocean.

Both boxes of a pair share the anchor point, so intersection and union follow directly from the
distances:  I = (min(l̂,l) + min(r̂,r)) · (min(t̂,t) + min(b̂,b)),  U = Â + A − I.

``loss_type``:
* ``'log'``    −ln((I + 1)/(U + 1))  (UnitBox; SiamCAR and TracKit/Ocean code, +1 smoothing)
* ``'linear'`` 1 − (I + 1)/(U + 1)
* ``'giou'``   1 − (IoU − (C − U)/C) with C the enclosing box area (no smoothing)

Reduction: with ``weight`` the weighted mean Σ wᵢ·lossᵢ / Σ wᵢ (FCOS/SiamCAR: weight = centerness
targets); otherwise the plain mean.  An empty input gives a graph-connected 0, never NaN.
"""
from __future__ import annotations

from typing import Literal, Optional

import torch
import torch.nn as nn

__all__ = ["iou_loss", "IoULoss", "ltrb_iou"]

LossType = Literal["log", "linear", "giou"]


def ltrb_iou(pred: torch.Tensor, target: torch.Tensor, smooth: float = 0.0) -> torch.Tensor:
    """(I + smooth)/(U + smooth) of ltrb pairs (..., 4) sharing the anchor point."""
    pl, pt, pr, pb = pred.unbind(-1)
    tl, tt, tr, tb = target.unbind(-1)
    inter = (torch.minimum(pl, tl) + torch.minimum(pr, tr)) * (torch.minimum(pt, tt) + torch.minimum(pb, tb))
    union = (pl + pr) * (pt + pb) + (tl + tr) * (tt + tb) - inter
    return (inter + smooth) / (union + smooth)


def iou_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    weight: Optional[torch.Tensor] = None,
    loss_type: LossType = "log",
    reduction: Literal["mean", "none"] = "mean",
) -> torch.Tensor:
    """IoU loss of ``pred`` vs ``target`` (N, 4) ltrb distances (pixels, > 0)."""
    if pred.shape != target.shape or pred.shape[-1] != 4:
        raise ValueError(f"iou_loss: pred {tuple(pred.shape)} and target {tuple(target.shape)} must both be (..., 4)")
    if loss_type == "log":
        losses = -torch.log(ltrb_iou(pred, target, smooth=1.0))
    elif loss_type == "linear":
        losses = 1.0 - ltrb_iou(pred, target, smooth=1.0)
    elif loss_type == "giou":
        pl, pt, pr, pb = pred.unbind(-1)
        tl, tt, tr, tb = target.unbind(-1)
        inter = (torch.minimum(pl, tl) + torch.minimum(pr, tr)) * (torch.minimum(pt, tt) + torch.minimum(pb, tb))
        union = (pl + pr) * (pt + pb) + (tl + tr) * (tt + tb) - inter
        enclose = (torch.maximum(pl, tl) + torch.maximum(pr, tr)) * (torch.maximum(pt, tt) + torch.maximum(pb, tb))
        losses = 1.0 - (inter / union.clamp_min(1e-12) - (enclose - union) / enclose.clamp_min(1e-12))
    else:
        raise ValueError(f"iou_loss: unknown loss_type '{loss_type}' (log, linear, giou)")
    if reduction == "none":
        return losses
    if losses.numel() == 0:
        return pred.sum() * 0.0
    if weight is not None:
        weight = weight.reshape(losses.shape).to(losses.dtype)
        wsum = weight.sum()
        if wsum > 0:
            return (losses * weight).sum() / wsum
    return losses.mean()


class IoULoss(nn.Module):
    def __init__(self, loss_type: LossType = "log") -> None:
        super().__init__()
        self.loss_type = loss_type

    def forward(self, pred: torch.Tensor, target: torch.Tensor, weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        return iou_loss(pred, target, weight, self.loss_type)
