"""Evaluation sequences: the common currency between datasets, runner and metrics.

Conventions (used everywhere in SOTLab):
  * boxes are ``[x, y, w, h]`` floats of the top-left corner, kept exactly as the
    benchmark stores them (OTB/UAV files are 1-based): every toolkit scores raw
    values, and pytracking initialises trackers with them unchanged, so the
    metric parity tests depend on not shifting them;
  * absent / unannotated frames have a NaN row in ``ground_truth``;
  * ``target_visible`` (bool per frame) is given where the benchmark states it
    (LaSOT full_occlusion/out_of_view; GOT-10k and synthetic: ``cover > 0``, the
    frames ExperimentGOT10k scores); None otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Sequence as Seq

import numpy as np

__all__ = ["Sequence", "SequenceList"]


@dataclass
class Sequence:
    name: str
    frames: List[str]
    ground_truth: np.ndarray  # (N, 4) xywh float64, NaN where unknown
    dataset: str
    target_visible: Optional[np.ndarray] = None
    attributes: Dict[str, Any] = field(default_factory=dict)
    object_class: Optional[str] = None
    #: polygon ground truth (N, 8) where the benchmark has one (VOT)
    polygons: Optional[np.ndarray] = None
    #: only the first box is public (GOT-10k test, TrackingNet test)
    gt_public: bool = True
    #: the frame index used for initialisation (OTB start frames are handled by slicing)
    init_frame: int = 0

    def __post_init__(self) -> None:
        self.ground_truth = np.asarray(self.ground_truth, dtype=np.float64).reshape(-1, 4)
        if len(self.frames) == 0:
            raise ValueError(f"{self.dataset}/{self.name}: sequence has no frames")

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def init_box(self) -> np.ndarray:
        box = self.ground_truth[self.init_frame]
        if not np.all(np.isfinite(box)) or box[2] <= 0 or box[3] <= 0:
            raise ValueError(f"{self.dataset}/{self.name}: invalid initial box {box.tolist()}")
        return box.copy()


class SequenceList(list):
    """A list of :class:`Sequence` with name lookup."""

    def __getitem__(self, item):  # type: ignore[override]
        if isinstance(item, str):
            for s in self:
                if s.name == item:
                    return s
            raise KeyError(f"no sequence named '{item}'")
        out = super().__getitem__(item)
        return SequenceList(out) if isinstance(item, slice) else out

    def select(self, names: Seq[str]) -> "SequenceList":
        return SequenceList(self[n] for n in names)
