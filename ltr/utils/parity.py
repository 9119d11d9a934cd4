"""Deterministic "recipe" weights of the parity goldens (``../shared/parity/README.md`` §1).

The official SiamCAR/Ocean outputs stored in ``shared/parity`` were produced with weights drawn
from one seeded generator over the official state-dict keys.  Rebuilding them here (and checking the
published sha256) lets a test compare our network with the official one without shipping weights.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch

__all__ = ["PARITY_SEED", "load_manifest", "recipe_state_dict", "state_digest", "parity_dir"]

PARITY_SEED = 20261121

ManifestEntry = Tuple[str, List[int], str]


def parity_dir() -> Path:
    """``$SOTLAB_PARITY_DIR`` if set, else ``<repo>/../shared/parity`` (absent outside the development machine)."""
    env = os.environ.get("SOTLAB_PARITY_DIR")
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[2].parent / "shared" / "parity"


def load_manifest(path: Union[str, Path]) -> List[ManifestEntry]:
    with open(path) as f:
        data = json.load(f)
    return [(str(k), [int(s) for s in shape], str(dt)) for k, shape, dt in data]


def recipe_state_dict(
    manifest: Sequence[ManifestEntry],
    seed: int = PARITY_SEED,
    post_scale: Optional[Mapping[str, float]] = None,
) -> Dict[str, torch.Tensor]:
    """Draw every tensor of ``manifest`` in order from one ``torch.Generator`` (README §1 rules)."""
    g = torch.Generator().manual_seed(seed)
    post_scale = dict(post_scale or {})
    out: Dict[str, torch.Tensor] = {}
    for key, shape, dtype in manifest:
        if key.endswith("num_batches_tracked"):
            out[key] = torch.zeros((), dtype=torch.int64)
            continue
        t = torch.randn(shape, generator=g, dtype=torch.float32)
        if key.endswith("running_var"):
            v = 0.5 + t.abs()
        elif key.endswith("running_mean"):
            v = 0.1 * t
        elif len(shape) <= 1 and key.endswith("weight"):
            v = 1 + 0.1 * t
        elif len(shape) <= 1:
            v = 0.01 * t
        else:
            v = t * math.sqrt(1.0 / math.prod(shape[1:]))
        if key in post_scale:
            v = v * post_scale[key]
        out[key] = v
    return out


def state_digest(state: Mapping[str, torch.Tensor], keys: Sequence[str]) -> str:
    """sha256 over ``key.encode() + tensor bytes`` in the given key order (README §1)."""
    h = hashlib.sha256()
    for k in keys:
        h.update(k.encode())
        h.update(state[k].contiguous().numpy().tobytes())
    return h.hexdigest()
