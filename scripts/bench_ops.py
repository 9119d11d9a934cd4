#!/usr/bin/env python
"""Benchmark SOTLab's shared ops: forward and backward time of each implementation vs a naive reference.

Usage::

    python scripts/bench_ops.py [--threads 1] [--reps 5] [--device cpu] [--only prroi,corr,...]

Rows (tracker-sized inputs):
  * correlations (SiamCAR/Ocean 25×25 maps): batched implementation vs a Python loop over the samples;
  * deformable conv (Ocean align head): the pure grid_sample + matmul backend vs torchvision's kernel;
  * PrRoIPool (DCFST: 961 RoIs): pure vs compiled backend, with torchvision ``roi_align`` (an approximation)
    for scale;
  * ridge solver (DCFST: 962×1024): custom implicit backward vs autograd through ``torch.linalg.solve``.
Times are the median of ``--reps`` runs after one warm-up, in milliseconds.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ltr.models.layers.correlation import xcorr_depthwise, xcorr_naive, xcorr_pixelwise, xcorr_up  # noqa: E402
from ltr.models.layers.ridge import ridge_regression  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_fwd_bwd(fn: Callable[[], torch.Tensor], inputs: Sequence[torch.Tensor], reps: int,
                 device: torch.device) -> Tuple[float, float]:
    """Median forward and backward time (ms); backward of sum(output) w.r.t. ``inputs``."""
    fwd, bwd = [], []
    for i in range(reps + 1):
        for t in inputs:
            t.grad = None
        _sync(device)
        t0 = time.perf_counter()
        out = fn()
        _sync(device)
        t1 = time.perf_counter()
        out.sum().backward()
        _sync(device)
        t2 = time.perf_counter()
        if i > 0:
            fwd.append(1e3 * (t1 - t0))
            bwd.append(1e3 * (t2 - t1))
    return statistics.median(fwd), statistics.median(bwd)


# ----------------------------------------------------------------------------------------- references

def _loop_depthwise(x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return torch.cat([F.conv2d(x[b:b + 1], z[b].unsqueeze(1), groups=x.shape[1]) for b in range(x.shape[0])])


def _loop_naive(x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return torch.cat([F.conv2d(x[b:b + 1], z[b:b + 1]) for b in range(x.shape[0])])


def _loop_up(x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    c = x.shape[1]
    return torch.cat([F.conv2d(x[b:b + 1], z[b].reshape(-1, c, *z.shape[-2:])) for b in range(x.shape[0])])


def _loop_pixelwise(x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return torch.stack([F.conv2d(x[b:b + 1], z[b].flatten(1).t()[:, :, None, None])[0] for b in range(x.shape[0])])


def _ridge_autograd(X: torch.Tensor, y: torch.Tensor, lam: float) -> torch.Tensor:
    A = X.transpose(-1, -2) @ X + lam * torch.eye(X.shape[-1], dtype=X.dtype, device=X.device)
    return torch.linalg.solve(A, X.transpose(-1, -2) @ y.unsqueeze(-1)).squeeze(-1)


def _dcfst_rois(n: int, device: torch.device) -> torch.Tensor:
    c = torch.linspace(28.8, 259.2, n, device=device)
    cy, cx = torch.meshgrid(c, c, indexing="ij")
    w, h = 60.0, 45.0
    z = torch.zeros(n * n, device=device)
    return torch.stack([z, cx.flatten() - w / 2, cy.flatten() - h / 2, cx.flatten() + w / 2, cy.flatten() + h / 2], 1)


# ---------------------------------------------------------------------------------------------- main

def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--only", default="", help="comma list of groups: corr,deform,prroi,ridge")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    groups = set(args.only.split(",")) if args.only else {"corr", "deform", "prroi", "ridge"}
    g = torch.Generator(device="cpu").manual_seed(0)

    def rnd(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g).to(dev).requires_grad_()

    rows: List[Tuple[str, str, str, float, float]] = []

    def add(op: str, size: str, impl: str, fn: Callable[[], torch.Tensor], inputs: Sequence[torch.Tensor], reps: int = args.reps) -> None:
        f, b = time_fwd_bwd(fn, inputs, reps, dev)
        rows.append((op, size, impl, f, b))
        print(f"  {op:<22} {impl:<28} fwd {f:9.2f} ms  bwd {b:9.2f} ms", file=sys.stderr)

    if "corr" in groups:
        B = 8
        x, z = rnd(B, 256, 31, 31), rnd(B, 256, 7, 7)
        size = f"B{B} 256x31² * 256x7²"
        add("xcorr_depthwise", size, "grouped conv", lambda: xcorr_depthwise(x, z), (x, z))
        add("xcorr_depthwise", size, "loop reference", lambda: _loop_depthwise(x, z), (x, z))
        add("xcorr_naive", size, "depth-wise + channel sum", lambda: xcorr_naive(x, z), (x, z))
        add("xcorr_naive", size, "loop reference", lambda: _loop_naive(x, z), (x, z))
        xu, zu = rnd(B, 256, 22, 22), rnd(B, 2560, 4, 4)
        size_u = f"B{B} 256x22² * (10·256)x4²"
        add("xcorr_up", size_u, "grouped conv", lambda: xcorr_up(xu, zu), (xu, zu))
        add("xcorr_up", size_u, "loop reference", lambda: _loop_up(xu, zu), (xu, zu))
        xp, zp = rnd(B, 256, 31, 31), rnd(B, 256, 7, 7)
        add("xcorr_pixelwise", size, "bmm", lambda: xcorr_pixelwise(xp, zp), (xp, zp))
        add("xcorr_pixelwise", size, "loop reference", lambda: _loop_pixelwise(xp, zp), (xp, zp))

    if "deform" in groups:
        from torchvision.ops import deform_conv2d

        from ops.deform_conv import deform_conv2d_pure

        B = 2
        x = rnd(B, 256, 25, 25)
        off = (torch.rand(B, 18, 25, 25, generator=g) * 4 - 2).to(dev).requires_grad_()
        w = (0.02 * torch.randn(256, 256, 3, 3, generator=g)).to(dev).requires_grad_()
        size = f"B{B} 256x25², 3x3"
        add("deform_conv (v1)", size, "pure (grid_sample+matmul)", lambda: deform_conv2d_pure(x, off, w, padding=1), (x, off, w))
        add("deform_conv (v1)", size, "torchvision kernel", lambda: deform_conv2d(x, off, w, padding=1), (x, off, w))

    if "prroi" in groups:
        from ops import prroi_pool as prp
        from torchvision.ops import roi_align

        compiled = dev.type == "cpu" and prp.compiled_available()
        for C, S, P, scale in ((128, 36, 8, 1 / 8), (256, 18, 4, 1 / 16)):
            feat = rnd(1, C, S, S)
            rois = _dcfst_rois(31, dev)
            size = f"961 RoIs {C}x{S}² -> {P}x{P}"
            add("prroi_pool", size, "pure (separable, windowed)",
                lambda: prp.prroi_pool2d(feat, rois, P, P, scale, backend="pure"), (feat,))
            if compiled:
                add("prroi_pool", size, "compiled (C++ JIT)",
                    lambda: prp.prroi_pool2d(feat, rois, P, P, scale, backend="compiled"), (feat,))
            else:
                print(f"  compiled PrRoIPool unavailable: {prp.compiled_error()}", file=sys.stderr)
            add("prroi_pool", size, "torchvision roi_align (approx.)",
                lambda: roi_align(feat, rois, (P, P), scale, sampling_ratio=2, aligned=False), (feat,))
        # box gradients as well (IoU-Net style refinement)
        feat = rnd(1, 256, 18, 18)
        rois = _dcfst_rois(3, dev)
        coords = rois[:, 1:].clone().requires_grad_()
        size = "9 RoIs 256x18² -> 5x5, +box grad"
        add("prroi_pool", size, "pure (separable, windowed)",
            lambda: prp.prroi_pool2d(feat, torch.cat([rois[:, :1], coords], 1), 5, 5, 1 / 16, backend="pure"), (feat, coords))
        if compiled:
            add("prroi_pool", size, "compiled (C++ JIT)",
                lambda: prp.prroi_pool2d(feat, torch.cat([rois[:, :1], coords], 1), 5, 5, 1 / 16, backend="compiled"), (feat, coords))

    if "ridge" in groups:
        B, N, D = 4, 962, 1024
        X, y = rnd(B, N, D), rnd(B, N)
        size = f"B{B} N{N} D{D}"
        add("ridge (primal)", size, "Cholesky + implicit bwd", lambda: ridge_regression(X, y, 0.1, form="primal"), (X, y), reps=3)
        add("ridge (dual)", size, "Cholesky + implicit bwd", lambda: ridge_regression(X, y, 0.1, form="dual"), (X, y), reps=3)
        add("ridge", size, "autograd thru linalg.solve", lambda: _ridge_autograd(X, y, 0.1), (X, y), reps=3)

    dev_name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"cpu, {torch.get_num_threads()} thread(s)"
    print(f"\nSOTLab ops benchmark ({dev_name}, torch {torch.__version__}, median of {args.reps})\n")
    print(f"| {'op':<18} | {'size':<34} | {'implementation':<31} | {'fwd ms':>9} | {'bwd ms':>9} |")
    print(f"|{'-' * 20}|{'-' * 36}|{'-' * 33}|{'-' * 11}|{'-' * 11}|")
    for op, size, impl, f, b in rows:
        print(f"| {op:<18} | {size:<34} | {impl:<31} | {f:9.2f} | {b:9.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
