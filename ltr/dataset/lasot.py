"""LaSOT training dataset (raw layout).

Layout: ``<root>/<class>/<class>-<n>/{img/00000001.jpg, groundtruth.txt,
full_occlusion.txt, out_of_view.txt}``.

Official protocol: 1,120 training / 280 test videos (4 of the 20 per class).
The split is read from the official list files at the dataset root:
``testing_set.txt`` (and optionally ``training_set.txt``); ``train`` is
``training_set.txt`` if present, else every sequence not in
``testing_set.txt``.  ``seq_list_file`` overrides both; ``classes`` keeps
only the listed classes.  Visible = not fully occluded and not out of view.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence, Union

import numpy as np

from ltr.admin.registry import TRAIN_DATASETS

from .base import DatasetLayoutError, SequenceInfo, TrainDataset, read_box_file, read_flag_file, read_seq_list, resolve_root

__all__ = ["LasotTrain"]

_LAYOUT = "<root>/<class>/<class>-<n>/{img/00000001.jpg,groundtruth.txt,full_occlusion.txt,out_of_view.txt} + <root>/testing_set.txt"


@TRAIN_DATASETS.register("lasot")
class LasotTrain(TrainDataset):
    name = "lasot"

    def __init__(self, root: Optional[Union[str, Path]] = None, split: str = "train",
                 seq_list_file: Optional[Union[str, Path]] = None, classes: Optional[Sequence[str]] = None):
        root = resolve_root(self.name, root)
        super().__init__(root, split)
        if split not in ("train", "test", "all"):
            raise ValueError(f"lasot: unknown split '{split}' (train, test, all)")
        all_seqs = self._scan()
        if seq_list_file is not None:
            wanted = read_seq_list(Path(seq_list_file))
        elif split == "all":
            wanted = all_seqs
        else:
            test_file, train_file = self.root / "testing_set.txt", self.root / "training_set.txt"
            if split == "train" and train_file.is_file():
                wanted = read_seq_list(train_file)
            elif test_file.is_file():
                test = read_seq_list(test_file)
                wanted = test if split == "test" else [s for s in all_seqs if s not in set(test)]
            else:
                raise DatasetLayoutError(
                    f"lasot: split '{split}' needs the official split file {test_file} (or {train_file}), or set "
                    f"options.seq_list_file. Expected layout: {_LAYOUT}")
        known = set(all_seqs)
        missing = [s for s in wanted if s not in known]
        if missing:
            raise DatasetLayoutError(f"lasot: {len(missing)} listed sequence(s) missing under {self.root}, e.g. {missing[:3]}")
        if classes is not None:
            cls = set(classes)
            wanted = [s for s in wanted if s.rsplit("-", 1)[0] in cls]
        self.sequence_names = sorted(wanted, key=_seq_key)

    def _scan(self) -> List[str]:
        seqs = []
        for cdir in self.root.iterdir():
            if not cdir.is_dir():
                continue
            for sdir in cdir.iterdir():
                if sdir.is_dir() and sdir.name.startswith(cdir.name + "-"):
                    seqs.append(sdir.name)
        if not seqs:
            raise DatasetLayoutError(f"lasot: no sequences under {self.root}. Expected layout: {_LAYOUT}")
        return seqs

    def object_class(self, seq_id: int) -> str:
        return self.sequence_names[seq_id].rsplit("-", 1)[0]

    def sequence_dir(self, seq_id: int) -> Path:
        name = self.sequence_names[seq_id]
        return self.root / name.rsplit("-", 1)[0] / name

    def _load_sequence_info(self, seq_id: int) -> SequenceInfo:
        d = self.sequence_dir(seq_id)
        boxes = read_box_file(d / "groundtruth.txt")
        vis = np.ones(boxes.shape[0], dtype=bool)
        for fname in ("full_occlusion.txt", "out_of_view.txt"):
            flags = read_flag_file(d / fname)
            if flags is not None:
                if flags.shape[0] != boxes.shape[0]:
                    raise DatasetLayoutError(f"{d / fname}: {flags.shape[0]} flags for {boxes.shape[0]} boxes")
                vis &= flags == 0
        return SequenceInfo(boxes, vis)

    def frame_path(self, seq_id: int, frame_id: int) -> str:
        return str(self.sequence_dir(seq_id) / "img" / f"{frame_id + 1:08d}.jpg")


def _seq_key(name: str):
    cls, _, num = name.rpartition("-")
    return (cls, int(num) if num.isdigit() else num)
