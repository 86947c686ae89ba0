"""3x3 stride-1 conv2d by Winograd's minimal filtering F(2x2, 3x3) in the blocked NCHW[x]c layout
(Lavin & Gray 2016; TVM's conv2d_winograd): 16 multiplications per 2x2 output tile and input
channel instead of 36, so 2.25x fewer FMAs than the direct convolution, paid for by cheap
additions that transform input tiles and output tiles.

data   (N, C/ib, H, W, ib)
kernel (4, 4, F/ob, C/ib, ib, ob)   = G g G^T per (output, input) channel, by `transform_kernel`
out    (N, F/ob, H, W, ob)          (padding 1, stride 1, H and W even)

Stages: "pad"; "wino_V" (4, 4, N, C/ib, H/2, W/2, ib) = B^T d B of every 4x4 input tile;
"wino_M" (4, 4, N, F/ob, H/2, W/2, ob) = sum over input channels of V * U (16 batched GEMMs, the
FLOPs); the output A^T M A (whose stage also takes a fused epilogue).
"""
from __future__ import annotations

import numpy as np

from workbench import te

from ._common import pad as pad_stage

# F(2x2, 3x3): Y = A^T [(G g G^T) * (B^T d B)] A
_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float64)


def applicable(data_shape, kernel_hw, stride, padding, dilation) -> bool:
    """3x3 kernel, stride 1, padding 1 on every side, no dilation, even output size."""
    H, W = data_shape[2:4]
    return (tuple(kernel_hw) == (3, 3) and tuple(stride) == (1, 1) and tuple(dilation) == (1, 1)
            and tuple(padding) == (1, 1, 1, 1) and H % 2 == 0 and W % 2 == 0)


def transform_kernel(w: np.ndarray, in_block: int, out_block: int) -> np.ndarray:
    """OIHW 3x3 -> U = G g G^T as (4, 4, O/ob, I/ib, ib, ob), float32 (computed in float64)."""
    O, I, KH, KW = w.shape
    if (KH, KW) != (3, 3) or O % out_block or I % in_block:
        raise ValueError(f"winograd transform_kernel: kernel {w.shape} must be 3x3 with channels "
                         f"multiples of ({out_block}, {in_block})")
    u = np.einsum("ea,oiab,ub->euoi", _G, w.astype(np.float64), _G)
    u = u.reshape(4, 4, O // out_block, out_block, I // in_block, in_block)
    return np.ascontiguousarray(u.transpose(0, 1, 2, 4, 5, 3).astype(np.float32))


_BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float64)
_AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float64)


