"""dense (fully connected): out[b, o] = sum_i data[b, i] * weight[o, i] (+ bias[o]).

Weight is (out_dim, in_dim) as in TVM topi / PyTorch Linear. Stages: "data", "weight", optional
"bias", the reduction "dense" and, with a bias, the elementwise "dense_bias" (a reduction must be
a whole compute body, so the bias is its own stage; schedules usually inline or fuse it)."""
from __future__ import annotations

import numpy as np

from workbench import te

from ._common import acc_dtype, out_dtype_of


def compute(data: te.Tensor, weight: te.Tensor, bias: te.Tensor | None = None,
            out_dtype: str | None = None) -> te.Tensor:
    (batch, in_dim), (out_dim, in_dim2) = data.shape, weight.shape
    if in_dim != in_dim2:
        raise ValueError(f"dense: data is {data.shape} but weight is {weight.shape} (out_dim, in_dim)")
    if bias is not None and bias.shape != (out_dim,):
        raise ValueError(f"dense: bias must have shape ({out_dim},), got {bias.shape}")
    out_dtype = out_dtype_of(data.dtype, out_dtype)
    k = te.reduce_axis((0, in_dim), name="k")
    mm = te.compute((batch, out_dim), lambda b, o: te.sum(
        data[b, k].astype(out_dtype) * weight[o, k].astype(out_dtype), axis=k), name="dense")
    if bias is None:
        return mm
    return te.compute((batch, out_dim), lambda b, o: mm[b, o] + bias[o].astype(out_dtype),
                      name="dense_bias")


def make(batch: int, in_dim: int, out_dim: int, bias: bool = True, dtype: str = "float32",
         out_dtype: str | None = None):
    """Returns ([data, weight(, bias)], out)."""
    data = te.placeholder((batch, in_dim), dtype, name="data")
    weight = te.placeholder((out_dim, in_dim), dtype, name="weight")
    inputs = [data, weight]
    b = None
    if bias:
        b = te.placeholder((out_dim,), out_dtype_of(dtype, out_dtype), name="bias")
        inputs.append(b)
    return inputs, compute(data, weight, b, out_dtype)


def reference(data: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None,
              out_dtype: str | None = None) -> np.ndarray:
    acc = acc_dtype(data.dtype, weight.dtype)
    out = data.astype(acc) @ weight.astype(acc).T
    if bias is not None:
        out = out + bias.astype(acc)
    return out.astype(out_dtype or data.dtype)


def flops(batch: int, in_dim: int, out_dim: int, bias: bool = True, **_) -> int:
    return 2 * batch * in_dim * out_dim + (batch * out_dim if bias else 0)


def cpu_template(cfg, batch: int, in_dim: int, out_dim: int, bias: bool = True,
                 dtype: str = "float32"):
    """CPU tuning template: `_tuning.tile_reduction` on the matrix product (tile_b, tile_o:
    [-1, middle, inner]; tile_k: [-1, inner]; unroll_inner, parallel, auto_unroll_max_step);
    the bias add (if any) runs after it, vectorized along out_dim and parallel over the batch.
    -> (s, [data, weight, (bias,) out])."""
    import workbench as wb

    from ._tuning import tile_reduction
    inputs, out = make(batch, in_dim, out_dim, bias, dtype)
    cfg.add_flop(flops(batch, in_dim, out_dim, bias))
    s = wb.create_schedule(out)
    mm = next(t for t in out.op.input_tensors if t.op.name == "dense") if bias else out
    tile_reduction(cfg, s, mm)
    if bias:
        b, o = out.op.axis
        s[out].vectorize(o)
        s[out].parallel(b)
    return s, [*inputs, out]
