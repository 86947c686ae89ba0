"""Injective data-movement operators: reshape, concatenate, and the NCHW <-> NCHW[x]c layout
transforms that the graph's layout pass inserts around blocked convolutions."""
from __future__ import annotations

import numpy as np

from workbench import te


def reshape(data: te.Tensor, shape, name: str = "reshape") -> te.Tensor:
    """Row-major reshape (same element count): flatten the output index, unflatten into the input."""
    shape = tuple(int(d) for d in shape)
    if int(np.prod(shape)) != int(np.prod(data.shape)):
        raise ValueError(f"reshape: cannot reshape {data.shape} into {shape}")
    if shape == tuple(data.shape):
        return te.compute(shape, lambda *i: data[i], name=name)

    def body(*idx):
        flat = None
        for i, n in zip(idx, shape):
            flat = i if flat is None else flat * n + i
        src, rest = [], flat
        strides = np.cumprod((1,) + tuple(data.shape[::-1]))[:-1][::-1]
        for d, st in enumerate(strides):
            q = rest // int(st) if st != 1 else rest
            src.append(q if d == 0 else q % data.shape[d])
        return data[tuple(src)]

    return te.compute(shape, body, name=name)


def concatenate(tensors, axis: int, name: str = "concat") -> te.Tensor:
    """Join tensors along `axis` (all other dims equal)."""
    first = tensors[0]
    axis = axis % first.ndim
    for t in tensors[1:]:
        if t.ndim != first.ndim or any(a != b for d, (a, b) in enumerate(zip(t.shape, first.shape))
                                       if d != axis):
            raise ValueError(f"concatenate: shapes {[t.shape for t in tensors]} differ off axis {axis}")
    offsets = np.cumsum([0] + [t.shape[axis] for t in tensors])
    shape = list(first.shape)
    shape[axis] = int(offsets[-1])

    def body(*idx):
        out = None
        for t, lo in zip(tensors, offsets[:-1]):       # later pieces override from their offset
            src = list(idx)
            src[axis] = idx[axis] - int(lo) if lo else idx[axis]
            val = t[tuple(src)]
            out = val if out is None else te.if_then_else(idx[axis] >= int(lo), val, out)
        return out

    return te.compute(tuple(shape), body, name=name)


def nchw_to_nchwc(data: te.Tensor, block: int, name: str = "layout_nchwc") -> te.Tensor:
    """(N, C, H, W) -> (N, C/block, H, W, block)."""
    N, C, H, W = data.shape
    if C % block:
        raise ValueError(f"layout_transform: channels {C} are not a multiple of the block {block}")
    return te.compute((N, C // block, H, W, block),
                      lambda n, co, y, x, ci: data[n, co * block + ci, y, x], name=name)


def nchwc_to_nchw(data: te.Tensor, name: str = "layout_nchw") -> te.Tensor:
    """(N, C/block, H, W, block) -> (N, C, H, W)."""
    N, CO, H, W, b = data.shape
    return te.compute((N, CO * b, H, W), lambda n, c, y, x: data[n, c // b, y, x, c % b], name=name)


def reference_nchw_to_nchwc(x: np.ndarray, block: int) -> np.ndarray:
    N, C, H, W = x.shape
    return np.ascontiguousarray(x.reshape(N, C // block, block, H, W).transpose(0, 1, 3, 4, 2))


def reference_nchwc_to_nchw(x: np.ndarray) -> np.ndarray:
    N, CO, H, W, b = x.shape
    return np.ascontiguousarray(x.transpose(0, 1, 4, 2, 3).reshape(N, CO * b, H, W))
