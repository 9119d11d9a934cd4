"""SiamCAR tracker geometry (siamcar.md §7.6, §7.12, §7.13), the four post-processing variants, and
robustness (target leaving the image, tiny/huge boxes, grayscale frames)."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from ltr.models.siamcar import SiamCARConfig, SiamCARModelConfig, SiamCARTrackConfig, build_siamcar
from tracking.tracker.siamcar import Geometry, SiamCARTracker, postprocess
from tracking.tracker.siamcar.postprocess import _cell, penalty_map
from tracking.tracker.siamese_utils import (
    context_size,
    crop_corner_trackit,
    get_subwindow,
    hanning_window,
    score_offset,
    upsample_cubic,
)

GEOM = Geometry()


# ----------------------------------------------------------------------------- crop (§7.13)
def _pysot_reference_crop(im, pos, model_sz, sz, avg, corner="pysot"):
    """Literal pysot procedure: pad a copy of the WHOLE frame with the truncated mean, slice, resize."""
    c = (sz + 1) / 2
    if corner == "pysot":
        xmin, ymin = math.floor(pos[0] - c + 0.5), math.floor(pos[1] - c + 0.5)
    else:
        xmin, ymin = round(pos[0] - c), round(pos[1] - c)
    xmax, ymax = xmin + sz - 1, ymin + sz - 1
    h, w, k = im.shape
    lp, tp = max(0, -xmin), max(0, -ymin)
    rp, bp = max(0, xmax - w + 1), max(0, ymax - h + 1)
    big = np.zeros((h + tp + bp, w + lp + rp, k), np.uint8)
    big[:] = np.asarray(avg)  # float -> uint8 truncation
    big[tp:tp + h, lp:lp + w] = im
    patch = big[ymin + tp:ymax + tp + 1, xmin + lp:xmax + lp + 1]
    if sz != model_sz:
        patch = cv2.resize(patch, (model_sz, model_sz))
    return patch


@pytest.mark.parametrize("pos,sz", [
    ((60.0, 40.0), 50),      # interior
    ((3.2, 5.7), 40),        # touching top-left
    ((118.5, 78.5), 61),     # beyond bottom-right
    ((-30.0, 200.0), 33),    # window entirely outside the frame
    ((60.0, 40.0), 400),     # crop larger than the frame on every side
    ((60.3, 40.7), 127),     # no resize (sz == model size)
])
def test_get_subwindow_matches_pysot_reference(pos, sz):
    rng = np.random.default_rng(0)
    im = rng.integers(0, 256, (80, 120, 3), dtype=np.uint8)
    avg = np.array([100.9, 20.2, 250.7])
    ours = get_subwindow(im, pos, 127, sz, avg)
    ref = _pysot_reference_crop(im, pos, 127, sz, avg)
    assert ours.shape == (127, 127, 3) and ours.dtype == np.uint8
    assert np.array_equal(ours, ref)
    ref_t = _pysot_reference_crop(im, (pos[0] + 0.5, pos[1] - 0.5), 127, sz, avg, corner="trackit")
    assert np.array_equal(get_subwindow(im, (pos[0] + 0.5, pos[1] - 0.5), 127, sz, avg, corner="trackit"), ref_t)


def test_trackit_corner_uses_bankers_rounding():
    assert crop_corner_trackit(52.0, 112) == -4.0  # round(-4.5) -> -4 (README §3.5)
    assert crop_corner_trackit(48.0, 112) == -8.0  # round(-8.5) -> -8


# ----------------------------------------------------------------------------- grid / window / penalty
def test_inference_offset_and_window():
    assert score_offset(255, 25, 8) == 31 and GEOM.up == 193
    # cell j -> patch 31 + 8j, centre cell 12 -> 127 = patch centre
    assert GEOM.offset + 8 * 12 == 127 == GEOM.center
    win = hanning_window(25)
    assert np.all(win[0] == 0) and np.all(win[-1] == 0) and np.all(win[:, 0] == 0) and np.all(win[:, -1] == 0)
    assert win[12, 12] == pytest.approx(1.0)


def test_penalty_is_one_for_unchanged_box():
    size, scale_z = (40.0, 25.0), 1.7
    lrtbs = np.empty((4, 25, 25), np.float32)
    lrtbs[[0, 2]] = size[0] * scale_z / 2
    lrtbs[[1, 3]] = size[1] * scale_z / 2
    np.testing.assert_allclose(penalty_map(lrtbs, size, scale_z, 0.2), 1.0, atol=1e-6)
    lrtbs[[0, 2]] *= 2  # wider box: penalised
    assert np.all(penalty_map(lrtbs, size, scale_z, 0.2) < 0.99)


def test_cv2_resize_quirk():
    d = np.zeros((25, 25))
    d[12, 20] = 1.0
    up = upsample_cubic(d, 193)
    r, c = np.unravel_index(np.argmax(up), up.shape)
    assert (r, c) == (96, 158)  # patch x 158 + 31 = 189, not the true 31 + 8*20 = 191
    yy, xx = np.mgrid[0:25, 0:25]
    g = np.exp(-((xx - 16.0) ** 2 + (yy - 12.0) ** 2) / (2 * 1.5 ** 2))
    r, c = np.unravel_index(np.argmax(upsample_cubic(g, 193)), (193, 193))
    assert (r, c) == (96, 127)  # 7.72*16 + 3.36 = 126.9


def test_coarse_cell_clip_fixes_off_by_one():
    assert _cell(192, 7.72, 25, fix=True) == 24
    assert _cell(192, 7.72, 25, fix=False) == 25  # the official clip (would index out of bounds)


# ----------------------------------------------------------------------------- synthetic network outputs
def _outputs(peak=(12, 12), box_patch=None, size_patch=(60.0, 40.0), sigma=0.0, scale=1.0):
    """cls/cen peaked at ``peak`` (delta if sigma == 0), ltrb either a constant size or pointing at ``box_patch``."""
    yy, xx = np.mgrid[0:25, 0:25].astype(np.float64)
    if sigma == 0:
        bump = ((yy == peak[0]) & (xx == peak[1])).astype(np.float64)
    else:
        bump = np.exp(-((yy - peak[0]) ** 2 + (xx - peak[1]) ** 2) / (2 * sigma ** 2))
    cls = np.zeros((2, 25, 25), np.float32)
    cls[1] = (8.0 * bump - 4.0).astype(np.float32)
    cen = (3.0 * bump).astype(np.float32)[None]
    loc = np.empty((4, 25, 25), np.float32)
    if box_patch is None:
        loc[[0, 2]] = scale * size_patch[0] / 2
        loc[[1, 3]] = scale * size_patch[1] / 2
    else:
        x1, y1, x2, y2 = box_patch
        px, py = 31 + 8 * xx, 31 + 8 * yy
        loc[:] = np.maximum(np.stack([px - x1, py - y1, x2 - px, y2 - py]), 1.0)
    return cls, loc, cen


def _state(scale_z=1.6, size=(50.0, 30.0)):
    return (200.0, 150.0), size, scale_z


def test_static_peak_keeps_state_exactly():
    center, size, scale_z = _state()
    cls, loc, cen = _outputs(size_patch=(size[0] * scale_z, size[1] * scale_z))
    cfg = SiamCARTrackConfig()
    out = postprocess(cls, loc, cen, center, size, scale_z, cfg, GEOM)
    assert out["info"]["coarse_rc_up"] == (96, 96) and out["info"]["fine_rc_up"] == (96, 96)
    np.testing.assert_allclose(out["center"], center, atol=1e-9)
    np.testing.assert_allclose(out["size"], size, rtol=1e-5)


@pytest.mark.parametrize("row", [9, 14])
def test_displacement_maps_u_plus_31(row):
    center, size, scale_z = _state()
    cls, loc, cen = _outputs(peak=(row, 12), size_patch=(size[0] * scale_z, size[1] * scale_z))
    cfg = SiamCARTrackConfig(window_lr=0.0)
    out = postprocess(cls, loc, cen, center, size, scale_z, cfg, GEOM)
    r1, c1 = out["info"]["fine_rc_up"]
    assert c1 == 96 and abs(r1 - (7.72 * row + 3.36)) <= 1  # half-pixel bicubic mapping
    assert out["center"][1] - center[1] == pytest.approx((r1 - 96) / scale_z, abs=1e-9)
    assert out["center"][0] == pytest.approx(center[0], abs=1e-9)


def test_size_penalty_unit_mix_quirk():
    center, size, scale_z = _state(scale_z=1.6)
    k = 0.2
    cls, loc, cen = _outputs(size_patch=(size[0] * scale_z, size[1] * scale_z), scale=2.0)
    cfg = SiamCARTrackConfig(penalty_k=k, lr=0.35)
    out = postprocess(cls, loc, cen, center, size, scale_z, cfg, GEOM)
    chg = max(2 / scale_z, scale_z / 2)
    expect_pen = math.exp(-k * (chg - 1))
    info = out["info"]
    assert info["size_penalty"] == pytest.approx(expect_pen, rel=1e-5)
    assert info["lr"] == pytest.approx(expect_pen * info["cls_at_peak"] * 0.35, rel=1e-9)
    assert out["size"][0] == pytest.approx(size[0] + info["lr"] * (2 * size[0] - size[0]), rel=1e-5)


@pytest.mark.parametrize("variant", ["head", "c2", "c1", "paper"])
def test_variants_find_the_target(variant):
    center, size, scale_z = _state(scale_z=1.5, size=(50.0, 30.0))
    # true target in patch px: centre (127 + 24, 127 - 16), size 70 x 50
    tx, ty, tw, th = 151.0, 111.0, 70.0, 50.0
    box = (tx - tw / 2, ty - th / 2, tx + tw / 2, ty + th / 2)
    cls, loc, cen = _outputs(peak=((ty - 31) / 8, (tx - 31) / 8), box_patch=box, sigma=1.2)
    cfg = SiamCARTrackConfig(variant=variant, window_lr=0.2, lr=1.0, penalty_k=0.0)
    out = postprocess(cls, loc, cen, center, size, scale_z, cfg, GEOM)
    want_c = (center[0] + (tx - 127) / scale_z, center[1] + (ty - 127) / scale_z)
    if variant == "paper":
        # every top-k box is the target box itself -> exact
        np.testing.assert_allclose(out["center"], want_c, atol=1e-6)
        rate = out["info"]["lr"]
        np.testing.assert_allclose(out["size"], [size[0] + rate * (tw / scale_z - size[0]),
                                                  size[1] + rate * (th / scale_z - size[1])], rtol=1e-6)
    else:
        # peak-based centre: within one score cell (8 patch px) of the truth
        assert abs(out["center"][0] - want_c[0]) <= 8 / scale_z and abs(out["center"][1] - want_c[1]) <= 8 / scale_z
        # the size moves towards the target size
        assert abs(out["size"][0] - tw / scale_z) < abs(size[0] - tw / scale_z)
    assert 0.0 < out["score"] <= 1.0


# ----------------------------------------------------------------------------- tracker robustness
@pytest.fixture(scope="module")
def tiny_tracker():
    torch.manual_seed(0)
    cfg = SiamCARConfig(model=SiamCARModelConfig(backbone_layers=[1, 1, 1, 1], backbone_width=4, neck_channels=16,
                                                 gn_groups=4))
    net = build_siamcar(cfg.model).eval()
    return SiamCARTracker(cfg, net)


def _frame(h=120, w=160, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("box", [
    [150.0, 110.0, 20.0, 15.0],    # touching the bottom-right corner, partly outside
    [-10.0, -5.0, 30.0, 20.0],     # starting partly outside
    [80.0, 60.0, 1.0, 1.0],        # tiny
    [70.0, 50.0, 0.0, 0.0],        # degenerate
    [-100.0, -80.0, 400.0, 300.0], # larger than the frame
])
def test_tracker_robust_boxes(tiny_tracker, box):
    t = tiny_tracker
    t.debug = True
    out = t.initialize(_frame(), np.array(box))
    assert np.allclose(out["box"], box)
    for i in range(3):
        out = t.track(_frame(seed=i + 1))
        b = out["box"]
        assert np.all(np.isfinite(b)) and b[2] > 0 and b[3] > 0
        cx, cy = b[0] + b[2] / 2, b[1] + b[3] / 2
        assert 0 <= cx <= 160 and 0 <= cy <= 120
        assert b[2] <= 160 + 1e-9 and b[3] <= 120 + 1e-9
        assert 0.0 <= out["score"] <= 1.0
        assert out["debug"]["hp_score_up"].shape == (193, 193) and out["debug"]["search_crop"].shape == (255, 255, 3)
        assert set(t.timings) >= {"crop", "backbone", "head", "update", "post"}
    t.debug = False


def test_tracker_grayscale_equals_replicated_rgb(tiny_tracker):
    t = tiny_tracker
    gray = _frame()[:, :, 0].copy()
    rgb = np.repeat(gray[:, :, None], 3, axis=2)
    t.initialize(gray, np.array([60.0, 40.0, 30.0, 20.0]))
    a = t.track(gray[:, ::-1].copy())["box"]
    t.initialize(rgb, np.array([60.0, 40.0, 30.0, 20.0]))
    b = t.track(rgb[:, ::-1].copy())["box"]
    np.testing.assert_allclose(a, b)


def test_track_before_initialize_fails_clearly():
    cfg = SiamCARConfig(model=SiamCARModelConfig(backbone_layers=[1, 1, 1, 1], backbone_width=4, neck_channels=16,
                                                 gn_groups=4))
    t = SiamCARTracker(cfg, build_siamcar(cfg.model).eval())
    with pytest.raises(RuntimeError, match="before initialize"):
        t.track(_frame())
    with pytest.raises(ValueError, match="box"):
        t.initialize(_frame(), np.array([1.0, 2.0, np.nan, 4.0]))
