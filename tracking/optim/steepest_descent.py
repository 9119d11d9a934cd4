"""Steepest descent with a Gauss-Newton step length (DiMP-style), differentiable end to end.

Objective, for filter ``f`` and a residual function ``r`` supplied by the caller (sample weights √w,
spatial weights, the DiMP hinge-like φ_m, ... are all baked into ``r``)::

    L(f) = ½‖r(f)‖² + ½λ²‖f‖²

One iteration (fcot.md §3.1/§3.2, ocean.md §3.1)::

    g = Jᵀr + λ²f                       (J = ∂r/∂f at the current f; computed with autograd)
    α = ‖g‖² / max(‖J g‖² + λ²‖g‖², 1e-8)   (the exact line-search minimiser of the quadratic model)
    f ← f − e^ℓ·α·g

``ℓ`` (``log_step_length``) and ``filter_reg`` (λ, with λ² clamped to ≥ ``min_filter_reg``²) are
nn.Parameters so the unrolled optimiser can be trained (DiMP/FCOT/Ocean-online). When autograd is
enabled at call time the whole unroll stays in the graph; under ``torch.no_grad()`` (tracking) it runs
with local gradients only and returns detached results.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, List, Optional

import torch
import torch.nn as nn

__all__ = ["SteepestDescentGN", "SDResult"]


@dataclass
class SDResult:
    """Final filter, the iterates (including the start) and, if requested, the objective at each iterate."""

    filter: torch.Tensor
    iterates: List[torch.Tensor] = field(default_factory=list)
    losses: List[torch.Tensor] = field(default_factory=list)


class SteepestDescentGN(nn.Module):
    """Unrolled steepest descent with Gauss-Newton step length.

    Args:
        num_iter: default number of iterations.
        init_step_length: e^ℓ at start (DiMP 1.0, FCOT-cls/Ocean 0.9).
        init_filter_reg: λ at start (0.1 in DiMP/FCOT/Ocean).
        min_filter_reg: lower bound of λ (λ² ≥ min²; 1e-3 in DiMP).
        learn_step_length, learn_filter_reg: make ℓ / λ trainable parameters (else buffers).
        detach_length: detach the filter every ``detach_length`` iterations (truncated back-propagation).
    """

    def __init__(self, num_iter: int = 5, init_step_length: float = 1.0, init_filter_reg: float = 0.1,
                 min_filter_reg: float = 1e-3, learn_step_length: bool = True, learn_filter_reg: bool = True,
                 detach_length: float = math.inf) -> None:
        super().__init__()
        if init_step_length <= 0:
            raise ValueError(f"SteepestDescentGN: init_step_length must be > 0, got {init_step_length}")
        self.num_iter = num_iter
        self.min_filter_reg = min_filter_reg
        self.detach_length = detach_length
        ls = torch.tensor(math.log(init_step_length))
        fr = torch.tensor(float(init_filter_reg))
        if learn_step_length:
            self.log_step_length = nn.Parameter(ls)
        else:
            self.register_buffer("log_step_length", ls)
        if learn_filter_reg:
            self.filter_reg = nn.Parameter(fr)
        else:
            self.register_buffer("filter_reg", fr)

    def reg_weight(self) -> torch.Tensor:
        """λ², clamped below at ``min_filter_reg``²."""
        return (self.filter_reg * self.filter_reg).clamp(min=self.min_filter_reg ** 2)

    @staticmethod
    def _sum_per_seq(t: torch.Tensor, seq_dim: Optional[int]) -> torch.Tensor:
        if seq_dim is None:
            return t.sum()
        dims = [d for d in range(t.dim()) if d != seq_dim % t.dim()]
        return t.sum(dim=dims) if dims else t

    def objective(self, f: torch.Tensor, residual_fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """L(f) = ½‖r(f)‖² + ½λ²‖f‖² (summed over everything)."""
        r = residual_fn(f)
        return 0.5 * (r * r).sum() + 0.5 * self.reg_weight() * (f * f).sum()

    def forward(
        self,
        f: torch.Tensor,
        residual_fn: Callable[[torch.Tensor], torch.Tensor],
        num_iter: Optional[int] = None,
        step_residual_fn: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
        residual_seq_dim: Optional[int] = None,
        compute_losses: bool = False,
    ) -> SDResult:
        """Run the iterations from ``f``.

        Args:
            f: initial filter; with ``residual_seq_dim`` set, dim 0 indexes independent sequences, each
                with its own step length α (DiMP's per-sequence α).
            residual_fn: f -> residual tensor r(f).
            step_residual_fn: optional g -> "J g" used only in α's denominator (FCOT's regression optimiser
                uses an unmasked version, fcot.md §3.2); default: the exact J g by double back-propagation.
            residual_seq_dim: dimension of r that indexes the sequences (DiMP scores: 1); None = one α.
        """
        n_iter = self.num_iter if num_iter is None else num_iter
        create_graph = torch.is_grad_enabled()
        reg = self.reg_weight()
        step = torch.exp(self.log_step_length)
        if not create_graph:
            reg, step = reg.detach(), step.detach()
        iterates = [f]
        losses: List[torch.Tensor] = []
        with torch.enable_grad():
            for i in range(n_iter):
                if i > 0 and i % self.detach_length == 0:
                    f = f.detach()
                if not f.requires_grad:
                    f = f.detach().requires_grad_(True)
                r = residual_fn(f)
                if compute_losses:
                    losses.append(0.5 * (r * r).sum() + 0.5 * reg * (f * f).sum())
                # g = Jᵀ r + λ² f
                jt_r = torch.autograd.grad(r, f, r, create_graph=True)[0]
                g = jt_r + reg * f
                if step_residual_fn is not None:
                    jg = step_residual_fn(g)
                else:
                    # J g by the double-backward trick: d/du (Jᵀu)·g = J g, exact for any residual.
                    u = torch.zeros_like(r, requires_grad=True)
                    jt_u = torch.autograd.grad(r, f, u, create_graph=True)[0]
                    jg = torch.autograd.grad(jt_u, u, g, create_graph=create_graph)[0]
                if not create_graph:
                    g, jg = g.detach(), jg.detach()
                num = self._sum_per_seq(g * g, 0 if residual_seq_dim is not None else None)
                den = self._sum_per_seq(jg * jg, residual_seq_dim) + reg * num
                alpha = num / den.clamp(min=1e-8)
                if residual_seq_dim is not None:
                    alpha = alpha.reshape(-1, *([1] * (f.dim() - 1)))
                f = f - step * alpha * g
                if not create_graph:
                    f = f.detach()
                iterates.append(f)
            if compute_losses:
                f_last = f if f.requires_grad else f.detach().requires_grad_(True)
                r = residual_fn(f_last)
                losses.append(0.5 * (r * r).sum() + 0.5 * reg * (f_last * f_last).sum())
        if not create_graph:
            f = f.detach()
            iterates = [t.detach() for t in iterates]
            losses = [t.detach() for t in losses]
        return SDResult(f, iterates, losses)
