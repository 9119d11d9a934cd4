"""Training split of the built-in synthetic benchmark (GOT-10k layout, generated on first use).

It lets every tracker run a real (small) training job with no external data:
``train.data.datasets: [{name: synthetic}]``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Union

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
