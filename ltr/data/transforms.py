"""Photometric augmentations on float32 HxWx3 arrays (values 0-255, RGB).

Every function takes an explicit ``np.random.Generator`` so that a training
sample is a pure function of ``(seed, epoch, index)``; that is what makes
resume-after-crash and DDP-vs-single-process runs bit-identical.
"""
from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

__all__ = [
    "PYSOT_PCA_RGBVAR",
    "pca_color",
    "brightness",
    "color_jitter",
    "to_gray",
    "gaussian_blur",
    "motion_blur_kernel",
    "motion_blur",
    "normalize_image",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
]

#: pysot's fixed colour-noise matrix (rows act on B, G, R); noise = RGBVAR @ N(0, I3), subtracted from the BGR image
PYSOT_PCA_RGBVAR = np.array([[-0.55919361, 0.98062831, -0.41940627],
                             [1.72091413, 0.19879334, -1.82968581],
                             [4.64467907, 4.73710203, 4.88324118]], dtype=np.float32)

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)

_GRAY_W = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601 luma on RGB


def pca_color(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """pysot colour augmentation: subtract a random per-channel offset (computed in BGR order), no clipping."""
    offset_bgr = PYSOT_PCA_RGBVAR @ rng.standard_normal(3).astype(np.float32)
    return img - offset_bgr[::-1].reshape(1, 1, 3)  # image is RGB


def brightness(img: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """pytracking brightness jitter: multiply by U[1-amount, 1+amount], clip to [0, 255]."""
    f = rng.uniform(max(0.0, 1.0 - amount), 1.0 + amount)
    return np.clip(img * np.float32(f), 0.0, 255.0)


def _gray(img: np.ndarray) -> np.ndarray:
    return img @ _GRAY_W


def color_jitter(img: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """torchvision-style ColorJitter(brightness=contrast=saturation=hue=amount), applied in random order."""
    out = img
    for op in rng.permutation(4):
        if op == 0:
            out = out * np.float32(rng.uniform(max(0.0, 1 - amount), 1 + amount))
        elif op == 1:
            m = np.float32(_gray(out).mean())
            out = (out - m) * np.float32(rng.uniform(max(0.0, 1 - amount), 1 + amount)) + m
        elif op == 2:
            g = _gray(out)[..., None]
            out = (out - g) * np.float32(rng.uniform(max(0.0, 1 - amount), 1 + amount)) + g
        else:
            h = rng.uniform(-min(amount, 0.5), min(amount, 0.5))
            hsv = cv2.cvtColor(np.clip(out, 0, 255).astype(np.float32) / 255.0, cv2.COLOR_RGB2HSV)
            hsv[..., 0] = np.mod(hsv[..., 0] + h * 360.0, 360.0)
            out = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB) * 255.0
        out = np.clip(out, 0.0, 255.0)
    return out.astype(np.float32)


def to_gray(img: np.ndarray) -> np.ndarray:
    """Grayscale replicated to three channels."""
    g = _gray(img)
    return np.repeat(g[..., None], 3, axis=2).astype(np.float32)


def gaussian_blur(img: np.ndarray, rng: np.random.Generator, sigma_range=(0.2, 2.0)) -> np.ndarray:
    sigma = rng.uniform(*sigma_range)
    return cv2.GaussianBlur(img, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)


def motion_blur_kernel(rng: np.random.Generator) -> np.ndarray:
    """pysot cross-shaped kernel: odd size 5..45, a column weighted w and a row weighted 1-w (sums to 1)."""
    size = int(rng.choice(np.arange(5, 46, 2)))
    k = np.zeros((size, size), dtype=np.float32)
    c = size // 2
    w = np.float32(rng.random())
    k[:, c] += w / size
    k[c, :] += (1 - w) / size
    return k


def motion_blur(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return cv2.filter2D(img, -1, motion_blur_kernel(rng))


def normalize_image(img: np.ndarray, mode: str, out: Optional[np.ndarray] = None) -> np.ndarray:
    """HxWx3 RGB float 0-255 -> 3xHxW float32 in the network's input format.

    ``bgr255``: BGR 0-255 (pysot/TracKit); ``imagenet``: RGB/255, ImageNet mean/std; ``rgb01``: RGB/255.
    """
    if mode == "bgr255":
        arr = img[..., ::-1]
    elif mode == "imagenet":
        arr = (img / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    elif mode == "rgb01":
        arr = img / 255.0
    else:
        raise ValueError(f"unknown normalisation '{mode}' (bgr255, imagenet, rgb01)")
    return np.ascontiguousarray(arr.transpose(2, 0, 1), dtype=np.float32)
