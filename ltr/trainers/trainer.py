"""The training loop shared by every tracker.

The trainer knows nothing about trackers: it gets a network, an *actor* and
two sample sources.  Actor interface (registered in ``ACTORS``)::

    class MyActor:
        def __init__(self, net, cfg): ...            # cfg: the tracker's root config (.model, .train, ...)
        def __call__(self, batch) -> (loss, stats)   # batch: dict of tensors (batch-first) on the device
        # optional:
        def set_stage(self, stage: StageConfig, index: int) -> None   # multi-stage loss weights etc.
        def set_epoch(self, epoch: int) -> None
        @classmethod make_processing(cls, cfg) -> callable(RawSample, np.random.Generator) -> dict
        @classmethod make_labels(cls, cfg) -> callable(sample_dict, np.random.Generator) -> dict

``loss`` is a scalar tensor averaged over the (per-process) batch; ``stats``
maps names to floats or 0-d tensors (logged per term).  The actor must use
``self.net`` (the trainer may wrap the call in DDP, never replaces ``net``).

Features: stages, freezing/unfreezing by epoch (frozen BN kept in eval mode
unless ``freeze.bn_eval_frozen: false``), per-group LR, gradient clipping,
loss-based step skipping, mixed precision (float16 on CUDA, bfloat16 on CPUs
that have it) and channels-last, DDP, atomic checkpoints with exact resume
(also mid-epoch), TensorBoard + text log + tqdm.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import torch
from torch import nn

from ltr.admin.checkpoint import (checkpoint_name, get_rng_state, latest_checkpoint, load_checkpoint,
                                  prune_checkpoints, save_checkpoint, set_rng_state, FORMAT_VERSION, CheckpointError)
from ltr.admin.train_config import StageConfig, TrainConfig
from ltr.data.loader import make_loader

from . import distributed as D
from .logger import TrainLogger
from .precision import wrap_forward, resolve_amp_dtype
from .optim import (TrainableRule, apply_trainable, build_optimizer, frozen_bn_modules, lr_at, set_frozen_bn_eval,
                    set_lr)

__all__ = ["Trainer", "TrainState", "ActorModule", "move_to_device"]


def move_to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: move_to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to_device(v, device) for v in batch)
    return batch


class ActorModule(nn.Module):
    """Makes ``actor(batch)`` the forward of a module that owns ``net``, so DDP can wrap it even when
    the actor calls sub-modules of the network directly."""

    def __init__(self, actor: Any, net: nn.Module):
        super().__init__()
        self.net = net
        self._actor = [actor]  # a list: not registered, its parameters are the net's

    @property
    def actor(self) -> Any:
        return self._actor[0]

    def forward(self, batch: Dict[str, Any]):
        return self.actor(batch)


@dataclass
class TrainState:
    epoch: int = 0  # completed epochs (global, across stages)
    iteration: int = 0  # iterations already done in epoch `epoch`
    global_step: int = 0
    bad_samples: int = 0
    last_stats: Dict[str, float] = field(default_factory=dict)


class Trainer:
    def __init__(self, net: nn.Module, actor: Any, train_cfg: TrainConfig, train_data: Any, *,
                 val_data: Any = None, device: Union[str, torch.device] = "cpu",
                 checkpoint_dir: Optional[Union[str, Path]] = None, log_dir: Optional[Union[str, Path]] = None,
                 meta: Optional[Dict[str, Any]] = None, seed: int = 0, max_iters_per_epoch: Optional[int] = None,
                 progress: Optional[bool] = None, tensorboard: bool = True, net_type: Optional[str] = None):
        self.net = net
        self.actor = actor
        self.cfg = train_cfg
        self.train_data = train_data
        self.val_data = val_data
        self.device = torch.device(device)
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.meta = dict(meta or {})
        self.seed = int(seed)
        self.max_iters = max_iters_per_epoch
        self.rank, self.world_size = D.rank(), D.world_size()
        self.log = TrainLogger(Path(log_dir) if log_dir is not None else None, self.rank, tensorboard, progress)
        self.net_type = net_type or self.meta.get("tracker") or type(net).__name__
        if self.cfg.batch_size % self.world_size:
            raise ValueError(f"train.batch_size={self.cfg.batch_size} must be divisible by the number of processes "
                             f"({self.world_size}); it is the global batch")
        # mixed precision: the network's forward runs under autocast, losses stay float32 (see precision.py)
        self.amp_dtype = resolve_amp_dtype(bool(self.cfg.amp), getattr(self.cfg, "amp_dtype", "auto"), self.device)
        self.amp = self.amp_dtype is not None
        if self.amp or self.cfg.channels_last:
            wrap_forward(self.net, self.device.type, self.amp_dtype, channels_last=bool(self.cfg.channels_last))
        use_scaler = self.amp and self.amp_dtype == torch.float16
        self.scaler = torch.amp.GradScaler(self.device.type if use_scaler else "cuda", enabled=use_scaler)
        self.stages: List[StageConfig] = self.cfg.resolved_stages()
        self._stage_start = [0]
        for st in self.stages:
            self._stage_start.append(self._stage_start[-1] + st.epochs)
        self.total_epochs = self._stage_start[-1]
        self.state = TrainState()
        self.net.to(self.device)
        self.module = ActorModule(actor, net)
        self.ddp_module: nn.Module = self.module
        self.optimizer: Optional[torch.optim.Optimizer] = None
        self._cur: Optional[Tuple[int, Tuple[str, ...]]] = None  # (stage, trainable names) of the live optimiser
        self._frozen_bn: List[str] = []
        self.last_checkpoint: Optional[Path] = None
        if self.cfg.deterministic:
            torch.backends.cudnn.deterministic = True
            torch.backends.cudnn.benchmark = False
            torch.use_deterministic_algorithms(True, warn_only=True)

    # ----------------------------------------------------------------- stage / parameters
    def locate(self, global_epoch: int) -> Tuple[int, int]:
        for i in range(len(self.stages)):
            if global_epoch < self._stage_start[i + 1]:
                return i, global_epoch - self._stage_start[i]
        raise ValueError(f"epoch {global_epoch} beyond the {self.total_epochs} configured epochs")

    def iters_per_epoch(self) -> int:
        n = self.cfg.iters_per_epoch()
        return min(n, self.max_iters) if self.max_iters else n

    def _setup_params(self, stage_idx: int, epoch_in_stage: int) -> bool:
        """(Re)build freezing, optimiser and DDP wrapper if the trainable set changed. True if rebuilt."""
        stage = self.stages[stage_idx]
        rule = TrainableRule(stage, epoch_in_stage)
        names = [n for n, _ in self.net.named_parameters()]
        rule.check_prefixes(names, f"train stage '{stage.name}'")
        trainable = tuple(n for n in names if rule(n))
        key = (stage_idx, trainable)
        if self._cur == key:
            return False
        old_opt, same_stage = self.optimizer, self._cur is not None and self._cur[0] == stage_idx
        apply_trainable(self.net, rule)
        fz = stage.freeze
        self._frozen_bn = frozen_bn_modules(self.net, rule) if (fz is None or fz.bn_eval_frozen) else []
        self.optimizer = build_optimizer(self.net, stage.optim)
        if old_opt is not None and same_stage and fz is not None and not fz.rebuild_optimizer:
            # keep momentum / Adam moments of parameters that stay trainable
            for p, st in old_opt.state.items():
                if p.requires_grad:
                    self.optimizer.state[p] = st
        if self.world_size > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.ddp_module = DDP(self.module, device_ids=ids, find_unused_parameters=self.cfg.ddp_find_unused)
        else:
            self.ddp_module = self.module
        if self._cur is None or self._cur[0] != stage_idx:
            if hasattr(self.actor, "set_stage"):
                self.actor.set_stage(stage, stage_idx)
        n_tr = sum(p.numel() for p in self.net.parameters() if p.requires_grad)
        n_all = sum(p.numel() for p in self.net.parameters())
        self.log.info(f"stage '{stage.name}' epoch {epoch_in_stage}: {n_tr:,}/{n_all:,} parameters trainable in "
                      f"{len(self.optimizer.param_groups)} group(s) (lr x {[g['lr_mult'] for g in self.optimizer.param_groups]}); "
                      f"{len(self._frozen_bn)} frozen BatchNorm layer(s) in eval mode")
        self._cur = key
        return True

    def _set_train_mode(self, training: bool) -> None:
        self.module.train(training)
        if training and self._frozen_bn:
            set_frozen_bn_eval(self.net, self._frozen_bn)

    def _lr(self, stage_idx: int, epoch_f: float) -> float:
        st = self.stages[stage_idx]
        return lr_at(st.optim.lr, st.schedule, epoch_f, st.epochs)

    # ----------------------------------------------------------------- checkpoints
    def _rng_states(self) -> List[Dict[str, Any]]:
        """RNG states of every rank (collective: all ranks must call it)."""
        mine = get_rng_state()
        if self.world_size == 1:
            return [mine]
        import torch.distributed as dist

        out: List[Any] = [None] * self.world_size
        dist.all_gather_object(out, mine)
        return out

    def state_dict(self, rng_states: Optional[List[Dict[str, Any]]] = None) -> Dict[str, Any]:
        s = self.state
        rng_states = rng_states if rng_states is not None else [get_rng_state()]
        return {
            "format": FORMAT_VERSION,
            "net": {k: v.detach().cpu() for k, v in self.net.state_dict().items()},
            "optimizer": self.optimizer.state_dict() if self.optimizer is not None else None,
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
            "scheduler": {"stage": self.locate(min(s.epoch, self.total_epochs - 1))[0], "epoch": s.epoch},
            "epoch": s.epoch,
            "iteration": s.iteration,
            "global_step": s.global_step,
            "rng": rng_states[0],
            "rng_ranks": rng_states,
            "stats": {"bad_samples": s.bad_samples, "world_size": self.world_size, **{f"last_{k}": v for k, v in s.last_stats.items()}},
            "tracker": self.meta.get("tracker"),
            "config_name": self.meta.get("config_name"),
            "config": self.meta.get("config"),
            "net_type": self.net_type,
        }

    def save(self) -> Optional[Path]:
        if self.checkpoint_dir is None:
            return None
        path = None
        rng_states = self._rng_states()
        if self.rank == 0:
            path = self.checkpoint_dir / checkpoint_name(self.net_type, self.state.epoch, self.state.iteration)
            save_checkpoint(path, self.state_dict(rng_states))
            prune_checkpoints(self.checkpoint_dir, self.cfg.keep_last)
            self.last_checkpoint = path
        D.barrier()
        return path

    def load(self, path: Union[str, Path]) -> None:
        ck = load_checkpoint(path, map_location="cpu")
        for key in ("net", "epoch", "iteration"):
            if key not in ck:
                raise CheckpointError(f"{path}: not a training checkpoint (no '{key}')")
        self.net.load_state_dict(ck["net"])
        self.state = TrainState(epoch=int(ck["epoch"]), iteration=int(ck["iteration"]),
                                global_step=int(ck.get("global_step", 0)),
                                bad_samples=int((ck.get("stats") or {}).get("bad_samples", 0)))
        if self.state.epoch < self.total_epochs:
            # rebuild the optimiser exactly as it was when saved (the epoch in progress, or the one just
            # finished); the epoch loop then re-freezes / starts a new stage as an uninterrupted run would
            opt_epoch = self.state.epoch if self.state.iteration > 0 else max(self.state.epoch - 1, 0)
            self._cur = None
            self._setup_params(*self.locate(opt_epoch))
            if ck.get("optimizer") is not None:
                try:
                    self.optimizer.load_state_dict(ck["optimizer"])
                except (ValueError, KeyError) as e:
                    raise CheckpointError(f"{path}: optimiser state does not match the configured parameter groups "
                                          f"(config changed since the checkpoint?): {e}") from None
        if self.scaler.is_enabled() and ck.get("scaler"):
            self.scaler.load_state_dict(ck["scaler"])
        ranks = ck.get("rng_ranks") or []
        if len(ranks) == self.world_size:
            set_rng_state(ranks[self.rank])
        elif ck.get("rng"):
            # different number of processes than when saved: rank 0's stream, others offset deterministically
            set_rng_state(ck["rng"])
            if self.rank:
                torch.manual_seed(self.seed * 1000 + 17 + self.rank + 7919 * self.state.global_step)
        self.log.info(f"resumed from {path} (epoch {self.state.epoch}, iteration {self.state.iteration}, "
                      f"step {self.state.global_step})")

    # ----------------------------------------------------------------- main loop
    def train(self, resume: Union[bool, str, Path] = False) -> Dict[str, Any]:
        resumed = False
        if resume:
            path = None
            if isinstance(resume, (str, Path)) and not isinstance(resume, bool):
                path = Path(resume)
            elif self.checkpoint_dir is not None:
                path = latest_checkpoint(self.checkpoint_dir)
            if path is not None:
                self.load(path)
                resumed = True
            else:
                self.log.info("no checkpoint to resume from; starting a new run")
        if not resumed:
            torch.manual_seed(self.seed * 1000 + 17 + self.rank)
        self.log.info(f"training {self.meta.get('tracker', '')}/{self.meta.get('config_name', '')}: {self.total_epochs} epochs, "
                      f"{self.iters_per_epoch()} iterations/epoch, global batch {self.cfg.batch_size} on {self.world_size} "
                      f"process(es), device {self.device}, amp={self.amp_dtype if self.amp else False}")
        try:
            while self.state.epoch < self.total_epochs:
                self._train_epoch()
        finally:
            self.log.flush()
        self.log.info(f"done: {self.state.epoch} epochs, {self.state.global_step} steps, "
                      f"{self.state.bad_samples} bad sample(s) skipped")
        self.log.close()
        return {"epochs": self.state.epoch, "global_step": self.state.global_step, "bad_samples": self.state.bad_samples,
                "checkpoint": self.last_checkpoint, "last_stats": dict(self.state.last_stats)}

    def _train_epoch(self) -> None:
        cfg = self.cfg
        ge = self.state.epoch
        s, e = self.locate(ge)
        stage = self.stages[s]
        self._setup_params(s, e)
        if hasattr(self.actor, "set_epoch"):
            self.actor.set_epoch(ge)
        n_iters = self.iters_per_epoch()
        start = self.state.iteration
        if not stage.schedule.per_iter:
            set_lr(self.optimizer, self._lr(s, e))
        loader = make_loader(self.train_data, epoch=ge, num_iters=n_iters, global_batch=cfg.batch_size,
                             num_workers=cfg.num_workers, rank=self.rank, world_size=self.world_size,
                             start_iter=start, seed=self.seed, pin_memory=self.device.type == "cuda",
                             threads=cfg.data_threads)
        self._set_train_mode(True)
        params = [p for p in self.net.parameters() if p.requires_grad]
        acc: Dict[str, torch.Tensor] = {}
        acc_n = 0
        bad_since_log = 0
        t_last = time.perf_counter()
        t_window, wait_window, samples_window = 0.0, 0.0, 0
        bar = self.log.bar(n_iters, start, f"ep {ge + 1}/{self.total_epochs}")
        local_b = cfg.batch_size // self.world_size
        it = start
        for batch in loader:
            t_got = time.perf_counter()
            wait = t_got - t_last
            for rep in batch.pop("_bad", []):
                self.log.warning(rep)
                bad_since_log += 1
            if stage.schedule.per_iter:
                set_lr(self.optimizer, self._lr(s, e + it / n_iters))
            batch = move_to_device(batch, self.device)
            loss, stats = self.ddp_module(batch)
            if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
                raise TypeError(f"actor {type(self.actor).__name__} must return (scalar loss tensor, stats dict)")
            self.scaler.scale(loss).backward()
            skip = False
            if cfg.skip_loss_above is not None:
                lv = loss.detach().float()
                flag = (~torch.isfinite(lv) | (lv > cfg.skip_loss_above)).float().reshape(1)
                skip = bool(D.all_reduce_max(flag).item() > 0)
            if skip:
                self.log.warning(f"epoch {ge} iteration {it}: loss {float(loss.detach()):.4g} is non-finite or above "
                                 f"{cfg.skip_loss_above}; step skipped")
                self.optimizer.zero_grad(set_to_none=True)
            else:
                if cfg.grad_clip is not None:
                    self.scaler.unscale_(self.optimizer)
                    torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
                self.scaler.step(self.optimizer)
                self.scaler.update()
                self.optimizer.zero_grad(set_to_none=True)
            # ---- bookkeeping
            stats = dict(stats or {})
            stats.setdefault("loss", loss.detach())
            for k, v in stats.items():
                if isinstance(v, torch.Tensor):
                    if v.numel() != 1:
                        continue
                    v = v.detach().float().reshape(())
                else:
                    try:
                        v = torch.tensor(float(v))
                    except (TypeError, ValueError):
                        continue
                v = v.to(self.device)
                acc[k] = acc[k] + v if k in acc else v.clone()
            acc_n += 1
            it += 1
            self.state.iteration = it
            self.state.global_step += 1
            t_now = time.perf_counter()
            t_window += t_now - t_last
            wait_window += wait
            samples_window += local_b * self.world_size
            t_last = t_now
            bar.update(1)
            if it % cfg.log_interval == 0 or it == n_iters:
                self._log_window(acc, acc_n, bad_since_log, t_window, wait_window, samples_window, s, e, it, n_iters, bar)
                acc, acc_n, bad_since_log = {}, 0, 0
                t_window, wait_window, samples_window = 0.0, 0.0, 0
            if cfg.checkpoint_iters and it % cfg.checkpoint_iters == 0 and it < n_iters:
                self.save()
            t_last = time.perf_counter()
        bar.close()
        if it != n_iters:
            raise RuntimeError(f"data loader ended after {it} of {n_iters} iterations")
        # ---- end of epoch
        self.state.epoch += 1
        self.state.iteration = 0
        if self.val_data is not None and cfg.val_interval > 0 and self.state.epoch % cfg.val_interval == 0:
            self.validate(ge)
        if self.state.epoch % cfg.checkpoint_interval == 0 or self.state.epoch == self.total_epochs:
            self.save()

    def _log_window(self, acc, acc_n, bad, t_window, wait_window, samples, s, e, it, n_iters, bar) -> None:
        keys = sorted(acc)
        vec = torch.stack([acc[k] / max(acc_n, 1) for k in keys] + [torch.tensor(float(bad), device=self.device)]) \
            if keys else torch.tensor([float(bad)], device=self.device)
        if self.world_size > 1:
            bad_t = vec[-1:].clone()
            D.all_reduce_sum(bad_t)
            D.all_reduce_mean(vec)
            vec[-1] = bad_t[0]
        vals = vec.tolist()
        stats = dict(zip(keys, vals[:-1]))
        self.state.bad_samples += int(round(vals[-1]))
        self.state.last_stats = stats
        lr = self.optimizer.param_groups[0]["lr"] / max(self.optimizer.param_groups[0].get("lr_mult", 1.0), 1e-12)
        sps = samples / max(t_window, 1e-9)
        scal = {f"train/{k}": v for k, v in stats.items()}
        scal.update({"train/lr": lr, "perf/samples_per_s": sps, "perf/data_wait_frac": wait_window / max(t_window, 1e-9),
                     "perf/iter_time_s": t_window / max(acc_n, 1), "data/bad_samples": self.state.bad_samples})
        for i, g in enumerate(self.optimizer.param_groups):
            scal[f"lr/group{i}_x{g.get('lr_mult', 1.0):g}"] = g["lr"]
        self.log.scalars(scal, self.state.global_step)
        txt = " ".join(f"{k}={v:.4f}" for k, v in stats.items())
        bar.set_postfix_str(txt[:120], refresh=False)
        self.log.info(f"[ep {self.state.epoch + 1} {it}/{n_iters}] {txt} lr={lr:.3g} {sps:.1f} samples/s "
                      f"data-wait {100 * wait_window / max(t_window, 1e-9):.0f}% bad={self.state.bad_samples}",
                      echo=not self.log.progress)

    @torch.no_grad()
    def validate(self, epoch: int) -> Dict[str, float]:
        cfg = self.cfg
        n = max(1, cfg.data.val_samples // cfg.batch_size) if cfg.data.val_samples else 1
        if self.max_iters:
            n = min(n, self.max_iters)
        loader = make_loader(self.val_data, epoch=epoch, num_iters=n, global_batch=cfg.batch_size,
                             num_workers=cfg.num_workers, rank=self.rank, world_size=self.world_size, seed=self.seed + 1,
                             threads=cfg.data_threads)
        self._set_train_mode(False)
        acc: Dict[str, torch.Tensor] = {}
        cnt = 0
        for batch in loader:
            for rep in batch.pop("_bad", []):
                self.log.warning(f"(validation) {rep}")
            batch = move_to_device(batch, self.device)
            loss, stats = self.module(batch)
            stats = dict(stats or {})
            stats.setdefault("loss", loss)
            for k, v in stats.items():
                v = v.detach().float().reshape(()) if isinstance(v, torch.Tensor) and v.numel() == 1 else torch.tensor(float(v))
                v = v.to(self.device)
                acc[k] = acc[k] + v if k in acc else v.clone()
            cnt += 1
        keys = sorted(acc)
        out: Dict[str, float] = {}
        if keys:
            vec = D.all_reduce_mean(torch.stack([acc[k] / cnt for k in keys]))
            out = dict(zip(keys, vec.tolist()))
            self.log.scalars({f"val/{k}": v for k, v in out.items()}, self.state.global_step)
            self.log.info(f"[val ep {epoch + 1}] " + " ".join(f"{k}={v:.4f}" for k, v in out.items()))
        self._set_train_mode(True)
        return out
