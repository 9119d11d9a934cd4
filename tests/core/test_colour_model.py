"""The shared online colour model (tracking/tracker/colour_model.py) against brute-force references and
hand-worked values, and its fusion into the SiamCAR and Ocean trackers."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from ltr.admin.config import ConfigError
from ltr.admin.experiment import load_tracker_config
from ltr.admin.track_config import ColourModelConfig
from tracking.tracker.colour_model import ColourModel, box_means, colour_histogram, local_maxima, nearest_cell

torch.set_num_threads(1)


def _cfg(**kw) -> ColourModelConfig:
    base = dict(enabled=True, normalise=False)
    base.update(kw)
    return ColourModelConfig(**base)


# --------------------------------------------------------------------------- building blocks vs brute force
@pytest.mark.parametrize("bins", [4, 8, 32])
def test_histogram_matches_per_pixel_count(bins):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (7, 9, 3), dtype=np.uint8)
    ref = np.zeros(bins ** 3)
    width = 256 // bins
    for px in img.reshape(-1, 3):
        r, g, b = (int(v) // width for v in px)
        ref[(r * bins + g) * bins + b] += 1
    np.testing.assert_array_equal(colour_histogram(img, bins), ref)
    # a per-channel gain is applied before binning, rounded and saturated
    gain = np.array([0.5, 1.7, 1.0])
    ref = np.zeros(bins ** 3)
    for px in img.reshape(-1, 3):
        r, g, b = (int(min(255, round(float(v) * k))) // width for v, k in zip(px, gain))
        ref[(r * bins + g) * bins + b] += 1
    np.testing.assert_array_equal(colour_histogram(img, bins, gain), ref)


def test_box_means_match_brute_force_windows():
    rng = np.random.default_rng(1)
    vals = rng.random((23, 31))
    xs = np.array([-3.0, 0.0, 4.5, 15.2, 30.0, 40.0])
    ys = np.array([0.0, 7.7, 22.0, 26.0])
    w, h = 6.4, 3.0
    got = box_means(vals, xs, ys, w, h, empty=-1.0)
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            # pixels whose index lies in [c - size/2 + 0.5, c + size/2 + 0.5) after rounding the bounds
            c0 = int(np.clip(np.round(x - w / 2 + 0.5), 0, 31))
            c1 = int(np.clip(np.round(x + w / 2 + 0.5), 0, 31))
            r0 = int(np.clip(np.round(y - h / 2 + 0.5), 0, 23))
            r1 = int(np.clip(np.round(y + h / 2 + 0.5), 0, 23))
            cells = [vals[r, c] for r in range(r0, r1) for c in range(c0, c1)]
            want = float(np.mean(cells)) if cells else -1.0
            assert got[i, j] == pytest.approx(want, abs=1e-12), (x, y)
    # a window centred on pixel 10 with an odd width covers exactly the pixels 10 ± 1
    one = box_means(vals, np.array([10.0]), np.array([10.0]), 3.0, 3.0)
    assert one[0, 0] == pytest.approx(vals[9:12, 9:12].mean())


def test_local_maxima_match_brute_force():
    rng = np.random.default_rng(2)
    s = rng.random((9, 9))
    got = {tuple(v) for v in local_maxima(s, 0.5, (4, 4), 2.0)}
    ref = set()
    for r, c in itertools.product(range(9), range(9)):
        nb = [s[rr, cc] for rr in range(max(0, r - 1), min(9, r + 2)) for cc in range(max(0, c - 1), min(9, c + 2))
              if (rr, cc) != (r, c)]
        if all(s[r, c] >= v for v in nb) and s[r, c] >= 0.5 * s.max() and (r - 4) ** 2 + (c - 4) ** 2 > 4.0:
            ref.add((r, c))
    assert got == ref


# --------------------------------------------------------------------------- the model, hand-worked
RED, BLUE, GREEN, GREY = (200, 30, 30), (30, 30, 200), (30, 200, 30), (120, 120, 120)


def _scene(obj=RED, bg=BLUE, h=60, w=80, box=(30, 20, 20, 20)):
    img = np.empty((h, w, 3), np.uint8)
    img[:] = bg
    x, y, bw, bh = box
    img[y:y + bh, x:x + bw] = obj
    return img


def test_likelihood_object_against_surroundings():
    p = 0.001
    m = ColourModel(_cfg(prior=p))
    m.initialize(_scene(), (40.0, 30.0), (20.0, 20.0))
    lik = m.likelihood(np.array([[RED, BLUE, GREEN]], np.uint8))[0]
    # the object region is all red, the surroundings all blue: (1 + p) / (1 + 0 + 2p) and p / (0 + 1 + 2p)
    assert lik[0] == pytest.approx((1 + p) / (1 + 2 * p))
    assert lik[1] == pytest.approx(p / (1 + 2 * p))
    assert lik[2] == pytest.approx(0.5)  # a colour seen in neither region


def test_update_blends_with_the_learning_rate_and_gates():
    p, lr = 0.001, 0.1
    m = ColourModel(_cfg(prior=p, lr=lr, update_threshold=0.5))
    m.initialize(_scene(), (40.0, 30.0), (20.0, 20.0))
    green = _scene(obj=GREEN)
    assert not m.update(green, (40.0, 30.0), (20.0, 20.0), score=0.4)  # network not confident: no change
    assert m.likelihood(np.array([[GREEN]], np.uint8))[0, 0] == pytest.approx(0.5)
    assert m.update(green, (40.0, 30.0), (20.0, 20.0), score=0.9)
    lik = m.likelihood(np.array([[RED, GREEN]], np.uint8))[0]
    # object histogram (1 - lr)·red + lr·green; the surroundings stay blue
    assert lik[0] == pytest.approx((1 - lr + p) / (1 - lr + 2 * p))
    assert lik[1] == pytest.approx((lr + p) / (lr + 2 * p))
    # an estimate whose colour score disagrees with the map is not learned
    m2 = ColourModel(_cfg(lr=lr, update_agreement=0.8))
    m2.initialize(_scene(), (40.0, 30.0), (20.0, 20.0))
    assert not m2.update(green, (40.0, 30.0), (20.0, 20.0), score=1.0, agreement=0.5)
    # a box wholly outside the frame is not learned either
    assert not m.update(green, (-50.0, -50.0), (20.0, 20.0), score=1.0)


def test_start_box_outside_the_frame_is_neutral_until_seen():
    m = ColourModel(_cfg())
    m.initialize(_scene(), (-40.0, 30.0), (20.0, 20.0))
    assert not m.ready
    np.testing.assert_allclose(m.likelihood(_scene()), 0.5)
    assert m.update(_scene(), (40.0, 30.0), (20.0, 20.0), score=1.0) and m.ready
    assert m.likelihood(np.array([[RED]], np.uint8))[0, 0] > 0.99


def test_distractor_term_separates_a_look_alike_that_the_surroundings_miss():
    p, d = 0.001, 0.5
    # target red at (40, 30); a look-alike of another red far away (outside the 2.5x surroundings)
    img = _scene()
    img[2:18, 66:80] = (210, 60, 60)  # covers the look-alike's whole object region, outside the surroundings
    m = ColourModel(_cfg(prior=p, distractor_weight=d, lr=1.0, bins=8))
    m.initialize(img, (40.0, 30.0), (20.0, 20.0))
    look = np.array([[(210, 60, 60)]], np.uint8)
    assert m.likelihood(look)[0, 0] == pytest.approx(0.5)  # unseen by object and surroundings
    assert m.update(img, (40.0, 30.0), (20.0, 20.0), 1.0, distractors=[(73.0, 10.0)])
    # (1 - d)·0.5 + d·P(object vs distractors) with the look-alike's bin only in the distractor histogram
    assert m.likelihood(look)[0, 0] == pytest.approx((1 - d) * 0.5 + d * p / (1 + 2 * p))


def test_grey_world_normalisation_cancels_a_global_gain():
    rng = np.random.default_rng(3)
    img = (rng.random((60, 80, 3)) * 120 + 40).astype(np.uint8)
    img[20:40, 30:50] = RED
    gain = np.array([0.6, 0.8, 1.3])
    dark = np.clip(np.rint(img * gain), 0, 255).astype(np.uint8)
    m = ColourModel(_cfg(normalise=True, bins=8))
    m.initialize(img, (40.0, 30.0), (20.0, 20.0))
    a = m.likelihood(img)
    m.set_frame(dark)
    b = m.likelihood(dark)
    # the same model scores the re-lit frame like the original, up to rounding at bin edges
    assert np.mean(np.isclose(a, b)) > 0.97
    m_off = ColourModel(_cfg(normalise=False, bins=8))
    m_off.initialize(img, (40.0, 30.0), (20.0, 20.0))
    assert np.mean(np.isclose(m_off.likelihood(img), m_off.likelihood(dark))) < 0.5


def test_score_map_peaks_on_the_target_and_distractor_centres_map_back():
    m = ColourModel(_cfg(distractor_weight=0.5, distractor_ratio=0.5))
    img = _scene()
    m.initialize(img, (40.0, 30.0), (20.0, 20.0))
    xs = ys = np.arange(0.0, 80.0, 4.0)
    sm = m.score_map(img, xs, ys, (20.0, 20.0))
    # the grid point at the square's centre scores the maximum, and every maximum lies inside the square
    assert sm[7, 10] == pytest.approx(sm.max()) and sm.max() > 0.99
    rr, cc = np.nonzero(sm >= sm.max() - 1e-9)
    assert np.all((xs[cc] >= 30) & (xs[cc] < 50) & (ys[rr] >= 20) & (ys[rr] < 40))
    # crop = frame scaled by 2 around (40, 30) with crop centre 50: a peak at crop (90, 10) is frame (60, 10)
    score = np.zeros((5, 5))
    score[2, 2], score[0, 4] = 1.0, 0.8
    cells = np.array([10.0, 30.0, 50.0, 70.0, 90.0])
    got = m.distractor_centres(score, cells, cells, 50.0, (40.0, 30.0), 2.0, (40.0, 30.0), (10.0, 10.0))
    np.testing.assert_allclose(got, [[60.0, 10.0]])
    # and back: frame (60, 10) is crop (90, 10), the cell in row 0, column 4; frame (41, 31) is crop (52, 52)
    assert nearest_cell(cells, cells, 50.0, (40.0, 30.0), 2.0, (60.0, 10.0)) == (0, 4)
    assert nearest_cell(cells, cells, 50.0, (40.0, 30.0), 2.0, (41.0, 31.0)) == (2, 2)


def test_config_rejects_bad_values_and_unknown_keys():
    with pytest.raises(ValueError, match="bins"):
        ColourModelConfig(bins=12).validate()
    with pytest.raises(ValueError, match="surround"):
        ColourModelConfig(surround=1.0).validate()
    with pytest.raises(ConfigError, match="colour"):
        load_tracker_config("siamcar", "tiny", ["track.colour.bogus=1"])


# --------------------------------------------------------------------------- fusion into the trackers
def _moving_square(n=4, h=120, w=160):
    frames = []
    for t in range(n):
        img = np.zeros((h, w, 3), np.uint8)
        img[:] = (40, 90, 40)
        img[40:70, 50 + 3 * t:80 + 3 * t] = (220, 60, 50)
        frames.append(img)
    return frames, np.array([50.0, 40.0, 30.0, 30.0])


def _siamcar(colour: ColourModelConfig):
    from ltr.models.siamcar import SiamCARConfig, SiamCARModelConfig, build_siamcar
    from tracking.tracker.siamcar import SiamCARTracker

    cfg = SiamCARConfig(model=SiamCARModelConfig(backbone_layers=[1, 1, 1, 1], backbone_width=4, neck_channels=16,
                                                 gn_groups=4))
    cfg.track.variant = "paper"
    cfg.track.colour = colour
    torch.manual_seed(0)
    return SiamCARTracker(cfg, build_siamcar(cfg.model).eval())


def _ocean(colour: ColourModelConfig):
    from ltr.models.ocean import OceanModelConfig, OceanNet
    from tracking.tracker.ocean import OceanConfig, OceanTracker

    cfg = OceanConfig()
    cfg.model = OceanModelConfig(backbone_layers=[1, 1, 1], backbone_width=4, channels=8, tower_num=1)
    cfg.track.colour = colour
    torch.manual_seed(0)
    return OceanTracker(cfg, OceanNet(cfg.model).eval())


def _run(tracker, frames, box):
    tracker.debug = True
    tracker.initialize(frames[0], box)
    return [tracker.track(f) for f in frames[1:]]


@pytest.mark.parametrize("make", [_siamcar, _ocean], ids=["siamcar", "ocean"])
def test_fusion_weight_zero_is_the_plain_tracker_and_the_map_is_mixed_in(make):
    frames, box = _moving_square()
    plain = _run(make(ColourModelConfig(enabled=False)), frames, box)
    zero = _run(make(_cfg(weight=0.0)), frames, box)
    for a, b in zip(plain, zero):
        np.testing.assert_allclose(a["box"], b["box"])
    w = 0.4
    fused = _run(make(_cfg(weight=w)), frames, box)
    for out in fused:
        dbg = out["debug"]
        net = dbg["cls_net"]
        mixed = dbg.get("cls_prob", dbg.get("cls"))
        np.testing.assert_allclose(mixed, (1 - w) * net + w * dbg["colour"], rtol=1e-5, atol=1e-6)
    # in the first tracked frame (the crop still around the square; an untrained network may wander later) the
    # colour map reaches 1 on the red square, whose colour only the object region holds
    assert fused[0]["debug"]["colour"].max() > 0.95


@pytest.mark.parametrize("make", [_siamcar, _ocean], ids=["siamcar", "ocean"])
@pytest.mark.parametrize("box", [[-40.0, -30.0, 30.0, 20.0], [158.0, 118.0, 1.0, 1.0], [-100.0, -80.0, 400.0, 300.0]])
def test_fusion_is_robust_to_boxes_outside_or_around_the_frame(make, box):
    frames, _ = _moving_square()
    gray = [f[:, :, 0].copy() for f in frames]
    for fr in (frames, gray):
        for out in _run(make(_cfg(weight=0.5, distractor_weight=0.5)), fr, np.array(box)):
            b = out["box"]
            assert np.all(np.isfinite(b)) and b[2] > 0 and b[3] > 0
