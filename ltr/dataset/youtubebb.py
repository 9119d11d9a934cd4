"""YouTube-BoundingBoxes from raw frames + the official detection CSV.

Layout: ``<root>/yt_bb_detection_train.csv`` (no header; columns
``youtube_id, timestamp_ms, class_id, class_name, object_id,
object_presence, xmin, xmax, ymin, ymax`` with coordinates normalised to
[0, 1]) and decoded frames ``<root>/frames/<youtube_id>/<timestamp_ms>.jpg``.

One sequence per (video, class, object).  Frames are the annotated
timestamps (about 1 fps), so pysot's frame range 3 means +-3 annotations.
Boxes are converted to pixels when a frame is loaded (the image gives the
size).  Frames that were never downloaded surface as bad samples.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ltr.admin.registry import TRAIN_DATASETS

from .base import DatasetLayoutError, SequenceInfo, TrainDataset, cached_index, resolve_root

__all__ = ["YoutubeBBTrain"]

_LAYOUT = "<root>/{yt_bb_detection_train.csv, frames/<youtube_id>/<timestamp_ms>.jpg}"


@TRAIN_DATASETS.register("youtubebb")
class YoutubeBBTrain(TrainDataset):
    name = "youtubebb"

    def __init__(self, root: Optional[Union[str, Path]] = None, split: str = "train",
                 csv_file: Optional[Union[str, Path]] = None, min_length: int = 1, cache: bool = True):
        root = resolve_root(self.name, root)
        super().__init__(root, split)
        csv_path = Path(csv_file) if csv_file else self.root / f"yt_bb_detection_{split}.csv"
        if not csv_path.is_file():
            raise DatasetLayoutError(f"youtubebb: annotation file {csv_path} not found. Expected layout: {_LAYOUT}")
        self.frame_root = self.root / "frames"

        def build():
            seqs: Dict[Tuple[str, str, str], List[list]] = {}
            with open(csv_path, newline="") as f:
                for lineno, row in enumerate(csv.reader(f), 1):
                    if not row or row[0] == "youtube_id":
                        continue
                    if len(row) < 10:
                        raise DatasetLayoutError(f"{csv_path}:{lineno}: expected 10 columns, got {len(row)}")
                    yid, ts, cid, cname, oid, pres = row[:6]
                    try:
                        x0, x1, y0, y1 = (float(v) for v in row[6:10])
                        ts_i = int(ts)
                    except ValueError as e:
                        raise DatasetLayoutError(f"{csv_path}:{lineno}: bad number ({e})") from e
                    seqs.setdefault((yid, cid, oid), []).append([ts_i, int(pres == "present"), x0, y0, x1 - x0, y1 - y0, cname])
            out = []
            for (yid, cid, oid), rows in sorted(seqs.items()):
                rows.sort(key=lambda r: r[0])
                out.append({"video": yid, "cls": rows[0][6], "key": f"{yid}#{cid}#{oid}",
                            "ts": [r[0] for r in rows], "present": [r[1] for r in rows],
                            "boxes": [r[2:6] for r in rows]})
            return out

        seqs = cached_index(f"youtubebb_{split}", csv_path, build) if cache else build()
        seqs = [s for s in seqs if sum(s["present"]) >= min_length]
        if not seqs:
            raise DatasetLayoutError(f"youtubebb: no sequences with a present object in {csv_path}")
        self._seqs = seqs
        self.sequence_names = [s["key"] for s in seqs]

    def object_class(self, seq_id: int) -> str:
        return self._seqs[seq_id]["cls"]

    def _load_sequence_info(self, seq_id: int) -> SequenceInfo:
        s = self._seqs[seq_id]
        boxes = np.asarray(s["boxes"], dtype=np.float64).reshape(-1, 4)
        present = np.asarray(s["present"], dtype=bool)
        boxes[~present] = np.nan
        # normalised boxes: visibility needs only w, h > 0, which scaling keeps
        return SequenceInfo(boxes, present)

    def frame_boxes(self, seq_id: int, frame_ids: Sequence[int], images: Sequence[np.ndarray]) -> np.ndarray:
        norm = self.sequence_info(seq_id).boxes[np.asarray(frame_ids, dtype=np.int64)]
        hw = np.asarray([im.shape[:2] for im in images], dtype=np.float64)  # (k, 2) = (h, w)
        scale = np.stack([hw[:, 1], hw[:, 0], hw[:, 1], hw[:, 0]], axis=1)
        return norm * scale

    def frame_path(self, seq_id: int, frame_id: int) -> str:
        s = self._seqs[seq_id]
        return str(self.frame_root / s["video"] / f"{s['ts'][frame_id]}.jpg")
