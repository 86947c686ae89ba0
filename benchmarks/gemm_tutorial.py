"""TVM's "How to optimize GEMM on CPU" schedules (kernels/gemm_tutorial.py) at 1024^3 fp32 against
numpy, measured side by side (numpy first). Run: python benchmarks/gemm_tutorial.py [size]"""
import sys

import numpy as np
from _harness import kernel_time, median_time, numpy_threads, table, verdict

import workbench as wb
from kernels import gemm_tutorial

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
flop = 2.0 * n ** 3
rng = np.random.default_rng(0)
a = rng.standard_normal((n, n)).astype("float32")
b = rng.standard_normal((n, n)).astype("float32")
c = np.zeros((n, n), "float32")
expected = a @ b

numpy_gf = {}
for t in (1, 2):
    with numpy_threads(t):
        numpy_gf[t] = flop / median_time(lambda: np.matmul(a, b, out=c)) / 1e9

rows, ratios = [["numpy", 1, f"{numpy_gf[1]:.1f}", "1.00x"], ["numpy", 2, f"{numpy_gf[2]:.1f}", "1.00x"]], {}
for step in gemm_tutorial.STEPS:
    s, args = gemm_tutorial.schedule(step, n, n, n)
    f = wb.build(s, args)
    c[:] = 0
    f(a, b, c)
    assert np.allclose(c, expected, rtol=1e-3, atol=1e-2), f"{step} is wrong"
    threads = 2 if step == "parallel" else 1
    gf = flop / kernel_time(f, (a, b, c), threads) / 1e9
    ratios[step] = gf / numpy_gf[threads]
    rows.append([step, threads, f"{gf:.1f}", f"{ratios[step]:.2f}x"])
table(f"TVM tutorial GEMM {n}^3 fp32 (GFLOP/s; ratio to numpy at the same thread count)",
      ["step", "threads", "GFLOP/s", "vs numpy"], rows)
table("targets", ["what", "measured", "target", ""], [
    ["write_cache vs numpy (1 thread)", f"{ratios['write_cache']:.2f}x", ">= 0.7x",
     verdict(ratios["write_cache"] >= 0.7)],
    ["parallel vs numpy (2 threads)", f"{ratios['parallel']:.2f}x", ">= 0.7x", verdict(ratios["parallel"] >= 0.7)],
])
