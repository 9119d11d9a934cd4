"""Tracking metrics with an explicit ``protocol`` switch (numpy, vectorised).

Every toolkit computes "the same" success/precision numbers differently (IoU with or without the
inclusive-pixel ``+1``, ``(w-1)/2`` vs ``(w+1)/2`` centres, what happens to frames with invalid or
absent ground truth, mean vs ``trapz`` AUC, ...).  The same tracker output can therefore score
66.1, 68.1 or 70.3 AUC on UAV123 depending on the toolkit (chenxin-dlut/TransT#96).  SOTLab makes
the convention an argument and reproduces each toolkit's rules exactly (see
``shared/notes/anchors.md`` §2 and ``tests/analysis/test_metrics_golden.py``).

Protocols (``PROTOCOLS``) and the published numbers they reproduce
----------------------------------------------------------------
``pytracking``      pytracking ``analysis/extract_results.py`` + ``plot_results.py``: the OTB-100, NFS,
                    UAV123 and LaSOT numbers of pytracking's MODEL_ZOO / DiMP, ATOM, FCOT, DCFST papers
                    (FCOT, DCFST and OSTrack are pytracking forks).  21 IoU thresholds
                    ``arange(0, 1.05, .05)``, strict ``>``, AUC = mean of the curve, inclusive-pixel IoU,
                    centre ``xy + (wh-1)/2``, first frame forced to the GT, GT valid iff ``w > 0 and
                    h > 0`` (and visible), invalid frames stay in the denominator (IoU -1; centre error
                    +inf, except ``dataset='uav'`` where it is -1 = a success; normalised error -1);
                    ``dataset='lasot'``: invisible frames get +inf centre errors and shorter
                    predictions raise.  Zero-size predictions copy the previous box; NaN or negative
                    sizes raise (as pytracking does).  Shorter predictions are zero-padded.
``pysot``           pysot ``toolkit/utils/statistics.py`` + ``evaluation/ope_benchmark.py``: the OTB /
                    UAV / LaSOT numbers in pysot-family papers (SiamRPN++, SiamCAR, Ocean's TracKit
                    copy).  Continuous IoU clipped to [0, 1], GT valid iff ``w, h > 0`` (else IoU -1);
                    centre error -1 (a success) where a GT centre is <= 0; the file's first box is
                    used as is; with ``visible`` only visible frames are kept, the denominator stays the
                    full length (pysot's LaSOT ``absent`` rule); lengths must match.
``got10k``          got10k toolkit ``ExperimentOTB`` / ``ExperimentUAV123`` (0.1.3) and LaSOT (master):
                    the OTB/UAV numbers produced with the ``got10k`` pip package (e.g. TransT's UAV 70.3).
                    ``linspace(0, 1, 21)``, continuous IoU with ``+eps`` in the union, centre
                    ``(wh-1)/2``, first frame forced to the GT, frames with NaN GT dropped from numerator
                    and denominator, visibility flags ignored, normalised precision
                    ``(c1-c2)/max(1, gt_wh)`` on ``linspace(0, .5, 51)`` reported as the mean (AUC).
                    Parity with the package is tested to 1e-9 (``tests/analysis/test_got10k_parity.py``).
``lasot_official``  LaSOT MATLAB toolkit (``eval_tracker.m``, ``calc_seq_err_robust.m``,
                    ``plot_draw_save.m``): the LaSOT paper / leaderboard numbers.  Absent frames
                    (``visible == False``) are removed but stay in the denominator (``len + eps``); NaN,
                    complex or non-positive predictions copy the previous box; GT valid iff all four
                    values > 0 (else IoU -1 and centre error -1 = a success); inclusive-pixel IoU;
                    sequences whose curve sums to 0 are dropped before averaging.
``trackingnet``     TrackingNet devkit ``metrics.py`` (the evaluation server): boxes rounded
                    (``np.round``), inclusive pixels, centre ``xy + (wh+1)/2``, 21 thresholds each,
                    success, precision (0-50 px) and normalised precision (0-0.5) reported as
                    ``np.trapz`` AUCs over [0, 1]; missing predictions count as failures.
``vot2018``         vot-toolkit supervised (reset-based) analysis, VOT2016-2019 short-term stacks:
                    :func:`vot_supervised` (accuracy with burn-in 10, failures, robustness
                    ``exp(-30 F / N)``, EAO over ``curve[low:high+1]``; VOT2018 100/356, VOT2019
                    46/291, VOT2016 108/371).  ``interval='pysot'`` gives pysot's off-by-one
                    ``curve[low-1:high]`` window.
``vot2020``         vot-toolkit multistart (anchor-based) analysis of VOT2020+: :func:`vot_multistart`
                    (failure = overlap <= 0.1 for 10 consecutive non-empty-GT frames, EAO 115/755).

All returned scores are fractions in [0, 1] (not percent).  Parity modes for saved result files
(pytracking's truncated integers, got10k's ``%.3f``, TrackingNet's ``%.2f``) are provided by
:func:`as_saved`; results are otherwise kept as floats.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = [
    "PROTOCOLS",
    "OPE_PROTOCOLS",
    "VOT_INTERVALS",
    "MetricError",
    "OPEResult",
    "VOTSupervisedResult",
    "VOTMultistartResult",
    "iou",
    "center_error",
    "normalized_center_error",
    "clip_boxes_to_image",
    "as_saved",
    "thresholds_for",
    "compute_ope",
    "compute_got10k",
    "vot_supervised",
    "vot_multistart",
    "vot_rect_overlap",
    "parse_vot_trajectory",
]

PROTOCOLS: Tuple[str, ...] = ("pytracking", "pysot", "got10k", "lasot_official", "trackingnet", "vot2018", "vot2020")
OPE_PROTOCOLS: Tuple[str, ...] = PROTOCOLS[:5]

#: EAO intervals (low, high) of the VOT short-term stacks (vot-toolkit ``vot/stack/*/shortterm.yaml``).
VOT_INTERVALS: Dict[str, Tuple[int, int]] = {
    "vot2016": (108, 371),
    "vot2017": (100, 356),
    "vot2018": (100, 356),
    "vot2019": (46, 291),
    "vot2020": (115, 755),
    "vot2021": (115, 755),
    "vot2022": (115, 755),
}

_MATLAB_EPS = float(np.finfo(float).eps)  # MATLAB's ``eps`` (used by the LaSOT toolkit's denominators)
_FLOAT_EPS = float(np.finfo(float).eps)  # got10k's ``np.finfo(float).eps`` in the IoU union

ArrayLike = Union[np.ndarray, Sequence[float], Sequence[Sequence[float]]]


class MetricError(ValueError):
    """Bad input for a metric (wrong shape, mismatched lengths a protocol rejects, invalid values)."""


# ----------------------------------------------------------------------------------------------
# box-level helpers
# ----------------------------------------------------------------------------------------------
def _boxes(x: ArrayLike, what: str = "boxes") -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1 and a.shape[0] == 4:
        a = a[None, :]
    if a.ndim != 2 or a.shape[1] != 4:
        raise MetricError(f"{what}: expected an (N, 4) array of [x, y, w, h] boxes, got shape {a.shape}")
    return a


def clip_boxes_to_image(boxes: ArrayLike, bound: Tuple[float, float]) -> np.ndarray:
    """Clip ``[x,y,w,h]`` boxes to ``[0, W] x [0, H]`` exactly as got10k's ``rect_iou(bound=...)`` does.

    x is clipped first, then w to ``W - x`` (so a box left of the image keeps its right edge only
    when it was inside).  Returns a copy: got10k's function clips its inputs *in place*.
    """
    b = _boxes(boxes).copy()
    w_img, h_img = float(bound[0]), float(bound[1])
    b[:, 0] = np.clip(b[:, 0], 0, w_img)
    b[:, 1] = np.clip(b[:, 1], 0, h_img)
    b[:, 2] = np.clip(b[:, 2], 0, w_img - b[:, 0])
    b[:, 3] = np.clip(b[:, 3], 0, h_img - b[:, 1])
    return b


def iou(pred: ArrayLike, gt: ArrayLike, convention: str = "continuous", bound: Optional[Tuple[float, float]] = None,
        eps: float = 0.0, clip: bool = True) -> np.ndarray:
    """Per-row IoU of ``[x,y,w,h]`` boxes.

    ``convention='continuous'``: boxes span ``[x, x+w)`` (pysot, got10k, mmtracking).
    ``convention='pixel'``: boxes cover the inclusive pixel range ``x .. x+w-1`` and the intersection
    gets ``+1`` (pytracking, OTB/LaSOT MATLAB ``calcRectInt``); areas stay ``w*h``.
    ``bound=(W, H)`` clips both boxes to the image first (got10k GOT-10k experiment).
    ``eps`` is added to the union (got10k uses ``np.finfo(float).eps``); ``clip`` clamps to [0, 1].
    """
    p, g = _boxes(pred, "pred"), _boxes(gt, "gt")
    if p.shape != g.shape:
        raise MetricError(f"iou: pred {p.shape} and gt {g.shape} differ in shape")
    if bound is not None:
        p, g = clip_boxes_to_image(p, bound), clip_boxes_to_image(g, bound)
    with np.errstate(invalid="ignore", divide="ignore"):
        if convention == "continuous":
            tl = np.maximum(p[:, :2], g[:, :2])
            br = np.minimum(p[:, :2] + p[:, 2:], g[:, :2] + g[:, 2:])
            wh = np.maximum(br - tl, 0.0)
        elif convention == "pixel":
            tl = np.maximum(p[:, :2], g[:, :2])
            br = np.minimum(p[:, :2] + p[:, 2:] - 1.0, g[:, :2] + g[:, 2:] - 1.0)
            wh = np.maximum(br - tl + 1.0, 0.0)
        else:
            raise MetricError(f"iou: unknown convention '{convention}' (continuous, pixel)")
        inter = wh[:, 0] * wh[:, 1]
        union = p[:, 2] * p[:, 3] + g[:, 2] * g[:, 3] - inter
        out = inter / (union + eps)
    if clip:
        out = np.clip(out, 0.0, 1.0)  # NaN stays NaN (it fails every threshold)
    return out


def _centers(b: np.ndarray, offset: float) -> np.ndarray:
    return b[:, :2] + (b[:, 2:] + offset) / 2.0


def center_error(pred: ArrayLike, gt: ArrayLike, offset: float = -1.0) -> np.ndarray:
    """Euclidean distance of box centres ``xy + (wh + offset)/2``.

    ``offset=-1``: pytracking, pysot, got10k, OTB/LaSOT MATLAB; ``0``: mmtracking (``(x1+x2)/2``);
    ``+1``: TrackingNet devkit.
    """
    p, g = _boxes(pred, "pred"), _boxes(gt, "gt")
    d = _centers(p, offset) - _centers(g, offset)
    return np.sqrt((d ** 2).sum(1))


def normalized_center_error(pred: ArrayLike, gt: ArrayLike, offset: float = -1.0, norm: str = "gt") -> np.ndarray:
    """Centre distance normalised by the GT size.

    ``norm='gt'``: both centres divided by the GT ``(w, h)`` (pytracking, LaSOT MATLAB, TrackingNet);
    ``'eps'``: by ``gt_wh + 1e-16`` (pysot); ``'max1'``: the difference divided by ``max(1, gt_wh)``
    (got10k master).
    """
    p, g = _boxes(pred, "pred"), _boxes(gt, "gt")
    cp, cg, gwh = _centers(p, offset), _centers(g, offset), g[:, 2:]
    with np.errstate(invalid="ignore", divide="ignore"):
        if norm == "gt":
            d = cp / gwh - cg / gwh
        elif norm == "eps":
            d = cp / (gwh + 1e-16) - cg / (gwh + 1e-16)
        elif norm == "max1":
            d = (cp - cg) / np.maximum(1.0, gwh)
        else:
            raise MetricError(f"normalized_center_error: unknown norm '{norm}' (gt, eps, max1)")
    return np.sqrt((d ** 2).sum(1))


def as_saved(boxes: ArrayLike, fmt: str) -> np.ndarray:
    """Boxes as a toolkit writes them to disk, for parity with published raw result files.

    ``'int'``: pytracking's ``astype(int)`` (truncation towards zero, ``%d``); ``'%.3f'`` (got10k,
    pytracking's GOT-10k packer uses ``%f``); ``'%.2f'`` (pytracking's TrackingNet packer); ``'float'``: as is.
    """
    b = _boxes(boxes)
    if fmt == "float":
        return b.copy()
    if fmt == "int":
        return np.trunc(b)
    if fmt.startswith("%") and fmt.endswith("f"):
        return np.char.mod(fmt, b).astype(np.float64)
    raise MetricError(f"as_saved: unknown format '{fmt}' (float, int, %.Nf)")


def thresholds_for(protocol: str) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(IoU thresholds, centre-error thresholds in px, normalised thresholds) of an OPE protocol."""
    if protocol == "pytracking":
        # pytracking: torch.arange(0, 1 + gap, gap) with gap 0.05; numpy's arange gives the same values
        # except two last-ulp differences (0.65, 0.75) that only matter for an IoU within 1 ulp of them.
        return np.arange(0.0, 1.0 + 0.05, 0.05), np.arange(0, 51, dtype=np.float64), np.arange(0, 51, dtype=np.float64) / 100.0
    if protocol == "pysot":
        return np.arange(0, 1.05, 0.05), np.arange(0, 51, 1, dtype=np.float64), np.arange(0, 51, 1, dtype=np.float64) / 100
    if protocol == "got10k":
        return np.linspace(0, 1, 21), np.arange(0, 51, dtype=np.float64), np.linspace(0, 0.5, 51)
    if protocol == "lasot_official":
        # MATLAB 0:0.05:1 and (0:50)/100; linspace is the nearest double to each element.
        return np.linspace(0, 1, 21), np.arange(0, 51, dtype=np.float64), np.arange(0, 51, dtype=np.float64) / 100
    if protocol == "trackingnet":
        return np.linspace(0, 1, 21), np.linspace(0, 50, 21), np.linspace(0, 0.5, 21)
    raise MetricError(f"no OPE thresholds for protocol '{protocol}'; OPE protocols: {', '.join(OPE_PROTOCOLS)}")


