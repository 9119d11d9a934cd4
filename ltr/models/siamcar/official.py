"""Load the official SiamCAR release checkpoints (github ohhhyeahhh/SiamCAR) into :class:`SiamCARNet`.

Official files are ``{'epoch', 'state_dict', 'optimizer'}`` (or a bare state dict), possibly with a
DataParallel ``module.`` prefix; the first release (Jan 2020) named the head ``rpn_head`` instead of
``car_head`` (siamcar.md §2.6).  Our module names equal the official ones, so the mapping is only
prefix/rename work — but pysot loads with ``strict=False`` and merely logs missing keys, so here every
key of the network (except BN ``num_batches_tracked`` counters) must be covered or loading fails.

Input convention: the official nets take **BGR 0–255** crops; so does :class:`SiamCARNet` for every
weight source, and the SiamCAR tracker/actor convert RGB uint8 to that, so no weight surgery is needed.

Command line (converts once to a SOTLab checkpoint ``{'net': state_dict, 'tracker': 'siamcar'}``)::

    python -m ltr.models.siamcar.official model_general.pth checkpoints/siamcar/general.pth
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, Union

import torch
import torch.nn as nn

__all__ = ["convert_official_state_dict", "is_official_state_dict", "load_official_siamcar", "load_siamcar_weights"]

_RENAMES = (("rpn_head.", "car_head."),)


def is_official_state_dict(state: Mapping[str, Any]) -> bool:
    """True for a pysot-style SiamCAR state dict (``car_head.*``/``rpn_head.*`` keys, optional ``module.``)."""
    return any(k.replace("module.", "", 1).startswith(("car_head.", "rpn_head.")) for k in state)


def convert_official_state_dict(state: Mapping[str, Any]) -> Dict[str, torch.Tensor]:
    """Official key layout → ours: strip ``module.``, rename ``rpn_head.`` → ``car_head.``; tensors only."""
    out: Dict[str, torch.Tensor] = {}
    for k, v in state.items():
        if not isinstance(v, torch.Tensor):
            continue
        if k.startswith("module."):
            k = k[len("module."):]
        for old, new in _RENAMES:
            if k.startswith(old):
                k = new + k[len(old):]
        out[k] = v
    return out


def _unwrap(ckpt: Any, name: str) -> Mapping[str, Any]:
    if isinstance(ckpt, Mapping):
        for key in ("state_dict", "model", "net"):
            if isinstance(ckpt.get(key), Mapping):
                return ckpt[key]
        if ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
            return ckpt
    raise RuntimeError(f"{name}: no SiamCAR state dict found (expected 'state_dict' or a bare state dict)")


def load_official_siamcar(net: nn.Module, src: Union[str, Path, Mapping[str, Any]]) -> Dict[str, List[str]]:
    """Load an official checkpoint (path or loaded dict) into ``net`` with full key-coverage checks.

    Raises ``KeyError`` naming the file and the missing keys, ``ValueError`` for shape mismatches.
    Returns ``{'unexpected': [...], 'counters_missing': [...]}``.
    """
    if isinstance(src, Mapping):
        name, ckpt = "<official state dict>", src
    else:
        from ltr.admin.checkpoint import load_checkpoint, resolve_weights_path

        path = resolve_weights_path(src)
        name, ckpt = str(path), load_checkpoint(path)
    state = convert_official_state_dict(_unwrap(ckpt, name))
    own = net.state_dict()
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    if missing:
        raise KeyError(f"{name}: {len(missing)} network keys not in the checkpoint, e.g. {missing[:6]}")
    bad = [f"{k}: checkpoint {tuple(state[k].shape)} vs network {tuple(own[k].shape)}"
           for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if bad:
        raise ValueError(f"{name}: {len(bad)} shape mismatches, e.g. {bad[:3]}")
    net.load_state_dict({k: state[k] for k in own if k in state}, strict=False)
    return {
        "unexpected": sorted(k for k in state if k not in own),
        "counters_missing": [k for k in own if k not in state],
    }


def load_siamcar_weights(net: nn.Module, spec: Union[str, Path, Mapping[str, Any]]) -> Dict[str, Any]:
    """Load either a SOTLab checkpoint (``net`` entry, strict) or an official release file."""
    from ltr.admin.checkpoint import load_checkpoint, load_network_weights, resolve_weights_path

    if isinstance(spec, Mapping):
        ckpt: Any = spec
    else:
        ckpt = load_checkpoint(resolve_weights_path(spec))
    if isinstance(ckpt, Mapping) and isinstance(ckpt.get("net"), Mapping):
        return load_network_weights(net, dict(ckpt))
    load_official_siamcar(net, ckpt if isinstance(ckpt, Mapping) else {})
    return dict(ckpt) if isinstance(ckpt, Mapping) else {}


def main(argv: List[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="convert an official SiamCAR checkpoint to a SOTLab checkpoint")
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    args = ap.parse_args(argv)
    from ltr.admin.checkpoint import save_checkpoint
    from ltr.models.siamcar.network import build_siamcar

    net = build_siamcar()
    rep = load_official_siamcar(net, args.src)
    save_checkpoint(args.dst, {"net": net.state_dict(), "tracker": "siamcar", "source": str(args.src)})
    print(f"wrote {args.dst} ({len(rep['unexpected'])} unexpected keys ignored)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
