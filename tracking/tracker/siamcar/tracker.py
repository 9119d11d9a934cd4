"""SiamCAR tracker (siamcar.md §5): template once, then per frame crop → network → post-processing.

Follows the official ``SiamCARTracker`` step by step (the parity tests check crops bit-exactly and
every map/peak/box against the official run); the post-processing variant is ``track.variant``.

Conventions: images come in as RGB uint8 (grayscale is replicated); the crop is taken on the RGB
frame with the RGB channel mean and flipped to BGR — identical to cropping the BGR frame, because
cropping, padding and resizing act per channel.  The network sees BGR 0–255 floats.
Box ↔ state: centre = (x + w/2, y + h/2), output = [cx − w/2, cy − h/2, w, h] (the official test
script's convention, so a static target returns its input box exactly).
"""
from __future__ import annotations

import math
import time
from typing import Any, Dict, Optional

import numpy as np
import torch

from ltr.admin.registry import NETWORKS, TRACKERS
from ltr.models.siamcar.config import SiamCARConfig
from tracking.tracker.base import BaseTracker, TrackOutput
from tracking.tracker.colour_model import ColourModel, nearest_cell
from tracking.tracker.siamese_utils import (context_size, ensure_rgb, get_subwindow, get_subwindow_exact, hanning_window,
                                           sync_device)

from .postprocess import Geometry, postprocess

__all__ = ["SiamCARTracker"]


