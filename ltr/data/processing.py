"""Crops with context, jitter and augmentation: raw frames -> network inputs.

Two crop conventions (``ProcessingConfig.crop_mode``):

``siamfc`` (pysot / TracKit)
    Context square ``s_z = sqrt((w + p)(h + p))``, ``p = context_amount (w + h)``.
    The template is ``s_z`` resized to ``template.size``; the search crop has side
    ``s_z * search.size / template.size``.  Pixel-index geometry: a frame pixel
    ``x`` maps to ``u = (out - 1) / side * (x - cx) + (out - 1) / 2`` (pysot's
    ``_crop_hwc``), boxes are mapped corner by corner with the same affine, and a
    horizontal flip maps ``u -> out - 1 - u``.

``search_area`` (pytracking)
    Square side ``ceil(search_area_factor * sqrt(w h))`` for both branches.
    Continuous geometry: ``u = out / side * (x - cx) + out / 2`` for box coordinates
    (pixel centres sit at index + 0.5); a flip maps ``u -> out - u``.

Both are one ``cv2.warpAffine`` per frame (bilinear), so per-axis scale jitter
(an aspect change, as in pysot) costs nothing extra.  Jitter conventions
(``jitter_mode``):

``pysot``      centre shift uniform in +-center_jitter *output* pixels, per-axis
               scale factor 1 + U(-scale_jitter, scale_jitter) enlarging the crop
               window; the shift is clamped as pysot clamps it to its 511 pre-crop.
``pytracking`` box size * exp(N(0, 1) * scale_jitter) per axis, centre +
               (U - 0.5) * sqrt(jittered area) * center_jitter; the crop is then
               taken around the jittered box.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch

from ltr.admin.train_config import BranchConfig, ProcessingConfig

from . import transforms as T

__all__ = [
    "RawSample",
    "CropGeometry",
    "siamfc_side",
    "search_area_side",
    "crop_affine",
    "warp_crop",
    "transform_boxes",
    "jitter_crop",
    "augment_crop",
    "pick_distractor",
    "TrackingProcessing",
    "PYSOT_PRECROP",
]

#: size of pysot's offline pre-crop for a 127 template (its shift clamp refers to it)
PYSOT_PRECROP = 511


@dataclass
class RawSample:
    """What a sampler hands to processing: full frames, their boxes (xywh) and provenance.

    For a Siamese pair, ``train`` = template frame(s), ``test`` = search frame(s).
    ``negative``: the test frames come from a different video than the train frames.
    """

    train_images: List[np.ndarray]
    train_boxes: np.ndarray
    test_images: List[np.ndarray]
    test_boxes: np.ndarray
    negative: bool = False
    train_meta: Dict[str, Any] = field(default_factory=dict)
    test_meta: Dict[str, Any] = field(default_factory=dict)


@dataclass
class CropGeometry:
    """Affine frame -> crop: ``u = ax * (x - cx) + ox``, ``v = ay * (y - cy) + oy``."""

    cx: float
    cy: float
    ax: float
    ay: float
    ox: float
    oy: float
    out: int

    def matrix(self) -> np.ndarray:
        return np.array([[self.ax, 0.0, self.ox - self.ax * self.cx],
                         [0.0, self.ay, self.oy - self.ay * self.cy]], dtype=np.float64)


# --------------------------------------------------------------------------- geometry

def siamfc_side(box: np.ndarray, context_amount: float) -> float:
    """SiamFC context square side ``sqrt((w+p)(h+p))`` with ``p = context_amount*(w+h)``."""
    w, h = float(box[2]), float(box[3])
    p = context_amount * (w + h)
    return math.sqrt((w + p) * (h + p))


def search_area_side(box: np.ndarray, factor: float) -> float:
    """pytracking search-area side ``ceil(factor * sqrt(w h))``."""
    return float(math.ceil(factor * math.sqrt(float(box[2]) * float(box[3]))))


def crop_affine(cx: float, cy: float, side_x: float, side_y: float, out: int, pixel_index: bool) -> CropGeometry:
    """Geometry of a crop of ``side_x x side_y`` frame pixels centred at (cx, cy) resized to ``out``."""
    if side_x <= 0 or side_y <= 0 or not math.isfinite(side_x * side_y):
        raise ValueError(f"invalid crop side ({side_x}, {side_y})")
    if pixel_index:
        return CropGeometry(cx, cy, (out - 1) / side_x, (out - 1) / side_y, (out - 1) / 2.0, (out - 1) / 2.0, out)
    return CropGeometry(cx, cy, out / side_x, out / side_y, out / 2.0, out / 2.0, out)


def warp_crop(image: np.ndarray, geom: CropGeometry, pad_mode: str, pixel_index: bool) -> np.ndarray:
    """Crop with ``cv2.warpAffine`` (bilinear); returns float32 HxWx3."""
    m = geom.matrix()
    if not pixel_index:
        # continuous coords: u_c = a (x_c - cx) + o with x_c = x + 0.5, u_c = u + 0.5
        m = m.copy()
        m[0, 2] += 0.5 * geom.ax - 0.5
        m[1, 2] += 0.5 * geom.ay - 0.5
    if pad_mode == "replicate":
        border, value = cv2.BORDER_REPLICATE, 0
    elif pad_mode == "mean":
        border = cv2.BORDER_CONSTANT
        value = tuple(float(v) for v in cv2.mean(image)[:image.shape[2]])  # 30x faster than ndarray.mean on uint8
    elif pad_mode == "zeros":
        border, value = cv2.BORDER_CONSTANT, 0
    else:
        raise ValueError(f"unknown pad_mode '{pad_mode}'")
    crop = cv2.warpAffine(image, m, (geom.out, geom.out), flags=cv2.INTER_LINEAR, borderMode=border, borderValue=value)
    return crop.astype(np.float32, copy=False)


def transform_boxes(boxes: np.ndarray, geom: CropGeometry) -> np.ndarray:
    """Map (k, 4) xywh frame boxes into crop coordinates (corners through the affine)."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x0 = geom.ax * (b[:, 0] - geom.cx) + geom.ox
    y0 = geom.ay * (b[:, 1] - geom.cy) + geom.oy
    return np.stack([x0, y0, geom.ax * b[:, 2], geom.ay * b[:, 3]], axis=1)


