"""Pieces shared by the Siamese trackers (SiamCAR, Ocean): context crop, penalties, windows, upsampling.

Everything follows the pysot/TracKit conventions bit for bit where the parity goldens check it
(``shared/parity/README.md`` §3.5): the crop corner rule, mean padding with the frame-0 channel mean
truncated to uint8, cv2 bilinear resize of the uint8 patch, cv2 bicubic upsampling of float maps.

Coordinates: ``pos`` is the target centre (x, y) in frame pixels; a box ``(w, h)`` in frame pixels.
"""
from __future__ import annotations

import math
from typing import Dict, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from ltr.data.processing import crop_affine  # the one definition of the training crop geometry

__all__ = [
    "context_size",
    "get_subwindow",
    "get_subwindow_exact",
    "crop_corner_pysot",
    "crop_corner_trackit",
    "python2round",
    "hanning_window",
    "change",
    "sz_wh",
    "scale_aspect_penalty",
    "upsample_cubic",
    "score_offset",
    "ensure_rgb",
    "sync_device",
    "argmax2d",
]


def sync_device(device: Union[str, "torch.device"]) -> None:
    """Wait for queued CUDA work so per-stage timings measure the stage (no-op on CPU)."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def ensure_rgb(image: np.ndarray) -> np.ndarray:
    """Return an H×W×3 uint8 view/copy of ``image`` (grayscale H×W or H×W×1 is replicated, RGBA dropped)."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"expected a numpy image, got {type(image).__name__}")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    elif image.ndim == 3 and image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, :3]
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an H×W×3 image, got shape {image.shape}")
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    return image


def context_size(w: float, h: float, context_amount: float = 0.5) -> float:
    """SiamFC context square side ``sqrt((w + p)(h + p))`` with ``p = context_amount·(w + h)``."""
    p = context_amount * (w + h)
    return math.sqrt((w + p) * (h + p))


def python2round(x: float) -> float:
    """Round half away from zero (Python 2 ``round``; TracKit's ``python2round``)."""
    return float(math.floor(x + 0.5)) if x >= 0 else float(math.ceil(x - 0.5))


def crop_corner_pysot(c: float, sz: int) -> float:
    """pysot corner: ``floor(c − (sz + 1)/2 + 0.5)``."""
    return float(np.floor(c - (sz + 1) / 2 + 0.5))


def crop_corner_trackit(c: float, sz: int) -> float:
    """TracKit corner: Python-3 ``round(c − (sz + 1)/2)`` (banker's rounding)."""
    return float(round(c - (sz + 1) / 2))


def get_subwindow(
    image: np.ndarray,
    pos: Sequence[float],
    model_sz: int,
    original_sz: int,
    avg_chans: Union[np.ndarray, Sequence[float]],
    corner: str = "pysot",
    info: Optional[Dict] = None,
) -> np.ndarray:
    """Square crop of side ``original_sz`` around ``pos``, mean-padded, resized to ``model_sz``.

    Pixel-identical to pysot's ``get_subwindow`` (and TracKit's with ``corner='trackit'``), but it
    only allocates the crop itself instead of a padded copy of the whole frame.  Returns an
    ``model_sz``×``model_sz``×C uint8 array in the channel order of ``image``.

    ``avg_chans`` is assigned into uint8 as the official code does, i.e. truncated.  If ``info`` is
    a dict it receives the corner/pad values (for debugging and tests).
    """
    sz = int(original_sz)
    if sz < 1:
        raise ValueError(f"get_subwindow: crop size must be >= 1, got {original_sz}")
    if image.ndim != 3:
        raise ValueError(f"get_subwindow: expected an H×W×C image, got shape {image.shape}")
    im_h, im_w, ch = image.shape
    corner_fn = crop_corner_pysot if corner == "pysot" else crop_corner_trackit
    xmin = int(corner_fn(float(pos[0]), sz))
    ymin = int(corner_fn(float(pos[1]), sz))
    xmax = xmin + sz - 1
    ymax = ymin + sz - 1
    left = max(0, -xmin)
    top = max(0, -ymin)
    right = max(0, xmax - im_w + 1)
    bottom = max(0, ymax - im_h + 1)
    if info is not None:
        info.update(context_xmin=xmin, context_ymin=ymin, context_xmax=xmax, context_ymax=ymax,
                    pads_ltrb=[left, top, right, bottom], original_sz=sz)
    if left or top or right or bottom:
        fill = np.asarray(avg_chans, dtype=np.float64).reshape(-1)
        # uint8 assignment truncates (128.9 -> 128), like ``te_im[...] = avg_chans`` in pysot
        fill_u8 = np.clip(fill, 0, 255).astype(np.uint8)
        x0, x1 = max(xmin, 0), min(xmax + 1, im_w)
        y0, y1 = max(ymin, 0), min(ymax + 1, im_h)
        if x0 >= x1 or y0 >= y1:  # window entirely outside the frame
            patch = np.empty((sz, sz, ch), np.uint8)
            patch[:] = fill_u8
        else:
            value = [int(v) for v in fill_u8] + [0] * max(0, 4 - ch)
            patch = cv2.copyMakeBorder(
                np.ascontiguousarray(image[y0:y1, x0:x1]),
                y0 - ymin, ymax + 1 - y1, x0 - xmin, xmax + 1 - x1,
                cv2.BORDER_CONSTANT, value=value[:4],
            )
            if patch.ndim == 2:
                patch = patch[:, :, None]
    else:
        patch = image[ymin:ymax + 1, xmin:xmax + 1]
    if sz != model_sz:
        patch = cv2.resize(patch, (int(model_sz), int(model_sz)))
        if patch.ndim == 2:
            patch = patch[:, :, None]
    return np.ascontiguousarray(patch)


