"""Online optimisers on linear least squares with a known closed-form solution; memory and windows."""
import math

import numpy as np
import pytest
import torch

from tracking.optim import (
    GaussNewtonCG,
    SampleMemory,
    SteepestDescentGN,
    TensorList,
    conjugate_gradient,
    hann1d,
    hann2d,
    hann2d_clipped,
    gaussian_window,
    outer_hanning,
    update_sample_weights,
)


def _problem(seed=0, m=40, n=6, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(m, n, generator=g, dtype=dtype)
    y = torch.randn(m, generator=g, dtype=dtype)
    return X, y


def _closed_form(X, y, lam2):
    n = X.shape[1]
    return torch.linalg.solve(X.T @ X + lam2 * torch.eye(n, dtype=X.dtype), X.T @ y)


def test_steepest_descent_converges_to_ridge_solution():
    X, y = _problem()
    opt = SteepestDescentGN(num_iter=300, init_step_length=1.0, init_filter_reg=0.5).double()
    with torch.no_grad():
        res = opt(torch.zeros(6, dtype=torch.float64), lambda f: X @ f - y, compute_losses=True)
    torch.testing.assert_close(res.filter, _closed_form(X, y, 0.25), atol=1e-6, rtol=1e-6)
    # steepest descent with exact line search is monotone
    losses = torch.stack(res.losses)
    assert torch.all(losses[1:] <= losses[:-1] + 1e-12)


def test_gn_step_is_exact_line_search():
    X, y = _problem(1)
    lam2 = 0.04
    opt = SteepestDescentGN(num_iter=1, init_filter_reg=0.2).double()
    f0 = torch.randn(6, dtype=torch.float64)
    with torch.no_grad():
        f1 = opt(f0, lambda f: X @ f - y).filter
    g = X.T @ (X @ f0 - y) + lam2 * f0  # analytic gradient
    L = lambda f: 0.5 * ((X @ f - y) ** 2).sum() + 0.5 * lam2 * (f ** 2).sum()
    alphas = torch.linspace(0, 2 * float((g @ g) / ((X @ g) @ (X @ g) + lam2 * g @ g)), 20001, dtype=torch.float64)
    best = alphas[torch.argmin(torch.stack([L(f0 - a * g) for a in alphas]))]
    torch.testing.assert_close(f1, f0 - best * g, atol=1e-6, rtol=1e-5)


def test_per_sequence_step_equals_separate_runs():
    X1, y1 = _problem(2)
    X2, y2 = _problem(3)
    Xs, ys = torch.stack([X1, X2], 1), torch.stack([y1, y2], 1)  # residual (m, S): sequence dim 1
    opt = SteepestDescentGN(num_iter=3, init_filter_reg=0.3).double()
    f0 = torch.zeros(2, 6, dtype=torch.float64)
    with torch.no_grad():
        joint = opt(f0, lambda f: torch.einsum("msn,sn->ms", Xs, f) - ys, residual_seq_dim=1).filter
        a = opt(f0[0], lambda f: X1 @ f - y1).filter
        b = opt(f0[1], lambda f: X2 @ f - y2).filter
    torch.testing.assert_close(joint, torch.stack([a, b]))


def test_steepest_descent_is_differentiable():
    X, y = _problem(4, m=10, n=3)
    opt = SteepestDescentGN(num_iter=3, init_step_length=0.9, init_filter_reg=0.1).double()
    Xr = X.clone().requires_grad_()

    def unroll(Xin, log_step, reg):
        params = {"log_step_length": log_step, "filter_reg": reg}
        return torch.func.functional_call(opt, params, (torch.zeros(3, dtype=torch.float64), lambda f: Xin @ f - y)).filter

    ls = torch.tensor(math.log(0.9), dtype=torch.float64, requires_grad=True)
    rg = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(unroll, (Xr, ls, rg))
    # parameters of the module receive gradients through the unroll
    out = opt(torch.zeros(3, dtype=torch.float64), lambda f: X @ f - y).filter
    out.sum().backward()
    assert opt.log_step_length.grad is not None and opt.filter_reg.grad is not None
    assert torch.isfinite(opt.log_step_length.grad) and opt.log_step_length.grad != 0


def test_conjugate_gradient_exact_in_n_steps():
    X, y = _problem(5)
    lam = 0.1
    A = lambda v: TensorList([X.T @ (X @ v[0]) + lam * v[0]])
    res = conjugate_gradient(A, X.T @ y, num_iter=6)
    torch.testing.assert_close(res.x, _closed_form(X, y, lam), atol=1e-9, rtol=1e-9)
    # with a Jacobi preconditioner and a two-part unknown
    X2, y2 = _problem(6, n=4)
    A2 = lambda v: TensorList([X.T @ (X @ v[0]) + lam * v[0], X2.T @ (X2 @ v[1]) + lam * v[1]])
    d1 = (X ** 2).sum(0) + lam
    d2 = (X2 ** 2).sum(0) + lam
    res = conjugate_gradient(A2, TensorList([X.T @ y, X2.T @ y2]), num_iter=10, M=lambda r: TensorList([r[0] / d1, r[1] / d2]))
    torch.testing.assert_close(res.x[0], _closed_form(X, y, lam), atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(res.x[1], _closed_form(X2, y2, lam), atol=1e-9, rtol=1e-9)


def test_gauss_newton_cg_linear_and_nonlinear():
    X, y = _problem(7)
    lam = 0.2
    # ridge as a residual: [X f − y ; √λ f]
    gn = GaussNewtonCG(lambda f: TensorList([X @ f - y, math.sqrt(lam) * f]), torch.zeros(6, dtype=torch.float64), num_cg_iter=6)
    sol = gn.run(1)
    torch.testing.assert_close(sol, _closed_form(X, y, lam), atol=1e-9, rtol=1e-9)
    # a nonlinear residual with known zero: r(a, b) = [a·b − 6, a + b − 5] -> (2, 3) from near it
    gn2 = GaussNewtonCG(lambda v: TensorList([(v[0] * v[1] - 6).reshape(1), (v[0] + v[1] - 5).reshape(1)]),
                        TensorList([torch.tensor(1.5, dtype=torch.float64), torch.tensor(3.8, dtype=torch.float64)]),
                        num_cg_iter=2)
    a, b = gn2.run(8)
    assert abs(float(a) - 2) < 1e-8 and abs(float(b) - 3) < 1e-8
    assert gn2.losses[-1] < 1e-15


def _weights_reference(events, capacity, num_init, init_min):
    """Independent re-statement of the rule with plain python floats (fcot.md §3.4 / duml.md §3)."""
    w = [1.0 / num_init] * num_init + [0.0] * (capacity - num_init)
    n, prev = num_init, None
    for lr in events:
        start = num_init if init_min > 0 else 0
        idx = n if n < capacity else min(range(start, capacity), key=lambda i: (w[i], i))
        if prev is None:
            w = [v / (1 - lr) for v in w]
            w[idx] = lr
        else:
            w[idx] = w[prev] / (1 - lr)
        s = sum(w)
        w = [v / s for v in w]
        if init_min > 0 and sum(w[:num_init]) < init_min:
            s2 = init_min + sum(w[num_init:])
            w = [init_min / num_init] * num_init + [v / s2 for v in w[num_init:]]
        n, prev = min(n + 1, capacity), idx
    return w


@pytest.mark.parametrize("init_min", [0.0, 0.25])
def test_memory_weights_match_reference(init_min):
    mem = SampleMemory(capacity=6, init_min_weight=init_min)
    mem.initialize({"x": torch.zeros(2, 3, dtype=torch.float64)})
    lrs = [0.3, 0.3, 0.5, 0.3, 0.3, 0.3, 0.2, 0.3, 0.3, 0.3]
    slots = []
    for k, lr in enumerate(lrs):
        slots.append(mem.insert({"x": torch.full((3,), float(k + 1), dtype=torch.float64)}, lr))
    ref = _weights_reference(lrs, 6, 2, init_min)
    np.testing.assert_allclose(mem.weights.numpy(), ref, rtol=1e-12)
    # each stored sample is the one last written to its slot
    for slot in set(slots):
        last = max(k for k, s in enumerate(slots) if s == slot)
        assert float(mem.get("x")[slot, 0]) == last + 1
    if init_min > 0:
        assert all(s >= 2 for s in slots)  # initial samples protected
    else:
        assert any(s < 2 for s in slots)  # lowest weight (old initial samples) replaced


def test_memory_first_insert_rule():
    w = torch.tensor([0.5, 0.5, 0.0, 0.0], dtype=torch.float64)
    idx = update_sample_weights(w, None, 2, 2, 0.2)
    assert idx == 2
    # old weights / 0.8 = 0.625 each, new = 0.2, then normalised by 1.45
    w1 = torch.tensor([0.625, 0.625, 0.2, 0.0], dtype=torch.float64) / 1.45
    torch.testing.assert_close(w, w1)
    idx = update_sample_weights(w, 2, 3, 2, 0.2)
    assert idx == 3
    w2 = w1.clone()
    w2[3] = w1[2] / 0.8  # previous insert's weight / (1 - lr)
    torch.testing.assert_close(w, w2 / w2.sum())
    # memory full: the lowest slot is replaced
    idx = update_sample_weights(w, 3, 4, 2, 0.2)
    assert idx == 2


def test_windows():
    np.testing.assert_allclose(outer_hanning(25), np.outer(np.hanning(25), np.hanning(25)), atol=1e-15)
    assert outer_hanning(25)[0].max() == 0 and outer_hanning(25)[12, 12] == pytest.approx(1.0)
    h = hann1d(5).double()
    ref = [0.5 * (1 - math.cos(2 * math.pi * k / 6)) for k in range(1, 6)]
    np.testing.assert_allclose(h.numpy(), ref, rtol=1e-6)
    hn = hann1d(6, centered=False)
    assert hn[0] == 1 and torch.allclose(hn[1:], hn[1:].flip(0))  # peak at 0, symmetric for the FFT layout
    w2 = hann2d((4, 7))
    assert w2.shape == (1, 1, 4, 7)
    torch.testing.assert_close(w2[0, 0], torch.outer(hann1d(4), hann1d(7)))
    c = hann2d_clipped(9, 5)
    assert c[0, 0, :2].abs().sum() == 0 and torch.allclose(c[0, 0, 2:7, 2:7], hann2d(5)[0, 0])
    gw = gaussian_window((5, 5), 1.0, min_value=0.3)
    assert gw[2, 2] == 1 and gw[0, 0] == pytest.approx(max(math.exp(-4), 0.3))
