"""Precise RoI Pooling (Jiang et al., "Acquisition of Localization Confidence", ECCV 2018) without a compile step.

Definition. The feature map is extended to the whole plane by bilinear interpolation with zeros outside
the map, i.e. ``f(x, y) = Σ_ij F[i, j]·k(x − j)·k(y − i)`` with the tent ``k(t) = max(0, 1 − |t|)`` and
pixel (i, j) at integer coordinates. Each output bin is the exact integral of ``f`` over the bin
divided by the bin area (0 for an empty box). This equals pytracking's PrRoIPool2D.

Pure backend (any device, fully vectorised, autograd gives gradients for features *and* boxes):
with the summed-area table ``P[i, j] = Σ_{i'<i, j'<j} F`` the double integral of ``f`` from −∞ to a
point (x, y) is ``S(x, y) = Σ_{a,b∈{0,1,2}} c_a(y)·c_b(x)·P[m + a, n + b]`` where n = ⌊x⌋, φ = x − n and
``c = ((1−φ)²/2, ½ + φ − φ², φ²/2)`` (the antiderivative of the tent), indices clamped to the table.
A bin integral is then four evaluations of ``S`` at its corners; neighbouring bins share corners.
The table is accumulated in float64 by default to avoid cancellation in the corner differences.

Compiled backend (optional): ``ops/csrc/prroi_pool.cpp`` built on first use with
``torch.utils.cpp_extension.load`` into ``$TORCH_EXTENSIONS_DIR`` or torch's cache ``~/.cache/torch_extensions``.
It integrates each bin directly over the touched cells (no cancellation) and has an analytic backward
for features and boxes. It is CPU-only; CUDA tensors always use the pure backend.

Backend choice: ``backend=`` argument, else ``$SOTLAB_PRROI_BACKEND`` (``auto``/``pure``/``compiled``),
default ``auto`` = compiled when it is already built or builds now (once per process, ~20 s the first
time on 2 cores, then cached), otherwise pure, silently. Set ``SOTLAB_PRROI_BACKEND=pure`` to never build.

RoIs: ``(K, 5)`` rows ``(batch_index, x0, y0, x1, y1)`` in input-image pixels; multiplied by
``spatial_scale`` to get feature coordinates (DCFST: scale 1/8 and 1/16, FCOT: 72/288 and 36/288).
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Optional, Tuple

import torch
import torch.nn as nn

__all__ = ["prroi_pool2d", "prroi_pool2d_pure", "PrRoIPool2D", "compiled_backend", "compiled_available"]

_BACKENDS = ("auto", "pure", "compiled")


def _check_inputs(features: torch.Tensor, rois: torch.Tensor, ph: int, pw: int) -> None:
    if features.dim() != 4:
        raise ValueError(f"prroi_pool2d: features must be (B, C, H, W), got {tuple(features.shape)}")
    if rois.dim() != 2 or rois.shape[1] != 5:
        raise ValueError(f"prroi_pool2d: rois must be (K, 5) = (batch_index, x0, y0, x1, y1), got {tuple(rois.shape)}")
    if ph < 1 or pw < 1:
        raise ValueError(f"prroi_pool2d: pooled size must be >= 1, got ({ph}, {pw})")
    if rois.device != features.device:
        raise ValueError(f"prroi_pool2d: rois on {rois.device}, features on {features.device}")


def _antiderivative_coeffs(t: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """For positions t: integer part n (long) and the 3 prefix-table coefficients (…, 3)."""
    n = torch.floor(t)
    phi = t - n  # derivative 1 w.r.t. t (floor has zero gradient)
    c0 = 0.5 * (1 - phi) ** 2
    c2 = 0.5 * phi * phi
    c1 = 1 - c0 - c2
    return n.long(), torch.stack([c0, c1, c2], dim=-1)


def prroi_pool2d_pure(features: torch.Tensor, rois: torch.Tensor, pooled_height: int, pooled_width: int,
                      spatial_scale: float, acc_dtype: Optional[torch.dtype] = torch.float64,
                      max_chunk_elems: int = 1 << 23) -> torch.Tensor:
    """Pure-PyTorch PrRoIPool (see module docstring); returns (K, C, pooled_height, pooled_width)."""
    ph, pw = int(pooled_height), int(pooled_width)
    _check_inputs(features, rois, ph, pw)
    B, C, H, W = features.shape
    K = rois.shape[0]
    out_dtype = features.dtype
    dt = acc_dtype if acc_dtype is not None else features.dtype
    if K == 0:
        return features.new_zeros(0, C, ph, pw)
    Fa = features.to(dt)
    P = torch.nn.functional.pad(Fa.cumsum(2).cumsum(3), (1, 0, 1, 0))  # (B, C, H+1, W+1)
    table = P.permute(1, 0, 2, 3).reshape(C, B * (H + 1) * (W + 1))

    r = rois.to(dt)
    bidx = rois[:, 0].detach().round().long()
    if bool(((bidx < 0) | (bidx >= B)).any()):
        raise ValueError(f"prroi_pool2d: roi batch index outside [0, {B - 1}]")
    x0, y0, x1, y1 = (r[:, k] * spatial_scale for k in range(1, 5))
    bw = (x1 - x0).clamp(min=0) / pw
    bh = (y1 - y0).clamp(min=0) / ph
    xs = x0[:, None] + bw[:, None] * torch.arange(pw + 1, device=r.device, dtype=dt)  # (K, pw+1)
    ys = y0[:, None] + bh[:, None] * torch.arange(ph + 1, device=r.device, dtype=dt)  # (K, ph+1)
    nx, cx = _antiderivative_coeffs(xs)
    ny, cy = _antiderivative_coeffs(ys)
    base = bidx * ((H + 1) * (W + 1))

    chunk = max(1, max_chunk_elems // max(1, C * (ph + 1) * (pw + 1)))
    outs = []
    for s in range(0, K, chunk):
        e = min(K, s + chunk)
        S = None
        for a in range(3):
            rows = (ny[s:e] + a).clamp(0, H) * (W + 1)  # (k, ph+1)
            for b in range(3):
                cols = (nx[s:e] + b).clamp(0, W)  # (k, pw+1)
                idx = base[s:e, None, None] + rows[:, :, None] + cols[:, None, :]
                vals = table.index_select(1, idx.reshape(-1)).reshape(C, e - s, ph + 1, pw + 1)
                w = cy[s:e, :, a][:, :, None] * cx[s:e, :, b][:, None, :]
                term = vals * w
                S = term if S is None else S + term
        assert S is not None
        integ = S[:, :, 1:, 1:] - S[:, :, :-1, 1:] - S[:, :, 1:, :-1] + S[:, :, :-1, :-1]  # (C, k, ph, pw)
        area = (bw[s:e] * bh[s:e]).reshape(1, -1, 1, 1)
        safe = torch.where(area > 0, area, torch.ones_like(area))
        o = torch.where(area > 0, integ / safe, torch.zeros_like(integ))
        outs.append(o.permute(1, 0, 2, 3))
    return torch.cat(outs, 0).to(out_dtype).contiguous()


# --------------------------------------------------------------------------------------- compiled backend

_ext = None
_ext_tried = False
_ext_error: Optional[str] = None
_ext_lock = threading.Lock()


def compiled_backend(build: bool = True):
    """The JIT-compiled extension module, or None if it cannot be built (reason in ``compiled_error()``)."""
    global _ext, _ext_tried, _ext_error
    if _ext is not None or _ext_tried or not build:
        return _ext
    with _ext_lock:
        if _ext_tried:
            return _ext
        _ext_tried = True
        try:
            from torch.utils.cpp_extension import load

            src = Path(__file__).resolve().parent / "csrc" / "prroi_pool.cpp"
            # no build_directory: torch's per-user cache ($TORCH_EXTENSIONS_DIR or ~/.cache/torch_extensions)
            # persists across runs; the SOTLab workspace does not (tests use a throw-away one per session).
            _ext = load(name="sotlab_prroi_pool", sources=[str(src)], extra_cflags=["-O3"], verbose=False)
        except Exception as e:  # no compiler, no headers, ...: the pure backend is always there
            _ext_error = f"{type(e).__name__}: {e}"
            _ext = None
    return _ext


def compiled_error() -> Optional[str]:
    """Why the compiled backend is unavailable (None if it built or was never tried)."""
    return _ext_error


def compiled_available() -> bool:
    """Build (or load from cache) the compiled backend; True if usable."""
    return compiled_backend() is not None


class _PrRoIPoolCompiled(torch.autograd.Function):
    @staticmethod
    def forward(ctx, features: torch.Tensor, rois: torch.Tensor, ph: int, pw: int, scale: float) -> torch.Tensor:  # type: ignore[override]
        ext = compiled_backend()
        feats = features.contiguous()
        r = rois.to(feats.dtype).contiguous()
        out = ext.forward(feats, r, ph, pw, float(scale))
        ctx.save_for_backward(feats, r, out)
        ctx.params = (ph, pw, float(scale))
        ctx.rois_dtype = rois.dtype
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):  # type: ignore[override]
        feats, r, out = ctx.saved_tensors
        ph, pw, scale = ctx.params
        gf, gr = compiled_backend().backward(grad_out.contiguous(), feats, r, out, ph, pw, scale,
                                             ctx.needs_input_grad[0], ctx.needs_input_grad[1])
        return (gf if ctx.needs_input_grad[0] else None, gr.to(ctx.rois_dtype) if ctx.needs_input_grad[1] else None,
                None, None, None)


def _resolve_backend(backend: Optional[str], device: torch.device) -> str:
    b = backend or os.environ.get("SOTLAB_PRROI_BACKEND", "auto")
    if b not in _BACKENDS:
        raise ValueError(f"prroi_pool2d: backend must be one of {_BACKENDS} (argument or $SOTLAB_PRROI_BACKEND), got {b!r}")
    if b == "pure":
        return "pure"
    if device.type != "cpu":
        if b == "compiled":
            raise RuntimeError(f"prroi_pool2d: the compiled backend is CPU-only, features are on {device}")
        return "pure"
    if b == "compiled":
        if compiled_backend() is None:
            raise RuntimeError(f"prroi_pool2d: compiled backend unavailable: {_ext_error}")
        return "compiled"
    return "compiled" if compiled_backend() is not None else "pure"


def prroi_pool2d(features: torch.Tensor, rois: torch.Tensor, pooled_height: int, pooled_width: int,
                 spatial_scale: float, backend: Optional[str] = None) -> torch.Tensor:
    """Precise RoI pooling: (B,C,H,W) features, (K,5) rois -> (K, C, pooled_height, pooled_width)."""
    _check_inputs(features, rois, int(pooled_height), int(pooled_width))
    if _resolve_backend(backend, features.device) == "compiled" and features.dtype in (torch.float32, torch.float64):
        if rois.shape[0] == 0:
            return features.new_zeros(0, features.shape[1], pooled_height, pooled_width)
        B = features.shape[0]
        bidx = rois[:, 0].detach().round()
        if bool(((bidx < 0) | (bidx >= B)).any()):
            raise ValueError(f"prroi_pool2d: roi batch index outside [0, {B - 1}]")
        return _PrRoIPoolCompiled.apply(features, rois, int(pooled_height), int(pooled_width), float(spatial_scale))
    return prroi_pool2d_pure(features, rois, pooled_height, pooled_width, spatial_scale)


class PrRoIPool2D(nn.Module):
    """Module form, ``PrRoIPool2D(pooled_height, pooled_width, spatial_scale)(features, rois)`` (pytracking API)."""

    def __init__(self, pooled_height: int, pooled_width: int, spatial_scale: float, backend: Optional[str] = None) -> None:
        super().__init__()
        self.pooled_height = int(pooled_height)
        self.pooled_width = int(pooled_width)
        self.spatial_scale = float(spatial_scale)
        self.backend = backend

    def forward(self, features: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        return prroi_pool2d(features, rois, self.pooled_height, self.pooled_width, self.spatial_scale, self.backend)

    def extra_repr(self) -> str:
        return f"pooled=({self.pooled_height}, {self.pooled_width}), spatial_scale={self.spatial_scale}"
