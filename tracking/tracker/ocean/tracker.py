"""Ocean tracker (offline and online) — the per-frame procedure of TracKit ``lib/tracker/ocean.py`` (ocean.md §5).

Per frame: search crop at the previous centre (side s_x = s_z·X/127, TracKit corner/rounding rules) →
network → p_cls (plain or fused with the object-aware map) → boxes decoded on the score grid →
scale/aspect penalty → cosine window → (online fusion, §3.3) → argmax → centre jump (no smoothing),
size smoothed with λ = penalty·p_cls·lr (twice, as the official code does; switchable) → clamps.

The Siamese network sees **BGR 0–255** crops; frames arrive as RGB uint8 (grayscale is replicated).
"""
from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import numpy as np
import torch

from ltr.admin.registry import TRACKERS
from ltr.models.ocean import OceanNet, build_ocean
from tracking.tracker.base import BaseTracker, TrackOutput
from tracking.tracker.colour_model import ColourModel, fuse_scores
from tracking.tracker.siamese_utils import (
    change,
    context_size,
    ensure_rgb,
    get_subwindow,
    get_subwindow_exact,
    hanning_window,
    python2round,
    sync_device,
    sz_wh,
    upsample_cubic,
)

from .config import OceanConfig

__all__ = ["OceanTracker", "decode_and_select", "load_ocean_weights", "resolve_checkpoint"]


def resolve_checkpoint(spec: str) -> Path:
    """``weights:`` value → existing file (absolute, relative to the repo root, or ``workspace:<rel>``)."""
    from ltr.admin.checkpoint import resolve_weights_path

    path = resolve_weights_path(spec)
    if not path.is_file():
        raise FileNotFoundError(f"Ocean weights '{spec}' not found (looked for {path}). Train them with "
                                f"`python ltr/run_training.py ocean <config>` or set `weights:` / --set weights=<file>")
    return path


def load_ocean_weights(net: OceanNet, path: Path) -> Dict[str, Any]:
    """Load a SOTLab checkpoint (``{'net': state_dict, 'config': ...}``) or an official TracKit one.

    SOTLab checkpoints of the offline model loaded into a network with the online branch leave the
    branch untouched (and vice versa only the keys present are required for ``online.*``)."""
    from ltr.models.ocean.loader import load_official_checkpoint, read_state_dict

    state, name = read_state_dict(path)
    if any(k.startswith(("connect_model.", "features.features.", "module.connect_model.")) for k in state):
        return load_official_checkpoint(net, state, strict=False)
    own = net.state_dict()
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")
               and not k.startswith("online.")]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        raise KeyError(f"{name}: checkpoint does not fit the network of this config: {len(missing)} missing "
                       f"(e.g. {missing[:3]}), {len(unexpected)} unexpected (e.g. {unexpected[:3]})")
    bad = [k for k in state if state[k].shape != own[k].shape]
    if bad:
        raise ValueError(f"{name}: shape mismatch for {bad[:3]} (config and checkpoint disagree)")
    net.load_state_dict(state, strict=False)
    return {"missing": missing, "unused": unexpected}


