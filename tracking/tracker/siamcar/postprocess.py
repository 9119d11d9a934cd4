"""SiamCAR per-frame post-processing: network maps → new target state (siamcar.md §5.2–5.3).

Pure numpy functions, so the parity tests can feed the official raw outputs ("teacher forcing")
and compare every intermediate map.  Four variants share one entry point, :func:`postprocess`:

* ``head``  (official code since Oct 2020, default) — §5.2, with its quirks kept on purpose:
  raw-logit min-max centerness (no sigmoid), the u + 31 inference offset, the cv2 bicubic
  25 → 193 half-pixel mapping, and the frame-px vs patch-px unit mix in the size penalty.
* ``c2``    (May–June 2020) — no centerness in the windowed score; the fine map is
  ``cls_up · cen_up`` (raw logits); the coarse region uses full extents with l/r bounding rows.
* ``c1``    (Jan 2020 release) — coarse region +100 instead of a mask; the size is the
  cls-weighted average of the top-2 of the 3×3 neighbourhood of the fine cell.
* ``paper`` (eq. 9) — peak of the windowed ``cls·p`` on the score grid, then the score-weighted
  average of the top-k boxes in the 3×3 neighbourhood of the peak (the peak included).

Two deliberate fixes (both no-ops on the parity data): the coarse cell index is clipped to S − 1
(the code clips to S, which can raise IndexError), and if bicubic overshoot makes the masked fine
argmax fall outside the mask, the argmax is taken inside the mask.

dtypes mirror the official numpy code (float32 network maps, float64 penalty/score maps), so the
upsampled maps and their argmax agree with the goldens even where the top-2 margin is ~1e-6.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

import numpy as np
import torch

from tracking.tracker.colour_model import fuse_scores
from tracking.tracker.siamese_utils import argmax2d, change, hanning_window, score_offset, sz_wh, upsample_cubic

__all__ = ["Geometry", "postprocess", "softmax_fg", "penalty_map"]


@dataclass
class Geometry:
    """Crop/score-map geometry of one network (127/255/8/25 → 193 upsampled, offset 31)."""

    template_size: int = 127
    search_size: int = 255
    stride: int = 8
    score_size: int = 25
    upsample_size: Optional[int] = None
    #: patch coordinate of score cell 0; None = the official inference offset (score_offset)
    grid_offset: Optional[float] = None

    @property
    def up(self) -> int:
        return self.upsample_size or (self.score_size - 1) * self.stride + 1

    @property
    def offset(self) -> float:
        if self.grid_offset is not None:
            return self.grid_offset
        return score_offset(self.search_size, self.score_size, self.stride)

    @property
    def cells(self) -> np.ndarray:
        """Patch coordinate of every score cell along a row or column (cell ``j`` at ``offset + stride·j``)."""
        return self.offset + self.stride * np.arange(self.score_size, dtype=np.float64)

    @property
    def scale_score(self) -> float:
        return self.up / self.score_size

    @property
    def center(self) -> float:
        return (self.search_size - 1.0) / 2.0


def softmax_fg(cls_logits: np.ndarray) -> np.ndarray:
    """Foreground probability (channel 1 of a 2-way softmax) of a 2×S×S logit map, float32."""
    # same op and shape as the official ``F.softmax(cls, dim=1)[:, 1]`` so the values are bit-identical
    x = torch.from_numpy(np.ascontiguousarray(cls_logits, dtype=np.float32)).reshape(1, 2, *cls_logits.shape[-2:])
    return torch.softmax(x, dim=1)[0, 1].numpy()


def penalty_map(lrtbs: np.ndarray, size: Tuple[float, float], scale_z: float, penalty_k: float) -> np.ndarray:
    """Per-cell scale/aspect penalty of the predicted boxes (patch px) vs the previous box × scale_z."""
    w = lrtbs[0] + lrtbs[2]
    h = lrtbs[1] + lrtbs[3]
    w0 = np.float64(size[0]) * np.float64(scale_z)
    h0 = np.float64(size[1]) * np.float64(scale_z)
    s_c = change(sz_wh(w, h) / sz_wh(w0, h0))
    r_c = change((np.float64(size[0]) / np.float64(size[1])) / (w / h))
    return np.exp(-(r_c * s_c - 1) * penalty_k)


def _cell(u: int, scale_score: float, s: int, fix: bool) -> int:
    i = int(round(u / scale_score))
    return max(0, min(i, s - 1 if fix else s))


def _masked_argmax(score_up: np.ndarray, r_lo: int, r_hi: int, c_lo: int, c_hi: int) -> Tuple[int, int, np.ndarray]:
    """argmax of ``score_up · mask`` (official); falls back to the argmax inside the mask if that lands outside."""
    mask = np.zeros_like(score_up)
    mask[r_lo:r_hi + 1, c_lo:c_hi + 1] = 1
    masked = score_up * mask
    r, c = argmax2d(masked)
    if mask[r, c] == 0:
        sub = score_up[r_lo:r_hi + 1, c_lo:c_hi + 1]
        rr, cc = argmax2d(sub)
        r, c = rr + r_lo, cc + c_lo
    return r, c, masked


def _size_update(ave_w: float, ave_h: float, size: Tuple[float, float], scale_z: float, cls_at: float,
                 penalty_k: float, lr: float) -> Tuple[float, float, float, float]:
    """HEAD size smoothing; ``pen'`` compares frame-px (ave_w, ave_h) with patch-px size·scale_z (official quirk)."""
    w0 = np.float64(size[0]) * scale_z
    h0 = np.float64(size[1]) * scale_z
    s_c = change(sz_wh(ave_w, ave_h) / sz_wh(w0, h0))
    r_c = change((np.float64(size[0]) / np.float64(size[1])) / (ave_w / ave_h))
    pen = float(np.exp(-(r_c * s_c - 1) * penalty_k))
    rate = pen * float(cls_at) * lr
    new_w = rate * ave_w + (1 - rate) * size[0]
    new_h = rate * ave_h + (1 - rate) * size[1]
    return float(new_w), float(new_h), pen, rate


