"""Precise RoI Pooling (Jiang et al., "Acquisition of Localization Confidence", ECCV 2018) without a compile step.

Definition. The feature map is extended to the whole plane by bilinear interpolation with zeros outside
the map, i.e. ``f(x, y) = Σ_ij F[i, j]·k(x − j)·k(y − i)`` with the tent ``k(t) = max(0, 1 − |t|)`` and
pixel (i, j) at integer coordinates. Each output bin is the exact integral of ``f`` over the bin
divided by the bin area (0 for an empty box): the definition of pytracking's PrRoIPool2D (its CUDA
kernel was not available here to compare against; tests use brute-force integration instead).

Pure backend (any device, fully vectorised, autograd gives gradients for features *and* boxes):
the integral is separable, ``∫∫ f = Σ_ij F[i, j]·wy_i·wx_j`` with ``wx_j = T(x1 − j) − T(x0 − j)`` and T the
antiderivative of the tent. Each RoI gathers the window of pixels it touches and the bins are two batched
matrix products (weights × window × weightsᵀ). There is no cancellation, so float32 stays accurate.

Compiled backend (optional): ``ops/csrc/prroi_pool.cpp`` built on first use with
``torch.utils.cpp_extension.load`` into ``$TORCH_EXTENSIONS_DIR`` or torch's cache ``~/.cache/torch_extensions``.
It integrates each bin directly over the touched cells (no cancellation) and has an analytic backward
for features and boxes. It is CPU-only; CUDA tensors always use the pure backend.

Backend choice: ``backend=`` argument, else ``$SOTLAB_PRROI_BACKEND`` (``auto``/``pure``/``compiled``),
default ``auto`` = on CPU without gradients (tracking), the compiled backend when it is already built or
builds now (once per process, ~20 s the first time on 2 cores, then cached), otherwise pure, silently; with
gradients (training) the pure backend, whose backward measured faster. Set ``SOTLAB_PRROI_BACKEND=pure`` to
never build.

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

__all__ = ["prroi_pool2d", "prroi_pool2d_pure", "PrRoIPool2D", "compiled_backend", "compiled_available", "compiled_error"]

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


def _tent_integral(t: torch.Tensor) -> torch.Tensor:
    """∫_{-∞}^{t} max(0, 1 − |s|) ds (piecewise quadratic, derivative = the tent)."""
    t = t.clamp(-1.0, 1.0)
    return torch.where(t <= 0, 0.5 * (t + 1) ** 2, 1 - 0.5 * (1 - t) ** 2)


def _axis_weights(start: torch.Tensor, size: torch.Tensor, nbins: int, n: int, win: int,
                  first: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per-RoI weights (K, nbins, win) of the window pixels first..first+win−1 and their clamped indices.

    Weight of pixel p for bin [e_q, e_{q+1}] = T(e_{q+1} − p) − T(e_q − p), T = tent antiderivative;
    pixels outside the map get weight 0 (zero padding).
    """
    edges = start[:, None] + size[:, None] * torch.arange(nbins + 1, device=start.device, dtype=start.dtype)
    pix = first[:, None] + torch.arange(win, device=start.device)  # (K, win) long
    d = edges[:, :, None] - pix[:, None, :].to(start.dtype)  # (K, nbins+1, win)
    T = _tent_integral(d)
    w = T[:, 1:] - T[:, :-1]
    valid = (pix >= 0) & (pix < n)
    return w * valid[:, None, :].to(w.dtype), pix.clamp(0, n - 1)