def decode_and_select(
    cls_score: np.ndarray,
    reg: np.ndarray,
    pos: np.ndarray,
    sz: np.ndarray,
    scale_z: float,
    search_size: int,
    stride: int,
    window: np.ndarray,
    p: Any,
    online_score: Optional[np.ndarray] = None,
    centre: Optional[float] = None,
) -> Dict[str, Any]:
    """TracKit ``Ocean.update`` on numpy maps (float64 maths like the official numpy code).

    ``centre`` is the crop pixel the previous position maps to (TracKit: ``search_size // 2``).

    ``cls_score`` (S×S) is the fused probability, ``reg`` (4×S×S) ltrb in crop px, ``pos``/``sz`` the
    previous centre/size in frame px. Returns the new (unclamped) ``pos``/``sz``, the peak, λ and maps.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return _decode_and_select(cls_score, reg, pos, sz, scale_z, search_size, stride, window, p, online_score,
                                  centre)


def score_cells(score_size: int, stride: int, search_size: int) -> np.ndarray:
    """Crop pixel of every score cell along a row or column (TracKit's grid: the middle cell at
    ``search_size // 2``, ``stride`` px apart)."""
    return stride * (np.arange(score_size, dtype=np.float64) - score_size // 2) + search_size // 2


def _decode_and_select(cls_score, reg, pos, sz, scale_z, search_size, stride, window, p, online_score,
                       centre=None):
    s = cls_score.shape[-1]
    centre = search_size // 2 if centre is None else centre  # crop pixel of the previous position
    g = score_cells(s, stride, search_size)
    gx, gy = g[None, :], g[:, None]
    x1, y1 = gx - reg[0], gy - reg[1]
    x2, y2 = gx + reg[2], gy + reg[3]
    pw, ph = x2 - x1, y2 - y1
    ref = sz * scale_z  # previous size in crop px
    s_c = change(sz_wh(pw, ph) / sz_wh(ref[0], ref[1]))
    r_c = change((ref[0] / ref[1]) / (pw / ph))
    penalty = np.exp(-(r_c * s_c - 1) * p.penalty_k)
    pscore = penalty * cls_score
    pscore = pscore * (1 - p.window_influence) + window * p.window_influence
    if online_score is not None:
        o = upsample_cubic(np.asarray(online_score, dtype=np.float32), s) if online_score.shape[-1] != s else online_score
        pscore = p.online_ratio * o + (1 - p.online_ratio) * pscore
    r, c = np.unravel_index(int(np.argmax(pscore)), pscore.shape)
    bx1, by1, bx2, by2 = x1[r, c], y1[r, c], x2[r, c], y2[r, c]
    diff = np.array([(bx1 + bx2) / 2 - centre, (by1 + by2) / 2 - centre]) / scale_z
    pred_wh = np.array([bx2 - bx1, by2 - by1]) / scale_z
    lr = float(penalty[r, c] * cls_score[r, c] * p.lr)
    res = pred_wh * lr + (1 - lr) * sz
    new_sz = sz * (1 - lr) + lr * res if p.double_size_smoothing else res
    return {"pos": pos + diff, "sz": new_sz, "peak": (int(r), int(c)), "lr": lr, "res_wh": res,
            "score": float(cls_score[r, c]), "penalty": penalty, "pscore": pscore, "s_c": s_c, "r_c": r_c,
            "pred_box": np.array([bx1, by1, bx2, by2])}


@TRACKERS.register("ocean", config=OceanConfig, network="ocean", actor="ocean")
class OceanTracker(BaseTracker):
    """Ocean offline tracker; with ``track.online`` the DiMP-style online classifier is fused in (§3.3)."""

    uses_network = True

    @classmethod
    def build_network(cls, cfg: OceanConfig, device: str = "cpu") -> OceanNet:
        net = build_ocean(cfg.model)
        if cfg.weights:
            load_ocean_weights(net, resolve_checkpoint(cfg.weights))
        return net.to(device).eval()

    def __init__(self, cfg: OceanConfig, net: Any = None, device: str = "cpu") -> None:
        super().__init__(cfg, net, device)
        if net is None:
            raise ValueError("OceanTracker needs a network (OceanTracker.build_network(cfg))")
        self.p = cfg.track
        self.stride = cfg.model.stride
        self.online = None
        self._last_x: Optional[torch.Tensor] = None
        if self.p.online:
            if getattr(net, "online", None) is None:
                raise ValueError("track.online needs a network built with model.online.enabled")
            from .online import OceanOnlineTracker

            self.online = OceanOnlineTracker(net, self.p.online_params, device)
        self.colour = ColourModel(self.p.colour) if self.p.colour.enabled else None

    # ------------------------------------------------------------------ helpers
    def _to_tensor(self, patch_bgr: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(np.ascontiguousarray(patch_bgr.transpose(2, 0, 1))).float().unsqueeze(0)
        return t.to(self.device)

    def _use_align(self) -> bool:
        return bool(self.p.align and getattr(self.net, "align_head", None) is not None)

    def _score_size(self, search_size: int) -> int:
        fn = getattr(self.net, "score_size", None)
        if callable(fn):
            return int(fn(search_size))
        return (search_size - self.p.exemplar_size) // self.stride + 1 + 8

    def _set_search_size(self, size: int) -> None:
        """Search crop side X, its score-map side S and the S×S window."""
        self.search_size = int(size)
        self.score_sz = self._score_size(self.search_size)
        # crop pixels of the score cells (rows and columns alike; the grid decode_and_select uses)
        self._cells = score_cells(self.score_sz, self.stride, self.search_size)
        if self.p.windowing == "cosine":
            self.window = hanning_window(self.score_sz)
        else:
            self.window = np.ones((self.score_sz, self.score_sz))

    def bare_forward(self) -> None:
        """The network alone on the last search crop (``scripts/bench_speed.py``'s bare-forward column)."""
        if getattr(self, "_last_x", None) is None:
            raise RuntimeError("Ocean.bare_forward needs a tracked frame first")
        with torch.inference_mode():
            self.net.predict(self.net.extract(self._last_x), self.search_size,
                             z_enc=self._template_enc(self._last_x.shape[0]), use_align=self._use_align())
        sync_device(self.device)

    # ------------------------------------------------------------------ API
    def initialize(self, image: np.ndarray, box: np.ndarray) -> TrackOutput:
        t0 = time.perf_counter()
        rgb = ensure_rgb(image)
        box = np.asarray(box, dtype=np.float64).reshape(-1)
        if box.size != 4 or not np.all(np.isfinite(box)):
            raise ValueError(f"Ocean.initialize: expected a finite [x, y, w, h] box, got {box.tolist()}")
        self.im_h, self.im_w = rgb.shape[:2]
        w, h = max(float(box[2]), 1.0), max(float(box[3]), 1.0)
        self.pos = np.array([box[0] + box[2] / 2, box[1] + box[3] / 2], dtype=np.float64)
        self.sz = np.array([w, h], dtype=np.float64)
        small = (w * h) / float(self.im_h * self.im_w) < self.p.small_target_ratio
        self.base_search_size = int(self.p.big_sz if small else self.p.small_sz)
        self._set_search_size(self.base_search_size)
        self.lost = False
        bgr = rgb[:, :, ::-1]
        self.avg_chans = bgr.reshape(-1, 3).mean(axis=0)
        if self.p.crop == "exact":
            z, _ = get_subwindow_exact(bgr, self.pos, self.p.exemplar_size, context_size(w, h, self.p.context_amount),
                                       self.avg_chans)
        else:
            s_z = round(context_size(w, h, self.p.context_amount))
            z = get_subwindow(bgr, self.pos, self.p.exemplar_size, s_z, self.avg_chans, corner="trackit")
        with torch.inference_mode():
            self.template_state = self.net.template(self._to_tensor(z))
        self.frame_num = 1
        if self.online is not None:
            self.online.initialize(rgb, self.pos, self.sz)
        if self.colour is not None:
            self.colour.initialize(rgb, self.pos, self.sz)
        self.timings = {"init": time.perf_counter() - t0}
        return {"box": box.copy(), "score": 1.0}

    def _search_scales(self) -> Tuple[float, ...]:
        """Crop-side factors searched this frame: the plain crop first (it wins ties), then SiamFC's 1/q and q
        when ``track.scale_step`` is on and the tracker is not holding a lost target."""
        q = float(self.p.scale_step)
        return (1.0, 1.0 / q, q) if q > 1.0 and not self.lost else (1.0,)

    def _search_crop(self, bgr: np.ndarray, s_x: float, scale_z: float) -> Tuple[np.ndarray, float, float]:
        """The search crop of side ``s_x`` at the current centre → (crop, crop px per frame px, the crop
        pixel the current centre maps to)."""
        if self.p.crop == "exact":
            x, scale = get_subwindow_exact(bgr, self.pos, self.search_size, s_x, self.avg_chans)
            return x, scale, (self.search_size - 1) / 2.0
        x = get_subwindow(bgr, self.pos, self.search_size, int(python2round(s_x)), self.avg_chans, corner="trackit")
        return x, scale_z, float(self.search_size // 2)  # TracKit: the rounded side, the unrounded scale

    def _template_enc(self, n: int) -> Dict[str, Any]:
        """Template encodings for a batch of ``n`` search crops (views, no copy)."""
        enc = self.template_state["enc"]
        if n == 1:
            return enc
        return {k: [t.expand(n, *t.shape[1:]) for t in v] for k, v in enc.items()}

    def track(self, image: np.ndarray) -> TrackOutput:
        t0 = time.perf_counter()
        rgb = ensure_rgb(image)
        bgr = rgb[:, :, ::-1]
        self.frame_num += 1
        want = self.p.lost_search_sz if (self.lost and self.p.lost_search_sz) else self.base_search_size
        if want != self.search_size:
            self._set_search_size(want)
        s_z = context_size(self.sz[0], self.sz[1], self.p.context_amount)
        scale_z = self.p.exemplar_size / s_z
        s_x = s_z + 2 * ((self.search_size - self.p.exemplar_size) / 2) / scale_z
        qs = self._search_scales()
        crops = [self._search_crop(bgr, s_x * q, scale_z / q) for q in qs]
        xt = torch.cat([self._to_tensor(c[0]) for c in crops]) if len(crops) > 1 else self._to_tensor(crops[0][0])
        t1 = time.perf_counter()
        online_score = self.online.score(rgb) if self.online is not None else None
        t2 = time.perf_counter()
        self._last_x = xt
        with torch.inference_mode():
            xf = self.net.extract(xt)
            sync_device(self.device)
            t3 = time.perf_counter()
            out = self.net.predict(xf, self.search_size, z_enc=self._template_enc(len(qs)), use_align=self._use_align())
            cls_all = torch.sigmoid(out["cls"])[:, 0].float().cpu().numpy()
            align_all = torch.sigmoid(out["align"])[:, 0].float().cpu().numpy() if "align" in out else None
            if align_all is not None:
                cls_all = self.p.ratio * cls_all + (1 - self.p.ratio) * align_all
            reg_all = out["reg"].float().cpu().numpy()
        t4 = time.perf_counter()
        if self.colour is not None:
            self.colour.set_frame(rgb)
        p = self.p
        if self.lost and p.lost_window_influence is not None:
            p = dataclasses.replace(p, window_influence=p.lost_window_influence)
        best = None
        for i, q in enumerate(qs):
            x, scale_i, centre = crops[i]
            cls = cls_net = cls_all[i]
            colour = None
            if self.colour is not None:
                colour = self.colour.score_map(x[:, :, ::-1], self._cells, self._cells, self.sz * scale_i)
                cls = fuse_scores(cls, colour, self.p.colour.weight)
            online_i = online_score
            if online_score is not None and self.p.online_fusion == "aligned":
                online_i = self.online.map_at(self.pos[1] + (self._cells - centre) / scale_i,
                                              self.pos[0] + (self._cells - centre) / scale_i)
            sel = decode_and_select(cls, reg_all[i], self.pos, self.sz, scale_i, self.search_size, self.stride,
                                    self.window, p, online_i, centre)
            value = float(sel["pscore"][sel["peak"]]) * (1.0 if q == 1.0 else self.p.scale_penalty)
            if best is None or value > best[0]:
                best = (value, i, sel, cls, cls_net, colour, online_i)
        _, k, sel, cls, cls_net, colour, online_score = best
        scale_z, centre = crops[k][1], crops[k][2]
        prev_pos = self.pos.copy()
        pos, sz = sel["pos"], sel["sz"]
        self.lost = sel["score"] < self.p.lost_threshold
        if self.lost:
            pos, sz = self.pos.copy(), self.sz.copy()
        if not (np.all(np.isfinite(pos)) and np.all(np.isfinite(sz))):
            # a diverged/untrained network (inf/NaN boxes) must not poison the state: keep the last one
            pos, sz = self.pos.copy(), self.sz.copy()
        pos[0] = max(0.0, min(float(self.im_w), pos[0]))
        pos[1] = max(0.0, min(float(self.im_h), pos[1]))
        sz[0] = max(self.p.min_size, min(float(self.im_w), sz[0]))
        sz[1] = max(self.p.min_size, min(float(self.im_h), sz[1]))
        self.pos, self.sz = pos, sz
        if self.colour is not None and not self.lost:
            self.colour.learn(rgb, cls_net, colour, sel["peak"], self._cells, centre, prev_pos, scale_z, self.pos,
                              self.sz)
        t5 = time.perf_counter()
        if self.online is not None:
            self.online.update(rgb, self.pos, self.sz, self.frame_num)
        t6 = time.perf_counter()
        self.timings = {"crop": t1 - t0, "backbone": t3 - t2, "head": t4 - t3,
                        "online": (t2 - t1) + (t6 - t5) if self.online is not None else 0.0,
                        "post": t5 - t4, "total": t6 - t0}
        box = np.array([max(0.0, pos[0] - sz[0] / 2), max(0.0, pos[1] - sz[1] / 2), sz[0], sz[1]])
        result: TrackOutput = {"box": box, "score": sel["score"]}
        if self.debug:
            dbg = {"cls": cls, "penalty": sel["penalty"], "pscore": sel["pscore"], "scale": qs[k]}
            if colour is not None:
                dbg["cls_net"], dbg["colour"] = cls_net, colour
            if align_all is not None:
                dbg["align"] = align_all[k]
            if online_score is not None:
                dbg["online"] = np.asarray(online_score)
            result["debug"] = dbg
        return result
