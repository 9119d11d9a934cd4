"""Crops, jitter and augmentation: the returned boxes must match where the target actually lands in the pixels."""
from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _training_fixtures import draw_frame  # noqa: E402

from ltr.admin.train_config import BranchConfig, ProcessingConfig
from ltr.data import transforms as T
from ltr.data.processing import RawSample, TrackingProcessing, crop_affine, siamfc_side, transform_boxes, warp_crop


def _red_bbox(img_chw01: torch.Tensor):
    """xywh (pixel-index extent, i.e. x1 - x0 + 1) of the red target in a 3xHxW rgb01 crop."""
    im = img_chw01.numpy()
    m = (im[0] > 0.6) & (im[1] < 0.45)
    ys, xs = np.nonzero(m)
    assert xs.size > 0, "target not visible in crop"
    return np.array([xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1], dtype=float)


def _sample(box, w=320, h=240):
    img = draw_frame(w, h, box)
    b = np.array([box], dtype=float)
    return RawSample([img], b.copy(), [img], b.copy())


def test_siamfc_template_geometry_hand_computed():
    box = [100.0, 80.0, 60.0, 40.0]
    cfg = ProcessingConfig(normalize="rgb01")
    out = TrackingProcessing(cfg, "pair")(_sample(box), np.random.default_rng(0))
    # hand: p = 0.5 * (60 + 40) = 50, s_z = sqrt(110 * 90); target size in crop = 60 * 126 / s_z
    s_z = math.sqrt(110 * 90)
    assert abs(siamfc_side(np.array(box), 0.5) - s_z) < 1e-9
    tb = out["template_box"].numpy()
    assert np.allclose(tb[2:], [60 * 126 / s_z, 40 * 126 / s_z], atol=1e-4)
    assert np.allclose(tb[:2] + tb[2:] / 2, [63.0, 63.0], atol=1e-4)  # centred at (out-1)/2
    # search crop: side s_z * 255/127, target centred at 127
    sb = out["search_box"].numpy()
    assert np.allclose(sb[2:], [60 * 254 / (s_z * 255 / 127), 40 * 254 / (s_z * 255 / 127)], atol=1e-4)
    assert np.allclose(sb[:2] + sb[2:] / 2, [127.0, 127.0], atol=1e-4)
    # and the pixels agree
    for key, bkey in (("template", "template_box"), ("search", "search_box")):
        meas = _red_bbox(out[key])
        exp = out[bkey].numpy()
        assert np.allclose(meas[:2], exp[:2], atol=1.5) and np.allclose(meas[2:], exp[2:], atol=2.0), (key, meas, exp)


def test_search_area_crop_geometry():
    box = [100.0, 80.0, 30.0, 20.0]
    cfg = ProcessingConfig(crop_mode="search_area", search_area_factor=5.0, jitter_mode="pytracking",
                           template=BranchConfig(size=288), search=BranchConfig(size=288), normalize="rgb01")
    out = TrackingProcessing(cfg, "sequence")(_sample(box), np.random.default_rng(0))
    side = math.ceil(5 * math.sqrt(600))
    tb = out["train_boxes"][0].numpy()
    assert np.allclose(tb, [144 - 15 * 288 / side, 144 - 10 * 288 / side, 30 * 288 / side, 20 * 288 / side], atol=1e-4)
    meas = _red_bbox(out["train_images"][0])
    assert np.allclose(meas, tb, atol=1.5)


@pytest.mark.parametrize("mode", ["pysot", "pytracking"])
def test_jittered_boxes_match_pixels(mode):
    cj, sj = (32.0, 0.18) if mode == "pysot" else (3.0, 0.25)
    cfg = ProcessingConfig(jitter_mode=mode, normalize="rgb01",
                           template=BranchConfig(size=127, center_jitter=4 if mode == "pysot" else 0.5, scale_jitter=0.05),
                           search=BranchConfig(size=255, center_jitter=cj, scale_jitter=sj, flip=0.5))
    proc = TrackingProcessing(cfg, "pair")
    rng = np.random.default_rng(3)
    offsets = []
    for k in range(12):
        box = [rng.uniform(60, 200), rng.uniform(50, 150), rng.uniform(20, 70), rng.uniform(20, 70)]
        out = proc(_sample(box), rng)
        for key, bkey in (("template", "template_box"), ("search", "search_box")):
            meas, exp = _red_bbox(out[key]), out[bkey].numpy()
            # the drawn rectangle is rounded to whole frame pixels: allow that, magnified by the crop zoom
            zoom = max(exp[2] / box[2], exp[3] / box[3], 1.0)
            tol = 0.75 * zoom + 1.0
            assert np.allclose(meas[:2], exp[:2], atol=tol) and np.allclose(meas[2:], exp[2:], atol=tol + 0.5), (k, key, meas, exp)
        sb = out["search_box"].numpy()
        offsets.append(sb[:2] + sb[2:] / 2 - 127.0)
    offsets = np.abs(np.array(offsets))
    assert offsets.max() > 1.0  # jitter did something
    if mode == "pysot":
        # a shift of d output px at scale s moves the target by d/s: bounded by cj / (1 - sj)
        assert offsets.max() <= cj / (1 - sj) + 1e-6


