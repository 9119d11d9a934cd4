"""Test-only trackers for the VOT integration tests.

Imported ONLY by the subprocesses the tests start (``--plugin vot_test_trackers``
with this folder on the path), never by the pytest process, so that they do not
appear in the global tracker registry other tests iterate over.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ltr.admin.experiment import ExperimentConfig
from ltr.admin.registry import TRACKERS
from tracking.tracker.base import BaseTracker


@dataclass
class FaultyTrackConfig:
    #: raise at this frame after each initialisation (0 = never)
    fail_at: int = 0
    #: sleep this many seconds in every track() call
    sleep: float = 0.0


@dataclass
class FaultyConfig(ExperimentConfig):
    track: FaultyTrackConfig = field(default_factory=FaultyTrackConfig)


@TRACKERS.register("vottest_faulty", config=FaultyConfig)
class FaultyTracker(BaseTracker):
    """Reports the initial box forever; raises or stalls on request."""

    def initialize(self, image, box):
        self.box = np.asarray(box, dtype=np.float64).copy()
        self.frame = 0
        return {}

    def track(self, image):
        self.frame += 1
        if self.cfg.track.sleep:
            time.sleep(self.cfg.track.sleep)
        if self.cfg.track.fail_at and self.frame >= self.cfg.track.fail_at:
            raise RuntimeError(f"deliberate test failure at frame {self.frame}")
        return {"box": self.box.copy(), "score": 0.5}