# ----------------------------------------------------------------------------------------------
# OPE
# ----------------------------------------------------------------------------------------------
@dataclass
class OPEResult:
    """Success / precision / normalised precision of one tracker on one dataset under one protocol.

    ``success_curve`` etc. are the curves averaged over the included sequences; the
    ``per_sequence_*`` arrays hold one row per sequence.  ``auc``/``precision``/... are fractions.
    ``precision`` is the curve at 20 px and ``norm_precision`` at 0.2 for every protocol;
    ``precision_auc``/``norm_precision_auc`` are the areas (mean of the curve; ``trapz`` for
    ``trackingnet``).  :meth:`headline` returns the numbers the protocol's own toolkit prints.
    """

    protocol: str
    thresholds_iou: np.ndarray
    success_curve: np.ndarray
    auc: float
    thresholds_px: np.ndarray
    precision_curve: np.ndarray
    precision: float
    precision_auc: float
    thresholds_norm: np.ndarray
    norm_precision_curve: np.ndarray
    norm_precision: float
    norm_precision_auc: float
    op50: float
    op75: float
    per_sequence_success: np.ndarray
    per_sequence_precision: np.ndarray
    per_sequence_norm_precision: np.ndarray
    per_sequence_auc: np.ndarray
    #: per sequence: bool mask over GT frames whose IoU is a real overlap (not a sentinel, not dropped)
    valid_frames: List[np.ndarray]
    #: per sequence: IoU per GT frame under the protocol's IoU convention, NaN where not valid
    per_sequence_iou: List[np.ndarray]
    #: per sequence: the denominator of its curves
    denominators: np.ndarray
    #: sequences averaged into each mean curve (all True except LaSOT-MATLAB's all-zero-curve rule)
    included_success: np.ndarray
    included_precision: np.ndarray
    included_norm_precision: np.ndarray
    names: Optional[List[str]] = None

    def headline(self) -> Dict[str, float]:
        """The scores the protocol's toolkit reports, under its own names (fractions)."""
        p = self.protocol
        if p == "pytracking":
            return {"AUC": self.auc, "OP50": self.op50, "OP75": self.op75, "Precision": self.precision,
                    "Norm Precision": self.norm_precision}
        if p == "pysot":
            return {"Success": self.auc, "Precision": self.precision, "Norm Precision": self.norm_precision}
        if p == "got10k":
            return {"success_score": self.auc, "precision_score": self.precision, "success_rate": self.op50,
                    "norm_prec_score": self.norm_precision_auc}
        if p == "lasot_official":
            return {"AUC": self.auc, "Precision": self.precision, "Norm Precision": self.norm_precision}
        if p == "trackingnet":
            return {"Success": self.auc, "Precision": self.precision_auc, "Norm Precision": self.norm_precision_auc}
        raise MetricError(f"unknown protocol {p}")

    @property
    def mean_iou(self) -> float:
        """Mean over sequences of the per-sequence mean IoU of valid frames (pytracking's ``avg_overlap``)."""
        vals = [np.nanmean(x) for x in self.per_sequence_iou if np.isfinite(x).any()]
        return float(np.mean(vals)) if vals else float("nan")