def postprocess(
    cls_logits: np.ndarray,
    loc: np.ndarray,
    cen: np.ndarray,
    center: Tuple[float, float],
    size: Tuple[float, float],
    scale_z: float,
    cfg: Any,
    geom: Geometry,
    window: Optional[np.ndarray] = None,
    colour: Optional[np.ndarray] = None,
    colour_weight: float = 0.0,
) -> Dict[str, Any]:
    """One frame of post-processing.

    Args:
        cls_logits: 2×S×S raw logits; loc: 4×S×S (l, t, r, b) patch px; cen: 1×S×S or S×S raw logit.
        center, size: previous state in frame px; scale_z: template scale of this frame's crop.
        cfg: a :class:`SiamCARTrackConfig` (variant, lr, penalty_k, window_lr, hanning, region_s/l, top_k).
        window: S×S cosine window (computed if None).
        colour: S×S colour score (:class:`tracking.tracker.colour_model.ColourModel`); the classification
            probability becomes ``(1 − colour_weight)·cls + colour_weight·colour`` before penalty and window.

    Returns a dict with ``center`` (cx, cy) and ``size`` (w, h) *before* image clipping, ``score``
    (confidence in [0, 1]), ``maps`` (intermediate arrays) and ``info`` (peaks, rates).
    """
    s = geom.score_size
    scale_z = np.float64(scale_z)  # a numpy float64 as in the official code (NEP 50: keeps float64 results)
    cls_logits = np.asarray(cls_logits, dtype=np.float32).reshape(2, s, s)
    lrtbs = np.asarray(loc, dtype=np.float32).reshape(4, s, s)
    cen_raw = np.asarray(cen, dtype=np.float32).reshape(s, s)
    if window is None:
        window = hanning_window(s)
    cls = softmax_fg(cls_logits)
    maps: Dict[str, np.ndarray] = {}
    if colour is not None and colour_weight > 0:
        maps["cls_net"], maps["colour"] = cls, colour
        cls = fuse_scores(cls, colour, colour_weight)
    pen = penalty_map(lrtbs, size, scale_z, cfg.penalty_k)
    lam = cfg.window_lr
    variant = cfg.variant
    maps.update(cls_prob=cls, penalty=pen)
    info: Dict[str, Any] = {}

    if variant == "head":
        rng = float(cen_raw.max() - cen_raw.min())
        cen_n = (cen_raw - cen_raw.min()) / rng if rng > 0 else np.ones_like(cen_raw)
        maps["cen_norm"] = cen_n
        p_score = pen * cls * cen_n
    else:
        p_score = pen * cls
    hp_score = p_score * (1 - lam) + window * lam if cfg.hanning else p_score
    maps["p_score"] = p_score
    maps["hp_score"] = hp_score

    cx, cy = float(center[0]), float(center[1])
    if variant == "paper":
        return _paper(cls, lrtbs, pen, p_score, hp_score, cx, cy, size, scale_z, cfg, geom, maps, info)

    up = geom.up
    ss = geom.scale_score
    fix = cfg.fix_clip_off_by_one
    hp_up = upsample_cubic(hp_score, up)
    cls_up = upsample_cubic(cls, up)
    lrtbs_hwc = np.ascontiguousarray(lrtbs.transpose(1, 2, 0))
    lrtbs_up = upsample_cubic(lrtbs_hwc, up)
    maps["hp_score_up"] = hp_up

    # ---- coarse peak and region
    r0, c0 = argmax2d(hp_up)
    i0, j0 = _cell(r0, ss, s, fix), _cell(c0, ss, s, fix)
    i0c, j0c = min(i0, s - 1), min(j0, s - 1)  # official code would raise IndexError at s
    region = lrtbs_hwc[i0c, j0c, :]
    min_b = int(cfg.region_s * geom.template_size)
    if variant == "c1":
        max_b = int(round(cfg.region_l * geom.template_size))
    else:
        max_b = int(cfg.region_l * geom.template_size)
    l, t, r, b = (max(min_b, min(float(v), max_b)) for v in region)
    info.update(coarse_rc_up=(r0, c0), coarse_cell=(i0, j0), region_ltrb_raw=[float(v) for v in region])

    if variant == "head":
        L = int(min(c0, l) / 2.0)
        T = int(min(r0, t) / 2.0)
        R = int(min(up - c0, r) / 2.0)
        B = int(min(up - r0, b) / 2.0)
        info["regions_ltrb"] = [L, T, R, B]
        p_up = upsample_cubic(p_score, up)
        r1, c1, masked = _masked_argmax(p_up, r0 - T, r0 + B, c0 - L, c0 + R)
        maps["p_score_up_masked"] = masked
    else:
        # C1/C2: full extents, l/r bound the rows and t/b the columns (axis swap of the code)
        r_lo, r_hi = max(0, r0 - int(l)), min(up - 1, r0 + int(r))
        c_lo, c_hi = max(0, c0 - int(t)), min(up - 1, c0 + int(b))
        info["region_rows_cols"] = [r_lo, r_hi, c_lo, c_hi]
        cen_up = upsample_cubic(cen_raw, up)
        res_up = cls_up * cen_up
        if variant == "c2":
            r1, c1, masked = _masked_argmax(res_up, r_lo, r_hi, c_lo, c_hi)
            maps["p_score_up_masked"] = masked
        else:
            res_up = res_up.copy()
            res_up[r_lo:r_hi + 1, c_lo:c_hi + 1] += 100.0
            r1, c1 = argmax2d(res_up)
            maps["res_up"] = res_up

    info["fine_rc_up"] = (r1, c1)
    disp_r = (r1 + geom.offset) - geom.center
    disp_c = (c1 + geom.offset) - geom.center
    new_cx = cx + disp_c / scale_z
    new_cy = cy + disp_r / scale_z
    info["disp_rc_patch_px"] = (float(disp_r), float(disp_c))

    if variant == "c1":
        i1, j1 = _cell(r1, ss, s, True), _cell(c1, ss, s, True)
        rows = np.clip(np.arange(i1 - 1, i1 + 2), 0, s - 1)
        cols = np.clip(np.arange(j1 - 1, j1 + 2), 0, s - 1)
        cand = [(int(a), int(c)) for a in rows for c in cols]
        cand = sorted(set(cand), key=lambda ij: -p_score[ij])[:2]
        wts = np.array([cls[ij] for ij in cand], dtype=np.float64)
        boxes = np.array([lrtbs[:, ij[0], ij[1]] for ij in cand], dtype=np.float64)
        wsum = wts.sum()
        avg = (boxes * wts[:, None]).sum(0) / wsum if wsum > 0 else boxes.mean(0)
        ave_w = (avg[0] + avg[2]) / scale_z
        ave_h = (avg[1] + avg[3]) / scale_z
        cls_at = cls[i1, j1]
        info["c1_cells"] = cand
    else:
        lt = lrtbs_up[r1, c1]
        ave_w = (lt[0] + lt[2]) / scale_z
        ave_h = (lt[1] + lt[3]) / scale_z
        cls_at = cls_up[r1, c1]
        info["lrtbs_up_at_peak"] = [float(v) for v in lt]
    new_w, new_h, pen2, rate = _size_update(ave_w, ave_h, size, scale_z, cls_at, cfg.penalty_k, cfg.lr)
    info.update(ave_w=float(ave_w), ave_h=float(ave_h), size_penalty=pen2, cls_at_peak=float(cls_at), lr=rate)
    return {"center": (new_cx, new_cy), "size": (new_w, new_h), "score": float(cls_at), "maps": maps, "info": info}


