"""Label generators against brute-force loops over the grid and the spec's worked examples."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ltr.data import labels as L


def _boxes():
    return torch.tensor([[96.0, 96.0, 64.0, 64.0], [40.3, 100.2, 120.5, 30.7], [150.0, 20.0, 10.0, 90.0]])


def _loop_points(n, stride, offset):
    return [(offset + stride * j, offset + stride * i) for i in range(n) for j in range(n)]


def test_grid_points_row_major():
    p = L.grid_points(25, 8, 32)
    ref = _loop_points(25, 8, 32)
    assert p.shape == (625, 2)
    assert np.allclose(p.numpy(), np.array(ref))
    assert tuple(p[12 * 25 + 12].tolist()) == (128.0, 128.0)  # SiamCAR: centre cell 12 -> 128


def test_ltrb_inside_central_centerness_vs_loops():
    pts = L.grid_points(25, 8, 32)
    boxes = _boxes()
    ltrb = L.ltrb_targets(pts, boxes)
    inside = L.inside_box_mask(ltrb)
    central = L.central_region_mask(ltrb, 0.2)
    cen = L.centerness_targets(ltrb)
    for b in range(boxes.shape[0]):
        x0, y0, w, h = boxes[b].tolist()
        x1, y1 = x0 + w, y0 + h
        for p, (x, y) in enumerate(_loop_points(25, 8, 32)):
            l, t, r, bb = x - x0, y - y0, x1 - x, y1 - y
            assert np.allclose(ltrb[b, p].numpy(), [l, t, r, bb], atol=1e-4)
            assert bool(inside[b, p]) == (min(l, t, r, bb) > 0)
            cx, cy = x0 + w / 2, y0 + h / 2
            # independent form of the same rule: |x - cx| < 0.2 w and |y - cy| < 0.2 h
            exp_c = abs(x - cx) < 0.2 * w - 1e-9 and abs(y - cy) < 0.2 * h - 1e-9
            if abs(abs(x - cx) - 0.2 * w) > 1e-4 and abs(abs(y - cy) - 0.2 * h) > 1e-4:
                assert bool(central[b, p]) == exp_c
            if min(l, t, r, bb) > 0:
                ref = math.sqrt(min(l, r) / max(l, r) * min(t, bb) / max(t, bb))
                assert abs(float(cen[b, p]) - ref) < 1e-5
            else:
                assert float(cen[b, p]) == 0.0


def test_siamcar_spec_example_9_vs_64_positives():
    # spec 3.2: a 64x64 GT box centred at 127.5 gives 9 positives (code rule) vs 64 (paper rule)
    pts = L.grid_points(25, 8, 32)
    box = torch.tensor([[127.5 - 32, 127.5 - 32, 64.0, 64.0]])
    ltrb = L.ltrb_targets(pts, box)
    assert int(L.central_region_mask(ltrb, 0.2).sum()) == 9
    assert int(L.inside_box_mask(ltrb).sum()) == 64
    # centerness under the code rule lies in [0.4286, 1]
    c = L.centerness_targets(ltrb)[L.central_region_mask(ltrb, 0.2)]
    assert float(c.min()) >= 0.4285


def test_ellipse_diamond_distance_vs_loops():
    pts = L.grid_points(17, 8, 0)
    boxes = _boxes()
    el = L.ellipse_label(pts, boxes, 0.5, 1.0)
    for b in range(boxes.shape[0]):
        x0, y0, w, h = boxes[b].tolist()
        cx, cy = x0 + w / 2, y0 + h / 2
        for p, (x, y) in enumerate(_loop_points(17, 8, 0)):
            d = ((x - cx) / (w / 2)) ** 2 + ((y - cy) / (h / 2)) ** 2
            exp = 1.0 if d < 0.25 else (0.0 if d > 1.0 else -1.0)
            assert float(el[b, p]) == exp
    centers = torch.tensor([[12.0, 12.0], [10.0, 14.0], [0.0, 24.0]])
    dm = L.diamond_label(25, centers, 2)
    for b in range(3):
        cj, ci = centers[b].tolist()
        ref = np.array([[1.0 if abs(i - ci) + abs(j - cj) <= 2 else 0.0 for j in range(25)] for i in range(25)])
        assert np.array_equal(dm[b].numpy(), ref)
    assert int(dm[0].sum()) == 13  # Ocean: 13-cell diamond
    cxy = torch.tensor([[100.0, 90.0]])
    dl = L.distance_label(pts, cxy, 16.0)
    ref = [1.0 if (x - 100) ** 2 + (y - 90) ** 2 <= 256 else 0.0 for x, y in _loop_points(17, 8, 0)]
    assert np.array_equal(dl[0].numpy(), np.array(ref))


def test_gaussian_label_vs_formula():
    c = torch.tensor([[3.3, 7.1], [0.0, 0.0]])
    g = L.gaussian_label((9, 11), c, torch.tensor([1.5, 0.7]))
    for b, s in enumerate([1.5, 0.7]):
        for i in range(9):
            for j in range(11):
                ref = math.exp(-((j - c[b, 0].item()) ** 2 + (i - c[b, 1].item()) ** 2) / (2 * s * s))
                assert abs(float(g[b, i, j]) - ref) < 1e-6


@pytest.mark.parametrize("feat,sigma_factor,size,peak,sigma", [(18, 0.25 / 5, 19, 9, 0.9), (72, 1 / 40, 73, 36, 1.8)])
def test_dimp_gaussian_fcot_spec(feat, sigma_factor, size, peak, sigma):
    # FCOT spec 4.3: target at the crop centre peaks at index 9 of 19 (branch 18) / 36 of 73 (branch 72)
    box = torch.tensor([[144.0 - 20, 144.0 - 30, 40.0, 60.0]])
    g = L.dimp_gaussian_label(box, sigma_factor, 4, feat, 288)
    assert g.shape == (1, size, size)
    i, j = np.unravel_index(int(g[0].argmax()), (size, size))
    assert (i, j) == (peak, peak)
    # independent: centre in cell coords is 0.5 (even kernel), cells at k - (F-1)/2
    ks = np.arange(size) - (feat - 1) / 2
    ref = np.exp(-((ks[None] - 0.5) ** 2 + (ks[:, None] - 0.5) ** 2) / (2 * sigma ** 2))
    assert np.allclose(g[0].numpy(), ref, atol=1e-6)


def _iou_loop(a, b):
    ax0, ay0, ax1, ay1 = a[0], a[1], a[0] + a[2], a[1] + a[3]
    bx0, by0, bx1, by1 = b[0], b[1], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax1, bx1) - max(ax0, bx0))
    ih = max(0.0, min(ay1, by1) - max(ay0, by0))
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def test_box_iou_and_anchors_vs_loops():
    pts = L.grid_points(5, 8, 16)
    wh = torch.tensor([[16.0, 16.0], [32.0, 16.0]])
    anc = L.anchor_boxes(pts, wh)
    assert anc.shape == (50, 4)
    for k in range(2):
        for p in range(25):
            x, y = pts[p].tolist()
            assert np.allclose(anc[k * 25 + p].numpy(), [x - wh[k, 0] / 2, y - wh[k, 1] / 2, wh[k, 0], wh[k, 1]])
    boxes = torch.tensor([[20.0, 22.0, 30.0, 18.0], [40.0, 10.0, 12.0, 40.0]])
    iou = L.box_iou(anc[None], boxes[:, None])
    for b in range(2):
        for a in range(50):
            assert abs(float(iou[b, a]) - _iou_loop(anc[a].tolist(), boxes[b].tolist())) < 1e-6


def test_atss_and_iou_threshold_vs_loops():
    pts = L.grid_points(9, 8, 4)
    anc = L.anchor_boxes(pts, torch.tensor([[16.0, 16.0], [24.0, 12.0], [12.0, 24.0]]))
    boxes = torch.tensor([[20.0, 22.0, 26.0, 18.0], [40.0, 10.0, 12.0, 30.0]])
    lab, iou = L.atss_label(anc, boxes, topk=11, candidates="iou")
    for b in range(2):
        ious = [(_iou_loop(anc[a].tolist(), boxes[b].tolist()), a) for a in range(anc.shape[0])]
        top = sorted(ious, key=lambda t: -t[0])[:11]
        vals = np.array([t[0] for t in top])
        thr = vals.mean() + vals.std(ddof=1)
        x0, y0, w, h = boxes[b].tolist()
        exp = set()
        for v, a in top:
            ax, ay = anc[a, 0].item() + anc[a, 2].item() / 2, anc[a, 1].item() + anc[a, 3].item() / 2
            if v >= thr - 1e-7 and x0 < ax < x0 + w and y0 < ay < y0 + h:
                exp.add(a)
        assert set(torch.nonzero(lab[b]).flatten().tolist()) == exp
        assert len(exp) >= 1
    lab2 = L.iou_threshold_label(anc, boxes, 0.6, 0.3)
    for b in range(2):
        ious = np.array([_iou_loop(anc[a].tolist(), boxes[b].tolist()) for a in range(anc.shape[0])])
        exp = np.where(ious > 0.6, 1.0, np.where(ious < 0.3, 0.0, -1.0))
        exp[ious.argmax()] = 1.0
        assert np.array_equal(lab2[b].numpy(), exp)


def test_proposals_min_iou_and_gmm_density():
    rng = np.random.default_rng(0)
    box = np.array([50.0, 40.0, 30.0, 20.0])
    props, ious = L.perturb_boxes_min_iou(box, 16, 0.1, [0.01, 0.05, 0.1, 0.2, 0.3], rng)
    assert props.shape == (16, 4)
    ref = np.array([_iou_loop(p.tolist(), box.tolist()) for p in props])
    assert np.allclose(ious, ref) and (ref > 0.1).all()
    assert (props[:, 2:] > 0).all()
    sig = [(0.05, 0.05), (0.5, 0.5)]
    props, dens = L.sample_box_gmm(box, sig, 64, np.random.default_rng(1))
    # density recomputed from the proposals themselves (inverse of the parametrisation)
    for p, d in zip(props, dens):
        z = np.array([(p[0] + p[2] / 2 - 65.0) / 30.0, (p[1] + p[3] / 2 - 50.0) / 20.0, math.log(p[2] / 30), math.log(p[3] / 20)])
        ref = np.mean([np.prod([math.exp(-0.5 * (zi / s) ** 2) / (math.sqrt(2 * math.pi) * s) for zi in z])
                       for s, _ in sig])
        assert abs(d - ref) < 1e-6 * max(1.0, ref)
