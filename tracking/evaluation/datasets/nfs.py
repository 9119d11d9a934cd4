"""Need for Speed (NfS), 30 fps version, from the raw layout:
``<root>/<seq>/30/<seq>/00001.jpg`` and ``<root>/<seq>/30/<seq>.txt``.

Each annotation row is ``track_id xmin ymin xmax ymax frame lost occluded generated "label"``
(space separated, VATIC style); boxes become ``[xmin, ymin, xmax - xmin, ymax - ymin]`` as in the
got10k toolkit, values as stored.  Some 30 fps folders ship the 240 fps annotation: when there are
about 8x more rows than frames every 8th row is used, and an off-by-one length difference is
resolved by truncating both to the shorter (the got10k ``NfS`` rules).  ``lost`` / ``occluded``
are kept as per-frame attributes (pytracking's NfS has no visibility flags, so
``target_visible`` stays None to keep its numbers).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, List, Optional, Union

import numpy as np

from ltr.admin.registry import EVAL_DATASETS
from tracking.evaluation.data import Sequence, SequenceList
from tracking.evaluation.datasets._common import (DatasetError, check_numbering, listed_frames, read_lines,
                                                  resolve_root, select, want)

__all__ = ["load_nfs", "nfs", "read_nfs_annotation"]


def read_nfs_annotation(path: Path, seq: str) -> np.ndarray:
    """(N, 9) float array: track_id, xmin, ymin, xmax, ymax, frame, lost, occluded, generated."""
    rows = []
    for i, ln in enumerate(read_lines(path, "nfs", seq)):
        if not ln.strip():
            continue
        toks = ln.replace(",", " ").split()
        try:
            rows.append([float(t) for t in toks[:9]])
        except ValueError:
            raise DatasetError(f"nfs/{seq}: {path} line {i + 1}: cannot parse '{ln.strip()}'") from None
        if len(rows[-1]) < 5:
            raise DatasetError(f"nfs/{seq}: {path} line {i + 1}: expected 'id x1 y1 x2 y2 ...', got '{ln.strip()}'")
    if not rows:
        raise DatasetError(f"nfs/{seq}: {path} is empty")
    out = np.full((len(rows), 9), np.nan)  # missing trailing columns stay NaN
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def load_nfs(root: Path, fps: int = 30, sequences: Optional[Iterable[str]] = None) -> SequenceList:
    names = sorted(p.name for p in root.iterdir() if p.is_dir() and (p / str(fps) / f"{p.name}.txt").is_file())
    if not names:
        raise DatasetError(f"nfs: no sequence under {root} (expected <root>/<seq>/{fps}/<seq>.txt)")
    wanted = want(sequences)
    seqs: List[Sequence] = []
    for name in names:
        if not wanted(name):
            continue
        anno_file = root / name / str(fps) / f"{name}.txt"
        raw = read_nfs_annotation(anno_file, name)
        frames = listed_frames(root / name / str(fps) / name, "nfs", name)
        check_numbering(frames, 1, "nfs", name)
        n = len(frames)
        if len(raw) != n and abs(len(raw) / n - 8) < 1:
            raw = raw[::8]
        if len(raw) != n:
            if abs(len(raw) - n) <= 1:
                m = min(len(raw), n)
                raw, frames = raw[:m], frames[:m]
            else:
                raise DatasetError(f"nfs/{name}: {anno_file} has {len(raw)} rows for {n} frames")
        gt = np.stack([raw[:, 1], raw[:, 2], raw[:, 3] - raw[:, 1], raw[:, 4] - raw[:, 2]], 1)
        with np.errstate(invalid="ignore"):
            attrs = {"fps": fps, "lost": raw[:, 6] > 0, "occluded": raw[:, 7] > 0}
        seqs.append(Sequence(name, frames, gt, "nfs", attributes=attrs))
    return select(seqs, sequences, "nfs")


@EVAL_DATASETS.register("nfs", protocol="pytracking", metric_dataset="nfs", gt_public=True, results_format="txt")
def nfs(root: Optional[Union[str, Path]] = None, *, sequences: Optional[Iterable[str]] = None) -> SequenceList:
    """NfS at 30 fps; ``root`` defaults to the ``datasets.nfs`` setting."""
    return load_nfs(resolve_root(root, "nfs"), 30, sequences)
