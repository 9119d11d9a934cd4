"""Sample memory with learning-rate-based weights and lowest-weight replacement (pytracking/DiMP rule).

Weight update when a sample is inserted with learning rate ``lr`` (fcot.md §3.4, duml.md §3):

* memory empty or lr == 1: all weight on slot 0;
* the first insert after (re)initialisation: all old weights are divided by (1 − lr), the new sample gets lr;
* later inserts: the new sample gets (weight of the previously inserted sample) / (1 − lr);
* renormalise to sum 1;
* if ``init_min_weight`` > 0 and the initial samples' total fell below it: divide all weights by
  (init_min_weight + Σ non-initial weights) and set every initial sample to init_min_weight / num_init.
  (This is pytracking's formula; afterwards the total is not exactly 1, which is kept for fidelity.)

Replacement: free slots are filled first; once full, the lowest-weight slot is replaced, excluding the
initial samples when ``init_min_weight`` > 0 (with 0 they are replaceable, as at VOT settings).
"""
from __future__ import annotations

from typing import Dict, Optional

import torch

__all__ = ["SampleMemory", "update_sample_weights"]


def update_sample_weights(weights: torch.Tensor, prev_index: Optional[int], num_stored: int, num_init: int,
                          lr: float, init_min_weight: float = 0.0) -> int:
    """Update ``weights`` (1-D, in place) for one new sample; returns the slot index to write it to."""
    if not 0.0 < lr <= 1.0:
        raise ValueError(f"update_sample_weights: learning rate must be in (0, 1], got {lr}")
    protect = init_min_weight is not None and init_min_weight > 0
    start = num_init if protect else 0
    if num_stored == 0 or lr == 1.0:
        weights.zero_()
        weights[0] = 1.0
        idx = 0
    else:
        if num_stored < weights.shape[0]:
            idx = num_stored
        else:
            if start >= weights.shape[0]:
                raise ValueError(f"update_sample_weights: no replaceable slot (capacity {weights.shape[0]}, {num_init} protected)")
            idx = int(torch.argmin(weights[start:])) + start
        if prev_index is None:
            weights /= 1.0 - lr
            weights[idx] = lr
        else:
            weights[idx] = weights[prev_index] / (1.0 - lr)
    weights /= weights.sum()
    if protect and num_init > 0 and float(weights[:num_init].sum()) < init_min_weight:
        weights /= init_min_weight + weights[num_init:].sum()
        weights[:num_init] = init_min_weight / num_init
    return idx


class SampleMemory:
    """Fixed-capacity store of training samples (any number of named tensors per sample) with weights.

    ``initialize`` fills the first ``num_init`` slots (equal weights 1/num_init); ``insert`` adds one sample
    with a learning rate (normal or hard-negative); ``weights`` / ``get`` give the stored part.
    """

    def __init__(self, capacity: int, init_min_weight: float = 0.0) -> None:
        if capacity < 1:
            raise ValueError(f"SampleMemory: capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.init_min_weight = init_min_weight
        self._store: Dict[str, torch.Tensor] = {}
        self._weights: Optional[torch.Tensor] = None
        self.num_stored = 0
        self.num_init = 0
        self.prev_index: Optional[int] = None

    def initialize(self, samples: Dict[str, torch.Tensor], weights: Optional[torch.Tensor] = None) -> None:
        """Store the initial samples (first dim = sample index) and reset the weights."""
        n = {k: v.shape[0] for k, v in samples.items()}
        if len(set(n.values())) != 1:
            raise ValueError(f"SampleMemory.initialize: all entries need the same number of samples, got {n}")
        num = next(iter(n.values()))
        if num > self.capacity:
            raise ValueError(f"SampleMemory.initialize: {num} initial samples exceed capacity {self.capacity}")
        first = next(iter(samples.values()))
        self._store = {}
        for k, v in samples.items():
            buf = v.new_zeros((self.capacity,) + tuple(v.shape[1:]))
            buf[:num] = v
            self._store[k] = buf
        w = torch.zeros(self.capacity, dtype=torch.float64 if first.dtype == torch.float64 else torch.float32, device=first.device)
        w[:num] = (weights.to(w) / weights.sum()) if weights is not None else 1.0 / num
        self._weights = w
        self.num_stored = self.num_init = num
        self.prev_index = None

    def insert(self, sample: Dict[str, torch.Tensor], lr: float) -> int:
        """Insert one sample (tensors without the sample dim) with learning rate ``lr``; returns its slot."""
        if self._weights is None:
            raise RuntimeError("SampleMemory.insert: call initialize() first")
        if set(sample) != set(self._store):
            raise KeyError(f"SampleMemory.insert: keys {sorted(sample)} differ from stored {sorted(self._store)}")
        idx = update_sample_weights(self._weights, self.prev_index, self.num_stored, self.num_init, lr, self.init_min_weight)
        for k, v in sample.items():
            self._store[k][idx] = v
        self.num_stored = min(self.num_stored + 1, self.capacity)
        self.prev_index = idx
        return idx

    @property
    def weights(self) -> torch.Tensor:
        """Weights of the stored samples (length ``num_stored``)."""
        if self._weights is None:
            raise RuntimeError("SampleMemory: not initialised")
        return self._weights[: self.num_stored]

    def get(self, key: str) -> torch.Tensor:
        """Stored samples of entry ``key`` (first dim ``num_stored``)."""
        if key not in self._store:
            raise KeyError(f"SampleMemory: no entry {key!r}; have {sorted(self._store)}")
        return self._store[key][: self.num_stored]
