"""Ocean online branch (ocean.md §3): structure, DiMP classifier pieces vs independent computations,
DiMP sample cropping, localisation flags, memory/update schedule, fusion, official classifier keys."""
from __future__ import annotations

import math
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch

from ltr.models.layers.dimp_filter import DiMPSteepestDescent, DistanceMap, InstanceL2Norm, apply_filter
from ltr.models.ocean import OceanModelConfig, OceanNet, OceanOnlineNetConfig
from ltr.models.ocean.loader import load_official_checkpoint, sotlab_to_official
from tracking.tracker.ocean import OceanConfig, OceanTracker, decode_and_select
from tracking.tracker.ocean.config import OceanOnlineTrackConfig
from tracking.tracker.ocean.online import OceanOnlineTracker, crop_to_output, sample_patch

torch.set_num_threads(1)


def _count(m):
    return sum(p.numel() for p in m.parameters())


def _small_online_cfg(**kw) -> OceanModelConfig:
    return OceanModelConfig(backbone_layers=[1, 1, 1], backbone_width=4, channels=8, tower_num=1,
                            online=OceanOnlineNetConfig(enabled=True, layer_blocks=1, feature_dim=16, **kw))


def test_online_parameter_counts_and_official_layout(tmp_path):
    torch.manual_seed(0)
    net = OceanNet(OceanModelConfig(online=OceanOnlineNetConfig(enabled=True)))
    assert _count(net.online.layer) == 11_292_672
    assert _count(net.online.classifier) == 7_078_702
    assert _count(net.online.classifier.filter_optimizer) == 302
    assert _count(net.online.classifier.feature_extractor) == 4_718_592
    assert _count(net.online.classifier.filter_initializer) == 2_359_808
    # the backbone is shared, not duplicated
    assert not any(k.startswith("online.backbone") for k in net.state_dict())
    # a Siamese checkpoint with layeronline + a separate ONLINEnet50 classifier checkpoint, both official layout
    src = net.state_dict()
    official = sotlab_to_official(src)
    siam = {k: v for k, v in official.items() if not k.startswith("classifier.")}
    clf = {k: v for k, v in official.items() if k.startswith("classifier.")}
    assert "features.features.layeronline.0.downsample.0.weight" in siam
    assert clf["classifier.filter_optimizer.log_step_length"].shape == (1,)
    assert "classifier.filter_optimizer.target_mask_predictor.0.weight" in clf
    torch.save({"state_dict": clf}, tmp_path / "online.pth")
    other = OceanNet(OceanModelConfig(online=OceanOnlineNetConfig(enabled=True)))
    assert load_official_checkpoint(other, siam, tmp_path / "online.pth") == {"missing": [], "unused": []}
    for k, v in other.state_dict().items():
        assert torch.equal(v, src[k]), k


def test_online_feature_and_score_sizes():
    torch.manual_seed(1)
    net = OceanNet(_small_online_cfg()).eval()
    with torch.no_grad():
        f = net.online.extract_backbone(torch.rand(2, 3, 224, 224) * 255)
        assert f.shape[-2:] == (13, 13)
        x = net.online.classification_features(f)
        filt = torch.randn(1, x.shape[1], 4, 4)
        s = net.online.classifier.classify(filt, x.unsqueeze(1))
    assert s.shape == (2, 1, 14, 14)
    # the online path normalises RGB/255 with ImageNet statistics
    img = torch.full((1, 3, 2, 2), 255.0)
    np.testing.assert_allclose(net.online.preprocess(img)[0, :, 0, 0].numpy(),
                               (1 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225]), rtol=1e-6)


