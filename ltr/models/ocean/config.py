"""``model:`` section of the Ocean YAML files (shared by the offline and the online variant).

Defaults are the official TracKit network (ocean.md §2): ResNet-50 up to layer3, 1024→256 neck,
three-rate matching with softmax weights, 4-layer towers, object-aware head. Paper variants are
switches (``combine: sum``, ``align_kind: conv``); the tiny CPU model shrinks widths and depths.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Literal, Optional

__all__ = ["OceanOnlineNetConfig", "OceanModelConfig"]


@dataclass
class OceanOnlineNetConfig:
    """The online classifier branch (ocean.md §3.1: DiMP's classifier without IoUNet)."""

    #: build ``layeronline`` + the classifier (``model.online``); the offline tracker ignores them
    enabled: bool = False
    #: bottleneck blocks of ``layeronline`` (non-dilated ResNet-50 stage, stride 2, planes 4·width)
    layer_blocks: int = 6
    #: classification feature channels (3×3 conv 1024→512 + InstanceL2Norm)
    feature_dim: int = 512
    filter_size: int = 4
    #: stride of ``layeronline`` w.r.t. the image (16)
    feat_stride: int = 16
    #: steepest-descent iterations inside the training forward
    optim_iter: int = 5
    init_step_length: float = 0.9
    init_filter_reg: float = 0.1
    min_filter_reg: float = 1e-3
    init_gauss_sigma: float = 0.85
    num_dist_bins: int = 100
    bin_displacement: float = 0.1
    mask_init_factor: float = 3.0
    #: score activation inside the optimiser's residual: 'relu' / 'leaky_relu' (DiMP 'bentpar' not used)
    score_act: Literal["relu", "leaky_relu", "linear"] = "relu"
    act_param: Optional[float] = None
    mask_act: Literal["sigmoid", "linear"] = "sigmoid"
    #: online-branch input normalisation (RGB/255, ImageNet mean/std), unlike the Siamese BGR 0–255 path
    mean: List[float] = field(default_factory=lambda: [0.485, 0.456, 0.406])
    std: List[float] = field(default_factory=lambda: [0.229, 0.224, 0.225])

    def __post_init__(self) -> None:
        if self.layer_blocks < 1 or self.feature_dim < 1 or self.filter_size < 1:
            raise ValueError("model.online: layer_blocks, feature_dim and filter_size must be >= 1")
        if len(self.mean) != 3 or len(self.std) != 3:
            raise ValueError("model.online: mean and std need three values (R, G, B)")


@dataclass
class OceanModelConfig:
    """Offline network geometry and switches."""

    #: blocks of layer1..layer3 of the atrous ResNet (ResNet-50: 3, 4, 6)
    backbone_layers: List[int] = field(default_factory=lambda: [3, 4, 6])
    #: stem channels / layer1 planes (64 for ResNet-50; layer3 outputs 16·width channels)
    backbone_width: int = 64
    #: layer2/layer3 shortcuts: 3 = pysot/TracKit's 3×3 (needed by official weights); 1 = SOTLab's centre-tap
    #: 1×1 (same sizes and alignment, ~9× cheaper; see ``CentreTapConv2d``)
    backbone_shortcut_kernel: int = 3
    #: ImageNet weights for the trunk: a file path or a ``pretrained.<name>`` key of the settings
    #: (TracKit ``pretrain.model`` / pysot ``resnet50.model``); None = random init
    pretrained_backbone: Optional[str] = None
    #: neck output = matching/tower width
    channels: int = 256
    #: template map centre crop after the neck (15×15 → 7×7); applied to maps narrower than crop_threshold
    template_center: Optional[int] = 7
    crop_threshold: int = 20
    tower_num: int = 4
    #: matching rates as PyTorch dilation (dH, dW); paper Φ11, Φ12, Φ21
    rates: List[List[int]] = field(default_factory=lambda: [[1, 1], [2, 1], [1, 2]])
    #: 'softmax' (code) or 'sum' (paper Eq. 9)
    combine: Literal["softmax", "sum"] = "softmax"
    cls_scale: float = 0.1
    reg_adjust_init: float = 0.1
    reg_bias_init: float = 1.0
    #: object-aware classification head (TracKit ``align=True``)
    align: bool = True
    #: 'deform' (code: deformable 3×3 at box offsets) or 'conv' (paper: plain 3×3)
    align_kind: Literal["deform", "conv"] = "deform"
    #: total stride of the score map w.r.t. the search crop and the template size the grid assumes
    stride: int = 8
    exemplar_size: int = 127
    online: OceanOnlineNetConfig = field(default_factory=OceanOnlineNetConfig)

    def __post_init__(self) -> None:
        if len(self.backbone_layers) != 3 or any(int(n) < 1 for n in self.backbone_layers):
            raise ValueError(f"model.backbone_layers must be three positive block counts, got {self.backbone_layers}")
        if self.backbone_shortcut_kernel not in (1, 3):
            raise ValueError(f"model.backbone_shortcut_kernel must be 3 (pysot) or 1 (centre tap), got "
                             f"{self.backbone_shortcut_kernel}")
        if self.backbone_width < 1 or self.channels < 1 or self.tower_num < 0:
            raise ValueError("model: backbone_width and channels must be >= 1, tower_num >= 0")
        if not self.rates or any(len(r) != 2 or min(r) < 1 for r in self.rates):
            raise ValueError(f"model.rates must be a list of [dH, dW] pairs >= 1, got {self.rates}")
