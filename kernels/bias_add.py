"""bias_add: out[..., c, ...] = data[..., c, ...] + bias[c] along `axis` (default 1: the C of NCHW),
as TVM relay's nn.bias_add. Stages: "data", "bias", "bias_add"."""
from __future__ import annotations

import numpy as np

from workbench import te


def _axis(ndim: int, axis: int) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"bias_add: axis {axis} out of range for {ndim} dimensions")
    return axis % ndim


def compute(data: te.Tensor, bias: te.Tensor, axis: int = 1) -> te.Tensor:
    axis = _axis(data.ndim, axis)
    if bias.shape != (data.shape[axis],):
        raise ValueError(f"bias_add: bias must have shape ({data.shape[axis]},), got {bias.shape}")
    return te.compute(data.shape, lambda *i: data[i] + bias[i[axis]].astype(data.dtype),
                      name="bias_add")


def make(shape, axis: int = 1, dtype: str = "float32"):
    shape = tuple(shape)
    data = te.placeholder(shape, dtype, name="data")
    bias = te.placeholder((shape[_axis(len(shape), axis)],), dtype, name="bias")
    return [data, bias], compute(data, bias, axis)


def reference(data: np.ndarray, bias: np.ndarray, axis: int = 1) -> np.ndarray:
    axis = _axis(data.ndim, axis)
    shape = [1] * data.ndim
    shape[axis] = bias.shape[0]
    return (data + bias.reshape(shape)).astype(data.dtype)


def flops(shape, **_) -> int:
    return int(np.prod(shape))