def test_mean_padding_and_flip():
    box = [2.0, 2.0, 30.0, 30.0]  # at the corner: the crop runs off the image
    img = draw_frame(64, 48, box)
    mean = img.reshape(-1, 3).mean(0)
    geom = crop_affine(17.0, 17.0, 120.0, 120.0, 63, pixel_index=True)
    crop = warp_crop(img, geom, "mean", pixel_index=True)
    assert np.allclose(crop[0, 0], mean, atol=0.51)  # out-of-image pixel = image mean
    b = transform_boxes(np.array([box]), geom)[0]
    assert np.allclose(b[:2] + b[2:] / 2, [31.0, 31.0])
    cfg = ProcessingConfig(normalize="rgb01", template=BranchConfig(size=63, flip=1.0), search=BranchConfig(size=127))
    out = TrackingProcessing(cfg, "pair")(_sample([150.0, 100.0, 40.0, 20.0]), np.random.default_rng(0))
    cfg0 = ProcessingConfig(normalize="rgb01", template=BranchConfig(size=63), search=BranchConfig(size=127))
    out0 = TrackingProcessing(cfg0, "pair")(_sample([150.0, 100.0, 40.0, 20.0]), np.random.default_rng(0))
    assert torch.allclose(out["template"], out0["template"].flip(-1))
    b0, b1 = out0["template_box"].numpy(), out["template_box"].numpy()
    assert np.allclose(b1, [62 - b0[0] - b0[2], b0[1], b0[2], b0[3]], atol=1e-5)


def test_normalisation_modes():
    img = np.random.default_rng(0).uniform(0, 255, (5, 6, 3)).astype(np.float32)
    bgr = T.normalize_image(img, "bgr255")
    assert np.allclose(bgr[0], img[..., 2]) and np.allclose(bgr[2], img[..., 0])
    imn = T.normalize_image(img, "imagenet")
    assert np.allclose(imn[1], (img[..., 1] / 255 - 0.456) / 0.224, atol=1e-5)
    with pytest.raises(ValueError):
        T.normalize_image(img, "bogus")


def test_augmentations_properties():
    rng = np.random.default_rng(5)
    img = rng.uniform(0, 255, (20, 24, 3)).astype(np.float32)
    g = T.to_gray(img)
    assert np.allclose(g[..., 0], g[..., 1]) and np.allclose(g[..., 0], img @ np.array([0.299, 0.587, 0.114]), atol=1e-3)
    k = T.motion_blur_kernel(np.random.default_rng(1))
    c = k.shape[0] // 2
    assert k.shape[0] % 2 == 1 and 5 <= k.shape[0] <= 45 and abs(k.sum() - 1) < 1e-5
    off = k.copy(); off[:, c] = 0; off[c, :] = 0
    assert not off.any()  # cross shaped
    z = np.random.default_rng(9).standard_normal(3).astype(np.float32)
    out = T.pca_color(img, np.random.default_rng(9))
    expected_bgr_offset = T.PYSOT_PCA_RGBVAR @ z
    assert np.allclose(img - out, expected_bgr_offset[::-1].reshape(1, 1, 3), atol=1e-4)
    b = T.brightness(img, 0.2, np.random.default_rng(2))
    ratio = (b / np.maximum(img, 1e-3))[(img > 10) & (b < 254)]
    assert 0.8 - 1e-4 <= ratio.min() and ratio.max() <= 1.2 + 1e-4 and np.allclose(ratio, ratio[0], atol=1e-3)
    cj = T.color_jitter(img, 0.05, np.random.default_rng(3))
    assert cj.shape == img.shape and cj.min() >= 0 and cj.max() <= 255


def test_processing_is_a_function_of_the_rng():
    cfg = ProcessingConfig(template=BranchConfig(size=31, center_jitter=2, scale_jitter=0.05, pca_color=1.0),
                           search=BranchConfig(size=63, center_jitter=8, scale_jitter=0.18, motion_blur=0.5, gray=0.3))
    proc = TrackingProcessing(cfg, "pair")
    s = _sample([100.0, 80.0, 30.0, 40.0])
    a = proc(s, np.random.default_rng(42))
    b = proc(s, np.random.default_rng(42))
    c = proc(s, np.random.default_rng(43))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["search"], c["search"])


# --------------------------------------------------------------------------- distractor-centred search crops