def _branch_side(box: np.ndarray, cfg: ProcessingConfig, branch: BranchConfig) -> float:
    if cfg.crop_mode == "siamfc":
        return siamfc_side(box, cfg.context_amount) * branch.size / cfg.template.size
    return search_area_side(box, cfg.search_area_factor)


def jitter_crop(box: np.ndarray, cfg: ProcessingConfig, branch: BranchConfig, rng: np.random.Generator,
                toward: Optional[np.ndarray] = None) -> CropGeometry:
    """Crop geometry around ``box`` (xywh) with the branch's centre/scale jitter.

    ``toward`` (a frame point, e.g. a distractor's centre) replaces the random centre shift by the shift
    that centres the crop there, clipped per axis to the same ``center_jitter`` range."""
    box = np.asarray(box, dtype=np.float64)
    out = branch.size
    pix = cfg.crop_mode == "siamfc"
    cx, cy = box[0] + 0.5 * box[2], box[1] + 0.5 * box[3]
    if cfg.jitter_mode == "pysot":
        side = _branch_side(box, cfg, branch)
        s = branch.scale_jitter
        sx, sy = (1.0 + rng.uniform(-s, s, size=2)) if s > 0 else (1.0, 1.0)
        c = branch.center_jitter
        if toward is not None:
            d = (np.asarray(toward, dtype=np.float64) - (cx, cy)) * out / side
            dx, dy = (float(v) for v in np.clip(d, -c, c))
        else:
            dx, dy = rng.uniform(-c, c, size=2) if c > 0 else (0.0, 0.0)
        if pix:
            pre = PYSOT_PRECROP * cfg.template.size / 127.0
            mx, my = max(0.0, (pre - out * sx) / 2.0), max(0.0, (pre - out * sy) / 2.0)
            dx, dy = float(np.clip(dx, -mx, mx)), float(np.clip(dy, -my, my))
        # a shift of d output pixels (at scale 1) is d * side / out frame pixels
        return crop_affine(cx + dx * side / out, cy + dy * side / out, side * sx, side * sy, out, pix)
    # pytracking
    wh = box[2:4].copy()
    if branch.scale_jitter > 0:
        wh = wh * np.exp(rng.standard_normal(2) * branch.scale_jitter)
    if toward is not None:
        lim = 0.5 * math.sqrt(float(wh[0] * wh[1])) * branch.center_jitter
        off = np.clip(np.asarray(toward, dtype=np.float64) - (cx, cy), -lim, lim)
        cx, cy = cx + off[0], cy + off[1]
    elif branch.center_jitter > 0:
        off = math.sqrt(float(wh[0] * wh[1])) * branch.center_jitter * (rng.random(2) - 0.5)
        cx, cy = cx + off[0], cy + off[1]
    jbox = np.array([cx - wh[0] / 2, cy - wh[1] / 2, wh[0], wh[1]])
    side = _branch_side(jbox, cfg, branch)
    return crop_affine(cx, cy, side, side, out, pix)


