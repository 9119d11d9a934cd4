"""Training-label generators used by the five trackers (all vectorised, torch).

Coordinates: boxes are ``[x, y, w, h]`` in crop pixels; score-map cell
``(i, j)`` (row, column) sits at crop point ``(offset + stride * j, offset +
stride * i)`` (see :func:`grid_points`; SiamCAR training uses offset 32,
stride 8 on a 25x25 map).  Outputs are batch-first: ``(B, P)`` over the
``P = H * W`` grid points in row-major order, or ``(B, H, W)`` for maps.

Which spec uses what:

* SiamCAR: :func:`ltrb_targets`, :func:`central_region_mask` (code) or
  :func:`inside_box_mask` (paper), :func:`centerness_targets`.
* Ocean: :func:`ltrb_targets` + :func:`inside_box_mask` (regression weight),
  :func:`diamond_label` (code) or :func:`distance_label` (paper).
* FCOT / DuML-ONR / Ocean-online: :func:`dimp_gaussian_label`.
* DCFST: :func:`gaussian_label` at RoI centres, :func:`perturb_boxes_min_iou` (IoU-Net).
* DuML-OFC: :func:`anchor_boxes`, :func:`atss_label`; ablations :func:`iou_threshold_label`,
  :func:`ellipse_label`.
"""
from __future__ import annotations

import math
from typing import Sequence, Tuple, Union

import numpy as np
import torch

__all__ = [
    "grid_points",
    "ltrb_targets",
    "inside_box_mask",
    "central_region_mask",
    "ellipse_label",
    "diamond_label",
    "distance_label",
    "centerness_targets",
    "gaussian_label",
    "dimp_gaussian_label",
    "box_iou",
    "anchor_boxes",
    "iou_threshold_label",
    "atss_label",
    "iou_xywh_np",
    "sample_box_gmm",
    "perturb_boxes_min_iou",
]

SizeT = Union[int, Tuple[int, int], Sequence[int]]


def _hw(size: SizeT) -> Tuple[int, int]:
    if isinstance(size, int):
        return size, size
    h, w = size
    return int(h), int(w)


def grid_points(size: SizeT, stride: float, offset: float, device=None, dtype=torch.float32) -> torch.Tensor:
    """(H*W, 2) crop coordinates ``(x, y)`` of the score-map cells, row-major."""
    h, w = _hw(size)
    ys = offset + stride * torch.arange(h, device=device, dtype=dtype)
    xs = offset + stride * torch.arange(w, device=device, dtype=dtype)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)


def _as_boxes(boxes: torch.Tensor) -> torch.Tensor:
    boxes = torch.as_tensor(boxes)
    return boxes.reshape(-1, 4) if boxes.dim() == 1 else boxes


