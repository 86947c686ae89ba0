"""Small helpers for hand-built PrimFuncs in the codegen tests."""
from __future__ import annotations

import ctypes
import mmap
from contextlib import contextmanager

import numpy as np

from workbench.runtime import build_func
from workbench.ir import Buffer, BufferLoad, BufferStore, For, PrimFunc, Ramp, Var, const


def buf(name, shape, dtype="float32", scope="global"):
    return Buffer(name, tuple(shape) if isinstance(shape, (tuple, list)) else (shape,), dtype, scope)


def load(b, idx):
    return BufferLoad(b, (idx,))


def store(b, idx, value):
    return BufferStore(b, value, (idx,))


def loop(var, extent, body, kind="serial", lo=0):
    return For(var, const(lo) if isinstance(lo, int) else lo,
               const(extent) if isinstance(extent, int) else extent, kind, body)


def build(name, params, body, **kw):
    return build_func(PrimFunc(name, tuple(params), body), **kw)


def elementwise(fn, in_dtypes, out_dtype, n=37, lanes=1):
    """out[i] = fn(in0[i], in1[i], ...) as a kernel; with lanes > 1 a vector loop over Ramp indices
    (n must then be a multiple of lanes)."""
    ins = [buf(f"x{k}", n, d) for k, d in enumerate(in_dtypes)]
    out = buf("out", n, out_dtype)
    i = Var("i")
    if lanes == 1:
        idx, ext = i, n
    else:
        assert n % lanes == 0
        idx, ext = Ramp(i * lanes, 1, lanes), n // lanes
    body = loop(i, ext, store(out, idx, fn(*[load(b, idx) for b in ins])))
    return build("ew", ins + [out], body)


@contextmanager
def guarded_array(n, dtype="float32"):
    """A writable array of n elements that ends exactly where an inaccessible page begins:
    any read past its end segfaults (catches speculative out-of-bounds loads)."""
    page = mmap.PAGESIZE
    itemsize = np.dtype(dtype).itemsize
    size = -(-n * itemsize // page) * page
    mm = mmap.mmap(-1, size + page)
    base = np.frombuffer(mm, np.uint8)
    addr = base.ctypes.data
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    assert libc.mprotect(addr + size, page, 0) == 0
    arr = np.frombuffer(mm, dtype, count=n, offset=size - n * itemsize)
    try:
        yield arr
    finally:
        libc.mprotect(addr + size, page, 3)
        del arr, base
        try:
            mm.close()
        except BufferError:
            pass
