"""Run the functional simulator's matmuls on one BLAS thread.

Its matmuls are small (one tile per instruction); multi-threaded OpenBLAS spins up threads for
each and, on a loaded 2-core machine, runs 10-40x slower than one thread.  The thread count is
lowered only for the duration of a simulation and restored afterwards, so code that benchmarks
numpy with all threads in the same process is unaffected.  Where OpenBLAS cannot be found
(another BLAS, another OS) this is a no-op.
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import re

_SUFFIXES = ("", "64_")
_PREFIXES = ("openblas", "scipy_openblas")


@functools.lru_cache(maxsize=1)
def _openblas():
    try:
        import numpy  # noqa: F401  (make sure numpy's BLAS is loaded)
        with open("/proc/self/maps") as fh:
            paths = set(re.findall(r"(/\S*openblas\S*\.so\S*)", fh.read()))
    except OSError:
        return None
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for pre in _PREFIXES:
            for suf in _SUFFIXES:
                get = getattr(lib, f"{pre}_get_num_threads{suf}", None)
                set_ = getattr(lib, f"{pre}_set_num_threads{suf}", None)
                if get is not None and set_ is not None:
                    get.restype = ctypes.c_int
                    set_.argtypes = [ctypes.c_int]
                    return get, set_
    return None


@contextlib.contextmanager
def single_thread():
    api = _openblas()
    if api is None:
        yield
        return
    get, set_ = api
    before = get()
    set_(1)
    try:
        yield
    finally:
        set_(before)
