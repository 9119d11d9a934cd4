"""Online optimisation shared by FCOT, Ocean-online, DuML-ONR and DCFST: steepest descent with
Gauss-Newton step (differentiable), CG / Gauss-Newton-CG, sample memory, cosine windows."""
from .cg import CGResult, GaussNewtonCG, conjugate_gradient
from .memory import SampleMemory, update_sample_weights
from .steepest_descent import SDResult, SteepestDescentGN
from .tensorlist import TensorList, as_tensorlist
from .windows import gaussian_window, hann1d, hann2d, hann2d_clipped, hanning, outer_hanning

__all__ = [
    "CGResult", "GaussNewtonCG", "conjugate_gradient", "SampleMemory", "update_sample_weights",
    "SDResult", "SteepestDescentGN", "TensorList", "as_tensorlist",
    "gaussian_window", "hann1d", "hann2d", "hann2d_clipped", "hanning", "outer_hanning",
]
