"""Custom ops without a compile step: Precise RoI Pooling and deformable convolution (+ Ocean offsets).

Submodules are imported lazily so ``import ops`` stays cheap:
``from ops import prroi_pool2d, PrRoIPool2D, DeformConv2d, ModulatedDeformConv2dPack, ocean_box_offsets``.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "prroi_pool2d": "prroi_pool",
    "prroi_pool2d_pure": "prroi_pool",
    "PrRoIPool2D": "prroi_pool",
    "compiled_available": "prroi_pool",
    "DeformConv2d": "deform_conv",
    "ModulatedDeformConv2d": "deform_conv",
    "DeformConv2dPack": "deform_conv",
    "ModulatedDeformConv2dPack": "deform_conv",
    "ocean_grid": "deform_conv",
    "ocean_box_offsets": "deform_conv",
    "ocean_sample_points": "deform_conv",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'ops' has no attribute {name!r}")
