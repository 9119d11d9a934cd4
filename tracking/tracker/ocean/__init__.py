"""Ocean tracker (offline + online), registered as ``'ocean'`` in :data:`ltr.admin.registry.TRACKERS`."""
from .config import OceanConfig, OceanTrackConfig, OceanTrainConfig
from .tracker import OceanTracker, decode_and_select

__all__ = ["OceanConfig", "OceanTrackConfig", "OceanTrainConfig", "OceanTracker", "decode_and_select"]
