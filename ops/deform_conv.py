"""Deformable convolution v1 / modulated v2 without a compile step.

Two interchangeable backends: ``torchvision.ops.deform_conv2d`` and :func:`deform_conv2d_pure`
(grid_sample + matmul, faster on CPU); modules take ``backend="auto"|"torchvision"|"pure"``, auto = pure
on CPU and torchvision on other devices.

Offset layout (shared by torchvision, mmcv-v1/mmdet-v1 and CharlesShang's DCNv2):

* ``offset``: ``(B, 2·G·kh·kw, Ho, Wo)`` with G offset groups. For group g and tap k = i·kw + j
  (row-major over the kernel, i = row), channel ``2·(g·kh·kw + k)`` is Δy and ``2·(g·kh·kw + k) + 1`` is Δx,
  in input-feature pixels, added to the regular sampling position
  ``(y_out·stride − pad + i·dil, x_out·stride − pad + j·dil)``.
* ``mask`` (v2 only): ``(B, G·kh·kw, Ho, Wo)``, channel ``g·kh·kw + k``, multiplies the sampled value.
* Out-of-map samples read zero (bilinear with zero padding).

Modules:

* :class:`DeformConv2d` – v1, offsets given by the caller (Ocean's align head, offsets from the box).
* :class:`ModulatedDeformConv2d` – v2, offsets and mask given by the caller.
* :class:`DeformConv2dPack` / :class:`ModulatedDeformConv2dPack` – predict their own offsets (and
  mask) with a conv of the same geometry; the v2 pack follows DCNv2's ``DCN``: ``conv_offset_mask``
  outputs 3·kh·kw channels, the first 2·kh·kw are the offsets as-is, the rest go through a sigmoid
  (FCOT's cls-72 and regression heads, fcot.md §2.4/§2.6). Offset convs start at zero (regular conv).

Ocean helper: :func:`ocean_box_offsets` turns the regression map (l, t, r, b) into the 18 offsets of
the object-aware 3×3 deformable conv exactly as ocean.md §2.5.
"""
from __future__ import annotations

import math
from typing import Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.ops import deform_conv2d as _tv_deform_conv2d

__all__ = [
    "deform_conv2d",
    "deform_conv2d_pure",
    "DeformConv2d",
    "ModulatedDeformConv2d",
    "DeformConv2dPack",
    "ModulatedDeformConv2dPack",
    "ocean_grid",
    "ocean_box_offsets",
    "ocean_sample_points",
]

IntPair = Union[int, Tuple[int, int]]


_BACKENDS = ("auto", "torchvision", "pure")


