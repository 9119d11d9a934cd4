"""``track.crop: exact``: the trackers crop like the training pipeline (no rounding bias), wired into
SiamCAR and Ocean. The official crop stays the default (parity)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from ltr.data.processing import crop_affine, warp_crop
from tracking.tracker.siamese_utils import get_subwindow, get_subwindow_exact

torch.set_num_threads(1)


def _blob(h: int, w: int, cx: float, cy: float, sigma: float = 3.0) -> np.ndarray:
    """A Gaussian spot centred at pixel-index coordinates (cx, cy) (pixel i has its centre at i)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    g = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma ** 2))
    return np.repeat((g * 250).astype(np.float32)[:, :, None], 3, axis=2)


def _centroid(img: np.ndarray) -> np.ndarray:
    m = img[..., 0].astype(np.float64)
    yy, xx = np.mgrid[0:m.shape[0], 0:m.shape[1]]
    return np.array([(m * xx).sum() / m.sum(), (m * yy).sum() / m.sum()])


@pytest.mark.parametrize("pos,side,out", [((80.3, 61.7), 63.4, 127), ((79.5, 60.5), 101.0, 63), ((81.9, 58.2), 150.7, 95)])
def test_exact_crop_puts_a_point_where_the_affine_says(pos, side, out):
    """A spot at frame point p lands at crop pixel (out - 1)/2 + a (p - pos) with a = (out - 1)/side."""
    spot = np.array([83.25, 59.6])
    img = _blob(140, 170, *spot)
    crop, a = get_subwindow_exact(img, pos, out, side, (0.0, 0.0, 0.0))
    assert a == pytest.approx((out - 1) / side)
    want = (out - 1) / 2.0 + a * (spot - np.asarray(pos))
    np.testing.assert_allclose(_centroid(crop), want, atol=0.05)


def test_official_crop_is_biased_by_its_rounding():
    """The rounded-corner crop (pysot) moves the same spot by up to a frame pixel: what 'exact' removes."""
    spot = np.array([83.25, 59.6])
    img = np.clip(_blob(140, 170, *spot), 0, 255).astype(np.uint8)
    errs = []
    for fx in np.linspace(0.0, 0.9, 10):
        pos = np.array([80.0 + fx, 61.0 + fx])
        side = 64.0
        crop = get_subwindow(img, pos, 127, int(side), (0, 0, 0))
        a = 127 / side  # the scale the official decoder assumes
        found = (_centroid(crop.astype(np.float32)) - 63.0) / a + pos  # the decoder's crop -> frame mapping
        errs.append(found - spot)
    bias = np.mean(errs, axis=0)
    assert np.all(bias > 0.3)  # the spot is reported right of and below where it is
    crop, a = get_subwindow_exact(img, pos, 127, side, (0, 0, 0))
    found = (_centroid(crop) - 63.0) / a + pos
    np.testing.assert_allclose(found, spot, atol=0.05)


def test_exact_crop_equals_the_training_crop():
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    avg = cv2.mean(img)[:3]
    cases = [((20.0, 15.5), 90.3, 127), ((150.2, 110.7), 40.0, 63),  # both cross the border
             ((80.4, 60.6), 30.2, 63), ((81.0, 59.0), 500.0, 95),       # inside; larger than the frame
             ((-300.0, 50.0), 40.0, 31)]                                 # entirely outside: all padding
    bgr_view = img[:, :, ::-1]  # the trackers pass a negatively strided view
    for pos, side, out in cases:
        crop, _ = get_subwindow_exact(bgr_view, pos, out, side, avg[::-1])
        ref = warp_crop(np.ascontiguousarray(bgr_view), crop_affine(pos[0], pos[1], side, side, out, pixel_index=True),
                        "mean", pixel_index=True)
        np.testing.assert_array_equal(crop, ref)
    for pos, side, out in cases:
        crop, _ = get_subwindow_exact(img, pos, out, side, avg)
        ref = warp_crop(img, crop_affine(pos[0], pos[1], side, side, out, pixel_index=True), "mean", pixel_index=True)
        np.testing.assert_array_equal(crop, ref)


def test_exact_crop_rejects_bad_sides():
    img = np.zeros((10, 10, 3), np.uint8)
    for side in (0.0, -3.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="crop side"):
            get_subwindow_exact(img, (5, 5), 31, side, (0, 0, 0))


def _spy_crops(monkeypatch, module):
    seen = []
    real = module.get_subwindow_exact

    def spy(image, pos, model_sz, side, avg):
        crop, a = real(image, pos, model_sz, side, avg)
        seen.append((tuple(np.asarray(pos, float)), model_sz, side, a))
        return crop, a

    monkeypatch.setattr(module, "get_subwindow_exact", spy)

    def no_official(*a, **k):
        raise AssertionError("the official crop was used with track.crop=exact")

    monkeypatch.setattr(module, "get_subwindow", no_official)
    return seen


def test_ocean_exact_mode_crops_and_decodes_with_the_training_geometry(monkeypatch):
    import tracking.tracker.ocean.tracker as mod
    from ltr.models.ocean import OceanModelConfig, OceanNet
    from tracking.tracker.ocean import OceanConfig, OceanTracker

    cfg = OceanConfig()
    cfg.model = OceanModelConfig(backbone_layers=[1, 1, 1], backbone_width=4, channels=8, tower_num=1)
    cfg.track.crop = "exact"
    torch.manual_seed(0)
    tr = OceanTracker(cfg, OceanNet(cfg.model).eval())
    seen = _spy_crops(monkeypatch, mod)
    decoded = {}
    real_decode = mod.decode_and_select

    def decode_spy(*args, **kw):
        out = real_decode(*args, **kw)
        decoded.update(scale=args[4], centre=args[-1] if len(args) > 10 else kw.get("centre"))
        return out

    monkeypatch.setattr(mod, "decode_and_select", decode_spy)
    img = (np.random.default_rng(0).random((300, 400, 3)) * 255).astype(np.uint8)
    tr.initialize(img, np.array([150.0, 120.0, 40.0, 30.0]))
    tr.track(img)
    s_z = np.sqrt((40 + 35) * (30 + 35))
    (p0, m0, side0, _), (p1, m1, side1, a1) = seen
    assert p0 == p1 == (170.0, 135.0) and (m0, m1) == (127, 255)
    assert side0 == pytest.approx(s_z) and side1 == pytest.approx(s_z * 255 / 127)  # unrounded sides
    assert decoded["scale"] == pytest.approx(a1) and decoded["centre"] == pytest.approx(127.0)


def test_siamcar_exact_mode_uses_the_training_grid_offset(monkeypatch):
    import tracking.tracker.siamcar.tracker as mod
    from ltr.actors.siamcar import training_grid_offset
    from ltr.admin.experiment import load_tracker_config
    from tracking.tracker.siamcar.postprocess import Geometry

    cfg, _ = load_tracker_config("siamcar", "tiny", ["track.crop=exact", "weights=null"])
    tr = mod.SiamCARTracker(cfg)
    assert tr.geom.offset == training_grid_offset(191, 17, 8) == 32.0
    assert Geometry(95, 191, 8, 17).offset == 31  # the official inference offset stays the default
    seen = _spy_crops(monkeypatch, mod)
    img = (np.random.default_rng(1).random((240, 320, 3)) * 255).astype(np.uint8)
    tr.initialize(img, np.array([100.0, 80.0, 30.0, 40.0]))
    out = tr.track(img)
    assert [s[1] for s in seen] == [95, 191] and np.all(np.isfinite(out["box"]))
