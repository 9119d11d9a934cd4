"""Common base of the training datasets.

A training dataset is a list of *sequences* (a video track, or a single image
with one object for COCO).  Each sequence has per-frame boxes ``[x, y, w, h]``
(0-based, float, NaN = unknown) and a visibility flag.  Annotations are read
lazily and cached, so opening TrackingNet (30k videos) costs only a directory
listing.

Sub-classes implement :meth:`_load_sequence_info`, :meth:`frame_path` and
``sequence_names``; everything else (visibility rules, ``get_frames``, error
messages that name dataset/sequence/frame) is shared.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ltr.utils.image import imread_rgb

__all__ = [
    "SequenceInfo",
    "TrainDataset",
    "DatasetLayoutError",
    "read_box_file",
    "read_flag_file",
    "read_seq_list",
    "cached_index",
    "build_train_dataset",
]


class DatasetLayoutError(FileNotFoundError):
    """The files on disk do not match the expected layout; the message names the path and the layout."""


@dataclass
class SequenceInfo:
    """Annotation of one sequence.

    ``boxes``: (N, 4) float64 xywh; ``visible``: (N,) bool — the target is
    annotated, has positive size and is not marked absent/occluded/out-of-view.
    """

    boxes: np.ndarray
    visible: np.ndarray

    def __len__(self) -> int:
        return int(self.boxes.shape[0])


# --------------------------------------------------------------------------- file helpers

_SPLIT_RE = re.compile(r"[,\s;]+")


def read_box_file(path: Path, ncols: int = 4) -> np.ndarray:
    """Read an ``x,y,w,h`` per line file (comma, tab or space separated; 'NaN' allowed) as (N, ncols) float64."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise DatasetLayoutError(f"cannot read annotation file {path}: {e}") from e
    tokens = [t for t in _SPLIT_RE.split(text.strip()) if t]
    if not tokens:
        return np.zeros((0, ncols), dtype=np.float64)
    try:
        vals = np.asarray(tokens, dtype=np.float64)
    except ValueError as e:
        raise DatasetLayoutError(f"{path}: non-numeric value in box file ({e})") from e
    if vals.size % ncols:
        raise DatasetLayoutError(f"{path}: {vals.size} values is not a multiple of {ncols} (expected x,y,w,h per line)")
    return vals.reshape(-1, ncols)


def read_flag_file(path: Path) -> Optional[np.ndarray]:
    """Read a per-frame integer flag file (one value per line, or comma separated); None if it does not exist."""
    p = Path(path)
    if not p.is_file():
        return None
    tokens = [t for t in _SPLIT_RE.split(p.read_text().strip()) if t]
    try:
        return np.asarray([int(float(t)) for t in tokens], dtype=np.int64)
    except ValueError as e:
        raise DatasetLayoutError(f"{p}: non-integer flag ({e})") from e


def read_seq_list(path: Path) -> List[str]:
    """Non-empty, stripped lines of a sequence-list file."""
    p = Path(path)
    if not p.is_file():
        raise DatasetLayoutError(f"sequence list file not found: {p}")
    return [ln.strip() for ln in p.read_text().splitlines() if ln.strip()]


def cached_index(tag: str, source: Path, builder: Callable[[], Any], cache_dir: Optional[Path] = None) -> Any:
    """Build an index (a JSON-serialisable object) once and cache it.

    Parsing a million VID XML files or the 450 MB COCO JSON takes minutes, so
    the parsed index is written to ``<workspace>/cache/datasets/``.  The cache
    key includes the source path and its mtime, so it is rebuilt when the data
    change.  A read-only workspace just means no cache.
    """
    source = Path(source)
    try:
        mtime = source.stat().st_mtime_ns
    except OSError:
        mtime = 0
    key = hashlib.sha1(f"{source.resolve()}|{mtime}".encode()).hexdigest()[:16]
    if cache_dir is None:
        env = os.environ.get("SOTLAB_DATASET_CACHE")
        if env:
            cache_dir = Path(env)
        else:
            from ltr.admin.settings import get_settings

            cache_dir = get_settings().workspace / "cache" / "datasets"
    path = Path(cache_dir) / f"{tag}_{key}.json"
    if path.is_file():
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            pass
    obj = builder()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(obj))
        os.replace(tmp, path)
    except OSError:
        pass
    return obj


