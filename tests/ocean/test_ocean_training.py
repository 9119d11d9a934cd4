"""Ocean labels, loss terms (hand-worked values), schedule/freezing of the official recipe, and a
2-iteration training smoke test of the offline and the online actor."""
from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from ltr.actors.ocean import OceanActor, align_label, ocean_targets
from ltr.admin.experiment import load_tracker_config
from ltr.admin.train_config import StageConfig
from ltr.models.loss.balanced_bce import balanced_bce_with_logits, soft_bce_with_logits
from ltr.models.loss.hinge import lbhinge_loss
from ltr.models.loss.iou import iou_loss
from ltr.trainers.optim import TrainableRule, lr_at

torch.set_num_threads(1)


# ------------------------------------------------------------------ labels (§7.6)

def _centered_box(cx: float, cy: float, w: float, h: float) -> torch.Tensor:
    return torch.tensor([[cx - w / 2, cy - h / 2, w, h]])


def test_zero_shift_gives_13_positive_diamond_at_centre():
    t = ocean_targets(_centered_box(127, 127, 60, 40), 25, 255)
    cls = t["cls"][0]
    assert int(cls.sum()) == 13
    ii, jj = np.meshgrid(np.arange(25), np.arange(25), indexing="ij")
    ref = (np.abs(ii - 12) + np.abs(jj - 12) <= 2).astype(np.float32)
    np.testing.assert_array_equal(cls.numpy(), ref)


@pytest.mark.parametrize("dx,dy,cj,ci", [(20.0, 0.0, 14, 12), (-20.0, 0.0, 10, 12), (7.9, -15.9, 12, 11), (0.0, 40.0, 12, 17)])
def test_label_centre_truncates_shift(dx, dy, cj, ci):
    # c = 12 + trunc(Δ/8): 20/8 = 2.5 -> 2, -2.5 -> -2, 7.9/8 -> 0, -15.9/8 -> -1
    cls = ocean_targets(_centered_box(127 + dx, 127 + dy, 50, 50), 25, 255)["cls"][0]
    assert cls[ci, cj] == 1 and int(cls.sum()) == 13
    assert cls[ci, cj + 2] == 1 and cls[ci + 2, cj] == 1 and cls[ci + 1, cj + 2] == 0


def test_regression_targets_and_weight_strictly_inside():
    box = torch.tensor([[127.0, 95.0, 64.0, 40.0]])  # left edge exactly on grid column x = 127
    t = ocean_targets(box, 25, 255)
    g = 8 * (np.arange(25) - 12) + 127
    x0, y0, x1, y1 = 127.0, 95.0, 191.0, 135.0
    for i in range(25):
        for j in range(25):
            l, tt, r, b = g[j] - x0, g[i] - y0, x1 - g[j], y1 - g[i]
            np.testing.assert_allclose(t["ltrb"][0, i * 25 + j].numpy(), [l, tt, r, b])
            inside = min(l, tt, r, b) > 0
            assert t["reg_weight"][0, i * 25 + j] == float(inside), (i, j)
    assert t["reg_weight"][0, 12 * 25 + 12] == 0  # on the edge: not inside


def test_negative_pairs_have_no_positives():
    t = ocean_targets(_centered_box(127, 127, 60, 40).repeat(2, 1), 25, 255, neg=torch.tensor([True, False]))
    assert t["cls"][0].sum() == 0 and t["reg_weight"][0].sum() == 0 and t["cls"][1].sum() == 13


def test_euclid_label_paper_variant():
    cls = ocean_targets(_centered_box(127, 127, 60, 40), 25, 255, kind="euclid", radius_px=16)["cls"][0]
    # grid points within 16 px of (127, 127): offsets (0,0), (±8,0), (0,±8), (±8,±8) [11.3 px], (±16,0), (0,±16)
    assert int(cls.sum()) == 13 and cls[12, 14] == 1 and cls[13, 13] == 1 and cls[13, 14] == 0


# ------------------------------------------------------------------ loss terms (hand-worked)

def test_iou_loss_hand_value():
    pred = torch.tensor([[2.0, 2.0, 2.0, 2.0]])
    tgt = torch.tensor([[1.0, 1.0, 3.0, 3.0]])
    # I = (1 + 2)·(1 + 2) = 9, U = 16 + 16 − 9 = 23 -> −ln(10/24)
    assert float(iou_loss(pred, tgt)) == pytest.approx(-math.log(10 / 24))
    assert float(iou_loss(tgt, tgt)) == pytest.approx(0.0, abs=1e-7)


