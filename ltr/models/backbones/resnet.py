"""Torchvision-layout ResNet-18/50 returning named intermediate layers (FCOT, DCFST, DuML, Ocean-online).

Parameter and buffer names equal torchvision's (``conv1``, ``bn1``, ``layer1.0.conv1`` ..., ``fc``) so
ImageNet checkpoints load without renaming. The stride sits on the 3×3 conv of a bottleneck (torchvision
"v1.5"), as in pytracking's ResNet.

Two geometries:

* ``"torchvision"`` – padding 3 on conv1, padding 1 on the 3×3 convs, 1×1 stride-2 shortcut. 288 input →
  layer1/2/3/4 = 72/36/18/9.
* ``"pysot"`` – DuML's "interpolated, not dilated" backbone (duml.md §2.1): conv1 padding 0 and the
  stride-2 3×3 convs padding 0, as in pysot's ``resnet_atrous`` but without dilation, so 255 → layer2/3/4 =
  31/15/7 and 127 → 15/7/3. The stride-2 shortcut is either a 1×1 conv applied to the input without its
  one-pixel border (``shortcut="1x1_center"``, default: keeps torchvision ImageNet weights usable and samples
  exactly the centre tap of the 3×3 main path), or pysot's 3×3 stride-2 padding-0 conv (``shortcut="3x3"``,
  new weights not present in torchvision checkpoints).

:class:`InterpolatedResNet` wraps the pysot geometry and bilinearly resizes layer3/layer4 to the layer2 size.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Type, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "FrozenBatchNorm2d",
    "BasicBlock",
    "Bottleneck",
    "ResNet",
    "InterpolatedResNet",
    "resnet18",
    "resnet50",
    "resnet50_interp",
    "extract_backbone_state_dict",
    "load_resnet_checkpoint",
    "load_pretrained",
    "freeze_bn",
    "count_parameters",
]

LAYER_NAMES = ("conv1", "layer1", "layer2", "layer3", "layer4", "fc")


class FrozenBatchNorm2d(nn.Module):
    """BatchNorm with fixed affine parameters and statistics (buffers only, no gradient, no stat updates).

    State-dict compatible with ``nn.BatchNorm2d`` (``num_batches_tracked`` is accepted and ignored), so
    it loads ImageNet checkpoints directly. Used when the backbone must stay exactly as pretrained even
    under ``net.train()`` (DCFST freezes the whole backbone).
    """

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):  # type: ignore[override]
        state_dict.pop(prefix + "num_batches_tracked", None)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        shift = self.bias - self.running_mean * scale
        return x * scale.reshape(1, -1, 1, 1).to(x.dtype) + shift.reshape(1, -1, 1, 1).to(x.dtype)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}"


def _bn(frozen: bool) -> Type[nn.Module]:
    return FrozenBatchNorm2d if frozen else nn.BatchNorm2d


class _CenterShortcut(nn.Sequential):
    """1×1 stride-2 shortcut on the input without its one-pixel border.

    A padding-0 3×3 stride-2 conv centres output i on input 2i+1; cropping one pixel makes the 1×1
    stride-2 shortcut sample exactly there and gives the same output size for any input size.
    Children stay ``0`` (conv) and ``1`` (bn) so torchvision keys ``downsample.0/1`` load unchanged.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x[..., 1:-1, 1:-1])


def _make_downsample(inplanes: int, outplanes: int, stride: int, geometry: str, shortcut: str, frozen_bn: bool) -> nn.Sequential:
    norm = _bn(frozen_bn)(outplanes)
    if stride == 1 or geometry == "torchvision":
        return nn.Sequential(nn.Conv2d(inplanes, outplanes, 1, stride=stride, bias=False), norm)
    if shortcut == "3x3":
        return nn.Sequential(nn.Conv2d(inplanes, outplanes, 3, stride=stride, padding=0, bias=False), norm)
    return _CenterShortcut(nn.Conv2d(inplanes, outplanes, 1, stride=stride, bias=False), norm)


