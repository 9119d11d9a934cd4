"""COCO 2017 as single-image sequences (one sequence per non-crowd object).

Layout: ``<root>/annotations/instances_<split>.json`` and images in
``<root>/images/<split>/`` or ``<root>/<split>/``.  The parsed index is cached
(see :func:`ltr.dataset.base.cached_index`) because the train JSON is 450 MB.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from ltr.admin.registry import TRAIN_DATASETS

from .base import DatasetLayoutError, SequenceInfo, TrainDataset, cached_index, resolve_root

__all__ = ["CocoTrain"]

_LAYOUT = "<root>/annotations/instances_<split>.json, <root>/{images/<split> | <split>}/*.jpg"


@TRAIN_DATASETS.register("coco")
class CocoTrain(TrainDataset):
    name = "coco"
    is_video = False

    def __init__(self, root: Optional[Union[str, Path]] = None, split: str = "train2017",
                 min_area: float = 0.0, categories: Optional[Sequence[str]] = None, cache: bool = True):
        root = resolve_root(self.name, root)
        super().__init__(root, split)
        ann = self.root / "annotations" / f"instances_{split}.json"
        if not ann.is_file():
            raise DatasetLayoutError(f"coco: annotation file {ann} not found. Expected layout: {_LAYOUT}")
        img_dir = self.root / "images" / split
        if not img_dir.is_dir():
            img_dir = self.root / split
        if not img_dir.is_dir():
            raise DatasetLayoutError(f"coco: image folder {self.root / 'images' / split} (or {self.root / split}) not found. "
                                     f"Expected layout: {_LAYOUT}")
        self.image_dir = img_dir

        def build():
            data = json.loads(ann.read_text())
            files = {im["id"]: im["file_name"] for im in data.get("images", [])}
            cats = {c["id"]: c["name"] for c in data.get("categories", [])}
            rows = []
            for a in data.get("annotations", []):
                if a.get("iscrowd", 0):
                    continue
                if a.get("image_id") not in files:
                    continue
                x, y, w, h = (float(v) for v in a["bbox"])
                rows.append([files[a["image_id"]], [x, y, w, h], cats.get(a.get("category_id"), ""), int(a.get("id", 0))])
            return rows

        rows = cached_index(f"coco_{split}", ann, build) if cache else build()
        keep = []
        cat_set = set(categories) if categories is not None else None
        for r in rows:
            w, h = r[1][2], r[1][3]
            if w * h <= min_area or w <= 0 or h <= 0:
                continue
            if cat_set is not None and r[2] not in cat_set:
                continue
            keep.append(r)
        self._files = [r[0] for r in keep]
        self._boxes = np.asarray([r[1] for r in keep], dtype=np.float64).reshape(-1, 4)
        self._classes = [r[2] for r in keep]
        self.sequence_names = [f"{Path(r[0]).stem}#{r[3]}" for r in keep]

    def object_class(self, seq_id: int) -> str:
        return self._classes[seq_id]

    def _load_sequence_info(self, seq_id: int) -> SequenceInfo:
        return SequenceInfo(self._boxes[seq_id:seq_id + 1].copy(), np.ones(1, dtype=bool))

    def frame_path(self, seq_id: int, frame_id: int) -> str:
        if frame_id != 0:
            raise IndexError(f"coco/{self.sequence_names[seq_id]}: single-image sequence has only frame 0, asked for {frame_id}")
        return str(self.image_dir / self._files[seq_id])
