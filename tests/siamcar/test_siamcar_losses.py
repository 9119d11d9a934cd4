"""SiamCAR labels and losses against the hand-worked values of siamcar.md §7.6–7.9."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ltr.actors.siamcar import SiamCARActor, siamcar_targets, training_grid_offset
from ltr.admin.experiment import load_tracker_config
from ltr.data.labels import grid_points
from ltr.models.loss.classification import balanced_cross_entropy, hard_negative_cross_entropy, masked_bce_with_logits
from ltr.models.loss.iou import iou_loss
from ltr.models.siamcar import SiamCARConfig

BOX = torch.tensor([[95.5, 95.5, 64.0, 64.0]])  # x1y1x2y2 (95.5, 95.5, 159.5, 159.5)


def test_training_grid():
    assert training_grid_offset(255, 25, 8) == 32.0
    pts = grid_points(25, 8, 32)
    # cell (i, j) -> (32 + 8j, 32 + 8i); centre cell 12 -> 128 (inference: 127, one px apart)
    assert pts[5 * 25 + 7].tolist() == [32 + 8 * 7, 32 + 8 * 5]
    assert pts[12 * 25 + 12].tolist() == [128, 128]


def test_official_rule_gives_nine_positives_paper_rule_64():
    t = siamcar_targets(BOX, 25, 8, 32.0, "official")
    rows, cols = np.nonzero(t["labels"][0].numpy())
    assert len(rows) == 9 and set(rows) == {11, 12, 13} and set(cols) == {11, 12, 13}
    assert int(siamcar_targets(BOX, 25, 8, 32.0, "paper")["labels"].sum()) == 64
    cen = t["centerness"][t["pos"]]
    # hand-worked: (136,136): l=40.5, r=23.5 -> 23.5/40.5 = 0.5802; (128,128): 31.5/32.5 = 0.9692
    assert float(cen.min()) == pytest.approx(23.5 / 40.5, abs=1e-4)
    assert float(cen.max()) == pytest.approx(31.5 / 32.5, abs=1e-4)
    # official positives always have centerness >= sqrt(0.3/0.7 * 0.3/0.7) = 0.4286
    rng = torch.Generator().manual_seed(0)
    boxes = torch.cat([torch.rand(64, 2, generator=rng) * 150 + 20, torch.rand(64, 2, generator=rng) * 120 + 8], 1)
    tt = siamcar_targets(boxes, 25, 8, 32.0, "official")
    assert float(tt["centerness"][tt["pos"]].min()) >= 3 / 7 - 1e-6


def test_iou_loss_hand_values():
    a = torch.tensor([[10.0, 10.0, 10.0, 10.0]])
    b = torch.tensor([[20.0, 20.0, 20.0, 20.0]])
    assert float(iou_loss(a, a)) == pytest.approx(0.0, abs=1e-7)
    assert float(iou_loss(a, b)) == pytest.approx(-math.log(401 / 1601), abs=1e-6)
    assert -math.log(401 / 1601) == pytest.approx(1.3844, abs=1e-4)
    # weighted mean: sum(w l)/sum(w)
    pred = torch.cat([a, a]); tgt = torch.cat([a, b]); w = torch.tensor([0.25, 0.75])
    assert float(iou_loss(pred, tgt, w)) == pytest.approx(0.75 * -math.log(401 / 1601), abs=1e-6)
    empty = torch.zeros(0, 4, requires_grad=True)
    v = iou_loss(empty, empty.detach())
    assert float(v.detach()) == 0.0 and v.requires_grad


def test_balanced_ce_and_bce():
    logits = torch.zeros(2, 2, 5, 5)
    labels = torch.zeros(2, 5, 5)
    labels[0, 2, 2] = 1
    assert float(balanced_cross_entropy(logits, labels)) == pytest.approx(math.log(2), abs=1e-6)
    # 0.5 * mean over positives + 0.5 * mean over negatives, whole batch
    logits[:, 1] = torch.randn(2, 5, 5)
    lp = torch.log_softmax(logits, 1)
    pos, neg = labels == 1, labels == 0
    ref = 0.5 * -lp[:, 1][pos].mean() + 0.5 * -lp[:, 0][neg].mean()
    assert float(balanced_cross_entropy(logits, labels)) == pytest.approx(float(ref), abs=1e-6)
    labels[0, 0, 0] = -1  # ignored
    neg = labels == 0
    ref = 0.5 * -lp[:, 1][pos].mean() + 0.5 * -lp[:, 0][neg].mean()
    assert float(balanced_cross_entropy(logits, labels)) == pytest.approx(float(ref), abs=1e-6)
    x = torch.tensor([0.0, 2.0])
    y = torch.tensor([1.0, 0.0])
    ref = 0.5 * (math.log(2) + math.log(1 + math.exp(2)))
    assert float(masked_bce_with_logits(x, y)) == pytest.approx(ref, abs=1e-6)
    assert float(masked_bce_with_logits(x, y, torch.tensor([False, False]))) == 0.0


def _actor(**loss):
    cfg = SiamCARConfig()
    for k, v in loss.items():
        setattr(cfg.train.loss, k, v)
    return SiamCARActor(torch.nn.Identity(), cfg)


def _outputs(loc_value=20.0, cls_fg=0.0, cen_value=0.0):
    cls = torch.zeros(1, 2, 25, 25)
    cls[:, 1] = cls_fg
    # varies over the cells so per-point losses differ (weighted mean != plain mean)
    ii, jj = torch.meshgrid(torch.arange(25.0), torch.arange(25.0), indexing="ij")
    loc = (loc_value + ii + 2 * jj).expand(1, 4, 25, 25).clone()
    cen = torch.full((1, 1, 25, 25), cen_value)
    return {"cls": cls, "loc": loc, "cen": cen}


def test_actor_total_and_centerness_weighting():
    out = _outputs(loc_value=20.0)
    a = _actor()
    total, st = a.compute_losses(out, BOX)
    t = siamcar_targets(BOX, 25, 8, 32.0)
    tgt = t["ltrb"][t["pos"]]
    w = t["centerness"][t["pos"]]
    # independent per-point IoU loss from the UnitBox formula
    pl = out["loc"].permute(0, 2, 3, 1).reshape(-1, 4)[t["pos"][0]]
    inter = (torch.minimum(pl[:, 0], tgt[:, 0]) + torch.minimum(pl[:, 2], tgt[:, 2])) * \
            (torch.minimum(pl[:, 1], tgt[:, 1]) + torch.minimum(pl[:, 3], tgt[:, 3]))
    union = (pl[:, 0] + pl[:, 2]) * (pl[:, 1] + pl[:, 3]) + (tgt[:, 0] + tgt[:, 2]) * (tgt[:, 1] + tgt[:, 3]) - inter
    per = -torch.log((inter + 1) / (union + 1))
    assert float(st["loc"]) == pytest.approx(float((per * w).sum() / w.sum()), rel=1e-6)
    assert float(st["cls"]) == pytest.approx(math.log(2), rel=1e-6)
    bce = -torch.log(torch.sigmoid(torch.zeros(()))) * w - torch.log(1 - torch.sigmoid(torch.zeros(()))) * (1 - w)
    assert float(st["cen"]) == pytest.approx(float(bce.mean()), rel=1e-6)
    assert float(total) == pytest.approx(float(st["cls"] + 3 * st["loc"] + st["cen"]), rel=1e-6)
    plain = _actor(reg_weighting="mean").compute_losses(out, BOX)[1]["loc"]
    assert float(plain) == pytest.approx(float(per.mean()), rel=1e-6)
    assert abs(float(plain) - float(st["loc"])) > 5e-4  # the two reductions really differ here


def test_actor_empty_positive_set_is_zero_not_nan():
    out = {k: v.requires_grad_() for k, v in _outputs().items()}
    # a tiny box between grid points: no cell in its central 40 %
    total, st = _actor().compute_losses(out, torch.tensor([[33.0, 33.0, 4.0, 4.0]]))
    assert float(st["loc"]) == 0.0 and float(st["cen"]) == 0.0 and float(st["num_pos"]) == 0.0
    assert math.isfinite(float(total.detach()))
    total.backward()
    # negative pair: no positives either
    total, st = _actor().compute_losses(_outputs(), BOX, neg=torch.tensor([True]))
    assert float(st["loc"]) == 0.0 and float(st["num_pos"]) == 0.0


def _hard_neg_reference(logits, cand, k):
    """Per image: sort the candidates' −log p_bg by hand, average the top min(k, n), then average the images."""
    vals = []
    for b in range(logits.shape[0]):
        ces = []
        for i in range(logits.shape[2]):
            for j in range(logits.shape[3]):
                if cand[b, i, j] and logits.shape[1] == 2:
                    l0, l1 = float(logits[b, 0, i, j]), float(logits[b, 1, i, j])
                    ces.append(-(l0 - math.log(math.exp(l0) + math.exp(l1))))
                elif cand[b, i, j]:  # one sigmoid logit: −log(1 − σ(x))
                    ces.append(-math.log(1.0 - 1.0 / (1.0 + math.exp(-float(logits[b, 0, i, j])))))
        if ces:
            top = sorted(ces, reverse=True)[:k]
            vals.append(sum(top) / len(top))
    return sum(vals) / len(vals) if vals else 0.0


