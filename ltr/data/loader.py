"""Data loading in worker processes, deterministic across workers, ranks and resumes.

The global sample index of iteration ``k`` is ``k * B + j`` (``B`` = global
batch, ``j < B``); with ``W`` DDP ranks, rank ``r`` takes the contiguous slice
``j in [r * B/W, (r + 1) * B/W)``.  A run with 2 ranks therefore sees exactly
the samples of a 1-rank run with the same global batch, and resuming at
iteration ``k`` just starts the index stream at ``k``.
"""
from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler
from torch.utils.data._utils.collate import default_collate
from torch.utils.data._utils.pin_memory import pin_memory as pin_batch

__all__ = ["EpochIndexSampler", "ThreadBatchLoader", "collate_samples", "worker_init_fn", "make_loader"]


class EpochIndexSampler(Sampler):
    """Yields ``(epoch, global_index)`` for this rank, iterations ``[start_iter, num_iters)``."""

    def __init__(self, epoch: int, num_iters: int, global_batch: int, rank: int = 0, world_size: int = 1,
                 start_iter: int = 0):
        if global_batch % world_size:
            raise ValueError(f"global batch {global_batch} is not divisible by the number of processes {world_size}")
        self.epoch, self.num_iters, self.global_batch = int(epoch), int(num_iters), int(global_batch)
        self.rank, self.world_size, self.start_iter = int(rank), int(world_size), int(start_iter)
        self.local_batch = global_batch // world_size

    def __iter__(self) -> Iterator[Tuple[int, int]]:
        for k in range(self.start_iter, self.num_iters):
            base = k * self.global_batch + self.rank * self.local_batch
            for j in range(self.local_batch):
                yield (self.epoch, base + j)

    def __len__(self) -> int:
        return max(0, self.num_iters - self.start_iter) * self.local_batch


def collate_samples(samples: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Stack tensors; keys starting with '_' are gathered as flat lists (bad-sample reports, meta)."""
    meta: Dict[str, list] = {}
    clean = []
    for s in samples:
        c = {}
        for k, v in s.items():
            if k.startswith("_"):
                meta.setdefault(k, [])
                meta[k].extend(v if isinstance(v, list) else [v])
            else:
                c[k] = v
        clean.append(c)
    out = default_collate(clean)
    out.update(meta)
    return out


def worker_init_fn(worker_id: int) -> None:
    """Seed global RNGs deterministically (samples use their own generators) and keep workers single-threaded."""
    info = torch.utils.data.get_worker_info()
    seed = (info.seed if info is not None else worker_id) % (2 ** 32)
    np.random.seed(seed)
    random.seed(seed)
    torch.set_num_threads(1)
    try:
        import cv2

        cv2.setNumThreads(1)
    except Exception:
        pass


class ThreadBatchLoader:
    """Builds each batch in the calling process with a pool of threads, one batch at a time.

    Nothing is prefetched: the threads run only while the training loop waits for its next batch, so they
    never compete with the network's compute threads (a worker process on a 2-core CPU does). Samples are
    drawn from ``(epoch, index)`` seeds, so the batches equal those of any ``DataLoader`` over the sampler.
    """

    def __init__(self, dataset, sampler: EpochIndexSampler, threads: int,
                 collate_fn: Callable[[List[Dict[str, Any]]], Dict[str, Any]] = collate_samples,
                 pin_memory: bool = False):
        if threads < 1:
            raise ValueError(f"ThreadBatchLoader: threads must be >= 1, got {threads}")
        self.dataset, self.sampler, self.threads, self.collate_fn = dataset, sampler, int(threads), collate_fn
        self.batch_size = sampler.local_batch
        self.pin_memory = bool(pin_memory)

    def __len__(self) -> int:
        return -(-len(self.sampler) // self.batch_size)

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        indices = iter(self.sampler)
        with ThreadPoolExecutor(self.threads, thread_name_prefix="sotlab-data") as pool:
            while True:
                chunk = list(islice(indices, self.batch_size))
                if not chunk:
                    return
                # map() re-raises a sample's exception here, in the training loop, with its traceback
                batch = self.collate_fn(list(pool.map(self.dataset.__getitem__, chunk)))
                # the same pinning DataLoader applies to its workers' batches (nested lists and dicts too)
                yield pin_batch(batch) if self.pin_memory else batch


def make_loader(dataset, epoch: int, num_iters: int, global_batch: int, num_workers: int, rank: int = 0,
                world_size: int = 1, start_iter: int = 0, seed: int = 0, pin_memory: bool = False,
                prefetch_factor: Optional[int] = None, threads: int = 1) -> Union[DataLoader, ThreadBatchLoader]:
    """Loader for one epoch of one rank (batches of ``global_batch // world_size``).

    ``threads > 1`` (only with ``num_workers == 0``): a :class:`ThreadBatchLoader` instead of a DataLoader.
    """
    sampler = EpochIndexSampler(epoch, num_iters, global_batch, rank, world_size, start_iter)
    if threads > 1:
        if num_workers:
            raise ValueError(f"make_loader: threads={threads} needs num_workers=0 (got {num_workers})")
        return ThreadBatchLoader(dataset, sampler, threads, pin_memory=pin_memory)
    g = torch.Generator()
    g.manual_seed(seed * 1000003 + epoch * 101 + rank)
    kw: Dict[str, Any] = {}
    if num_workers > 0:
        kw["worker_init_fn"] = worker_init_fn
        if prefetch_factor is not None:
            kw["prefetch_factor"] = prefetch_factor
    return DataLoader(dataset, batch_size=sampler.local_batch, sampler=sampler, num_workers=num_workers,
                      collate_fn=collate_samples, pin_memory=pin_memory, drop_last=False, generator=g, **kw)