class BasicBlock(nn.Module):
    """ResNet-18/34 block: 3×3 → 3×3 plus shortcut."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: Optional[nn.Module] = None,
                 pad3: int = 1, frozen_bn: bool = False) -> None:
        super().__init__()
        norm = _bn(frozen_bn)
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=pad3, bias=False)
        self.bn1 = norm(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = norm(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """ResNet-50 block: 1×1 → 3×3 (stride) → 1×1 (×4 channels) plus shortcut."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: Optional[nn.Module] = None,
                 pad3: int = 1, frozen_bn: bool = False) -> None:
        super().__init__()
        norm = _bn(frozen_bn)
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = norm(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=pad3, bias=False)
        self.bn2 = norm(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = norm(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """ResNet whose ``forward`` returns a dict of the requested layers and stops after the deepest one.

    ``output_layers`` (constructor default, overridable per call) is any subset of
    ``conv1, layer1, layer2, layer3, layer4, fc``; ``fc`` exists only when ``num_classes`` is given.
    ``conv1`` is the post-ReLU stem output (before the max-pool), as in pytracking.
    """

    def __init__(
        self,
        block: Type[Union[BasicBlock, Bottleneck]],
        layers: Sequence[int],
        output_layers: Sequence[str] = ("layer3",),
        num_classes: Optional[int] = None,
        frozen_bn: bool = False,
        geometry: str = "torchvision",
        shortcut: str = "1x1_center",
    ) -> None:
        super().__init__()
        if geometry not in ("torchvision", "pysot"):
            raise ValueError(f"ResNet: geometry must be 'torchvision' or 'pysot', got {geometry!r}")
        if shortcut not in ("1x1_center", "3x3"):
            raise ValueError(f"ResNet: shortcut must be '1x1_center' or '3x3', got {shortcut!r}")
        self.geometry = geometry
        self.shortcut = shortcut
        self.frozen_bn = frozen_bn
        self.output_layers = self._check_layers(output_layers, num_classes)
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3 if geometry == "torchvision" else 0, bias=False)
        self.bn1 = _bn(frozen_bn)(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0], 1)
        self.layer2 = self._make_layer(block, 128, layers[1], 2)
        self.layer3 = self._make_layer(block, 256, layers[2], 2)
        self.layer4 = self._make_layer(block, 512, layers[3], 2)
        self.out_channels = {"conv1": 64, "layer1": 64 * block.expansion, "layer2": 128 * block.expansion,
                             "layer3": 256 * block.expansion, "layer4": 512 * block.expansion}
        self.out_strides = {"conv1": 2, "layer1": 4, "layer2": 8, "layer3": 16, "layer4": 32}
        if num_classes is not None:
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(512 * block.expansion, num_classes)
            self.out_channels["fc"] = num_classes
        self._init_weights()

    @staticmethod
    def _check_layers(names: Iterable[str], num_classes: Optional[int]) -> Tuple[str, ...]:
        names = tuple(names)
        for n in names:
            if n not in LAYER_NAMES or (n == "fc" and num_classes is None):
                valid = LAYER_NAMES if num_classes is not None else LAYER_NAMES[:-1]
                raise ValueError(f"ResNet: unknown output layer {n!r}; valid: {', '.join(valid)}")
        if not names:
            raise ValueError("ResNet: output_layers is empty")
        return names

    def _make_layer(self, block, planes: int, blocks: int, stride: int) -> nn.Sequential:
        outplanes = planes * block.expansion
        downsample = None
        if stride != 1 or self.inplanes != outplanes:
            downsample = _make_downsample(self.inplanes, outplanes, stride, self.geometry, self.shortcut, self.frozen_bn)
        pad3 = 0 if (stride != 1 and self.geometry == "pysot") else 1
        mods = [block(self.inplanes, planes, stride, downsample, pad3=pad3, frozen_bn=self.frozen_bn)]
        self.inplanes = outplanes
        mods += [block(self.inplanes, planes, frozen_bn=self.frozen_bn) for _ in range(1, blocks)]
        return nn.Sequential(*mods)

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor, output_layers: Optional[Sequence[str]] = None) -> Dict[str, torch.Tensor]:
        names = self.output_layers if output_layers is None else self._check_layers(output_layers, None if not hasattr(self, "fc") else 1)
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"ResNet: expected input (B,3,H,W), got {tuple(x.shape)}")
        out: Dict[str, torch.Tensor] = {}
        wanted = set(names)
        x = self.relu(self.bn1(self.conv1(x)))
        if "conv1" in wanted:
            out["conv1"] = x
        if len(out) == len(wanted):
            return out
        x = self.maxpool(x)
        for name in ("layer1", "layer2", "layer3", "layer4"):
            x = getattr(self, name)(x)
            if name in wanted:
                out[name] = x
            if len(out) == len(wanted):
                return out
        x = self.fc(torch.flatten(self.avgpool(x), 1))
        out["fc"] = x
        return out


