"""ImageNet-VID (ILSVRC2015 VID) with one sequence per object track.

Layout: ``<root>/Data/VID/<split>/<snippet>/000000.JPEG`` and
``<root>/Annotations/VID/<split>/<snippet>/000000.xml`` (``<snippet>`` may be
nested, e.g. ``ILSVRC2015_VID_train_0000/ILSVRC2015_train_00000000``).

A track's frames are the frames where it is annotated (in order), as in
pysot: a frame gap counts positions in this list.  Boxes are
``(xmin, ymin, xmax - xmin, ymax - ymin)``; frames flagged ``occluded`` are
not visible.  The parsed XML index is cached (a million XML files).
"""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import numpy as np

from ltr.admin.registry import TRAIN_DATASETS

from .base import DatasetLayoutError, SequenceInfo, TrainDataset, cached_index, resolve_root

__all__ = ["ImagenetVIDTrain", "parse_vid_snippet"]

_LAYOUT = "<root>/{Data/VID/<split>/<snippet>/000000.JPEG,Annotations/VID/<split>/<snippet>/000000.xml}"


def _num(node: Optional[ET.Element], tag: str, path: Path) -> float:
    sub = node.find(tag) if node is not None else None
    if sub is None or sub.text is None:
        raise DatasetLayoutError(f"{path}: missing <{tag}>")
    return float(sub.text)


def parse_vid_snippet(ann_dir: Path, rel: str) -> List[Dict[str, Any]]:
    """Tracks of one snippet: list of {snippet, track, cls, frames, boxes, occluded}."""
    tracks: Dict[int, Dict[str, Any]] = {}
    for xml in sorted(ann_dir.glob("*.xml")):
        try:
            root = ET.parse(xml).getroot()
        except ET.ParseError as e:
            raise DatasetLayoutError(f"{xml}: invalid XML ({e})") from e
        for obj in root.findall("object"):
            tid = int(_num(obj, "trackid", xml))
            bb = obj.find("bndbox")
            x0, x1 = _num(bb, "xmin", xml), _num(bb, "xmax", xml)
            y0, y1 = _num(bb, "ymin", xml), _num(bb, "ymax", xml)
            occ = obj.find("occluded")
            t = tracks.setdefault(tid, {"snippet": rel, "track": tid, "cls": (obj.findtext("name") or ""),
                                        "frames": [], "boxes": [], "occluded": []})
            t["frames"].append(xml.stem)
            t["boxes"].append([x0, y0, x1 - x0, y1 - y0])
            t["occluded"].append(int(occ.text) if occ is not None and occ.text else 0)
    return [tracks[k] for k in sorted(tracks)]


@TRAIN_DATASETS.register("imagenetvid")
class ImagenetVIDTrain(TrainDataset):
    name = "imagenetvid"

    def __init__(self, root: Optional[Union[str, Path]] = None, split: str = "train", min_length: int = 1,
                 cache: bool = True):
        root = resolve_root(self.name, root)
        super().__init__(root, split)
        self.ann_root = self.root / "Annotations" / "VID" / split
        self.data_root = self.root / "Data" / "VID" / split
        if not self.ann_root.is_dir() or not self.data_root.is_dir():
            raise DatasetLayoutError(f"imagenetvid: {self.ann_root} or {self.data_root} not found. Expected layout: {_LAYOUT}")

        def build():
            out: List[Dict[str, Any]] = []
            for dirpath, dirnames, filenames in os.walk(self.ann_root):
                dirnames.sort()
                if any(f.endswith(".xml") for f in filenames):
                    rel = os.path.relpath(dirpath, self.ann_root)
                    out += parse_vid_snippet(Path(dirpath), rel)
            return out

        tracks = cached_index(f"imagenetvid_{split}", self.ann_root, build) if cache else build()
        tracks = [t for t in tracks if len(t["frames"]) >= min_length]
        if not tracks:
            raise DatasetLayoutError(f"imagenetvid: no annotated tracks under {self.ann_root}. Expected layout: {_LAYOUT}")
        self._tracks = tracks
        self.sequence_names = [f"{t['snippet']}#{t['track']}" for t in tracks]

    def object_class(self, seq_id: int) -> str:
        return self._tracks[seq_id]["cls"]

    def _load_sequence_info(self, seq_id: int) -> SequenceInfo:
        t = self._tracks[seq_id]
        boxes = np.asarray(t["boxes"], dtype=np.float64).reshape(-1, 4)
        return SequenceInfo(boxes, np.asarray(t["occluded"]) == 0)

    def frame_path(self, seq_id: int, frame_id: int) -> str:
        t = self._tracks[seq_id]
        return str(self.data_root / t["snippet"] / f"{t['frames'][frame_id]}.JPEG")
