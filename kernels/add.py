"""add: out = A + B, elementwise, two tensors of the same shape and dtype.
Stages: "A", "B", "add"."""
from __future__ import annotations

import numpy as np

from workbench import te


def compute(A: te.Tensor, B: te.Tensor) -> te.Tensor:
    if A.shape != B.shape or A.dtype != B.dtype:
        raise ValueError(f"add: operands differ: {A.shape} {A.dtype} vs {B.shape} {B.dtype}")
    return te.compute(A.shape, lambda *i: A[i] + B[i], name="add")


def make(shape, dtype: str = "float32"):
    A = te.placeholder(tuple(shape), dtype, name="A")
    B = te.placeholder(tuple(shape), dtype, name="B")
    return [A, B], compute(A, B)


def reference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a + b


def flops(shape, **_) -> int:
    return int(np.prod(shape))
