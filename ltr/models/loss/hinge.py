"""DiMP's classification loss for online classifiers (Ocean-online, FCOT-cls, DuML-ONR).

``lbhinge_loss`` (pytracking ``LBHinge``): where the Gaussian label is below ``threshold`` the score is
passed through a ReLU (negatives only have to be ≤ 0), elsewhere it must match the label; then MSE.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

__all__ = ["lbhinge_loss"]


def lbhinge_loss(prediction: torch.Tensor, label: torch.Tensor, threshold: float = 0.05,
                 clip: Optional[float] = None) -> torch.Tensor:
    """mean((m_neg·relu(s) + m_pos·s − m_pos·y)²) with m_neg = [y < threshold], m_pos = 1 − m_neg."""
    if prediction.shape != label.shape:
        raise ValueError(f"lbhinge_loss: prediction {tuple(prediction.shape)} vs label {tuple(label.shape)}")
    neg = (label < threshold).to(prediction.dtype)
    pos = 1.0 - neg
    pred = neg * F.relu(prediction) + pos * prediction
    loss = F.mse_loss(pred, pos * label)
    if clip is not None:
        loss = torch.clamp(loss, max=clip)
    return loss