def valid_boxes(boxes: np.ndarray) -> np.ndarray:
    """Finite boxes with positive width and height."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(boxes).all(axis=1) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)


# --------------------------------------------------------------------------- base class

class TrainDataset:
    """Base class of training datasets (see module docstring)."""

    #: registry name, set by sub-classes
    name: str = "dataset"
    #: False for image datasets (COCO): every sequence has exactly one frame
    is_video: bool = True
    #: at most this many sequence annotations are kept in memory
    cache_size: int = 4096

    def __init__(self, root: Path, split: str):
        self.root = Path(root)
        self.split = split
        self.sequence_names: List[str] = []
        self._cache: Dict[int, SequenceInfo] = {}

    # ------------------------------------------------------------- to implement
    def _load_sequence_info(self, seq_id: int) -> SequenceInfo:
        raise NotImplementedError

    def frame_path(self, seq_id: int, frame_id: int) -> str:
        raise NotImplementedError

    # ------------------------------------------------------------- shared
    def __len__(self) -> int:
        return len(self.sequence_names)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r}, split={self.split!r}, sequences={len(self)})"

    def num_sequences(self) -> int:
        return len(self)

    def sequence_name(self, seq_id: int) -> str:
        return self.sequence_names[seq_id]

    def sequence_info(self, seq_id: int) -> SequenceInfo:
        """Boxes and visibility of a sequence (cached; visibility always excludes invalid boxes)."""
        info = self._cache.get(seq_id)
        if info is None:
            raw = self._load_sequence_info(seq_id)
            boxes = np.asarray(raw.boxes, dtype=np.float64).reshape(-1, 4)
            vis = np.asarray(raw.visible, dtype=bool).reshape(-1)
            if vis.shape[0] != boxes.shape[0]:
                raise DatasetLayoutError(f"{self.name}/{self.sequence_name(seq_id)}: {boxes.shape[0]} boxes but "
                                         f"{vis.shape[0]} visibility flags")
            info = SequenceInfo(boxes, vis & valid_boxes(boxes))
            if len(self._cache) >= self.cache_size:
                # list() and pop(k, None) are single C calls under the GIL, so sample threads
                # (train.data_threads) can evict concurrently; iterating the dict itself could not
                for k in list(self._cache)[: len(self._cache) - self.cache_size + 1]:
                    self._cache.pop(k, None)
            self._cache[seq_id] = info
        return info

    def read_frame(self, seq_id: int, frame_id: int) -> np.ndarray:
        return imread_rgb(self.frame_path(seq_id, frame_id))

    def frame_boxes(self, seq_id: int, frame_ids: Sequence[int], images: Sequence[np.ndarray]) -> np.ndarray:
        """Boxes of the given frames in pixels (YouTube-BB overrides this: its boxes are normalised)."""
        return self.sequence_info(seq_id).boxes[np.asarray(frame_ids, dtype=np.int64)].copy()

    def get_frames(self, seq_id: int, frame_ids: Sequence[int]) -> Tuple[List[np.ndarray], np.ndarray, Dict[str, Any]]:
        """Images (HxWx3 uint8 RGB), boxes (k, 4) xywh and meta data of ``frame_ids``.

        Frames requested more than once are read once.  Raises
        :class:`ltr.utils.image.ImageReadError` for unreadable images.
        """
        n = len(self)
        if not 0 <= seq_id < n:
            raise IndexError(f"{self.name}: sequence index {seq_id} out of range (0..{n - 1})")
        loaded: Dict[int, np.ndarray] = {}
        images = []
        for f in frame_ids:
            f = int(f)
            if f not in loaded:
                loaded[f] = self.read_frame(seq_id, f)
            images.append(loaded[f])
        boxes = self.frame_boxes(seq_id, frame_ids, images)
        meta = {"dataset": self.name, "sequence": self.sequence_name(seq_id), "frames": [int(f) for f in frame_ids]}
        dis = self.distractor_boxes(seq_id, frame_ids)
        if dis is not None:
            meta["distractors"] = dis
        return images, boxes, meta

    def distractor_boxes(self, seq_id: int, frame_ids: Sequence[int]) -> Optional[List[np.ndarray]]:
        """Boxes (k, 4) xywh of objects that look like the target, per frame, or None if the dataset has none.

        Datasets with several annotated objects of one kind override this; processing uses the boxes to draw
        hard-negative search crops (``BranchConfig.distractor_prob``)."""
        return None


def build_train_dataset(name: str, split: Optional[str] = None, options: Optional[Dict[str, Any]] = None) -> TrainDataset:
    """Instantiate a registered training dataset (``options`` are keyword arguments, e.g. ``root``)."""
    from ltr.admin.registry import TRAIN_DATASETS

    cls = TRAIN_DATASETS.get(name)
    kw = dict(options or {})
    if split is not None:
        kw["split"] = split
    try:
        return cls(**kw)
    except TypeError as e:
        raise ValueError(f"training dataset '{name}': bad options {sorted(kw)}: {e}") from e


def resolve_root(name: str, root: Optional[Any]) -> Path:
    """``root`` if given, else the settings entry ``datasets.<name>`` (whose error names the setting and layout)."""
    if root is not None:
        p = Path(root).expanduser()
        if not p.exists():
            from ltr.admin.settings import DATASET_LAYOUTS

            raise DatasetLayoutError(f"dataset '{name}': root {p} does not exist. Expected layout: {DATASET_LAYOUTS.get(name, '?')}")
        return p
    from ltr.admin.settings import get_settings

    return get_settings().dataset_dir(name)
