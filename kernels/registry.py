"""The operator catalog: one `Operator` record per operator, for tests, fuzzers, tuners and the UI.

    from kernels import registry
    op = registry.get("conv2d")
    for params in op.small_params:
        inputs, out = op.make(**params)                 # te placeholders and the output tensor
        arrays = op.random_inputs(seed=0, **params)     # numpy inputs matching the placeholders
        expected = op.reference(*arrays, **params)      # numpy, float64 accumulation
        op.flops(**params)

`params` are the keyword arguments of the operator module's `make`; `reference` picks the ones
that matter to the math (`attrs`) and ignores the shape ones, which the arrays carry.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import Iterator

import numpy as np

from . import (add, batch_matmul, bias_add, conv2d, conv2d_transpose, dense, depthwise_conv2d,
               matmul, pool2d, relu, softmax)


@dataclass(frozen=True)
class Operator:
    name: str
    module: ModuleType
    small_params: tuple            # of dicts: small, awkward parameter sets for differential tests
    attrs: tuple = ()              # params forwarded to module.reference (besides the arrays)
    description: str = ""
    default_params: dict = field(default_factory=dict)   # a medium size, for demos and benchmarks

    def make(self, **params):
        """-> (list of input te tensors, output te tensor) for these params."""
        return self.module.make(**params)

    def reference(self, *arrays: np.ndarray, **params) -> np.ndarray:
        """The numpy result for input arrays (in `make`'s input order) and the same params."""
        return self.module.reference(*arrays, **{k: params[k] for k in self.attrs if k in params})

    def flops(self, **params) -> int:
        return int(self.module.flops(**params))

    def random_inputs(self, seed: int = 0, **params) -> list:
        """Random numpy arrays for `make(**params)`'s inputs, with their shapes and dtypes."""
        inputs, _ = self.make(**params)
        return random_arrays(inputs, seed)

    def cases(self) -> Iterator[dict]:
        yield from self.small_params


def random_arrays(tensors, seed: int = 0) -> list:
    """Standard-normal floats; small integers (so int32 accumulators never overflow) for ints."""
    rng = np.random.default_rng(seed)
    out = []
    for t in tensors:
        if t.dtype.startswith("float"):
            out.append(rng.standard_normal(t.shape).astype(t.dtype))
        else:
            lo = 0 if t.dtype.startswith("uint") else -8
            out.append(rng.integers(lo, 8, size=t.shape).astype(t.dtype))
    return out


def empty_output(tensor) -> np.ndarray:
    """A zeroed numpy array for a te output tensor (built kernels write into it)."""
    return np.zeros(tensor.shape, tensor.dtype)


def case_id(params: dict) -> str:
    """A short readable id for a parameter set (pytest ids, log lines)."""
    def fmt(v):
        if isinstance(v, (tuple, list)):
            return "x".join(str(x) for x in v)
        return str(v)
    return "-".join(f"{k}={fmt(v)}" for k, v in params.items())


_CONV_ATTRS = ("stride", "padding", "dilation", "out_dtype")

OPERATORS: dict[str, Operator] = {op.name: op for op in (
    Operator("matmul", matmul, attrs=("out_dtype",), description="C = A @ B, A (M, K), B (K, N)",
             default_params=dict(M=256, N=256, K=256),
             small_params=(
                 dict(M=1, N=1, K=1),
                 dict(M=7, N=13, K=5),
                 dict(M=16, N=33, K=17),
                 dict(M=32, N=32, K=32),
                 dict(M=5, N=9, K=11, dtype="int8", out_dtype="int32"),
             )),
    Operator("batch_matmul", batch_matmul, attrs=("out_dtype",),
             description="C[b] = A[b] @ B[b], A (batch, M, K), B (batch, K, N)",
             default_params=dict(batch=8, M=64, N=64, K=64),
             small_params=(
                 dict(batch=2, M=3, N=5, K=7),
                 dict(batch=3, M=8, N=17, K=9),
                 dict(batch=1, M=1, N=16, K=4),
             )),
    Operator("dense", dense, attrs=("out_dtype",),
             description="data (batch, in) x weight (out, in)^T (+ bias (out,))",
             default_params=dict(batch=16, in_dim=512, out_dim=256, bias=True),
             small_params=(
                 dict(batch=1, in_dim=7, out_dim=5, bias=True),
                 dict(batch=4, in_dim=33, out_dim=10, bias=False),
                 dict(batch=3, in_dim=16, out_dim=17, bias=True),
             )),
    Operator("conv2d", conv2d, attrs=_CONV_ATTRS + ("layout",),
             description="2-D convolution, NCHW/OIHW or NHWC/HWIO, padding, stride, dilation",
             default_params=dict(batch=1, in_channel=64, height=56, width=56, out_channel=64,
                                 kernel_size=3, stride=1, padding=1),
             small_params=(
                 dict(batch=1, in_channel=3, height=7, width=9, out_channel=5, kernel_size=3,
                      stride=1, padding=1),
                 dict(batch=2, in_channel=4, height=11, width=10, out_channel=6, kernel_size=3,
                      stride=2, padding=0),
                 dict(batch=1, in_channel=3, height=9, width=8, out_channel=4, kernel_size=3,
                      stride=1, padding=2, dilation=2),
                 dict(batch=1, in_channel=5, height=6, width=7, out_channel=3, kernel_size=(1, 3),
                      stride=(2, 1), padding=(0, 1)),
                 dict(batch=1, in_channel=8, height=5, width=5, out_channel=7, kernel_size=1),
                 dict(batch=1, in_channel=3, height=7, width=9, out_channel=5, kernel_size=3,
                      stride=1, padding=1, layout="NHWC"),
                 dict(batch=2, in_channel=4, height=10, width=11, out_channel=3, kernel_size=3,
                      stride=2, padding=(1, 2, 0, 1), dilation=(2, 1), layout="NHWC"),
                 dict(batch=1, in_channel=4, height=6, width=6, out_channel=4, kernel_size=3,
                      stride=1, padding=1, dtype="int8", out_dtype="int32"),
             )),
    Operator("depthwise_conv2d", depthwise_conv2d, attrs=_CONV_ATTRS,
             description="depthwise 2-D convolution, NCHW, kernel (C, multiplier, KH, KW)",
             default_params=dict(batch=1, channel=128, height=56, width=56, kernel_size=3,
                                 stride=1, padding=1),
             small_params=(
                 dict(batch=1, channel=3, height=7, width=9, kernel_size=3, stride=1, padding=1),
                 dict(batch=2, channel=4, height=10, width=11, kernel_size=3, stride=2, padding=1),
                 dict(batch=1, channel=2, height=9, width=8, kernel_size=3, stride=1, padding=2,
                      dilation=2, multiplier=2),
                 dict(batch=1, channel=5, height=6, width=6, kernel_size=(1, 3), stride=(1, 2),
                      padding=(0, 1)),
                 dict(batch=1, channel=8, height=8, width=8, kernel_size=3, stride=1, padding=0),
             )),
    Operator("conv2d_transpose", conv2d_transpose, attrs=("stride", "padding", "output_padding",
                                                          "out_dtype"),
             description="transposed 2-D convolution, NCHW, kernel IOHW, PyTorch semantics",
             default_params=dict(batch=1, in_channel=256, height=8, width=8, out_channel=128,
                                 kernel_size=4, stride=2, padding=1),
             small_params=(
                 dict(batch=1, in_channel=3, height=4, width=5, out_channel=2, kernel_size=3,
                      stride=1, padding=0),
                 dict(batch=1, in_channel=4, height=4, width=4, out_channel=3, kernel_size=4,
                      stride=2, padding=1),
                 dict(batch=2, in_channel=3, height=5, width=3, out_channel=2, kernel_size=3,
                      stride=2, padding=1, output_padding=1),
                 dict(batch=1, in_channel=2, height=3, width=4, out_channel=5, kernel_size=(3, 2),
                      stride=(3, 2), padding=(2, 1), output_padding=(2, 0)),
             )),
    Operator("pool2d", pool2d, attrs=("pool_size", "stride", "padding", "pool_type", "layout"),
             description="max / avg (count_include_pad=True) 2-D pooling, NCHW or NHWC",
             default_params=dict(batch=1, channel=64, height=112, width=112, pool_size=3,
                                 stride=2, padding=1, pool_type="max"),
             small_params=(
                 dict(batch=1, channel=3, height=7, width=7, pool_size=3, stride=2, padding=1,
                      pool_type="max"),
                 dict(batch=1, channel=3, height=7, width=7, pool_size=3, stride=2, padding=1,
                      pool_type="avg"),
                 dict(batch=2, channel=2, height=8, width=9, pool_size=2, stride=2, padding=0,
                      pool_type="max"),
                 dict(batch=1, channel=4, height=9, width=6, pool_size=(3, 2), stride=(1, 2),
                      padding=(1, 0), pool_type="avg"),
                 dict(batch=1, channel=5, height=6, width=7, pool_size=3, stride=1, padding=1,
                      pool_type="max", layout="NHWC"),
                 dict(batch=1, channel=5, height=6, width=7, pool_size=3, stride=2, padding=1,
                      pool_type="avg", layout="NHWC"),
             )),
    Operator("relu", relu, description="max(x, 0) elementwise",
             default_params=dict(shape=(1, 64, 56, 56)),
             small_params=(dict(shape=(17,)), dict(shape=(2, 3, 5, 7)), dict(shape=(4, 33)))),
    Operator("bias_add", bias_add, attrs=("axis",), description="data + bias along one axis",
             default_params=dict(shape=(1, 64, 56, 56), axis=1),
             small_params=(dict(shape=(2, 3, 5, 4), axis=1), dict(shape=(5, 17), axis=-1),
                           dict(shape=(1, 4, 3, 6), axis=3))),
    Operator("add", add, description="A + B elementwise",
             default_params=dict(shape=(1, 64, 56, 56)),
             small_params=(dict(shape=(13,)), dict(shape=(3, 5, 7)), dict(shape=(64, 64)))),
    Operator("softmax", softmax, description="numerically stable softmax along the last axis",
             default_params=dict(shape=(64, 1000)),
             small_params=(dict(shape=(7,)), dict(shape=(4, 10)), dict(shape=(2, 3, 17)))),
)}


def names() -> list[str]:
    return list(OPERATORS)


def get(name: str) -> Operator:
    try:
        return OPERATORS[name]
    except KeyError:
        raise KeyError(f"unknown operator {name!r}; known: {', '.join(OPERATORS)}") from None


def all_cases() -> Iterator[tuple[Operator, dict]]:
    """Every (operator, small parameter set) pair, in catalog order."""
    for op in OPERATORS.values():
        for params in op.small_params:
            yield op, params
