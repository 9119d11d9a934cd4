"""Ocean tracker vs the official tracker steps stored in shared/parity/ocean (README §3.5 order).

1. crops bit-exact; 2. network on one stored crop; 3. teacher-forced post-processing for every frame of
every run (incl. the stub-net runs that move the peak); 4. the whole tracker loop with the stub maps and
a short free run with the recipe network.
"""
from __future__ import annotations

import json
from typing import Dict

import cv2
import numpy as np
import pytest
import torch

from ltr.models.ocean import OceanModelConfig, OceanNet
from ltr.models.ocean.loader import load_official_checkpoint
from tracking.tracker.ocean import OceanConfig, OceanTracker, decode_and_select
from tracking.tracker.siamese_utils import get_subwindow, hanning_window, python2round

from _ocean_parity import OCEAN_DIR, SEQ_DIR, need, ocean_recipe_state, rel_err

torch.set_num_threads(1)

RUNS = ["vot2019_oa", "otb2015_nooa"]
VARIANTS = ["", "_f64model", "_stubnet"]


def _load(run: str, variant: str = ""):
    js = json.loads(need(OCEAN_DIR / f"ocean_track_{run}{variant}.json").read_text())
    npz = np.load(need(OCEAN_DIR / f"ocean_track_{run}{variant}.npz"))
    return js, npz


def _frames_bgr():
    need(SEQ_DIR / "frame_00.png")
    return [cv2.imread(str(SEQ_DIR / f"frame_{i:02d}.png")) for i in range(12)]


def _cfg(js) -> OceanConfig:
    hp = js["hp_effective"]
    cfg = OceanConfig()
    cfg.model = OceanModelConfig(align=bool(js["align"]))
    t = cfg.track
    t.penalty_k, t.window_influence, t.lr = hp["penalty_k"], hp["window_influence"], hp["lr"]
    t.small_sz = t.big_sz = hp["instance_size"]
    t.ratio = hp["ratio"]
    t.align = bool(js["align"])
    return cfg


def test_crops_bit_exact():
    frames = _frames_bgr()
    for run in RUNS:
        js, npz = _load(run)
        ini = js["init"]
        avg = np.asarray(ini["avg_chans"])
        np.testing.assert_allclose(frames[0].reshape(-1, 3).mean(axis=0), avg, rtol=0, atol=1e-9)
        info: Dict = {}
        z = get_subwindow(frames[0], ini["target_pos"], 127, ini["s_z"], avg, corner="trackit", info=info)
        assert info["pads_ltrb"] == ini["crop"]["pads_ltrb"]
        np.testing.assert_array_equal(z.transpose(2, 0, 1)[None], npz["f00_z_crop_u8"])
        for k, fr in enumerate(js["frames"], start=1):
            c = fr["crop"]
            sz = np.asarray(fr["state_before"]["target_sz"])
            s_z = np.sqrt((sz[0] + 0.5 * sz.sum()) * (sz[1] + 0.5 * sz.sum()))
            s_x = s_z * c["instance_size"] / 127
            assert s_x == pytest.approx(c["s_x"], rel=1e-12)
            assert python2round(s_x) == c["original_sz_python2round_s_x"]
            info = {}
            x = get_subwindow(frames[k], fr["state_before"]["target_pos"], c["instance_size"],
                              int(python2round(s_x)), avg, corner="trackit", info=info)
            assert info["pads_ltrb"] == c["pads_ltrb"]
            assert info["context_xmin"] + info["pads_ltrb"][0] == c["context_xmin"]
            np.testing.assert_array_equal(x.transpose(2, 0, 1)[None], npz[f"f{k:02d}_x_crop_u8"], err_msg=f"{run} frame {k}")


