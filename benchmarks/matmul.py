"""1024^3 fp32 matmul: numpy vs the default schedule vs the blocked hand schedule, GFLOP/s on 1 and
2 threads, the parallel speedup, and build latency. Run: python benchmarks/matmul.py [size]"""
import statistics
import sys
import time

import numpy as np
from _harness import kernel_time, median_time, numpy_threads, table, verdict

import workbench as wb
from kernels import cpu_schedules, matmul

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
M = N = K = n
flop = matmul.flops(M, N, K)
rng = np.random.default_rng(0)
a = rng.standard_normal((M, K)).astype("float32")
b = rng.standard_normal((K, N)).astype("float32")
c = np.zeros((M, N), "float32")
expected = a @ b

# numpy first
gf = {}
for t in (1, 2):
    with numpy_threads(t):
        gf[("numpy", t)] = flop / median_time(lambda: np.matmul(a, b, out=c)) / 1e9

# the default schedule: one naive loop nest (timed once per thread count; it is slow)
inputs, out = matmul.make(M, N, K)
default = wb.build(wb.create_schedule(out), inputs + [out])
default(a, b, c)
assert np.allclose(c, expected, rtol=1e-3, atol=1e-2)
default.num_threads = 1
t0 = time.perf_counter(); default(a, b, c); gf[("default", 1)] = flop / (time.perf_counter() - t0) / 1e9

# the hand schedule
s, args = cpu_schedules.matmul_blocked(M, N, K)
hand = wb.build(s, args)
c[:] = 0
hand(a, b, c)
assert np.allclose(c, expected, rtol=1e-3, atol=1e-2), "hand schedule is wrong"
for t in (1, 2):
    gf[("hand", t)] = flop / kernel_time(hand, (a, b, c), t) / 1e9

# build latency of the hand schedule: lowering + LLVM codegen, median of 20
lower_ms, build_ms = [], []
for _ in range(20):
    s, args = cpu_schedules.matmul_blocked(M, N, K)
    t0 = time.perf_counter(); func = wb.lower(s, args); t1 = time.perf_counter()
    wb.build(s, args); t2 = time.perf_counter()
    lower_ms.append((t1 - t0) * 1e3)
    build_ms.append((t2 - t1) * 1e3)

rows = []
for name in ("numpy", "default", "hand"):
    for t in (1, 2):
        if (name, t) in gf:
            rows.append([name, t, f"{gf[(name, t)]:.1f}", f"{gf[(name, t)] / gf[('numpy', t)]:.2f}x"])
table(f"matmul {M}x{N}x{K} fp32 (GFLOP/s; ratio to numpy at the same thread count)",
      ["schedule", "threads", "GFLOP/s", "vs numpy"], rows)
speedup = gf[("hand", 2)] / gf[("hand", 1)]
build = statistics.median(build_ms)
ratio = gf[("hand", 2)] / gf[("numpy", 2)]
table("targets", ["what", "measured", "target", ""], [
    ["hand vs numpy (2 threads)", f"{ratio:.2f}x", ">= 0.7x", verdict(ratio >= 0.7)],
    ["hand vs numpy (1 thread)", f"{gf[('hand', 1)] / gf[('numpy', 1)]:.2f}x", "(TVM: ~1.1x)", ""],
    ["parallel speedup 2 vs 1 thread", f"{speedup:.2f}x", ">= 1.8x", verdict(speedup >= 1.8)],
    ["build latency (median of 20)", f"{build:.0f} ms", "<= 100 ms", verdict(build <= 100)],
    ["  of which lowering", f"{statistics.median(lower_ms):.0f} ms", "", ""],
])
