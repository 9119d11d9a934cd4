"""Typed configuration of SiamCAR (``configs/siamcar/*.yaml``): model, train (loss/labels), track.

Defaults follow the official HEAD release (siamcar.md, tag [C]); every paper/code difference is a
switch whose alternative value is documented next to it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Literal, Optional

from ltr.admin.experiment import ExperimentConfig
from ltr.admin.track_config import ColourModelConfig
from ltr.admin.train_config import HardNegativeLossConfig, TrainConfig

__all__ = [
    "SiamCARModelConfig",
    "SiamCARLossConfig",
    "SiamCARTrainConfig",
    "SiamCARTrackConfig",
    "SiamCARConfig",
    "HP_PRESETS",
]


@dataclass
class SiamCARModelConfig:
    """Network architecture and the crop geometry it is trained/tracked at."""

    #: blocks per ResNet stage (ResNet-50: [3, 4, 6, 3]); tiny variants use fewer
    backbone_layers: List[int] = field(default_factory=lambda: [3, 4, 6, 3])
    #: stem channels / layer1 planes (64 = ResNet-50)
    backbone_width: int = 64
    #: returned backbone maps (pysot indexing: 2..4 = layer2..4)
    used_layers: List[int] = field(default_factory=lambda: [2, 3, 4])
    #: ImageNet trunk weights: a file (relative to the repo root or absolute) or ``pretrained:<name>``
    #: (a key of the settings' ``pretrained`` section, e.g. ``pretrained:pysot_resnet50``); null = random init
    pretrained_backbone: Optional[str] = None
    neck_channels: int = 256
    #: template centre crop after the neck (central 7×7 = [4:11] of the 15×15 map); null = no crop
    neck_center_size: Optional[int] = 7
    head_convs: int = 4
    gn_groups: int = 32
    prior_prob: float = 0.01
    #: template / search crop sides and the network stride (pysot EXEMPLAR_SIZE, INSTANCE_SIZE, STRIDE)
    template_size: int = 127
    search_size: int = 255
    stride: int = 8

    def validate(self) -> None:
        if self.neck_channels % self.gn_groups != 0:
            raise ValueError(f"model.neck_channels ({self.neck_channels}) must be divisible by model.gn_groups ({self.gn_groups})")
        if self.search_size <= self.template_size:
            raise ValueError("model.search_size must be larger than model.template_size")
        from .network import backbone_feature_size

        zs = backbone_feature_size(self.template_size)
        if self.neck_center_size is not None and self.neck_center_size > zs:
            raise ValueError(f"model.neck_center_size {self.neck_center_size} > template feature size {zs}")

    def template_feature_size(self) -> int:
        from .network import backbone_feature_size

        zs = backbone_feature_size(self.template_size)
        return self.neck_center_size if self.neck_center_size is not None else zs

    def score_size(self) -> int:
        """Side of the response map (25 for 127/255)."""
        from .network import backbone_feature_size

        return backbone_feature_size(self.search_size) - self.template_feature_size() + 1


@dataclass
class SiamCARLossConfig(HardNegativeLossConfig):
    """Label assignment and loss weights (siamcar.md §3)."""

    #: 'official': positive iff inside the central ``pos_region`` × ``pos_region`` sub-box of the GT
    #: (code: l, r > 0.3·w and t, b > 0.3·h); 'paper': positive iff inside the GT box (eq. 5)
    label_rule: Literal["official", "paper"] = "official"
    #: width fraction of the official positive sub-box (0.4 = 1 − 2·0.3)
    pos_region: float = 0.4
    #: 'centerness': IoU loss weighted by the centerness targets (official, FCOS); 'mean': plain average (paper)
    reg_weighting: Literal["centerness", "mean"] = "centerness"
    cls_weight: float = 1.0
    loc_weight: float = 3.0
    cen_weight: float = 1.0
    #: patch coordinate of score cell 0 in training (official: 32 for 255/25; null = derived,
    #: round-half-up of (search − (S−1)·stride)/2)
    grid_offset: Optional[float] = None

    def validate(self) -> None:
        super().validate()
        if not 0.0 < self.pos_region <= 1.0:
            raise ValueError(f"train.loss.pos_region must be in (0, 1], got {self.pos_region}")


@dataclass
class SiamCARTrainConfig(TrainConfig):
    loss: SiamCARLossConfig = field(default_factory=SiamCARLossConfig)

    def validate(self) -> None:
        super().validate()
        self.loss.validate()


#: (lr, penalty_k, window_lr) per benchmark and code version (siamcar.md §5.4)
HP_PRESETS = {
    "head": {
        "otb100": (0.35, 0.2, 0.45), "uav123": (0.4, 0.2, 0.3), "got10k": (0.7, 0.06, 0.1), "lasot": (0.33, 0.04, 0.3),
    },
    "c2": {
        "otb100": (0.15, 0.1, 0.4), "uav123": (0.39, 0.04, 0.37), "got10k": (0.6, 0.04, 0.1), "lasot": (0.33, 0.04, 0.4),
    },
    "c1": {
        "otb100": (0.15, 0.1, 0.4), "uav123": (0.39, 0.04, 0.37), "got10k": (0.6, 0.04, 0.1), "lasot": (0.33, 0.04, 0.40),
        "vot2019": (0.41, 0.04, 0.3),
    },
}


@dataclass
class SiamCARTrackConfig:
    """Per-frame procedure (siamcar.md §5)."""

    #: post-processing version: 'head' (Oct 2020+, default), 'c2' (May–Jun 2020), 'c1' (Jan 2020 release),
    #: 'paper' (eq. 9 + top-k neighbour averaging)
    variant: Literal["head", "c2", "c1", "paper"] = "head"
    #: size-smoothing factor (HP ``lr``)
    lr: float = 0.35
    #: scale/aspect change penalty k
    penalty_k: float = 0.2
    #: cosine-window influence λ_d
    window_lr: float = 0.45
    context_amount: float = 0.5
    #: use the Hanning window (pysot ``hanming``)
    hanning: bool = True
    #: upsampled map side; null = (S − 1)·stride + 1 (193 for S = 25)
    upsample_size: Optional[int] = None
    #: coarse-region ltrb clamp, as fractions of the template size (HEAD: [int(0.1·127), int(0.44·127)] = [12, 55])
    region_s: float = 0.1
    region_l: float = 0.44
    #: paper variant: average the boxes of the top-k of the n neighbours of the peak
    top_k: int = 3
    #: clip the coarse cell index to S − 1 (the official code clips to S, an off-by-one that can crash)
    fix_clip_off_by_one: bool = True
    #: smallest box side kept in the state (official HEAD: 0, C1: 10); > 0 keeps crops well defined
    min_size: float = 1.0
    #: crop geometry: ``official`` = pysot's rounded-corner window resized from round(side) pixels and the
    #: official inference grid offset (31 for 255/25, one less than training's 32; parity); ``exact`` = the
    #: training pipeline's affine crop and the training grid offset, for models trained with SOTLab's
    #: processing (tracking then sees exactly the geometry the network was trained on)
    crop: Literal["official", "exact"] = "official"
    #: online colour model mixed into the classification probability before penalty and window (SOTLab
    #: extension, off)
    colour: ColourModelConfig = field(default_factory=ColourModelConfig)

    def validate(self) -> None:
        for k in ("lr", "window_lr"):
            v = getattr(self, k)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"track.{k} must be in [0, 1], got {v}")
        if self.penalty_k < 0:
            raise ValueError(f"track.penalty_k must be >= 0, got {self.penalty_k}")
        if not 0.0 <= self.region_s <= self.region_l:
            raise ValueError("track.region_s must be in [0, track.region_l]")
        if self.top_k < 1 or self.top_k > 8:
            raise ValueError(f"track.top_k must be in 1..8, got {self.top_k}")
        if self.min_size < 0:
            raise ValueError("track.min_size must be >= 0")
        self.colour.validate()


@dataclass
class SiamCARConfig(ExperimentConfig):
    """Root of a SiamCAR YAML."""

    model: SiamCARModelConfig = field(default_factory=SiamCARModelConfig)
    train: SiamCARTrainConfig = field(default_factory=SiamCARTrainConfig)
    track: SiamCARTrackConfig = field(default_factory=SiamCARTrackConfig)

    def validate(self) -> None:
        self.model.validate()
        self.train.validate()
        self.track.validate()
