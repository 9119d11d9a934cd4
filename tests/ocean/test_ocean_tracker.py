"""Ocean tracker: spec §7.8 checks by hand, robustness (borders, tiny/huge boxes, grayscale), registration,
weights loading (SOTLab and official layouts) and the debug/timing outputs."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from ltr.admin.config import ConfigError
from ltr.admin.experiment import load_tracker_config
from ltr.admin.registry import TRACKERS
from ltr.models.ocean import OceanModelConfig, OceanNet
from ltr.models.ocean.loader import sotlab_to_official
from tracking.tracker.ocean import OceanConfig, OceanTracker, decode_and_select
from tracking.tracker.siamese_utils import python2round

torch.set_num_threads(1)

SMALL = dict(backbone_layers=[1, 1, 1], backbone_width=4, channels=8, tower_num=1)


def _tracker(**track) -> OceanTracker:
    cfg = OceanConfig()
    cfg.model = OceanModelConfig(**SMALL)
    for k, v in track.items():
        setattr(cfg.track, k, v)
    torch.manual_seed(0)
    return OceanTracker(cfg, OceanNet(cfg.model).eval())


def _p(**kw):
    base = dict(penalty_k=0.062, window_influence=0.38, lr=0.765, online_ratio=0.7, double_size_smoothing=True)
    base.update(kw)
    return SimpleNamespace(**base)


def _reg_for_box(s: int, l: float, t: float, r: float, b: float) -> np.ndarray:
    return np.stack([np.full((s, s), v) for v in (l, t, r, b)]).astype(np.float64)


def test_registration_and_configs():
    meta = TRACKERS.meta("ocean")
    assert meta["config"] is OceanConfig and meta["network"] == "ocean" and meta["actor"] == "ocean"
    cfg, _ = load_tracker_config("ocean", "online")
    assert cfg.track.online and cfg.model.online.enabled
    with pytest.raises(ConfigError, match="online"):
        load_tracker_config("ocean", "default", ["track.online=true"])


def test_score_size_and_search_side_per_instance_size():
    net = OceanNet(OceanModelConfig(**SMALL))
    for x, s in ((255, 25), (271, 27), (287, 29)):
        assert net.score_size(x) == (x - 127) // 8 + 1 + 8 == s


def test_penalty_is_one_for_unchanged_box_and_peak_decoding():
    s = 25
    cls = np.full((s, s), 0.1)
    cls[9, 15] = 0.9
    sz, scale_z = np.array([40.0, 30.0]), 1.5
    # every cell predicts the previous size (in crop px: 60 x 45) centred on itself
    reg = _reg_for_box(s, 30, 22.5, 30, 22.5)
    sel = decode_and_select(cls, reg, np.array([200.0, 100.0]), sz, scale_z, 255, 8, np.zeros((s, s)), _p(window_influence=0.0))
    np.testing.assert_allclose(sel["penalty"], 1.0)
    assert sel["peak"] == (9, 15)
    # centre jumps by the peak's offset from the crop centre (no smoothing): ((15−12)·8, (9−12)·8)/scale_z
    np.testing.assert_allclose(sel["pos"], [200 + 24 / 1.5, 100 - 24 / 1.5])
    # unchanged size stays unchanged
    np.testing.assert_allclose(sel["sz"], sz)


@pytest.mark.parametrize("double", [True, False])
def test_size_update_double_smoothing(double):
    s = 25
    cls = np.zeros((s, s))
    cls[12, 12] = 0.8
    sz, scale_z = np.array([40.0, 40.0]), 2.0
    reg = _reg_for_box(s, 50, 50, 50, 50)  # predicts 100 crop px = 50 frame px
    p = _p(penalty_k=0.1, window_influence=0.0, lr=0.5, double_size_smoothing=double)
    sel = decode_and_select(cls, reg, np.zeros(2), sz, scale_z, 255, 8, np.zeros((s, s)), p)
    # s_c = sz(100,100)/sz(80,80) = 1.25, r_c = 1 -> penalty = exp(−0.25·0.1); λ = penalty·0.8·0.5
    lam = math.exp(-0.025) * 0.8 * 0.5
    assert sel["lr"] == pytest.approx(lam)
    expect = 40 + (lam * lam if double else lam) * (50 - 40)
    np.testing.assert_allclose(sel["sz"], [expect, expect])


def test_window_is_applied_before_argmax():
    s = 25
    cls = np.full((s, s), 0.5)
    cls[0, 0] = 0.6  # a slightly better score at the border loses against the window
    reg = _reg_for_box(s, 20, 20, 20, 20)
    win = np.outer(np.hanning(s), np.hanning(s))
    sel = decode_and_select(cls, reg, np.zeros(2), np.array([40.0, 40.0]), 1.0, 255, 8, win, _p())
    assert sel["peak"] == (12, 12)
    np.testing.assert_allclose(sel["pscore"], sel["penalty"] * cls * 0.62 + win * 0.38)


def test_small_target_switch_and_crop_side(monkeypatch):
    tr = _tracker(small_sz=255, big_sz=287)
    img = np.zeros((400, 500, 3), np.uint8)
    tr.initialize(img, np.array([100, 100, 20, 39.0]))  # 780 / 200000 = 0.0039 < 0.004
    assert tr.search_size == 287 and tr.score_sz == 29 and tr.window.shape == (29, 29)
    tr.initialize(img, np.array([100, 100, 20, 40.0]))  # 0.004: not small
    assert tr.search_size == 255
    seen = {}
    import tracking.tracker.ocean.tracker as mod

    real = mod.get_subwindow

    def spy(image, pos, model_sz, original_sz, avg, corner="pysot", info=None):
        seen.update(model_sz=model_sz, original_sz=original_sz, corner=corner)
        return real(image, pos, model_sz, original_sz, avg, corner=corner, info=info)

    monkeypatch.setattr(mod, "get_subwindow", spy)
    tr.track(img)
    w, h = 20.0, 40.0
    s_z = math.sqrt((w + 30) * (h + 30))
    assert seen == {"model_sz": 255, "original_sz": int(python2round(s_z * 255 / 127)), "corner": "trackit"}


@pytest.mark.parametrize("box", [[-30.0, -20.0, 60, 50], [470, 370, 60, 50], [100, 100, 1, 1], [-100, -100, 900, 700],
                                 [10, 10, 480, 2]])
@pytest.mark.parametrize("gray", [False, True])
def test_robust_to_borders_tiny_huge_boxes_and_gray(box, gray):
    tr = _tracker()
    rng = np.random.default_rng(0)
    img = (rng.random((380, 500) if gray else (380, 500, 3)) * 255).astype(np.uint8)
    tr.initialize(img, np.array(box))
    for _ in range(2):
        out = tr.track(img)
        b = out["box"]
        assert np.all(np.isfinite(b)) and b[0] >= 0 and b[1] >= 0
        # clamps: centre inside the image, size in [10, image size]
        assert 0 <= tr.pos[0] <= 500 and 0 <= tr.pos[1] <= 380
        assert 10 <= tr.sz[0] <= 500 and 10 <= tr.sz[1] <= 380


def test_debug_maps_and_timings():
    tr = _tracker()
    tr.debug = True
    img = (np.random.default_rng(1).random((200, 300, 3)) * 255).astype(np.uint8)
    tr.initialize(img, np.array([100.0, 80.0, 40.0, 30.0]))
    out = tr.track(img)
    assert {"cls", "align", "penalty", "pscore"} <= set(out["debug"])
    assert out["debug"]["pscore"].shape == (25, 25)
    assert {"crop", "backbone", "head", "online", "post"} <= set(tr.timings) and tr.timings["online"] == 0.0
    # without the OA switch the align map is not computed
    tr2 = _tracker(align=False)
    tr2.debug = True
    tr2.initialize(img, np.array([100.0, 80.0, 40.0, 30.0]))
    assert "align" not in tr2.track(img)["debug"]


def test_build_network_loads_sotlab_and_official_weights(tmp_path):
    cfg = OceanConfig()
    cfg.model = OceanModelConfig(**SMALL)
    torch.manual_seed(3)
    src = OceanNet(cfg.model).state_dict()
    torch.save({"net": src, "tracker": "ocean", "epoch": 1}, tmp_path / "sotlab.pth")
    torch.save({"state_dict": {"module." + k: v for k, v in sotlab_to_official(src).items()}}, tmp_path / "official.pth")
    for name in ("sotlab.pth", "official.pth"):
        cfg.weights = str(tmp_path / name)
        net = OceanTracker.build_network(cfg)
        assert not net.training
        for k, v in net.state_dict().items():
            assert torch.equal(v, src[k]), (name, k)
    cfg.weights = str(tmp_path / "missing.pth")
    with pytest.raises(FileNotFoundError, match="run_training.py ocean"):
        OceanTracker.build_network(cfg)


def test_non_finite_network_output_keeps_the_state():
    tr = _tracker()
    img = (np.random.default_rng(2).random((200, 300, 3)) * 255).astype(np.uint8)
    tr.initialize(img, np.array([100.0, 80.0, 40.0, 30.0]))
    with torch.no_grad():
        tr.net.head.bias.fill_(float("inf"))  # every box becomes infinite
    out = tr.track(img)
    np.testing.assert_allclose(out["box"], [100.0, 80.0, 40.0, 30.0])


def test_lost_hold_extension_keeps_state_and_widens_search():
    """SOTLab extension (off in the official configs): a low p_cls keeps the state and searches wider."""
    tr = _tracker(lost_threshold=1.0, lost_search_sz=287)  # every frame counts as lost
    img = (np.random.default_rng(3).random((300, 400, 3)) * 255).astype(np.uint8)
    tr.initialize(img, np.array([150.0, 120.0, 50.0, 40.0]))
    assert tr.search_size == 255
    out = tr.track(img)
    np.testing.assert_allclose(out["box"], [150.0, 120.0, 50.0, 40.0])
    assert tr.lost
    tr.track(img)
    assert tr.search_size == 287 and tr.window.shape == (29, 29)
    with pytest.raises(ConfigError, match="lost_search_sz"):
        load_tracker_config("ocean", "default", ["track.lost_search_sz=100"])


def test_lost_window_influence_applies_only_while_lost():
    """``lost_window_influence`` replaces the cosine-window weight on lost frames only: the decoded map is
    recomputed here from the debug maps (penalty · p_cls mixed with the window at the expected weight)."""
    tr = _tracker(lost_threshold=1.0, lost_search_sz=287, lost_window_influence=0.1)
    tr.debug = True
    img = (np.random.default_rng(4).random((300, 400, 3)) * 255).astype(np.uint8)
    tr.initialize(img, np.array([150.0, 120.0, 50.0, 40.0]))
    for frame in range(3):
        was_lost = tr.lost
        d = tr.track(img)["debug"]
        w = 0.1 if was_lost else 0.38
        # tr.window is the window of the crop this frame used (29×29 once lost)
        expect = d["penalty"] * d["cls"] * (1 - w) + tr.window * w
        np.testing.assert_allclose(d["pscore"], expect, rtol=1e-6, atol=1e-9)
        assert was_lost == (frame > 0)
    with pytest.raises(ConfigError, match="lost_window_influence"):
        load_tracker_config("ocean", "default", ["track.lost_window_influence=1.5"])


def _designed_predict(tr: OceanTracker, peaks, half: float):
    """A stand-in for ``net.predict``: per search crop of the batch, a classification map whose only peak is at
    the centre cell with probability ``peaks[i]`` (logit), and a box of half-side ``half`` crop px at every cell."""
    def predict(xf, search_size, z_enc=None, use_align=True, **_):
        n, s = xf.shape[0], tr.score_sz
        assert n == len(peaks)
        cls = torch.full((n, 1, s, s), -20.0)
        for i, pk in enumerate(peaks):
            cls[i, 0, s // 2, s // 2] = math.log(pk / (1 - pk))
        return {"cls": cls, "reg": torch.full((n, 4, s, s), float(half))}
    return predict


@pytest.mark.parametrize("crop", ["exact", "official"])
@pytest.mark.parametrize("scale_penalty, expect_q", [(1.0, 1.25), (0.5, 1.0)])
def test_scale_pyramid_takes_the_box_of_the_best_scale(scale_penalty, expect_q, crop):
    """SOTLab's scale search (``track.scale_step``), worked by hand: the crops are (1, 1/q, q)·s_x; the one whose
    penalised peak is highest (× ``scale_penalty`` off the unit scale) decodes the box at its own crop scale."""
    q, d = 1.25, 30.0
    tr = _tracker(scale_step=q, scale_penalty=scale_penalty, crop=crop, align=False, penalty_k=0.0,
                  window_influence=0.0)
    tr.debug = True
    img = (np.random.default_rng(5).random((400, 500, 3)) * 255).astype(np.uint8)
    tr.initialize(img, np.array([230.0, 180.0, 40.0, 40.0]))  # centre (250, 200), size 40
    peaks = (0.6, 0.3, 0.9)  # scales 1, 1/q, q
    tr.net.predict = _designed_predict(tr, peaks, d)
    out = tr.track(img)
    # by hand: s_z = sqrt(80·80) = 80 (context 0.5), scale_z = 127/80, s_x = 80 + 128/scale_z; the exact crop of
    # side s_x·q maps 254/(s_x·q) crop px to a frame px, TracKit's crop (rounded side) keeps scale_z/q; either
    # way the centre cell sits on the previous centre
    s_x = 80.0 + 128.0 / (127.0 / 80.0)
    pk = peaks[(1.0, 1 / q, q).index(expect_q)]
    pred = 2 * d * (s_x * expect_q / 254.0 if crop == "exact" else expect_q * 80.0 / 127.0)
    lam = pk * 0.765  # penalty 1 (penalty_k 0); TracKit's double smoothing → λ² on the prediction
    side = 40.0 * (1 - lam ** 2) + lam ** 2 * pred
    # (the peak probability passes through a float32 sigmoid)
    np.testing.assert_allclose(out["box"], [250 - side / 2, 200 - side / 2, side, side], rtol=1e-6)
    assert out["debug"]["scale"] == expect_q and out["score"] == pytest.approx(pk, rel=1e-6)


def test_scale_pyramid_batch_matches_single_crops_and_is_off_while_held():
    """The batched forward with the template encodings expanded gives each crop's own single-crop output; while
    the target is held (``lost_threshold``) only the plain crop is searched. The shipped tiny model: an untrained
    network's boxes overflow ``exp``, so the deformable offsets of two equal forwards can differ by a clamp."""
    cfg, _ = load_tracker_config("ocean", "tiny", ["track.scale_step=1.1"])
    tr = OceanTracker(cfg, OceanTracker.build_network(cfg))
    img = (np.random.default_rng(6).random((300, 400, 3)) * 255).astype(np.uint8)
    tr.initialize(img, np.array([150.0, 120.0, 50.0, 40.0]))
    x = torch.rand(3, 3, 191, 191) * 255
    with torch.inference_mode():
        both = tr.net.predict(tr.net.extract(x), 191, z_enc=tr._template_enc(3))
        for i in range(3):
            one = tr.net.predict(tr.net.extract(x[i:i + 1]), 191, z_enc=tr._template_enc(1))
            for k in ("cls", "reg", "align"):
                torch.testing.assert_close(both[k][i:i + 1], one[k], rtol=1e-4, atol=1e-4)
    assert tr._search_scales() == (1.0, 1 / 1.1, 1.1)
    tr.debug = True
    assert tr.track(img)["debug"]["scale"] in (1.0, 1 / 1.1, 1.1)
    tr.bare_forward()  # the benchmark's bare forward runs the same batch
    held = _tracker(scale_step=1.1, lost_threshold=1.0)
    held.initialize(img, np.array([150.0, 120.0, 50.0, 40.0]))
    held.track(img)
    assert held.lost and held._search_scales() == (1.0,)
    for bad in ("track.scale_step=0.9", "track.scale_step=1.0", "track.scale_penalty=0"):
        with pytest.raises(ConfigError, match=bad.split("=")[0].split(".")[1]):
            load_tracker_config("ocean", "default", [bad])
