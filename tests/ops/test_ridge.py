"""Ridge-regression solver layer (dcfst.md §3 'How to test')."""
import pytest
import torch

from ltr.models.layers.ridge import RidgeRegression, gauss_seidel, ridge_regression


def _data(N, D, B=None, M=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    shape = (B,) if B else ()
    X = torch.randn(*shape, N, D, generator=g, dtype=torch.float64)
    y = torch.randn(*shape, N, *((M,) if M else ()), generator=g, dtype=torch.float64)
    return X, y


@pytest.mark.parametrize("N,D", [(30, 12), (12, 30)])
def test_primal_equals_dual_kkt_and_lstsq(N, D):
    X, y = _data(N, D)
    lam = 0.1
    wp = ridge_regression(X, y, lam, form="primal")
    wd = ridge_regression(X, y, lam, form="dual")
    torch.testing.assert_close(wp, wd, atol=1e-12, rtol=1e-10)
    # KKT: Xᵀ(Xw − y) + λw = 0
    assert (X.T @ (X @ wp - y) + lam * wp).abs().max() < 1e-10
    # stacked least squares [X; √λ I] w = [y; 0]
    Xs = torch.cat([X, lam ** 0.5 * torch.eye(D, dtype=X.dtype)])
    ys = torch.cat([y, torch.zeros(D, dtype=X.dtype)])
    torch.testing.assert_close(wp, torch.linalg.lstsq(Xs, ys.unsqueeze(-1)).solution.squeeze(-1), atol=1e-10, rtol=1e-8)


@pytest.mark.parametrize("N,D", [(7, 11), (11, 7)])
@pytest.mark.parametrize("form", ["primal", "dual"])
def test_gradcheck(N, D, form):
    X, y = _data(N, D, B=2, M=2, seed=1)
    X.requires_grad_()
    y.requires_grad_()
    lam = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b, c: ridge_regression(a, b, c, form=form), (X, y, lam))


@pytest.mark.parametrize("form", ["primal", "dual", "auto"])
def test_custom_backward_matches_autograd_through_solve(form):
    X, y = _data(9, 13, B=3, seed=2)
    Z = torch.randn(3, 5, 13, dtype=torch.float64)
    lam = torch.tensor(0.1, dtype=torch.float64)

    def reference(Xr, yr, lr):
        A = Xr.transpose(-1, -2) @ Xr + lr * torch.eye(13, dtype=torch.float64)
        return torch.linalg.solve(A, (Xr.transpose(-1, -2) @ yr.unsqueeze(-1))).squeeze(-1)

    grads = []
    for fn in (lambda a, b, c: ridge_regression(a, b, c, form=form), reference):
        Xr, yr, lr = X.clone().requires_grad_(), y.clone().requires_grad_(), lam.clone().requires_grad_()
        w = fn(Xr, yr, lr)
        loss = ((torch.einsum("bnd,bd->bn", Z, w) - 1.0) ** 2).sum()
        loss.backward()
        grads.append((w.detach(), Xr.grad, yr.grad, lr.grad))
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-9)


def test_batched_equals_looped_and_module():
    X, y = _data(20, 8, B=4, seed=3)
    wb = ridge_regression(X, y, 0.1)
    for i in range(4):
        torch.testing.assert_close(wb[i], ridge_regression(X[i], y[i], 0.1), atol=1e-13, rtol=1e-12)
    m = RidgeRegression(0.1, learn_lambda=True).double()
    torch.testing.assert_close(m(X, y), wb)
    m(X, y).sum().backward()
    assert m.log_lam.grad is not None


def test_float32_solve_in_float64():
    X, y = _data(962, 64, seed=4)
    w32 = ridge_regression(X.float(), y.float(), 0.1, solve_dtype=torch.float64)
    assert w32.dtype == torch.float32
    torch.testing.assert_close(w32, ridge_regression(X, y, 0.1).float(), atol=1e-6, rtol=1e-5)


def test_bad_inputs():
    X, y = _data(5, 3)
    with pytest.raises(ValueError, match="form"):
        ridge_regression(X, y, 0.1, form="qr")
    with pytest.raises(ValueError, match="does not match"):
        ridge_regression(X, y[:4], 0.1)
    with pytest.raises(ValueError, match="λ must be > 0"):
        ridge_regression(X, y, 0.0)


def test_gauss_seidel_sweep_and_convergence():
    X, y = _data(40, 10, seed=5)
    A = X.T @ X + 0.1 * torch.eye(10, dtype=torch.float64)
    b = X.T @ y
    w0 = torch.randn(10, dtype=torch.float64)
    # one sweep by the scalar Gauss-Seidel recurrence
    w = w0.clone()
    for i in range(10):
        w[i] = (b[i] - A[i, :i] @ w[:i] - A[i, i + 1:] @ w[i + 1:]) / A[i, i]
    torch.testing.assert_close(gauss_seidel(A, b, w0, 1), w)
    torch.testing.assert_close(gauss_seidel(A, b, w0, 500), ridge_regression(X, y, 0.1), atol=1e-9, rtol=1e-8)
