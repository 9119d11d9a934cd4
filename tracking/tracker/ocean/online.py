"""Online classifier state of Ocean-online (ocean.md §3.2; TracKit ``lib/tracker/online.py``, DiMP rules).

Init: a 2× expanded sample (448 for 224) around the rounded target centre, 23 augmented 224 crops
(identity, 4 relative shifts, flip, 5 blurs, 12 rotations; random shifts of ±1/6 sample) plus 7 feature
dropout copies → 30 samples of weight 1/30; the filter is initialised and optimised for 25 steepest-descent
iterations. Per frame: classify a sample at the frame-1 scale centred half a cell off the target (13 + 4
is odd), localise with DiMP's advanced rule (flags), hand the raw 14×14 map to the Siamese step, then
follow the Siamese box, store the sample (not for not_found/uncertain) and optimise 3 iterations on hard
negatives or every ``train_skipping`` frames.

Coordinates inside this module follow pytracking: positions and sizes are (y, x) / (h, w) tensors.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Tuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from tracking.optim import SampleMemory

__all__ = ["OceanOnlineTracker", "sample_patch", "crop_to_output"]


def _index_crop(im: torch.Tensor, top: int, left: int, h: int, w: int, mode: str) -> torch.Tensor:
    """``im[..., top:top+h, left:left+w]`` with out-of-image rows/columns replicated (or zero)."""
    H, W = im.shape[-2:]
    rows = torch.arange(top, top + h, device=im.device)
    cols = torch.arange(left, left + w, device=im.device)
    out = im.index_select(-2, rows.clamp(0, H - 1)).index_select(-1, cols.clamp(0, W - 1))
    if mode == "constant":
        valid = ((rows >= 0) & (rows < H)).view(-1, 1) & ((cols >= 0) & (cols < W)).view(1, -1)
        out = out * valid.to(out.dtype)
    return out


def sample_patch(im: torch.Tensor, pos: torch.Tensor, sample_sz: torch.Tensor, output_sz: Optional[Tuple[int, int]],
                 mode: str = "replicate") -> Tuple[torch.Tensor, torch.Tensor]:
    """pytracking ``sample_patch``: crop ``sample_sz`` (h, w) around ``pos`` (y, x), integer pre-downsampling
    when shrinking by ≥ 2, border replication, bilinear resize to ``output_sz``. Returns (patch, coords
    (1, 4) = (top, left, bottom, right) in image px)."""
    posl = pos.long().clone()
    if output_sz is not None:
        resize_factor = float(torch.min(sample_sz.float() / torch.tensor(output_sz, dtype=torch.float32)))
        df = int(max(int(resize_factor - 0.1), 1))
    else:
        df = 1
    sz = sample_sz.float() / df
    im2 = im
    if df > 1:
        os_ = posl % df
        posl = (posl - os_) // df
        im2 = im[..., int(os_[0])::df, int(os_[1])::df]
    szl = torch.max(sz.round(), torch.tensor([2.0, 2.0])).long()
    tl = posl - (szl - 1) // 2
    br = posl + szl // 2 + 1
    patch = _index_crop(im2, int(tl[0]), int(tl[1]), int(br[0] - tl[0]), int(br[1] - tl[1]), mode)
    coords = df * torch.cat((tl, br)).view(1, 4)
    if output_sz is None or tuple(patch.shape[-2:]) == tuple(output_sz):
        return patch.clone(), coords
    return F.interpolate(patch, size=list(output_sz), mode="bilinear", align_corners=False), coords


def crop_to_output(image: torch.Tensor, output_sz: Tuple[int, int], shift: Tuple[int, int]) -> torch.Tensor:
    """pytracking ``Transform.crop_to_output``: centre ``output_sz`` window moved by ``shift`` (y, x), replicated."""
    pad_h = (output_sz[0] - image.shape[-2]) / 2
    pad_w = (output_sz[1] - image.shape[-1]) / 2
    top = -(math.floor(pad_h) + shift[0])
    left = -(math.floor(pad_w) + shift[1])
    return _index_crop(image, top, left, output_sz[0], output_sz[1], "replicate")


def _blur(image: torch.Tensor, sigma: Tuple[float, float]) -> torch.Tensor:
    """Separable Gaussian blur, kernel radius ceil(2σ), zero border (pytracking ``augmentation.Blur``).

    Runs through ``cv2.sepFilter2D`` (same correlation, ~10× faster than 1-channel ``conv2d`` on CPU).
    """
    ks = []
    for s in sigma:
        r = math.ceil(2 * s)
        x = np.arange(-r, r + 1, dtype=np.float64)
        k = np.exp(-(x ** 2) / (2 * s ** 2))
        ks.append((k / k.sum()).astype(np.float32))
    img = image[0].permute(1, 2, 0).cpu().numpy()
    out = cv2.sepFilter2D(img, -1, ks[1], ks[0], borderType=cv2.BORDER_CONSTANT)
    if out.ndim == 2:
        out = out[:, :, None]
    return torch.from_numpy(out).permute(2, 0, 1).unsqueeze(0).to(image.device)


def _rotate(image: torch.Tensor, angle_deg: float) -> torch.Tensor:
    """Rotation about the patch centre with border replication (pytracking ``augmentation.Rotate``)."""
    a = math.pi * angle_deg / 180
    img = image[0].permute(1, 2, 0).cpu().numpy()
    c = (np.expand_dims(np.array(img.shape[:2]), 1) - 1) / 2
    R = np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
    H = np.concatenate([R, c - R @ c], 1)
    out = cv2.warpAffine(img, H, img.shape[1::-1], borderMode=cv2.BORDER_REPLICATE)
    if out.ndim == 2:
        out = out[:, :, None]
    return torch.from_numpy(out).permute(2, 0, 1).unsqueeze(0).to(image.device)


class OceanOnlineTracker:
    """State of the online classifier for one sequence; driven by :class:`OceanTracker`."""

    def __init__(self, net: Any, p: Any, device: str = "cpu") -> None:
        self.net = net
        self.branch = net.online
        self.p = p
        self.device = device
        self.flag: Optional[str] = None

    # ------------------------------------------------------------------ helpers
    def _to_torch(self, rgb: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).unsqueeze(0).float().to(self.device)

    def _features(self, patches: torch.Tensor) -> torch.Tensor:
        return self.branch.classification_features(self.branch.extract_backbone(patches))

    def _box_in_sample(self, pos: torch.Tensor, sz: torch.Tensor, sample_pos: torch.Tensor, sample_scale) -> torch.Tensor:
        """pytracking ``get_iounet_box``: (x, y, w, h) of the target in the sample's pixel frame."""
        center = (pos - sample_pos) / sample_scale + (self.img_sample_sz - 1) / 2
        box_sz = sz / sample_scale
        ul = center - (box_sz - 1) / 2
        return torch.cat([ul.flip((0,)), box_sz.flip((0,))])

    # ------------------------------------------------------------------ API
    def initialize(self, rgb: np.ndarray, pos_xy: np.ndarray, sz_wh: np.ndarray) -> None:
        p = self.p
        gen = torch.Generator().manual_seed(int(p.seed))
        im = self._to_torch(rgb)
        self.pos = torch.tensor([pos_xy[1], pos_xy[0]], dtype=torch.float32)
        self.target_sz = torch.tensor([sz_wh[1], sz_wh[0]], dtype=torch.float32)
        s = int(p.image_sample_size)
        self.img_sample_sz = torch.tensor([float(s), float(s)])
        search_area = float(torch.prod(self.target_sz * p.search_area_scale))
        self.target_scale = math.sqrt(search_area) / float(self.img_sample_sz.prod().sqrt())
        self.image_sz = torch.tensor([float(im.shape[2]), float(im.shape[3])])
        # --- augmented initial samples (pytracking generate_init_samples)
        self.init_sample_scale = self.target_scale
        self.init_sample_pos = self.pos.round()
        exp_sz = (self.img_sample_sz * p.augmentation_expansion_factor).long()
        exp_sz += (exp_sz - self.img_sample_sz.long()) % 2
        out_sz = (s, s)

        def rand_shift() -> Tuple[int, int]:
            v = ((torch.rand(2, generator=gen) - 0.5) * self.img_sample_sz * p.random_shift_factor).long()
            return int(v[0]), int(v[1])

        transforms: List[Tuple[str, Any, Tuple[int, int]]] = [("identity", None, (0, 0))]
        for sh in p.relative_shifts:
            t = (torch.tensor(sh, dtype=torch.float32) * self.img_sample_sz / 2).long()
            transforms.append(("identity", None, (int(t[0]), int(t[1]))))
        if p.flip:
            transforms.append(("flip", None, rand_shift()))
        for sg in p.blur:
            transforms.append(("blur", (float(sg[0]), float(sg[1])), rand_shift()))
        for ang in p.rotate:
            transforms.append(("rotate", float(ang), rand_shift()))
        big, _ = sample_patch(im, self.init_sample_pos, self.init_sample_scale * exp_sz.float(),
                              (int(exp_sz[0]), int(exp_sz[1])), p.border_mode)
        patches = []
        for kind, arg, shift in transforms:
            img = big
            if kind == "flip":
                img = big.flip((3,))
            elif kind == "blur":
                img = _blur(big, arg)
            elif kind == "rotate":
                img = _rotate(big, arg)
            patches.append(crop_to_output(img, out_sz, shift))
        with torch.no_grad():
            x = self._features(torch.cat(patches))
            if p.dropout_copies > 0:
                keep = (torch.rand(p.dropout_copies, x.shape[1], 1, 1, generator=gen) >= p.dropout_prob).to(x.dtype)
                x = torch.cat([x, x[0:1] * keep.to(x.device) / (1 - p.dropout_prob)])
                transforms += [transforms[0]] * p.dropout_copies
        self.feature_sz = torch.tensor([float(x.shape[-2]), float(x.shape[-1])])
        ksz = int(self.branch.classifier.filter_size)
        self.kernel_size = torch.tensor([float(ksz), float(ksz)])
        base_box = self._box_in_sample(self.pos, self.target_sz, self.init_sample_pos, self.init_sample_scale)
        boxes = torch.stack([base_box + torch.tensor([float(sh[1]), float(sh[0]), 0.0, 0.0]) for _, _, sh in transforms])
        boxes = boxes.to(x.device)
        with torch.no_grad():
            self.target_filter, _, _ = self.branch.classifier.get_filter(x.unsqueeze(1), boxes.unsqueeze(1),
                                                                         num_iter=p.net_opt_iter)
        self.memory = SampleMemory(p.sample_memory_size, init_min_weight=0.0)
        self.memory.initialize({"x": x, "box": boxes})
        self.flag = None

    def score(self, rgb: np.ndarray) -> np.ndarray:
        """Classify the new frame (sample at the frame-1 scale) and localise; returns the raw 14×14 map."""
        im = self._to_torch(rgb)
        self.image_sz = torch.tensor([float(im.shape[2]), float(im.shape[3])])
        odd = (self.feature_sz + self.kernel_size) % 2
        center = self.pos + odd * self.target_scale * self.img_sample_sz / (2 * self.feature_sz)
        patch, coords = sample_patch(im, center, self.target_scale * self.img_sample_sz,
                                     (int(self.img_sample_sz[0]), int(self.img_sample_sz[1])), self.p.border_mode)
        with torch.no_grad():
            self.test_x = self._features(patch)
            scores = self.branch.classifier.classify(self.target_filter, self.test_x.unsqueeze(1))[:, 0]
        c = coords.float()
        self.sample_pos = 0.5 * (c[0, :2] + c[0, 2:] - 1)
        self.sample_scale = float(((c[0, 2:] - c[0, :2]) / self.img_sample_sz).prod().sqrt())
        self.flag = self._localize(scores[0].cpu())
        self.scores = scores[0].cpu().numpy()
        return self.scores

    def map_at(self, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """The last online map bilinearly sampled at image rows ``ys`` × columns ``xs`` (px) → (len(ys), len(xs)).

        Why: TracKit fuses by resizing the map onto the Siamese grid as if both covered the same area, but
        the online map spans 4·sqrt(w0·h0) at the frame-1 scale and the Siamese one (S − 1)·stride/scale_z
        (ocean.md §8 item 6). Here cell k of the online map lies at ``sample_pos + (k − (n − 1)/2)·step``,
        DiMP's own localisation rule, so each Siamese cell reads the online evidence at its own image
        position; points beyond the map take its border value."""
        n = np.array(self.scores.shape, dtype=np.float64)
        step = (self.img_sample_sz / self.feature_sz).numpy().astype(np.float64) * self.sample_scale
        rows = (np.asarray(ys, dtype=np.float64) - float(self.sample_pos[0])) / step[0] + (n[0] - 1) / 2
        cols = (np.asarray(xs, dtype=np.float64) - float(self.sample_pos[1])) / step[1] + (n[1] - 1) / 2
        rows, cols = np.clip(rows, 0, n[0] - 1), np.clip(cols, 0, n[1] - 1)
        r0 = np.minimum(np.floor(rows).astype(int), int(n[0]) - 2)
        c0 = np.minimum(np.floor(cols).astype(int), int(n[1]) - 2)
        fr, fc = (rows - r0)[:, None], (cols - c0)[None, :]
        m = self.scores.astype(np.float64)
        a, b = m[np.ix_(r0, c0)], m[np.ix_(r0, c0 + 1)]
        c, d = m[np.ix_(r0 + 1, c0)], m[np.ix_(r0 + 1, c0 + 1)]
        return (1 - fr) * ((1 - fc) * a + fc * b) + fr * ((1 - fc) * c + fc * d)

    def _localize(self, scores: torch.Tensor) -> str:
        """DiMP ``localize_advanced`` (the output window is not applied, as in TracKit): returns the flag."""
        p = self.p
        sz = scores.shape[-2:]
        score_center = (torch.tensor([float(sz[0]), float(sz[1])]) - 1) / 2
        max1 = float(scores.max())
        idx = int(torch.argmax(scores))
        disp1 = torch.tensor([float(idx // sz[1]), float(idx % sz[1])])
        t_disp1 = disp1 - score_center
        if max1 < p.target_not_found_threshold:
            return "not_found"
        neigh = p.target_neighborhood_scale * (self.target_sz / self.sample_scale) * (self.feature_sz / self.img_sample_sz)
        top = max(round(float(disp1[0] - neigh[0] / 2)), 0)
        bottom = min(round(float(disp1[0] + neigh[0] / 2 + 1)), sz[0])
        left = max(round(float(disp1[1] - neigh[1] / 2)), 0)
        right = min(round(float(disp1[1] + neigh[1] / 2 + 1)), sz[1])
        masked = scores.clone()
        masked[top:bottom, left:right] = 0
        max2 = float(masked.max())
        idx2 = int(torch.argmax(masked))
        t_disp2 = torch.tensor([float(idx2 // sz[1]), float(idx2 % sz[1])]) - score_center
        if max2 > p.distractor_threshold * max1:
            n1 = float(torch.sqrt((t_disp1 ** 2).sum()))
            n2 = float(torch.sqrt((t_disp2 ** 2).sum()))
            thr = p.displacement_scale * math.sqrt(sz[0] * sz[1]) / 2
            if (n2 > thr and n1 < thr) or (n2 < thr and n1 > thr):
                return "hard_negative"
            return "uncertain"
        if max2 > p.hard_negative_threshold * max1 and max2 > p.target_not_found_threshold:
            return "hard_negative"
        return "normal"

    def update(self, rgb: np.ndarray, pos_xy: np.ndarray, sz_wh: np.ndarray, frame_num: int) -> None:
        """Follow the Siamese result, store the sample and optimise (TracKit ``ONLINE.track`` tail)."""
        p = self.p
        flag = self.flag
        if flag != "not_found":
            self.target_sz = torch.tensor([float(sz_wh[1]), float(sz_wh[0])])
            inside = (p.target_inside_ratio - 0.5) * self.target_sz
            new_pos = torch.tensor([float(pos_xy[1]), float(pos_xy[0])])
            self.pos = torch.max(torch.min(new_pos, self.image_sz - inside), inside)
        if flag in ("not_found", "uncertain"):
            return
        hard = flag == "hard_negative"
        lr = p.hard_negative_learning_rate if hard else p.learning_rate
        box = self._box_in_sample(self.pos, self.target_sz, self.sample_pos, self.sample_scale).to(self.test_x.device)
        self.memory.insert({"x": self.test_x[0], "box": box}, lr)
        num_iter = 0
        if hard:
            num_iter = p.net_opt_hn_iter
        elif (frame_num - 1) % p.train_skipping == 0:
            num_iter = p.net_opt_update_iter
        if num_iter > 0:
            with torch.no_grad():
                self.target_filter, _, _ = self.branch.classifier.filter_optimizer(
                    self.target_filter, self.memory.get("x").unsqueeze(1), self.memory.get("box").unsqueeze(1),
                    sample_weight=self.memory.weights, num_iter=num_iter)