@TRACKERS.register("siamcar", config=SiamCARConfig, network="siamcar", actor="siamcar")
class SiamCARTracker(BaseTracker):
    uses_network = True

    def __init__(self, cfg: SiamCARConfig, net: Any = None, device: str = "cpu") -> None:
        super().__init__(cfg, net, device)
        if net is None:
            net = self.build_network(cfg, device)
            self.net = net
        self.torch_device = torch.device(device)
        m, t = cfg.model, cfg.track
        grid = None
        if t.crop == "exact":  # the grid the network was trained on (ltr/actors/siamcar.py)
            from ltr.actors.siamcar import training_grid_offset

            lo = getattr(getattr(cfg, "train", None), "loss", None)
            grid = getattr(lo, "grid_offset", None)
            grid = float(grid) if grid is not None else training_grid_offset(m.search_size, m.score_size(), m.stride)
        self.geom = Geometry(m.template_size, m.search_size, m.stride, m.score_size(), t.upsample_size, grid)
        self.window = hanning_window(self.geom.score_size)
        self.zf = None
        self.center = np.zeros(2)
        self.size = np.ones(2)
        self.channel_average = np.zeros(3)
        self.frame_num = 0
        self._last_x: Optional[torch.Tensor] = None
        self.colour = ColourModel(cfg.track.colour) if cfg.track.colour.enabled else None
        # crop-pixel positions of the score cells (rows and columns alike)
        self._cells = self.geom.cells

    # ------------------------------------------------------------------ network
    @classmethod
    def build_network(cls, cfg: SiamCARConfig, device: str = "cpu") -> torch.nn.Module:
        """Build the network of ``cfg.model`` and load ``cfg.weights`` (SOTLab or official checkpoint).

        The ImageNet trunk (``model.pretrained_backbone``) is a training-time initialisation and is not
        loaded here: the tracking weights cover the whole network.
        """
        from ltr.models.siamcar.official import load_siamcar_weights

        net = NETWORKS.get("siamcar")(cfg.model)
        if cfg.weights:
            load_siamcar_weights(net, cfg.weights)
        return net.to(device).eval()

    def _to_tensor(self, crop_rgb: np.ndarray) -> torch.Tensor:
        # RGB HWC uint8 -> BGR CHW float 0..255
        t = torch.from_numpy(np.ascontiguousarray(crop_rgb[:, :, ::-1].transpose(2, 0, 1)))
        return t.to(self.torch_device, dtype=torch.float32).unsqueeze(0)

    # ------------------------------------------------------------------ API
    def initialize(self, image: np.ndarray, box: np.ndarray) -> TrackOutput:
        image = ensure_rgb(image)
        box = np.asarray(box, dtype=np.float64).reshape(-1)
        if box.size != 4 or not np.all(np.isfinite(box)):
            raise ValueError(f"SiamCAR.initialize: expected a finite [x, y, w, h] box, got {box.tolist()}")
        t0 = time.perf_counter()
        min_size = self.cfg.track.min_size
        w = max(float(box[2]), min_size, 1e-3)
        h = max(float(box[3]), min_size, 1e-3)
        self.center = np.array([box[0] + box[2] / 2.0, box[1] + box[3] / 2.0], dtype=np.float64)
        self.size = np.array([w, h], dtype=np.float64)
        self.channel_average = np.mean(image, axis=(0, 1))
        if self.cfg.track.crop == "exact":
            z, _ = get_subwindow_exact(image, self.center, self.geom.template_size,
                                       context_size(w, h, self.cfg.track.context_amount), self.channel_average)
        else:
            s_z = round(context_size(w, h, self.cfg.track.context_amount))
            z = get_subwindow(image, self.center, self.geom.template_size, max(1, s_z), self.channel_average)
        with torch.inference_mode():
            self.zf = self.net.template(self._to_tensor(z))
        if self.colour is not None:
            self.colour.initialize(image, self.center, self.size)
        self.frame_num = 0
        self.timings = {"init": time.perf_counter() - t0}
        out: TrackOutput = {"box": box.copy(), "score": 1.0}
        if self.debug:
            out["debug"] = {}
        return out

    def track(self, image: np.ndarray) -> TrackOutput:
        if self.zf is None:
            raise RuntimeError("SiamCAR.track called before initialize")
        image = ensure_rgb(image)
        cfg = self.cfg.track
        self.frame_num += 1
        t0 = time.perf_counter()
        w, h = float(self.size[0]), float(self.size[1])
        s_z = context_size(w, h, cfg.context_amount)
        scale_z = self.geom.template_size / s_z
        s_x = s_z * (self.geom.search_size / self.geom.template_size)
        if cfg.crop == "exact":
            x, scale_z = get_subwindow_exact(image, self.center, self.geom.search_size, s_x, self.channel_average)
        else:
            x = get_subwindow(image, self.center, self.geom.search_size, max(1, round(s_x)), self.channel_average)
        xt = self._to_tensor(x)
        self._last_x = xt
        sync_device(self.torch_device)
        t1 = time.perf_counter()
        with torch.inference_mode():
            xf = self.net.extract(xt)
            sync_device(self.torch_device)
            t2 = time.perf_counter()
            out = self.net.head(self.net.fuse(self.zf, xf))
            cls = out["cls"][0].float().cpu().numpy()
            loc = out["loc"][0].float().cpu().numpy()
            cen = out["cen"][0].float().cpu().numpy()
        t3 = time.perf_counter()

        colour = None
        if self.colour is not None:
            self.colour.set_frame(image)
            colour = self.colour.score_map(x, self._cells, self._cells, self.size * scale_z)
        res = postprocess(cls, loc, cen, self.center, self.size, scale_z, cfg, self.geom, self.window,
                          colour, cfg.colour.weight)
        img_h, img_w = image.shape[:2]
        ox, oy = float(self.center[0]), float(self.center[1])  # the crop's centre in the frame
        ncx, ncy = res["center"]
        nw, nh = res["size"]
        if not all(math.isfinite(v) for v in (ncx, ncy, nw, nh)):
            ncx, ncy, nw, nh = self.center[0], self.center[1], w, h  # keep the state on a broken output
        cx = min(max(float(ncx), 0.0), float(img_w))
        cy = min(max(float(ncy), 0.0), float(img_h))
        floor = max(cfg.min_size, 1e-3)
        nw = min(max(float(nw), floor), max(float(img_w), floor))
        nh = min(max(float(nh), floor), max(float(img_h), floor))
        self.center = np.array([cx, cy])
        self.size = np.array([nw, nh])
        t4 = time.perf_counter()
        if self.colour is not None:
            net_map = res["maps"].get("cls_net", res["maps"]["cls_prob"])
            at = nearest_cell(self._cells, self._cells, self.geom.center, (ox, oy), scale_z, self.center)
            self.colour.learn(image, net_map, colour, at, self._cells, self.geom.center, (ox, oy), scale_z,
                              self.center, self.size)
        t5 = time.perf_counter()
        self.timings = {"crop": t1 - t0, "backbone": t2 - t1, "head": t3 - t2, "update": t5 - t4, "post": t4 - t3,
                        "total": t5 - t0}
        result: TrackOutput = {"box": np.array([cx - nw / 2.0, cy - nh / 2.0, nw, nh]), "score": float(res["score"])}
        if self.debug:
            dbg = {k: v for k, v in res["maps"].items()}
            dbg["search_crop"] = x if x.dtype == np.uint8 else np.clip(np.rint(x), 0, 255).astype(np.uint8)
            result["debug"] = dbg
            result["info"] = res["info"]
        return result

    def bare_forward(self) -> None:
        """Re-run only the network on the last search crop (``scripts/bench_speed.py``'s bare-forward column)."""
        if self._last_x is None or self.zf is None:
            raise RuntimeError("SiamCAR.bare_forward needs a tracked frame first")
        with torch.inference_mode():
            self.net.track(self.zf, self._last_x)
        sync_device(self.torch_device)
