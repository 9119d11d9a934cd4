"""Normalized cross-correlation (NCC) template-matching tracker.

Per frame: resample a search region around the last position at a few scales
to a fixed canonical resolution, correlate it with the template
(``cv2.TM_CCOEFF_NORMED``), add a cosine window (motion prior), take the best
peak (sub-pixel by a parabola fit), damp the scale change, and blend the
template slowly towards the new appearance when the match is confident.

Coordinates: boxes are 0-based ``[x, y, w, h]`` in continuous pixel units
(pixel ``i`` covers ``[i, i+1)``), so a box's centre is ``x + w/2``.
OpenCV samples at pixel-index coordinates, i.e. continuous ``- 0.5``.
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

from ltr.admin.registry import TRACKERS
from tracking.tracker.base import BaseTracker, TrackOutput

from .config import NCCConfig

__all__ = ["NCCTracker", "to_gray"]

_EPS = 1e-6


def to_gray(image: np.ndarray) -> np.ndarray:
    """HxW, HxWx1, HxWx3 (RGB) or HxWx4 image -> HxW array for matching (uint8 kept as uint8)."""
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    elif img.ndim == 3 and img.shape[2] == 4:
        img = img[:, :, :3]
    if img.ndim == 3 and img.shape[2] == 3:
        if img.dtype not in (np.uint8, np.float32):
            img = img.astype(np.float32)
        img = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY)
    elif img.ndim != 2:
        raise ValueError(f"NCC tracker: expected an HxW or HxWxC image, got shape {img.shape}")
    if img.dtype not in (np.uint8, np.float32):
        img = img.astype(np.float32)
    return np.ascontiguousarray(img)


class _Pyramid:
    """Lazily built downsampled copies of one frame, so that strong shrinking
    (huge targets) is done with area averaging instead of aliased bilinear sampling."""

    def __init__(self, gray: np.ndarray):
        self.levels: Dict[int, np.ndarray] = {0: gray}
        self.h, self.w = gray.shape

    def get(self, level: int) -> Tuple[np.ndarray, float, float]:
        if level not in self.levels:
            f = 0.5 ** level
            size = (max(1, int(round(self.w * f))), max(1, int(round(self.h * f))))
            self.levels[level] = cv2.resize(self.levels[0], size, interpolation=cv2.INTER_AREA)
        img = self.levels[level]
        return img, img.shape[1] / self.w, img.shape[0] / self.h


def _sample(pyr: _Pyramid, cx: float, cy: float, kx: float, ky: float, out_w: int, out_h: int) -> np.ndarray:
    """Resample an ``out_w x out_h`` patch centred at continuous ``(cx, cy)`` where one
    output pixel spans ``kx x ky`` image pixels.  Outside the image the border is replicated."""
    k = min(kx, ky)
    level = int(math.floor(math.log2(k))) if k >= 2.0 else 0
    img, fx, fy = pyr.get(level)
    sx, sy = kx * fx, ky * fy
    m = np.array(
        [[sx, 0.0, cx * fx + (0.5 - out_w / 2.0) * sx - 0.5],
         [0.0, sy, cy * fy + (0.5 - out_h / 2.0) * sy - 0.5]],
        dtype=np.float64,
    )
    patch = cv2.warpAffine(img, m, (out_w, out_h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_REPLICATE)
    return patch.astype(np.float32, copy=False)


def _subpixel(resp: np.ndarray, i: int, j: int) -> Tuple[float, float]:
    """Parabolic refinement of an integer peak; offsets are within (-0.5, 0.5)."""

    def fit(a: float, b: float, c: float) -> float:
        den = a - 2.0 * b + c
        if abs(den) < 1e-12:
            return 0.0
        return float(np.clip(0.5 * (a - c) / den, -0.5, 0.5))

    h, w = resp.shape
    di = fit(resp[i - 1, j], resp[i, j], resp[i + 1, j]) if 0 < i < h - 1 else 0.0
    dj = fit(resp[i, j - 1], resp[i, j], resp[i, j + 1]) if 0 < j < w - 1 else 0.0
    return di, dj


@TRACKERS.register("ncc", config=NCCConfig)
class NCCTracker(BaseTracker):
    """Reference tracker; deterministic, CPU-only, no network."""

    uses_network = False

    def __init__(self, cfg: NCCConfig, net=None, device: str = "cpu"):
        super().__init__(cfg, net, device)
        self.p = cfg.track
        self.center = np.zeros(2)
        self.size = np.ones(2)
        self.template: Optional[np.ndarray] = None
        self.tpl_w = self.tpl_h = 0
        self.search_w = self.search_h = 0
        self.image_size = (0, 0)
        self.max_size = np.ones(2)
        self.scales: List[float] = [1.0]
        self.window: Optional[np.ndarray] = None

    # ------------------------------------------------------------------ helpers
    def _canonical_factors(self, size: np.ndarray) -> Tuple[float, float]:
        """Image pixels per canonical pixel along x and y for a target of ``size``."""
        return float(size[0]) / self.tpl_w, float(size[1]) / self.tpl_h

    def _box(self) -> np.ndarray:
        return np.array([self.center[0] - self.size[0] / 2.0, self.center[1] - self.size[1] / 2.0,
                         self.size[0], self.size[1]], dtype=np.float64)

    # ------------------------------------------------------------------ API
    def initialize(self, image: np.ndarray, box: np.ndarray) -> TrackOutput:
        box = np.asarray(box, dtype=np.float64).reshape(-1)
        if box.size != 4 or not np.all(np.isfinite(box)) or box[2] <= 0 or box[3] <= 0:
            raise ValueError(f"NCC tracker: invalid initial box {box.tolist()} (need finite x,y,w,h with w,h > 0)")
        gray = to_gray(image)
        h_img, w_img = gray.shape
        self.image_size = (w_img, h_img)
        p = self.p
        self.size = np.maximum(box[2:], p.min_size)
        self.center = box[:2] + box[2:] / 2.0
        self.max_size = np.maximum(np.array([w_img, h_img], dtype=np.float64), self.size)
        # Canonical template: area ~ template_size^2, aspect ratio of the box, each side in [4, 4*T].
        aspect = self.size[0] / self.size[1]
        t = float(p.template_size)
        self.tpl_w = int(np.clip(round(t * math.sqrt(aspect)), 4, 4 * t))
        self.tpl_h = int(np.clip(round(t / math.sqrt(aspect)), 4, 4 * t))
        # Search size with an even margin, so zero displacement falls on a response pixel.
        self.search_w = self.tpl_w + 2 * int(round((p.search_area_factor - 1.0) * self.tpl_w / 2.0))
        self.search_h = self.tpl_h + 2 * int(round((p.search_area_factor - 1.0) * self.tpl_h / 2.0))
        rw, rh = self.search_w - self.tpl_w + 1, self.search_h - self.tpl_h + 1
        self.window = np.outer(np.hanning(rh + 2)[1:-1], np.hanning(rw + 2)[1:-1]).astype(np.float32)
        half = p.num_scales // 2
        self.scales = [p.scale_step ** k for k in range(-half, half + 1)]
        kx, ky = self._canonical_factors(self.size)
        self.template = _sample(_Pyramid(gray), self.center[0], self.center[1], kx, ky, self.tpl_w, self.tpl_h)
        return {"box": self._box(), "score": 1.0}

    def track(self, image: np.ndarray) -> TrackOutput:
        if self.template is None:
            raise RuntimeError("NCC tracker: track() called before initialize()")
        p = self.p
        pyr = _Pyramid(to_gray(image))
        kx0, ky0 = self._canonical_factors(self.size)
        tpl_flat = float(self.template.std()) < _EPS  # OpenCV answers 1 everywhere for a flat template
        best = None
        for s in self.scales:
            search = _sample(pyr, self.center[0], self.center[1], kx0 * s, ky0 * s, self.search_w, self.search_h)
            if tpl_flat:
                resp = np.zeros_like(self.window)
            else:
                resp = cv2.matchTemplate(search, self.template, cv2.TM_CCOEFF_NORMED)
                resp = np.clip(np.nan_to_num(resp, nan=0.0, posinf=0.0, neginf=0.0), -1.0, 1.0)
            pen = (1.0 - p.window_influence) * resp + p.window_influence * self.window
            i, j = np.unravel_index(int(np.argmax(pen)), pen.shape)
            val = float(pen[i, j]) - (p.scale_penalty if s != 1.0 else 0.0)
            if best is None or val > best[0]:
                best = (val, s, int(i), int(j), pen, resp)
        assert best is not None
        _, s, i, j, pen, resp = best
        di, dj = _subpixel(pen, i, j)
        # Template centre in search coordinates minus the search centre = displacement (canonical px).
        dx = (j + dj + self.tpl_w / 2.0 - self.search_w / 2.0) * kx0 * s
        dy = (i + di + self.tpl_h / 2.0 - self.search_h / 2.0) * ky0 * s
        w_img, h_img = self.image_size
        self.center = np.clip(self.center + np.array([dx, dy]), [0.0, 0.0], [float(w_img), float(h_img)])
        self.size = np.clip(self.size * (1.0 - p.scale_lr + p.scale_lr * s), p.min_size, self.max_size)
        score = float(resp[i, j])
        if p.template_lr > 0 and score >= p.update_threshold:
            kx, ky = self._canonical_factors(self.size)
            patch = _sample(pyr, self.center[0], self.center[1], kx, ky, self.tpl_w, self.tpl_h)
            self.template = (1.0 - p.template_lr) * self.template + p.template_lr * patch
        out: TrackOutput = {"box": self._box(), "score": score}
        if self.debug:
            out["debug"] = {"response": resp, "penalised": pen}
        return out
