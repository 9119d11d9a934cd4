"""SiamCAR (Guo et al., CVPR 2020): network, configuration and official-checkpoint loading."""
from .config import SiamCARConfig, SiamCARLossConfig, SiamCARModelConfig, SiamCARTrackConfig, SiamCARTrainConfig
from .head import CARHead
from .network import SiamCARNet, backbone_feature_size, build_siamcar

__all__ = [
    "SiamCARConfig",
    "SiamCARLossConfig",
    "SiamCARModelConfig",
    "SiamCARTrackConfig",
    "SiamCARTrainConfig",
    "CARHead",
    "SiamCARNet",
    "backbone_feature_size",
    "build_siamcar",
]