def test_instance_l2_norm_and_apply_filter():
    x = torch.randn(3, 5, 4, 4, dtype=torch.float64)
    y = InstanceL2Norm(scale=0.5, eps=0)(x)
    for i in range(3):  # ‖y_i‖² = scale²·C·H·W
        assert float((y[i] ** 2).sum()) == pytest.approx(0.25 * 80)
    feat = torch.randn(2, 3, 4, 6, 6, dtype=torch.float64)
    filt = torch.randn(3, 4, 4, 4, dtype=torch.float64)
    s = apply_filter(feat, filt)
    assert s.shape == (2, 3, 7, 7)
    fp = torch.nn.functional.pad(feat, (2, 2, 2, 2))
    for i in range(2):
        for q in range(3):
            for r in range(7):
                for c in range(7):
                    ref = (fp[i, q, :, r:r + 4, c:c + 4] * filt[q]).sum()
                    assert float(s[i, q, r, c]) == pytest.approx(float(ref))


def test_distance_map_bins():
    dm = DistanceMap(num_bins=5, bin_displacement=0.5)
    center = torch.tensor([[2.3, 1.6]])
    out = dm(center, (4, 5))
    for r in range(4):
        for c in range(5):
            d = math.hypot(r - 2.3, c - 1.6) / 0.5
            for k in range(5):
                ref = max(0.0, 1 - abs(d - k)) if k < 4 else min(1.0, max(0.0, 1 + d - k))
                assert float(out[0, k, r, c]) == pytest.approx(ref, abs=1e-6)


def test_steepest_descent_step_equals_closed_form():
    """One iteration from f0 equals f0 − e^ℓ·α·g with g = Jᵀr + λ²f0, α = ‖g‖²/(‖Jg‖² + λ²‖g‖²), per sequence,
    computed with an explicit Jacobian (linear score activation → quadratic objective)."""
    torch.manual_seed(2)
    opt = DiMPSteepestDescent(num_iter=1, feat_stride=16, init_step_length=0.9, init_filter_reg=0.3,
                              num_dist_bins=6, bin_displacement=0.5, score_act="linear").double()
    feat = torch.randn(3, 2, 4, 5, 5, dtype=torch.float64)  # 3 images, 2 sequences
    bb = torch.tensor([[[20.0, 24.0, 30.0, 20.0], [40.0, 10.0, 16.0, 30.0]]] * 3, dtype=torch.float64)
    sw = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    f0 = torch.randn(2, 4, 4, 4, dtype=torch.float64)
    with torch.no_grad():
        f1, iters, _ = opt(f0, feat, bb, sample_weight=sw)
    label, mask, w = opt.residual_terms(bb, feat.shape, (4, 4), sw)
    lam2 = 0.3 ** 2
    for q in range(2):
        def res(f):
            return (w[:, q] * (apply_filter(feat[:, q:q + 1], f.unsqueeze(0))[:, 0] - label[:, q])).reshape(-1)

        J = torch.autograd.functional.jacobian(res, f0[q]).reshape(-1, f0[q].numel())
        r = res(f0[q])
        g = J.T @ r + lam2 * f0[q].reshape(-1)
        alpha = (g @ g) / ((J @ g) @ (J @ g) + lam2 * (g @ g))
        ref = f0[q].reshape(-1) - 0.9 * alpha * g
        torch.testing.assert_close(f1[q].reshape(-1), ref)
    assert len(iters) == 2 and torch.equal(iters[0], f0)


def test_classifier_iterations_lower_the_objective():
    torch.manual_seed(3)
    net = OceanNet(_small_online_cfg(optim_iter=5)).eval()
    clf = net.online.classifier
    feat = torch.randn(6, 1, 16, 13, 13)
    bb = torch.tensor([[80.0, 90.0, 60.0, 40.0]]).repeat(6, 1).unsqueeze(1)
    with torch.no_grad():
        _, _, losses = clf.get_filter(feat, bb, num_iter=5, compute_losses=True)
    vals = [float(v) for v in losses]
    assert all(b <= a + 1e-6 for a, b in zip(vals, vals[1:])) and vals[-1] < vals[0]


# ------------------------------------------------------------------ DiMP sample cropping

