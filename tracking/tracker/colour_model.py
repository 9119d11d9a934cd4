"""Online colour model of the target against its surroundings, for fusion into a Siamese score map.

Why: a Siamese tracker matches every frame against the first frame's template. When the target's colours
drift and a look-alike's stay close to the template, the network ranks the look-alike first and the tracker
switches. This model keeps colour histograms of the object and of its surroundings, learned on frame 1 and
blended with each later frame's estimate (Staple, Bertinetto et al. 2016; DAT, Possegger et al. 2015), so it
follows the drift; the tracker mixes its per-cell score into the network's classification map.

Shared by the Siamese trackers (``track.colour`` in their configs, :class:`ltr.admin.track_config.ColourModelConfig`).
Images are H×W×3 uint8 RGB; boxes are centre (x, y) and size (w, h) in frame pixels.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import numpy as np

from ltr.admin.track_config import ColourModelConfig

__all__ = ["ColourModel", "colour_histogram", "box_means", "local_maxima", "nearest_cell", "fuse_scores"]


def _bin_index(pixels: np.ndarray, bins: int, gain: Optional[np.ndarray] = None) -> np.ndarray:
    """Joint RGB bin of each pixel (…×3 → … int64): ``(r >> s)·b² + (g >> s)·b + (b >> s)`` of the pixel times
    ``gain`` (per channel), rounded and saturated to uint8."""
    shift = 8 - int(round(math.log2(bins)))
    px = np.asarray(pixels)
    if gain is not None:
        px = px.astype(np.float32) * np.asarray(gain, np.float32)
    if px.dtype != np.uint8:
        px = np.clip(np.rint(px), 0, 255).astype(np.uint8)
    q = (px >> shift).astype(np.int64)
    return (q[..., 0] * bins + q[..., 1]) * bins + q[..., 2]


def colour_histogram(pixels: np.ndarray, bins: int, gain: Optional[np.ndarray] = None) -> np.ndarray:
    """Joint RGB histogram (``bins``³ counts, float64) of an …×3 array (times ``gain``, see :func:`_bin_index`)."""
    idx = _bin_index(pixels, bins, gain).reshape(-1)
    return np.bincount(idx, minlength=bins ** 3).astype(np.float64)


def _region(shape: Tuple[int, int], center: Sequence[float], size: Sequence[float], factor: float
            ) -> Tuple[int, int, int, int]:
    """Integer pixel bounds ``(x0, y0, x1, y1)`` (exclusive ends) of the box scaled by ``factor``, clipped; at
    least one pixel wide and high when the centre lies in the frame (a sub-pixel box still has a colour)."""
    h, w = shape
    hw, hh = 0.5 * factor * float(size[0]), 0.5 * factor * float(size[1])
    cx, cy = float(center[0]), float(center[1])
    x0 = int(np.clip(round(cx - hw), 0, w))
    x1 = int(np.clip(max(round(cx + hw), x0 + 1) if 0 <= cx < w else round(cx + hw), 0, w))
    y0 = int(np.clip(round(cy - hh), 0, h))
    y1 = int(np.clip(max(round(cy + hh), y0 + 1) if 0 <= cy < h else round(cy + hh), 0, h))
    return x0, y0, x1, y1


def box_means(values: np.ndarray, xs: np.ndarray, ys: np.ndarray, w: float, h: float,
              empty: float = 0.5) -> np.ndarray:
    """Mean of ``values`` (H×W) over the ``w``×``h`` window centred at every grid point (``ys`` rows × ``xs``
    columns, pixel-index coordinates), clipped to the map; ``empty`` where a window holds no pixel.

    One integral image serves every window, so a 25×25 grid costs the same as one box sum."""
    hgt, wid = values.shape
    ii = np.zeros((hgt + 1, wid + 1), np.float64)
    ii[1:, 1:] = np.cumsum(np.cumsum(values, axis=0, dtype=np.float64), axis=1)
    # a window centred at pixel c of width w covers pixels [c - w/2 + 0.5, c + w/2 + 0.5), rounded
    x0 = np.clip(np.round(np.asarray(xs, np.float64) - w / 2 + 0.5), 0, wid).astype(np.int64)
    x1 = np.clip(np.round(np.asarray(xs, np.float64) + w / 2 + 0.5), 0, wid).astype(np.int64)
    y0 = np.clip(np.round(np.asarray(ys, np.float64) - h / 2 + 0.5), 0, hgt).astype(np.int64)
    y1 = np.clip(np.round(np.asarray(ys, np.float64) + h / 2 + 0.5), 0, hgt).astype(np.int64)
    s = ii[y1[:, None], x1[None, :]] - ii[y0[:, None], x1[None, :]] - ii[y1[:, None], x0[None, :]] \
        + ii[y0[:, None], x0[None, :]]
    n = (y1 - y0)[:, None] * (x1 - x0)[None, :]
    out = np.full(n.shape, float(empty))
    ok = n > 0
    out[ok] = s[ok] / n[ok]
    return out


def local_maxima(score: np.ndarray, min_ratio: float, exclude: Tuple[int, int], radius: float
                 ) -> np.ndarray:
    """(n, 2) row/column indices of the strict-or-equal 8-neighbour local maxima of ``score`` that reach
    ``min_ratio`` × its maximum and lie more than ``radius`` cells from ``exclude`` (the chosen peak)."""
    s = np.asarray(score, np.float64)
    pad = np.pad(s, 1, mode="constant", constant_values=-np.inf)
    h, w = s.shape
    is_max = np.ones_like(s, dtype=bool)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            if dr or dc:
                is_max &= s >= pad[1 + dr:1 + dr + h, 1 + dc:1 + dc + w]
    is_max &= s >= min_ratio * s.max()
    rr, cc = np.nonzero(is_max)
    far = (rr - exclude[0]) ** 2 + (cc - exclude[1]) ** 2 > radius ** 2
    return np.stack([rr[far], cc[far]], 1)


def fuse_scores(cls: np.ndarray, colour: np.ndarray, weight: float) -> np.ndarray:
    """The classification map a tracker decodes: ``(1 − weight)·cls + weight·colour`` (float32)."""
    return ((1 - weight) * cls + weight * np.asarray(colour, np.float64)).astype(np.float32)


def nearest_cell(xs: np.ndarray, ys: np.ndarray, crop_centre: float, frame_centre: Sequence[float], scale: float,
                 point: Sequence[float]) -> Tuple[int, int]:
    """(row, column) of the grid cell (``ys`` rows × ``xs`` columns in crop px) nearest to the frame-px ``point``,
    for a crop whose pixel ``crop_centre`` is ``frame_centre`` at ``scale`` crop px per frame px."""
    x = (float(point[0]) - float(frame_centre[0])) * scale + crop_centre
    y = (float(point[1]) - float(frame_centre[1])) * scale + crop_centre
    return int(np.argmin(np.abs(np.asarray(ys) - y))), int(np.argmin(np.abs(np.asarray(xs) - x)))


class ColourModel:
    """Object/surroundings colour histograms with a learning rate, and the per-cell score they give a crop."""

    def __init__(self, cfg: ColourModelConfig) -> None:
        cfg.validate()
        self.cfg = cfg
        self.h_obj: Optional[np.ndarray] = None
        self.h_sur: Optional[np.ndarray] = None
        self.h_dis: Optional[np.ndarray] = None
        self._table: Optional[np.ndarray] = None
        self.gain: Optional[np.ndarray] = None

    def set_frame(self, image: np.ndarray) -> None:
        """Grey-world gain of this frame (``normalise``): 128 / its mean per channel, from every 4th pixel."""
        if self.cfg.normalise:
            m = np.asarray(image[::4, ::4], np.float64).reshape(-1, 3).mean(0)
            self.gain = 128.0 / np.maximum(m, 1.0)

    def _histograms(self, image: np.ndarray, center: Sequence[float], size: Sequence[float]
                    ) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        """Normalised object and surroundings histograms, or None when either region is empty (target out of view)."""
        c = self.cfg
        shape = image.shape[:2]
        x0, y0, x1, y1 = _region(shape, center, size, c.inner)
        g = self.gain
        obj = colour_histogram(image[y0:y1, x0:x1], c.bins, g)
        x0, y0, x1, y1 = _region(shape, center, size, 1.0)
        box = colour_histogram(image[y0:y1, x0:x1], c.bins, g)
        x0, y0, x1, y1 = _region(shape, center, size, c.surround)
        sur = colour_histogram(image[y0:y1, x0:x1], c.bins, g) - box
        n_obj, n_sur = obj.sum(), sur.sum()
        if n_obj <= 0 or n_sur <= 0:
            return None
        return obj / n_obj, sur / n_sur

    @property
    def ready(self) -> bool:
        """Whether the model has seen the target (a start box outside the frame leaves it neutral until then)."""
        return self.h_obj is not None

    def initialize(self, image: np.ndarray, center: Sequence[float], size: Sequence[float]) -> None:
        """Learn the frame-1 histograms; a box that covers no pixel leaves the model neutral (every score 0.5)
        until an update finds the target in view."""
        self.set_frame(image)
        got = self._histograms(image, center, size)
        self.h_obj, self.h_sur = got if got is not None else (None, None)
        self.h_dis = None
        self._table = None

    def update(self, image: np.ndarray, center: Sequence[float], size: Sequence[float], score: float,
               distractors: Sequence[Sequence[float]] = (), agreement: float = 1.0) -> bool:
        """Blend in this frame's histograms at the estimated box; skipped (False) when the network's ``score`` is
        below ``update_threshold``, the ``agreement`` (colour score at the estimate / the colour map's maximum)
        below ``update_agreement``, or the box has left the frame. ``distractors``: centres (frame px) of
        look-alikes of the target's size, whose object regions feed the distractor histogram (kept as is in
        frames without any)."""
        lr = self.cfg.lr
        if lr <= 0 or not score >= self.cfg.update_threshold or not agreement >= self.cfg.update_agreement:
            return False
        got = self._histograms(image, center, size)
        if got is None:
            return False
        if not self.ready:
            self.h_obj, self.h_sur = got
            self._table = None
            return True
        self.h_obj = (1 - lr) * self.h_obj + lr * got[0]
        self.h_sur = (1 - lr) * self.h_sur + lr * got[1]
        if self.cfg.distractor_weight > 0 and len(distractors):
            dis = np.zeros_like(self.h_obj)
            for c in distractors:
                x0, y0, x1, y1 = _region(image.shape[:2], c, size, self.cfg.inner)
                dis += colour_histogram(image[y0:y1, x0:x1], self.cfg.bins, self.gain)
            if dis.sum() > 0:
                dis /= dis.sum()
                self.h_dis = dis if self.h_dis is None else (1 - lr) * self.h_dis + lr * dis
        self._table = None
        return True

    def table(self) -> np.ndarray:
        """P(object | colour bin), ``bins``³ float64 (0.5 for a colour seen in neither region; all 0.5 before
        the model has seen the target)."""
        if self._table is None and not self.ready:
            self._table = np.full(self.cfg.bins ** 3, 0.5)
        if self._table is None:
            p, d = self.cfg.prior, self.cfg.distractor_weight
            self._table = (self.h_obj + p) / (self.h_obj + self.h_sur + 2 * p)
            if d > 0 and self.h_dis is not None:
                self._table = (1 - d) * self._table + d * (self.h_obj + p) / (self.h_obj + self.h_dis + 2 * p)
        return self._table

    def likelihood(self, image: np.ndarray) -> np.ndarray:
        """Per-pixel P(object | colour) of an H×W×3 RGB image (uint8, or float rounded to uint8) of the frame
        last passed to :meth:`set_frame`."""
        return self.table()[_bin_index(image, self.cfg.bins, self.gain)]

    def distractor_centres(self, score: np.ndarray, xs: np.ndarray, ys: np.ndarray, crop_centre: float,
                           frame_centre: Sequence[float], scale: float, target: Sequence[float],
                           target_size: Sequence[float]) -> np.ndarray:
        """Frame-px centres of the look-alikes in a network score map (``ys`` rows × ``xs`` columns in crop px;
        crop pixel ``crop_centre`` is ``frame_centre`` in the frame, ``scale`` crop px per frame px): its local
        maxima of at least ``distractor_ratio`` × its maximum, more than one target size from ``target``."""
        if self.cfg.distractor_weight <= 0:
            return np.zeros((0, 2))
        fc = np.asarray(frame_centre, np.float64)
        step = float(xs[1] - xs[0]) if len(xs) > 1 else 1.0
        near = nearest_cell(xs, ys, crop_centre, fc, scale, target)
        radius = math.sqrt(float(target_size[0]) * float(target_size[1])) * scale / step
        rc = local_maxima(score, self.cfg.distractor_ratio, near, radius)
        return np.stack([fc[0] + (xs[rc[:, 1]] - crop_centre) / scale, fc[1] + (ys[rc[:, 0]] - crop_centre) / scale], 1)

    def learn(self, image: np.ndarray, net_map: np.ndarray, colour: np.ndarray, cell: Tuple[int, int],
              xs: np.ndarray, crop_centre: float, frame_centre: Sequence[float], scale: float,
              center: Sequence[float], size: Sequence[float]) -> bool:
        """A tracker's per-frame update after it chose the new state (``center``, ``size``) at score ``cell``
        of this frame's maps (square grid ``xs`` in crop px; crop geometry as in :meth:`distractor_centres`):
        gated by the network's score there and by the colour map's agreement, with the network map's
        look-alikes as distractors."""
        agree = float(colour[cell] / max(colour.max(), 1e-12))
        dis = self.distractor_centres(net_map, xs, xs, crop_centre, frame_centre, scale, center, size)
        return self.update(image, center, size, float(net_map[cell]), dis, agree)

    def score_map(self, crop: np.ndarray, xs: np.ndarray, ys: np.ndarray, size: Sequence[float]) -> np.ndarray:
        """Mean object likelihood over the object region (the ``size`` box in crop px, × ``inner``) centred at
        each grid point of ``crop`` (``ys`` rows × ``xs`` columns in crop pixels)."""
        w, h = self.cfg.inner * float(size[0]), self.cfg.inner * float(size[1])
        return box_means(self.likelihood(crop), xs, ys, max(w, 1.0), max(h, 1.0))
