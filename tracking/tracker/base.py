"""Tracker interface shared by all trackers (learned and not).

A tracker is built once per process (network loaded once) and can be
(re)initialised many times — the VOT reset protocol relies on this.
Images are HxWx3 uint8 RGB numpy arrays; boxes are 0-based ``[x, y, w, h]``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Dict, Optional

import numpy as np

__all__ = ["BaseTracker", "TrackOutput"]

TrackOutput = Dict[str, Any]  # {'box': np.ndarray(4), 'score': float, optional 'debug': {...}}


class BaseTracker(ABC):
    #: set by subclasses that need a network
    uses_network: bool = False

    def __init__(self, cfg: Any, net: Any = None, device: str = "cpu"):
        self.cfg = cfg
        self.net = net
        self.device = device
        self.debug = False
        #: per-frame timings of named stages (filled by trackers that profile)
        self.timings: Dict[str, float] = {}

    @abstractmethod
    def initialize(self, image: np.ndarray, box: np.ndarray) -> TrackOutput:
        """Start tracking ``box`` in ``image``."""

    @abstractmethod
    def track(self, image: np.ndarray) -> TrackOutput:
        """Return the target state in the next frame."""

    @classmethod
    def build_network(cls, cfg: Any, device: str = "cpu") -> Optional[Any]:
        """Build (and load weights for) the network; None for non-learned trackers."""
        return None
