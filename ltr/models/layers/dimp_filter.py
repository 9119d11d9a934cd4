"""DiMP's discriminative target classifier (Bhat et al., ICCV 2019), built on the shared optimiser.

Used by Ocean-online (ocean.md §3.1) and reusable by any tracker with a DiMP-style classifier
(FCOT-cls, DuML-ONR). Pieces (pytracking names in brackets):

* :class:`InstanceL2Norm` – per-sample L2 normalisation of classification features (``InstanceL2Norm``);
* :func:`apply_filter` – per-sequence correlation of features with a filter (``filter_layer.apply_filter``);
* :class:`FilterInitializerLinear` – conv + Precise-RoI pooling of the target box, averaged over the
  train images (``FilterInitializerLinear``);
* :class:`DistanceMap` – triangular distance bins around the target centre;
* :class:`DiMPSteepestDescent` – the learned residual (label map, target mask, spatial weight predicted
  from the distance bins, leaky-ReLU score activation with the mask as slope) minimised by
  :class:`tracking.optim.SteepestDescentGN` (``DiMPSteepestDescentGN``);
* :class:`LinearFilter` – feature extractor + initializer + optimiser (``LinearFilter``).

Shapes: features ``(I, S, C, H, W)`` (I images, S sequences), boxes ``(I, S, 4)`` as ``x, y, w, h`` in
image pixels of the sample, filters ``(S, C, k, k)``, scores ``(I, S, H', W')`` with
``H' = H + (k + 1) % 2`` (the filter is applied with padding ``k // 2``).
"""
from __future__ import annotations

import math
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ops.prroi_pool import prroi_pool2d
from tracking.optim import SteepestDescentGN

__all__ = ["InstanceL2Norm", "apply_filter", "FilterInitializerLinear", "DistanceMap", "leaky_relu_par",
           "leaky_relu_par_deriv", "DiMPSteepestDescent", "LinearFilter"]


