"""Typed configuration of Ocean (``configs/ocean/*.yaml``): one schema for offline and online.

``track.online`` switches the online classifier branch on (it needs ``model.online.enabled``).
Hyper-parameter defaults are TracKit's ``OceanConfig`` / ``experiments/test/*/Ocean.yaml`` (ocean.md §5).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import List, Literal, Optional

from ltr.admin.experiment import ExperimentConfig
from ltr.admin.track_config import ColourModelConfig
from ltr.admin.train_config import HardNegativeLossConfig, TrainConfig
from ltr.models.ocean.config import OceanModelConfig

__all__ = ["OceanOnlineTrackConfig", "OceanTrackConfig", "OceanLossConfig", "OceanLabelConfig",
           "OceanOnlineTrainConfig", "OceanTrainConfig", "OceanConfig"]


# --------------------------------------------------------------------------- tracking

@dataclass
class OceanOnlineTrackConfig:
    """Online classifier at test time (ocean.md §3.2, TracKit ``ONLINE.yaml``; DiMP defaults)."""

    #: side of the online sample in image px = search_area_scale · sqrt(w0·h0), resized to image_sample_size
    search_area_scale: float = 4.0
    image_sample_size: int = 224
    border_mode: Literal["replicate", "constant"] = "replicate"
    #: init augmentation (§3.2): 448 expansion, random shift 1/3 of the sample
    augmentation_expansion_factor: float = 2.0
    random_shift_factor: float = 1.0 / 3.0
    relative_shifts: List[List[float]] = field(default_factory=lambda: [[0.6, 0.6], [-0.6, 0.6], [0.6, -0.6], [-0.6, -0.6]])
    flip: bool = True
    blur: List[List[float]] = field(default_factory=lambda: [[2, 0.2], [0.2, 2], [3, 1], [1, 3], [2, 2]])
    rotate: List[float] = field(default_factory=lambda: [5, -5, 10, -10, 20, -20, 30, -30, 45, -45, -60, 60])
    dropout_copies: int = 7
    dropout_prob: float = 0.2
    #: steepest-descent iterations at initialisation / per update
    net_opt_iter: int = 25
    net_opt_update_iter: int = 3
    net_opt_hn_iter: int = 3
    #: optimise every N frames (frame_num counts from 1 at init) and on hard negatives
    train_skipping: int = 10
    sample_memory_size: int = 250
    learning_rate: float = 0.0075
    hard_negative_learning_rate: float = 0.02
    #: DiMP advanced localisation
    target_not_found_threshold: float = 0.0
    distractor_threshold: float = 100.0
    hard_negative_threshold: float = 0.45
    target_neighborhood_scale: float = 2.2
    displacement_scale: float = 0.7
    #: keep the online target inside the image by this fraction of its size
    target_inside_ratio: float = 0.2
    #: seed of the augmentation RNG (TracKit seeds 1234)
    seed: int = 1234

    def validate(self) -> None:
        if self.image_sample_size < 16 or self.search_area_scale <= 0:
            raise ValueError("track.online_params: image_sample_size must be >= 16 and search_area_scale > 0")
        if self.sample_memory_size < 1 or self.train_skipping < 1:
            raise ValueError("track.online_params: sample_memory_size and train_skipping must be >= 1")


@dataclass
class OceanTrackConfig:
    """Per-frame procedure of the Siamese tracker (TracKit ``lib/tracker/ocean.py``)."""

    penalty_k: float = 0.062
    window_influence: float = 0.38
    #: size learning rate (λ = penalty · p_cls · lr at the peak)
    lr: float = 0.765
    #: search crop side for normal targets / small targets (area ratio below small_target_ratio)
    small_sz: int = 255
    big_sz: int = 255
    small_target_ratio: float = 0.004
    exemplar_size: int = 127
    context_amount: float = 0.5
    windowing: Literal["cosine", "uniform"] = "cosine"
    #: use the object-aware branch when the network has one (TracKit: VOT only)
    align: bool = True
    #: p_cls = ratio·σ(z_r) + (1 − ratio)·σ(z_o)  (ratio = 1 − ω)
    ratio: float = 0.94
    #: TracKit smooths the size twice (new = old + λ²·Δ); False: new = old + λ·Δ
    double_size_smoothing: bool = True
    #: crop geometry: ``official`` = TracKit's rounded-corner window resized from round(side) pixels (parity);
    #: ``exact`` = the training pipeline's affine crop (target exactly at the crop centre), for models trained
    #: with SOTLab's processing, which removes a ~1 px bias of the official crop (see get_subwindow_exact)
    crop: Literal["official", "exact"] = "official"
    #: clamps after each frame: centre inside the image, size in [min_size, image size]
    min_size: float = 10.0
    #: SOTLab extension, off (0) in every official config: when p_cls at the chosen peak is below this,
    #: the target is treated as occluded/lost and the state (centre and size) is kept instead of jumping
    #: to the best-looking background patch; the search continues around the last position
    lost_threshold: float = 0.0
    #: search crop side used while lost (0 = unchanged), DaSiamRPN-style re-detection in a wider area
    lost_search_sz: int = 0
    #: cosine-window weight while lost (None = ``window_influence``): a flatter window lets the re-detection
    #: accept a target that comes back away from where it was last held
    lost_window_influence: Optional[float] = None
    #: SOTLab extension, off (0) in every official config: SiamFC's scale pyramid. Besides the crop of side s_x,
    #: crops of side s_x/q and s_x·q (q = ``scale_step`` > 1) go through the network in the same batch; each is
    #: decoded on its own, and the scale whose penalised, windowed peak (× ``scale_penalty`` for the two outer
    #: ones) is highest gives the frame's box. Not used while held (``lost_threshold``). Why: Ocean tiny's box
    #: regression leans towards the size the crop assumes (README "Scale search"), so a wrong size is corrected
    #: slowly; its classification peak falls off with the size mismatch and picks the better crop
    scale_step: float = 0.0
    scale_penalty: float = 1.0
    #: online classifier branch and its fusion weight ω' (pscore ← ω'·online + (1 − ω')·pscore)
    online: bool = False
    online_ratio: float = 0.7
    online_params: OceanOnlineTrackConfig = field(default_factory=OceanOnlineTrackConfig)
    #: how the online map meets the Siamese grid: ``resize`` = TracKit's bicubic resize of the whole map
    #: (it spans 4·sqrt(w0·h0), the Siamese map about 2/3 of that, so its evidence lands off target);
    #: ``aligned`` = SOTLab: each Siamese cell samples the online map at its own image position
    online_fusion: Literal["resize", "aligned"] = "resize"
    #: online colour model mixed into the classification map before penalty and window (SOTLab extension, off)
    colour: ColourModelConfig = field(default_factory=ColourModelConfig)

    def validate(self) -> None:
        for k in ("window_influence", "lr", "ratio", "online_ratio"):
            v = getattr(self, k)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"track.{k} must be in [0, 1], got {v}")
        for k in ("small_sz", "big_sz"):
            v = getattr(self, k)
            if v < self.exemplar_size:
                raise ValueError(f"track.{k}={v} must be >= track.exemplar_size={self.exemplar_size}")
        if self.lost_search_sz and self.lost_search_sz < self.exemplar_size:
            raise ValueError(f"track.lost_search_sz={self.lost_search_sz} must be 0 (off) or >= track.exemplar_size")
        if self.lost_window_influence is not None and not 0.0 <= self.lost_window_influence <= 1.0:
            raise ValueError(f"track.lost_window_influence must be null or in [0, 1], got {self.lost_window_influence}")
        if not 0.0 <= self.lost_threshold <= 1.0:
            raise ValueError(f"track.lost_threshold must be in [0, 1], got {self.lost_threshold}")
        if self.scale_step != 0.0 and not (self.scale_step > 1.0 and math.isfinite(self.scale_step)):
            raise ValueError(f"track.scale_step must be 0 (off) or a finite factor > 1, got {self.scale_step}")
        if not 0.0 < self.scale_penalty <= 1.0:
            raise ValueError(f"track.scale_penalty must be in (0, 1], got {self.scale_penalty}")
        if self.min_size <= 0 or self.penalty_k < 0 or self.context_amount < 0:
            raise ValueError("track.min_size must be > 0, penalty_k and context_amount >= 0")
        self.online_params.validate()
        self.colour.validate()


# --------------------------------------------------------------------------- training

@dataclass
class OceanLabelConfig:
    """Classification label of p_r (ocean.md §4.2)."""

    #: 'diamond' (code: |Δi| + |Δj| ≤ radius cells around the shift-derived centre, scale ignored) or
    #: 'euclid' (paper Eq. 7: Euclidean distance to the target centre ≤ radius_px crop pixels)
    kind: Literal["diamond", "euclid"] = "diamond"
    radius: int = 2
    radius_px: float = 16.0


@dataclass
class OceanLossConfig(HardNegativeLossConfig):
    """Loss weights (code HEAD: 1/1/1; before 2020-09-26: reg 1.2; paper: cls 1.2) and switches."""

    cls_weight: float = 1.0
    align_weight: float = 1.0
    reg_weight: float = 1.0
    #: stop the gradient through the IoU label of L_o (ocean.md §8.5; TracKit does not detach)
    detach_align_label: bool = True
    #: also stop the gradient flowing from L_o into the regressor through the OA offsets (ablation)
    detach_offsets: bool = False


@dataclass
class OceanOnlineTrainConfig:
    """Online-branch training on a frozen offline model (DiMP-50 classification settings, §3.1)."""

    #: offline checkpoint the online branch is trained on top of (its weights are frozen)
    base_weights: Optional[str] = None
    #: DiMP LBHinge threshold and the per-iteration classification loss weights
    hinge_threshold: float = 0.05
    clf_weight: float = 100.0
    init_clf_weight: float = 100.0
    iter_clf_weight: float = 400.0
    test_loss_weight: float = 1.0
    #: Gaussian label sigma in feature cells (DiMP: 1/4 · filter-size-relative)
    label_sigma_factor: float = 0.25
    #: initialise ``layeronline`` from the backbone's layer3 (ImageNet) weights (§3.1 [I])
    init_layer_from_layer3: bool = True


@dataclass
class OceanTrainConfig(TrainConfig):
    labels: OceanLabelConfig = field(default_factory=OceanLabelConfig)
    loss: OceanLossConfig = field(default_factory=OceanLossConfig)
    #: 'offline' trains the Siamese network; 'online' the online classifier branch on a frozen one
    mode: Literal["offline", "online"] = "offline"
    online: OceanOnlineTrainConfig = field(default_factory=OceanOnlineTrainConfig)


# --------------------------------------------------------------------------- root

@dataclass
class OceanConfig(ExperimentConfig):
    """Root of an Ocean YAML."""

    model: OceanModelConfig = field(default_factory=OceanModelConfig)
    train: OceanTrainConfig = field(default_factory=OceanTrainConfig)
    track: OceanTrackConfig = field(default_factory=OceanTrackConfig)

    def validate(self) -> None:
        self.track.validate()
        self.train.validate()
        self.train.loss.validate()
        if self.track.online and not self.model.online.enabled:
            raise ValueError("track.online is true but model.online.enabled is false (the online branch is not built)")
        if self.train.mode == "online" and not self.model.online.enabled:
            raise ValueError("train.mode is 'online' but model.online.enabled is false")
        if self.track.exemplar_size != self.model.exemplar_size:
            raise ValueError(f"track.exemplar_size={self.track.exemplar_size} differs from model.exemplar_size={self.model.exemplar_size}")
        from ltr.models.ocean.network import _trunk_size

        m = self.model
        sizes = {"track.small_sz": self.track.small_sz, "track.big_sz": self.track.big_sz}
        if self.train.mode == "offline" and self.train.processing.crop_mode == "siamfc":
            sizes["train.processing.search.size"] = self.train.processing.search.size
        for key, size in sizes.items():
            if m.template_center is not None and _trunk_size(size) < m.crop_threshold:
                raise ValueError(f"{key}={size} gives a {_trunk_size(size)}-wide search feature map, below "
                                 f"model.crop_threshold={m.crop_threshold}: the neck would centre-crop it like a template "
                                 f"(lower model.crop_threshold or set model.template_center: null)")