def pick_distractor(box: np.ndarray, candidates: Optional[np.ndarray], image_shape: Tuple[int, ...],
                    rng: np.random.Generator, reach: float = 3.0) -> Optional[np.ndarray]:
    """Centre of a random look-alike whose centre is in the image and within ``reach`` target sizes
    (sqrt(wh)) of the target centre, or None; nearer ones are likelier (weight 1 / distance)."""
    if candidates is None:
        return None
    c = np.asarray(candidates, dtype=np.float64).reshape(-1, 4)
    if c.shape[0] == 0:
        return None
    ctr = c[:, :2] + c[:, 2:] / 2
    t = box[:2] + box[2:] / 2
    dist = np.sqrt(((ctr - t) ** 2).sum(1))
    h, w = image_shape[:2]
    ok = np.isfinite(dist) & (dist <= reach * math.sqrt(max(float(box[2] * box[3]), 1.0))) \
        & (ctr[:, 0] >= 0) & (ctr[:, 0] < w) & (ctr[:, 1] >= 0) & (ctr[:, 1] < h)
    if not ok.any():
        return None
    idx = np.flatnonzero(ok)
    wgt = 1.0 / np.maximum(dist[idx], 1.0)
    return ctr[int(rng.choice(idx, p=wgt / wgt.sum()))]


