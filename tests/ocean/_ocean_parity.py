"""Helpers for the Ocean parity tests: the recipe weights of shared/parity (README §1) via ``ltr.utils.parity``."""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import pytest
import torch

from ltr.utils.parity import ManifestEntry, load_manifest, parity_dir, recipe_state_dict, state_digest

PARITY_DIR = parity_dir()
OCEAN_DIR = PARITY_DIR / "ocean"
SEQ_DIR = PARITY_DIR / "sequence"
SHA_OCEAN = "17150ba5f8ad81c9434645d88be5e2fe35b4355c4d4f712f2492dc8976ea858e"
#: README §1: the neck BN variance is scaled so the recipe network's activations stay in range
POST_SCALE = {"neck.downsample.1.running_var": 1e4}


def need(path: Path) -> Path:
    """Skip (with the reason) when a golden file is absent."""
    if not path.exists():
        pytest.skip(f"parity golden {path} not present (needs ../shared/parity next to the repo or SOTLAB_PARITY_DIR)")
    return path


def manifest() -> List[ManifestEntry]:
    return load_manifest(need(OCEAN_DIR / "ocean_manifest.json"))


def recipe_state(entries: List[ManifestEntry], post_scale: Optional[Dict[str, float]] = None) -> Dict[str, torch.Tensor]:
    """The deterministic weights of README §1, in the official key layout (manifest order)."""
    return recipe_state_dict(entries, post_scale=POST_SCALE if post_scale is None else post_scale)


_CACHE: Dict[str, Dict[str, torch.Tensor]] = {}


def ocean_recipe_state() -> Dict[str, torch.Tensor]:
    """Recipe weights (cached per process); skips if the digest differs (other torch RNG stream)."""
    if "s" not in _CACHE:
        entries = manifest()
        st = recipe_state(entries)
        if state_digest(st, [k for k, _, _ in entries]) != SHA_OCEAN:
            pytest.skip("regenerated Ocean recipe weights do not match the README sha256 (different torch RNG stream)")
        _CACHE["s"] = st
    return _CACHE["s"]


def rel_err(a, b) -> float:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"shape {a.shape} vs {b.shape}"
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))
