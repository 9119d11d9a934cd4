"""Freezing rules, parameter groups and LR schedules (pure functions of the config).

Everything here is deterministic in ``(config, stage, epoch)``, which is what
lets a resumed run rebuild exactly the optimiser layout it checkpointed.
"""
from __future__ import annotations

import math
from typing import Dict, Iterable, List, Sequence, Tuple

import torch
from torch import nn

from ltr.admin.train_config import FreezeConfig, OptimConfig, ScheduleConfig, StageConfig

__all__ = [
    "matches",
    "TrainableRule",
    "apply_trainable",
    "frozen_bn_modules",
    "set_frozen_bn_eval",
    "param_groups",
    "build_optimizer",
    "lr_at",
    "set_lr",
]


def matches(name: str, prefix: str) -> bool:
    """Dotted-prefix match: ``backbone`` matches ``backbone.layer1.0.conv1.weight`` but not ``backbone2.x``;
    ``''`` or ``'*'`` matches everything."""
    if prefix in ("", "*"):
        return True
    return name == prefix or name.startswith(prefix + ".")


def _any(name: str, prefixes: Iterable[str]) -> bool:
    return any(matches(name, p) for p in prefixes)


class TrainableRule:
    """Which parameter names train in ``stage`` at stage-epoch ``epoch``.

    Start from ``stage.trainable`` (None = everything), remove ``freeze.frozen``,
    then add ``freeze.unfreeze`` once ``epoch >= freeze.unfreeze_epoch``.
    """

    def __init__(self, stage: StageConfig, epoch: int):
        fz = stage.freeze or FreezeConfig()
        self.trainable = stage.trainable
        self.frozen = list(fz.frozen)
        self.unfrozen = list(fz.unfreeze) if fz.unfreeze_epoch is not None and epoch >= fz.unfreeze_epoch else []

    def __call__(self, name: str) -> bool:
        if _any(name, self.unfrozen):
            return True
        if self.trainable is not None and not _any(name, self.trainable):
            return False
        return not _any(name, self.frozen)

    def check_prefixes(self, names: Sequence[str], where: str) -> None:
        """A prefix that matches no parameter is almost certainly a typo: fail loudly."""
        for kind, pref in (("trainable", self.trainable or []), ("freeze.frozen", self.frozen), ("freeze.unfreeze", self.unfrozen)):
            for p in pref:
                if not any(matches(n, p) for n in names):
                    tops = sorted({n.split(".")[0] for n in names})
                    raise ValueError(f"{where}: {kind} prefix '{p}' matches no parameter of the network "
                                     f"(top-level modules: {', '.join(tops)})")


def apply_trainable(net: nn.Module, rule: TrainableRule) -> Tuple[List[str], List[str]]:
    """Set ``requires_grad`` from ``rule``; returns (trainable names, frozen names)."""
    tr, fr = [], []
    for n, p in net.named_parameters():
        on = rule(n)
        p.requires_grad_(on)
        (tr if on else fr).append(n)
    return tr, fr


def frozen_bn_modules(net: nn.Module, rule: TrainableRule) -> List[str]:
    """Names of BatchNorm modules whose parameters are all frozen (non-affine BN: by its name)."""
    out = []
    for name, m in net.named_modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            params = list(m.named_parameters(recurse=False))
            if params:
                frozen = not any(rule(f"{name}.{pn}" if name else pn) for pn, _ in params)
            else:
                frozen = not rule(f"{name}.running_mean" if name else "running_mean")
            if frozen:
                out.append(name)
    return out


def set_frozen_bn_eval(net: nn.Module, names: Iterable[str]) -> None:
    mods = dict(net.named_modules())
    for n in names:
        mods[n].eval()


def param_groups(net: nn.Module, optim: OptimConfig) -> List[Dict]:
    """Trainable parameters grouped by LR multiplier (longest matching ``lr_mult`` prefix) and decay."""
    groups: Dict[Tuple[float, bool], Dict] = {}
    prefixes = sorted(optim.lr_mult, key=len, reverse=True)
    for n, p in net.named_parameters():
        if not p.requires_grad:
            continue
        mult = 1.0
        for pref in prefixes:
            if matches(n, pref):
                mult = float(optim.lr_mult[pref])
                break
        decay = True
        if optim.no_decay_norm_bias and (p.ndim <= 1):
            decay = False
        key = (mult, decay)
        if key not in groups:
            groups[key] = {"params": [], "names": [], "lr_mult": mult,
                           "weight_decay": optim.weight_decay if decay else 0.0}
        groups[key]["params"].append(p)
        groups[key]["names"].append(n)
    return [groups[k] for k in sorted(groups, key=lambda k: (-k[0], not k[1]))]


def build_optimizer(net: nn.Module, optim: OptimConfig) -> torch.optim.Optimizer:
    groups = param_groups(net, optim)
    if not groups:
        raise ValueError("no trainable parameters (check train.freeze / train.stages[].trainable)")
    for g in groups:
        g["lr"] = optim.lr * g["lr_mult"]
    # 'names' is kept in the groups for logging; torch tolerates extra keys
    if optim.type == "sgd":
        return torch.optim.SGD(groups, lr=optim.lr, momentum=optim.momentum, nesterov=optim.nesterov,
                               weight_decay=optim.weight_decay)
    if optim.type == "adam":
        return torch.optim.Adam(groups, lr=optim.lr, betas=tuple(optim.betas), weight_decay=optim.weight_decay)
    if optim.type == "adamw":
        return torch.optim.AdamW(groups, lr=optim.lr, betas=tuple(optim.betas), weight_decay=optim.weight_decay)
    raise ValueError(f"unknown optimiser '{optim.type}'")


def lr_at(base_lr: float, sch: ScheduleConfig, epoch: float, num_epochs: int) -> float:
    """Peak-LR-relative schedule at (possibly fractional) stage epoch ``epoch`` (0-based).

    Warm-up covers epochs ``[0, warmup_epochs)``; ``step``/``milestones`` count from the
    stage start (as torch's StepLR/MultiStepLR stepped once per epoch); ``cosine`` and
    ``log`` span the epochs after the warm-up, ``log`` reaching ``end_lr`` in the last epoch.
    """
    W = sch.warmup_epochs
    if epoch < W:
        t = epoch / W
        if sch.warmup_kind == "geometric":
            return sch.warmup_start_lr * (base_lr / sch.warmup_start_lr) ** t
        return sch.warmup_start_lr + (base_lr - sch.warmup_start_lr) * t
    if sch.type == "constant":
        return base_lr
    if sch.type == "step":
        if sch.milestones:
            k = sum(1 for m in sch.milestones if epoch >= m)
        else:
            k = int(math.floor(epoch / sch.step_size))
        return base_lr * sch.gamma ** k
    e2, n2 = epoch - W, num_epochs - W
    if sch.type == "cosine":
        if n2 <= 0:
            return base_lr
        return sch.end_lr + (base_lr - sch.end_lr) * 0.5 * (1.0 + math.cos(math.pi * min(e2 / n2, 1.0)))
    if sch.type == "log":
        if n2 <= 1:
            return base_lr
        return base_lr * (sch.end_lr / base_lr) ** (min(e2, n2 - 1) / (n2 - 1))
    raise ValueError(f"unknown schedule '{sch.type}'")


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for g in optimizer.param_groups:
        g["lr"] = lr * g.get("lr_mult", 1.0)
