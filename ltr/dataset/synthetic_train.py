"""Training split of the built-in synthetic benchmark (GOT-10k layout, generated on first use).

It lets every tracker run a real (small) training job with no external data:
``train.data.datasets: [{name: synthetic}]``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from ltr.admin.registry import TRAIN_DATASETS

from .got10k import Got10kTrain

__all__ = ["SyntheticTrain"]


@TRAIN_DATASETS.register("synthetic")
class SyntheticTrain(Got10kTrain):
    name = "synthetic"

    def __init__(self, root: Optional[Union[str, Path]] = None, split: str = "train",
                 sequences: Optional[Sequence[str]] = None, num_sequences: Optional[int] = None,
                 seed: Optional[int] = None):
        if split not in ("train", "val"):
            raise ValueError(f"synthetic: training split must be 'train' or 'val', got '{split}'")
        from ltr.dataset.synthetic.generator import ensure_synthetic

        if root is None:
            from ltr.admin.settings import get_settings

            root = get_settings().synthetic_dir
        split_dir = Path(ensure_synthetic(Path(root), split, num_sequences=num_sequences, seed=seed))
        # ensure_synthetic returns <root>/<split>; Got10kTrain wants the parent
        super().__init__(root=split_dir.parent, split=split, sequences=sequences)
        self._seed = seed
        self._distractors: Dict[int, np.ndarray] = {}

    def _sequence_distractors(self, seq_id: int) -> np.ndarray:
        """(n, k, 4) distractor boxes of a sequence (``distractors.txt``, rebuilt for splits written before it)."""
        got = self._distractors.get(seq_id)
        if got is None:
            from ltr.dataset.synthetic.generator import sequence_distractor_boxes

            got = sequence_distractor_boxes(self.sequence_dir(seq_id), self.sequence_info(seq_id).boxes.shape[0],
                                            self._seed)
            self._distractors[seq_id] = got
        return got

    def distractor_boxes(self, seq_id: int, frame_ids: Sequence[int]) -> Optional[List[np.ndarray]]:
        boxes = self._sequence_distractors(seq_id)
        return [boxes[int(i)].copy() for i in frame_ids]
