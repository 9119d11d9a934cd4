"""Thin helpers around ``torch.distributed`` (DDP through torchrun; gloo on CPU, nccl on CUDA)."""
from __future__ import annotations

import os
from typing import Tuple

import torch
import torch.distributed as dist

__all__ = ["init_distributed", "is_dist", "rank", "world_size", "barrier", "all_reduce_mean", "all_reduce_sum",
           "all_reduce_max", "cleanup"]


def init_distributed(device_type: str) -> Tuple[int, int, int]:
    """Initialise from torchrun's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``).

    Returns ``(rank, world_size, local_rank)``; a no-op (0, 1, 0) outside torchrun.
    """
    ws = int(os.environ.get("WORLD_SIZE", "1"))
    if ws <= 1:
        return 0, 1, 0
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if backend == "nccl":
            torch.cuda.set_device(local)
        dist.init_process_group(backend=backend)
    return dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0"))


def is_dist() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_dist() else 0


def world_size() -> int:
    return dist.get_world_size() if is_dist() else 1


def barrier() -> None:
    if is_dist():
        dist.barrier()


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    if is_dist():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def all_reduce_mean(t: torch.Tensor) -> torch.Tensor:
    if is_dist():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        t /= dist.get_world_size()
    return t


def all_reduce_max(t: torch.Tensor) -> torch.Tensor:
    if is_dist():
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return t


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
