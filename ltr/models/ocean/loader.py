"""Official TracKit (researchmm/TracKit) Ocean checkpoints → :class:`OceanNet`.

TracKit's ``models.Ocean(align, online)`` state dict uses ``features.features.*`` (backbone, plus
``layeronline.*`` for the online model), ``neck.downsample.{0,1}``, ``connect_model.*`` (``box_tower``:
``{cls,reg}_encode.matrix{11,12,21}_{k,s}``, ``{cls,reg}_dw.weight``, towers, preds, ``adjust``,
``bias``) and ``align_head.{rpn_conv.conv,rpn_cls}``. The online classifier (``ONLINEnet50``) is a
separate checkpoint with ``classifier.*`` keys. Both may carry DataParallel's ``module.`` prefix and may
be wrapped in ``{'state_dict': ...}``.

The input convention needs no conversion: TracKit feeds the Siamese path BGR 0–255 crops (as
:class:`OceanNet` expects) and the online path RGB/255 with ImageNet mean/std (as
:class:`OceanOnlineBranch` does).
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple, Union

import torch
import torch.nn as nn

__all__ = ["OFFICIAL_RULES", "official_to_sotlab", "sotlab_to_official", "load_official_checkpoint", "read_state_dict"]

_RATES = ("11", "12", "21")  # matrix11/12/21 = PyTorch dilation (1,1), (2,1), (1,2) = rates order

#: (official prefix, SOTLab prefix), most specific first
OFFICIAL_RULES: List[Tuple[str, str]] = (
    [("features.features.layeronline.", "online.layer.")]
    + [(f"connect_model.{b}_encode.matrix{r}_{ks}.", f"head.{b}_match.{'template' if ks == 'k' else 'search'}_convs.{i}.")
       for b in ("cls", "reg") for i, r in enumerate(_RATES) for ks in ("k", "s")]
    + [
        ("connect_model.cls_dw.weight", "head.cls_match.weight"),
        ("connect_model.reg_dw.weight", "head.reg_match.weight"),
        ("connect_model.", "head."),
        ("features.features.", "backbone."),
        ("neck.", "neck."),
        ("align_head.rpn_conv.conv.", "align_head.deform."),
        ("align_head.rpn_cls.", "align_head.cls."),
        # ONLINEnet50 classifier checkpoint (same module names below ``classifier``; the step length and
        # regularisation live in the shared optimiser ``sd`` and are 0-d there, [1] in the official file)
        ("classifier.filter_optimizer.log_step_length", "online.classifier.filter_optimizer.sd.log_step_length"),
        ("classifier.filter_optimizer.filter_reg", "online.classifier.filter_optimizer.sd.filter_reg"),
        ("classifier.", "online.classifier."),
    ]
)


def _map_key(key: str, rules: List[Tuple[str, str]]) -> Optional[str]:
    for src, dst in rules:
        if key == src or (src.endswith(".") and key.startswith(src)):
            return dst + key[len(src):]
    return None


def official_to_sotlab(state: Mapping[str, torch.Tensor]) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """Rename official keys; returns ``(mapped, unknown_keys)`` (``module.`` prefixes removed)."""
    out: Dict[str, torch.Tensor] = {}
    unknown: List[str] = []
    for k, v in state.items():
        k = k[len("module."):] if k.startswith("module.") else k
        new = _map_key(k, OFFICIAL_RULES)
        if new is None:
            unknown.append(k)
        else:
            out[new] = v
    return out, unknown


def sotlab_to_official(state: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Inverse mapping (export to TracKit's layout); classifier keys go to the same dict."""
    inv = [(dst, src) for src, dst in OFFICIAL_RULES]
    inv.sort(key=lambda r: -len(r[0]))
    out = {}
    for k, v in state.items():
        new = _map_key(k, inv)
        if new is None:
            raise KeyError(f"sotlab_to_official: no official name for '{k}'")
        if new.startswith("classifier.filter_optimizer.") and v.dim() == 0:
            v = v.reshape(1)  # pytracking stores the step length / regularisation as [1]
        out[new] = v
    return out


def read_state_dict(src: Union[str, Path, Mapping[str, torch.Tensor]]) -> Tuple[Dict[str, torch.Tensor], str]:
    """A state dict from a file (``weights_only`` load; ``state_dict``/``model``/``net`` wrappers accepted)."""
    if isinstance(src, Mapping):
        state, name = src, "<state dict>"
    else:
        path = Path(src).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"Ocean checkpoint not found: {path}")
        try:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as e:
            raise RuntimeError(f"{path}: cannot load as a weights-only checkpoint (a pickled model object is not "
                               f"accepted; re-save its state_dict): {e}") from e
        name = str(path)
    for key in ("state_dict", "model", "net"):
        if isinstance(state, Mapping) and isinstance(state.get(key), Mapping):
            state = state[key]
            break
    if not isinstance(state, Mapping):
        raise RuntimeError(f"{name}: expected a state dict, got {type(state).__name__}")
    return {str(k): v for k, v in state.items() if isinstance(v, torch.Tensor)}, name


def load_official_checkpoint(net: nn.Module, *sources: Union[str, Path, Mapping[str, torch.Tensor]],
                             strict: bool = True) -> Dict[str, List[str]]:
    """Load one or more TracKit checkpoints (Siamese model, then optionally the online classifier).

    With ``strict`` every parameter/buffer of ``net`` (except ``num_batches_tracked`` counters and the
    online branch's buffers that have no official counterpart) must be provided, shapes must match and
    no official key may be left unused; the error names the file and the keys.
    Returns ``{'missing': [...], 'unused': [...]}``.
    """
    if not sources:
        raise ValueError("load_official_checkpoint: give at least one checkpoint")
    merged: Dict[str, torch.Tensor] = {}
    unused: List[str] = []
    names = []
    for src in sources:
        state, name = read_state_dict(src)
        names.append(name)
        mapped, unknown = official_to_sotlab(state)
        merged.update(mapped)
        unused += [f"{name}: {k}" for k in unknown]
    own = net.state_dict()
    extra = [k for k in merged if k not in own]
    unused += [f"(mapped) {k}" for k in extra]
    for k in list(merged):  # [1] vs 0-d scalars (optimiser step length / regularisation)
        if k in own and merged[k].shape != own[k].shape and merged[k].numel() == own[k].numel() == 1:
            merged[k] = merged[k].reshape(own[k].shape)
    bad = [f"{k}: checkpoint {tuple(merged[k].shape)} vs net {tuple(own[k].shape)}"
           for k in merged if k in own and merged[k].shape != own[k].shape]
    if bad:
        raise ValueError(f"{', '.join(names)}: shape mismatch for {len(bad)} keys, e.g. {bad[:3]}")
    missing = [k for k in own if k not in merged and not k.endswith("num_batches_tracked")]
    if strict and (missing or unused):
        raise KeyError(f"{', '.join(names)}: {len(missing)} network keys missing (e.g. {missing[:4]}), "
                       f"{len(unused)} checkpoint keys unused (e.g. {unused[:4]})")
    net.load_state_dict({k: v for k, v in merged.items() if k in own}, strict=False)
    return {"missing": missing, "unused": unused}
