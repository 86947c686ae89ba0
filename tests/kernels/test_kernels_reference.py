"""Each numpy reference against a straightforward loop implementation on tiny shapes.

The loop versions below are written from the operator definitions (explicit index arithmetic and
bounds checks, no padding/windowing helpers), so they share no code with kernels/."""
from __future__ import annotations

import math

import numpy as np
import pytest

from _kernels_te_eval import assert_matches
from kernels import conv2d, registry


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _pads(p):
    if isinstance(p, int):
        return p, p, p, p
    if len(p) == 2:
        return p[0], p[1], p[0], p[1]
    return tuple(p)


def loop_matmul(a, b):
    M, K = a.shape
    N = b.shape[1]
    out = np.zeros((M, N))
    for i in range(M):
        for j in range(N):
            out[i, j] = sum(float(a[i, k]) * float(b[k, j]) for k in range(K))
    return out


def loop_conv2d_nchw(x, w, stride, padding, dilation):
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    (sh, sw), (dh, dw) = _pair(stride), _pair(dilation)
    pt, pl, pb, pr = _pads(padding)
    OH = (H + pt + pb - dh * (KH - 1) - 1) // sh + 1
    OW = (W + pl + pr - dw * (KW - 1) - 1) // sw + 1
    out = np.zeros((N, F, OH, OW))
    for n in range(N):
        for f in range(F):
            for y in range(OH):
                for xx in range(OW):
                    acc = 0.0
                    for c in range(C):
                        for r in range(KH):
                            for s in range(KW):
                                iy, ix = y * sh + r * dh - pt, xx * sw + s * dw - pl
                                if 0 <= iy < H and 0 <= ix < W:
                                    acc += float(x[n, c, iy, ix]) * float(w[f, c, r, s])
                    out[n, f, y, xx] = acc
    return out


def loop_depthwise(x, w, stride, padding, dilation):
    """Output channel c*M + m is a one-channel convolution of input channel c with w[c, m]."""
    C, M = w.shape[:2]
    return np.concatenate([loop_conv2d_nchw(x[:, c:c + 1], w[c, m][None, None], stride, padding,
                                            dilation) for c in range(C) for m in range(M)], axis=1)


def loop_conv2d_transpose(x, w, stride, padding, output_padding):
    """PyTorch's definition: input pixel (i, j) times tap (r, s) lands at (i*sh + r - ph, ...)."""
    N, C, H, W = x.shape
    _, F, KH, KW = w.shape
    (sh, sw), (ph, pw), (oph, opw) = _pair(stride), _pair(padding), _pair(output_padding)
    OH = (H - 1) * sh - 2 * ph + KH + oph
    OW = (W - 1) * sw - 2 * pw + KW + opw
    out = np.zeros((N, F, OH, OW))
    for n in range(N):
        for c in range(C):
            for i in range(H):
                for j in range(W):
                    for f in range(F):
                        for r in range(KH):
                            for s in range(KW):
                                y, xx = i * sh + r - ph, j * sw + s - pw
                                if 0 <= y < OH and 0 <= xx < OW:
                                    out[n, f, y, xx] += float(x[n, c, i, j]) * float(w[c, f, r, s])
    return out


def loop_pool_nchw(x, pool_size, stride, padding, pool_type):
    N, C, H, W = x.shape
    (KH, KW), (sh, sw) = _pair(pool_size), _pair(stride)
    pt, pl, pb, pr = _pads(padding)
    OH, OW = (H + pt + pb - KH) // sh + 1, (W + pl + pr - KW) // sw + 1
    out = np.zeros((N, C, OH, OW))
    for n, c, y, xx in np.ndindex(N, C, OH, OW):
        vals = [float(x[n, c, y * sh + r - pt, xx * sw + s - pl])
                for r in range(KH) for s in range(KW)
                if 0 <= y * sh + r - pt < H and 0 <= xx * sw + s - pl < W]
        # count_include_pad=True: the padded zeros count in the average
        out[n, c, y, xx] = max(vals) if pool_type == "max" else sum(vals) / (KH * KW)
    return out


def loop_softmax(x):
    out = np.zeros(x.shape)
    for idx in np.ndindex(x.shape[:-1]):
        row = [float(v) for v in x[idx]]
        m = max(row)
        es = [math.exp(v - m) for v in row]
        out[idx] = [e / sum(es) for e in es]
    return out


def _nhwc(fn):
    """Run an NCHW loop implementation on NHWC data (kernel HWIO -> OIHW), result back to NHWC."""
    def run(x, w, *args):
        return fn(x.transpose(0, 3, 1, 2), w.transpose(3, 2, 0, 1), *args).transpose(0, 2, 3, 1)
    return run


