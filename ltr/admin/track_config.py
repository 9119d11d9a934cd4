"""Pieces of the ``track`` section that several trackers share (tracker-specific fields stay with each tracker)."""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ColourModelConfig"]


@dataclass
class ColourModelConfig:
    """Online colour model fused into a Siamese tracker's classification map (a SOTLab extension; off by default,
    as in the official trackers): :class:`tracking.tracker.colour_model.ColourModel`.

    Why: a Siamese tracker compares every frame with the first frame's template, so a target whose colours drift
    can rank below a look-alike whose colours stay close to the template. A colour histogram of object against
    surroundings (Staple, DAT) that follows the target with a learning rate adapts to that drift, at a cost of
    about a millisecond per frame. The defaults are the values chosen for SiamCAR tiny on the synthetic val
    split (README "Small models"): enabling the model is ``track.colour.enabled: true``."""

    enabled: bool = False
    #: histogram bins per RGB channel (a power of two in 4..64)
    bins: int = 32
    #: grey-world normalisation: each frame's colours are divided by that frame's mean per channel, which
    #: cancels a global illumination change (brightness and tint) that would otherwise move every colour to
    #: other bins (off: SiamCAR tiny on val 54.5 with it, 54.9 without, paired interval across 0)
    normalise: bool = False
    #: object region: the box shrunk by this factor (target shapes are not rectangles)
    inner: float = 0.5
    #: surrounding region: the box enlarged by this factor, minus the box
    surround: float = 2.5
    #: smoothing of P(object | colour) = (H_o + prior) / (H_o + H_s + 2 prior) on the normalised histograms; an
    #: unseen colour scores 0.5
    prior: float = 0.001
    #: learning rate of the histograms (0 = frame-1 model only)
    lr: float = 0.02
    #: skip the update when the network's confidence at the chosen position is below this
    update_threshold: float = 0.6
    #: skip the update when the colour score at the chosen position is below this fraction of the colour map's
    #: maximum, so that an object of other colours the tracker has jumped to is not learned (0 = off; 0.8 did
    #: not help SiamCAR tiny on val: 54.3 vs 54.5, with normalise)
    update_agreement: float = 0.0
    #: fused classification map = (1 - weight) * network + weight * colour score
    weight: float = 0.5
    #: distractor-aware term (DAT): P(object | colour) = (1 - d) * P(object vs surroundings) + d * P(object vs
    #: distractors), the distractor histogram taken at the network map's other peaks; 0 = off
    distractor_weight: float = 0.5
    #: a local maximum of the network's map counts as a distractor at >= this fraction of the map's maximum
    #: and more than one target size from the chosen peak
    distractor_ratio: float = 0.5

    def validate(self) -> None:
        if self.bins not in (4, 8, 16, 32, 64):
            raise ValueError(f"track.colour.bins must be a power of two in 4..64, got {self.bins}")
        if not 0.0 < self.inner <= 1.0:
            raise ValueError(f"track.colour.inner must be in (0, 1], got {self.inner}")
        if self.surround <= 1.0:
            raise ValueError(f"track.colour.surround must be > 1, got {self.surround}")
        if self.prior <= 0:
            raise ValueError(f"track.colour.prior must be > 0, got {self.prior}")
        for k in ("lr", "weight", "distractor_weight", "distractor_ratio", "update_agreement"):
            v = getattr(self, k)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"track.colour.{k} must be in [0, 1], got {v}")
