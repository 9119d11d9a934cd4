"""Ocean's online classifier branch (ocean.md §3.1): DiMP's classifier without IoUNet.

Features: the Siamese backbone's conv1…layer2 (**shared**, same weights) on an RGB/255 ImageNet-normalised
crop, then ``layeronline`` — a plain (non-dilated) ResNet-50 stage with stride 2 (3×3 stride-2 pad-0 conv
and shortcut, like pysot's layer2), giving 1024 channels at stride 16 (224 → 13×13). The classifier is
:class:`~ltr.models.layers.dimp_filter.LinearFilter`: 3×3 conv 1024→512 + InstanceL2Norm, a 4×4 filter
initialised by PrRoIPool and refined by the learned steepest descent (shared optimiser), scores 14×14.
Parameters at full size: layeronline 11,292,672, classifier 7,078,702.
"""
from __future__ import annotations

import math
from typing import List, Optional

import torch
import torch.nn as nn

from ltr.models.backbones.resnet_atrous import AtrousBottleneck, AtrousResNet
from ltr.models.layers.dimp_filter import DiMPSteepestDescent, FilterInitializerLinear, InstanceL2Norm, LinearFilter

from .config import OceanOnlineNetConfig

__all__ = ["OceanOnlineBranch", "plain_stage"]


def plain_stage(inplanes: int, planes: int, blocks: int, stride: int = 2) -> nn.Sequential:
    """Non-dilated bottleneck stage with pysot geometry (stride-2 3×3 pad 0, 3×3 stride-2 shortcut)."""
    out = planes * AtrousBottleneck.expansion
    down = nn.Sequential(nn.Conv2d(inplanes, out, 3, stride=stride, padding=0 if stride > 1 else 1, bias=False),
                         nn.BatchNorm2d(out))
    layers = [AtrousBottleneck(inplanes, planes, stride, down)]
    layers += [AtrousBottleneck(out, planes) for _ in range(1, blocks)]
    stage = nn.Sequential(*layers)
    for m in stage.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return stage


class OceanOnlineBranch(nn.Module):
    """``layer`` (= TracKit ``layeronline``) + ``classifier`` (= ``ONLINEnet50.classifier``).

    The backbone is referenced, not owned: its parameters stay under ``backbone.*`` of :class:`OceanNet`.
    """

    def __init__(self, backbone: AtrousResNet, cfg: OceanOnlineNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self._backbone: List[AtrousResNet] = [backbone]  # a list hides it from the module tree
        width = backbone.width
        self.layer = plain_stage(width * 2 * AtrousBottleneck.expansion, width * 4, cfg.layer_blocks, stride=2)
        in_dim = width * 4 * AtrousBottleneck.expansion
        norm_scale = math.sqrt(1.0 / (cfg.feature_dim * cfg.filter_size * cfg.filter_size))
        feat = nn.Sequential(nn.Conv2d(in_dim, cfg.feature_dim, 3, padding=1, bias=False), InstanceL2Norm(norm_scale))
        nn.init.normal_(feat[0].weight, 0, math.sqrt(2.0 / (9 * cfg.feature_dim)))
        init = FilterInitializerLinear(cfg.filter_size, cfg.feature_dim, cfg.feat_stride)
        opt = DiMPSteepestDescent(cfg.optim_iter, cfg.feat_stride, cfg.init_step_length, cfg.init_filter_reg,
                                  cfg.init_gauss_sigma, cfg.num_dist_bins, cfg.bin_displacement, cfg.mask_init_factor,
                                  cfg.score_act, cfg.act_param, cfg.min_filter_reg, cfg.mask_act)
        self.classifier = LinearFilter(cfg.filter_size, init, opt, feat)
        self.register_buffer("mean", torch.tensor(cfg.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(cfg.std).view(1, 3, 1, 1), persistent=False)

    @property
    def backbone(self) -> AtrousResNet:
        return self._backbone[0]

    def preprocess(self, img: torch.Tensor) -> torch.Tensor:
        """RGB 0–255 → (x/255 − mean)/std (the online path's convention, unlike the Siamese BGR 0–255)."""
        return (img / 255.0 - self.mean.to(img.dtype)) / self.std.to(img.dtype)

    def extract_backbone(self, img: torch.Tensor, normalized: bool = False) -> torch.Tensor:
        """RGB 0–255 crops (B, 3, 224, 224) → layeronline features (B, 1024, 13, 13).

        ``normalized``: the input is already ImageNet-normalised (training processing ``normalize: imagenet``)."""
        bb = self.backbone
        x = img if normalized else self.preprocess(img)
        x = bb.maxpool(bb.relu(bb.bn1(bb.conv1(x))))
        x = bb.layer2(bb.layer1(x))
        return self.layer(x)

    def classification_features(self, feat: torch.Tensor) -> torch.Tensor:
        return self.classifier.extract_classification_feat(feat)

    def forward(self, train_imgs: torch.Tensor, test_imgs: torch.Tensor, train_bb: torch.Tensor,
                num_iter: Optional[int] = None, normalized: bool = False) -> List[torch.Tensor]:
        """Training forward: images (I, S, 3, H, W) (RGB 0–255, or ImageNet-normalised with ``normalized``),
        boxes (I, S, 4) xywh in sample px → test scores (I_test, S, H', W') per filter iterate."""
        if train_imgs.dim() != 5 or test_imgs.dim() != 5:
            raise ValueError(f"OceanOnlineBranch: expected (images, sequences, 3, H, W), got {tuple(train_imgs.shape)} / {tuple(test_imgs.shape)}")
        train_feat = self.extract_backbone(train_imgs.reshape(-1, *train_imgs.shape[-3:]), normalized)
        test_feat = self.extract_backbone(test_imgs.reshape(-1, *test_imgs.shape[-3:]), normalized)
        return self.classifier(train_feat, test_feat, train_bb, num_iter=num_iter)