def prroi_pool2d_pure(features: torch.Tensor, rois: torch.Tensor, pooled_height: int, pooled_width: int,
                      spatial_scale: float, max_chunk_elems: int = 1 << 23) -> torch.Tensor:
    """Pure-PyTorch PrRoIPool; returns (K, C, pooled_height, pooled_width).

    Separable exact integration: ``out[k, :, p, q] = Σ_ij Wy[k,p,i]·Wx[k,q,j]·F[b_k, :, i, j] / area`` with
    Wy/Wx from the tent antiderivative, restricted to a window of the pixels each RoI touches (window size =
    the largest RoI extent in a chunk), as two batched matrix products. No cancellation, so float32 input
    stays accurate; autograd differentiates through the weights for the box gradients.
    """
    ph, pw = int(pooled_height), int(pooled_width)
    _check_inputs(features, rois, ph, pw)
    B, C, H, W = features.shape
    K = rois.shape[0]
    if K == 0:
        return features.new_zeros(0, C, ph, pw)
    bidx = rois[:, 0].detach().round().long()
    if bool(((bidx < 0) | (bidx >= B)).any()):
        raise ValueError(f"prroi_pool2d: roi batch index outside [0, {B - 1}]")
    geo_dt = torch.float64 if features.device.type == "cpu" or features.dtype == torch.float64 else torch.float32
    r = rois.to(geo_dt)
    x0, y0, x1, y1 = (r[:, k] * spatial_scale for k in range(1, 5))
    bw = (x1 - x0).clamp(min=0) / pw
    bh = (y1 - y0).clamp(min=0) / ph
    area = bw * bh
    # window of touched pixels: floor(start) .. ceil(end) (both inclusive)
    # (pixels outside the map have zero weight, so the window is intersected with the map)
    fx = torch.floor(x0.detach()).long().clamp(0, W - 1)
    fy = torch.floor(y0.detach()).long().clamp(0, H - 1)
    ex = torch.ceil((x0 + bw * pw).detach()).long().clamp(max=W - 1)
    ey = torch.ceil((y0 + bh * ph).detach()).long().clamp(max=H - 1)
    # channels-last table: each gathered window pixel is a contiguous row of C values
    table = features.permute(0, 2, 3, 1).reshape(B * H * W, C)

    outs = []
    s = 0
    budget = max(1, max_chunk_elems // max(1, C))  # max RoIs x window pixels per chunk
    while s < K:
        # grow the chunk while the window volume stays under the budget
        e = min(K, s + 1)
        win_h = int((ey[s] - fy[s] + 1).clamp(min=1))
        win_w = int((ex[s] - fx[s] + 1).clamp(min=1))
        hh, ww = win_h, win_w
        step = 64
        while e < K:
            e2 = min(K, e + step)
            h2 = max(hh, int((ey[e:e2] - fy[e:e2] + 1).clamp(min=1).max()))
            w2 = max(ww, int((ex[e:e2] - fx[e:e2] + 1).clamp(min=1).max()))
            if (e2 - s) * h2 * w2 > budget:
                break
            e, hh, ww = e2, h2, w2
        win_h, win_w = hh, ww
        wy, iy = _axis_weights(y0[s:e], bh[s:e], ph, H, win_h, fy[s:e])  # (k, ph, win_h)
        wx, ix = _axis_weights(x0[s:e], bw[s:e], pw, W, win_w, fx[s:e])  # (k, pw, win_w)
        idx = (bidx[s:e, None, None] * H + iy[:, :, None]) * W + ix[:, None, :]  # (k, win_h, win_w)
        win = table.index_select(0, idx.reshape(-1)).reshape(e - s, win_h, win_w * C)
        a = area[s:e]
        scale_k = torch.where(a > 0, 1.0 / torch.where(a > 0, a, torch.ones_like(a)), torch.zeros_like(a))
        wy = (wy * scale_k[:, None, None]).to(features.dtype)
        wx = wx.to(features.dtype)
        t = torch.bmm(wy, win).reshape(e - s, ph, win_w, C)  # rows contracted: (k, ph, win_w, C)
        t = t.permute(0, 1, 3, 2).reshape(e - s, ph * C, win_w)
        o = torch.bmm(t, wx.transpose(1, 2)).reshape(e - s, ph, C, pw)  # (k, ph, C, pw)
        outs.append(o.permute(0, 2, 1, 3))
        s = e
    return torch.cat(outs, 0).contiguous()


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


def _resolve_backend(backend: Optional[str], device: torch.device, needs_grad: bool = False) -> str:
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
    if needs_grad:
        return "pure"  # measured: the pure backward is faster than the compiled one (scripts/bench_ops.py)
    return "compiled" if compiled_backend() is not None else "pure"


def prroi_pool2d(features: torch.Tensor, rois: torch.Tensor, pooled_height: int, pooled_width: int,
                 spatial_scale: float, backend: Optional[str] = None) -> torch.Tensor:
    """Precise RoI pooling: (B,C,H,W) features, (K,5) rois -> (K, C, pooled_height, pooled_width)."""
    _check_inputs(features, rois, int(pooled_height), int(pooled_width))
    needs_grad = torch.is_grad_enabled() and (features.requires_grad or rois.requires_grad)
    if _resolve_backend(backend, features.device, needs_grad) == "compiled" and features.dtype in (torch.float32, torch.float64):
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
