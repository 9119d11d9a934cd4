"""Trainer: LR schedules vs the specs' tables, freezing/BN, stages, clipping, checkpoints, CLI."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from _training_fixtures import TinyActor, TinyModel, TinyNet, make_got10k, net_state, tiny_config  # noqa: E402

from ltr.admin.checkpoint import (CheckpointError, build_network_from_checkpoint, list_checkpoints, load_checkpoint,
                                  load_network_weights, save_checkpoint)
from ltr.admin.train_config import ScheduleConfig
from ltr.trainers.builder import build_trainer, make_processing, build_samplers
from ltr.trainers.optim import lr_at, param_groups
from ltr.trainers.trainer import Trainer


pytestmark = pytest.mark.usefixtures("tiny_registered")


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# --------------------------------------------------------------------------- schedules

def test_siamcar_lr_table():
    # spec siamcar 4.4: warm-up 0.001 -> 0.005 (5 epochs, geometric), then log decay to 0.0005 by epoch 20
    table = [.001000, .001380, .001904, .002627, .003624, .005000, .004242, .003598, .003053, .002590,
             .002197, .001864, .001581, .001341, .001138, .000965, .000819, .000695, .000589, .000500]
    sch = ScheduleConfig(type="log", warmup_epochs=5, warmup_start_lr=0.001, end_lr=0.0005)
    got = [lr_at(0.005, sch, e, 20) for e in range(20)]
    assert np.allclose(got, table, atol=6e-7)


def test_ocean_lr_values():
    sch = ScheduleConfig(type="log", warmup_epochs=5, warmup_start_lr=1e-3, end_lr=1e-5)
    ref = {0: 1.000e-3, 1: 1.380e-3, 4: 3.624e-3, 5: 5e-3, 10: 2.468e-3, 20: 6.010e-4, 30: 1.464e-4, 40: 3.565e-5, 49: 1e-5}
    for e, v in ref.items():
        assert abs(lr_at(5e-3, sch, e, 50) - v) / v < 1e-3, e
    # factor 0.8683 per epoch after the warm-up
    assert abs(lr_at(5e-3, sch, 7, 50) / lr_at(5e-3, sch, 6, 50) - 0.8683) < 1e-4


def test_step_multistep_cosine():
    ms = ScheduleConfig(type="step", milestones=[35, 45, 69], gamma=0.2)  # FCOT stage 1
    assert lr_at(2e-4, ms, 34, 70) == pytest.approx(2e-4)
    assert lr_at(2e-4, ms, 35, 70) == pytest.approx(2e-4 * 0.2)
    assert lr_at(2e-4, ms, 45, 70) == pytest.approx(2e-4 * 0.04)
    assert lr_at(2e-4, ms, 69, 70) == pytest.approx(2e-4 * 0.008)
    st = ScheduleConfig(type="step", step_size=15, gamma=0.2)  # DCFST StepLR(15, 0.2)
    assert [lr_at(5e-3, st, e, 40) for e in (14, 15, 29, 30)] == pytest.approx([5e-3, 1e-3, 1e-3, 2e-4])
    cs = ScheduleConfig(type="cosine", end_lr=0.0, warmup_epochs=2, warmup_kind="linear", warmup_start_lr=0.0)
    assert lr_at(1.0, cs, 1, 12) == pytest.approx(0.5)
    assert lr_at(1.0, cs, 2, 12) == pytest.approx(1.0)
    assert lr_at(1.0, cs, 7, 12) == pytest.approx(0.5)


def test_param_groups_lr_mult_longest_prefix():
    net = TinyNet(TinyModel(with_bn=True))
    cfg = tiny_config(Path("."), **{"optim.lr_mult": {"backbone": 0.1, "backbone.1": 0.5}})
    groups = {g["lr_mult"]: g["names"] for g in param_groups(net, cfg.train.optim)}
    assert groups[0.1] == ["backbone.0.weight", "backbone.0.bias"]
    assert groups[0.5] == ["backbone.1.weight", "backbone.1.bias"]
    assert groups[1.0] == ["head.weight", "head.bias"]


# --------------------------------------------------------------------------- trainer behaviour

class RecordingActor(TinyActor):
    """Snapshots the net at each epoch start and the BN modes seen in forward."""

    def __init__(self, net, cfg):
        super().__init__(net, cfg)
        self.snapshots = []
        self.bn_training = []

    def set_epoch(self, epoch):
        self.snapshots.append(net_state(self.net))

    def __call__(self, batch):
        self.bn_training.append(self.net.backbone[1].training)
        return super().__call__(batch)


def _trainer(cfg, tmp_path, actor_cls=RecordingActor, **kw):
    torch.manual_seed(0)
    net = TinyNet(cfg.model)
    proc = make_processing("_tiny_test", cfg, actor_cls)
    train, val = build_samplers(cfg, proc)
    return Trainer(net, actor_cls(net, cfg), cfg.train, train, val_data=val, checkpoint_dir=tmp_path / "ck",
                   log_dir=tmp_path / "log", meta={"tracker": "_tiny_test", "config_name": "t"}, progress=False,
                   tensorboard=False, **kw)


@pytest.mark.parametrize("bn_eval", [True, False])
def test_freeze_unfreeze_and_frozen_bn(got_root, tmp_path, bn_eval):
    cfg = tiny_config(got_root, epochs=3, **{"freeze.frozen": ["backbone"], "freeze.unfreeze_epoch": 1,
                                             "freeze.unfreeze": ["backbone.0"], "freeze.bn_eval_frozen": bn_eval,
                                             "optim.lr": 0.05, "optim.lr_mult": {"backbone": 0.1}})
    cfg.model.with_bn = True
    tr = _trainer(cfg, tmp_path)
    tr.train()
    s0, s1, s2 = tr.actor.snapshots
    end = net_state(tr.net)
    # epoch 0: backbone frozen (weights fixed); BN stats fixed only with the eval switch
    assert torch.equal(s0["backbone.0.weight"], s1["backbone.0.weight"])
    assert torch.equal(s0["backbone.1.weight"], s1["backbone.1.weight"])
    assert not torch.equal(s0["head.weight"], s1["head.weight"])
    assert torch.equal(s0["backbone.1.running_mean"], s1["backbone.1.running_mean"]) == bn_eval
    # epoch 1+: backbone.0 trains at 0.1x; backbone.1 (BN) stays frozen
    assert not torch.equal(s1["backbone.0.weight"], end["backbone.0.weight"])
    assert torch.equal(s1["backbone.1.weight"], end["backbone.1.weight"])
    assert all(t == (not bn_eval) for t in tr.actor.bn_training)
    lrs = {g["lr_mult"]: g["lr"] for g in tr.optimizer.param_groups}
    assert lrs == {1.0: pytest.approx(0.05), 0.1: pytest.approx(0.005)}
    log = (tmp_path / "log" / "train.log").read_text()
    assert "1 frozen BatchNorm" in log if bn_eval else "0 frozen BatchNorm" in log


def test_unknown_prefix_is_an_error(got_root, tmp_path):
    cfg = tiny_config(got_root, **{"freeze.frozen": ["bakcbone"]})
    with pytest.raises(ValueError, match="'bakcbone' matches no parameter"):
        _trainer(cfg, tmp_path, TinyActor).train()


def test_multi_stage(got_root, tmp_path):
    cfg = tiny_config(got_root, stages=[
        {"name": "heads", "epochs": 1, "trainable": ["head"]},
        {"name": "body", "epochs": 2, "trainable": ["backbone"], "optim": {"type": "adam", "lr": 0.01},
         "schedule": {"type": "step", "milestones": [1], "gamma": 0.5}},
    ])
    tr = _trainer(cfg, tmp_path)
    tr.train()
    s0, s1, s2 = tr.actor.snapshots
    end = net_state(tr.net)
    assert not torch.equal(s0["head.weight"], s1["head.weight"]) and torch.equal(s0["backbone.0.weight"], s1["backbone.0.weight"])
    assert torch.equal(s1["head.weight"], end["head.weight"]) and not torch.equal(s1["backbone.0.weight"], end["backbone.0.weight"])
    assert tr.actor.stage_calls == [("heads", 0), ("body", 1)]
    assert isinstance(tr.optimizer, torch.optim.Adam)
    assert tr.optimizer.param_groups[0]["lr"] == pytest.approx(0.005)  # stage epoch 1 >= milestone 1
    assert tr.state.epoch == 3


def test_grad_clip_bounds_the_update(got_root, tmp_path):
    cfg = tiny_config(got_root, epochs=1, grad_clip=1e-4, **{"optim.lr": 1.0, "optim.momentum": 0.0,
                                                             "data.samples_per_epoch": 4})
    tr = _trainer(cfg, tmp_path)
    before = net_state(tr.net)
    tr.train()
    after = net_state(tr.net)
    delta = torch.sqrt(sum(((after[k] - before[k]) ** 2).sum() for k in before))
    assert float(delta) == pytest.approx(1e-4, rel=1e-3)  # one SGD step of lr 1 with the clipped gradient


def test_skip_loss_above(got_root, tmp_path):
    cfg = tiny_config(got_root, epochs=1, skip_loss_above=0.0, **{"data.samples_per_epoch": 8})
    tr = _trainer(cfg, tmp_path, TinyActor)
    before = net_state(tr.net)
    tr.train()
    assert all(torch.equal(before[k], v) for k, v in net_state(tr.net).items())
    assert "step skipped" in (tmp_path / "log" / "train.log").read_text()


def test_bad_samples_counted_in_log(tmp_path):
    root = tmp_path / "bad"
    names = make_got10k(root, "train", nseq=2, nframes=6)
    p = root / "train" / names[0] / "00000003.jpg"
    p.write_bytes(b"\xff\xd8\xff garbage")
    cfg = tiny_config(root, epochs=1, **{"data.samples_per_epoch": 32, "log_interval": 4})
    out = _trainer(cfg, tmp_path, TinyActor).train()
    log = (tmp_path / "log" / "train.log").read_text()
    assert out["bad_samples"] > 0
    assert f"bad sample: dataset 'got10k', sequence '{names[0]}', frame 2" in log
    assert f"{out['bad_samples']} bad sample(s) skipped" in log


# --------------------------------------------------------------------------- checkpoints

def test_checkpoints_keep_last_and_rebuild(got_root, tmp_path):
    cfg = tiny_config(got_root, epochs=4, keep_last=2, **{"data.samples_per_epoch": 8})
    tr = build_trainer("_tiny_test", cfg, "ck", workspace=tmp_path, progress=False, tensorboard=False)
    out = tr.train()
    cks = list_checkpoints(tmp_path / "checkpoints" / "_tiny_test" / "ck")
    assert [(e, i) for e, i, _ in cks] == [(3, 0), (4, 0)]
    ck = load_checkpoint(out["checkpoint"])
    assert ck["tracker"] == "_tiny_test" and ck["config_name"] == "ck" and ck["epoch"] == 4
    assert ck["config"]["train"]["keep_last"] == 2
    net, cfg2, _ = build_network_from_checkpoint(out["checkpoint"])
    assert cfg2.train.epochs == 4
    assert all(torch.equal(v, tr.net.state_dict()[k]) for k, v in net.state_dict().items())
    # DDP-style 'module.' prefixes are stripped; a mismatch is a clear error
    other = TinyNet(TinyModel())
    load_network_weights(other, {"net": {f"module.{k}": v for k, v in tr.net.state_dict().items()}})
    assert torch.equal(other.head.weight, tr.net.head.weight)
    with pytest.raises(CheckpointError, match="missing"):
        load_network_weights(TinyNet(TinyModel(channels=4, with_bn=True)), out["checkpoint"])
    # `sotlab export`: a slim tracking checkpoint rebuilds the same network; --half rounds to float16
    from ltr.admin.cli import main as sotlab_main

    slim, half = tmp_path / "slim.pth", tmp_path / "half.pth"
    assert sotlab_main(["export", str(out["checkpoint"]), str(slim)]) == 0
    assert sotlab_main(["export", str(out["checkpoint"]), str(half), "--half"]) == 0
    sck = load_checkpoint(slim)
    assert "optimizer" not in sck and "rng" not in sck and sck["epoch"] == 4
    assert slim.stat().st_size < Path(out["checkpoint"]).stat().st_size
    net_s, _, _ = build_network_from_checkpoint(slim)
    assert all(torch.equal(v, tr.net.state_dict()[k]) for k, v in net_s.state_dict().items())
    net_h, _, _ = build_network_from_checkpoint(half)
    for k, v in net_h.state_dict().items():
        ref = tr.net.state_dict()[k]
        assert v.dtype == ref.dtype
        torch.testing.assert_close(v, ref.half().to(ref.dtype), rtol=0, atol=0)
    assert sotlab_main(["export", str(tmp_path / "nope.pth"), str(tmp_path / "x.pth")]) == 2


class _Evil:
    pass


def test_pickled_checkpoint_rejected(tmp_path):
    p = tmp_path / "evil.pth"
    torch.save({"net": {}, "obj": _Evil()}, p)
    with pytest.raises(CheckpointError, match="pickled Python code"):
        load_checkpoint(p)
    # a valid checkpoint written atomically leaves no temp files behind
    save_checkpoint(tmp_path / "ok.pth", {"net": {"w": torch.ones(2)}})
    assert sorted(x.name for x in tmp_path.iterdir()) == ["evil.pth", "ok.pth"]


# --------------------------------------------------------------------------- CLI

def test_cli_help_and_smoke_run(got_root, tmp_path, capsys):
    from ltr.run_training import main

    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    assert "_tiny_test" in capsys.readouterr().out
    yml = tmp_path / "smoke.yaml"
    yml.write_text(yaml.safe_dump({"train": {"data": {"datasets": [{"name": "got10k", "options": {"root": str(got_root)}}]}}}))
    rc = main(["_tiny_test", str(yml), "--workspace", str(tmp_path / "ws"), "--max-iters", "2", "--no-progress",
               "--set", "train.epochs=1", "--set", "train.num_workers=0"])
    assert rc == 0
    assert (tmp_path / "ws" / "checkpoints" / "_tiny_test" / "smoke" / "_tiny_test_ep0001.pth").is_file()
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tmp_path / "ws" / "logs" / "_tiny_test" / "smoke" / "tb"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"train/loss", "train/l_xy", "train/l_wh", "train/lr", "perf/samples_per_s", "perf/data_wait_frac",
            "data/bad_samples"} <= tags
    assert [e.step for e in acc.Scalars("train/loss")] == [2]
    rc = main(["_tiny_test", str(yml), "--workspace", str(tmp_path / "ws"), "--set", "train.epohcs=1"])
    assert rc == 2
    assert "epochs" in capsys.readouterr().err  # typo suggestion from the typed config


def test_validation_runs_in_eval_mode_without_updates(got_root, tmp_path):
    cfg = tiny_config(got_root, epochs=1, val_interval=1, **{
        "data.samples_per_epoch": 8, "data.val_samples": 8,
        "data.val_datasets": [{"name": "got10k", "options": {"root": str(got_root)}}]})
    cfg.model.with_bn = True
    tr = _trainer(cfg, tmp_path)
    tr.train()
    assert "[val ep 1] " in (tmp_path / "log" / "train.log").read_text()
    before = net_state(tr.net)
    out = tr.validate(5)
    assert set(out) >= {"loss", "l_xy", "l_wh"} and all(np.isfinite(v) for v in out.values())
    assert all(torch.equal(before[k], v) for k, v in net_state(tr.net).items())  # incl. BN running stats


def test_nproc_and_multinode_launch_torchrun(monkeypatch):
    import ltr.run_training as rt

    calls = []
    monkeypatch.setattr(rt.subprocess, "call", lambda cmd, env=None: calls.append((cmd, env)) or 0)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert rt.main(["siamcar", "default", "--nproc", "2", "--set", "train.epochs=1", "--resume", "--max-iters", "3"]) == 0
    cmd, env = calls[-1]
    assert cmd[1:3] == ["-m", "torch.distributed.run"] and "--nproc_per_node=2" in cmd and "--standalone" in cmd
    tail = cmd[cmd.index("ltr.run_training") - 1:]
    assert tail == ["-m", "ltr.run_training", "siamcar", "default", "--set", "train.epochs=1", "--resume", "--max-iters", "3"]
    assert env["OMP_NUM_THREADS"]
    assert rt.main(["siamcar", "default", "--nproc", "8", "--nnodes", "2", "--node-rank", "1",
                    "--master-addr", "10.0.0.1", "--master-port", "29555"]) == 0
    cmd, _ = calls[-1]
    assert {"--nproc_per_node=8", "--nnodes=2", "--node_rank=1", "--master_addr=10.0.0.1", "--master_port=29555"} <= set(cmd)
    assert "--standalone" not in cmd


class _Interrupt(Exception):
    pass


class InterruptingActor(TinyActor):
    stop_at = None  # raise at this actor call (class attribute set by the test)

    def __call__(self, batch):
        if self.stop_at is not None and self.calls == self.stop_at:
            raise _Interrupt()
        return super().__call__(batch)


@pytest.mark.parametrize("case", ["stage_boundary", "unfreeze_keep_momentum", "mid_epoch"])
def test_resume_across_stage_and_unfreeze_boundaries_is_exact(got_root, tmp_path, case):
    ov = {"data.samples_per_epoch": 12, "optim.lr": 0.05}
    if case == "stage_boundary":
        ov["stages"] = [{"name": "a", "epochs": 1}, {"name": "b", "epochs": 2, "optim": {"type": "adam", "lr": 0.01}}]
        stop = 4  # first iteration of epoch 2 (stage b); last checkpoint: end of epoch 1 (stage a)
    elif case == "unfreeze_keep_momentum":
        ov.update({"epochs": 3, "freeze.frozen": ["backbone"], "freeze.unfreeze_epoch": 1, "freeze.unfreeze": ["backbone"],
                   "freeze.rebuild_optimizer": False})
        stop = 5
    else:
        ov.update({"epochs": 2, "checkpoint_iters": 2})
        stop = 5  # epoch 2, iteration 2; last checkpoint after its 2nd iteration... (1 epoch + 2 its)
    cfg = tiny_config(got_root, **ov)
    ref = _trainer(cfg, tmp_path / "ref", TinyActor)
    ref.train()
    InterruptingActor.stop_at = stop
    try:
        with pytest.raises(_Interrupt):
            _trainer(cfg, tmp_path / "run", InterruptingActor).train()
    finally:
        InterruptingActor.stop_at = None
    again = _trainer(cfg, tmp_path / "run", TinyActor)
    again.train(resume=True)
    a, b = net_state(again.net), net_state(ref.net)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert type(again.optimizer) is type(ref.optimizer)
