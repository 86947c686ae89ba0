"""relu: out = max(x, 0), elementwise, any shape. Stages: "data", "relu"."""
from __future__ import annotations

import numpy as np

from workbench import te


def compute(data: te.Tensor) -> te.Tensor:
    zero = te.const(0, data.dtype)
    return te.compute(data.shape, lambda *i: te.max(data[i], zero), name="relu")


def make(shape, dtype: str = "float32"):
    data = te.placeholder(tuple(shape), dtype, name="data")
    return [data], compute(data)


def reference(data: np.ndarray) -> np.ndarray:
    return np.maximum(data, np.zeros((), data.dtype))


def flops(shape, **_) -> int:
    return int(np.prod(shape))
