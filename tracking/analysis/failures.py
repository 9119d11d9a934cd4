"""Why a tracker lost its target: per-sequence loss frame and cause, from result files and ground truth.

An AUC says how much was lost, not why.  For each sequence this finds the first lasting loss (the IoU with a
visible target stays below ``lost_iou`` for ``min_run`` visible frames) and names its cause from what the
dataset annotates:

* ``look-alike`` — while losing the target the box sat on an annotated similar object (the synthetic
  benchmark's ``distractors.txt``) more than on the target: a switch to a distractor;
* ``occlusion/exit`` — the target was fully hidden, out of view or at most 30 % visible (GOT-10k ``cover``
  level <= 2) between the last good frame and the loss: the tracker did not find it again;
* ``drift`` — neither: the box slid onto background or clutter;
* ``kept`` — no lasting loss.

A look-alike switch takes precedence when both happened (it says where the tracker went).  ``recovered``
tells whether the target was found again later (IoU >= 0.5).  Works on any dataset; without distractor
boxes no loss is called a look-alike switch, and without visibility annotations none is called an occlusion.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence as Seq

import numpy as np

from tracking.analysis.metrics import iou
from tracking.evaluation.data import Sequence

__all__ = ["CAUSES", "SequenceFailure", "classify_sequence", "classify_dataset", "count_causes",
           "load_distractor_boxes"]

CAUSES = ("kept", "look-alike", "occlusion/exit", "drift")


@dataclass
class SequenceFailure:
    name: str
    cause: str  # one of CAUSES
    lost_frame: Optional[int] = None  # first frame of the lasting loss
    last_good_frame: Optional[int] = None  # last frame before it with IoU >= lost_iou
    recovered_frame: Optional[int] = None  # first later frame with IoU >= 0.5

    @property
    def recovered(self) -> bool:
        return self.recovered_frame is not None


def _iou_many(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU of one [x, y, w, h] box with (k, 4) boxes (NaN rows give 0)."""
    if others.size == 0:
        return np.zeros(0)
    return np.nan_to_num(iou(np.repeat(box[None], len(others), 0), others), nan=0.0)


def classify_sequence(name: str, pred: np.ndarray, gt: np.ndarray, *, cover: Optional[np.ndarray] = None,
                      distractors: Optional[np.ndarray] = None, lost_iou: float = 0.1, min_run: int = 10,
                      alike_iou: float = 0.3, hidden_cover: int = 2) -> SequenceFailure:
    """Classify one sequence.

    Args:
        pred, gt: (N, 4) ``[x, y, w, h]``; GT rows that are NaN or empty count as target not visible.
        cover: (N,) GOT-10k visibility levels (0 = invisible, 8 = full); None = visible wherever GT is valid.
        distractors: (N, k, 4) boxes of similar objects (NaN where absent); None = not annotated.
        lost_iou, min_run: a loss is ``min_run`` consecutive visible frames with IoU below ``lost_iou``.
        alike_iou: IoU with a distractor (and above that with the target) that counts as sitting on it.
        hidden_cover: cover levels up to this count as (nearly) hidden; 2 = at most 30 % visible.
    """
    pred = np.asarray(pred, dtype=np.float64).reshape(-1, 4)
    gt = np.asarray(gt, dtype=np.float64).reshape(-1, 4)
    if len(pred) != len(gt):
        raise ValueError(f"{name}: {len(pred)} predicted boxes for {len(gt)} ground-truth frames")
    n = len(gt)
    valid_gt = np.all(np.isfinite(gt), 1) & (gt[:, 2] > 0) & (gt[:, 3] > 0)
    if cover is not None:
        cover = np.asarray(cover).reshape(-1)
        if len(cover) != n:
            raise ValueError(f"{name}: {len(cover)} cover levels for {n} frames")
        visible = valid_gt & (cover > 0)
    else:
        visible = valid_gt
    ov = np.zeros(n)
    ov[valid_gt] = np.nan_to_num(iou(pred[valid_gt], gt[valid_gt]), nan=0.0)

    # first lasting loss: min_run consecutive *visible* frames below lost_iou (hidden frames are skipped)
    vis_idx = np.nonzero(visible)[0]
    lost_frame = None
    run = 0
    for k, t in enumerate(vis_idx):
        run = run + 1 if ov[t] < lost_iou else 0
        if run == min_run:
            lost_frame = int(vis_idx[k - min_run + 1])
            break
    if lost_frame is None:
        return SequenceFailure(name, "kept")
    good = np.nonzero((ov >= lost_iou) & visible & (np.arange(n) < lost_frame))[0]
    last_good = int(good[-1]) if good.size else 0
    after = np.nonzero((ov >= 0.5) & visible & (np.arange(n) > lost_frame))[0]
    recovered = int(after[0]) if after.size else None

    window_end = int(vis_idx[min(len(vis_idx) - 1, np.searchsorted(vis_idx, lost_frame) + min_run - 1)])
    cause = "drift"
    if distractors is not None:
        d = np.asarray(distractors, dtype=np.float64)
        if d.shape[:1] != (n,) or d.ndim != 3 or d.shape[2] != 4:
            raise ValueError(f"{name}: distractor boxes must be ({n}, k, 4), got {d.shape}")
        for t in range(last_good + 1, window_end + 1):
            on = _iou_many(pred[t], d[t])
            if on.size and on.max() >= alike_iou and on.max() > ov[t]:
                cause = "look-alike"
                break
    if cause == "drift":
        span = slice(last_good + 1, lost_frame + 1)
        hidden = ~valid_gt[span]
        if cover is not None:
            hidden = hidden | (cover[span] <= hidden_cover)
        if hidden.any():
            cause = "occlusion/exit"
    return SequenceFailure(name, cause, lost_frame, last_good, recovered)


def load_distractor_boxes(seq: Sequence) -> Optional[np.ndarray]:
    """(N, k, 4) look-alike boxes of a synthetic-benchmark sequence (``distractors.txt`` beside its frames,
    rebuilt for splits written before it); None for other datasets."""
    from ltr.dataset.synthetic.generator import DISTRACTOR_FILE, sequence_distractor_boxes

    d = Path(seq.frames[0]).parent
    if not (d / DISTRACTOR_FILE).is_file() and not seq.dataset.startswith("synthetic"):
        return None
    return sequence_distractor_boxes(d, len(seq.frames))


def classify_dataset(preds: Seq[np.ndarray], seqs: Seq[Sequence], **kw) -> List[SequenceFailure]:
    """:func:`classify_sequence` for each sequence, with its ``cover`` attribute and distractor file if any."""
    out = []
    for p, s in zip(preds, seqs):
        p = np.asarray(p, dtype=np.float64).reshape(-1, 4)
        n = len(s.ground_truth)
        if len(p) != n:  # a short result (some protocols allow it) is lost where it stops
            p = np.vstack([p[:n], np.full((max(0, n - len(p)), 4), np.nan)])
        cover = (s.attributes or {}).get("cover")
        out.append(classify_sequence(s.name, p, s.ground_truth, cover=None if cover is None else np.asarray(cover),
                                     distractors=load_distractor_boxes(s), **kw))
    return out


def count_causes(failures: Seq[SequenceFailure]) -> Dict[str, int]:
    """Sequences per cause (every cause present, in :data:`CAUSES` order), plus ``recovered`` among the lost."""
    counts = {c: 0 for c in CAUSES}
    for f in failures:
        counts[f.cause] += 1
    counts["recovered"] = sum(1 for f in failures if f.cause != "kept" and f.recovered)
    return counts
