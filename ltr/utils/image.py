"""Image I/O with errors that name the file."""
from __future__ import annotations

from pathlib import Path
from typing import Union

import cv2
import numpy as np

__all__ = ["imread_rgb", "ImageReadError"]

cv2.setNumThreads(1)  # workers are parallel processes already; avoid oversubscription


class ImageReadError(IOError):
    pass


def imread_rgb(path: Union[str, Path]) -> np.ndarray:
    """Read an image as HxWx3 uint8 RGB.  Grayscale images are expanded to 3 channels."""
    p = str(path)
    img = cv2.imread(p, cv2.IMREAD_COLOR)
    if img is None:
        if not Path(p).exists():
            raise ImageReadError(f"image file not found: {p}")
        raise ImageReadError(f"cannot decode image (corrupt or unsupported): {p}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