def get_subwindow_exact(
    image: np.ndarray,
    pos: Sequence[float],
    model_sz: int,
    side: float,
    avg_chans: Union[np.ndarray, Sequence[float]],
) -> Tuple[np.ndarray, float]:
    """The training pipeline's crop (``ltr.data.processing``, pysot ``crop_hwc`` convention): ``pos`` maps
    exactly to crop pixel ``(model_sz − 1)/2`` with scale ``(model_sz − 1)/side``, bilinear, mean-padded.

    Why: the official crop (:func:`get_subwindow`) rounds the window corner and resizes a ``round(side)``
    patch, so the target lands on average one frame pixel right of and below the point the decoder assumes
    (measured on the synthetic val split: +0.8–1.5 px with a model trained on exact crops). A model
    trained by SOTLab sees exact crops, so tracking with the same geometry removes that bias. Returns the
    float32 crop (channel order of ``image``) and the scale (crop px per frame px).
    """
    if not (side > 0 and math.isfinite(side)):
        raise ValueError(f"get_subwindow_exact: crop side must be a finite number > 0, got {side}")
    cx, cy, side = float(pos[0]), float(pos[1]), float(side)
    fill = tuple(float(v) for v in np.asarray(avg_chans, dtype=np.float64).reshape(-1)[:4])
    # warp only the frame region the crop samples (its footprint is centre ± side/2; +2 px for the bilinear
    # neighbours), so a large or negatively strided (BGR view) frame is not copied whole
    h, w = image.shape[:2]
    x0, x1 = max(0, int(math.floor(cx - side / 2)) - 2), min(w, int(math.ceil(cx + side / 2)) + 3)
    y0, y1 = max(0, int(math.floor(cy - side / 2)) - 2), min(h, int(math.ceil(cy + side / 2)) + 3)
    geom = crop_affine(cx - x0, cy - y0, side, side, int(model_sz), pixel_index=True)
    if x0 >= x1 or y0 >= y1:  # the window lies entirely outside the frame
        crop = np.empty((int(model_sz), int(model_sz), image.shape[2] if image.ndim == 3 else 1), np.float32)
        value = np.asarray(fill[:crop.shape[2]], np.float64)
        if image.dtype == np.uint8:  # what warpAffine would write: the border value saturated to uint8
            value = np.clip(np.rint(value), 0, 255)
        crop[:] = value.astype(np.float32)
        return crop, float(geom.ax)
    roi = np.ascontiguousarray(image[y0:y1, x0:x1])
    crop = cv2.warpAffine(roi, geom.matrix(), (int(model_sz), int(model_sz)), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=fill)
    if crop.ndim == 2:
        crop = crop[:, :, None]
    return crop.astype(np.float32, copy=False), float(geom.ax)


def hanning_window(size: int) -> np.ndarray:
    """Outer product of numpy Hanning windows (zero at both ends), float64."""
    h = np.hanning(size)
    return np.outer(h, h)


def change(r: np.ndarray | float) -> np.ndarray | float:
    """max(r, 1/r): symmetric ratio change."""
    return np.maximum(r, 1.0 / r)


def sz_wh(w: np.ndarray | float, h: np.ndarray | float) -> np.ndarray | float:
    """SiamRPN size measure ``sqrt((w + p)(h + p))``, p = (w + h)/2."""
    pad = (w + h) * 0.5
    return np.sqrt((w + pad) * (h + pad))


def scale_aspect_penalty(
    pred_w: np.ndarray,
    pred_h: np.ndarray,
    ref_w: float,
    ref_h: float,
    penalty_k: float,
) -> np.ndarray:
    """SiamRPN scale/aspect-ratio change penalty ``exp(−(r_c·s_c − 1)·k)``.

    ``s_c = change(sz(pred) / sz(ref))`` and ``r_c = change((ref_w/ref_h) / (pred_w/pred_h))``; it is 1
    when the predicted box equals the reference.  Both sizes must be in the same units (patch px) —
    callers that reproduce SiamCAR's unit mix pass frame-px predictions on purpose.
    """
    s_c = change(sz_wh(pred_w, pred_h) / sz_wh(ref_w, ref_h))
    r_c = change((ref_w / ref_h) / (pred_w / pred_h))
    return np.exp(-(r_c * s_c - 1) * penalty_k)


def upsample_cubic(score: np.ndarray, size: int) -> np.ndarray:
    """cv2 bicubic resize of an H×W (or H×W×C, C ≤ 4) map to ``size``×``size`` (half-pixel centres)."""
    return cv2.resize(score, (int(size), int(size)), interpolation=cv2.INTER_CUBIC)


def score_offset(search_size: int, score_size: int, stride: int) -> int:
    """Patch coordinate of upsampled index 0 at inference: ``int((X − (S − 1)·stride)/2)`` (31 for 255/25/8)."""
    return int((search_size - (score_size - 1) * stride) / 2)


def argmax2d(a: np.ndarray) -> Tuple[int, int]:
    r, c = np.unravel_index(int(np.argmax(a)), a.shape)
    return int(r), int(c)
