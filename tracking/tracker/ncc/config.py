"""Typed configuration of the NCC reference tracker (``configs/ncc/*.yaml``)."""
from __future__ import annotations

from dataclasses import dataclass, field

from ltr.admin.experiment import ExperimentConfig

__all__ = ["NCCTrackConfig", "NCCConfig"]


@dataclass
class NCCTrackConfig:
    """Tracking parameters.  Sizes in "canonical" pixels refer to the fixed-size
    working resolution the template is resampled to, so speed does not depend
    on the target's size in the image."""

    #: square root of the template area in canonical pixels (aspect ratio kept)
    template_size: int = 32
    #: search region side = this factor x target side (per dimension)
    search_area_factor: float = 3.0
    #: number of scales tried per frame (odd; centred on the current scale)
    num_scales: int = 3
    #: ratio between neighbouring scales
    scale_step: float = 1.04
    #: subtracted from the peak NCC of every non-unit scale (favours keeping the size)
    scale_penalty: float = 0.01
    #: damping of the size update (0 = never change size, 1 = jump to the best scale)
    scale_lr: float = 0.35
    #: weight of the cosine (Hann) window added to the response (penalises large jumps)
    window_influence: float = 0.15
    #: template running-average rate (slow update limits drift)
    template_lr: float = 0.02
    #: the template is only updated when the peak NCC is at least this
    update_threshold: float = 0.5
    #: smallest box side in image pixels
    min_size: float = 2.0

    def validate(self) -> None:
        if self.template_size < 4:
            raise ValueError(f"track.template_size must be >= 4, got {self.template_size}")
        if self.search_area_factor < 1.0:
            raise ValueError(f"track.search_area_factor must be >= 1, got {self.search_area_factor}")
        if self.num_scales < 1 or self.num_scales % 2 == 0:
            raise ValueError(f"track.num_scales must be a positive odd number, got {self.num_scales}")
        if self.scale_step < 1.0:
            raise ValueError(f"track.scale_step must be >= 1, got {self.scale_step}")
        for name in ("scale_lr", "window_influence", "template_lr"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"track.{name} must be in [0, 1], got {v}")
        if self.min_size <= 0:
            raise ValueError(f"track.min_size must be > 0, got {self.min_size}")


@dataclass
class NCCConfig(ExperimentConfig):
    """Root of an NCC YAML: only a ``track`` section (nothing is learned)."""

    track: NCCTrackConfig = field(default_factory=NCCTrackConfig)

    def validate(self) -> None:
        self.track.validate()