def test_balanced_bce_hand_value():
    logits = torch.tensor([0.0, 2.0, 1.0, -3.0])
    labels = torch.tensor([1.0, 1.0, 0.0, 0.0])
    pos = (math.log(2) + math.log(1 + math.exp(-2))) / 2
    neg = (math.log(1 + math.exp(1)) + math.log(1 + math.exp(-3))) / 2
    assert float(balanced_bce_with_logits(logits, labels)) == pytest.approx(0.5 * pos + 0.5 * neg, rel=1e-6)
    # 50/50 regardless of the counts: duplicating the negatives changes nothing
    l2 = balanced_bce_with_logits(torch.cat([logits, logits[2:]]), torch.cat([labels, labels[2:]]))
    assert float(l2) == pytest.approx(0.5 * pos + 0.5 * neg, rel=1e-6)
    # no positives: only the negative half
    assert float(balanced_bce_with_logits(logits[2:], labels[2:])) == pytest.approx(0.5 * neg, rel=1e-6)


def test_align_label_and_soft_bce_hand_values():
    reg = torch.tensor([2.0, 2.0, 2.0, 2.0]).view(1, 4, 1, 1).repeat(1, 1, 1, 2)  # two cells
    ltrb = torch.tensor([[[1.0, 1.0, 3.0, 3.0], [-1.0, 1.0, 3.0, 3.0]]])
    weight = torch.tensor([[1.0, 0.0]])
    lab = align_label(reg, ltrb, weight)
    np.testing.assert_allclose(lab.numpy(), [[10 / 24, 0.0]], rtol=1e-6)
    # p_o* = 1 when the prediction equals the target
    assert float(align_label(ltrb[:, :1].reshape(1, 4, 1, 1), ltrb[:, :1], weight[:, :1])) == pytest.approx(1.0)
    z = torch.tensor([0.5, -1.0])
    y = torch.tensor([10 / 24, 0.0])
    ref = np.mean([-(y0 * math.log(1 / (1 + math.exp(-z0))) + (1 - y0) * math.log(1 - 1 / (1 + math.exp(-z0))))
                   for z0, y0 in zip(z.tolist(), y.tolist())])
    assert float(soft_bce_with_logits(z, y)) == pytest.approx(ref, rel=1e-6)
    assert float(soft_bce_with_logits(torch.tensor([float("nan")]), torch.tensor([0.5]))) == 0.0


def test_lbhinge_hand_value():
    pred = torch.tensor([-1.0, 0.5, 2.0, 0.3])
    label = torch.tensor([0.01, 0.5, 1.0, 0.0])
    # negatives (label < 0.05) only need ReLU(score) = 0: (0 − 0)², (0.5 − 0.5)², (2 − 1)², (0.3 − 0)²
    assert float(lbhinge_loss(pred, label, 0.05)) == pytest.approx((0 + 0 + 1 + 0.09) / 4)


def _offline_cfg():
    cfg, _ = load_tracker_config("ocean", "tiny")
    return cfg