def test_sample_patch_replicates_border_and_coords():
    g = torch.Generator().manual_seed(4)
    im = torch.rand(1, 3, 20, 30, generator=g)
    patch, coords = sample_patch(im, torch.tensor([3.7, 27.2]), torch.tensor([9.0, 9.0]), None)
    # pos.long() = (3, 27); tl = pos − 4, br = pos + 5 -> rows −1..7, cols 23..31, clamped (replicate)
    ref = np.pad(im[0].numpy(), ((0, 0), (5, 5), (5, 5)), mode="edge")[:, -1 + 5:8 + 5, 23 + 5:32 + 5]
    np.testing.assert_array_equal(patch[0].numpy(), ref)
    assert coords.tolist() == [[-1, 23, 8, 32]]
    # resizing = bilinear with half-pixel centres, like cv2.INTER_LINEAR when enlarging
    patch2, _ = sample_patch(im, torch.tensor([10.0, 15.0]), torch.tensor([8.0, 8.0]), (20, 20))
    src = im[0, :, 7:15, 12:20].permute(1, 2, 0).numpy()  # tl = pos − (8 − 1)//2, br = pos + 8//2 + 1
    np.testing.assert_allclose(patch2[0].permute(1, 2, 0).numpy(), cv2.resize(src, (20, 20)), atol=1e-5)


def test_crop_to_output_shift_moves_content():
    im = torch.arange(16 * 16, dtype=torch.float32).view(1, 1, 16, 16)
    out = crop_to_output(im, (8, 8), (2, -3))
    # centre window rows 4..11, cols 4..11; a shift (dy, dx) moves the content by (+dy, +dx) in the output
    np.testing.assert_array_equal(out[0, 0].numpy(), im[0, 0, 2:10, 7:15].numpy())


# ------------------------------------------------------------------ localisation flags and memory schedule

def test_localisation_flags():
    tr = OceanOnlineTracker(OceanNet(_small_online_cfg()).eval(), OceanOnlineTrackConfig())
    tr.target_sz = torch.tensor([40.0, 40.0])
    tr.sample_scale = 1.0
    tr.feature_sz = torch.tensor([13.0, 13.0])
    tr.img_sample_sz = torch.tensor([224.0, 224.0])
    s = torch.zeros(14, 14)
    s[7, 7] = 1.0
    assert tr._localize(s) == "normal"
    s2 = s.clone()
    s2[1, 1] = 0.6  # a second peak outside the target neighbourhood, > 0.45 · max
    assert tr._localize(s2) == "hard_negative"
    s3 = s.clone()
    s3[1, 1] = 0.3
    assert tr._localize(s3) == "normal"
    assert tr._localize(s - 2.0) == "not_found"  # max below the 0.0 threshold


def test_memory_and_optimisation_schedule(monkeypatch):
    torch.manual_seed(5)
    net = OceanNet(_small_online_cfg()).eval()
    p = OceanOnlineTrackConfig(sample_memory_size=60, net_opt_iter=2)
    tr = OceanOnlineTracker(net, p)
    img = (np.random.default_rng(0).random((120, 160, 3)) * 255).astype(np.uint8)
    tr.initialize(img, np.array([80.0, 60.0]), np.array([30.0, 24.0]))
    assert tr.memory.num_stored == 30  # 23 augmented crops + 7 dropout copies
    np.testing.assert_allclose(tr.memory.weights.numpy(), np.full(30, 1 / 30), rtol=1e-6)
    calls = []
    real = net.online.classifier.filter_optimizer.forward

    def spy(*a, **kw):
        calls.append(kw.get("num_iter"))
        return real(*a, **kw)

    monkeypatch.setattr(net.online.classifier.filter_optimizer, "forward", spy)
    flags = {2: "normal", 3: "uncertain", 4: "not_found", 5: "hard_negative", 11: "normal", 12: "normal"}
    stored = 30
    for frame in range(2, 13):
        tr.score(img)
        tr.flag = flags.get(frame, "normal")
        tr.update(img, np.array([80.0, 60.0]), np.array([30.0, 24.0]), frame)
        if tr.flag not in ("not_found", "uncertain"):
            stored += 1
        assert tr.memory.num_stored == stored
    # optimise on the hard negative (frame 5) and when (frame − 1) % 10 == 0 (frame 11), 3 iterations each
    assert calls == [3, 3]
    # weights by the DiMP rule, by hand: first insert divides the old weights by (1 − lr) and gets lr,
    # later ones get (previous sample's weight)/(1 − lr); renormalise each time
    ref = [1 / 30] * 30
    for frame in range(2, 13):
        f = flags.get(frame, "normal")
        if f in ("not_found", "uncertain"):
            continue
        lr = 0.02 if f == "hard_negative" else 0.0075
        if len(ref) == 30:
            ref = [v / (1 - lr) for v in ref] + [lr]
        else:
            ref = ref + [ref[-1] / (1 - lr)]
        tot = sum(ref)
        ref = [v / tot for v in ref]
    np.testing.assert_allclose(tr.memory.weights.numpy(), ref, rtol=1e-5)