def _paper(cls, lrtbs, pen, p_score, hp_score, cx, cy, size, scale_z, cfg, geom, maps, info) -> Dict[str, Any]:
    s = geom.score_size
    qi, qj = argmax2d(hp_score)
    rows = range(max(0, qi - 1), min(s, qi + 2))
    cols = range(max(0, qj - 1), min(s, qj + 2))
    cand = sorted(((i, j) for i in rows for j in cols), key=lambda ij: -p_score[ij])[: cfg.top_k]
    wts = np.array([p_score[ij] for ij in cand], dtype=np.float64)
    boxes = []
    cells = geom.cells
    for i, j in cand:
        x, y = float(cells[j]), float(cells[i])
        l, t, r, b = (float(v) for v in lrtbs[:, i, j])
        boxes.append((x - l, y - t, x + r, y + b))
    boxes = np.asarray(boxes, dtype=np.float64)
    wsum = wts.sum()
    box = (boxes * wts[:, None]).sum(0) / wsum if wsum > 0 else boxes.mean(0)
    bx = 0.5 * (box[0] + box[2])
    by = 0.5 * (box[1] + box[3])
    new_cx = cx + (bx - geom.center) / scale_z
    new_cy = cy + (by - geom.center) / scale_z
    bw = (box[2] - box[0]) / scale_z
    bh = (box[3] - box[1]) / scale_z
    # paper: no rule given for the size update; use the SiamRPN smoothing with consistent units
    rate = float(pen[qi, qj] * cls[qi, qj] * cfg.lr)
    new_w = rate * bw + (1 - rate) * size[0]
    new_h = rate * bh + (1 - rate) * size[1]
    info.update(peak_cell=(qi, qj), cells=cand, lr=rate, ave_w=float(bw), ave_h=float(bh))
    return {"center": (float(new_cx), float(new_cy)), "size": (float(new_w), float(new_h)),
            "score": float(cls[qi, qj]), "maps": maps, "info": info}
