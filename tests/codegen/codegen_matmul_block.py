"""A hand-lowered matmul with a 4x64 register block, as the lowering of a TVM-style schedule gives it:

    for jo in parallel(N // 64):                  # 64-wide column panels of B and C
      for io in range(M // 4):
        C_local = allocate([4, 64], "float32", scope="local")
        for ii in unrolled(4): for jv in unrolled(4): C_local[ramp(ii*64 + jv*16, 1, 16)] = 0
        for k in range(K):
          for ii in unrolled(4): for jv in unrolled(4):
            C_local[ramp(ii*64+jv*16, 1, 16)] += broadcast(A[(io*4+ii)*K + k]) * B[ramp(k*N + jo*64 + jv*16, 1, 16)]
        for ii in unrolled(4): for jv in unrolled(4): C[ramp(...)] = C_local[ramp(...)]

Run as a script for the build-latency and GFLOP/s figures (vs numpy, same process):
    python tests/codegen/codegen_matmul_block.py [N]
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

from workbench.ir import (Allocate, Broadcast, Buffer, BufferLoad, BufferStore, For, PrimFunc, Ramp,  # noqa: E402
                          Var, const, seq)


def matmul_block(M: int = 1024, N: int = 1024, K: int = 1024, parallel: bool = True) -> PrimFunc:
    A = Buffer("A", (M, K), "float32")
    B = Buffer("B", (K, N), "float32")
    C = Buffer("C", (M, N), "float32")
    CL = Buffer("C_local", (4, 64), "float32", scope="local")
    jo, io, k, ii, jv = (Var(n) for n in ("j_outer", "i_outer", "k", "i_inner", "j_vec"))

    def local_idx():
        return Ramp(ii * 64 + jv * 16, 1, 16)

    def block(body):
        return For(ii, const(0), const(4), "unrolled", For(jv, const(0), const(4), "unrolled", body))

    init = block(BufferStore(CL, Broadcast(const(0.0, "float32"), 16), (local_idx(),)))
    a = Broadcast(BufferLoad(A, ((io * 4 + ii) * K + k,)), 16)
    b = BufferLoad(B, (Ramp(k * N + jo * 64 + jv * 16, 1, 16),))
    update = block(BufferStore(CL, BufferLoad(CL, (local_idx(),)) + a * b, (local_idx(),)))
    write = block(BufferStore(C, BufferLoad(CL, (local_idx(),)),
                              (Ramp((io * 4 + ii) * N + jo * 64 + jv * 16, 1, 16),)))
    tile = Allocate(CL, seq(init, For(k, const(0), const(K), "serial", update), write))
    body = For(jo, const(0), const(N // 64), "parallel" if parallel else "serial",
               For(io, const(0), const(M // 4), "serial", tile))
    return PrimFunc("matmul_4x64", (A, B, C), body)


def main(n: int = 1024, builds: int = 20):
    from workbench.runtime import build_func
    func = matmul_block(n, n, n)
    build_func(func)                                   # warm the process-wide caches
    times, phases = [], []
    for _ in range(builds):
        t = time.perf_counter()
        f = build_func(func)
        times.append(time.perf_counter() - t)
        phases.append(f.build_timings)
    print(f"build latency, median of {builds}: {statistics.median(times) * 1e3:.1f} ms  "
          + "  ".join(f"{k}={statistics.median(p[k] for p in phases) * 1e3:.1f}ms" for k in phases[0]))
    zmm_fma = sum(1 for line in f.asm.splitlines() if "vfmadd" in line and "zmm" in line)
    print(f"zmm FMAs in asm: {zmm_fma}; parallel runtime: {f.parallel_runtime}")

    rng = np.random.default_rng(0)
    a = rng.random((n, n), dtype=np.float32)
    b = rng.random((n, n), dtype=np.float32)
    c = np.zeros((n, n), np.float32)
    f(a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-4)
    flops = 2.0 * n ** 3
    for threads in (1, 2):
        with _blas_threads(threads):
            t_np = _time_numpy(a, b, c)
        f.num_threads = threads
        t = f.time(a, b, c, repeat=5, min_time=0.3)
        print(f"{threads} thread(s): numpy {flops / t_np / 1e9:6.1f} GFLOP/s   "
              f"ours {t.gflops(flops):6.1f} GFLOP/s   ratio {t_np / t.median:.2f}")


@contextlib.contextmanager
def _blas_threads(n):
    """Limit numpy's OpenBLAS to n threads (found among the loaded libraries); no-op otherwise."""
    setter = getter = None
    with open("/proc/self/maps") as fh:
        libs = {line.split()[-1] for line in fh if "openblas" in line.lower()}
    for path in libs:
        lib = ctypes.CDLL(path)
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in ("64_", "_64_", ""):
                if setter is None and hasattr(lib, f"{prefix}_set_num_threads{suffix}"):
                    setter = getattr(lib, f"{prefix}_set_num_threads{suffix}")
                    getter = getattr(lib, f"{prefix}_get_num_threads{suffix}")
    if setter is None:
        yield
        return
    old = getter()
    setter(n)
    try:
        yield
    finally:
        setter(old)


def _time_numpy(a, b, c, repeat=5):
    np.matmul(a, b, out=c)
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        np.matmul(a, b, out=c)
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1024)
