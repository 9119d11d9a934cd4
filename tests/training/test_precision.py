"""Mixed precision (ltr/trainers/precision.py): bf16 autocast on CPU, float32 losses and parameters."""
from __future__ import annotations

import sys
from collections import namedtuple
from pathlib import Path

import pytest
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from _training_fixtures import TinyActor, TinyNet, net_state, tiny_config  # noqa: E402

from ltr.trainers import precision as P  # noqa: E402
from ltr.trainers.builder import build_samplers, make_processing  # noqa: E402
from ltr.trainers.trainer import Trainer  # noqa: E402


pytestmark = pytest.mark.usefixtures("tiny_registered")


def test_to_float32_casts_reduced_floats_only():
    NT = namedtuple("NT", "a b")
    x = {"s": torch.ones(2, dtype=torch.bfloat16), "l": [torch.ones(1, dtype=torch.float16), torch.ones(1, dtype=torch.long)],
         "t": NT(torch.ones(1, dtype=torch.float64), torch.ones(1, dtype=torch.bool)), "n": 3}
    y = P.to_float32(x)
    assert y["s"].dtype == torch.float32 and y["l"][0].dtype == torch.float32
    assert y["l"][1].dtype == torch.long and y["t"].a.dtype == torch.float64 and y["t"].b.dtype == torch.bool
    assert isinstance(y["t"], NT) and y["n"] == 3


class _ConvHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.seen = []
        self.conv.register_forward_hook(lambda m, i, o: self.seen.append(o.dtype))

    def forward(self, x):
        y = self.conv(x)
        return {"score": y.mean((2, 3)), "raw": y}


def test_wrap_forward_runs_the_network_in_bf16_and_returns_float32():
    torch.manual_seed(0)
    net = _ConvHead()
    x = torch.randn(2, 3, 12, 12)
    ref = net(x)
    assert net.seen == [torch.float32]
    P.wrap_forward(net, "cpu", torch.bfloat16)
    P.wrap_forward(net, "cpu", torch.bfloat16)  # idempotent: still one autocast layer, same original forward
    out = net(x)
    assert net.seen[-1] == torch.bfloat16  # the convolution ran in bfloat16
    assert out["raw"].dtype == torch.float32 and out["score"].dtype == torch.float32
    # bf16 has an 8-bit mantissa: ~0.4 % relative error per rounding, a few roundings deep here
    err = ((out["raw"] - ref["raw"]).abs().max() / ref["raw"].abs().max()).detach()
    assert 0 < float(err) < 3e-2
    # parameters and their gradients stay float32
    out["score"].sum().backward()
    assert all(p.dtype == torch.float32 and p.grad.dtype == torch.float32 for p in net.parameters())
    assert set(net.state_dict()) == {"conv.weight", "conv.bias"}


def test_resolve_amp_dtype(monkeypatch):
    cpu = torch.device("cpu")
    assert P.resolve_amp_dtype(False, "auto", cpu) is None
    monkeypatch.setattr(P, "cpu_bf16_supported", lambda: True)
    assert P.resolve_amp_dtype(True, "auto", cpu) is torch.bfloat16
    assert P.resolve_amp_dtype(True, "bfloat16", cpu) is torch.bfloat16
    with pytest.raises(ValueError, match="float16"):
        P.resolve_amp_dtype(True, "float16", cpu)
    with pytest.raises(ValueError, match="amp_dtype"):
        P.resolve_amp_dtype(True, "int8", cpu)
    monkeypatch.setattr(P, "cpu_bf16_supported", lambda: False)
    with pytest.warns(UserWarning, match="no native bfloat16"):
        assert P.resolve_amp_dtype(True, "auto", cpu) is None


def _one_step(got_root, tmp_path, amp, channels_last=False):
    cfg = tiny_config(got_root, epochs=1, amp=amp, channels_last=channels_last, **{"data.samples_per_epoch": 4, "optim.lr": 0.5,
                                                      "optim.momentum": 0.0})
    torch.manual_seed(0)
    net = TinyNet(cfg.model)
    proc = make_processing("_tiny_test", cfg, TinyActor)
    train, val = build_samplers(cfg, proc)
    tr = Trainer(net, TinyActor(net, cfg), cfg.train, train, val_data=val, checkpoint_dir=tmp_path / "ck",
                 log_dir=tmp_path / "log", meta={"tracker": "_tiny_test", "config_name": "t"}, progress=False,
                 tensorboard=False)
    before = net_state(tr.net)
    tr.train()
    after = net_state(tr.net)
    return tr, {k: after[k] - before[k] for k in before}


def test_trainer_bf16_step_matches_the_float32_step(got_root, tmp_path, monkeypatch):
    """One SGD step with bf16 autocast moves the float32 weights like the float32 step does (same data, same seed)."""
    monkeypatch.setattr(P, "cpu_bf16_supported", lambda: True)
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        tr32, d32 = _one_step(got_root, tmp_path / "f32", amp=False)
        tr16, d16 = _one_step(got_root, tmp_path / "bf16", amp=True)
    finally:
        torch.set_num_threads(n)
    assert tr32.amp_dtype is None and tr16.amp_dtype is torch.bfloat16
    assert not tr16.scaler.is_enabled()  # bfloat16 needs no loss scaling
    num = torch.sqrt(sum(((d16[k] - d32[k]) ** 2).sum() for k in d32))
    den = torch.sqrt(sum((d32[k] ** 2).sum() for k in d32))
    assert float(den) > 0
    assert float(num / den) < 0.05
    assert any(float((d16[k] - d32[k]).abs().max()) > 0 for k in d32)  # and it really ran in reduced precision
    assert all(v.dtype == torch.float32 for v in net_state(tr16.net).values() if v.is_floating_point())


def test_channels_last_forward_equals_the_plain_forward():
    torch.manual_seed(1)
    net = _ConvHead()
    x = torch.randn(2, 3, 12, 12)
    ref = net(x)
    P.wrap_forward(net, "cpu", None, channels_last=True)
    assert net.conv.weight.is_contiguous(memory_format=torch.channels_last)
    out = net(x)
    assert out["raw"].is_contiguous(memory_format=torch.channels_last)  # the conv really ran channels-last
    assert net.seen[-1] == torch.float32
    torch.testing.assert_close(out["raw"], ref["raw"], rtol=1e-5, atol=1e-5)


def test_trainer_channels_last_step_matches_the_plain_step(got_root, tmp_path):
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _, d0 = _one_step(got_root, tmp_path / "plain", amp=False)
        tr, d1 = _one_step(got_root, tmp_path / "cl", amp=False, channels_last=True)
    finally:
        torch.set_num_threads(n)
    assert tr.net.backbone[0].weight.is_contiguous(memory_format=torch.channels_last)
    for k in d0:
        torch.testing.assert_close(d1[k], d0[k], rtol=1e-4, atol=1e-6)
