"""SiamCAR training: the official recipe runs (2 iterations on the synthetic data) and its checkpoint
loads into the tracker; backbone freezing/unfreezing behaves as siamcar.md §7.10 requires."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from ltr.admin.experiment import load_tracker_config
from ltr.trainers.builder import build_trainer


def _data_overrides(root) -> list:
    return [f"train.data.datasets=[{{name: synthetic, options: {{root: '{root}', num_sequences: 2}}}}]",
            "train.num_workers=0", "train.batch_size=2", "model.pretrained_backbone=null"]


def test_default_recipe_two_iterations(tmp_path):
    torch.set_num_threads(2)
    cfg, _ = load_tracker_config("siamcar", "default", _data_overrides(tmp_path / "syn") + ["train.batch_size=1"])
    tr = build_trainer("siamcar", cfg, "default", workspace=tmp_path / "ws", device="cpu", max_iters_per_epoch=2,
                       progress=False, tensorboard=False)
    tr.total_epochs = 1  # first epoch of the 20-epoch recipe: warm-up LR, frozen backbone
    tr.checkpoint_dir = None  # no 200 MB checkpoint in a unit test (the tiny test below covers checkpoints)
    before = {k: v.clone() for k, v in tr.net.state_dict().items()}
    tr.train()
    assert tr.state.global_step == 2
    stats = tr.state.last_stats
    assert stats and all(np.isfinite(float(v)) for v in stats.values())
    after = tr.net.state_dict()
    assert not torch.equal(before["car_head.cls_logits.weight"], after["car_head.cls_logits.weight"])
    assert not torch.equal(before["neck.downsample4.downsample.0.weight"], after["neck.downsample4.downsample.0.weight"])
    for k in ("backbone.layer4.2.conv3.weight", "backbone.layer2.0.bn1.running_mean"):  # frozen, BN in eval
        assert torch.equal(before[k], after[k]), k


def test_freezing_schedule(tmp_path):
    ov = _data_overrides(tmp_path / "syn") + [
        "model.backbone_layers=[1, 1, 1, 1]", "model.backbone_width=4", "model.neck_channels=16", "model.gn_groups=4",
        "train.epochs=2", "train.freeze.unfreeze_epoch=1", "train.schedule.warmup_epochs=1",
    ]
    cfg, _ = load_tracker_config("siamcar", "default", ov)
    tr = build_trainer("siamcar", cfg, "default", workspace=tmp_path / "ws", device="cpu", max_iters_per_epoch=1,
                       progress=False, tensorboard=False)
    snaps = {}
    tr.actor.set_epoch = lambda e: snaps.__setitem__(e, copy.deepcopy(tr.net.state_dict()))
    tr.train()
    final = tr.net.state_dict()
    s0, s1 = snaps[0], snaps[1]

    def same(a, b, prefix):
        return all(torch.equal(a[k], b[k]) for k in a if k.startswith(prefix))

    # epoch 1 (index 0): nothing in the backbone moves, BN running stats included; the head trains
    assert same(s0, s1, "backbone.")
    assert not same(s0, s1, "car_head.")
    # epoch 11-like (index 1): conv1/bn1/layer1 still frozen (BN in eval), layer2-4 train and update BN stats
    for p in ("backbone.conv1.", "backbone.bn1.", "backbone.layer1."):
        assert same(s1, final, p), p
    for lvl in (2, 3, 4):
        assert not torch.equal(s1[f"backbone.layer{lvl}.0.conv1.weight"], final[f"backbone.layer{lvl}.0.conv1.weight"])
        assert not torch.equal(s1[f"backbone.layer{lvl}.0.bn1.running_mean"], final[f"backbone.layer{lvl}.0.bn1.running_mean"])
    # the trained checkpoint drives the tracker
    from tracking.tracker.siamcar import SiamCARTracker

    ck = sorted((tmp_path / "ws" / "checkpoints" / "siamcar" / "default").glob("*.pth"))
    assert ck, "no checkpoint written"
    cfg.weights = str(ck[-1])
    net = SiamCARTracker.build_network(cfg, "cpu")
    torch.testing.assert_close(net.car_head.cls_logits.weight, final["car_head.cls_logits.weight"])
    t = SiamCARTracker(cfg, net)
    img = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    t.initialize(img, np.array([50.0, 40.0, 30.0, 20.0]))
    assert np.all(np.isfinite(t.track(img)["box"]))
