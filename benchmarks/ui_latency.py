"""UI responsiveness: how long a click takes to show its result (kernel side, no browser).

    python benchmarks/ui_latency.py            # 512^3 matmul explorer + ResNet-18 C6 timeline
    python benchmarks/ui_latency.py --quick    # 256^3, fewer repetitions

1. ScheduleExplorer on a 512^3 matmul: a primitive button is clicked (the same handler the browser
   calls); "click -> IR" is the synchronous part (replay, lower, analysis, loop tree, legal-choice
   lists, highlighted IR); "click -> chart" adds the background build, numpy check and timing, until
   the chart's data source holds the new point. Target: click -> IR and chart <= 300 ms median.
2. VTATimeline on ResNet-18 C6: a slider move recompiles the layer, re-simulates it and redraws
   (new Bokeh data, serialized as the patch the browser receives). Target <= 1 s.
3. The aggregated view of a 10^5-event program: redraw after a zoom.

numpy's 512^3 sgemm is timed first, in the same process, as the scale of one kernel call.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _harness import median_time, table, verdict  # noqa: E402


def explorer_latency(n: int, clicks: int):
    from workbench.ui import ScheduleExplorer
    ex = ScheduleExplorer("matmul", M=n, N=n, K=n)
    ex.wait(600)
    ex.apply("reorder", "C", "i", "k", "j")         # leave the 0.5 GFLOP/s default before timing clicks
    ex.wait(600)
    # a walk of fresh steps (no cached result), each a button click on the selected loop
    steps = [("j", "split", 64), ("j.inner", "split", 16), ("j.inner.inner", "vectorize", None),
             ("i", "split", 8), ("i.inner", "unroll", None), ("k", "split", 4), ("k.inner", "unroll", None),
             ("i.outer", "parallel", None)]
    rows = []
    for axis, button, factor in steps[:clicks]:
        ex.select("C", axis)
        if factor is not None:
            ex.factor.value = factor
        n_before = len(ex.chart_src.data["step"])
        t0 = time.perf_counter()
        ex.btn[button].click()
        t_ir = time.perf_counter() - t0
        ex.wait(600)
        t_chart = time.perf_counter() - t0
        assert len(ex.chart_src.data["step"]) == n_before + 1, "chart did not gain the new step"
        r = ex.last_result
        rows.append((f"{button} {axis}" + (f" {factor}" if factor else ""), t_ir,
                     ex.timings.get("first_point", float("nan")) + t_ir, t_chart,
                     r.lower_s, r.build_s, r.seconds, r.gflops))
    ex.close()
    return rows


def timeline_latency(moves: int):
    from workbench.ui import VTATimeline
    tl = VTATimeline.resnet_layer("C6", nthreads=2)
    seq = [("threads", 1), ("threads", 2), ("BUS_WIDTH", 128), ("BUS_WIDTH", 64),
           ("LOG_BLOCK", 5), ("LOG_BLOCK", 4)] * 4
    rows = []
    for field, value in seq[:moves]:
        slider = tl.threads_slider if field == "threads" else tl.sliders[field]
        t0 = time.perf_counter()
        slider.value = value
        rows.append((f"{field}={value}", time.perf_counter() - t0, tl.cycles, tl.timings))
    return rows


def aggregate_latency():
    from accel.programs import gemm
    from workbench.ui import VTATimeline
    tl = VTATimeline(lambda e, n: gemm.build(e, 64, 256, 256, nthreads=n, tiles=gemm.GemmTiles(1, 1, 1))[0])
    n_events = len(tl.data)
    times = []
    for k in range(6):
        span = tl.cycles / (1 + k)
        t0 = time.perf_counter()
        tl.zoom(0, span)
        times.append(time.perf_counter() - t0)
    return n_events, len(tl.result.program.insns), tl.timings, statistics.median(times), tl.mode


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n = 256 if args.quick else 512
    a = np.random.rand(n, n).astype(np.float32)
    t_np = median_time(lambda: a @ a)
    print(f"numpy sgemm {n}^3: {t_np * 1e3:.3f} ms per call (scale of one kernel call)")

    rows = explorer_latency(n, 4 if args.quick else 8)
    table(f"ScheduleExplorer, matmul {n}^3: click -> IR; -> first chart point (build, check, one call); "
          "-> final point (median of repeated timing)",
          ["click", "-> IR ms", "-> chart ms", "-> final ms", "lower ms", "build ms", "kernel ms", "GFLOP/s"],
          [(c, f"{ti * 1e3:.0f}", f"{tf * 1e3:.0f}", f"{tc * 1e3:.0f}", f"{lo * 1e3:.1f}", f"{bu * 1e3:.0f}",
            f"{ks * 1e3:.3f}", f"{g:.1f}") for c, ti, tf, tc, lo, bu, ks, g in rows])
    med_ir = statistics.median(r[1] for r in rows)
    med_first = statistics.median(r[2] for r in rows)
    med_final = statistics.median(r[3] for r in rows)
    print(f"median click -> IR {med_ir * 1e3:.0f} ms ({verdict(med_ir <= 0.3)} <= 300 ms); click -> chart "
          f"{med_first * 1e3:.0f} ms ({verdict(med_first <= 0.3)} <= 300 ms); -> final median {med_final * 1e3:.0f} ms")

    rows = timeline_latency(6 if args.quick else 24)
    table("VTATimeline, ResNet-18 C6: slider move -> recompiled, re-simulated, redrawn",
          ["move", "total ms", "compile ms", "simulate ms", "draw ms", "cycles"],
          [(m, f"{t * 1e3:.0f}", f"{tm['compile'] * 1e3:.1f}", f"{tm['simulate'] * 1e3:.1f}",
            f"{tm['draw'] * 1e3:.1f}", f"{c:,}") for m, t, c, tm in rows])
    med = statistics.median(r[1] for r in rows)
    print(f"median redraw after a slider move {med * 1e3:.0f} ms ({verdict(med <= 1.0)} <= 1 s)")

    n_events, n_insns, tm, t_zoom, mode = aggregate_latency()
    print(f"\n10^5-event view: {n_insns:,} instructions, {n_events:,} events; first build "
          f"{tm['total']:.2f} s (compile {tm['compile']:.2f}, simulate {tm['simulate']:.2f}, "
          f"draw {tm['draw']:.2f}); redraw after a zoom {t_zoom * 1e3:.0f} ms median ({mode} at the end)")


if __name__ == "__main__":
    main()