def test_hard_negative_ce_against_brute_force():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(4, 2, 7, 7, generator=g) * 2
    cand = torch.rand(4, 7, 7, generator=g) < 0.5
    cand[2] = False               # an image with no candidate is skipped, not averaged as 0
    cand[3] = False
    cand[3, 1, 2] = cand[3, 5, 5] = True  # fewer candidates than k: all of them
    for k in (1, 3, 8):
        assert float(hard_negative_cross_entropy(logits, cand, k)) == pytest.approx(_hard_neg_reference(logits, cand, k), rel=1e-6)
        one_logit = logits[:, 1:]  # the sigmoid form (Ocean's classification map)
        assert float(hard_negative_cross_entropy(one_logit, cand, k)) == pytest.approx(
            _hard_neg_reference(one_logit, cand, k), rel=1e-6)
    # hand-worked: one candidate with logits (0, ln 3): p_bg = 1/4 -> CE ln 4
    one = torch.zeros(1, 2, 2, 2)
    one[0, 1, 0, 1] = math.log(3)
    only = torch.zeros(1, 2, 2, dtype=torch.bool)
    only[0, 0, 1] = True
    assert float(hard_negative_cross_entropy(one, only, 5)) == pytest.approx(math.log(4), rel=1e-6)
    none = hard_negative_cross_entropy(logits.requires_grad_(), torch.zeros(4, 7, 7, dtype=torch.bool), 4)
    assert float(none.detach()) == 0.0
    none.backward()
    with pytest.raises(ValueError):
        hard_negative_cross_entropy(logits, cand, 0)


