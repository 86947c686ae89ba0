"""Elementwise and broadcasting operators for the graph level (ONNX/relay semantics):
clip, sigmoid, tanh, numpy-broadcasting add/mul, per-channel PReLU and inference batch-norm.

Each is one te stage; the fusion pass inlines them into the epilogue of a producer."""
from __future__ import annotations

import numpy as np

from workbench import te


def broadcast_shape(a: tuple, b: tuple, what: str = "broadcast") -> tuple:
    """numpy's broadcasting rule for two shapes, with a clear error."""
    try:
        return tuple(np.broadcast_shapes(tuple(a), tuple(b)))
    except ValueError:
        raise ValueError(f"{what}: shapes {tuple(a)} and {tuple(b)} do not broadcast") from None


def _bcast_index(t: te.Tensor, idx: tuple):
    """The index into `t` for output index `idx` (right-aligned; size-1 dims read index 0)."""
    off = len(idx) - t.ndim
    return tuple(0 if n == 1 else idx[off + d] for d, n in enumerate(t.shape))


BINARY = {"add": lambda x, y: x + y, "mul": lambda x, y: x * y,
          "sub": lambda x, y: x - y, "div": lambda x, y: x / y}


def binary(a: te.Tensor, b: te.Tensor, op: str, name: str | None = None) -> te.Tensor:
    """a (op) b with numpy broadcasting; op in add, mul, sub, div."""
    if op not in BINARY:
        raise ValueError(f"binary: op must be one of {list(BINARY)}, got {op!r}")
    if a.dtype != b.dtype:
        raise TypeError(f"{op}: dtypes differ ({a.dtype} vs {b.dtype})")
    shape = broadcast_shape(a.shape, b.shape, op)
    f = BINARY[op]
    return te.compute(shape, lambda *i: f(a[_bcast_index(a, i)], b[_bcast_index(b, i)]),
                      name=name or op)


def clip(data: te.Tensor, lo: float, hi: float, name: str = "clip") -> te.Tensor:
    lo_c, hi_c = te.const(lo, data.dtype), te.const(hi, data.dtype)
    return te.compute(data.shape, lambda *i: te.min(te.max(data[i], lo_c), hi_c), name=name)


def sigmoid(data: te.Tensor, name: str = "sigmoid") -> te.Tensor:
    return te.compute(data.shape, lambda *i: te.sigmoid(data[i]), name=name)


def tanh(data: te.Tensor, name: str = "tanh") -> te.Tensor:
    return te.compute(data.shape, lambda *i: te.tanh(data[i]), name=name)


def bias_add_nchwc(data: te.Tensor, bias: te.Tensor, name: str = "bias_add") -> te.Tensor:
    """data (N, C/b, H, W, b) + bias (C/b, b): bias_add in the blocked layout."""
    return te.compute(data.shape, lambda n, co, y, x, ci: data[n, co, y, x, ci] + bias[co, ci],
                      name=name)


def prelu(data: te.Tensor, alpha: te.Tensor, axis: int = 1, name: str = "prelu") -> te.Tensor:
    """max(x, 0) + alpha[c] * min(x, 0) with one slope per channel of `axis` (relay's nn.prelu;
    ONNX PRelu with a per-channel slope). One stage, so it fuses into a convolution's epilogue."""
    if alpha.ndim != 1 or alpha.shape[0] != data.shape[axis]:
        raise ValueError(f"prelu: alpha must have shape ({data.shape[axis]},) (channels of axis "
                         f"{axis}), got {tuple(alpha.shape)}")
    zero = te.const(0.0, data.dtype)
    return te.compute(data.shape, lambda *i: te.max(data[i], zero)
                      + alpha[i[axis]] * te.min(data[i], zero), name=name)


def prelu_nchwc(data: te.Tensor, alpha: te.Tensor, name: str = "prelu") -> te.Tensor:
    """prelu in the blocked layout: data (N, C/b, H, W, b), alpha (C/b, b)."""
    zero = te.const(0.0, data.dtype)
    return te.compute(data.shape, lambda n, co, y, x, ci: te.max(data[n, co, y, x, ci], zero)
                      + alpha[co, ci] * te.min(data[n, co, y, x, ci], zero), name=name)


def batch_norm(data: te.Tensor, gamma: te.Tensor, beta: te.Tensor, mean: te.Tensor,
               var: te.Tensor, eps: float, axis: int = 1, name: str = "batch_norm") -> te.Tensor:
    """Inference batch-norm along `axis`: (x - mean[c]) / sqrt(var[c] + eps) * gamma[c] + beta[c].
    (The graph's fold_batch_norm pass usually folds it into the preceding convolution.)"""
    e = te.const(eps, data.dtype)
    return te.compute(data.shape, lambda *i: (data[i] - mean[i[axis]]) / te.sqrt(var[i[axis]] + e)
                      * gamma[i[axis]] + beta[i[axis]], name=name)


def bn_scale_shift(gamma, beta, mean, var, eps: float):
    """(scale, shift) float32 arrays of an inference batch-norm, computed in float64."""
    scale = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)
    shift = beta.astype(np.float64) - mean.astype(np.float64) * scale
    return scale.astype(np.float32), shift.astype(np.float32)


# -- numpy references ------------------------------------------------------------------------------
def reference_binary(a: np.ndarray, b: np.ndarray, op: str) -> np.ndarray:
    return {"add": np.add, "mul": np.multiply, "sub": np.subtract, "div": np.divide}[op](a, b)


def reference_clip(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.minimum(np.maximum(x, x.dtype.type(lo)), x.dtype.type(hi))


def reference_sigmoid(x: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(x.dtype)


def reference_tanh(x: np.ndarray) -> np.ndarray:
    return np.tanh(x.astype(np.float64)).astype(x.dtype)


def reference_prelu(x: np.ndarray, alpha: np.ndarray, axis: int = 1) -> np.ndarray:
    shape = [1] * x.ndim
    shape[axis] = -1
    a = alpha.reshape(shape).astype(x.dtype)
    return np.maximum(x, 0) + a * np.minimum(x, 0)


def reference_batch_norm(x, gamma, beta, mean, var, eps: float, axis: int = 1) -> np.ndarray:
    shape = [1] * x.ndim
    shape[axis] = -1
    xs = x.astype(np.float64)
    out = (xs - mean.reshape(shape)) / np.sqrt(var.reshape(shape).astype(np.float64) + eps)
    return (out * gamma.reshape(shape) + beta.reshape(shape)).astype(x.dtype)
