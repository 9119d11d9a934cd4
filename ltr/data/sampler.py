"""Frame samplers: Siamese pairs and DiMP-style train/test sequence samples.

:class:`TrackingSampler` is a map-style ``torch.utils.data.Dataset`` whose item
``(epoch, index)`` is a pure function of ``(seed, epoch, index)``: all
randomness (dataset choice, frames, jitter, augmentation) comes from
``np.random.default_rng([seed, epoch, index])``.  Hence

* any number of loader workers, DDP ranks or a resume in the middle of an
  epoch produce exactly the same samples as one uninterrupted process;
* no worker RNG state needs to be checkpointed.

Bad samples (undecodable image, NaN/zero-size box, box outside the image) are
reported with dataset, sequence and frame, then skipped (a new draw from the
same generator) or raised, per ``DataConfig.on_bad_sample``.  The reports
travel with the sample under the key ``_bad`` so the trainer can count and
log them in the main process.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from ltr.admin.train_config import DataConfig
from ltr.dataset.base import TrainDataset
from ltr.utils.image import ImageReadError

from .processing import RawSample

__all__ = [
    "BadSampleError",
    "BadSample",
    "check_frame",
    "sample_visible_ids",
    "pair_frame_ids",
    "sequence_frame_ids",
    "TrackingSampler",
]


class BadSampleError(RuntimeError):
    """A training sample is unusable (raised in 'fail' mode, or when too many draws in a row are bad)."""


@dataclass
class BadSample:
    dataset: str
    sequence: str
    frame: int
    reason: str

    def __str__(self) -> str:
        return f"bad sample: dataset '{self.dataset}', sequence '{self.sequence}', frame {self.frame}: {self.reason}"


def check_frame(image: np.ndarray, box: np.ndarray) -> Optional[str]:
    """Reason why (image, box) cannot be trained on, or None."""
    if image is None or image.ndim != 3 or image.shape[0] < 1 or image.shape[1] < 1:
        return "empty or malformed image"
    b = np.asarray(box, dtype=np.float64)
    if not np.isfinite(b).all():
        return f"non-finite box {b.tolist()}"
    if b[2] <= 0 or b[3] <= 0:
        return f"zero-size box {b.tolist()}"
    h, w = image.shape[:2]
    iw = min(b[0] + b[2], w) - max(b[0], 0.0)
    ih = min(b[1] + b[3], h) - max(b[1], 0.0)
    if iw <= 0 or ih <= 0:
        return f"box {np.round(b, 2).tolist()} lies outside the {w}x{h} image"
    return None


# --------------------------------------------------------------------------- frame selection

def sample_visible_ids(visible: np.ndarray, num: int, rng: np.random.Generator, min_id: Optional[int] = None,
                       max_id: Optional[int] = None) -> Optional[np.ndarray]:
    """``num`` visible frame ids drawn with replacement from ``[min_id, max_id)`` (clamped); None if none."""
    n = visible.shape[0]
    lo = 0 if min_id is None else max(0, int(min_id))
    hi = n if max_id is None else min(n, int(max_id))
    if num == 0:
        return np.zeros(0, dtype=np.int64)
    if hi <= lo:
        return None
    ids = lo + np.flatnonzero(visible[lo:hi])
    if ids.size == 0:
        return None
    return ids[rng.integers(0, ids.size, size=num)]


def pair_frame_ids(visible: np.ndarray, num_train: int, num_test: int, max_gap: int,
                   rng: np.random.Generator) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """pysot: base frame uniform over the visible frames, all others uniform within +-max_gap
    *positions* of it in the visible-frame list (the base itself included)."""
    vis = np.flatnonzero(visible)
    if vis.size == 0:
        return None
    base = int(rng.integers(0, vis.size))
    lo, hi = max(0, base - max_gap), min(vis.size - 1, base + max_gap)
    others = rng.integers(lo, hi + 1, size=num_train - 1 + num_test)
    train = np.concatenate([[vis[base]], vis[others[: num_train - 1]]])
    return train.astype(np.int64), vis[others[num_train - 1:]].astype(np.int64)


def sequence_frame_ids(visible: np.ndarray, num_train: int, num_test: int, max_gap: int, gap_increase: int,
                       mode: str, rng: np.random.Generator, max_tries: int = 100) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """pytracking-style train/test frame ids (frame indices, drawn with replacement).

    ``interval``: base uniform over visible frames; other train frames within
    ``[base - gap, base + gap)``; test frames within ``[base - gap, base + gap)``.
    ``causal``: base in ``[num_train - 1, n - num_test)``; other train frames in
    ``[base - gap, base)``; test frames in ``(base, base + gap]``.
    The gap grows by ``gap_increase`` whenever a draw finds no visible frame.
    """
    n = visible.shape[0]
    inc = 0
    for _ in range(max_tries):
        g = max_gap + inc
        if mode == "interval":
            base = sample_visible_ids(visible, 1, rng)
            if base is None:
                return None
            b = int(base[0])
            extra = sample_visible_ids(visible, num_train - 1, rng, b - g, b + g)
            if extra is None:
                inc += gap_increase
                continue
            test = sample_visible_ids(visible, num_test, rng, b - g, b + g)
        elif mode == "causal":
            base = sample_visible_ids(visible, 1, rng, num_train - 1, n - num_test)
            if base is None:
                return None
            b = int(base[0])
            extra = sample_visible_ids(visible, num_train - 1, rng, b - g, b)
            if extra is None:
                inc += gap_increase
                continue
            test = sample_visible_ids(visible, num_test, rng, b + 1, b + g + 1)
        else:
            raise ValueError(f"unknown frame_sample_mode '{mode}'")
        if test is not None:
            return np.concatenate([[b], extra]).astype(np.int64), test.astype(np.int64)
        inc += gap_increase
    return None


# --------------------------------------------------------------------------- sampler

Processing = Callable[[RawSample, np.random.Generator], Dict[str, Any]]


class TrackingSampler(torch.utils.data.Dataset):
    """Draws pairs or sequence samples from a weighted mix of training datasets.

    Items are addressed by ``(epoch, index)`` (see :class:`ltr.data.loader.EpochIndexSampler`);
    a plain integer ``index`` means epoch 0.
    """

    def __init__(self, datasets: Sequence[TrainDataset], weights: Sequence[float], cfg: DataConfig,
                 processing: Processing, seed: int = 0, max_gaps: Optional[Sequence[Optional[int]]] = None,
                 samples_per_epoch: Optional[int] = None):
        if not datasets:
            raise ValueError("TrackingSampler needs at least one dataset")
        if len(weights) != len(datasets):
            raise ValueError("one weight per dataset")
        w = np.asarray(weights, dtype=np.float64)
        self.datasets = list(datasets)
        self.p = w / w.sum()
        self.cfg = cfg
        self.processing = processing
        self.seed = int(seed)
        self.max_gaps = [cfg.max_gap if g is None else int(g) for g in (max_gaps or [None] * len(datasets))]
        self.samples_per_epoch = int(samples_per_epoch or cfg.samples_per_epoch)
        self.num_train = 1 if cfg.sampler == "pair" else cfg.num_train_frames
        self.num_test = 1 if cfg.sampler == "pair" else cfg.num_test_frames
        for d in self.datasets:
            if len(d) == 0:
                raise ValueError(f"training dataset '{d.name}' has no sequences")

    def __len__(self) -> int:
        return self.samples_per_epoch

    # ----------------------------------------------------------- drawing
    def _pick_sequence(self, rng: np.random.Generator) -> Tuple[int, int, np.ndarray]:
        for _ in range(1000):
            di = int(rng.choice(len(self.datasets), p=self.p))
            d = self.datasets[di]
            si = int(rng.integers(0, len(d)))
            info = d.sequence_info(si)
            vis = info.visible if self.cfg.use_visibility else np.isfinite(info.boxes).all(1) & (info.boxes[:, 2:] > 0).all(1)
            if not d.is_video:
                if vis.any():
                    return di, si, vis
                continue
            if len(info) >= self.cfg.min_seq_length and int(vis.sum()) >= max(1, self.cfg.min_visible_frames):
                return di, si, vis
        names = ", ".join(d.name for d in self.datasets)
        raise BadSampleError(f"no usable sequence found in 1000 draws from [{names}] (min_seq_length="
                             f"{self.cfg.min_seq_length}, min_visible_frames={self.cfg.min_visible_frames})")

    def _frame_ids(self, di: int, vis: np.ndarray, rng: np.random.Generator) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        d = self.datasets[di]
        if not d.is_video:
            return np.zeros(self.num_train, dtype=np.int64), np.zeros(self.num_test, dtype=np.int64)
        gap = self.max_gaps[di]
        if self.cfg.frame_sample_mode == "pysot":
            return pair_frame_ids(vis, self.num_train, self.num_test, gap, rng)
        return sequence_frame_ids(vis, self.num_train, self.num_test, gap, self.cfg.gap_increase,
                                  self.cfg.frame_sample_mode, rng)

    def _load(self, di: int, si: int, ids: np.ndarray) -> Tuple[Optional[Tuple[list, np.ndarray, dict]], Optional[BadSample]]:
        d = self.datasets[di]
        try:
            images, boxes, meta = d.get_frames(si, ids)
        except ImageReadError as e:
            return None, BadSample(d.name, d.sequence_name(si), int(ids[0]), str(e))
        for img, box, f in zip(images, boxes, ids):
            reason = check_frame(img, box)
            if reason is not None:
                return None, BadSample(d.name, d.sequence_name(si), int(f), f"{reason} ({d.frame_path(si, int(f))})")
        return (images, boxes, meta), None

    def draw(self, rng: np.random.Generator) -> Tuple[RawSample, List[str]]:
        """One raw sample plus the reports of the bad samples skipped on the way."""
        bad: List[str] = []
        for _ in range(self.cfg.max_bad_retries):
            di, si, vis = self._pick_sequence(rng)
            ids = self._frame_ids(di, vis, rng)
            if ids is None:
                continue  # not enough visible frames in range: an unusable draw, not a data error
            train_ids, test_ids = ids
            negative = self.cfg.neg_prob > 0 and rng.random() < self.cfg.neg_prob
            if negative:
                # search frame(s) from another video (redrawn if the same one comes up)
                for _ in range(100):
                    dj, sj, vis_j = self._pick_sequence(rng)
                    if (dj, sj) != (di, si):
                        break
                tids = sample_visible_ids(vis_j, self.num_test, rng)
                if tids is None:
                    continue
                test_src = (dj, sj, tids)
            else:
                test_src = (di, si, test_ids)
            tr, err = self._load(di, si, train_ids)
            if err is None:
                te, err = self._load(*test_src)
            if err is not None:
                if self.cfg.on_bad_sample == "fail":
                    raise BadSampleError(f"{err} (data.on_bad_sample=fail; set 'skip' to skip such samples)")
                bad.append(str(err))
                continue
            raw = RawSample(tr[0], np.asarray(tr[1], dtype=np.float64), te[0], np.asarray(te[1], dtype=np.float64),
                            negative=bool(negative), train_meta=tr[2], test_meta=te[2])
            return raw, bad
        raise BadSampleError(f"{self.cfg.max_bad_retries} consecutive unusable draws; last bad samples: {bad[-3:]}")

    def rng_for(self, epoch: int, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, int(epoch), int(index)])

    def __getitem__(self, item) -> Dict[str, Any]:
        epoch, index = item if isinstance(item, tuple) else (0, item)
        rng = self.rng_for(epoch, index)
        raw, bad = self.draw(rng)
        out = dict(self.processing(raw, rng))
        out["_bad"] = bad
        return out