def reference(data: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """The same F(2x2, 3x3) algorithm in numpy (float64): blocked data and transformed kernel ->
    blocked output. Equal to the direct convolution up to rounding (tested)."""
    N, CO, H, W, ib = data.shape
    _, _, FO, _, _, ob = kernel.shape
    x = data.transpose(0, 1, 4, 2, 3).reshape(N, CO * ib, H, W).astype(np.float64)
    x = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    nh, nw = H // 2, W // 2
    tiles = np.stack([np.stack([x[:, :, a:a + 2 * nh:2, b:b + 2 * nw:2] for b in range(4)], -1)
                      for a in range(4)], -2)                       # (N, C, nh, nw, 4, 4)
    v = np.einsum("ea,nctsab,ub->euncts", _BT, tiles, _BT)
    u = kernel.astype(np.float64).transpose(0, 1, 2, 5, 3, 4).reshape(4, 4, FO * ob, CO * ib)
    m = np.einsum("eufc,euncts->eunfts", u, v)
    y = np.einsum("ie,eunfts,ju->nftisj", _AT, m, _AT).reshape(N, FO * ob, H, W)
    return np.ascontiguousarray(y.reshape(N, FO, ob, H, W).transpose(0, 1, 3, 4, 2)
                                .astype(data.dtype))


def _bt(k, f):
    """Row k of B^T applied to f(0..3): [1 0 -1 0], [0 1 1 0], [0 -1 1 0], [0 1 0 -1]."""
    return te.if_then_else(k == 0, f(0) - f(2), te.if_then_else(
        k == 1, f(1) + f(2), te.if_then_else(k == 2, f(2) - f(1), f(1) - f(3))))


def _at(k, f):
    """Row k of A^T applied to f(0..3): [1 1 1 0], [0 1 -1 -1]."""
    return te.if_then_else(k == 0, f(0) + f(1) + f(2), f(1) - f(2) - f(3))


def compute(data: te.Tensor, kernel: te.Tensor, name: str = "conv2d_winograd"):
    """-> (V, M, out): the input transform, the batched GEMM and the output (see the module)."""
    N, CO, H, W, ib = data.shape
    _, _, FO, CO2, ib2, ob = kernel.shape
    if (CO, ib) != (CO2, ib2) or H % 2 or W % 2:
        raise ValueError(f"conv2d_winograd: data {data.shape} and kernel {kernel.shape} disagree, "
                         "or the image size is odd")
    nh, nw = H // 2, W // 2
    p = pad_stage(data, (0, 0, 1, 1, 0), (0, 0, 1, 1, 0), name="pad")
    V = te.compute((4, 4, N, CO, nh, nw, ib), lambda e, u, n, c, th, tw, ci: _bt(
        e, lambda a: _bt(u, lambda b: p[n, c, th * 2 + a, tw * 2 + b, ci])), name="wino_V")
    rco = te.reduce_axis((0, CO), name="rco")
    rci = te.reduce_axis((0, ib), name="rci")
    M = te.compute((4, 4, N, FO, nh, nw, ob), lambda e, u, n, fo, th, tw, fi: te.sum(
        V[e, u, n, rco, th, tw, rci] * kernel[e, u, fo, rco, rci, fi], axis=[rco, rci]),
        name="wino_M")
    out = te.compute((N, FO, H, W, ob), lambda n, fo, y, x, fi: _at(
        y % 2, lambda a: _at(x % 2, lambda b: M[a, b, n, fo, y // 2, x // 2, fi])), name=name)
    return V, M, out


def schedule(s, V, M, outer, tile_block: int | None = None) -> None:
    """Input transform: per (channel chunk, tile row), the 16 transformed values of each tile
    unrolled, channel lanes vectorized. GEMM: a register block of `tile_block` tiles x one vector
    of output channels accumulated over the input channels (like the direct conv's register
    block). Output: per (channel chunk, tile row) in parallel, the 2x2 outputs of a tile
    unrolled, channel lanes vectorized; `outer` is the output tensor (epilogue inlined into it)."""
    e, u, n, c, th, tw, ci = s[V].op.axis
    s[V].reorder(n, c, th, tw, e, u, ci)
    s[V].parallel(s[V].fuse(n, c, th))
    s[V].unroll(e)
    s[V].unroll(u)
    s[V].vectorize(ci)
    nw = M.shape[5]
    tb = tile_block or max(d for d in range(1, 15) if nw % d == 0)
    acc = s.cache_write(M, "local")
    e, u, n, fo, th, tw, fi = s[M].op.axis
    two, twi = s[M].split(tw, factor=tb)
    s[M].reorder(n, fo, e, u, th, two, twi, fi)
    s[M].parallel(s[M].fuse(n, fo, e, u))
    s[M].vectorize(fi)
    s[acc].compute_at(s[M], two)
    _, _, _, _, _, atw, afi = s[acc].op.axis
    rco, rci = s[acc].op.reduce_axis
    s[acc].reorder(rco, rci, atw, afi)
    s[acc].unroll(atw)
    s[acc].vectorize(afi)
    n, fo, y, x, fi = s[outer].op.axis
    yo, yi = s[outer].split(y, factor=2)
    xo, xi = s[outer].split(x, factor=2)
    s[outer].reorder(n, fo, yo, xo, yi, xi, fi)
    s[outer].parallel(s[outer].fuse(n, fo, yo))
    s[outer].unroll(yi)
    s[outer].unroll(xi)
    s[outer].vectorize(fi)