@dataclass
class _SeqScores:
    iou: np.ndarray  # scores entering the success curve (sentinels -1 / NaN included)
    center: np.ndarray
    norm: np.ndarray
    denom: float
    valid: np.ndarray  # (N_gt,) bool
    iou_gt: np.ndarray  # (N_gt,) float, NaN where not valid


def _forward_fill(pred: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """Replace rows flagged ``bad`` (never row 0) by the last good row before them, i.e. the
    sequential ``for i in 1..N: if bad[i]: pred[i] = pred[i-1]`` loop of pytracking / LaSOT."""
    if not bad.any():
        return pred
    bad = bad.copy()
    bad[0] = False
    idx = np.where(bad, 0, np.arange(len(pred)))
    np.maximum.accumulate(idx, out=idx)
    return pred[idx]


def _seq_pytracking(pred: np.ndarray, gt: np.ndarray, vis: Optional[np.ndarray], dataset: str,
                    exclude_invalid: bool, name: str) -> _SeqScores:
    n = len(gt)
    if np.isnan(pred).any() or (pred[:, 2:] < 0).any():
        bad = np.flatnonzero(np.isnan(pred).any(1) | (pred[:, 2:] < 0).any(1))
        raise MetricError(f"{name}: the pytracking protocol rejects NaN or negative-size predictions "
                          f"(pytracking raises 'Invalid results'); first bad frame {int(bad[0])}")
    m = min(len(pred), n)
    gt_nan = np.isnan(gt).any(1)
    zero = np.zeros(len(pred), dtype=bool)
    zero[:m] = (pred[:m, 2:] == 0).any(1) & ~gt_nan[:m]
    pred = _forward_fill(pred, zero)
    if len(pred) > n:
        pred = pred[:n]
    elif len(pred) < n:
        if dataset == "lasot":
            raise MetricError(f"{name}: {len(pred)} predictions for {n} GT frames (pytracking raises on LaSOT)")
        pred = np.concatenate([pred, np.zeros((n - len(pred), 4))], 0)
    pred = pred.copy()
    pred[0] = gt[0]
    with np.errstate(invalid="ignore"):
        valid = (gt[:, 2] > 0) & (gt[:, 3] > 0)
    if vis is not None:
        valid &= vis
    ov = iou(pred, gt, "pixel", clip=False)
    ce = center_error(pred, gt, -1.0)
    ne = normalized_center_error(pred, gt, -1.0, "gt")
    iou_gt = np.where(valid, ov, np.nan)
    ov = np.where(valid, ov, -1.0)
    ce = np.where(valid, ce, -1.0 if dataset == "uav" else np.inf)
    ne = np.where(valid, ne, -1.0)
    if dataset == "lasot" and vis is not None:
        ce[~vis] = np.inf
        ne[~vis] = np.inf
    denom = float(valid.sum()) if exclude_invalid else float(n)
    if denom <= 0:
        raise MetricError(f"{name}: no valid frames (pytracking raises 'Seq length zero')")
    return _SeqScores(ov, ce, ne, denom, valid, iou_gt)


def _seq_pysot(pred: np.ndarray, gt: np.ndarray, vis: Optional[np.ndarray], name: str) -> _SeqScores:
    n = len(gt)
    if len(pred) != n:
        raise MetricError(f"{name}: {len(pred)} predictions for {n} GT frames (pysot's boolean indexing fails "
                          f"on a length mismatch)")
    keep = np.ones(n, dtype=bool) if vis is None else vis.copy()
    g, p = gt[keep], pred[keep]
    with np.errstate(invalid="ignore"):
        m_iou = (g[:, 2] > 0) & (g[:, 3] > 0)
    ov = np.full(len(g), -1.0)
    if m_iou.any():
        with np.errstate(invalid="ignore", divide="ignore"):
            tl = np.maximum(g[m_iou, :2], p[m_iou, :2])
            br = np.minimum(g[m_iou, :2] + g[m_iou, 2:], p[m_iou, :2] + p[m_iou, 2:])
            inter = np.maximum(0, br[:, 0] - tl[:, 0]) * np.maximum(0, br[:, 1] - tl[:, 1])
            union = g[m_iou, 2] * g[m_iou, 3] + p[m_iou, 2] * p[m_iou, 3] - inter
            ov[m_iou] = np.maximum(np.minimum(1, inter / union), 0)
    gc, pc = _centers(g, -1.0), _centers(p, -1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        m_c = (gc > 0).all(1)
        ce = np.full(len(g), -1.0)
        ce[m_c] = np.sqrt(((gc[m_c] - pc[m_c]) ** 2).sum(1))
        gwh = g[:, 2:] + 1e-16
        gcn, pcn = gc / gwh, pc / gwh
        m_n = (gcn > 0).all(1)
        ne = np.full(len(g), -1.0)
        ne[m_n] = np.sqrt(((gcn[m_n] - pcn[m_n]) ** 2).sum(1))
    valid = np.zeros(n, dtype=bool)
    valid[np.flatnonzero(keep)[m_iou]] = True
    iou_gt = np.full(n, np.nan)
    iou_gt[valid] = ov[m_iou]
    return _SeqScores(ov, ce, ne, float(n), valid, iou_gt)


def _seq_got10k(pred: np.ndarray, gt: np.ndarray, bound: Optional[Tuple[float, float]], name: str) -> _SeqScores:
    n_all = len(gt)
    m = min(len(pred), n_all)
    p, g = pred[:m].copy(), gt[:m]
    p[0] = g[0]
    keep = ~np.isnan(g).any(1)
    if not keep.any():
        raise MetricError(f"{name}: no frame with a known GT")
    p, g = p[keep], g[keep]
    ov = iou(p, g, "continuous", bound=bound, eps=_FLOAT_EPS, clip=True)
    ce = center_error(p, g, -1.0)
    ne = normalized_center_error(p, g, -1.0, "max1")
    valid = np.zeros(n_all, dtype=bool)
    valid[np.flatnonzero(keep)] = True
    iou_gt = np.full(n_all, np.nan)
    iou_gt[valid] = ov
    return _SeqScores(ov, ce, ne, float(keep.sum()), valid, iou_gt)


def _seq_lasot(pred: np.ndarray, gt: np.ndarray, vis: Optional[np.ndarray], name: str) -> _SeqScores:
    n = len(gt)
    if len(pred) < n:
        raise MetricError(f"{name}: {len(pred)} predictions for {n} GT frames (the LaSOT toolkit indexes "
                          f"results(1:n) and fails)")
    p = pred[:n].copy()
    with np.errstate(invalid="ignore"):
        bad = (np.isnan(p).any(1) | (p[:, 2] <= 0) | (p[:, 3] <= 0)) & ~np.isnan(gt).any(1)
    p = _forward_fill(p, bad).copy()
    p[0] = gt[0]
    keep = np.ones(n, dtype=bool) if vis is None else vis.copy()
    p, g = p[keep], gt[keep]
    with np.errstate(invalid="ignore"):
        idx = (g > 0).all(1)
    ov = np.full(len(g), -1.0)
    ov[idx] = iou(p[idx], g[idx], "pixel", clip=False)
    ce = center_error(p, g, -1.0)
    ne = normalized_center_error(p, g, -1.0, "gt")
    ce[~idx] = -1.0
    ne[~idx] = -1.0
    valid = np.zeros(n, dtype=bool)
    valid[np.flatnonzero(keep)[idx]] = True
    iou_gt = np.full(n, np.nan)
    iou_gt[valid] = ov[idx]
    return _SeqScores(ov, ce, ne, float(n) + _MATLAB_EPS, valid, iou_gt)


def _seq_trackingnet(pred: np.ndarray, gt: np.ndarray, name: str) -> _SeqScores:
    n = len(gt)
    if len(pred) < n:  # pandas index alignment: missing rows become NaN (failures)
        pred = np.concatenate([pred, np.full((n - len(pred), 4), np.nan)], 0)
    p, g = np.round(pred[:n]), np.round(gt)
    p[0] = g[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        ix1 = np.maximum(g[:, 0], p[:, 0])
        iy1 = np.maximum(g[:, 1], p[:, 1])
        ix2 = np.minimum(g[:, 0] + g[:, 2] - 1.0, p[:, 0] + p[:, 2] - 1.0)
        iy2 = np.minimum(g[:, 1] + g[:, 3] - 1.0, p[:, 1] + p[:, 3] - 1.0)
        iw = np.clip(np.round(ix2 - ix1 + 1), 0, None)
        ih = np.clip(np.round(iy2 - iy1 + 1), 0, None)
        inter = iw * ih
        ov = inter / (g[:, 2] * g[:, 3] + p[:, 2] * p[:, 3] - inter)
        dc = _centers(p, 1.0) - _centers(g, 1.0)
        ce = np.sqrt((dc ** 2).sum(1))
        ne = np.sqrt(((dc / g[:, 2:]) ** 2).sum(1))
    valid = np.isfinite(ov)
    return _SeqScores(ov, ce, ne, float(n), valid, np.where(valid, ov, np.nan))


def _curve_counts(scores: List[np.ndarray], thr: np.ndarray, greater: bool) -> np.ndarray:
    """Per-sequence counts of ``score > thr[t]`` (``greater``) or ``score <= thr[t]``, for all sequences
    at once: one ``searchsorted`` + one ``bincount`` instead of an (N x T) comparison matrix."""
    s = len(scores)
    t = len(thr)
    lens = np.fromiter((len(x) for x in scores), dtype=np.int64, count=s)
    allv = np.concatenate(scores) if s else np.zeros(0)
    k = np.searchsorted(thr, allv, side="left")  # number of thresholds strictly below the score
    if greater:
        k[np.isnan(allv)] = 0  # NaN is never > a threshold
    seg = np.repeat(np.arange(s), lens)
    hist = np.bincount(seg * (t + 1) + k, minlength=s * (t + 1)).reshape(s, t + 1)
    if greater:
        return np.cumsum(hist[:, ::-1], axis=1)[:, ::-1][:, 1:]
    return np.cumsum(hist, axis=1)[:, :t]


def _trapz(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    fn = getattr(np, "trapezoid", None) or getattr(np, "trapz")
    return fn(y, x=x, axis=-1)


def _nearest(thr: np.ndarray, value: float) -> int:
    return int(np.argmin(np.abs(thr - value)))


def compute_ope(preds: Sequence[ArrayLike], gts: Sequence[ArrayLike], protocol: str = "pytracking",
                visible: Optional[Sequence[Optional[ArrayLike]]] = None,
                image_sizes: Optional[Sequence[Optional[Tuple[int, int]]]] = None, *,
                dataset: Optional[str] = None, exclude_invalid_frames: bool = False,
                names: Optional[Sequence[str]] = None, saved_format: Optional[str] = None) -> OPEResult:
    """One-pass-evaluation metrics of one tracker over a dataset.

    Args:
        preds: per sequence an (N_i, 4) array of predicted ``[x, y, w, h]`` boxes.
        gts: per sequence the (N_i, 4) ground truth (NaN rows = unknown).
        protocol: one of :data:`OPE_PROTOCOLS` (see the module docstring).
        visible: per sequence a bool array (target visible) or None; used by ``pytracking`` (part of
            validity), ``pysot`` and ``lasot_official`` (absent frames removed, still counted in the
            denominator); ignored by ``got10k`` and ``trackingnet`` as their toolkits do.
        image_sizes: per sequence ``(W, H)``; when given, boxes are clipped to the image before the IoU
            (got10k's GOT-10k rule).  No OPE toolkit does this: leave None for parity.
        dataset: pytracking's dataset-specific rules: ``'uav'`` (invalid frames are precision
            successes), ``'lasot'`` (invisible frames are precision failures, short results raise).
            Names such as ``'uav20l'`` map to ``'uav'``.  Other protocols ignore it.
        exclude_invalid_frames: pytracking's option of the same name (denominator = valid frames).
        names: sequence names, used in error messages and kept in the result.
        saved_format: pass predictions through :func:`as_saved` first (``'int'`` reproduces
            pytracking's truncated result files).
    """
    if protocol not in PROTOCOLS:
        raise MetricError(f"unknown protocol '{protocol}'; valid: {', '.join(PROTOCOLS)}")
    if protocol not in OPE_PROTOCOLS:
        raise MetricError(f"protocol '{protocol}' is not an OPE protocol: use "
                          f"{'vot_supervised' if protocol == 'vot2018' else 'vot_multistart'}()")
    if len(preds) != len(gts):
        raise MetricError(f"{len(preds)} prediction sequences for {len(gts)} GT sequences")
    if len(gts) == 0:
        raise MetricError("no sequences")
    if visible is not None and len(visible) != len(gts):
        raise MetricError(f"visible has {len(visible)} entries for {len(gts)} sequences")
    if image_sizes is not None and len(image_sizes) != len(gts):
        raise MetricError(f"image_sizes has {len(image_sizes)} entries for {len(gts)} sequences")
    if names is not None and len(names) != len(gts):
        raise MetricError(f"names has {len(names)} entries for {len(gts)} sequences")
    ds = (dataset or "").lower()
    ds = "uav" if ds.startswith("uav") else ("lasot" if ds.startswith("lasot") else ds)

    thr_iou, thr_px, thr_norm = thresholds_for(protocol)
    seqs: List[_SeqScores] = []
    for i, (p_raw, g_raw) in enumerate(zip(preds, gts)):
        name = names[i] if names is not None else f"sequence #{i}"
        g = _boxes(g_raw, f"{name}: ground truth")
        if len(g) == 0:
            raise MetricError(f"{name}: empty ground truth")
        p = np.zeros((0, 4)) if np.size(p_raw) == 0 else _boxes(p_raw, f"{name}: predictions")
        if saved_format is not None:
            p = as_saved(p, saved_format)
        vis = None
        if visible is not None and visible[i] is not None:
            vis = np.asarray(visible[i]).astype(bool).reshape(-1)
            if len(vis) != len(g):
                raise MetricError(f"{name}: visible has {len(vis)} entries for {len(g)} GT frames")
        bound = None
        if image_sizes is not None and image_sizes[i] is not None:
            bound = (float(image_sizes[i][0]), float(image_sizes[i][1]))
            if protocol != "got10k":
                p, g = clip_boxes_to_image(p, bound), clip_boxes_to_image(g, bound)
        if protocol == "pytracking":
            s = _seq_pytracking(p, g, vis, ds, exclude_invalid_frames, name)
        elif protocol == "pysot":
            s = _seq_pysot(p, g, vis, name)
        elif protocol == "got10k":
            s = _seq_got10k(p, g, bound, name)
        elif protocol == "lasot_official":
            s = _seq_lasot(p, g, vis, name)
        else:
            s = _seq_trackingnet(p, g, name)
        seqs.append(s)

    denom = np.array([s.denom for s in seqs], dtype=np.float64)
    succ = _curve_counts([s.iou for s in seqs], thr_iou, True) / denom[:, None]
    prec = _curve_counts([s.center for s in seqs], thr_px, False) / denom[:, None]
    nprec = _curve_counts([s.norm for s in seqs], thr_norm, False) / denom[:, None]

    n_seq = len(seqs)
    if protocol == "lasot_official":  # plot_draw_save.m: aa = aa(sum(aa,2) > eps, :)
        inc_s, inc_p, inc_n = (succ.sum(1) > _MATLAB_EPS, prec.sum(1) > _MATLAB_EPS, nprec.sum(1) > _MATLAB_EPS)
    else:
        inc_s = inc_p = inc_n = np.ones(n_seq, dtype=bool)

    def _mean(c: np.ndarray, inc: np.ndarray) -> np.ndarray:
        return c[inc].mean(0) if inc.any() else np.zeros(c.shape[1])

    sc, pc, nc = _mean(succ, inc_s), _mean(prec, inc_p), _mean(nprec, inc_n)
    if protocol == "trackingnet":
        x = np.linspace(0, 1, len(thr_iou))
        auc, p_auc, n_auc = float(_trapz(sc, x)), float(_trapz(pc, x)), float(_trapz(nc, x))
        per_auc = _trapz(succ, x)
    else:
        auc, p_auc, n_auc = float(sc.mean()), float(pc.mean()), float(nc.mean())
        per_auc = succ.mean(1)
    return OPEResult(
        protocol=protocol,
        thresholds_iou=thr_iou, success_curve=sc, auc=auc,
        thresholds_px=thr_px, precision_curve=pc, precision=float(pc[_nearest(thr_px, 20.0)]), precision_auc=p_auc,
        thresholds_norm=thr_norm, norm_precision_curve=nc, norm_precision=float(nc[_nearest(thr_norm, 0.2)]),
        norm_precision_auc=n_auc,
        op50=float(sc[_nearest(thr_iou, 0.5)]), op75=float(sc[_nearest(thr_iou, 0.75)]),
        per_sequence_success=succ, per_sequence_precision=prec, per_sequence_norm_precision=nprec,
        per_sequence_auc=np.asarray(per_auc, dtype=np.float64),
        valid_frames=[s.valid for s in seqs], per_sequence_iou=[s.iou_gt for s in seqs],
        denominators=denom, included_success=inc_s, included_precision=inc_p, included_norm_precision=inc_n,
        names=list(names) if names is not None else None,
    )


# ----------------------------------------------------------------------------------------------
# GOT-10k
# ----------------------------------------------------------------------------------------------
def _repetitions(x: Union[ArrayLike, Sequence[ArrayLike]], name: str) -> List[np.ndarray]:
    if isinstance(x, np.ndarray) and x.ndim == 3:
        return [_boxes(r, f"{name}: repetition {k}") for k, r in enumerate(x)]
    if isinstance(x, (list, tuple)) and len(x) and np.asarray(x[0]).ndim == 2:
        return [_boxes(r, f"{name}: repetition {k}") for k, r in enumerate(x)]
    return [_boxes(x, f"{name}: predictions")]


def compute_got10k(preds: Sequence[Union[ArrayLike, Sequence[ArrayLike]]], gts: Sequence[ArrayLike],
                   covers: Optional[Sequence[Optional[ArrayLike]]] = None,
                   times: Optional[Sequence[Optional[ArrayLike]]] = None,
                   image_sizes: Optional[Sequence[Optional[Tuple[int, int]]]] = None, *,
                   names: Optional[Sequence[str]] = None, nbins_iou: int = 101) -> Dict[str, object]:
    """GOT-10k AO / SR0.5 / SR0.75 / FPS exactly as ``got10k.experiments.ExperimentGOT10k.report``.

    Args:
        preds: per sequence an (N, 4) array, or a list / (R, N, 4) array of repetitions (``_001.._003``).
        gts: per sequence the (N, 4) ground truth.
        covers: per sequence ``cover.label`` values (frames with cover > 0 count) or a visibility bool
            array; None counts every frame.
        times: per sequence the per-frame times in seconds (any shape, e.g. (N, R)); NaN and
            non-positive entries are ignored; FPS = ``mean(1/t)`` over all frames of all sequences.
        image_sizes: per sequence ``(W, H)`` (``meta_info.ini`` resolution): boxes are clipped to it.

    The first frame is excluded; AO is ``mean`` over the IoUs of all frames of all sequences and
    repetitions concatenated (frame-weighted); SR uses a strict ``>``.  ``sr75`` is video_analyst's
    addition.  Returns ``dict(ao, sr50, sr75, fps, succ_curve, thresholds, per_sequence)``.
    """
    if len(preds) != len(gts):
        raise MetricError(f"{len(preds)} prediction sequences for {len(gts)} GT sequences")
    all_ious: List[np.ndarray] = []
    all_times: List[np.ndarray] = []
    per_seq: List[Dict[str, float]] = []
    for i, (p_raw, g_raw) in enumerate(zip(preds, gts)):
        name = names[i] if names is not None else f"sequence #{i}"
        g = _boxes(g_raw, f"{name}: ground truth")
        reps = _repetitions(p_raw, name)
        for k, r in enumerate(reps):
            if r.shape != g.shape:
                raise MetricError(f"{name}: repetition {k + 1} has shape {r.shape}, GT {g.shape} (got10k asserts equal shapes)")
        mask = np.ones(len(g) - 1, dtype=bool)
        if covers is not None and covers[i] is not None:
            c = np.asarray(covers[i]).reshape(-1)
            if len(c) != len(g):
                raise MetricError(f"{name}: {len(c)} cover/visibility values for {len(g)} frames")
            mask = c[1:].astype(np.float64) > 0
        bound = None
        if image_sizes is not None and image_sizes[i] is not None:
            bound = (float(image_sizes[i][0]), float(image_sizes[i][1]))
        seq_ious = np.concatenate([iou(r[1:], g[1:], "continuous", bound=bound, eps=_FLOAT_EPS)[mask] for r in reps])
        all_ious.append(seq_ious)
        st = np.zeros(0)
        if times is not None and times[i] is not None:
            st = np.asarray(times[i], dtype=np.float64).reshape(-1)
            st = st[~np.isnan(st)]
            st = st[st > 0]
            all_times.append(st)
        with np.errstate(invalid="ignore"):
            per_seq.append({
                "name": name,
                "ao": float(np.mean(seq_ious)) if len(seq_ious) else float("nan"),
                "sr50": float(np.mean(seq_ious > 0.5)) if len(seq_ious) else float("nan"),
                "sr75": float(np.mean(seq_ious > 0.75)) if len(seq_ious) else float("nan"),
                "fps": float(np.mean(1.0 / st)) if len(st) else -1.0,
                "length": len(g) - 1,
            })
    ious = np.concatenate(all_ious) if all_ious else np.zeros(0)
    if len(ious) == 0:
        raise MetricError("compute_got10k: no frame to score (all covers are 0?)")
    tms = np.concatenate(all_times) if all_times else np.zeros(0)
    thr = np.linspace(0, 1, nbins_iou)
    curve = _curve_counts([ious], thr, True)[0] / len(ious)
    return {
        "ao": float(np.mean(ious)),
        "sr50": float(np.mean(ious > 0.5)),
        "sr75": float(np.mean(ious > 0.75)),
        "fps": float(np.mean(1.0 / tms)) if len(tms) else -1.0,
        "succ_curve": curve,
        "thresholds": thr,
        "per_sequence": per_seq,
    }


# ----------------------------------------------------------------------------------------------
# VOT
# ----------------------------------------------------------------------------------------------
#: trajectory codes as the vot toolkit writes them (``vot.tracker.Trajectory``); -1 marks a region
CODE_REGION, CODE_UNKNOWN, CODE_INIT, CODE_FAILURE = -1, 0, 1, 2


@dataclass
class VOTSupervisedResult:
    """Supervised (reset-based) VOT analysis (vot-toolkit ``analysis/supervised.py``)."""

    accuracy: float
    failures: float  #: length-weighted mean failure count per sequence (what papers call "R")
    robustness: float  #: ``exp(-S * failures / mean_length)`` (the AR-plot robustness)
    eao: float
    eao_curve: np.ndarray
    low: int
    high: int
    per_sequence: List[Dict[str, float]] = field(default_factory=list)


@dataclass
class VOTMultistartResult:
    """Anchor-based VOT2020+ analysis (vot-toolkit ``analysis/multistart.py``)."""

    accuracy: float
    robustness: float
    eao: float
    eao_curve: np.ndarray
    low: int
    high: int
    per_sequence: List[Dict[str, float]] = field(default_factory=list)


def _runs(x: Union[ArrayLike, Sequence[ArrayLike]]) -> List[np.ndarray]:
    a = x
    if isinstance(a, np.ndarray):
        return [a.reshape(-1)] if a.ndim <= 1 else [r.reshape(-1) for r in a]
    if len(a) and np.ndim(a[0]) == 0:
        return [np.asarray(a)]
    return [np.asarray(r).reshape(-1) for r in a]


def _burnin_mask(init: np.ndarray, burnin: int) -> np.ndarray:
    if burnin <= 0 or not init.any():
        return np.zeros(len(init), dtype=bool)
    return np.convolve(init.astype(np.int64), np.ones(burnin, dtype=np.int64))[: len(init)] > 0


def _eao_curve_supervised(segments: List[np.ndarray], success: List[bool]) -> np.ndarray:
    """vot-toolkit ``compute_eao_curve`` with unit weights: curve[j] = mean over runs of the average
    overlap of frames 1..j (the init frame 0 excluded); failed runs are zero-padded, successful runs
    are masked after their end; curve[0] is the raw overlap of frame 0."""
    max_len = max(len(s) for s in segments)
    r = len(segments)
    ov = np.zeros((r, max_len))
    mask = np.zeros((r, max_len))
    for i, (s, ok) in enumerate(zip(segments, success)):
        ov[i, : len(s)] = s
        if ok:
            mask[i, : len(s)] = 1
        else:
            mask[i, :] = 1
    avg = ov.copy()
    if max_len > 1:
        avg[:, 1:] = np.cumsum(ov[:, 1:], axis=1) / np.arange(1, max_len)[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (avg * mask).sum(0) / mask.sum(0)


def _eao_score(curve: np.ndarray, low: int, high: int, interval: str) -> float:
    if interval == "vot":
        part = curve[low: high + 1]
    elif interval == "pysot":
        part = curve[low - 1: high]
    else:
        raise MetricError(f"unknown EAO interval convention '{interval}' (vot, pysot)")
    part = part[np.isfinite(part)] if interval == "pysot" else part
    return float(np.mean(part)) if len(part) else float("nan")


def vot_supervised(overlaps: Sequence[Union[ArrayLike, Sequence[ArrayLike]]],
                   codes: Sequence[Union[ArrayLike, Sequence[ArrayLike]]], *,
                   burnin: int = 10, sensitivity: float = 30.0, low: int = 100, high: int = 356,
                   ignore_unknown: bool = True, interval: str = "vot",
                   names: Optional[Sequence[str]] = None) -> VOTSupervisedResult:
    """A / R / EAO of a reset-based (VOT2016-2019 "baseline") run.

    Args:
        overlaps: per sequence, per repetition, the per-frame overlap with the GT (as the toolkit
            computes it, e.g. with :func:`vot_rect_overlap`); values on special frames are ignored
            (the toolkit's overlap of a special region is 0).
        codes: same nesting, per-frame trajectory codes: 1 = initialisation, 2 = failure, 0 = unknown
            (skipped after a failure), -1 (or any other value) = a tracked region.  See
            :func:`parse_vot_trajectory`.
        low, high: EAO interval; see :data:`VOT_INTERVALS` (VOT2018 100/356).
        interval: ``'vot'`` (``mean(curve[low:high+1])``, vot-toolkit) or ``'pysot'``
            (``curve[low-1:high]``, pysot's ``eao_benchmark.py``).
    Sequence weights are their lengths (``AverageAccuracyRobustness``).
    """
    if len(overlaps) != len(codes):
        raise MetricError(f"{len(overlaps)} overlap sequences for {len(codes)} code sequences")
    segments: List[np.ndarray] = []
    success: List[bool] = []
    per_seq: List[Dict[str, float]] = []
    tot_f = tot_a = tot_w = 0.0
    for s, (ov_s, cd_s) in enumerate(zip(overlaps, codes)):
        name = names[s] if names is not None else f"sequence #{s}"
        ovs, cds = _runs(ov_s), _runs(cd_s)
        if len(ovs) != len(cds):
            raise MetricError(f"{name}: {len(ovs)} overlap runs for {len(cds)} code runs")
        acc_sum = fail_sum = 0.0
        n_frames = len(ovs[0])
        for k, (o, c) in enumerate(zip(ovs, cds)):
            o = np.asarray(o, dtype=np.float64)
            c = np.asarray(c).astype(np.int64)
            if len(o) != len(c):
                raise MetricError(f"{name}: repetition {k + 1}: {len(o)} overlaps for {len(c)} codes")
            special = (c == CODE_UNKNOWN) | (c == CODE_INIT) | (c == CODE_FAILURE)
            o = np.where(special, 0.0, o)
            init, fail, unknown = c == CODE_INIT, c == CODE_FAILURE, c == CODE_UNKNOWN
            mask = ~(_burnin_mask(init, burnin) | fail | (unknown & ignore_unknown))
            acc_sum += float(o[mask].mean()) if mask.any() else 0.0
            fail_sum += float(fail.sum())
            fi, ii = np.flatnonzero(fail), np.flatnonzero(init)
            if len(fi):
                for j in range(len(fi)):
                    if j >= len(ii):
                        raise MetricError(f"{name}: repetition {k + 1}: failure at frame {fi[j]} without a preceding initialisation")
                    segments.append(o[ii[j]: fi[j]])
                    success.append(False)
                if len(ii) > len(fi):
                    segments.append(o[ii[-1]:])
                    success.append(True)
            else:
                segments.append(o)
                success.append(True)
        nrep = len(ovs)
        a, f = acc_sum / nrep, fail_sum / nrep
        per_seq.append({"name": name, "accuracy": a, "failures": f, "length": n_frames,
                        "robustness": math.exp(-(f / n_frames) * sensitivity)})
        tot_a += a * n_frames
        tot_f += f * n_frames
        tot_w += n_frames
    if not per_seq:
        raise MetricError("vot_supervised: no sequences")
    failures, accuracy = tot_f / tot_w, tot_a / tot_w
    length = tot_w / len(per_seq)
    curve = _eao_curve_supervised(segments, success)
    return VOTSupervisedResult(accuracy=accuracy, failures=failures,
                               robustness=math.exp(-(failures / length) * sensitivity),
                               eao=_eao_score(curve, low, high, interval), eao_curve=curve, low=low, high=high,
                               per_sequence=per_seq)


def _first_failure(o: np.ndarray, empty: np.ndarray, threshold: float, grace: int) -> int:
    """Index where ``grace`` consecutive frames with ``overlap <= threshold`` (and a non-empty GT)
    start, i.e. vot-toolkit's ``progress = j + 1 - grace``; ``len(o)`` when there is none."""
    if grace <= 0:
        return len(o)  # the toolkit's countdown never reaches 0
    bad = ((o <= threshold) & ~empty).astype(np.int64)
    if len(bad) < grace:
        return len(o)
    win = np.convolve(bad, np.ones(grace, dtype=np.int64), mode="valid")
    hit = np.flatnonzero(win == grace)
    return int(hit[0]) if len(hit) else len(o)


def vot_multistart(overlaps: Sequence[Sequence[ArrayLike]], *, gt_empty: Optional[Sequence[Sequence[ArrayLike]]] = None,
                   sequence_lengths: Optional[Sequence[int]] = None, threshold: float = 0.1, grace: int = 10,
                   low: int = 115, high: int = 755, names: Optional[Sequence[str]] = None) -> VOTMultistartResult:
    """A / R / EAO of an anchor-based (VOT2020+) run.

    Args:
        overlaps: per sequence, per anchor run, the per-frame overlaps in *run order* (frame 0 = the
            anchor; backward runs reversed), as the toolkit computes them.
        gt_empty: same nesting, True where the GT region is empty (such frames never count towards a
            failure and reset the grace counter); default all False.
        sequence_lengths: per sequence its length (robustness weight); default: the longest run
            (the forward run from the first-frame anchor spans the whole sequence).

    The EAO curve has ``high`` entries (``compute_eao_partial(..., curve_length=high)``), so the
    score ``mean(curve[low:high+1])`` effectively averages ``curve[low:high]``; a failed run shorter
    than ``j`` contributes ``sum(o[1:]) / (j - 1)`` as in the toolkit.
    """
    eao_num = np.zeros(high)
    eao_den = np.zeros(high)
    per_seq: List[Dict[str, float]] = []
    tot_a = tot_aw = tot_r = tot_rw = 0.0
    for s, runs in enumerate(overlaps):
        name = names[s] if names is not None else f"sequence #{s}"
        runs = [np.asarray(r, dtype=np.float64).reshape(-1) for r in runs]
        if not runs:
            raise MetricError(f"{name}: no anchor runs")
        empties = [np.zeros(len(r), dtype=bool) for r in runs]
        if gt_empty is not None and gt_empty[s] is not None:
            empties = [np.asarray(e).astype(bool).reshape(-1) for e in gt_empty[s]]
            if len(empties) != len(runs) or any(len(e) != len(r) for e, r in zip(empties, runs)):
                raise MetricError(f"{name}: gt_empty does not match the overlap runs")
        seq_len = int(sequence_lengths[s]) if sequence_lengths is not None else max(len(r) for r in runs)
        robustness = accuracy = total = 0.0
        phi = np.zeros(high)
        active = np.zeros(high)
        j = np.arange(high)
        for o, e in zip(runs, empties):
            prog = _first_failure(o, e, threshold, grace)
            robustness += prog
            accuracy += float(o[:prog].sum())
            total += len(o)
            ok = prog >= len(o)
            oz = o.copy()
            oz[prog:] = 0.0
            cs = np.concatenate([[0.0], np.cumsum(oz[1:])])  # cs[j] = sum(oz[1:j+1])
            inside = (j >= 1) & (j < len(oz))
            jj = np.minimum(j, len(oz) - 1)
            with np.errstate(invalid="ignore", divide="ignore"):
                phi += np.where(inside, cs[jj] / np.maximum(j, 1), 0.0)
                active += inside
                if not ok:
                    beyond = (j >= 1) & (j >= len(oz))
                    phi += np.where(beyond, cs[-1] / np.where(j - 1 == 0, 1, j - 1), 0.0)
                    active += beyond
        with np.errstate(invalid="ignore", divide="ignore"):
            phi_seq = np.where(active > 0, phi / np.maximum(active, 1), 0.0)
        eao_num += phi_seq * active
        eao_den += active
        a = accuracy / robustness if robustness > 0 else 0.0
        r = robustness / total
        per_seq.append({"name": name, "accuracy": a, "robustness": r, "length": seq_len, "reached": robustness})
        tot_a += a * robustness
        tot_aw += robustness
        tot_r += r * seq_len
        tot_rw += seq_len
    if not per_seq:
        raise MetricError("vot_multistart: no sequences")
    curve = np.where(eao_den > 0, eao_num / np.maximum(eao_den, 1e-300), 0.0)
    part = curve[low: high + 1]
    return VOTMultistartResult(accuracy=tot_a / tot_aw if tot_aw > 0 else 0.0, robustness=tot_r / tot_rw,
                               eao=float(np.mean(part)) if len(part) else float("nan"), eao_curve=curve,
                               low=low, high=high, per_sequence=per_seq)


def vot_rect_overlap(pred: ArrayLike, gt: ArrayLike, bounds: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """Rasterised overlap of rectangles exactly as vot-toolkit's ``calculate_overlap`` (vectorised).

    Coordinates are rounded (``np.round``); a rectangle covers pixels ``x .. x+w-1``; with
    ``bounds=(W, H)`` only pixels inside the image count; NaN rows are empty regions (the
    toolkit's special / empty regions); two empty regions overlap 1 by definition.
    """
    p, g = np.round(_boxes(pred, "pred")), np.round(_boxes(gt, "gt"))
    if p.shape != g.shape:
        raise MetricError(f"vot_rect_overlap: pred {p.shape} and gt {g.shape} differ in shape")

    def _bnd(b: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        empty = np.isnan(b).any(1)
        bb = np.where(empty[:, None], 0.0, b)
        l, t = bb[:, 0], bb[:, 1]
        r, btm = bb[:, 0] + bb[:, 2] - 1, bb[:, 1] + bb[:, 3] - 1
        r = np.where(empty, 0.0, r)
        btm = np.where(empty, 0.0, btm)
        return l, t, r, btm, empty

    l1, t1, r1, b1, e1 = _bnd(p)
    l2, t2, r2, b2, e2 = _bnd(g)
    ul, ut, ur, ub = np.minimum(l1, l2), np.minimum(t1, t2), np.maximum(r1, r2), np.maximum(b1, b2)
    degenerate = (ul >= ur) | (ut >= ub)
    if bounds is not None:
        rl, rt = np.maximum(0, ul), np.maximum(0, ut)
        rr, rb = np.minimum(bounds[0] - 1, ur), np.minimum(bounds[1] - 1, ub)
    else:
        rl, rt, rr, rb = ul, ut, ur, ub
    outside = (rl >= rr) | (rt >= rb)

    width, height = rr - rl + 1, rb - rt + 1

    def _span(lo, hi, r0, r1, size, e):
        # numpy slice [lo-r0 : min(r1, hi-r0)+1] of the toolkit's rasteriser (it clips the
        # window-relative end against the *absolute* r1, and a negative end wraps around)
        start = np.maximum(0, lo - r0)
        stop = np.minimum(r1, hi - r0) + 1
        stop = np.where(stop < 0, stop + size, stop)
        stop = np.clip(stop, 0, size)
        early = (lo > r1) | (hi < r0) | e
        return start, np.where(early, start, np.maximum(stop, start))

    xs1, xe1 = _span(l1, r1, rl, rr, width, e1)
    ys1, ye1 = _span(t1, b1, rt, rb, height, e1)
    xs2, xe2 = _span(l2, r2, rl, rr, width, e2)
    ys2, ye2 = _span(t2, b2, rt, rb, height, e2)
    a1 = (xe1 - xs1) * (ye1 - ys1)
    a2 = (xe2 - xs2) * (ye2 - ys2)
    iw = np.maximum(np.minimum(xe1, xe2) - np.maximum(xs1, xs2), 0)
    ih = np.maximum(np.minimum(ye1, ye2) - np.maximum(ys1, ys2), 0)
    inter = iw * ih
    union = a1 + a2 - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(union > 0, inter / np.maximum(union, 1), 0.0)
    out = np.where(outside, 0.0, out)
    return np.where(degenerate, 1.0, out)


def parse_vot_trajectory(lines: Union[str, Sequence[str]]) -> Tuple[np.ndarray, np.ndarray]:
    """Read a vot-toolkit trajectory (``<seq>_001.txt``): returns ``(codes, boxes)``.

    A line ``1``/``2``/``0`` is a special region (init / failure / unknown) and gets that code and a
    NaN box; ``x,y,w,h`` is a rectangle (code -1); an 8-value polygon becomes its min-max bounding
    rectangle.  ``lines`` is the file text or a list of lines.
    """
    if isinstance(lines, str):
        lines = lines.splitlines()
    codes: List[int] = []
    boxes: List[List[float]] = []
    for k, ln in enumerate(lines):
        ln = ln.strip()
        if not ln:
            continue
        vals = [float(v) for v in ln.replace("\t", ",").replace(" ", ",").split(",") if v != ""]
        if len(vals) == 1:
            codes.append(int(vals[0]))
            boxes.append([np.nan] * 4)
        elif len(vals) == 4:
            codes.append(CODE_REGION)
            boxes.append(vals)
        elif len(vals) >= 6 and len(vals) % 2 == 0:
            xs, ys = vals[0::2], vals[1::2]
            codes.append(CODE_REGION)
            boxes.append([min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)])
        else:
            raise MetricError(f"trajectory line {k + 1}: cannot parse '{ln}'")
    return np.asarray(codes, dtype=np.int64), np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