# ------------------------------------------------------------------ fusion (§3.3, §7.8)

def test_online_fusion_bicubic_after_window():
    s = 25
    g = np.random.default_rng(6)
    cls = g.random((s, s)).astype(np.float32)
    reg = (g.random((4, s, s)) * 20 + 20).astype(np.float32)
    online = g.standard_normal((14, 14)).astype(np.float32)
    online[2, 11] = 8.0
    p = SimpleNamespace(penalty_k=0.06, window_influence=0.4, lr=0.7, online_ratio=0.7, double_size_smoothing=True)
    window = np.outer(np.hanning(s), np.hanning(s))
    pos, sz = np.array([100.0, 80.0]), np.array([40.0, 40.0])
    sel = decode_and_select(cls, reg, pos, sz, 1.2, 255, 8, window, p, online_score=online)
    base = decode_and_select(cls, reg, pos, sz, 1.2, 255, 8, window, p)
    o = cv2.resize(online, (s, s), interpolation=cv2.INTER_CUBIC)
    np.testing.assert_allclose(sel["pscore"], 0.7 * o + 0.3 * base["pscore"], rtol=1e-6)
    assert sel["peak"] == np.unravel_index(np.argmax(0.7 * o + 0.3 * base["pscore"]), (s, s))
    # λ still uses the offline p_cls (not the fused map)
    r, c = sel["peak"]
    assert sel["lr"] == pytest.approx(sel["penalty"][r, c] * cls[r, c] * 0.7)


@pytest.mark.parametrize("fusion", ["resize", "aligned"])
def test_online_tracker_end_to_end_small_net(fusion):
    torch.manual_seed(7)
    cfg = OceanConfig()
    cfg.model = _small_online_cfg()
    cfg.track.online, cfg.track.align = True, False
    cfg.track.online_fusion = fusion
    cfg.track.online_params.net_opt_iter = 3
    net = OceanNet(cfg.model).eval()
    tr = OceanTracker(cfg, net)
    rng = np.random.default_rng(1)
    img = (rng.random((120, 160, 3)) * 255).astype(np.uint8)
    tr.initialize(img, np.array([60.0, 40.0, 30.0, 24.0]))
    tr.debug = True
    for _ in range(3):
        out = tr.track(img)
        # resize hands the raw map to the fusion; aligned samples it onto the Siamese grid first
        want = (14, 14) if fusion == "resize" else out["debug"]["cls"].shape
        assert np.all(np.isfinite(out["box"])) and out["debug"]["online"].shape == want
        assert set(tr.timings) >= {"crop", "backbone", "head", "online", "post"}


def _scored_online_tracker():
    """An online state after one real ``score`` call on a small net (sample geometry from the actual crop)."""
    torch.manual_seed(3)
    tr = OceanOnlineTracker(OceanNet(_small_online_cfg()).eval(), OceanOnlineTrackConfig())
    img = (np.random.default_rng(2).random((240, 320, 3)) * 255).astype(np.uint8)
    tr.initialize(img, np.array([150.0, 110.0]), np.array([36.0, 30.0]))
    tr.score(img)
    return tr


