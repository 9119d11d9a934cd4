"""Ocean (Zhang et al., ECCV 2020): object-aware anchor-free Siamese network + online classifier branch.

Registers the network builder ``'ocean'`` in :data:`ltr.admin.registry.NETWORKS`.
"""
from __future__ import annotations

from typing import Optional

from ltr.admin.registry import NETWORKS

from .config import OceanModelConfig, OceanOnlineNetConfig
from .network import OceanNet

__all__ = ["OceanNet", "OceanModelConfig", "OceanOnlineNetConfig", "build_ocean"]


@NETWORKS.register("ocean")
def build_ocean(model_cfg: Optional[OceanModelConfig] = None) -> OceanNet:
    """Build the Ocean network from the ``model:`` section (offline; online branch when ``online.enabled``)."""
    return OceanNet(model_cfg)
