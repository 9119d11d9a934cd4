"""Classification losses of the Siamese trackers.

``balanced_cross_entropy`` is pysot's ``select_cross_entropy_loss``: log-softmax + NLL averaged
separately over positives (label 1) and negatives (label 0) of the whole batch and mixed 0.5/0.5;
label −1 is ignored and an empty group contributes 0.  ``masked_bce_with_logits`` is the
centerness loss: BCE-with-logits averaged over the selected (positive) points, 0 when none.
``hard_negative_cross_entropy`` is an online-hard-example-mining term (a SOTLab extension): per image,
the mean CE of its ``k`` highest-scoring negatives, so that a look-alike's few cells are not drowned by
hundreds of easy background cells in the balanced mean.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

__all__ = ["balanced_cross_entropy", "masked_bce_with_logits", "hard_negative_cross_entropy"]


def balanced_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, pos_weight: float = 0.5) -> torch.Tensor:
    """``logits`` (B, K, H, W) class scores (K = 2: channel 1 = foreground), ``labels`` (B, H, W) in {−1, 0, 1}."""
    if logits.dim() != 4 or labels.shape != (logits.shape[0],) + tuple(logits.shape[2:]):
        raise ValueError(f"balanced_cross_entropy: logits {tuple(logits.shape)} vs labels {tuple(labels.shape)}")
    logp = F.log_softmax(logits, dim=1).permute(0, 2, 3, 1).reshape(-1, logits.shape[1])
    lab = labels.reshape(-1)
    loss = logits.sum() * 0.0
    for value, w in ((1, pos_weight), (0, 1.0 - pos_weight)):
        sel = lab == value
        if bool(sel.any()):
            loss = loss + w * F.nll_loss(logp[sel], torch.full((int(sel.sum()),), value, dtype=torch.long, device=logits.device))
    return loss


def masked_bce_with_logits(logits: torch.Tensor, targets: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Mean BCE-with-logits over ``mask`` (all points when None); a graph-connected 0 when the selection is empty."""
    lg = logits.reshape(-1)
    tg = targets.reshape(-1).to(lg.dtype)
    if mask is not None:
        m = mask.reshape(-1).bool()
        lg, tg = lg[m], tg[m]
    if lg.numel() == 0:
        return logits.sum() * 0.0
    return F.binary_cross_entropy_with_logits(lg, tg)


def hard_negative_cross_entropy(logits: torch.Tensor, candidates: torch.Tensor, k: int) -> torch.Tensor:
    """Mean over images of the mean background CE of each image's ``k`` hardest candidate negatives.

    ``logits`` (B, 2, H, W) two-way scores (softmax, channel 0 = background: CE = −log p_bg) or (B, 1, H, W)
    one foreground logit (sigmoid, BCE with label 0 = softplus(x)); ``candidates`` (B, H, W) bool, the cells
    that may be mined (the caller leaves out positives and the ambiguous cells inside the target box). An
    image with fewer than ``k`` candidates uses all it has; images without any are skipped; a graph-connected
    0 when no image has one.
    """
    if logits.dim() != 4 or logits.shape[1] not in (1, 2) or \
            candidates.shape != (logits.shape[0],) + tuple(logits.shape[2:]):
        raise ValueError(f"hard_negative_cross_entropy: logits {tuple(logits.shape)} vs candidates {tuple(candidates.shape)}")
    if k < 1:
        raise ValueError(f"hard_negative_cross_entropy: k must be >= 1, got {k}")
    b = logits.shape[0]
    x = logits.float()
    ce = (-F.log_softmax(x, dim=1)[:, 0] if x.shape[1] == 2 else F.softplus(x[:, 0])).reshape(b, -1)
    cand = candidates.reshape(b, -1).bool()
    n = cand.sum(1)
    kk = min(k, ce.shape[1])
    # non-candidates sort last (every CE is >= 0); the per-image mean then takes only the first min(k, n) values
    top = torch.where(cand, ce, torch.full_like(ce, -1.0)).topk(kk, dim=1).values
    used = n.clamp(max=kk)  # values averaged per image
    take = torch.arange(kk, device=ce.device)[None, :] < used[:, None]
    has = n > 0
    if not bool(has.any()):
        return logits.sum() * 0.0
    per_image = (top * take).sum(1)[has] / used[has]
    return per_image.mean()