class InterpolatedResNet(nn.Module):
    """DuML backbone: pysot-geometry ResNet-50 whose layer3/layer4 are bilinearly resized to the layer2 grid.

    Returns ``{'layer2', 'layer3', 'layer4'}`` all at the layer2 size (align_corners=False keeps cell
    centres fixed, duml.md §2.1 [R]); the native maps are under ``'layer3_native'``/``'layer4_native'``.
    """

    def __init__(self, body: ResNet, mode: str = "bilinear") -> None:
        super().__init__()
        self.body = body
        self.mode = mode

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        feats = self.body(x, output_layers=("layer2", "layer3", "layer4"))
        size = feats["layer2"].shape[-2:]
        out = {"layer2": feats["layer2"]}
        for k in ("layer3", "layer4"):
            out[k + "_native"] = feats[k]
            out[k] = F.interpolate(feats[k], size=size, mode=self.mode, align_corners=False)
        return out


def resnet18(output_layers: Sequence[str] = ("layer3",), pretrained: Union[None, str, Path] = None, **kw) -> ResNet:
    """ResNet-18; ``pretrained`` = path to a torchvision checkpoint, or a settings key such as ``"resnet18"``."""
    net = ResNet(BasicBlock, [2, 2, 2, 2], output_layers=output_layers, **kw)
    if pretrained is not None:
        load_pretrained(net, pretrained)
    return net


def resnet50(output_layers: Sequence[str] = ("layer3",), pretrained: Union[None, str, Path] = None, **kw) -> ResNet:
    """ResNet-50; ``pretrained`` = path to a torchvision checkpoint, or a settings key such as ``"resnet50"``."""
    net = ResNet(Bottleneck, [3, 4, 6, 3], output_layers=output_layers, **kw)
    if pretrained is not None:
        load_pretrained(net, pretrained)
    return net


def resnet50_interp(pretrained: Union[None, str, Path] = None, shortcut: str = "1x1_center", **kw) -> InterpolatedResNet:
    """DuML's "interpolated, not dilated" ResNet-50 (pysot geometry, layer3/4 resized to layer2)."""
    body = ResNet(Bottleneck, [3, 4, 6, 3], output_layers=("layer2", "layer3", "layer4"), geometry="pysot",
                  shortcut=shortcut, **kw)
    if pretrained is not None:
        load_pretrained(body, pretrained)
    return InterpolatedResNet(body)


# ----------------------------------------------------------------------------------------------- loading

#: Prefixes stripped (repeatedly, in any order) when extracting a backbone from a larger checkpoint:
#: DataParallel, pysot/SiamCAR (``backbone.``), TracKit (``features.features.``), pytracking/DiMP
#: (``feature_extractor.``).
DEFAULT_PREFIXES = ("module.", "backbone.", "features.features.", "features.", "feature_extractor.", "body.")


