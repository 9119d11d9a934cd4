"""Differentiable closed-form ridge regression (DCFST, dcfst.md §3).

    w = argmin ‖X w − y‖² + λ‖w‖²
      = (XᵀX + λI_D)⁻¹ Xᵀ y          primal, D×D system
      = Xᵀ (XXᵀ + λI_N)⁻¹ y          dual / Woodbury, N×N system

``form="auto"`` picks the dual when D > N (the paper's rule), the primal otherwise; DCFST's official code
always used the primal. Both factor the SPD system with Cholesky (LU fallback if Cholesky fails in low
precision). The backward is implicit differentiation (one extra solve with the same factor) instead of
back-propagating through the factorisation. With v = A⁻¹g (primal), r = y − Xw:

    ∂L/∂X = r vᵀ − (X v) wᵀ,   ∂L/∂y = X v,   ∂L/∂λ = −⟨v, w⟩

and in the dual form with α = K⁻¹y, u = K⁻¹(X g): ∂L/∂X = α (g − Xᵀu)ᵀ − u wᵀ, ∂L/∂y = u
(λα = r, Xv = u, λv = g − Xᵀu link the two).

Shapes: X (..., N, D); y (..., N) or (..., N, M); w (..., D) or (..., D, M). λ is a float or a scalar
tensor (differentiable). Batched inputs give exactly the per-sample results.
"""
from __future__ import annotations

from typing import Optional, Tuple, Union

import torch
import torch.nn as nn
from torch.autograd.function import once_differentiable

__all__ = ["ridge_regression", "RidgeRegression", "gauss_seidel"]

_FORMS = ("auto", "primal", "dual")


def _factor(A: torch.Tensor) -> Tuple[str, Tuple[torch.Tensor, ...]]:
    L, info = torch.linalg.cholesky_ex(A)
    if not bool((info != 0).any()):
        return "chol", (L,)
    LU, piv = torch.linalg.lu_factor(A)  # not positive definite in this precision: LU still solves it
    return "lu", (LU, piv)


def _solve(fac: Tuple[str, Tuple[torch.Tensor, ...]], b: torch.Tensor) -> torch.Tensor:
    kind, t = fac
    if kind == "chol":
        return torch.cholesky_solve(b, t[0])
    return torch.linalg.lu_solve(t[0], t[1], b)


def _eye_like(n: int, ref: torch.Tensor) -> torch.Tensor:
    return torch.eye(n, dtype=ref.dtype, device=ref.device)


class _RidgeFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, X: torch.Tensor, y: torch.Tensor, lam: torch.Tensor, dual: bool) -> torch.Tensor:  # type: ignore[override]
        Xt = X.transpose(-1, -2)
        if dual:
            K = X @ Xt + lam * _eye_like(X.shape[-2], X)
            fac = _factor(K)
            alpha = _solve(fac, y)
            w = Xt @ alpha
            ctx.save_for_backward(X, y, w, lam, alpha, *fac[1])
        else:
            A = Xt @ X + lam * _eye_like(X.shape[-1], X)
            fac = _factor(A)
            w = _solve(fac, Xt @ y)
            ctx.save_for_backward(X, y, w, lam, *fac[1])
        ctx.fac_kind = fac[0]
        ctx.dual = dual
        return w

    @staticmethod
    @once_differentiable
    def backward(ctx, g: torch.Tensor):  # type: ignore[override]
        saved = ctx.saved_tensors
        X, y, w, lam = saved[:4]
        Xt = X.transpose(-1, -2)
        if ctx.dual:
            alpha = saved[4]
            fac = (ctx.fac_kind, tuple(saved[5:]))
            u = _solve(fac, X @ g)
            lam_v = g - Xt @ u  # = λ v
            gX = alpha @ lam_v.transpose(-1, -2) - u @ w.transpose(-1, -2)
            gy = u
            glam = -(lam_v * w).sum() / lam
        else:
            fac = (ctx.fac_kind, tuple(saved[4:]))
            v = _solve(fac, g)
            r = y - X @ w
            Xv = X @ v
            gX = r @ v.transpose(-1, -2) - Xv @ w.transpose(-1, -2)
            gy = Xv
            glam = -(v * w).sum()
        return gX, gy, glam.reshape(lam.shape), None


