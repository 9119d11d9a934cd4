"""In-process sample threads (``train.data_threads``): same batches, same weights, errors and races handled.

Why: on 2-core CPUs Ocean tiny builds its batches in the training process with two threads instead of a
worker process. That is only acceptable if nothing about the training changes except its speed.
"""
from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from _training_fixtures import net_state, tiny_config  # noqa: E402

from ltr.admin.config import ConfigError
from ltr.data.loader import ThreadBatchLoader, EpochIndexSampler, make_loader
from ltr.dataset.base import SequenceInfo, TrainDataset
from ltr.trainers.builder import build_samplers, build_trainer, make_processing

pytestmark = pytest.mark.usefixtures("tiny_registered")

KEYS = ("template", "search", "template_box", "search_box")


def _sampler(got_root):
    cfg = tiny_config(got_root, **{"processing.search.center_jitter": 8.0, "processing.search.motion_blur": 0.5,
                                   "data.neg_prob": 0.3})
    train, _ = build_samplers(cfg, make_processing("_tiny_test", cfg, object))
    return train


def test_threads_give_the_batches_of_a_serial_loader(got_root):
    train = _sampler(got_root)
    ref = list(make_loader(train, epoch=2, num_iters=4, global_batch=6, num_workers=0))
    for threads in (2, 3):
        got = list(make_loader(train, epoch=2, num_iters=4, global_batch=6, num_workers=0, threads=threads))
        assert isinstance(make_loader(train, epoch=2, num_iters=4, global_batch=6, num_workers=0, threads=threads),
                          ThreadBatchLoader)
        assert len(got) == len(ref) == 4
        for a, b in zip(ref, got):
            assert set(a) == set(b)
            for k in KEYS:
                assert torch.equal(a[k], b[k]), k
    # a resumed rank-1-of-2 slice sees exactly the second half of the serial global batches
    half = list(make_loader(train, epoch=2, num_iters=4, global_batch=6, num_workers=0, rank=1, world_size=2,
                            start_iter=2, threads=2))
    assert len(half) == 2
    for k, batch in enumerate(half, start=2):
        assert torch.equal(batch["search"], ref[k]["search"][3:])


def test_len_and_errors(got_root):
    train = _sampler(got_root)
    ld = make_loader(train, epoch=0, num_iters=5, global_batch=4, num_workers=0, threads=2)
    assert len(ld) == 5
    with pytest.raises(ValueError, match="num_workers=0"):
        make_loader(train, epoch=0, num_iters=5, global_batch=4, num_workers=2, threads=2)
    with pytest.raises(ValueError, match="threads must be >= 1"):
        ThreadBatchLoader(train, EpochIndexSampler(0, 1, 4), threads=0)


class _Broken(torch.utils.data.Dataset):
    def __getitem__(self, item):
        epoch, index = item
        if index == 5:
            raise RuntimeError(f"sample {index} of epoch {epoch}: corrupt frame")
        return {"x": torch.tensor([float(index)])}


def test_a_sample_error_reaches_the_training_loop():
    it = iter(ThreadBatchLoader(_Broken(), EpochIndexSampler(3, 3, 4), threads=2))
    assert next(it)["x"].flatten().tolist() == [0.0, 1.0, 2.0, 3.0]
    with pytest.raises(RuntimeError, match="sample 5 of epoch 3: corrupt frame"):
        next(it)


@pytest.mark.parametrize("overrides,match", [
    ({"data_threads": 0}, "train.data_threads must be >= 1"),
    ({"data_threads": 2, "num_workers": 2}, "train.data_threads 2 needs train.num_workers 0"),
])
def test_config_is_checked(got_root, overrides, match):
    with pytest.raises((ValueError, ConfigError), match=match):
        tiny_config(got_root, **overrides)


def test_training_with_threads_gives_the_same_weights(got_root, tmp_path):
    states = []
    for threads in (1, 2):
        cfg = tiny_config(got_root, epochs=2, data_threads=threads, **{"data.samples_per_epoch": 12})
        tr = build_trainer("_tiny_test", cfg, f"t{threads}", workspace=tmp_path, progress=False, tensorboard=False)
        tr.train()
        states.append(net_state(tr.net))
    a, b = states
    assert all(torch.equal(a[k], b[k]) for k in a)


class _Counting(TrainDataset):
    """Sequence ``i`` has boxes ``i + arange``: any mix-up between sequences shows in the values."""

    name = "counting"
    cache_size = 3

    def __init__(self, n: int = 40):
        super().__init__(Path("."), "train")
        self.sequence_names = [f"seq{i}" for i in range(n)]

    def _load_sequence_info(self, seq_id: int) -> SequenceInfo:
        boxes = np.stack([np.arange(5.0) + seq_id, np.zeros(5), np.full(5, 4.0), np.full(5, 4.0)], axis=1)
        return SequenceInfo(boxes, np.ones(5, dtype=bool))


def test_sequence_cache_eviction_under_threads():
    ds = _Counting()
    errors = []
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, so a race shows

    def hammer(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            for _ in range(3000):
                i = int(rng.integers(0, len(ds)))
                info = ds.sequence_info(i)
                if info.boxes[0, 0] != i:
                    errors.append(f"sequence {i} returned the boxes of {info.boxes[0, 0]}")
        except Exception as e:  # the old eviction raised KeyError / RuntimeError here
            errors.append(repr(e))

    try:
        threads = [threading.Thread(target=hammer, args=(s,)) for s in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert not errors, errors[:3]
    assert len(ds._cache) <= ds.cache_size + 6  # at most one over per thread between check and insert