def test_online_map_at_follows_dimp_localisation():
    tr = _scored_online_tracker()
    n = tr.scores.shape[0]
    # DiMP's rule (pytracking localize_target), written out: image position of cell k is the sample centre
    # (the middle of the crop's pixel coords) + (k - (n - 1)/2) * (224 / feature cells) * sample scale
    pitch = 224.0 / float(tr.feature_sz[0]) * tr.sample_scale
    cy, cx = float(tr.sample_pos[0]), float(tr.sample_pos[1])
    one_hot = np.zeros((n, n), dtype=np.float32)
    one_hot[3, 9] = 1.0
    tr.scores = one_hot
    y, x = cy + (3 - (n - 1) / 2) * pitch, cx + (9 - (n - 1) / 2) * pitch
    got = tr.map_at(np.array([y, y + pitch]), np.array([x, x - pitch / 2]))  # rows × columns
    np.testing.assert_allclose(got[:, 0], [1.0, 0.0], atol=1e-6)  # the peak; one pitch below it
    assert got[0, 1] == pytest.approx(0.5)  # half a pitch to the left: bilinear halfway
    # an affine map is reproduced exactly anywhere inside; beyond the map the border value is kept
    r, c = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    tr.scores = (0.5 * r - 0.25 * c + 2.0).astype(np.float32)
    ys = cy + np.array([-40.3, 0.0, 17.7])
    xs = cx + np.array([-5.0, 33.1])
    want = 0.5 * ((ys - cy) / pitch + (n - 1) / 2)[:, None] - 0.25 * ((xs - cx) / pitch + (n - 1) / 2)[None, :] + 2.0
    np.testing.assert_allclose(tr.map_at(ys, xs), want, rtol=1e-6)
    far = tr.map_at(np.array([cy - 1e4]), np.array([cx + 1e4]))
    assert far[0, 0] == pytest.approx(0.5 * 0 - 0.25 * (n - 1) + 2.0)


def test_aligned_fusion_puts_online_evidence_where_it_was_seen():
    """TracKit's resize squeezes the online map (4·sqrt(w0·h0) wide) onto the narrower Siamese grid, so an
    online peak seen d px from the centre lands near 2/3·d; the aligned fusion reads it at d."""
    tr = _scored_online_tracker()
    n = tr.scores.shape[0]
    pitch = 224.0 / float(tr.feature_sz[0]) * tr.sample_scale
    cy, cx = float(tr.sample_pos[0]), float(tr.sample_pos[1])
    k = (n - 1) // 2 + 3
    tr.scores = np.zeros((n, n), dtype=np.float32)
    tr.scores[(n - 1) // 2, k] = 1.0
    d = (k - (n - 1) / 2) * pitch  # image px right of the sample centre
    # the tiny config's Siamese grid (17 cells, stride 8, 191 crop from a 95 template) for the same
    # 36×30 target: scale_z = 95 / sqrt((w + p)(h + p)), p = (w + h)/2
    p = 0.5 * (36 + 30)
    s, scale_z = 17, 95 / math.sqrt((36 + p) * (30 + p))
    cells = 8.0 * (np.arange(s) - s // 2) + 95
    xs = cx + (cells - 95) / scale_z
    ys = cy + (cells - 95) / scale_z
    aligned = tr.map_at(ys, xs)
    col_aligned = int(np.argmax(aligned.max(axis=0)))
    assert abs(xs[col_aligned] - (cx + d)) <= 4.0  # within half a Siamese cell of where it was seen
    resized = cv2.resize(tr.scores, (s, s), interpolation=cv2.INTER_CUBIC)
    col_resized = int(np.argmax(resized.max(axis=0)))
    assert xs[col_resized] - cx < 0.8 * d  # the official resize pulls it towards the centre