def augment_crop(img: np.ndarray, box: np.ndarray, branch: BranchConfig, rng: np.random.Generator,
                 flip_ref: float, gray: Optional[bool] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Photometric + flip augmentation of one crop (pysot order: colour, blur, gray, flip).

    ``gray``: forced decision (joint grayscale); None draws with ``branch.gray``.
    """
    if branch.pca_color > 0 and rng.random() < branch.pca_color:
        img = T.pca_color(img, rng)
    if branch.brightness > 0:
        img = T.brightness(img, branch.brightness, rng)
    if branch.color_jitter > 0:
        img = T.color_jitter(img, branch.color_jitter, rng)
    if branch.blur > 0 and rng.random() < branch.blur:
        img = T.gaussian_blur(img, rng)
    if branch.motion_blur > 0 and rng.random() < branch.motion_blur:
        img = T.motion_blur(img, rng)
    if gray is None:
        gray = branch.gray > 0 and rng.random() < branch.gray
    if gray:
        img = T.to_gray(img)
    if branch.flip > 0 and rng.random() < branch.flip:
        img = np.ascontiguousarray(img[:, ::-1])
        box = box.copy()
        box[0] = flip_ref - box[0] - box[2]
    return img, box


def _clamp_box(box: np.ndarray, out: int) -> np.ndarray:
    x0, y0 = np.clip(box[0], 0, out - 1), np.clip(box[1], 0, out - 1)
    x1, y1 = np.clip(box[0] + box[2], 0, out - 1), np.clip(box[1] + box[3], 0, out - 1)
    return np.array([x0, y0, x1 - x0, y1 - y0])


LabelFn = Callable[[Dict[str, torch.Tensor], np.random.Generator], Dict[str, torch.Tensor]]


class TrackingProcessing:
    """Default processing: crop + jitter + augment every frame, normalise, then optional labels.

    Output (per sample; the loader stacks a batch dimension in front):

    * ``sampler: pair``: ``template`` (3, t, t), ``search`` (3, s, s), ``template_box`` (4,),
      ``search_box`` (4,) xywh in crop coordinates, ``neg`` (bool).
    * ``sampler: sequence``: ``train_images`` (N, 3, t, t), ``train_boxes`` (N, 4), ``test_images``
      (M, 3, s, s), ``test_boxes`` (M, 4), ``neg``.

    ``labels(sample, rng) -> dict`` (tracker-supplied) adds label tensors.
    """

    def __init__(self, cfg: ProcessingConfig, mode: str = "pair", labels: Optional[LabelFn] = None):
        if mode not in ("pair", "sequence"):
            raise ValueError(f"processing mode must be 'pair' or 'sequence', got '{mode}'")
        self.cfg = cfg
        self.mode = mode
        self.labels = labels

    def crop_frames(self, images: Sequence[np.ndarray], boxes: np.ndarray, branch: BranchConfig,
                    rng: np.random.Generator, gray: Optional[bool],
                    distractors: Optional[Sequence[np.ndarray]] = None) -> Tuple[np.ndarray, np.ndarray]:
        """``distractors``: per frame (k, 4) boxes of look-alikes, used with ``branch.distractor_prob``."""
        cfg = self.cfg
        pix = cfg.crop_mode == "siamfc"
        flip_ref = branch.size - 1 if pix else branch.size
        crops, out_boxes = [], []
        for i, (img, box) in enumerate(zip(images, np.asarray(boxes, dtype=np.float64).reshape(-1, 4))):
            toward = None
            if branch.distractor_prob > 0 and distractors is not None and rng.random() < branch.distractor_prob:
                toward = pick_distractor(box, distractors[i], img.shape, rng)
            geom = jitter_crop(box, cfg, branch, rng, toward)
            crop = warp_crop(img, geom, cfg.pad_mode, pix)
            cbox = transform_boxes(box[None], geom)[0]
            crop, cbox = augment_crop(crop, cbox, branch, rng, flip_ref, gray)
            if cfg.clamp_boxes:
                cbox = _clamp_box(cbox, branch.size)
            crops.append(T.normalize_image(crop, cfg.normalize))
            out_boxes.append(cbox)
        return np.stack(crops), np.stack(out_boxes).astype(np.float32)

    def __call__(self, raw: RawSample, rng: np.random.Generator) -> Dict[str, torch.Tensor]:
        cfg = self.cfg
        gray = None
        if cfg.gray_joint:
            p = max(cfg.template.gray, cfg.search.gray)
            gray = bool(p > 0 and rng.random() < p)
        tr_img, tr_box = self.crop_frames(raw.train_images, raw.train_boxes, cfg.template, rng, gray)
        dis = None if raw.negative or self.mode != "pair" else raw.test_meta.get("distractors")
        te_img, te_box = self.crop_frames(raw.test_images, raw.test_boxes, cfg.search, rng, gray, dis)
        neg = torch.tensor(bool(raw.negative))
        if self.mode == "pair":
            out = {"template": torch.from_numpy(tr_img[0]), "search": torch.from_numpy(te_img[0]),
                   "template_box": torch.from_numpy(tr_box[0]), "search_box": torch.from_numpy(te_box[0]), "neg": neg}
        else:
            out = {"train_images": torch.from_numpy(tr_img), "train_boxes": torch.from_numpy(tr_box),
                   "test_images": torch.from_numpy(te_img), "test_boxes": torch.from_numpy(te_box), "neg": neg}
        if self.labels is not None:
            out.update(self.labels(out, rng))
        return out
