"""Helpers for the Ocean parity tests: regenerate the recipe weights of shared/parity (README §1)."""
from __future__ import annotations

import hashlib
import json
import math
from collections import OrderedDict
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import pytest
import torch

from ltr.admin.settings import repo_root

PARITY_DIR = Path(repo_root()).parent / "shared" / "parity"
OCEAN_DIR = PARITY_DIR / "ocean"
SEQ_DIR = PARITY_DIR / "sequence"
SHA_OCEAN = "17150ba5f8ad81c9434645d88be5e2fe35b4355c4d4f712f2492dc8976ea858e"
POST_SCALE = {"neck.downsample.1.running_var": 1e4}
RECIPE_SEED = 20261121


def need(path: Path) -> Path:
    """Skip (with the reason) when a golden file is absent."""
    if not path.exists():
        pytest.skip(f"parity golden {path} not present (needs ../shared/parity next to the repo)")
    return path


def manifest() -> List[Tuple[str, List[int], str]]:
    return json.loads(need(OCEAN_DIR / "ocean_manifest.json").read_text())


def recipe_state(entries: List[Tuple[str, List[int], str]], post_scale: Optional[Dict[str, float]] = None) -> "OrderedDict[str, torch.Tensor]":
    """The deterministic weights of README §1, in the official key layout."""
    post_scale = POST_SCALE if post_scale is None else post_scale
    g = torch.Generator().manual_seed(RECIPE_SEED)
    out: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    for key, shape, dtype in entries:
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


def state_sha256(state: "OrderedDict[str, torch.Tensor]") -> str:
    h = hashlib.sha256()
    for k, v in state.items():
        h.update(k.encode())
        h.update(v.contiguous().numpy().tobytes())
    return h.hexdigest()


_CACHE: Dict[str, "OrderedDict[str, torch.Tensor]"] = {}


def ocean_recipe_state() -> "OrderedDict[str, torch.Tensor]":
    """Recipe weights (cached per process); skips if the digest differs (other torch RNG stream)."""
    if "s" not in _CACHE:
        st = recipe_state(manifest())
        if state_sha256(st) != SHA_OCEAN:
            pytest.skip("regenerated Ocean recipe weights do not match the README sha256 (different torch RNG stream)")
        _CACHE["s"] = st
    return _CACHE["s"]


def rel_err(a, b) -> float:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"shape {a.shape} vs {b.shape}"
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))
