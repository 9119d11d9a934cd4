"""TrackingNet training dataset (raw layout).

Layout: ``<root>/TRAIN_<k>/{frames/<seq>/<i>.jpg (0-based), anno/<seq>.txt}``.
``chunks`` selects TRAIN_0..TRAIN_11 (default all 12; DCFST uses 0-10, FCOT
0-3).  Every frame with a valid box is visible (TrackingNet has no
occlusion flags).
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from ltr.admin.registry import TRAIN_DATASETS

from .base import DatasetLayoutError, SequenceInfo, TrainDataset, read_box_file, resolve_root

__all__ = ["TrackingNetTrain"]

_LAYOUT = "<root>/TRAIN_<k>/{frames/<seq>/<i>.jpg,anno/<seq>.txt}"


@TRAIN_DATASETS.register("trackingnet")
class TrackingNetTrain(TrainDataset):
    name = "trackingnet"

    def __init__(self, root: Optional[Union[str, Path]] = None, split: str = "train",
                 chunks: Optional[Sequence[int]] = None):
        root = resolve_root(self.name, root)
        super().__init__(root, split)
        if split != "train":
            raise ValueError(f"trackingnet: only the 'train' split has annotations for training, got '{split}'")
        chunks = list(range(12)) if chunks is None else [int(c) for c in chunks]
        self.chunks = chunks
        entries: List[Tuple[int, str]] = []
        for c in chunks:
            adir = self.root / f"TRAIN_{c}" / "anno"
            if not adir.is_dir():
                raise DatasetLayoutError(f"trackingnet: chunk folder {adir} not found (chunks={chunks}). Expected layout: {_LAYOUT}")
            entries += [(c, p.stem) for p in sorted(adir.glob("*.txt"))]
        if not entries:
            raise DatasetLayoutError(f"trackingnet: no annotation files in chunks {chunks} under {self.root}")
        self._entries = entries
        self.sequence_names = [f"TRAIN_{c}/{s}" for c, s in entries]

    def _load_sequence_info(self, seq_id: int) -> SequenceInfo:
        c, s = self._entries[seq_id]
        boxes = read_box_file(self.root / f"TRAIN_{c}" / "anno" / f"{s}.txt")
        return SequenceInfo(boxes, np.ones(boxes.shape[0], dtype=bool))

    def frame_path(self, seq_id: int, frame_id: int) -> str:
        c, s = self._entries[seq_id]
        return str(self.root / f"TRAIN_{c}" / "frames" / s / f"{frame_id}.jpg")