def _pair(v: IntPair) -> Tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def deform_conv2d_pure(x: torch.Tensor, offset: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None,
                       stride: IntPair = 1, padding: IntPair = 0, dilation: IntPair = 1,
                       mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Deformable conv (v1, or v2 with ``mask``) from ``grid_sample`` + one grouped matrix product.

    Same semantics and offset layout as ``torchvision.ops.deform_conv2d`` (bilinear, zero outside the map;
    conv groups from ``weight``, offset groups from ``offset``). On CPU it is ~2x faster forward and
    ~5x faster backward than torchvision's kernel (scripts/bench_ops.py); memory is one im2col buffer
    of B·C·kh·kw·Ho·Wo values.
    """
    B, C, H, W = x.shape
    O, Cg, kh, kw = weight.shape
    if C % Cg:
        raise ValueError(f"deform_conv2d_pure: input channels {C} not divisible by weight in-channels {Cg}")
    groups = C // Cg
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    dh, dw = _pair(dilation)
    Ho = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    Wo = (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    K = kh * kw
    if offset.shape[1] % (2 * K) or offset.shape[-2:] != (Ho, Wo) or offset.shape[0] != B:
        raise ValueError(f"deform_conv2d_pure: offset {tuple(offset.shape)} must be (B={B}, 2·G·{K}, {Ho}, {Wo})")
    G = offset.shape[1] // (2 * K)
    if C % G:
        raise ValueError(f"deform_conv2d_pure: input channels {C} not divisible by offset groups {G}")
    dt, dev = x.dtype, x.device
    off = offset.reshape(B, G, K, 2, Ho, Wo)
    ki = (torch.arange(kh, device=dev, dtype=dt) * dh).repeat_interleave(kw).reshape(1, 1, K, 1, 1)
    kj = (torch.arange(kw, device=dev, dtype=dt) * dw).repeat(kh).reshape(1, 1, K, 1, 1)
    by = (torch.arange(Ho, device=dev, dtype=dt) * sh - ph).reshape(1, 1, 1, Ho, 1)
    bx = (torch.arange(Wo, device=dev, dtype=dt) * sw - pw).reshape(1, 1, 1, 1, Wo)
    py = by + ki + off[:, :, :, 0]
    px = bx + kj + off[:, :, :, 1]
    # pixel -> normalised coordinates for align_corners=False (valid for any map size, even 1)
    grid = torch.stack([(2 * px + 1) / W - 1, (2 * py + 1) / H - 1], dim=-1)  # (B, G, K, Ho, Wo, 2)
    grid = grid.reshape(B * G, K * Ho, Wo, 2)
    sampled = F.grid_sample(x.reshape(B * G, C // G, H, W), grid, mode="bilinear", padding_mode="zeros",
                            align_corners=False)  # (B*G, C/G, K*Ho, Wo)
    sampled = sampled.reshape(B, G, C // G, K, Ho, Wo)
    if mask is not None:
        if mask.shape != (B, G * K, Ho, Wo):
            raise ValueError(f"deform_conv2d_pure: mask {tuple(mask.shape)} must be ({B}, {G * K}, {Ho}, {Wo})")
        sampled = sampled * mask.reshape(B, G, 1, K, Ho, Wo)
    col = sampled.reshape(B, groups, Cg * K, Ho * Wo)
    out = torch.einsum("bgkl,gok->bgol", col, weight.reshape(groups, O // groups, Cg * K)).reshape(B, O, Ho, Wo)
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1)
    return out


def deform_conv2d(x: torch.Tensor, offset: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None,
                  stride: IntPair = 1, padding: IntPair = 0, dilation: IntPair = 1, mask: Optional[torch.Tensor] = None,
                  backend: str = "auto") -> torch.Tensor:
    """Deformable conv with a backend switch: ``auto`` = pure on CPU (faster there), torchvision elsewhere."""
    if backend not in _BACKENDS:
        raise ValueError(f"deform_conv2d: backend must be one of {_BACKENDS}, got {backend!r}")
    if backend == "pure" or (backend == "auto" and x.device.type == "cpu"):
        return deform_conv2d_pure(x, offset, weight, bias, stride, padding, dilation, mask)
    return _tv_deform_conv2d(x, offset, weight, bias, stride=stride, padding=padding, dilation=dilation, mask=mask)


class DeformConv2d(nn.Module):
    """Deformable convolution v1: ``forward(x, offset)`` (layout in the module docstring).

    Weight init is U(±1/√fan_in) (mmcv/TracKit DeformConv; Ocean: ±1/√2304 for 256 channels, 3×3).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntPair = 3, stride: IntPair = 1,
                 padding: IntPair = 0, dilation: IntPair = 1, groups: int = 1, offset_groups: int = 1,
                 bias: bool = False, backend: str = "auto") -> None:
        super().__init__()
        if backend not in _BACKENDS:
            raise ValueError(f"{type(self).__name__}: backend must be one of {_BACKENDS}, got {backend!r}")
        self.backend = backend
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{type(self).__name__}: channels ({in_channels}, {out_channels}) not divisible by groups={groups}")
        if in_channels % offset_groups:
            raise ValueError(f"{type(self).__name__}: in_channels {in_channels} not divisible by offset_groups={offset_groups}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride, self.padding, self.dilation = _pair(stride), _pair(padding), _pair(dilation)
        self.groups, self.offset_groups = groups, offset_groups
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, *self.kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.reset_parameters()

    @property
    def num_taps(self) -> int:
        return self.kernel_size[0] * self.kernel_size[1]

    def reset_parameters(self) -> None:
        fan_in = self.weight.shape[1] * self.num_taps
        bound = 1.0 / math.sqrt(fan_in)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def _check(self, x: torch.Tensor, offset: torch.Tensor, mask: Optional[torch.Tensor]) -> None:
        n = self.offset_groups * self.num_taps
        if offset.dim() != 4 or offset.shape[1] != 2 * n or offset.shape[0] != x.shape[0]:
            raise ValueError(f"{type(self).__name__}: offset must be (B={x.shape[0]}, {2 * n}, Ho, Wo), got {tuple(offset.shape)}")
        if mask is not None and (mask.dim() != 4 or mask.shape[1] != n or mask.shape[0] != x.shape[0]):
            raise ValueError(f"{type(self).__name__}: mask must be (B={x.shape[0]}, {n}, Ho, Wo), got {tuple(mask.shape)}")

    def _deform(self, x: torch.Tensor, offset: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
        self._check(x, offset, mask)
        return deform_conv2d(x, offset, self.weight, self.bias, stride=self.stride, padding=self.padding,
                             dilation=self.dilation, mask=mask, backend=self.backend)

    def forward(self, x: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
        return self._deform(x, offset, None)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, groups={self.groups}, "
                f"offset_groups={self.offset_groups}, bias={self.bias is not None}")


class ModulatedDeformConv2d(DeformConv2d):
    """Modulated deformable convolution v2: ``forward(x, offset, mask)`` (mask already in [0, 1])."""

    def forward(self, x: torch.Tensor, offset: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return self._deform(x, offset, mask)


class DeformConv2dPack(DeformConv2d):
    """DCNv1 that predicts its offsets with ``conv_offset`` (same kernel/stride/padding/dilation)."""

    def __init__(self, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self.conv_offset = nn.Conv2d(self.in_channels, 2 * self.offset_groups * self.num_taps, self.kernel_size,
                                     stride=self.stride, padding=self.padding, dilation=self.dilation, bias=True)
        nn.init.zeros_(self.conv_offset.weight)
        nn.init.zeros_(self.conv_offset.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return self._deform(x, self.conv_offset(x), None)


class ModulatedDeformConv2dPack(DeformConv2d):
    """DCNv2 that predicts offsets and mask with ``conv_offset_mask`` (3·kh·kw channels, DCNv2 ``DCN``).

    With the zero init the offsets are 0 and the mask 0.5 everywhere, i.e. half a regular conv.
    """

    def __init__(self, *args, bias: bool = True, **kw) -> None:
        super().__init__(*args, bias=bias, **kw)
        self.conv_offset_mask = nn.Conv2d(self.in_channels, 3 * self.offset_groups * self.num_taps, self.kernel_size,
                                          stride=self.stride, padding=self.padding, dilation=self.dilation, bias=True)
        nn.init.zeros_(self.conv_offset_mask.weight)
        nn.init.zeros_(self.conv_offset_mask.bias)

    def offset_and_mask(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        out = self.conv_offset_mask(x)
        n = self.offset_groups * self.num_taps
        return out[:, : 2 * n], torch.sigmoid(out[:, 2 * n:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        offset, mask = self.offset_and_mask(x)
        return self._deform(x, offset, mask)


# ------------------------------------------------------------------------------------------------ Ocean

def ocean_grid(score_size: int, search_size: int = 255, stride: int = 8,
               device: Optional[torch.device] = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Search-crop pixel coordinate of score cell j: ``stride·(j − ⌊S/2⌋) + ⌊X/2⌋`` (ocean.md §2.5)."""
    j = torch.arange(score_size, device=device, dtype=dtype)
    return stride * (j - score_size // 2) + search_size // 2


def _ocean_box_geometry(reg: torch.Tensor, search_size: int, stride: int):
    if reg.dim() != 4 or reg.shape[1] != 4:
        raise ValueError(f"ocean_box_offsets: reg must be (B, 4, S, S) with (l, t, r, b), got {tuple(reg.shape)}")
    h, w = reg.shape[-2:]
    gy = ocean_grid(h, search_size, stride, reg.device, reg.dtype).view(1, h, 1)
    gx = ocean_grid(w, search_size, stride, reg.device, reg.dtype).view(1, 1, w)
    l, t, r, b = reg.unbind(1)
    x1, y1, x2, y2 = gx - l, gy - t, gx + r, gy + b
    half = search_size / 2.0  # X/2 (127.5), not floor: a fidelity quirk of TracKit
    cx = ((x1 + x2) / 2 - half) / stride + w // 2
    cy = ((y1 + y2) / 2 - half) / stride + h // 2
    wf = (x2 - x1 + 1) / stride
    hf = (y2 - y1 + 1) / stride
    return cx, cy, wf, hf


def ocean_box_offsets(reg: torch.Tensor, search_size: int = 255, stride: int = 8) -> torch.Tensor:
    """Offsets (B, 18, S, S) for Ocean's object-aware 3×3 deformable conv (padding 1) from (l, t, r, b).

    Tap k = 3(u+1) + (v+1), u = row offset, v = column offset in {−1, 0, 1}:
    ``Δy_k = (c_y − i) + u·(h_f/2 − 1)``, ``Δx_k = (c_x − j) + v·(w_f/2 − 1)``, channels
    ``[Δy_0, Δx_0, …, Δy_8, Δx_8]`` so the taps land on ``(c_y + u·h_f/2, c_x + v·w_f/2)``: a 3×3 lattice
    spanning the predicted box. Differentiable in ``reg`` (Ocean does not detach it).
    """
    cx, cy, wf, hf = _ocean_box_geometry(reg, search_size, stride)
    h, w = reg.shape[-2:]
    i = torch.arange(h, device=reg.device, dtype=reg.dtype).view(1, h, 1)
    j = torch.arange(w, device=reg.device, dtype=reg.dtype).view(1, 1, w)
    dy0, dx0 = cy - i, cx - j
    sy, sx = hf / 2 - 1, wf / 2 - 1
    uv = torch.tensor([-1.0, 0.0, 1.0], device=reg.device, dtype=reg.dtype)
    u = uv.view(3, 1).expand(3, 3).reshape(9).view(1, 9, 1, 1)  # row offset per tap
    v = uv.view(1, 3).expand(3, 3).reshape(9).view(1, 9, 1, 1)  # column offset per tap
    dy = dy0.unsqueeze(1) + u * sy.unsqueeze(1)
    dx = dx0.unsqueeze(1) + v * sx.unsqueeze(1)
    return torch.stack([dy, dx], dim=2).reshape(reg.shape[0], 18, h, w)


def ocean_sample_points(reg: torch.Tensor, search_size: int = 255, stride: int = 8) -> torch.Tensor:
    """Absolute feature-map sample positions (B, 9, 2=(y, x), S, S) that :func:`ocean_box_offsets` encodes."""
    cx, cy, wf, hf = _ocean_box_geometry(reg, search_size, stride)
    uv = torch.tensor([-1.0, 0.0, 1.0], device=reg.device, dtype=reg.dtype)
    u = uv.view(3, 1).expand(3, 3).reshape(1, 9, 1, 1)
    v = uv.view(1, 3).expand(3, 3).reshape(1, 9, 1, 1)
    y = cy.unsqueeze(1) + u * hf.unsqueeze(1) / 2
    x = cx.unsqueeze(1) + v * wf.unsqueeze(1) / 2
    return torch.stack([y, x], dim=2)
