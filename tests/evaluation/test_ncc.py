"""NCC reference tracker: accuracy against known ground truth and robustness at the edges."""
from __future__ import annotations

import numpy as np
import pytest

from _evalkit import iou_xywh, textured

from tracking.tracker.ncc import NCCConfig, NCCTrackConfig, NCCTracker


def _scene(seed: int = 0, size=(320, 240), obj=(40, 30)):
    rng = np.random.default_rng(seed)
    return textured(rng, size[1], size[0], 2.0), textured(rng, obj[1], obj[0], 1.0)


def _paste(bg: np.ndarray, ob: np.ndarray, x: int, y: int) -> np.ndarray:
    """Paste with clipping at the image border (the object may be partly outside)."""
    f = bg.copy()
    h, w = ob.shape[:2]
    H, W = f.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x1 > x0 and y1 > y0:
        f[y0:y1, x0:x1] = ob[y0 - y:y1 - y, x0 - x:x1 - x]
    return f


@pytest.mark.parametrize("dx,dy", [(0, 0), (7, -5), (-13, 9), (21, 14)])
def test_finds_pasted_template_at_known_offset(dx, dy):
    bg, ob = _scene(1)
    t = NCCTracker(NCCConfig())
    t.initialize(_paste(bg, ob, 100, 80), np.array([100.0, 80.0, 40.0, 30.0]))
    out = t.track(_paste(bg, ob, 100 + dx, 80 + dy))
    box = out["box"]
    assert np.abs(box[:2] - [100 + dx, 80 + dy]).max() < 0.5, box
    assert np.abs(box[2:] - [40, 30]).max() < 1.0, box
    assert out["score"] > 0.8


def test_tracks_a_moving_target():
    bg, ob = _scene(2)
    t = NCCTracker(NCCConfig())
    t.initialize(_paste(bg, ob, 30, 100), np.array([30.0, 100.0, 40.0, 30.0]))
    for k in range(1, 50):
        x, y = 30 + 4 * k, 100 + int(round(60 * np.sin(k / 8)))
        box = t.track(_paste(bg, ob, x, y))["box"]
        assert iou_xywh(box, [x, y, 40, 30]) > 0.85, (k, box)


def test_follows_scale_change():
    """Growing target: the estimate must move most of the way from the initial to the true size."""
    import cv2

    bg, ob = _scene(3, obj=(48, 36))
    cx, cy = 160.0, 120.0
    t = NCCTracker(NCCConfig())
    w0, h0 = 32.0, 24.0

    def frame(s: float) -> np.ndarray:
        w, h = int(round(w0 * s)), int(round(h0 * s))
        o = cv2.resize(ob, (w, h), interpolation=cv2.INTER_AREA)
        return _paste(bg, o, int(round(cx - w / 2)), int(round(cy - h / 2))), (w, h)

    f, (w, h) = frame(1.0)
    t.initialize(f, np.array([round(cx - w / 2), round(cy - h / 2), w, h], dtype=float))
    s = 1.0
    for _ in range(30):
        s *= 1.01
        f, (w, h) = frame(s)
        box = t.track(f)["box"]
    assert abs(box[2] - w) < 0.4 * abs(w - w0), (box, w)
    assert abs(box[3] - h) < 0.4 * abs(h - h0), (box, h)


def _valid(box, img_w, img_h):
    box = np.asarray(box)
    assert box.shape == (4,) and np.all(np.isfinite(box)), box
    assert box[2] > 0 and box[3] > 0, box
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    assert 0 <= cx <= img_w and 0 <= cy <= img_h, box


def test_target_leaving_and_reentering_the_image():
    bg, ob = _scene(4)
    t = NCCTracker(NCCConfig())
    t.initialize(_paste(bg, ob, 250, 100), np.array([250.0, 100.0, 40.0, 30.0]))
    xs = list(range(256, 340, 6)) + [400] * 5 + list(range(300, 240, -6))
    for x in xs:
        _valid(t.track(_paste(bg, ob, x, 100))["box"], 320, 240)
    # the target is fully inside again: the tracker should have it back
    for x in (240, 238, 236):
        box = t.track(_paste(bg, ob, x, 100))["box"]
        _valid(box, 320, 240)
    assert iou_xywh(box, [236, 100, 40, 30]) > 0.7, box


