"""pysot-style dilated ("atrous") ResNet-50 used by SiamRPN++, SiamCAR and Ocean.

Why not torchvision: this variant keeps a total stride of 8 so the template and search
features stay large enough for a depth-wise correlation, and its geometry differs in ways that
change every spatial size (specs siamcar.md §2.2, ocean.md §2.1):

* conv1 is 7×7 / stride 2 with **padding 0** (127 → 61, 255 → 125);
* layer2 block 1 puts stride 2 on a 3×3 conv with padding 0 and uses a **3×3** stride-2 shortcut;
* layer3 (dilation 2) and layer4 (dilation 4) keep stride 1; their first block uses half the
  dilation, and so does their 3×3 shortcut.

The module/parameter names are those of pysot's ``resnet_atrous.py`` (``conv1``, ``bn1``,
``layer{1..4}.{i}.{conv,bn}{1,2,3}``, ``.downsample.{0,1}``) so official ``resnet50.model`` /
SiamCAR / TracKit state dicts load key for key (see :func:`load_atrous_resnet_weights`).

``used_layers`` selects the returned maps with pysot's indexing: 0 = conv1 after ReLU (before the
max-pool), 1 = layer1, 2 = layer2, 3 = layer3, 4 = layer4.  Layers beyond ``max(used_layers)`` are
not built (Ocean uses ``[3]`` → no layer4, exactly like TracKit's ``ResNet_plus2``).
``width`` and ``layers`` shrink the network for the CPU-trainable "tiny" variants; ``shortcut_kernel=1``
replaces the 3×3 shortcuts by 1×1 convolutions on their centre taps (:class:`CentreTapConv2d`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

__all__ = [
    "AtrousBottleneck",
    "AtrousResNet",
    "CentreTapConv2d",
    "resnet50_atrous",
    "atrous_resnet",
    "strip_known_prefixes",
    "load_atrous_resnet_weights",
    "BACKBONE_PREFIXES",
]


class CentreTapConv2d(nn.Conv2d):
    """1×1 convolution read at the centre taps of a 3×3 (stride, padding, dilation) convolution.

    Why: pysot's 3×3 shortcuts of layer2/layer3 are the largest single cost of the small, from-scratch
    networks (about 60 % of the trunk's multiply-adds at the tiny crops, ~9× a 1×1), and on CPUs without fast
    bfloat16 they decide whether a tiny model trains in the time budget. This keeps the output size and the
    alignment of the 3×3 version (output cell i reads the input cell under the 3×3 window's centre), so the
    main path and the shortcut still add up cell for cell; it equals the 3×3 convolution whose weights are
    zero outside the centre tap.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> None:
        super().__init__(in_channels, out_channels, kernel_size=1, stride=stride, bias=False)
        #: the 3×3 window's centre sits ``dilation - padding`` cells in from the input border
        self.crop = int(dilation) - int(padding)
        if self.crop < 0:
            raise ValueError(f"CentreTapConv2d: padding {padding} > dilation {dilation} would need zero padding")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.crop
        if c:
            x = x[:, :, c:x.shape[2] - c, c:x.shape[3] - c]
        return super().forward(x)


class AtrousBottleneck(nn.Module):
    """1×1 → 3×3 (stride, dilation) → 1×1 bottleneck with expansion 4, no conv bias.

    ``dilation`` is the *layer* dilation; pysot halves it for the first block of a dilated layer
    (the one carrying the shortcut), which we reproduce via ``first_block``.
    """

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: Optional[nn.Module] = None,
        dilation: int = 1,
        first_block: bool = False,
    ) -> None:
        super().__init__()
        if stride != 1 and dilation != 1:
            raise ValueError(f"AtrousBottleneck: stride {stride} together with dilation {dilation} is not supported")
        if first_block and dilation > 1:
            dilation = dilation // 2
        # stride-2 3×3 conv uses padding 0 (pysot: padding = 2 - stride); dilated convs keep the size
        padding = dilation if dilation > 1 else 2 - stride
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=padding, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class AtrousResNet(nn.Module):
    """Dilated ResNet trunk (stride 8) returning the maps listed in ``used_layers``.

    Args:
        layers: blocks per stage (ResNet-50: ``(3, 4, 6, 3)``).
        used_layers: indices of returned maps (0 = stem, 1..4 = layer1..4); order is preserved.
        width: channels of the stem and planes of layer1 (64 for ResNet-50); stage planes are
            ``width, 2·width, 4·width, 8·width`` and outputs ``4×`` those.
        shortcut_kernel: 3 = pysot's 3×3 shortcuts of layer2..4 (official weights need it); 1 = their
            centre-tap 1×1 version (:class:`CentreTapConv2d`, same sizes and alignment, ~9× cheaper).
    """

    def __init__(
        self,
        layers: Sequence[int] = (3, 4, 6, 3),
        used_layers: Sequence[int] = (2, 3, 4),
        width: int = 64,
        shortcut_kernel: int = 3,
    ) -> None:
        super().__init__()
        if shortcut_kernel not in (1, 3):
            raise ValueError(f"AtrousResNet: shortcut_kernel must be 3 (pysot) or 1 (centre tap), got {shortcut_kernel}")
        self.shortcut_kernel = int(shortcut_kernel)
        used = [int(i) for i in used_layers]
        if not used or any(i < 0 or i > 4 for i in used):
            raise ValueError(f"AtrousResNet: used_layers must be a non-empty subset of 0..4, got {list(used_layers)}")
        if len(layers) != 4 or any(int(n) < 1 for n in layers):
            raise ValueError(f"AtrousResNet: layers must be 4 positive block counts, got {list(layers)}")
        if width < 1:
            raise ValueError(f"AtrousResNet: width must be positive, got {width}")
        self.used_layers = used
        self.width = int(width)
        self.num_layers = max(max(used), 2)  # layer2 always exists (it carries the only stride)
        self.inplanes = width
        self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=0, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(width, layers[0])
        self.layer2 = self._make_layer(width * 2, layers[1], stride=2)
        if self.num_layers >= 3:
            self.layer3 = self._make_layer(width * 4, layers[2], dilation=2)
        if self.num_layers >= 4:
            self.layer4 = self._make_layer(width * 8, layers[3], dilation=4)
        exp = AtrousBottleneck.expansion
        all_channels = [width, width * exp, width * 2 * exp, width * 4 * exp, width * 8 * exp]
        #: channels of each returned map, in ``used_layers`` order
        self.out_channels: List[int] = [all_channels[i] for i in used]
        self._init_weights()

    def _make_layer(self, planes: int, blocks: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
        out_planes = planes * AtrousBottleneck.expansion
        downsample = None
        if stride != 1 or self.inplanes != out_planes:
            if stride == 1 and dilation == 1:
                conv = nn.Conv2d(self.inplanes, out_planes, kernel_size=1, stride=stride, bias=False)
            else:
                # 3×3 shortcut: stride-2 with padding 0 (layer2) or half the layer dilation (layer3/4)
                d = dilation // 2 if dilation > 1 else 1
                p = d if dilation > 1 else 0
                if self.shortcut_kernel == 1:
                    conv = CentreTapConv2d(self.inplanes, out_planes, stride=stride, padding=p, dilation=d)
                else:
                    conv = nn.Conv2d(self.inplanes, out_planes, kernel_size=3, stride=stride, padding=p, dilation=d,
                                     bias=False)
            downsample = nn.Sequential(conv, nn.BatchNorm2d(out_planes))
        blocks_list = [AtrousBottleneck(self.inplanes, planes, stride, downsample, dilation, first_block=True)]
        self.inplanes = out_planes
        for _ in range(1, blocks):
            blocks_list.append(AtrousBottleneck(self.inplanes, planes, dilation=dilation))
        return nn.Sequential(*blocks_list)

    def _init_weights(self) -> None:
        # He init as in pysot (fan_out = k·k·out_channels); BN weight 1, bias 0
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        """Return the maps of ``used_layers`` (always a list, even for one layer)."""
        stem = self.relu(self.bn1(self.conv1(x)))
        feats = [stem]
        y = self.layer1(self.maxpool(stem))
        feats.append(y)
        for i in range(2, self.num_layers + 1):
            y = getattr(self, f"layer{i}")(y)
            feats.append(y)
        return [feats[i] for i in self.used_layers]


def atrous_resnet(
    layers: Sequence[int] = (3, 4, 6, 3),
    used_layers: Sequence[int] = (2, 3, 4),
    width: int = 64,
    shortcut_kernel: int = 3,
) -> AtrousResNet:
    """Generic builder (reduced variants: e.g. ``width=16, layers=(1, 1, 1, 1)``)."""
    return AtrousResNet(layers=layers, used_layers=used_layers, width=width, shortcut_kernel=shortcut_kernel)


def resnet50_atrous(used_layers: Sequence[int] = (2, 3, 4), weights: Optional[Union[str, Path]] = None) -> AtrousResNet:
    """Full pysot ResNet-50; ``weights`` = optional pysot/TracKit checkpoint file for the trunk."""
    net = AtrousResNet((3, 4, 6, 3), used_layers, 64)
    if weights:
        load_atrous_resnet_weights(net, weights)
    return net


# --------------------------------------------------------------------------- checkpoint loading

#: prefixes found in the wild in front of the trunk keys: DataParallel ``module.``, TracKit
#: ``features.features.`` (Ocean), a full SiamRPN++/SiamCAR model ``backbone.``
BACKBONE_PREFIXES: Tuple[str, ...] = ("module.", "features.features.", "backbone.", "features.")


def strip_known_prefixes(state: Mapping[str, torch.Tensor], prefixes: Sequence[str] = BACKBONE_PREFIXES) -> Dict[str, torch.Tensor]:
    """Remove, repeatedly, any prefix of ``prefixes`` that *every* key carries.

    Only common prefixes are stripped so that a full model checkpoint (``backbone.*`` next to
    ``neck.*``) is not mangled; use :func:`select_prefix` semantics via ``load_atrous_resnet_weights``.
    """
    out = dict(state)
    changed = True
    while changed and out:
        changed = False
        for p in prefixes:
            if all(k.startswith(p) for k in out):
                out = {k[len(p):]: v for k, v in out.items()}
                changed = True
    return out


def _read_state(src: Union[str, Path, Mapping[str, torch.Tensor]]) -> Tuple[Dict[str, torch.Tensor], str]:
    if isinstance(src, Mapping):
        state, name = dict(src), "<state dict>"
    else:
        path = Path(src)
        if not path.is_file():
            raise FileNotFoundError(f"backbone weights file not found: {path}")
        try:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as e:  # pickle with non-tensor objects, corrupt file ...
            raise RuntimeError(f"{path}: cannot load as a weights-only torch checkpoint: {e}") from e
        name = str(path)
    for key in ("state_dict", "model", "net"):
        if isinstance(state, Mapping) and key in state and isinstance(state[key], Mapping):
            state = dict(state[key])
            break
    if not isinstance(state, Mapping):
        raise RuntimeError(f"{name}: expected a state dict, got {type(state).__name__}")
    return {str(k): v for k, v in state.items() if isinstance(v, torch.Tensor)}, name


def load_atrous_resnet_weights(
    net: AtrousResNet,
    src: Union[str, Path, Mapping[str, torch.Tensor]],
) -> Dict[str, List[str]]:
    """Load pysot ``resnet50.model`` / TracKit ``pretrain.model`` / a model's ``backbone.*`` into ``net``.

    Accepts an optional ``module.`` and ``features.features.`` / ``backbone.`` prefix.  Keys of
    layers that ``net`` does not build (e.g. layer4 for Ocean) and classifier keys (``fc.*``) are
    ignored; every parameter/buffer of ``net`` except ``num_batches_tracked`` must be present with the
    right shape, otherwise a ``KeyError``/``ValueError`` names the file and the keys (pysot itself
    only logs missing keys, which silently leaves random layers).

    Returns ``{'ignored': [...], 'missing_counters': [...]}`` for logging.
    """
    state, name = _read_state(src)
    # a full-model checkpoint: keep only the trunk part
    for p in ("module.backbone.", "backbone.", "module.features.features.", "features.features."):
        sub = {k[len(p):]: v for k, v in state.items() if k.startswith(p)}
        if sub:
            state = sub
            break
    state = strip_known_prefixes(state)
    own = net.state_dict()
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    if missing:
        raise KeyError(f"{name}: {len(missing)} backbone keys missing, e.g. {missing[:5]}")
    bad = [f"{k}: file {tuple(state[k].shape)} vs net {tuple(own[k].shape)}" for k in own
           if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if bad:
        raise ValueError(f"{name}: shape mismatch for {len(bad)} keys, e.g. {bad[:3]}")
    load = {k: state[k] for k in own if k in state}
    net.load_state_dict(load, strict=False)
    ignored = sorted(k for k in state if k not in own)
    counters = [k for k in own if k not in state]
    return {"ignored": ignored, "missing_counters": counters}
