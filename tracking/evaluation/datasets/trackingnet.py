"""TrackingNet test split from the raw per-chunk layout:
``<root>/TEST/frames/<seq>/0.jpg ..`` and ``<root>/TEST/anno/<seq>.txt``.

Test annotations hold only the first box (comma separated ``x,y,w,h`` as stored, frames numbered
from 0); the other rows are NaN and ``gt_public`` is False (results go to the evaluation server).
Training chunks (``TRAIN_0`` .. ``TRAIN_11``) share the layout and can be read with
:func:`load_trackingnet_chunk`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, List, Optional, Union

from ltr.admin.registry import EVAL_DATASETS
from tracking.evaluation.data import Sequence, SequenceList
from tracking.evaluation.datasets._common import (DatasetError, check_numbering, listed_frames, pad_rows, read_boxes,
                                                  resolve_root, select, want)

__all__ = ["load_trackingnet_chunk", "trackingnet"]


def load_trackingnet_chunk(root: Path, chunk: str = "TEST", sequences: Optional[Iterable[str]] = None) -> SequenceList:
    anno_dir, frame_dir = root / chunk / "anno", root / chunk / "frames"
    if not anno_dir.is_dir():
        raise DatasetError(f"trackingnet: missing annotation folder {anno_dir} (expected <root>/{chunk}/anno/<seq>.txt)")
    names = sorted(p.stem for p in anno_dir.glob("*.txt"))
    if not names:
        raise DatasetError(f"trackingnet: no annotation file in {anno_dir}")
    wanted = want(sequences)
    seqs: List[Sequence] = []
    for name in names:
        if not wanted(name):
            continue
        frames = listed_frames(frame_dir / name, "trackingnet", name)
        check_numbering(frames, 0, "trackingnet", name)
        anno = anno_dir / f"{name}.txt"
        gt = read_boxes(anno, "trackingnet", name)
        if len(gt) > len(frames):
            raise DatasetError(f"trackingnet/{name}: {anno} has {len(gt)} rows for {len(frames)} frames in {frame_dir / name}")
        public = len(gt) == len(frames)
        seqs.append(Sequence(name, frames, pad_rows(gt, len(frames)), "trackingnet", gt_public=public,
                             attributes={"chunk": chunk}))
    return select(seqs, sequences, "trackingnet")


@EVAL_DATASETS.register("trackingnet", protocol="trackingnet", metric_dataset="trackingnet", gt_public=False,
                        results_format="trackingnet", split="test")
def trackingnet(root: Optional[Union[str, Path]] = None, *, sequences: Optional[Iterable[str]] = None) -> SequenceList:
    """TrackingNet test split (511 sequences, first box only); ``datasets.trackingnet``."""
    return load_trackingnet_chunk(resolve_root(root, "trackingnet"), "TEST", sequences)