@pytest.mark.parametrize("box", [
    [100.0, 100.0, 2.0, 2.0],       # tiny
    [100.3, 100.7, 0.5, 0.5],       # sub-pixel (clamped to min_size)
    [0.0, 0.0, 320.0, 240.0],       # the whole image
    [-50.0, -40.0, 420.0, 320.0],   # bigger than the image
    [10.0, 10.0, 1.0, 150.0],       # extreme aspect ratio
    [-10.0, -10.0, 30.0, 30.0],     # starts partly outside
    [315.0, 235.0, 20.0, 20.0],     # mostly outside
])
def test_extreme_boxes_never_crash(box):
    bg, _ = _scene(5)
    t = NCCTracker(NCCConfig())
    t.initialize(bg, np.array(box))
    for k in range(5):
        _valid(t.track(np.roll(bg, 3 * k, axis=1))["box"], 320, 240)


@pytest.mark.parametrize("shape", ["hw", "hw1", "rgba", "float"])
def test_grayscale_and_other_image_layouts(shape):
    bg, ob = _scene(6)
    f0, f1 = _paste(bg, ob, 100, 80), _paste(bg, ob, 106, 84)
    conv = {
        "hw": lambda f: f.mean(2).astype(np.uint8),
        "hw1": lambda f: f.mean(2, keepdims=True).astype(np.uint8),
        "rgba": lambda f: np.concatenate([f, np.full(f.shape[:2] + (1,), 255, np.uint8)], 2),
        "float": lambda f: f.astype(np.float64) / 255.0,
    }[shape]
    t = NCCTracker(NCCConfig())
    t.initialize(conv(f0), np.array([100.0, 80.0, 40.0, 30.0]))
    box = t.track(conv(f1))["box"]
    assert np.abs(box[:2] - [106, 84]).max() < 0.6, box


def test_flat_image_keeps_position():
    """A textureless template gives no evidence: the tracker must stay put (OpenCV answers 1 everywhere)."""
    flat = np.full((120, 160, 3), 128, np.uint8)
    t = NCCTracker(NCCConfig())
    t.initialize(flat, np.array([50.0, 40.0, 20.0, 20.0]))
    for _ in range(3):
        box = t.track(flat)["box"]
    np.testing.assert_allclose(box, [50.0, 40.0, 20.0, 20.0], atol=1e-6)


def test_invalid_initial_box_is_rejected():
    t = NCCTracker(NCCConfig())
    with pytest.raises(ValueError, match="invalid initial box"):
        t.initialize(np.zeros((10, 10, 3), np.uint8), np.array([1.0, 1.0, 0.0, 4.0]))
    with pytest.raises(ValueError, match="invalid initial box"):
        t.initialize(np.zeros((10, 10, 3), np.uint8), np.array([np.nan, 1.0, 3.0, 4.0]))


def test_debug_maps_and_registration():
    from ltr.admin.config import ConfigError
    from ltr.admin.experiment import load_tracker_config
    from ltr.admin.registry import TRACKERS

    assert TRACKERS.get("ncc") is NCCTracker
    cfg, path = load_tracker_config("ncc", "default")
    assert isinstance(cfg, NCCConfig) and cfg.track == NCCTrackConfig()  # YAML restates the defaults
    with pytest.raises(ConfigError, match="num_scales"):
        load_tracker_config("ncc", "default", ["track.num_scales=2"])
    bg, ob = _scene(7)
    t = NCCTracker(cfg)
    t.debug = True
    t.initialize(_paste(bg, ob, 100, 80), np.array([100.0, 80.0, 40.0, 30.0]))
    out = t.track(_paste(bg, ob, 103, 80))
    resp = out["debug"]["response"]
    # response size = search - template + 1 in each dimension
    assert resp.shape == (t.search_h - t.tpl_h + 1, t.search_w - t.tpl_w + 1)
    assert -1.0 - 1e-6 <= resp.min() and resp.max() <= 1.0 + 1e-6
