"""A minimal list of tensors with element-wise arithmetic, so optimisers treat multi-part parameters
(e.g. filters of several feature layers) like one vector."""
from __future__ import annotations

from typing import Callable, Iterable, Union

import torch

__all__ = ["TensorList", "as_tensorlist"]

Other = Union["TensorList", torch.Tensor, float, int]


class TensorList(list):
    """``list`` of tensors; ``+ - * /`` act element-wise (with a TensorList of equal length or a scalar)."""

    def __init__(self, items: Iterable[torch.Tensor] = ()) -> None:
        super().__init__(items)

    def _zip(self, other: Other, fn: Callable) -> "TensorList":
        if isinstance(other, TensorList):
            if len(other) != len(self):
                raise ValueError(f"TensorList: length mismatch {len(self)} vs {len(other)}")
            return TensorList(fn(a, b) for a, b in zip(self, other))
        return TensorList(fn(a, other) for a in self)

    def __add__(self, o: Other) -> "TensorList":  # type: ignore[override]
        return self._zip(o, lambda a, b: a + b)

    def __radd__(self, o: Other) -> "TensorList":
        return self._zip(o, lambda a, b: b + a)

    def __sub__(self, o: Other) -> "TensorList":
        return self._zip(o, lambda a, b: a - b)

    def __rsub__(self, o: Other) -> "TensorList":
        return self._zip(o, lambda a, b: b - a)

    def __mul__(self, o: Other) -> "TensorList":  # type: ignore[override]
        return self._zip(o, lambda a, b: a * b)

    def __rmul__(self, o: Other) -> "TensorList":  # type: ignore[override]
        return self._zip(o, lambda a, b: b * a)

    def __truediv__(self, o: Other) -> "TensorList":
        return self._zip(o, lambda a, b: a / b)

    def __neg__(self) -> "TensorList":
        return TensorList(-a for a in self)

    def dot(self, other: "TensorList") -> torch.Tensor:
        """Σ over all elements of ``self * other`` (inner product of the stacked vectors)."""
        return sum((a * b).sum() for a, b in zip(self, other))  # type: ignore[return-value]

    def sq_norm(self) -> torch.Tensor:
        return self.dot(self)

    def apply(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> "TensorList":
        return TensorList(fn(a) for a in self)

    def detach(self) -> "TensorList":
        return self.apply(torch.Tensor.detach)

    def clone(self) -> "TensorList":
        return self.apply(torch.Tensor.clone)

    def zeros_like(self) -> "TensorList":
        return self.apply(torch.zeros_like)

    def requires_grad_(self, flag: bool = True) -> "TensorList":
        for a in self:
            a.requires_grad_(flag)
        return self


def as_tensorlist(x: Union[torch.Tensor, Iterable[torch.Tensor]]) -> TensorList:
    """Wrap a single tensor (or any iterable of tensors) as a TensorList."""
    return TensorList([x]) if isinstance(x, torch.Tensor) else TensorList(x)