def extract_backbone_state_dict(state: Mapping, prefixes: Sequence[str] = DEFAULT_PREFIXES,
                                keep_only: Optional[Sequence[str]] = None) -> Dict[str, torch.Tensor]:
    """Unwrap a checkpoint (``state_dict``/``model``/``net`` containers) and strip known key prefixes.

    If some keys carry a backbone prefix (e.g. ``feature_extractor.``) and others do not (the heads),
    only the prefixed ones are kept, so a whole tracker checkpoint yields just its backbone.
    ``keep_only`` restricts the result to keys starting with one of the given top-level names.
    """
    for container in ("state_dict", "model", "net"):
        if isinstance(state, Mapping) and container in state and isinstance(state[container], Mapping):
            state = state[container]
            break
    sd = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    # strip 'module.' wrappers first
    sd = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in sd.items()}
    for p in prefixes:
        if p == "module.":
            continue
        hits = [k for k in sd if k.startswith(p)]
        if hits:
            sd = {k[len(p):]: sd[k] for k in hits}
    if keep_only is not None:
        sd = {k: v for k, v in sd.items() if k.split(".")[0] in keep_only}
    return sd


def load_resnet_checkpoint(net: nn.Module, path: Union[str, Path], strict: bool = True,
                           map_location: Union[str, torch.device] = "cpu") -> Tuple[List[str], List[str]]:
    """Load a torchvision/pytracking ResNet checkpoint file into ``net`` (a :class:`ResNet`).

    ``fc.*`` is dropped when the model has no classifier, ``num_batches_tracked`` is ignored. With
    ``strict`` any missing parameter raises an error naming the file and keys (a silently half-loaded
    backbone is the classic way to lose accuracy). Returns (missing, unexpected) keys.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ResNet checkpoint {path} does not exist")
    raw = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(raw, Mapping):
        raise ValueError(f"ResNet checkpoint {path}: expected a state dict, got {type(raw).__name__}")
    target = net.body if isinstance(net, InterpolatedResNet) else net
    own = target.state_dict()
    sd = extract_backbone_state_dict(raw, keep_only=("conv1", "bn1", "layer1", "layer2", "layer3", "layer4", "fc"))
    if "fc.weight" not in own:
        sd = {k: v for k, v in sd.items() if not k.startswith("fc.")}
    sd = {k: v for k, v in sd.items() if not k.endswith("num_batches_tracked") or k in own}
    for k, v in sd.items():
        if k in own and own[k].shape != v.shape:
            raise ValueError(f"ResNet checkpoint {path}: key {k} has shape {tuple(v.shape)}, model expects {tuple(own[k].shape)}")
    res = target.load_state_dict(sd, strict=False)
    missing = [k for k in res.missing_keys if not k.endswith("num_batches_tracked")]
    unexpected = list(res.unexpected_keys)
    if strict and (missing or unexpected):
        raise KeyError(f"ResNet checkpoint {path}: {len(missing)} missing keys (e.g. {missing[:5]}), "
                       f"{len(unexpected)} unexpected keys (e.g. {unexpected[:5]})")
    return missing, unexpected


def load_pretrained(net: nn.Module, name_or_path: Union[str, Path], strict: bool = True) -> Tuple[List[str], List[str]]:
    """Load weights from a file path, or from the settings key ``pretrained.<name>`` (e.g. ``"resnet50"``)."""
    p = Path(name_or_path).expanduser()
    if not p.is_file() and isinstance(name_or_path, str) and "/" not in name_or_path and not p.suffix:
        from ltr.admin.settings import get_settings

        p = get_settings().pretrained_path(name_or_path)
    return load_resnet_checkpoint(net, p, strict=strict)


def freeze_bn(module: nn.Module) -> nn.Module:
    """Put every BatchNorm in eval mode and stop its gradients (call again after ``.train()``)."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
            for p in m.parameters():
                p.requires_grad_(False)
    return module


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (BN running statistics are buffers and not counted)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
