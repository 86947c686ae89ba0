"""global average pooling, NCHW: out[n, c, 0, 0] = mean over (h, w) of data[n, c, h, w].

Stages: "data", the reduction "global_pool_sum", the elementwise "global_avg_pool2d"."""
from __future__ import annotations

import numpy as np

from workbench import te


def compute(data: te.Tensor) -> te.Tensor:
    if data.ndim != 4:
        raise ValueError(f"global_avg_pool2d: expects NCHW data, got shape {data.shape}")
    if not data.dtype.startswith("float"):
        raise TypeError(f"global_avg_pool2d: needs a float dtype, got {data.dtype}")
    N, C, H, W = data.shape
    rh = te.reduce_axis((0, H), name="rh")
    rw = te.reduce_axis((0, W), name="rw")
    total = te.compute((N, C, 1, 1), lambda n, c, y, x: te.sum(data[n, c, rh, rw], axis=[rh, rw]),
                       name="global_pool_sum")
    return te.compute((N, C, 1, 1), lambda n, c, y, x: total[n, c, y, x] * te.const(1.0 / (H * W),
                      data.dtype), name="global_avg_pool2d")


def make(batch: int, channel: int, height: int, width: int, dtype: str = "float32"):
    data = te.placeholder((batch, channel, height, width), dtype, name="data")
    return [data], compute(data)


def reference(data: np.ndarray) -> np.ndarray:
    return data.astype(np.float64).mean(axis=(2, 3), keepdims=True).astype(data.dtype)


def flops(batch, channel, height, width, **_) -> int:
    return batch * channel * (height * width + 1)
