"""Conjugate gradient and Gauss-Newton with CG inner solves (ATOM/ECO-style online optimisation).

Variables are :class:`TensorList` s (a single tensor is accepted and returned as a tensor), so a filter
made of several parts is optimised as one vector. Jacobian products come from autograd (Jᵀu by
back-propagation, J v by the double-backward trick), so the caller only writes the residual.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, List, Optional, Union

import torch

from .tensorlist import TensorList, as_tensorlist

__all__ = ["conjugate_gradient", "CGResult", "GaussNewtonCG"]

Vec = Union[torch.Tensor, TensorList]


@dataclass
class CGResult:
    x: Vec
    residual_norms: List[float] = field(default_factory=list)
    num_iter: int = 0


def conjugate_gradient(
    A: Callable[[TensorList], TensorList],
    b: Vec,
    x0: Optional[Vec] = None,
    num_iter: int = 10,
    tol: float = 0.0,
    M: Optional[Callable[[TensorList], TensorList]] = None,
) -> CGResult:
    """Solve ``A x = b`` for a symmetric positive definite linear operator ``A`` (preconditioner ``M`` ≈ A⁻¹).

    Stops after ``num_iter`` iterations or when ‖r‖ ≤ tol·‖b‖. In exact arithmetic it converges in at most
    dim(x) iterations. Returns the solution in the type of ``b``.
    """
    single = isinstance(b, torch.Tensor)
    bl = as_tensorlist(b)
    x = bl.zeros_like() if x0 is None else as_tensorlist(x0).clone()
    r = bl - A(x) if x0 is not None else bl.clone()
    z = M(r) if M is not None else r
    p = z.clone()
    rz = r.dot(z)
    b_norm = float(bl.sq_norm().sqrt())
    norms = [float(r.sq_norm().sqrt())]
    it = 0
    for it in range(1, num_iter + 1):
        if norms[-1] <= tol * b_norm or norms[-1] == 0.0:
            it -= 1
            break
        Ap = A(p)
        pAp = p.dot(Ap)
        if float(pAp) <= 0:
            raise ValueError(f"conjugate_gradient: operator is not positive definite (pᵀAp = {float(pAp):.3g})")
        alpha = rz / pAp
        x = x + alpha * p
        r = r - alpha * Ap
        norms.append(float(r.sq_norm().sqrt()))
        z = M(r) if M is not None else r
        rz_new = r.dot(z)
        p = z + (rz_new / rz) * p
        rz = rz_new
    return CGResult(x[0] if single else x, norms, it)


class GaussNewtonCG:
    """Minimise ½‖r(x)‖² by Gauss-Newton; each linearised system (JᵀJ) Δ = −Jᵀr is solved by CG.

    Put regularisation into the residual (e.g. append √λ·x) so it is part of JᵀJ. ``x`` is warm-started
    across calls (``run`` continues from the last solution), which is how ATOM/ECO update online.
    """

    def __init__(self, residual_fn: Callable[[TensorList], TensorList], x0: Vec, num_cg_iter: int = 10,
                 cg_tol: float = 0.0, preconditioner: Optional[Callable[[TensorList], TensorList]] = None) -> None:
        self.residual_fn = residual_fn
        self._single = isinstance(x0, torch.Tensor)
        self.x = as_tensorlist(x0).detach().clone()
        self.num_cg_iter = num_cg_iter
        self.cg_tol = cg_tol
        self.preconditioner = preconditioner
        self.losses: List[float] = []

    def _residual(self, x: TensorList) -> TensorList:
        r = self.residual_fn(x[0] if self._single else x)
        return as_tensorlist(r)

    @property
    def solution(self) -> Vec:
        return self.x[0] if self._single else self.x

    def run(self, num_gn_iter: int = 1, num_cg_iter: Optional[int] = None) -> Vec:
        """Run ``num_gn_iter`` outer iterations; returns the current solution (detached)."""
        n_cg = self.num_cg_iter if num_cg_iter is None else num_cg_iter
        for _ in range(num_gn_iter):
            with torch.enable_grad():
                x = self.x.clone().requires_grad_(True)
                r = self._residual(x)
                self.losses.append(0.5 * float(r.detach().sq_norm()))
                u = TensorList(torch.zeros_like(t, requires_grad=True) for t in r)
                # Jᵀu as a differentiable function of u; then J v = d(Jᵀu·v)/du.
                jt_u = TensorList(torch.autograd.grad(list(r), list(x), list(u), create_graph=True))
                jt_r = TensorList(torch.autograd.grad(list(r), list(x), [t.detach() for t in r], retain_graph=True))

                def JtJ(v: TensorList) -> TensorList:
                    jv = TensorList(torch.autograd.grad(list(jt_u), list(u), list(v), retain_graph=True))
                    return TensorList(torch.autograd.grad(list(r), list(x), list(jv), retain_graph=True))

                res = conjugate_gradient(JtJ, -jt_r.detach(), num_iter=n_cg, tol=self.cg_tol, M=self.preconditioner)
            self.x = (self.x + as_tensorlist(res.x)).detach()
        with torch.no_grad():
            self.losses.append(0.5 * float(self._residual(self.x).sq_norm()))
        return self.solution
