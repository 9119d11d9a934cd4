"""Where the AUC goes: the score a tracker would get with an exact box size, or an exact centre.

A success curve mixes two errors: *where* the box is (robustness, re-detection, look-alikes) and *how big*
it is (the box regression and its smoothing).  Re-scoring the same results twice, once with each predicted
box resized to the ground-truth size about its own centre and once with the ground-truth centre and the
predicted size, splits the missing AUC between the two without running the tracker again.  The
re-scoring uses the same protocol as the main table, so the three numbers compare directly.

Frames whose ground truth is not a valid box (NaN, zero or negative size: absent targets) keep the
prediction unchanged, so the protocol treats them exactly as it does for the real results.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence as Seq

import numpy as np

__all__ = ["substitute_box_part", "oracle_aucs"]


def substitute_box_part(pred: np.ndarray, gt: np.ndarray, part: str) -> np.ndarray:
    """``pred`` (N, 4) xywh with its ``part`` (``'size'`` or ``'centre'``) taken from ``gt`` where ``gt`` is valid.

    ``'size'`` keeps each predicted centre and sets the GT width/height; ``'centre'`` keeps the predicted
    width/height and moves the box onto the GT centre.  The centre is ``xy + wh/2``; under the inclusive-pixel
    convention (``xy + (wh − 1)/2``) the same boxes result, since the ``−1/2`` cancels.
    """
    pred = np.asarray(pred, dtype=np.float64).reshape(-1, 4)
    gt = np.asarray(gt, dtype=np.float64).reshape(-1, 4)
    if pred.shape != gt.shape:
        raise ValueError(f"substitute_box_part: {len(pred)} predicted boxes for {len(gt)} ground-truth boxes")
    if part not in ("size", "centre"):
        raise ValueError(f"substitute_box_part: part must be 'size' or 'centre', got '{part}'")
    ok = np.all(np.isfinite(gt), axis=1) & (gt[:, 2] > 0) & (gt[:, 3] > 0) & np.all(np.isfinite(pred), axis=1)
    out = pred.copy()
    pc = pred[:, :2] + pred[:, 2:] / 2.0
    gc = gt[:, :2] + gt[:, 2:] / 2.0
    if part == "size":
        out[ok, 2:] = gt[ok, 2:]
        out[ok, :2] = pc[ok] - gt[ok, 2:] / 2.0
    else:
        out[ok, :2] = gc[ok] - pred[ok, 2:] / 2.0
    return out


def oracle_aucs(preds: Seq[np.ndarray], gts: Seq[np.ndarray], protocol: str,
                visible: Optional[Seq[Optional[np.ndarray]]] = None, *, dataset: Optional[str] = None,
                names: Optional[Seq[str]] = None) -> Dict[str, float]:
    """``exact_size`` and ``exact_centre``: the OPE AUC of ``preds`` after :func:`substitute_box_part`, under
    ``protocol`` (the same arguments as :func:`tracking.analysis.metrics.compute_ope`)."""
    from tracking.analysis.metrics import compute_ope

    out = {}
    for key, part in (("exact_size", "size"), ("exact_centre", "centre")):
        swapped = [substitute_box_part(p, g, part) for p, g in zip(preds, gts)]
        out[key] = float(compute_ope(swapped, list(gts), protocol, visible, dataset=dataset, names=names).auc)
    return out
