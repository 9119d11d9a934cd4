"""Mixed-precision training on CUDA (float16) and on CPUs with native bfloat16 (AVX512-BF16 / AMX).

Why: on the 2-core CPUs this project trains its small models on, bfloat16 autocast runs the convolutions
1.4-1.6x faster (oneDNN's bf16 kernels), which buys that many more training samples in a fixed time budget.

Only the network's ``forward`` runs under autocast and its floating-point outputs come back as float32, so
every loss (IoU, BCE, log-softmax) and every label computation stays in float32 whatever the actor does, and
sub-modules the actor calls directly (e.g. an online optimiser) are left in float32. Parameters and
gradients stay float32 (autocast casts copies), so bfloat16 needs no loss scaling; float16 uses the
trainer's ``GradScaler``.
"""
from __future__ import annotations

import functools
import warnings
from typing import Any, Optional

import torch
from torch import nn

__all__ = ["cpu_bf16_supported", "resolve_amp_dtype", "wrap_forward", "to_float32"]


def cpu_bf16_supported() -> bool:
    """True when oneDNN has native bfloat16 kernels on this CPU (otherwise bf16 autocast is slower than float32)."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # very old or stripped builds
        return False


def resolve_amp_dtype(amp: bool, amp_dtype: str, device: torch.device) -> Optional[torch.dtype]:
    """The autocast dtype for ``train.amp``/``train.amp_dtype`` on ``device``; None = train in float32.

    ``auto`` is float16 on CUDA and bfloat16 on CPU. A CPU without native bfloat16 trains in float32 with
    a warning (emulated bf16 would be several times slower); float16 autocast on CPU is refused for the
    same reason.
    """
    if not amp:
        return None
    kind = device.type
    if amp_dtype not in ("auto", "float16", "bfloat16"):
        raise ValueError(f"train.amp_dtype must be 'auto', 'float16' or 'bfloat16', got '{amp_dtype}'")
    if kind == "cuda":
        if amp_dtype == "bfloat16" and not torch.cuda.is_bf16_supported():
            raise ValueError("train.amp_dtype: bfloat16 is not supported by this GPU; use float16 or auto")
        return torch.bfloat16 if amp_dtype == "bfloat16" else torch.float16
    if kind == "cpu":
        if amp_dtype == "float16":
            raise ValueError("train.amp_dtype: float16 autocast is not used on CPU (no fast kernels); use bfloat16 or auto")
        if not cpu_bf16_supported():
            warnings.warn("train.amp: this CPU has no native bfloat16 support (AVX512-BF16/AMX); training in float32")
            return None
        return torch.bfloat16
    warnings.warn(f"train.amp is not used on device type '{kind}'; training in float32")
    return None


def to_float32(x: Any) -> Any:
    """Cast every reduced-precision floating tensor in a (nested) output to float32."""
    if isinstance(x, torch.Tensor):
        return x.float() if x.is_floating_point() and x.dtype != torch.float32 and x.dtype != torch.float64 else x
    if isinstance(x, dict):
        return type(x)((k, to_float32(v)) for k, v in x.items())
    if isinstance(x, tuple) and hasattr(x, "_fields"):  # namedtuple
        return type(x)(*(to_float32(v) for v in x))
    if isinstance(x, (list, tuple)):
        return type(x)(to_float32(v) for v in x)
    return x


def _channels_last(x: Any) -> Any:
    if isinstance(x, torch.Tensor) and x.dim() == 4 and x.is_floating_point():
        return x.contiguous(memory_format=torch.channels_last)
    return x


def wrap_forward(net: nn.Module, device_type: str, dtype: Optional[torch.dtype],
                     channels_last: bool = False) -> nn.Module:
    """Make ``net(...)`` run under autocast (``dtype`` None: no autocast) and return float32 outputs, and
    optionally run it in channels-last memory format (parameters and 4-D inputs); in place, returns ``net``.

    Channels-last lets oneDNN skip its layout reorders (another 1.15-1.4x for the tiny models on CPU).
    Idempotent: wrapping again replaces the previous wrapper. The state dict keys and values are unchanged.
    """
    if getattr(net, "_sotlab_autocast", None) is not None:
        net.forward = net._sotlab_autocast_orig  # type: ignore[assignment]
    orig = net.forward
    if channels_last:
        net.to(memory_format=torch.channels_last)

    @functools.wraps(orig)
    def forward(*args: Any, **kwargs: Any) -> Any:
        if channels_last:
            args = tuple(_channels_last(a) for a in args)
            kwargs = {k: _channels_last(v) for k, v in kwargs.items()}
        if dtype is None:
            return orig(*args, **kwargs)
        with torch.autocast(device_type=device_type, dtype=dtype):
            out = orig(*args, **kwargs)
        return to_float32(out)

    net._sotlab_autocast_orig = orig  # type: ignore[attr-defined]
    net._sotlab_autocast = (device_type, dtype, channels_last)  # type: ignore[attr-defined]
    net.forward = forward  # type: ignore[assignment]
    return net