@pytest.mark.parametrize("detach", [True, False])
def test_actor_total_and_detach_switch(detach):
    cfg = _offline_cfg()
    cfg.train.loss.detach_align_label = detach
    cfg.train.loss.reg_weight = 1.2
    cfg.train.loss.hard_neg_topk = 0  # the TracKit loss (hard negatives: next test)
    actor = OceanActor.__new__(OceanActor)
    actor.cfg, actor.mode, actor.net = cfg, "offline", None
    s = 17
    g = torch.Generator().manual_seed(0)
    reg = (torch.rand(2, 4, s, s, generator=g) * 40 + 5).requires_grad_(True)
    out = {"cls": torch.randn(2, 1, s, s, generator=g), "reg": reg, "align": torch.randn(2, 1, s, s, generator=g)}
    boxes = torch.tensor([[70.0, 75.0, 50.0, 40.0], [60.0, 60.0, 30.0, 70.0]])
    total, stats = actor.offline_losses(out, boxes, 191)
    # independent recomputation: L_r + 1.2·L_reg + L_o, with the IoU label detached or not
    t = ocean_targets(boxes, s, 191, radius=cfg.train.labels.radius)
    pos = t["reg_weight"] > 0
    pred = reg.permute(0, 2, 3, 1).reshape(2, -1, 4)
    base = balanced_bce_with_logits(out["cls"], t["cls"]) + 1.2 * iou_loss(pred[pos], t["ltrb"][pos])
    label = align_label(reg, t["ltrb"], t["reg_weight"])
    refs = {True: base + soft_bce_with_logits(out["align"].reshape(2, -1), label.detach()),
            False: base + soft_bce_with_logits(out["align"].reshape(2, -1), label)}
    assert float(total.detach()) == pytest.approx(float(refs[detach].detach()), rel=1e-6)
    grad = torch.autograd.grad(total, reg)[0]
    g_same = torch.autograd.grad(refs[detach], reg, retain_graph=True)[0]
    g_other = torch.autograd.grad(refs[not detach], reg, retain_graph=True)[0]
    torch.testing.assert_close(grad, g_same)
    assert not torch.allclose(grad, g_other)


def test_actor_hard_negatives_mine_outside_the_box_and_positives():
    cfg = _offline_cfg()
    cfg.train.loss.hard_neg_topk, cfg.train.loss.hard_neg_weight = 3, 0.5
    actor = OceanActor.__new__(OceanActor)
    actor.cfg, actor.mode, actor.net = cfg, "offline", None
    s = 9
    box = torch.tensor([[48.0, 48.0, 32.0, 32.0]])  # centred in the 127 crop: cells 3..5 lie inside the box
    t = ocean_targets(box, s, 127, radius=cfg.train.labels.radius)
    inside = t["reg_weight"][0].reshape(s, s) > 0
    cls = torch.zeros(1, 1, s, s)
    cls[0, 0, 0, 0:3] = 2.0        # a look-alike in the corner: the three hardest mineable cells
    cls[0, 0, 0, 8] = 1.0          # a weaker one: fourth, not mined with k = 3
    ring = [(i, j) for i in range(s) for j in range(s) if inside[i, j] and t["cls"][0, i, j] == 0]
    cls[0, 0, ring[0][0], ring[0][1]] = 6.0  # inside the box but not a positive: never mined
    out = {"cls": cls, "reg": torch.full((1, 4, s, s), 16.0)}
    st = actor.offline_losses(out, box, 127)[1]
    softplus2 = math.log(1 + math.exp(2.0))  # BCE of logit 2 against label 0
    assert float(st["hard_neg"]) == pytest.approx(softplus2, rel=1e-6)
    assert float(st["cls"]) == pytest.approx(float(balanced_bce_with_logits(cls, t["cls"])) + 0.5 * softplus2, rel=1e-6)
    # a negative pair mines every cell: the ring cell (6) and the corner (2, 2) are the top 3
    stn = actor.offline_losses(out, box, 127, neg=torch.tensor([True]))[1]
    assert float(stn["hard_neg"]) == pytest.approx((math.log(1 + math.exp(6.0)) + 2 * softplus2) / 3, rel=1e-6)


# ------------------------------------------------------------------ recipe: schedule and freezing (§7.7)

def test_default_recipe_schedule_and_freezing():
    cfg, _ = load_tracker_config("ocean", "default")
    tr = cfg.train
    ref = {0: 1.000e-3, 1: 1.380e-3, 2: 1.904e-3, 3: 2.627e-3, 4: 3.624e-3, 10: 2.468e-3, 20: 6.010e-4,
           30: 1.464e-4, 40: 3.565e-5, 49: 1e-5}
    for e, v in ref.items():
        assert lr_at(tr.optim.lr, tr.schedule, e, tr.epochs) == pytest.approx(v, rel=1e-3), e
    assert tr.optim.lr_mult == {"backbone": 0.1} and tr.optim.weight_decay == 1e-4 and tr.batch_size == 256
    assert sum(d.weight for d in tr.data.datasets) == pytest.approx(600) and tr.data.samples_per_epoch == 600000
    stage = tr.resolved_stages()[0]
    names = ["backbone.conv1.weight", "backbone.bn1.weight", "backbone.layer1.0.conv1.weight",
             "backbone.layer3.5.bn3.bias", "neck.downsample.0.weight", "head.adjust", "align_head.cls.bias"]
    before, after = TrainableRule(stage, 9), TrainableRule(stage, 10)
    assert [before(n) for n in names] == [False, False, False, False, True, True, True]
    assert [after(n) for n in names] == [False, False, True, True, True, True, True]