def test_pick_distractor_reach_image_and_absence():
    from ltr.data.processing import pick_distractor

    box = np.array([100.0, 100.0, 20.0, 20.0])  # centre (110, 110), size 20 -> reach 3 * 20 = 60 px
    rng = np.random.default_rng(0)
    assert pick_distractor(box, None, (240, 320, 3), rng) is None
    assert pick_distractor(box, np.zeros((0, 4)), (240, 320, 3), rng) is None
    far = np.array([[200.0, 100.0, 20.0, 20.0]])          # centre 100 px away: out of reach
    outside = np.array([[140.0, -30.0, 20.0, 20.0]])      # centre (150, -20): not in the image
    near = np.array([[130.0, 130.0, 20.0, 20.0]])         # centre (140, 140): 42 px away
    assert pick_distractor(box, np.concatenate([far, outside]), (240, 320, 3), rng) is None
    picks = {tuple(pick_distractor(box, np.concatenate([far, near, outside]), (240, 320, 3), rng)) for _ in range(20)}
    assert picks == {(140.0, 140.0)}
    # two candidates in reach at 10 and 40 px: weights 1/d -> the nearer one 4/5 of the time
    two = np.array([[110.0, 100.0, 20.0, 20.0], [140.0, 100.0, 20.0, 20.0]])
    hits = sum(pick_distractor(box, two, (240, 320, 3), rng)[0] == 120.0 for _ in range(2000))
    assert abs(hits / 2000 - 0.8) < 0.04


@pytest.mark.parametrize("mode", ["pysot", "pytracking"])
def test_distractor_crop_centres_on_lookalike_within_jitter(mode):
    """With distractor_prob 1 the search crop is centred on the look-alike (hand-computed: it lands on the crop
    centre) when it is within the jitter range, and the shift is clipped to that range when it is farther."""
    from ltr.data.processing import crop_affine, jitter_crop

    box = np.array([100.0, 80.0, 40.0, 40.0])  # centre (120, 100)
    if mode == "pysot":
        cfg = ProcessingConfig(normalize="rgb01", search=BranchConfig(size=255, center_jitter=64.0, distractor_prob=1.0))
        side = siamfc_side(box, 0.5) * 255 / 127
        lim = 64.0 * side / 255  # frame px
    else:
        cfg = ProcessingConfig(crop_mode="search_area", jitter_mode="pytracking", normalize="rgb01",
                               search=BranchConfig(size=288, center_jitter=3.0, distractor_prob=1.0))
        lim = 0.5 * 40.0 * 3.0
    br = cfg.search
    rng = np.random.default_rng(1)
    near = np.array([130.0, 90.0])  # 10 px right, 10 px up: inside the range
    g = jitter_crop(box, cfg, br, rng, toward=near)
    assert (g.cx, g.cy) == pytest.approx((130.0, 90.0))
    far = np.array([120.0 + 5 * lim, 100.0 - 0.5 * lim])  # x clipped to +lim, y kept
    g = jitter_crop(box, cfg, br, rng, toward=far)
    assert (g.cx, g.cy) == pytest.approx((120.0 + lim, 100.0 - 0.5 * lim))
    # the target keeps its size: the toward-shift changes the centre only
    g0 = jitter_crop(box, cfg, BranchConfig(size=br.size), rng)
    assert g.ax == pytest.approx(g0.ax) and g.ay == pytest.approx(g0.ay)


def test_processing_uses_distractors_only_when_asked():
    box = [100.0, 80.0, 40.0, 40.0]
    img = draw_frame(320, 240, box)
    b = np.array([box])
    dis = [np.array([[130.0, 80.0, 40.0, 40.0]])]  # 30 px to the right (47.6 crop px: inside the 64 px range)
    raw = RawSample([img], b.copy(), [img], b.copy(), test_meta={"distractors": dis})
    base = dict(normalize="rgb01", template=BranchConfig(size=127))
    on = TrackingProcessing(ProcessingConfig(**base, search=BranchConfig(size=255, center_jitter=64.0, distractor_prob=1.0)), "pair")
    off = TrackingProcessing(ProcessingConfig(**base, search=BranchConfig(size=255, center_jitter=0.0)), "pair")
    side = siamfc_side(np.array(box), 0.5) * 255 / 127
    sb = on(raw, np.random.default_rng(0))["search_box"].numpy()
    # crop centred at the distractor (150, 100): the target centre (120, 100) sits 30 px left, in crop px
    assert sb[0] + sb[2] / 2 == pytest.approx(127.0 - 30.0 * 254 / side, abs=1e-3)
    assert sb[1] + sb[3] / 2 == pytest.approx(127.0, abs=1e-3)
    assert np.allclose(_red_bbox(on(raw, np.random.default_rng(0))["search"])[:2], sb[:2], atol=1.5)
    # negative pairs and configs without distractor_prob ignore the annotation
    neg = RawSample([img], b.copy(), [img], b.copy(), negative=True, test_meta={"distractors": dis})
    plain = TrackingProcessing(ProcessingConfig(**base, search=BranchConfig(size=255, center_jitter=64.0)), "pair")
    np.testing.assert_array_equal(on(neg, np.random.default_rng(0))["search_box"].numpy(),
                                  plain(neg, np.random.default_rng(0))["search_box"].numpy())
    assert off(raw, np.random.default_rng(0))["search_box"].numpy()[0] + sb[2] / 2 == pytest.approx(127.0, abs=1e-3)


def test_distractor_prob_is_validated():
    with pytest.raises(Exception, match="distractor_prob"):
        BranchConfig(distractor_prob=1.5)