def test_actor_hard_negatives_mine_outside_the_box_only():
    # a look-alike: high foreground logits on a far patch, and on the GT box's non-central (negative) ring
    out = _outputs()
    out["cls"][0, 1, 2:5, 2:5] = 4.0            # far away from BOX (cells 8..15): a look-alike
    out["cls"][0, 1, 9, 12] = 6.0               # inside the GT box, outside the central 40 %: not mined
    base = _actor().compute_losses(out, BOX)[1]
    st = _actor(hard_neg_topk=9, hard_neg_weight=0.5).compute_losses(out, BOX)[1]
    look_alike_ce = math.log(1 + math.exp(4.0))  # −log p_bg with logits (0, 4)
    assert float(st["hard_neg"]) == pytest.approx(look_alike_ce, rel=1e-6)
    assert float(st["cls"]) == pytest.approx(float(base["cls"]) + 0.5 * look_alike_ce, rel=1e-6)
    # a negative pair mines every cell, the box included: the ring cell's logit 6 is now the hardest
    stn = _actor(hard_neg_topk=1).compute_losses(out, BOX, neg=torch.tensor([True]))[1]
    assert float(stn["hard_neg"]) == pytest.approx(math.log(1 + math.exp(6.0)), rel=1e-6)
    assert "hard_neg" not in base


def test_actor_rejects_non_bgr255_input():
    cfg = SiamCARConfig()
    cfg.train.processing.normalize = "imagenet"
    with pytest.raises(Exception, match="bgr255"):
        SiamCARActor(torch.nn.Identity(), cfg)


def test_default_recipe_lr_schedule_and_groups():
    from ltr.trainers.optim import TrainableRule, apply_trainable, build_optimizer, lr_at
    from ltr.models.siamcar import build_siamcar

    cfg, _ = load_tracker_config("siamcar", "default", ["model.pretrained_backbone=null"])
    st = cfg.train.resolved_stages()[0]
    table = [.001000, .001380, .001904, .002627, .003624, .005000, .004242, .003598, .003053, .002590,
             .002197, .001864, .001581, .001341, .001138, .000965, .000819, .000695, .000589, .000500]
    got = [lr_at(st.optim.lr, st.schedule, e, st.epochs) for e in range(20)]
    np.testing.assert_allclose(got, table, atol=6e-7)
    net = build_siamcar(cfg.model)
    for epoch, n_train, mults in ((9, 5_856_775, {1.0}), (10, 51_159_559, {1.0, 0.1})):
        rule = TrainableRule(st, epoch)
        apply_trainable(net, rule)
        assert sum(p.numel() for p in net.parameters() if p.requires_grad) == n_train
        opt = build_optimizer(net, st.optim)
        assert {g["lr_mult"] for g in opt.param_groups} == mults
        for g in opt.param_groups:
            names = g.get("names", [])
            if g["lr_mult"] == 0.1:
                assert names and all(n.startswith(("backbone.layer2", "backbone.layer3", "backbone.layer4")) for n in names)
