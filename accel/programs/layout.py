"""VTA's blocked data layouts and the numpy references the programs are checked against."""
from __future__ import annotations

import numpy as np


def _check(n, block, what):
    if n % block:
        raise ValueError(f"{what}={n} is not a multiple of the block size {block}")


def pack_matrix(a: np.ndarray, rb: int, cb: int) -> np.ndarray:
    """(R, C) -> (R/rb, C/cb, rb, cb): the layout of VTA's inp (rb=BATCH, cb=BLOCK_IN), wgt
    (rb=BLOCK_OUT, cb=BLOCK_IN, weights stored O x I) and out tensors."""
    R, C = a.shape
    _check(R, rb, "rows")
    _check(C, cb, "columns")
    return np.ascontiguousarray(a.reshape(R // rb, rb, C // cb, cb).transpose(0, 2, 1, 3))


def unpack_matrix(p: np.ndarray) -> np.ndarray:
    Rb, Cb, rb, cb = p.shape
    return p.transpose(0, 2, 1, 3).reshape(Rb * rb, Cb * cb)


def _pack_4d(x: np.ndarray, b0: int, b1: int, names) -> np.ndarray:
    """(D0, D1, H, W) -> (D0/b0, D1/b1, H, W, b0, b1): the inner block goes last."""
    D0, D1, H, W = x.shape
    _check(D0, b0, names[0])
    _check(D1, b1, names[1])
    return np.ascontiguousarray(x.reshape(D0 // b0, b0, D1 // b1, b1, H, W).transpose(0, 2, 4, 5, 1, 3))


def pack_nchw(x: np.ndarray, env) -> np.ndarray:
    """NCHW -> NCHW{B}n{BLOCK}c: (N/B, C/BI, H, W, B, BI)."""
    return _pack_4d(x, env.BATCH, env.BLOCK_IN, ("batch N", "channels C"))


def unpack_nchw(p: np.ndarray) -> np.ndarray:
    Nb, Cb, H, W, B, BC = p.shape
    return p.transpose(0, 4, 1, 5, 2, 3).reshape(Nb * B, Cb * BC, H, W)


def pack_oihw(w: np.ndarray, env) -> np.ndarray:
    """OIHW -> OIHW{BO}o{BI}i: (O/BO, I/BI, KH, KW, BO, BI)."""
    return _pack_4d(w, env.BLOCK_OUT, env.BLOCK_IN, ("output channels O", "input channels I"))


def gemm_reference(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """int8 A (M, K) times int8 W (N, K) transposed; int32 accumulate; low 8 bits stored."""
    acc = (a.astype(np.int64) @ w.astype(np.int64).T).astype(np.int32)
    return acc.astype(np.int8)


def conv2d_reference(x, w, *, stride=1, pad=0, shift=0, clip=(0, 127), bias=None) -> np.ndarray:
    """int8 NCHW conv2d, int32 accumulator (+ int32 bias per output channel), then >> shift and
    clip, as VTA's epilogue does."""
    N, C, H, W = x.shape
    O, _, KH, KW = w.shape
    OH = (H + 2 * pad - KH) // stride + 1
    OW = (W + 2 * pad - KW) // stride + 1
    xp = np.pad(x.astype(np.int64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    cols = np.empty((N, C, KH, KW, OH, OW), np.int64)
    for kh in range(KH):
        for kw in range(KW):
            cols[:, :, kh, kw] = xp[:, :, kh:kh + stride * OH:stride, kw:kw + stride * OW:stride]
    acc = np.einsum("nckhyx,ockh->noyx", cols, w.astype(np.int64), optimize=True)
    if bias is not None:
        acc = acc + np.asarray(bias, np.int64).reshape(1, -1, 1, 1)
    acc = acc.astype(np.int32)  # wrap like the 32-bit accumulator
    out = np.right_shift(acc, shift) if shift >= 0 else np.left_shift(acc, -shift)
    return np.clip(out, clip[0], clip[1]).astype(np.int8)
