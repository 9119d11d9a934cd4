"""Wire a registered tracker's config into datasets, sampler, processing, network, actor and trainer.

Tracker plug-in points (no tracker code lives in the core):

* ``TRACKERS`` meta ``network`` -> ``NETWORKS`` builder ``fn(cfg.model) -> nn.Module``;
* ``TRACKERS`` meta ``actor`` -> ``ACTORS`` class ``actor_cls(net, cfg)``;
* processing, first that exists:
    1. ``TRACKERS`` meta ``processing``: ``fn(cfg) -> processing``;
    2. ``actor_cls.make_processing(cfg) -> processing``;
    3. default :class:`ltr.data.processing.TrackingProcessing` over ``cfg.train.processing``
       plus ``actor_cls.make_labels(cfg)`` if the actor defines it.
  A processing is ``fn(raw: RawSample, rng: np.random.Generator) -> dict of tensors`` and must
  take all randomness from ``rng`` (that keeps resume/DDP exact).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

import torch

from ltr.admin.config import config_to_dict
from ltr.admin.registry import ACTORS, NETWORKS, TRACKERS
from ltr.admin.train_config import DatasetSpec, TrainConfig
from ltr.data.processing import TrackingProcessing
from ltr.data.sampler import TrackingSampler
from ltr.dataset.base import TrainDataset, build_train_dataset

from .trainer import Trainer

__all__ = ["build_datasets", "make_processing", "build_samplers", "build_trainer", "run_dirs", "train_seed"]


def build_datasets(specs: Sequence[DatasetSpec]) -> Tuple[List[TrainDataset], List[float], List[Optional[int]]]:
    ds, w, gaps = [], [], []
    for sp in specs:
        ds.append(build_train_dataset(sp.name, sp.split, sp.options))
        w.append(sp.weight)
        gaps.append(sp.max_gap)
    return ds, w, gaps


def make_processing(tracker: Optional[str], cfg: Any, actor_cls: Any) -> Callable:
    meta = TRACKERS.meta(tracker) if tracker is not None else {}
    fn = meta.get("processing")
    if fn is not None:
        return fn(cfg)
    if hasattr(actor_cls, "make_processing"):
        return actor_cls.make_processing(cfg)
    labels = actor_cls.make_labels(cfg) if hasattr(actor_cls, "make_labels") else None
    return TrackingProcessing(cfg.train.processing, mode=cfg.train.data.sampler, labels=labels)


def train_seed(cfg: Any) -> int:
    tr: TrainConfig = cfg.train
    return int(tr.seed if tr.seed is not None else getattr(cfg, "seed", 0))


def build_samplers(cfg: Any, processing: Callable) -> Tuple[TrackingSampler, Optional[TrackingSampler]]:
    tr: TrainConfig = cfg.train
    seed = train_seed(cfg)
    ds, w, gaps = build_datasets(tr.data.datasets)
    train = TrackingSampler(ds, w, tr.data, processing, seed=seed, max_gaps=gaps)
    val = None
    if tr.data.val_datasets:
        vds, vw, vgaps = build_datasets(tr.data.val_datasets)
        val = TrackingSampler(vds, vw, tr.data, processing, seed=seed + 7777, max_gaps=vgaps,
                              samples_per_epoch=max(tr.data.val_samples, tr.batch_size))
    return train, val


def run_dirs(workspace: Path, tracker: str, config_name: str) -> Tuple[Path, Path]:
    """(checkpoint dir, log dir) of a run."""
    return workspace / "checkpoints" / tracker / config_name, workspace / "logs" / tracker / config_name


def build_trainer(tracker: str, cfg: Any, config_name: str, *, workspace: Path, device: Union[str, torch.device] = "cpu",
                  max_iters_per_epoch: Optional[int] = None, progress: Optional[bool] = None,
                  tensorboard: bool = True) -> Trainer:
    """Everything needed for ``trainer.train()`` from a tracker name and its loaded config."""
    meta = TRACKERS.meta(tracker)
    if not meta.get("network"):
        raise ValueError(f"tracker '{tracker}' has no 'network' in its registration; cannot train it")
    if not meta.get("actor"):
        raise ValueError(f"tracker '{tracker}' has no 'actor' in its registration (TRACKERS.register(..., actor=NAME)); "
                         f"it cannot be trained")
    if not isinstance(getattr(cfg, "train", None), TrainConfig):
        raise TypeError(f"tracker '{tracker}': cfg.train must be a TrainConfig (sub)class, got {type(getattr(cfg, 'train', None))}")
    seed = train_seed(cfg)
    torch.manual_seed(seed)  # identical initial weights on every rank
    net = NETWORKS.get(meta["network"])(cfg.model)
    actor_cls = ACTORS.get(meta["actor"])
    processing = make_processing(tracker, cfg, actor_cls)
    train_data, val_data = build_samplers(cfg, processing)
    actor = actor_cls(net, cfg)
    ck_dir, log_dir = run_dirs(Path(workspace), tracker, config_name)
    return Trainer(net, actor, cfg.train, train_data, val_data=val_data, device=device, checkpoint_dir=ck_dir,
                   log_dir=log_dir, meta={"tracker": tracker, "config_name": config_name, "config": config_to_dict(cfg)},
                   seed=seed, max_iters_per_epoch=max_iters_per_epoch, progress=progress, tensorboard=tensorboard,
                   net_type=meta["network"])