def _teacher_forced(run: str, variant: str):
    js, npz = _load(run, variant)
    cfg = _cfg(js)
    p = cfg.track
    x_size = js["hp_effective"]["instance_size"]
    s = js["hp_effective"]["score_size"]
    window = hanning_window(s)
    dt = np.float64 if variant == "_f64model" else np.float32
    for k, fr in enumerate(js["frames"], start=1):
        f = f"f{k:02d}_"
        cls = 1 / (1 + np.exp(-npz[f + "raw_cls_pred"][0, 0].astype(dt)))
        if js["align"]:
            al = 1 / (1 + np.exp(-npz[f + "raw_cls_align"][0, 0].astype(dt)))
            cls = p.ratio * cls + (1 - p.ratio) * al
        assert rel_err(cls, npz[f + "cls_score_fused"]) <= 1e-5
        pos = np.asarray(fr["state_before"]["target_pos"], dtype=np.float64)
        sz = np.asarray(fr["state_before"]["target_sz"], dtype=np.float64)
        sel = decode_and_select(cls, npz[f + "raw_bbox_pred"][0].astype(dt), pos, sz, fr["crop"]["scale_z"],
                                x_size, 8, window, p)
        for name in ("penalty", "pscore", "s_c", "r_c"):
            assert rel_err(sel[name], npz[f + name]) <= 1e-5, (run, variant, k, name)
        pk = fr["peak"]
        assert sel["peak"] == (pk["r_max"], pk["c_max"]), (run, variant, k)
        assert sel["lr"] == pytest.approx(pk["lr"], rel=1e-5, abs=1e-9)
        np.testing.assert_allclose(sel["res_wh"], [pk["res_w"], pk["res_h"]], rtol=0, atol=1e-4)
        np.testing.assert_allclose(sel["pos"], fr["target_pos_unclamped"], rtol=0, atol=1e-4)
        np.testing.assert_allclose(sel["sz"], fr["target_sz_unclamped"], rtol=0, atol=1e-4)


@pytest.mark.parametrize("run", RUNS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_teacher_forced_postprocessing(run, variant):
    _teacher_forced(run, variant)


class _StubNet:
    """Replays the stored raw maps frame by frame (the official ``_stubnet`` runs)."""

    def __init__(self, npz, score_size: int, align: bool):
        self.npz, self.s, self.k = npz, score_size, 0
        self.align_head = object() if align else None

    def template(self, z):
        return {"zf": None, "enc": None}

    def score_size(self, x_size: int) -> int:
        return self.s

    def extract(self, x):
        self.k += 1
        return x

    def predict(self, xf, search_size, z_enc=None, use_align=True):
        f = f"f{self.k:02d}_"
        out = {"cls": torch.from_numpy(self.npz[f + "raw_cls_pred"]),
               "reg": torch.from_numpy(self.npz[f + "raw_bbox_pred"])}
        if use_align:
            out["align"] = torch.from_numpy(self.npz[f + "raw_cls_align"])
        return out


def _run_tracker(tracker: OceanTracker, frames, n: int):
    rgb = [f[:, :, ::-1].copy() for f in frames]
    gt = json.loads((SEQ_DIR / "groundtruth.json").read_text())["boxes"]
    tracker.initialize(rgb[0], np.asarray(gt[0], dtype=np.float64))
    boxes, states = [], []
    for k in range(1, n + 1):
        out = tracker.track(rgb[k])
        boxes.append(out["box"])
        states.append((tracker.pos.copy(), tracker.sz.copy()))
    return boxes, states


@pytest.mark.parametrize("run", RUNS)
def test_stubnet_tracker_loop(run):
    js, npz = _load(run, "_stubnet")
    cfg = _cfg(js)
    s = js["hp_effective"]["score_size"]
    tracker = OceanTracker(cfg, _StubNet(npz, s, bool(js["align"])))
    boxes, states = _run_tracker(tracker, _frames_bgr(), len(js["frames"]))
    for k, fr in enumerate(js["frames"]):
        np.testing.assert_allclose(states[k][0], fr["state_after"]["target_pos"], rtol=0, atol=1e-4)
        np.testing.assert_allclose(states[k][1], fr["state_after"]["target_sz"], rtol=0, atol=1e-4)
        np.testing.assert_allclose(boxes[k], fr["output_rect_cxy_wh_2_rect"], rtol=0, atol=1e-4)


def test_network_on_stored_crops_and_free_run():
    """Template features and one search forward on the stored crops, then 3 free-running frames."""
    js, npz = _load("vot2019_oa")
    net = OceanNet().eval()
    load_official_checkpoint(net, ocean_recipe_state())
    with torch.no_grad():
        ts = net.template(torch.from_numpy(npz["f00_z_crop_u8"]).float())
        assert rel_err(ts["zf"].numpy(), npz["f00_zf"]) <= 2e-5
        out = net.track(torch.from_numpy(npz["f01_x_crop_u8"]).float(), ts)
    assert rel_err(out["cls"].numpy(), npz["f01_raw_cls_pred"]) <= 2e-5
    assert rel_err(out["reg"].numpy(), npz["f01_raw_bbox_pred"]) <= 2e-5
    assert rel_err(out["align"].numpy(), npz["f01_raw_cls_align"]) <= 2e-5
    tracker = OceanTracker(_cfg(js), net)
    boxes, _ = _run_tracker(tracker, _frames_bgr(), 3)
    np.testing.assert_allclose(np.asarray(boxes), np.asarray(js["output_rects"][1:4]), rtol=0, atol=1e-3)
