"""SiamCAR tracker (``configs/siamcar/*.yaml``); the config schema lives in ``ltr.models.siamcar.config``."""
from ltr.models.siamcar.config import SiamCARConfig, SiamCARTrackConfig

from .postprocess import Geometry, postprocess
from .tracker import SiamCARTracker

__all__ = ["SiamCARConfig", "SiamCARTrackConfig", "SiamCARTracker", "Geometry", "postprocess"]
