"""softmax along the last axis, numerically stable, as four stages (a reduction must be a whole
compute body, so this cannot be one compute):

  "softmax_max"  m[..]     = max_k x[.., k]
  "softmax_exp"  e[.., j]  = exp(x[.., j] - m[..])
  "softmax_sum"  s[..]     = sum_k e[.., k]
  "softmax"      y[.., j]  = e[.., j] / s[..]

(TVM topi names them T_softmax_maxelem / _exp / _expsum / _norm.) Float dtypes only."""
from __future__ import annotations

import numpy as np

from workbench import te


def compute(data: te.Tensor) -> te.Tensor:
    if not data.dtype.startswith("float"):
        raise TypeError(f"softmax needs a float dtype, got {data.dtype}")
    *outer, n = data.shape
    outer = tuple(outer) or (1,)
    keep = data.ndim > 1        # a 1-D input reduces to a (1,) tensor indexed with 0

    def row(i):
        return tuple(i[:-1]) if keep else (0,)

    k1 = te.reduce_axis((0, n), name="k1")
    m = te.compute(outer, lambda *i: te.max(data[(*i, k1) if keep else (k1,)], axis=k1),
                   name="softmax_max")
    e = te.compute(data.shape, lambda *i: te.exp(data[i] - m[row(i)]), name="softmax_exp")
    k2 = te.reduce_axis((0, n), name="k2")
    s = te.compute(outer, lambda *i: te.sum(e[(*i, k2) if keep else (k2,)], axis=k2),
                   name="softmax_sum")
    return te.compute(data.shape, lambda *i: e[i] / s[row(i)], name="softmax")


def make(shape, dtype: str = "float32"):
    data = te.placeholder(tuple(shape), dtype, name="data")
    return [data], compute(data)


def reference(data: np.ndarray) -> np.ndarray:
    x = data.astype(np.float64)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(data.dtype)


def flops(shape, **_) -> int:
    """Per element: a compare (max), a subtract and an exp, an add (sum) and a divide."""
    return 5 * int(np.prod(shape))