def test_online_recipe_trains_only_the_online_branch():
    cfg, _ = load_tracker_config("ocean", "online")
    rule = TrainableRule(cfg.train.resolved_stages()[0], 0)
    assert not rule("backbone.layer2.0.conv1.weight") and not rule("head.bbox_pred.weight")
    assert rule("online.layer.0.conv1.weight") and rule("online.classifier.filter_optimizer.sd.log_step_length")
    assert cfg.train.mode == "online" and cfg.track.online and not cfg.track.align


# ------------------------------------------------------------------ 2-iteration smoke tests

def _write_got10k(root: Path, nseq: int = 2, nframes: int = 6, w: int = 160, h: int = 120) -> Path:
    d = root / "train"
    names = [f"GOT-10k_Train_{i + 1:06d}" for i in range(nseq)]
    d.mkdir(parents=True)
    (d / "list.txt").write_text("\n".join(names) + "\n")
    rng = np.random.default_rng(0)
    for name in names:
        boxes = []
        for f in range(nframes):
            img = (rng.random((h, w, 3)) * 60).astype(np.uint8)
            x, y = 40 + 3 * f, 30 + 2 * f
            img[y:y + 36, x:x + 48] = (220, 60, 40)
            (d / name).mkdir(exist_ok=True)
            cv2.imwrite(str(d / name / f"{f + 1:08d}.jpg"), img)
            boxes.append([x, y, 48, 36])
        np.savetxt(d / name / "groundtruth.txt", np.array(boxes, float), fmt="%.2f", delimiter=",")
        (d / name / "absence.label").write_text("0\n" * nframes)
        (d / name / "cover.label").write_text("8\n" * nframes)
    return root


@pytest.mark.parametrize("config", ["tiny", "tiny_online"])
def test_two_iteration_training_smoke(tmp_path, config):
    from ltr.trainers.builder import build_trainer

    root = _write_got10k(tmp_path / "got")
    ov = ["train.epochs=1", "train.batch_size=2", "train.num_workers=0", "train.data.samples_per_epoch=4",
          "train.log_interval=1", f"train.data.datasets=[{{name: got10k, options: {{root: {root}}}}}]"]
    if config == "tiny_online":
        ov += ["train.online.base_weights=null", "train.data.max_gap=5"]
    cfg, _ = load_tracker_config("ocean", config, ov)
    trainer = build_trainer("ocean", cfg, config, workspace=tmp_path / "ws", max_iters_per_epoch=2,
                            progress=False, tensorboard=False)
    before = {k: v.clone() for k, v in trainer.net.state_dict().items()}
    summary = trainer.train()
    after = trainer.net.state_dict()
    changed = {k.split(".")[0] for k in before if before[k].dtype.is_floating_point and not torch.equal(before[k], after[k])}
    if config == "tiny":
        assert {"backbone", "neck", "head", "align_head"} <= changed
    else:  # only the online branch learns; the frozen Siamese network (incl. BN statistics) is untouched
        assert changed == {"online"}
    ck = list((tmp_path / "ws" / "checkpoints" / "ocean" / config).glob("*.pth"))
    assert ck, summary


def test_offline_actor_loads_the_imagenet_trunk(tmp_path):
    """The ImageNet trunk (TracKit ``pretrain.model``, keys ``features.features.*``) is loaded when training
    starts, not when a tracker builds the network."""
    from ltr.models.ocean import OceanNet

    cfg = _offline_cfg()
    torch.manual_seed(8)
    src = OceanNet(cfg.model).backbone.state_dict()
    torch.save({"features.features." + k: v for k, v in src.items()}, tmp_path / "pretrain.model")
    cfg.model.pretrained_backbone = str(tmp_path / "pretrain.model")
    torch.manual_seed(9)
    net = OceanNet(cfg.model)
    assert not torch.equal(net.backbone.conv1.weight, src["conv1.weight"])  # building does not load it
    OceanActor(net, cfg)
    for k, v in net.backbone.state_dict().items():
        assert torch.equal(v, src[k]), k
