"""GOT-10k training dataset (raw layout).

Layout: ``<root>/<split>/list.txt`` and ``<root>/<split>/GOT-10k_*/{00000001.jpg,
groundtruth.txt, absence.label, cover.label, meta_info.ini}``.

Splits: ``train`` (everything in ``train/``), ``val`` (``val/``) and the
VOT-excluded ``vottrain``/``votval`` subsets of ``train/``, which need the
sequence-list file (option ``seq_list_file``; pytracking ships them as
``got10k_vot_train_split.txt``/``got10k_vot_val_split.txt``).  A list file
may hold sequence names or 0-based integer indices into ``train/list.txt``.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence, Union

import numpy as np

from ltr.admin.registry import TRAIN_DATASETS

from .base import DatasetLayoutError, SequenceInfo, TrainDataset, read_box_file, read_flag_file, read_seq_list, resolve_root

__all__ = ["Got10kTrain"]

_LAYOUT = "<root>/<split>/list.txt, <root>/<split>/GOT-10k_*/{00000001.jpg,groundtruth.txt,absence.label,cover.label}"


def _select(names: List[str], wanted: List[str], list_file: Path) -> List[str]:
    if all(w.lstrip("-").isdigit() for w in wanted):
        idx = [int(w) for w in wanted]
        bad = [i for i in idx if not 0 <= i < len(names)]
        if bad:
            raise DatasetLayoutError(f"{list_file}: indices {bad[:5]} out of range for {len(names)} sequences")
        return [names[i] for i in idx]
    known = set(names)
    missing = [w for w in wanted if w not in known]
    if missing:
        raise DatasetLayoutError(f"{list_file}: {len(missing)} sequence(s) not in the dataset, e.g. {missing[:3]}")
    return list(wanted)


@TRAIN_DATASETS.register("got10k")
class Got10kTrain(TrainDataset):
    name = "got10k"

    def __init__(self, root: Optional[Union[str, Path]] = None, split: str = "train",
                 seq_list_file: Optional[Union[str, Path]] = None, sequences: Optional[Sequence[str]] = None):
        root = resolve_root(self.name, root)
        super().__init__(root, split)
        sub = "val" if split in ("val",) else "train"
        if split not in ("train", "val", "vottrain", "votval"):
            raise ValueError(f"got10k: unknown split '{split}' (train, val, vottrain, votval)")
        self.split_dir = self.root / sub
        names = self._list_sequences(self.split_dir)
        if split in ("vottrain", "votval") and seq_list_file is None and sequences is None:
            raise ValueError(
                f"got10k split '{split}' needs the VOT-excluded sequence list: set data.datasets[].options.seq_list_file "
                f"(pytracking's got10k_vot_{split[3:]}_split.txt, one sequence index or name per line)")
        if seq_list_file is not None:
            names = _select(names, read_seq_list(Path(seq_list_file)), Path(seq_list_file))
        if sequences is not None:
            names = _select(names, list(sequences), Path("<sequences option>"))
        self.sequence_names = names

    def _list_sequences(self, d: Path) -> List[str]:
        if not d.is_dir():
            raise DatasetLayoutError(f"got10k: split folder {d} not found. Expected layout: {_LAYOUT}")
        lst = d / "list.txt"
        if lst.is_file():
            return read_seq_list(lst)
        names = sorted(p.name for p in d.iterdir() if p.is_dir() and (p / "groundtruth.txt").is_file())
        if not names:
            raise DatasetLayoutError(f"got10k: no sequences in {d} (no list.txt, no */groundtruth.txt). Expected layout: {_LAYOUT}")
        return names

    def sequence_dir(self, seq_id: int) -> Path:
        return self.split_dir / self.sequence_names[seq_id]

    def _load_sequence_info(self, seq_id: int) -> SequenceInfo:
        d = self.sequence_dir(seq_id)
        boxes = read_box_file(d / "groundtruth.txt")
        n = boxes.shape[0]
        vis = np.ones(n, dtype=bool)
        absence = read_flag_file(d / "absence.label")
        if absence is not None:
            if absence.shape[0] != n:
                raise DatasetLayoutError(f"{d / 'absence.label'}: {absence.shape[0]} flags for {n} boxes")
            vis &= absence == 0
        cover = read_flag_file(d / "cover.label")
        if cover is not None:
            if cover.shape[0] != n:
                raise DatasetLayoutError(f"{d / 'cover.label'}: {cover.shape[0]} flags for {n} boxes")
            vis &= cover > 0
        return SequenceInfo(boxes, vis)

    def frame_path(self, seq_id: int, frame_id: int) -> str:
        return str(self.sequence_dir(seq_id) / f"{frame_id + 1:08d}.jpg")
