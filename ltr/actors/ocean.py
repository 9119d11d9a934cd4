"""Ocean training actors (ocean.md §4 offline, §3.1 online).

Offline (``train.mode: offline``): labels are computed here from the search-crop GT box, vectorised over
the batch, on the tracking grid (cell (i, j) at crop point ``8·(j − ⌊S/2⌋) + ⌊X/2⌋``):

* regression target ``(l*, t*, r*, b*)`` with weight 1 iff the point is strictly inside the box;
* p_r label: TracKit's 13-cell diamond ``|i − c_i| + |j − c_j| ≤ 2`` around
  ``c = ⌊S/2⌋ + trunc(Δ/8)``, Δ = box centre − crop centre (TracKit uses −shift, i.e. the same value when the
  scale jitter is 1), or the paper's Euclidean radius (``labels.kind: euclid``);
* p_o label: ``(I + 1)/(U + 1)`` of predicted vs target ltrb × weight, abs, clamped to [0, 1]; detached by
  default (``loss.detach_align_label``; TracKit back-propagates through it);
* L = w_r·balancedBCE(z_r) + w_o·BCE(z_o, p_o*) (mean over all cells) + w_reg·IoU-loss (mean over positives).

Online (``train.mode: online``): DiMP classification training of ``layeronline`` + the classifier on top of
the frozen Siamese network (``freeze.frozen`` lists the offline parts); sequence samples of train/test
crops (side 4·sqrt(wh) → 224, ImageNet-normalised RGB), Gaussian labels, LBHinge losses on every filter
iterate weighted like DiMP-50 (init 100, intermediate 400, final 100).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import torch

from ltr.admin.config import ConfigError
from ltr.admin.registry import ACTORS
from ltr.data.labels import diamond_label, dimp_gaussian_label, distance_label, grid_points, inside_box_mask, ltrb_targets
from ltr.models.loss.balanced_bce import balanced_bce_with_logits, soft_bce_with_logits
from ltr.models.loss.classification import hard_negative_cross_entropy
from ltr.models.loss.hinge import lbhinge_loss
from ltr.models.loss.iou import iou_loss, ltrb_iou

__all__ = ["OceanActor", "ocean_targets", "align_label"]


def ocean_targets(boxes: torch.Tensor, score_size: int, search_size: int, stride: int = 8,
                  kind: str = "diamond", radius: float = 2, radius_px: float = 16.0,
                  neg: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
    """Targets for GT ``boxes`` (B, 4) xywh in search-crop px (pixel-index convention of the siamfc crop).

    Returns ``cls`` (B, S, S) {0, 1}, ``ltrb`` (B, S·S, 4), ``reg_weight`` (B, S·S) {0, 1}.
    """
    b = boxes.shape[0]
    boxes = boxes.float()
    offset = search_size // 2 - stride * (score_size // 2)
    pts = grid_points(score_size, stride, offset, device=boxes.device)
    ltrb = ltrb_targets(pts, boxes)
    weight = inside_box_mask(ltrb).float()
    ctr = boxes[:, :2] + boxes[:, 2:] / 2
    if kind == "diamond":
        cells = score_size // 2 + torch.trunc((ctr - search_size // 2) / stride)
        cls = diamond_label(score_size, cells, radius)
    elif kind == "euclid":
        cls = distance_label(pts, ctr, radius_px).reshape(b, score_size, score_size)
    else:
        raise ValueError(f"ocean_targets: label kind must be 'diamond' or 'euclid', got {kind!r}")
    if neg is not None:
        keep = (~neg.reshape(b).bool()).float()
        cls = cls * keep.view(b, 1, 1)
        weight = weight * keep.view(b, 1)
    return {"cls": cls, "ltrb": ltrb, "reg_weight": weight}


def align_label(reg: torch.Tensor, ltrb: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """TracKit ``align_label``: IoU of predicted ``reg`` (B, 4, S, S) and target ``ltrb`` (B, S·S, 4) at each point,
    +1-smoothed, × weight, abs, clamped to [0, 1] → (B, S·S)."""
    pred = reg.permute(0, 2, 3, 1).reshape(reg.shape[0], -1, 4)
    iou = ltrb_iou(pred, ltrb, smooth=1.0)
    return (weight * iou).abs().clamp(0.0, 1.0)


@ACTORS.register("ocean")
class OceanActor:
    """One actor for both modes (``cfg.train.mode``); see the module docstring."""

    def __init__(self, net: torch.nn.Module, cfg: Any) -> None:
        self.net = net
        self.cfg = cfg
        self.mode = cfg.train.mode
        norm = getattr(cfg.train.processing, "normalize", "bgr255")
        if self.mode == "offline":
            if norm != "bgr255":
                raise ConfigError(f"ocean: train.processing.normalize must be 'bgr255' for offline training (the Siamese "
                                  f"network takes BGR 0-255), got '{norm}'")
            if cfg.train.data.sampler != "pair":
                raise ConfigError("ocean: offline training needs train.data.sampler: pair")
            # ImageNet trunk (TracKit pretrain.model); a resumed run overwrites it with the checkpoint
            net.load_pretrained_backbone()
        else:
            if norm != "imagenet":
                raise ConfigError(f"ocean: train.processing.normalize must be 'imagenet' for online training (RGB/255 with "
                                  f"ImageNet mean/std, as the online branch sees at test time), got '{norm}'")
            if cfg.train.data.sampler != "sequence":
                raise ConfigError("ocean: online training needs train.data.sampler: sequence")
            if getattr(net, "online", None) is None:
                raise ConfigError("ocean: online training needs model.online.enabled: true")
            self._prepare_online(cfg)

    # ------------------------------------------------------------------ online set-up
    def _prepare_online(self, cfg: Any) -> None:
        oc = cfg.train.online
        if oc.base_weights:
            from tracking.tracker.ocean.tracker import load_ocean_weights, resolve_checkpoint

            load_ocean_weights(self.net, resolve_checkpoint(oc.base_weights))
        if oc.init_layer_from_layer3:
            layer3 = self.net.backbone.layer3.state_dict()
            own = self.net.online.layer.state_dict()
            if all(k in layer3 and layer3[k].shape == v.shape for k, v in own.items()):
                self.net.online.layer.load_state_dict(layer3)

    # ------------------------------------------------------------------ offline
    def offline_losses(self, out: Dict[str, torch.Tensor], boxes: torch.Tensor, search_size: int,
                       neg: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """Losses of network outputs ``out`` against search-crop GT ``boxes`` (B, 4)."""
        tc = self.cfg.train
        lc, lab = tc.loss, tc.labels
        cls, reg = out["cls"], out["reg"]
        b, _, s, _ = cls.shape
        t = ocean_targets(boxes, s, search_size, self.cfg.model.stride, lab.kind, lab.radius, lab.radius_px, neg)
        cls_loss = balanced_bce_with_logits(cls, t["cls"])
        pos = t["reg_weight"] > 0
        hard = None
        if lc.hard_neg_topk > 0:
            # reg_weight is 0 outside the box and everywhere on a negative pair; diamond positives stay out
            cand = ~pos.reshape(b, s, s) & (t["cls"] <= 0)
            hard = hard_negative_cross_entropy(cls, cand, lc.hard_neg_topk)
            cls_loss = cls_loss + lc.hard_neg_weight * hard
        pred = reg.permute(0, 2, 3, 1).reshape(b, s * s, 4)
        reg_loss = iou_loss(pred[pos], t["ltrb"][pos], loss_type="log")
        total = lc.cls_weight * cls_loss + lc.reg_weight * reg_loss
        stats: Dict[str, torch.Tensor] = {"cls": cls_loss.detach(), "reg": reg_loss.detach()}
        if hard is not None:
            stats["hard_neg"] = hard.detach()
        if "align" in out:
            label = align_label(reg, t["ltrb"], t["reg_weight"])
            if lc.detach_align_label:
                label = label.detach()
            align_loss = soft_bce_with_logits(out["align"].reshape(b, -1), label)
            total = total + lc.align_weight * align_loss
            stats["align"] = align_loss.detach()
        stats["loss"] = total.detach()
        stats["num_pos"] = pos.sum().float() / max(b, 1)
        return total, stats

    # ------------------------------------------------------------------ online
    def online_losses(self, scores: List[torch.Tensor], test_boxes: torch.Tensor, image_size: int) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """DiMP classification losses; ``scores`` per iterate (M, B, H', W'), ``test_boxes`` (B, M, 4) sample px."""
        oc = self.cfg.train.online
        ocfg = self.cfg.model.online
        m, b = scores[0].shape[:2]
        feat = scores[0].shape[-1] - (ocfg.filter_size + 1) % 2
        sigma = oc.label_sigma_factor / self.cfg.train.processing.search_area_factor
        label = dimp_gaussian_label(test_boxes.transpose(0, 1).reshape(-1, 4), sigma, ocfg.filter_size, feat, image_size)
        label = label.reshape(m, b, *label.shape[-2:]).to(scores[0].dtype)
        losses = [lbhinge_loss(s, label, oc.hinge_threshold) for s in scores]
        total = oc.test_loss_weight * oc.clf_weight * losses[-1]
        stats = {"clf_final": losses[-1].detach()}
        if len(losses) > 1:
            total = total + oc.init_clf_weight * losses[0]
            stats["clf_init"] = losses[0].detach()
        if len(losses) > 2:
            total = total + oc.iter_clf_weight / (len(losses) - 2) * sum(losses[1:-1])
        stats["loss"] = total.detach()
        return total, stats

    # ------------------------------------------------------------------ trainer entry
    def __call__(self, batch: Dict[str, torch.Tensor]) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        if self.mode == "offline":
            lc = self.cfg.train.loss
            out = self.net(batch["template"], batch["search"], detach_offsets=lc.detach_offsets)
            return self.offline_losses(out, batch["search_box"], batch["search"].shape[-1], batch.get("neg"))
        tr_img = batch["train_images"].transpose(0, 1)  # (B, N, ...) -> (N, B, ...)
        te_img = batch["test_images"].transpose(0, 1)
        tr_box = batch["train_boxes"].transpose(0, 1)
        scores = self.net.online(tr_img, te_img, tr_box, normalized=True)
        return self.online_losses(scores, batch["test_boxes"], te_img.shape[-1])
