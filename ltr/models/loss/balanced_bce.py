"""Binary classification losses on logits used by Ocean (and any sigmoid-scored Siamese head).

``balanced_bce_with_logits`` is TracKit's ``_weighted_BCE``: BCE-with-logits averaged separately over the
positives (label == 1) and the negatives (label == 0) of the whole batch, mixed 50/50, so a 13-cell
positive diamond is not drowned by ~600 negatives. Labels other than 0/1 are ignored; an empty group
contributes 0 (TracKit returns 0 as well).

``soft_bce_with_logits`` is the object-aware loss: BCE-with-logits against soft targets (the IoU of the
predicted box) averaged over *all* cells, with TracKit's NaN guard (a NaN loss becomes 0).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["balanced_bce_with_logits", "soft_bce_with_logits"]


def balanced_bce_with_logits(logits: torch.Tensor, labels: torch.Tensor, pos_weight: float = 0.5) -> torch.Tensor:
    """``pos_weight``·mean BCE over label-1 cells + (1 − ``pos_weight``)·mean BCE over label-0 cells."""
    if logits.numel() != labels.numel():
        raise ValueError(f"balanced_bce_with_logits: logits {tuple(logits.shape)} and labels {tuple(labels.shape)} differ in size")
    lg = logits.reshape(-1)
    lab = labels.reshape(-1).to(lg.dtype)
    loss = lg.sum() * 0.0
    for value, w in ((1.0, pos_weight), (0.0, 1.0 - pos_weight)):
        sel = lab == value
        if bool(sel.any()):
            loss = loss + w * F.binary_cross_entropy_with_logits(lg[sel], lab[sel])
    return loss


def soft_bce_with_logits(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean BCE-with-logits over all cells against soft ``targets`` in [0, 1]; NaN → 0 (TracKit guard)."""
    if logits.numel() != targets.numel():
        raise ValueError(f"soft_bce_with_logits: logits {tuple(logits.shape)} and targets {tuple(targets.shape)} differ in size")
    loss = F.binary_cross_entropy_with_logits(logits.reshape(-1), targets.reshape(-1).to(logits.dtype))
    if torch.isnan(loss):
        return logits.new_zeros(())  # no graph: a NaN upstream would turn even 0·loss into NaN gradients
    return loss
