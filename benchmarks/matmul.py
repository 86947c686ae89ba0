"""1024^3 fp32 matmul: numpy vs the default schedule vs the blocked hand schedule vs TVM's "How to
optimize GEMM on CPU" tutorial schedule, GFLOP/s on 1 and 2 threads, the parallel speedup, build
latency (lower + LLVM + JIT, uncached, median of 20: wall clock with LLVM compiling the kernel's
units on the default compile threads, the process's CPU time on all threads, and the wall clock on one
compile thread) and the cached rebuild of a structurally equal schedule.
Run: python benchmarks/matmul.py [size]"""
import statistics
import sys
import time

import numpy as np
from _harness import kernel_time, median_time, numpy_threads, table, verdict

import workbench as wb
from kernels import cpu_schedules, gemm_tutorial, matmul

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

# the hand schedules
hand_schedules = {"hand (blocked)": cpu_schedules.matmul_blocked,
                  "TVM GEMM tutorial": lambda M, N, K: gemm_tutorial.schedule("parallel", M, N, K)}
for name, make in hand_schedules.items():
    try:
        s, args = make(M, N, K)
        f = wb.build(s, args)
    except wb.ScheduleError as e:         # a schedule this build cannot express yet
        print(f"{name}: n/a ({e})")
        continue
    c[:] = 0
    f(a, b, c)
    assert np.allclose(c, expected, rtol=1e-3, atol=1e-2), f"{name} schedule is wrong"
    for t in (1, 2):
        gf[(name, t)] = flop / kernel_time(f, (a, b, c), t) / 1e9

# build latency of the blocked schedule: lowering + LLVM codegen + JIT, uncached, median of 20
wall, cpu, wall_1, lower_ms = [], [], [], []
for _ in range(20):
    s, args = cpu_schedules.matmul_blocked(M, N, K)
    t0 = time.perf_counter(); wb.lower(s, args); lower_ms.append((time.perf_counter() - t0) * 1e3)
    t0, c0 = time.perf_counter(), time.process_time()
    wb.build(s, args, cache=None)
    wall.append((time.perf_counter() - t0) * 1e3)
    cpu.append((time.process_time() - c0) * 1e3)
    t0 = time.perf_counter(); wb.build(s, args, cache=None, compile_threads=1)
    wall_1.append((time.perf_counter() - t0) * 1e3)
# undo/redo: rebuilding a structurally equal schedule through the compile cache
s, args = cpu_schedules.matmul_blocked(M, N, K)
wb.build(s, args)
cached = []
for _ in range(20):
    s, args = cpu_schedules.matmul_blocked(M, N, K)
    t0 = time.perf_counter(); wb.build(s, args); cached.append((time.perf_counter() - t0) * 1e3)

rows = []
for name in ("numpy", "default", *hand_schedules):
    for t in (1, 2):
        if (name, t) in gf:
            rows.append([name, t, f"{gf[(name, t)]:.1f}", f"{gf[(name, t)] / gf[('numpy', t)]:.2f}x"])
        elif name != "default":
            rows.append([name, t, "n/a", "n/a"])
table(f"matmul {M}x{N}x{K} fp32 (GFLOP/s; ratio to numpy at the same thread count)",
      ["schedule", "threads", "GFLOP/s", "vs numpy"], rows)


def ratio(name, t):
    return gf[(name, t)] / gf[("numpy", t)] if (name, t) in gf else None


def row(what, r, target, ok):
    return [what, "n/a" if r is None else f"{r:.2f}x", target, "" if r is None else verdict(ok(r))]


hand = "hand (blocked)"
speedup = gf[(hand, 2)] / gf[(hand, 1)]
build_wall, build_cpu, build_1, rebuild = (statistics.median(x) for x in (wall, cpu, wall_1, cached))
table("targets", ["what", "measured", "target", ""], [
    row("blocked vs numpy (1 thread)", ratio(hand, 1), ">= 1.05x", lambda r: r >= 1.05),
    row("blocked vs numpy (2 threads)", ratio(hand, 2), ">= 1.05x", lambda r: r >= 1.05),
    row("TVM tutorial vs numpy (1 thread)", ratio("TVM GEMM tutorial", 1), ">= 0.7x", lambda r: r >= 0.7),
    row("TVM tutorial vs numpy (2 threads)", ratio("TVM GEMM tutorial", 2), ">= 0.7x", lambda r: r >= 0.7),
    ["parallel speedup 2 vs 1 thread", f"{speedup:.2f}x", ">= 1.8x", verdict(speedup >= 1.8)],
    ["build latency, wall (median of 20)", f"{build_wall:.1f} ms", "<= 40 ms", verdict(build_wall <= 40)],
    ["  CPU time of it, all threads", f"{build_cpu:.1f} ms", "", ""],
    ["  wall on one compile thread", f"{build_1:.1f} ms", "", ""],
    ["  of which lowering (wall)", f"{statistics.median(lower_ms):.1f} ms", "", ""],
    ["cached rebuild (median of 20)", f"{rebuild:.2f} ms", "<= 2 ms", verdict(rebuild <= 2)],
])