def ltrb_targets(points: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """(B, P, 4) distances ``(l, t, r, b) = (x - x0, y - y0, x1 - x, y1 - y)`` (pixels, unnormalised)."""
    b = _as_boxes(boxes).to(points.dtype)
    x, y = points[None, :, 0], points[None, :, 1]
    x0, y0 = b[:, 0:1], b[:, 1:2]
    x1, y1 = x0 + b[:, 2:3], y0 + b[:, 3:4]
    return torch.stack([x - x0, y - y0, x1 - x, y1 - y], dim=2)


def inside_box_mask(ltrb: torch.Tensor) -> torch.Tensor:
    """(B, P) True where the point is strictly inside the box (all four distances > 0)."""
    return (ltrb > 0).all(dim=-1)


def central_region_mask(ltrb: torch.Tensor, ratio: float = 0.2) -> torch.Tensor:
    """(B, P) True in the central sub-box ``|x - cx| < ratio*w``, ``|y - cy| < ratio*h``.

    SiamCAR code form: ``l, r > (0.5 - ratio) w`` and ``t, b > (0.5 - ratio) h`` (ratio 0.2 = 40 % x 40 %).
    """
    w = ltrb[..., 0] + ltrb[..., 2]
    h = ltrb[..., 1] + ltrb[..., 3]
    k = 0.5 - ratio
    return (ltrb[..., 0] > k * w) & (ltrb[..., 2] > k * w) & (ltrb[..., 1] > k * h) & (ltrb[..., 3] > k * h)


def ellipse_label(points: torch.Tensor, boxes: torch.Tensor, pos_ratio: float = 0.5, neg_ratio: float = 1.0) -> torch.Tensor:
    """(B, P) labels 1 inside the ellipse with semi-axes ``pos_ratio*(w/2, h/2)``, 0 outside the one with
    ``neg_ratio*(w/2, h/2)``, -1 (ignore) in between (SiamBAN-style)."""
    b = _as_boxes(boxes).to(points.dtype)
    cx, cy = b[:, 0:1] + b[:, 2:3] / 2, b[:, 1:2] + b[:, 3:4] / 2
    ax, ay = b[:, 2:3] / 2, b[:, 3:4] / 2
    d = ((points[None, :, 0] - cx) / ax) ** 2 + ((points[None, :, 1] - cy) / ay) ** 2
    lab = torch.full(d.shape, -1.0, dtype=points.dtype, device=points.device)
    lab[d > neg_ratio ** 2] = 0.0
    lab[d < pos_ratio ** 2] = 1.0
    return lab


def diamond_label(size: SizeT, centers: torch.Tensor, radius: float = 2) -> torch.Tensor:
    """(B, H, W) 1 where ``|i - ci| + |j - cj| <= radius`` (Ocean code, ``centers`` = (cj, ci) cell indices)."""
    h, w = _hw(size)
    c = torch.as_tensor(centers).reshape(-1, 2)
    i = torch.arange(h, device=c.device, dtype=c.dtype).view(1, h, 1)
    j = torch.arange(w, device=c.device, dtype=c.dtype).view(1, 1, w)
    d = (i - c[:, 1].view(-1, 1, 1)).abs() + (j - c[:, 0].view(-1, 1, 1)).abs()
    return (d <= radius).to(torch.float32)


def distance_label(points: torch.Tensor, centers: torch.Tensor, radius: float) -> torch.Tensor:
    """(B, P) 1 where the Euclidean distance from the point to the centre (x, y) is <= radius (Ocean paper)."""
    c = torch.as_tensor(centers, dtype=points.dtype).reshape(-1, 2)
    d2 = ((points[None] - c[:, None]) ** 2).sum(-1)
    return (d2 <= radius * radius).to(points.dtype)


def centerness_targets(ltrb: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """FCOS centerness ``sqrt(min(l,r)/max(l,r) * min(t,b)/max(t,b))``; 0 where a distance is <= 0."""
    l, t, r, b = ltrb.unbind(-1)
    lr = torch.minimum(l, r) / torch.maximum(l, r).clamp_min(1e-12)
    tb = torch.minimum(t, b) / torch.maximum(t, b).clamp_min(1e-12)
    c = (lr.clamp_min(0) * tb.clamp_min(0) + eps).sqrt()
    return torch.where((ltrb > 0).all(-1), c, torch.zeros_like(c))


def gaussian_label(size: SizeT, centers: torch.Tensor, sigma: Union[float, torch.Tensor],
                   index_offset: Tuple[float, float] = (0.0, 0.0)) -> torch.Tensor:
    """(B, H, W) ``exp(-((j + ox - cx)^2 + (i + oy - cy)^2) / (2 sigma^2))``.

    ``centers`` (B, 2) are ``(cx, cy)`` in the coordinate where cell ``(i, j)`` sits at
    ``(j + ox, i + oy)``; ``sigma`` a float or (B,) tensor (cells).
    """
    h, w = _hw(size)
    c = torch.as_tensor(centers, dtype=torch.float32).reshape(-1, 2)
    s = torch.as_tensor(sigma, dtype=c.dtype, device=c.device).reshape(-1, 1)
    if s.shape[0] == 1:
        s = s.expand(c.shape[0], 1)
    gx = torch.exp(-((torch.arange(w, dtype=c.dtype, device=c.device)[None] + index_offset[0] - c[:, 0:1]) ** 2) / (2 * s ** 2))
    gy = torch.exp(-((torch.arange(h, dtype=c.dtype, device=c.device)[None] + index_offset[1] - c[:, 1:2]) ** 2) / (2 * s ** 2))
    return gy[:, :, None] * gx[:, None, :]


def dimp_gaussian_label(boxes: torch.Tensor, sigma_factor: float, kernel_size: SizeT, feat_size: SizeT,
                        image_size: SizeT, end_pad_if_even: bool = True) -> torch.Tensor:
    """DiMP/FCOT Gaussian score label for a filter of ``kernel_size`` on a ``feat_size`` feature map.

    Cell coordinates run from ``-(F-1)/2`` (centre of the map = 0); the target
    centre maps to ``F * (c - I/2) / I + 0.5 * (k + 1 mod 2)``;
    ``sigma = sigma_factor * sqrt(Fh * Fw)``.  With an even kernel the map gains one
    cell at the end (``end_pad_if_even``), e.g. 18 -> 19 (FCOT branch 18) and 72 -> 73.
    Returns (B, Fh + pad, Fw + pad).
    """
    b = _as_boxes(boxes).to(torch.float32)
    kh, kw = _hw(kernel_size)
    fh, fw = _hw(feat_size)
    ih, iw = _hw(image_size)
    c = b[:, 0:2] + 0.5 * b[:, 2:4]
    cx = fw * (c[:, 0] - iw / 2.0) / iw + 0.5 * ((kw + 1) % 2)
    cy = fh * (c[:, 1] - ih / 2.0) / ih + 0.5 * ((kh + 1) % 2)
    sigma = sigma_factor * math.sqrt(fh * fw)
    ph = int(end_pad_if_even and kh % 2 == 0)
    pw = int(end_pad_if_even and kw % 2 == 0)
    return gaussian_label((fh + ph, fw + pw), torch.stack([cx, cy], 1), sigma,
                          index_offset=(-(fw - 1) / 2.0, -(fh - 1) / 2.0))


# --------------------------------------------------------------------------- IoU / anchors

def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of xywh boxes with broadcasting: ``a`` (..., 4), ``b`` (..., 4)."""
    ax1, ay1 = a[..., 0] + a[..., 2], a[..., 1] + a[..., 3]
    bx1, by1 = b[..., 0] + b[..., 2], b[..., 1] + b[..., 3]
    iw = (torch.minimum(ax1, bx1) - torch.maximum(a[..., 0], b[..., 0])).clamp_min(0)
    ih = (torch.minimum(ay1, by1) - torch.maximum(a[..., 1], b[..., 1])).clamp_min(0)
    inter = iw * ih
    union = a[..., 2] * a[..., 3] + b[..., 2] * b[..., 3] - inter
    return inter / union.clamp_min(1e-12)


def anchor_boxes(points: torch.Tensor, wh: torch.Tensor) -> torch.Tensor:
    """(K*P, 4) xywh anchors of sizes ``wh`` (K, 2) centred on ``points`` (P, 2); index ``k*P + p``
    (matches a (K, H, W) network output flattened)."""
    wh = torch.as_tensor(wh, dtype=points.dtype, device=points.device).reshape(-1, 2)
    c = points[None].expand(wh.shape[0], -1, -1)
    s = wh[:, None].expand(-1, points.shape[0], -1)
    return torch.cat([c - s / 2, s], dim=-1).reshape(-1, 4)


def iou_threshold_label(anchors: torch.Tensor, boxes: torch.Tensor, pos_thr: float, neg_thr: float,
                        best_anchor: bool = True) -> torch.Tensor:
    """(B, A) Bernoulli targets: 1 if IoU > pos_thr (plus the best anchor per box), 0 if IoU < neg_thr,
    -1 (ignore) otherwise (SiamRPN / DuML-ONC ablation)."""
    iou = box_iou(anchors[None], _as_boxes(boxes).to(anchors.dtype)[:, None])
    lab = torch.full_like(iou, -1.0)
    lab[iou < neg_thr] = 0.0
    lab[iou > pos_thr] = 1.0
    if best_anchor:
        lab.scatter_(1, iou.argmax(dim=1, keepdim=True), 1.0)
    return lab


def atss_label(anchors: torch.Tensor, boxes: torch.Tensor, topk: int, candidates: str = "iou",
               require_center_inside: bool = True, unbiased_std: bool = True) -> Tuple[torch.Tensor, torch.Tensor]:
    """ATSS assignment per box. Returns ``(labels (B, A) in {0, 1}, iou (B, A))``.

    Candidates are the ``topk`` anchors by IoU (DuML's ATSS_MaxIoU) or by centre
    distance (original ATSS, one level); threshold = mean + std of the
    candidates' IoUs; positive = candidate with IoU >= threshold (and, with
    ``require_center_inside``, anchor centre strictly inside the box).
    """
    b = _as_boxes(boxes).to(anchors.dtype)
    iou = box_iou(anchors[None], b[:, None])  # (B, A)
    k = min(topk, anchors.shape[0])
    if candidates == "iou":
        idx = iou.topk(k, dim=1).indices
    elif candidates == "distance":
        ac = anchors[:, :2] + anchors[:, 2:] / 2
        bc = b[:, :2] + b[:, 2:] / 2
        d = ((ac[None] - bc[:, None]) ** 2).sum(-1)
        idx = d.topk(k, dim=1, largest=False).indices
    else:
        raise ValueError(f"atss_label: candidates must be 'iou' or 'distance', got '{candidates}'")
    cand_iou = iou.gather(1, idx)
    thr = cand_iou.mean(1, keepdim=True) + cand_iou.std(1, keepdim=True, unbiased=unbiased_std and k > 1)
    is_cand = torch.zeros_like(iou, dtype=torch.bool).scatter_(1, idx, True)
    pos = is_cand & (iou >= thr)
    if require_center_inside:
        ac = anchors[:, :2] + anchors[:, 2:] / 2
        inside = ((ac[None] > b[:, None, :2]) & (ac[None] < b[:, None, :2] + b[:, None, 2:])).all(-1)
        pos &= inside
    return pos.to(anchors.dtype), iou


# --------------------------------------------------------------------------- IoU-Net proposals (numpy, per sample)

def iou_xywh_np(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of xywh boxes with numpy broadcasting."""
    iw = np.clip(np.minimum(a[..., 0] + a[..., 2], b[..., 0] + b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 1] + a[..., 3], b[..., 1] + b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    return inter / np.maximum(a[..., 2] * a[..., 3] + b[..., 2] * b[..., 3] - inter, 1e-12)


def sample_box_gmm(box: np.ndarray, sigmas: Sequence[Tuple[float, float]], num: int,
                   rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """Proposals from an equal-weight Gaussian mixture around ``box`` (DiMP/PrDiMP style).

    In the relative parametrisation ``(cx/w, cy/h, log w, log h)`` each
    component ``k`` is N(box, diag(sx_k, sy_k, sx_k, sy_k)^2).  Returns
    ``(proposals (num, 4) xywh, density (num,))`` where density is the mixture
    pdf in that parametrisation.
    """
    box = np.asarray(box, dtype=np.float64)
    sig = np.asarray(sigmas, dtype=np.float64).reshape(-1, 2)
    comp = rng.integers(0, sig.shape[0], size=num)
    s4 = np.concatenate([sig, sig], axis=1)  # (K, 4)
    z = rng.standard_normal((num, 4)) * s4[comp]
    w, h = box[2], box[3]
    cx, cy = box[0] + w / 2 + z[:, 0] * w, box[1] + h / 2 + z[:, 1] * h
    pw, ph = w * np.exp(z[:, 2]), h * np.exp(z[:, 3])
    props = np.stack([cx - pw / 2, cy - ph / 2, pw, ph], axis=1)
    dens = np.exp(-0.5 * ((z[:, None, :] / s4[None]) ** 2).sum(-1)) / ((2 * np.pi) ** 2 * s4.prod(1)[None])
    return props, dens.mean(axis=1)


def perturb_boxes_min_iou(box: np.ndarray, num: int, min_iou: float, sigma_factors: Sequence[float],
                          rng: np.random.Generator, max_rounds: int = 100, decay: float = 0.9) -> Tuple[np.ndarray, np.ndarray]:
    """ATOM IoU-Net proposals: jitter ``box`` until IoU > ``min_iou``.

    Each proposal draws a sigma factor from ``sigma_factors``; centre noise is
    N(0, (f*sqrt(wh))^2) per axis and size noise N(0, (f*w)^2), N(0, (f*h)^2).
    Proposals failing the IoU test are redrawn with the factor shrunk by
    ``decay`` (vectorised over all pending proposals).  Returns
    ``(proposals (num, 4) xywh, iou (num,))``.
    """
    box = np.asarray(box, dtype=np.float64)
    f = np.asarray(sigma_factors, dtype=np.float64)[rng.integers(0, len(sigma_factors), size=num)]
    props = np.tile(box, (num, 1))
    ious = np.ones(num)
    pending = np.arange(num)
    c = box[:2] + box[2:] / 2
    for _ in range(max_rounds):
        if pending.size == 0:
            break
        fp = f[pending][:, None]
        cstd = fp * math.sqrt(box[2] * box[3])
        cj = c[None] + rng.standard_normal((pending.size, 2)) * cstd
        wh = box[None, 2:] + rng.standard_normal((pending.size, 2)) * fp * box[None, 2:]
        wh = np.maximum(wh, 1.0)  # keep a proper box
        cand = np.concatenate([cj - wh / 2, wh], axis=1)
        ci = iou_xywh_np(cand, box[None])
        ok = ci > min_iou
        props[pending[ok]] = cand[ok]
        ious[pending[ok]] = ci[ok]
        f[pending[~ok]] *= decay
        pending = pending[~ok]
    return props, ious