class InstanceL2Norm(nn.Module):
    """x · scale · sqrt(C·H·W / (‖x‖² + eps)) per sample: makes the filter scale-independent of the image."""

    def __init__(self, scale: float = 1.0, eps: float = 1e-5) -> None:
        super().__init__()
        self.scale, self.eps = float(scale), float(eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x[0].numel()
        sq = (x * x).reshape(x.shape[0], -1).sum(dim=1).reshape(-1, *([1] * (x.dim() - 1)))
        return x * (self.scale * (n / (sq + self.eps)).sqrt())


def apply_filter(feat: torch.Tensor, filt: torch.Tensor) -> torch.Tensor:
    """Scores ``(I, S, H', W')`` of features ``(I, S, C, H, W)`` correlated with filters ``(S, C, k, k)``."""
    if feat.dim() != 5 or filt.dim() != 4 or feat.shape[1] != filt.shape[0] or feat.shape[2] != filt.shape[1]:
        raise ValueError(f"apply_filter: features (I,S,C,H,W) and filter (S,C,k,k) expected, got {tuple(feat.shape)} and {tuple(filt.shape)}")
    i, s = feat.shape[:2]
    pad = (filt.shape[-2] // 2, filt.shape[-1] // 2)
    out = F.conv2d(feat.reshape(i, -1, *feat.shape[-2:]), filt, padding=pad, groups=s)
    return out.reshape(i, s, *out.shape[-2:])


class FilterInitializerLinear(nn.Module):
    """Initial filter: conv (3×3, bias) on the features, PrRoIPool k×k of the box, mean over train images."""

    def __init__(self, filter_size: int = 4, feature_dim: int = 512, feature_stride: int = 16,
                 pool_square: bool = False, filter_norm: bool = False) -> None:
        super().__init__()
        self.filter_size, self.feature_stride = filter_size, feature_stride
        self.filter_norm = filter_norm
        self.filter_conv = nn.Conv2d(feature_dim, feature_dim, 3, padding=1)
        n = 3 * 3 * feature_dim
        nn.init.normal_(self.filter_conv.weight, 0, math.sqrt(2.0 / n))
        nn.init.zeros_(self.filter_conv.bias)

    def forward(self, feat: torch.Tensor, bb: torch.Tensor) -> torch.Tensor:
        i, s = feat.shape[:2]
        f = self.filter_conv(feat.reshape(-1, *feat.shape[-3:]))
        boxes = bb.reshape(-1, 4).to(f.dtype)
        rois = torch.cat([torch.arange(boxes.shape[0], device=f.device, dtype=f.dtype).view(-1, 1),
                          boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], dim=1)
        w = prroi_pool2d(f, rois, self.filter_size, self.filter_size, 1.0 / self.feature_stride)
        w = w.reshape(i, s, *w.shape[-3:]).mean(dim=0)
        if self.filter_norm:
            w = w / w[0].numel()
        return w


class DistanceMap(nn.Module):
    """``num_bins`` triangular bins of the distance (in cells) to a centre; the last bin is open-ended."""

    def __init__(self, num_bins: int, bin_displacement: float = 1.0) -> None:
        super().__init__()
        self.num_bins, self.bin_displacement = num_bins, bin_displacement

    def forward(self, center: torch.Tensor, output_sz: Tuple[int, int]) -> torch.Tensor:
        """``center`` (N, 2) as (y, x) in cells → (N, num_bins, H, W)."""
        dev, dt = center.device, center.dtype
        bins = torch.arange(self.num_bins, device=dev, dtype=dt).view(1, -1, 1, 1)
        k0 = torch.arange(output_sz[0], device=dev, dtype=dt).view(1, 1, -1, 1)
        k1 = torch.arange(output_sz[1], device=dev, dtype=dt).view(1, 1, 1, -1)
        d0 = k0 - center[:, 0].view(-1, 1, 1, 1)
        d1 = k1 - center[:, 1].view(-1, 1, 1, 1)
        diff = torch.sqrt(d0 * d0 + d1 * d1) / self.bin_displacement - bins
        return torch.cat([F.relu(1.0 - diff[:, :-1].abs()), (1.0 + diff[:, -1:]).clamp(0, 1)], dim=1)


def leaky_relu_par(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Leaky ReLU whose negative slope is the target mask ``a`` (DiMP 'relu' score activation)."""
    return (1 - a) / 2 * x.abs() + (1 + a) / 2 * x


def leaky_relu_par_deriv(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    return (1 - a) / 2 * torch.sign(x) + (1 + a) / 2


class DiMPSteepestDescent(nn.Module):
    """DiMP's learned classifier objective optimised by :class:`SteepestDescentGN`.

    Residual per image i, sequence s: ``√w_i · m_sp · (act(x_i * f, m) − y)`` with label ``y``, target mask
    ``m`` and spatial weight ``m_sp`` predicted (1×1 convs) from the distance bins around the box centre.
    Parameters: ℓ and λ (in ``sd``) + 3·num_bins (302 for 100 bins).
    """

    def __init__(self, num_iter: int = 5, feat_stride: int = 16, init_step_length: float = 1.0,
                 init_filter_reg: float = 1e-2, init_gauss_sigma: float = 1.0, num_dist_bins: int = 5,
                 bin_displacement: float = 1.0, mask_init_factor: float = 4.0, score_act: str = "relu",
                 act_param: Optional[float] = None, min_filter_reg: float = 1e-3, mask_act: str = "sigmoid",
                 detach_length: float = math.inf) -> None:
        super().__init__()
        self.feat_stride = feat_stride
        self.sd = SteepestDescentGN(num_iter, init_step_length, init_filter_reg, min_filter_reg,
                                    detach_length=detach_length)
        self.distance_map = DistanceMap(num_dist_bins, bin_displacement)
        d = torch.arange(num_dist_bins, dtype=torch.float32).view(1, -1, 1, 1) * bin_displacement
        if init_gauss_sigma == 0:
            init_gauss = torch.zeros_like(d)
            init_gauss[0, 0] = 1
        else:
            init_gauss = torch.exp(-0.5 * (d / init_gauss_sigma) ** 2)
        self.label_map_predictor = nn.Conv2d(num_dist_bins, 1, 1, bias=False)
        if mask_act not in ("sigmoid", "linear"):
            raise ValueError(f"DiMPSteepestDescent: mask_act must be 'sigmoid' or 'linear', got {mask_act!r}")
        # Sequential(conv[, sigmoid]) keeps pytracking's key layout (target_mask_predictor.0.weight)
        mask_layers: List[nn.Module] = [nn.Conv2d(num_dist_bins, 1, 1, bias=False)]
        if mask_act == "sigmoid":
            mask_layers.append(nn.Sigmoid())
        self.target_mask_predictor = nn.Sequential(*mask_layers)
        self.spatial_weight_predictor = nn.Conv2d(num_dist_bins, 1, 1, bias=False)
        init_bias = 0.0 if mask_act == "sigmoid" else 0.5
        with torch.no_grad():
            self.label_map_predictor.weight.copy_((init_gauss - init_gauss.min()).view(1, -1, 1, 1))
            self.target_mask_predictor[0].weight.copy_((mask_init_factor * torch.tanh(2.0 - d) + init_bias).view(1, -1, 1, 1))
            self.spatial_weight_predictor.weight.fill_(1.0)
        if score_act not in ("relu", "leaky_relu", "linear"):
            raise ValueError(f"DiMPSteepestDescent: score_act must be relu/leaky_relu/linear, got {score_act!r}")
        self.score_act, self.act_param = score_act, act_param

    @property
    def num_iter(self) -> int:
        return self.sd.num_iter

    def _activation(self, scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.score_act == "relu":  # pytracking 'relu' = LeakyReluPar with the predicted mask as slope
            return leaky_relu_par(scores, mask)
        if self.score_act == "leaky_relu":  # fixed slope act_param
            a = torch.full_like(mask, 0.0 if self.act_param is None else float(self.act_param))
            return leaky_relu_par(scores, a)
        return scores

    def residual_terms(self, bb: torch.Tensor, feat_shape: torch.Size, filter_size: Tuple[int, int],
                       sample_weight: Optional[torch.Tensor]):
        """Label map, target mask and √(sample weight)·spatial weight, each (I, S, H', W')."""
        i, s = feat_shape[:2]
        out_sz = (feat_shape[-2] + (filter_size[0] + 1) % 2, feat_shape[-1] + (filter_size[1] + 1) % 2)
        off = torch.tensor([filter_size[0] % 2, filter_size[1] % 2], device=bb.device, dtype=bb.dtype) / 2.0
        center = ((bb[..., :2] + bb[..., 2:] / 2) / self.feat_stride).reshape(-1, 2).flip((1,)) - off
        dist = self.distance_map(center, out_sz)
        label = self.label_map_predictor(dist).reshape(i, s, *out_sz)
        mask = self.target_mask_predictor(dist).reshape(i, s, *out_sz)
        spatial = self.spatial_weight_predictor(dist).reshape(i, s, *out_sz)
        if sample_weight is None:
            sw = math.sqrt(1.0 / i) * spatial
        else:
            sw = sample_weight.to(spatial.dtype).sqrt().reshape(i, -1, 1, 1) * spatial
        return label, mask, sw

    def forward(self, weights: torch.Tensor, feat: torch.Tensor, bb: torch.Tensor,
                sample_weight: Optional[torch.Tensor] = None, num_iter: Optional[int] = None,
                compute_losses: bool = False) -> Tuple[torch.Tensor, List[torch.Tensor], List[torch.Tensor]]:
        """Returns the final filter, all iterates (the initial one first) and the objective values."""
        if feat.dim() == 4:
            feat = feat.unsqueeze(1)
        if bb.dim() == 2:
            bb = bb.unsqueeze(1)
        label, mask, sw = self.residual_terms(bb, feat.shape, tuple(weights.shape[-2:]), sample_weight)

        def residual(f: torch.Tensor) -> torch.Tensor:
            return sw * (self._activation(apply_filter(feat, f), mask) - label)

        res = self.sd(weights, residual, num_iter=num_iter, residual_seq_dim=1, compute_losses=compute_losses)
        return res.filter, res.iterates, res.losses


class LinearFilter(nn.Module):
    """Target classifier: ``feature_extractor`` → initializer → optimiser; ``classify`` applies the filter."""

    def __init__(self, filter_size: int, filter_initializer: nn.Module, filter_optimizer: Optional[nn.Module],
                 feature_extractor: Optional[nn.Module] = None) -> None:
        super().__init__()
        self.filter_size = filter_size
        self.feature_extractor = feature_extractor
        self.filter_initializer = filter_initializer
        self.filter_optimizer = filter_optimizer

    def extract_classification_feat(self, feat: torch.Tensor, num_sequences: Optional[int] = None) -> torch.Tensor:
        out = feat if self.feature_extractor is None else self.feature_extractor(feat.reshape(-1, *feat.shape[-3:]))
        if num_sequences is None:
            return out
        return out.reshape(-1, num_sequences, *out.shape[-3:])

    def classify(self, weights: torch.Tensor, feat: torch.Tensor) -> torch.Tensor:
        return apply_filter(feat, weights)

    def get_filter(self, feat: torch.Tensor, bb: torch.Tensor, sample_weight: Optional[torch.Tensor] = None,
                   num_iter: Optional[int] = None, compute_losses: bool = False):
        weights = self.filter_initializer(feat, bb)
        if self.filter_optimizer is None:
            return weights, [weights], []
        return self.filter_optimizer(weights, feat, bb, sample_weight=sample_weight, num_iter=num_iter,
                                     compute_losses=compute_losses)

    def forward(self, train_feat: torch.Tensor, test_feat: torch.Tensor, train_bb: torch.Tensor,
                num_iter: Optional[int] = None) -> List[torch.Tensor]:
        """Training forward: scores of the test frames for every filter iterate."""
        s = train_bb.shape[1]
        train_feat = self.extract_classification_feat(train_feat, s)
        test_feat = self.extract_classification_feat(test_feat, s)
        _, iterates, _ = self.get_filter(train_feat, train_bb, num_iter=num_iter)
        return [self.classify(f, test_feat) for f in iterates]