def ridge_regression(X: torch.Tensor, y: torch.Tensor, lam: Union[float, torch.Tensor] = 0.1, form: str = "auto",
                     solve_dtype: Optional[torch.dtype] = None) -> torch.Tensor:
    """Solve min ‖Xw − y‖² + λ‖w‖² (see module docstring); differentiable in X, y and λ.

    ``solve_dtype=torch.float64`` solves in double and casts back (DCFST's systems have condition numbers
    up to ~10⁶, marginal in float32).
    """
    if form not in _FORMS:
        raise ValueError(f"ridge_regression: form must be one of {_FORMS}, got {form!r}")
    if X.dim() < 2:
        raise ValueError(f"ridge_regression: X must be (..., N, D), got {tuple(X.shape)}")
    vec = y.dim() == X.dim() - 1
    Y = y.unsqueeze(-1) if vec else y
    if Y.shape[-2] != X.shape[-2] or Y.dim() != X.dim():
        raise ValueError(f"ridge_regression: y {tuple(y.shape)} does not match X {tuple(X.shape)} (need (..., N) or (..., N, M))")
    N, D = X.shape[-2], X.shape[-1]
    dual = (D > N) if form == "auto" else (form == "dual")
    out_dtype = torch.promote_types(X.dtype, Y.dtype)
    dt = solve_dtype or out_dtype
    lam_t = lam if isinstance(lam, torch.Tensor) else torch.tensor(float(lam), dtype=torch.float64)
    lam_t = lam_t.to(device=X.device, dtype=dt)
    if lam_t.numel() != 1:
        raise ValueError(f"ridge_regression: λ must be a scalar, got shape {tuple(lam_t.shape)}")
    if float(lam_t.detach()) <= 0:
        raise ValueError(f"ridge_regression: λ must be > 0, got {float(lam_t.detach())}")
    try:
        batch = torch.broadcast_shapes(X.shape[:-2], Y.shape[:-2])
    except RuntimeError as e:
        raise ValueError(f"ridge_regression: batch shapes of X {tuple(X.shape)} and y {tuple(y.shape)} do not broadcast") from e
    Xe = X.expand(*batch, N, D).to(dt)
    Ye = Y.expand(*batch, N, Y.shape[-1]).to(dt)
    w = _RidgeFunction.apply(Xe, Ye, lam_t, dual).to(out_dtype)
    return w.squeeze(-1) if vec else w


class RidgeRegression(nn.Module):
    """Module form: ``RidgeRegression(lam=0.1)(X, y) -> w``; ``learn_lambda`` makes λ a parameter (log-space)."""

    def __init__(self, lam: float = 0.1, form: str = "auto", learn_lambda: bool = False,
                 solve_dtype: Optional[torch.dtype] = None) -> None:
        super().__init__()
        if form not in _FORMS:
            raise ValueError(f"RidgeRegression: form must be one of {_FORMS}, got {form!r}")
        self.form = form
        self.solve_dtype = solve_dtype
        log_lam = torch.tensor(float(lam)).log()
        if learn_lambda:
            self.log_lam = nn.Parameter(log_lam)
        else:
            self.register_buffer("log_lam", log_lam)

    @property
    def lam(self) -> torch.Tensor:
        return self.log_lam.exp()

    def forward(self, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return ridge_regression(X, y, self.lam, self.form, self.solve_dtype)


def gauss_seidel(A: torch.Tensor, b: torch.Tensor, w0: Optional[torch.Tensor] = None, num_sweeps: int = 30) -> torch.Tensor:
    """Gauss-Seidel sweeps for A w = b (A SPD), warm-started at ``w0`` (DCFST online re-solve, dcfst.md §6).

    One sweep is ``w ← solve_lower(tril(A), b − triu(A, 1)·w)``. Shapes: A (..., D, D), b (..., D[, M]).
    """
    vec = b.dim() == A.dim() - 1
    B = b.unsqueeze(-1) if vec else b
    w = torch.zeros_like(B) if w0 is None else (w0.unsqueeze(-1) if vec else w0).to(B)
    Lo = torch.tril(A)
    Up = torch.triu(A, diagonal=1)
    for _ in range(num_sweeps):
        w = torch.linalg.solve_triangular(Lo, B - Up @ w, upper=False)
    return w.squeeze(-1) if vec else w