def loop_impl(name, arrays, p):
    if name == "matmul":
        return loop_matmul(*arrays)
    if name == "batch_matmul":
        return np.stack([loop_matmul(a, b) for a, b in zip(*arrays)])
    if name == "dense":
        out = loop_matmul(arrays[0], arrays[1].T)
        return out + arrays[2] if p.get("bias", True) else out
    if name == "conv2d":
        fn = loop_conv2d_nchw if p.get("layout", "NCHW") == "NCHW" else _nhwc(loop_conv2d_nchw)
        return fn(*arrays, p.get("stride", 1), p.get("padding", 0), p.get("dilation", 1))
    if name == "depthwise_conv2d":
        return loop_depthwise(*arrays, p.get("stride", 1), p.get("padding", 0), p.get("dilation", 1))
    if name == "conv2d_transpose":
        return loop_conv2d_transpose(*arrays, p.get("stride", 1), p.get("padding", 0),
                                     p.get("output_padding", 0))
    if name == "pool2d":
        args = (p["pool_size"], p.get("stride", 1), p.get("padding", 0), p.get("pool_type", "max"))
        if p.get("layout", "NCHW") == "NCHW":
            return loop_pool_nchw(arrays[0], *args)
        return loop_pool_nchw(arrays[0].transpose(0, 3, 1, 2), *args).transpose(0, 2, 3, 1)
    if name == "relu":
        x = arrays[0]
        out = np.zeros(x.shape)
        for i in np.ndindex(x.shape):
            out[i] = x[i] if x[i] > 0 else 0.0
        return out
    if name == "add":
        a, b = arrays
        out = np.zeros(a.shape)
        for i in np.ndindex(a.shape):
            out[i] = float(a[i]) + float(b[i])
        return out
    if name == "bias_add":
        x, b = arrays
        axis = p.get("axis", 1) % x.ndim
        out = np.zeros(x.shape)
        for i in np.ndindex(x.shape):
            out[i] = float(x[i]) + float(b[i[axis]])
        return out
    if name == "softmax":
        return loop_softmax(arrays[0])
    raise KeyError(name)


CASES = list(registry.all_cases())


@pytest.mark.parametrize("op,params", CASES, ids=[f"{o.name}[{registry.case_id(p)}]" for o, p in CASES])
def test_reference_matches_loops(op, params):
    arrays = op.random_inputs(seed=1, **params)
    got = op.reference(*arrays, **params)
    want = loop_impl(op.name, arrays, params)
    assert_matches(got, want.astype(got.dtype) if got.dtype.kind in "iu" else want, 1e-5, 1e-5)


def test_every_operator_has_a_loop_implementation_and_awkward_cases():
    names = {o.name for o, _ in CASES}
    assert names == set(registry.names())
    conv = registry.get("conv2d").small_params
    assert any(p.get("stride", 1) == 2 for p in conv)
    assert any(p.get("dilation", 1) == 2 for p in conv)
    assert any(p.get("layout") == "NHWC" for p in conv)
    assert {p["pool_type"] for p in registry.get("pool2d").small_params} == {"max", "avg"}


def test_conv2d_transpose_known_values():
    """A 2x2 input of ones, 3x3 kernel of ones, stride 2: the overlap row/column counts twice."""
    from kernels import conv2d_transpose
    x = np.ones((1, 1, 2, 2), np.float32)
    w = np.ones((1, 1, 3, 3), np.float32)
    out = conv2d_transpose.reference(x, w, stride=2)[0, 0]
    assert out.shape == (5, 5)
    np.testing.assert_array_equal(out[2], [2, 2, 4, 2, 2])
    np.testing.assert_array_equal(out[:, 0], [1, 1, 2, 1, 1])
    cropped = conv2d_transpose.reference(x, w, stride=2, padding=1, output_padding=1)[0, 0]
    assert cropped.shape == (4, 4)                  # (2-1)*2 - 2 + 3 + 1
    # padding crops 1 from each side; output_padding gives back one row/column at the end
    np.testing.assert_array_equal(cropped, out[1:5, 1:5])
    x3 = np.ones((1, 1, 1, 1), np.float32)         # here output_padding reaches past every tap
    out3 = conv2d_transpose.reference(x3, np.ones((1, 1, 2, 2), np.float32), stride=3,
                                      output_padding=2)[0, 0]
    np.testing.assert_array_equal(out3, [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])


def test_avg_pool_counts_padding():
    from kernels import pool2d
    x = np.ones((1, 1, 2, 2), np.float32)
    out = pool2d.reference(x, 3, stride=1, padding=1, pool_type="avg")
    np.testing.assert_allclose(out[0, 0], np.full((2, 2), 4 / 9), rtol=1e-6)


def test_softmax_is_stable_for_large_inputs():
    from kernels import softmax
    x = np.array([[1000.0, 1000.0], [-1e4, 0.0]], np.float32)
    out = softmax.reference(x)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, [[0.5, 0.5], [0.0, 1.0]], atol=1e-7)


@pytest.mark.parametrize("params", [p for p in registry.get("conv2d").small_params
                                    if p.get("dtype", "float32") == "float32"],
                         ids=registry.case_id)
def test_conv2d_im2col_baseline_matches_reference(params):
    op = registry.get("conv2d")
    x, w = op.random_inputs(seed=2, **params)
    attrs = {k: params[k] for k in ("stride", "padding", "dilation", "layout") if k in params}
    fast = conv2d.reference_im2col(x, w, **attrs)
    assert fast.dtype == np.float32 and fast.flags.c_contiguous
    np.testing.assert_allclose(fast, conv2d.reference(x, w, **attrs), rtol=1e-4, atol=1e-4)


def test_matmul_reference_is_plain_matmul():
    from kernels import matmul
    a, b = np.ones((3, 4), np.float32), np.ones((4, 5), np.float32)
    out = matmul.reference(a, b)
    assert out.dtype == np.float32 and (out == 4).all()
    ai, bi = np.full((2, 64), 100, np.int8), np.full((64, 2), 100, np.int8)
    assert (matmul.reference(ai, bi, out_dtype="int32") == 640000).all()   # no int8 overflow
