"""ResNet-18 conv2d layers (default C6): numpy im2col+sgemm vs the default schedule vs the blocked
hand schedule, GFLOP/s on 1 and 2 threads, and build latency.
Run: python benchmarks/conv2d.py [C6 C9 ...]"""
import statistics
import sys
import time

import numpy as np
from _harness import kernel_time, median_time, numpy_threads, table, verdict

import workbench as wb
from kernels import conv2d, cpu_schedules, workloads

names = sys.argv[1:] or ["C6"]
rows, targets = [], []
for name in names:
    w = workloads.get(name)
    p = w.params()
    conv_args = dict(stride=p["stride"], padding=p["padding"])
    flop = conv2d.flops(**p)
    inputs, out = conv2d.make(**p)
    rng = np.random.default_rng(0)
    d = rng.standard_normal(inputs[0].shape).astype("float32")
    k = rng.standard_normal(inputs[1].shape).astype("float32")
    o = np.zeros(out.shape, "float32")
    expected = conv2d.reference(d, k, **conv_args)
    gf = {}
    for t in (1, 2):   # numpy first
        with numpy_threads(t):
            gf[("numpy im2col", t)] = flop / median_time(lambda: conv2d.reference_im2col(d, k, **conv_args)) / 1e9
    default = wb.build(wb.create_schedule(out), inputs + [out])
    default(d, k, o)
    assert np.allclose(o, expected, rtol=1e-3, atol=1e-2)
    default.num_threads = 1
    t0 = time.perf_counter(); default(d, k, o); gf[("default", 1)] = flop / (time.perf_counter() - t0) / 1e9
    build_ms = []
    for _ in range(5):
        s, args = cpu_schedules.conv2d_nchw_blocked(p["batch"], p["in_channel"], p["height"], p["width"],
                                                    p["out_channel"], p["kernel_size"], p["stride"], p["padding"])
        t0 = time.perf_counter(); hand = wb.build(s, args); build_ms.append((time.perf_counter() - t0) * 1e3)
    o[:] = 0
    hand(d, k, o)
    assert np.allclose(o, expected, rtol=1e-3, atol=1e-2), f"hand schedule is wrong on {name}"
    for t in (1, 2):
        gf[("hand", t)] = flop / kernel_time(hand, (d, k, o), t) / 1e9
    for sched in ("numpy im2col", "default", "hand"):
        for t in (1, 2):
            if (sched, t) in gf:
                rows.append([name, sched, t, f"{gf[(sched, t)]:.1f}",
                             f"{gf[(sched, t)] / gf[('numpy im2col', t)]:.2f}x"])
    ratio = gf[("hand", 2)] / gf[("numpy im2col", 2)]
    targets.append([f"{name} hand vs numpy im2col (2 threads)", f"{ratio:.2f}x", ">= 0.5x", verdict(ratio >= 0.5)])
    targets.append([f"{name} parallel speedup", f"{gf[('hand', 2)] / gf[('hand', 1)]:.2f}x", "", ""])
    targets.append([f"{name} build latency (median of 5)", f"{statistics.median(build_ms):.0f} ms", "", ""])

table("conv2d NCHW fp32 (GFLOP/s; ratio to numpy im2col+sgemm at the same thread count)",
      ["layer", "schedule", "threads", "GFLOP/s", "vs numpy"], rows)
table("targets", ["what", "measured", "target", ""], targets)
