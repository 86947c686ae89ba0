"""Softmax over the rows of a 1024x1024 fp32 matrix: numpy (max, subtract, exp, sum, divide in
float32) vs the default schedule vs the hand schedule (kernels.cpu_schedules.softmax_rows), on 1 and
2 threads. Run: python benchmarks/softmax.py [rows] [cols]"""
import sys

import numpy as np
from _harness import kernel_time, median_time, numpy_threads, table, verdict

import workbench as wb
from kernels import cpu_schedules, softmax

rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
cols = int(sys.argv[2]) if len(sys.argv) > 2 else rows
x = np.random.default_rng(0).standard_normal((rows, cols)).astype("float32")
y = np.zeros_like(x)
expected = softmax.reference(x)


def numpy_softmax(x, out):
    np.subtract(x, x.max(axis=1, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=1, keepdims=True)


ms = {}
for t in (1, 2):        # numpy first
    with numpy_threads(t):
        ms[("numpy", t)] = median_time(lambda: numpy_softmax(x, y)) * 1e3
np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-7)

inputs, out = softmax.make((rows, cols))
default = wb.build(wb.create_schedule(out), inputs + [out])
s, args = cpu_schedules.softmax_rows(rows, cols)
hand = wb.build(s, args)
for name, f in (("default", default), ("hand", hand)):
    y[:] = 0
    f(x, y)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-7, err_msg=f"{name} schedule is wrong")
    for t in (1, 2):
        ms[(name, t)] = kernel_time(f, (x, y), t) * 1e3

table(f"softmax {rows}x{cols} fp32 (ms per call; speed relative to numpy at the same thread count)",
      ["schedule", "threads", "ms", "vs numpy"],
      [[name, t, f"{ms[(name, t)]:.3f}", f"{ms[('numpy', t)] / ms[(name, t)]:.2f}x"]
       for name in ("numpy", "default", "hand") for t in (1, 2)])
r1, r2 = ms[("numpy", 1)] / ms[("hand", 1)], ms[("numpy", 2)] / ms[("hand", 2)]
table("targets", ["what", "measured", "target", ""], [
    ["hand vs numpy (1 thread)", f"{r1:.2f}x", ">= 0.8x", verdict(r1 >= 0.8)],
    ["hand vs numpy (2 threads)", f"{r2:.2f}x", ">= 0.8x", verdict(r2 >= 0.8)],
])
