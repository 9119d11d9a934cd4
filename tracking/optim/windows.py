"""Hann/cosine and Gaussian windows used to penalise large displacements in score maps.

Two Hann conventions exist and trackers depend on the exact values:

* pysot / SiamCAR / Ocean: ``numpy.hanning(n)`` (zero at both ends), 2-D window = outer product
  (:func:`outer_hanning`; siamcar.md §5.2 step 5).
* pytracking (DiMP/FCOT): :func:`hann1d` ``centered=True`` = 0.5·(1 − cos(2πk/(n+1))), k = 1..n (no zero
  samples); ``centered=False`` = the Fourier-style window peaked at index 0.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch

__all__ = ["hanning", "outer_hanning", "hann1d", "hann2d", "hann2d_clipped", "gaussian_window"]

Size = Union[int, Sequence[int]]


def _pair(sz: Size) -> Tuple[int, int]:
    if isinstance(sz, int):
        return sz, sz
    sz = tuple(int(s) for s in sz)
    if len(sz) != 2:
        raise ValueError(f"window size must be an int or (h, w), got {sz}")
    return sz  # type: ignore[return-value]


def hanning(n: int, device: Optional[torch.device] = None, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Equals ``numpy.hanning(n)``: 0.5 − 0.5·cos(2πk/(n−1)), k = 0..n−1 (zero at both ends)."""
    if n == 1:
        return torch.ones(1, device=device, dtype=dtype)
    k = torch.arange(n, device=device, dtype=dtype)
    return 0.5 - 0.5 * torch.cos(2 * math.pi * k / (n - 1))


def outer_hanning(size: Size, as_numpy: bool = True) -> Union[np.ndarray, torch.Tensor]:
    """pysot-style 2-D window ``np.outer(np.hanning(h), np.hanning(w))`` (float64)."""
    h, w = _pair(size)
    win = torch.outer(hanning(h), hanning(w))
    return win.numpy() if as_numpy else win


def hann1d(n: int, centered: bool = True, device: Optional[torch.device] = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """pytracking 1-D cosine window (see module docstring)."""
    if centered:
        k = torch.arange(1, n + 1, device=device, dtype=dtype)
        return 0.5 * (1 - torch.cos(2 * math.pi / (n + 1) * k))
    k = torch.arange(0, n // 2 + 1, device=device, dtype=dtype)
    half = 0.5 * (1 + torch.cos(2 * math.pi / (n + 2) * k))
    return torch.cat([half, half[1:n - n // 2].flip(0)])


def hann2d(size: Size, centered: bool = True, device: Optional[torch.device] = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Outer product of :func:`hann1d`, shape (1, 1, h, w) to broadcast over score maps."""
    h, w = _pair(size)
    return (hann1d(h, centered, device, dtype).reshape(-1, 1) * hann1d(w, centered, device, dtype).reshape(1, -1))[None, None]


def hann2d_clipped(size: Size, effective_size: Size, centered: bool = True, device: Optional[torch.device] = None,
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A :func:`hann2d` of ``effective_size`` zero-padded to ``size`` (DiMP's window when the target is small)."""
    h, w = _pair(size)
    eh, ew = _pair(effective_size)
    if eh > h or ew > w:
        raise ValueError(f"hann2d_clipped: effective size {(eh, ew)} larger than size {(h, w)}")
    win = hann2d((eh, ew), centered, device, dtype)
    top, left = (h - eh) // 2, (w - ew) // 2
    out = torch.zeros(1, 1, h, w, device=device, dtype=dtype)
    out[..., top:top + eh, left:left + ew] = win
    return out


def gaussian_window(size: Size, sigma: Union[float, Tuple[float, float]], center: Optional[Tuple[float, float]] = None,
                    min_value: float = 0.0, device: Optional[torch.device] = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """exp(−½·((y−cy)²/σy² + (x−cx)²/σx²)) clamped below at ``min_value`` (DCFST's output window).

    ``center`` is (cy, cx) in pixel indices; default is the map centre ((h−1)/2, (w−1)/2).
    """
    h, w = _pair(size)
    sy, sx = (sigma, sigma) if isinstance(sigma, (int, float)) else sigma
    cy, cx = ((h - 1) / 2, (w - 1) / 2) if center is None else center
    y = torch.arange(h, device=device, dtype=dtype).reshape(-1, 1)
    x = torch.arange(w, device=device, dtype=dtype).reshape(1, -1)
    g = torch.exp(-0.5 * ((y - cy) ** 2 / sy ** 2 + (x - cx) ** 2 / sx ** 2))
    return g.clamp(min=min_value)
