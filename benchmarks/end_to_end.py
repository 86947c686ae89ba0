"""Whole networks at batch 1: onnxruntime (first, the baseline), PyTorch eager, and the workbench
(fallback schedules; tuned with --log), as latency ratios to onnxruntime on 1 and 2 threads; peak
activation memory with and without planning; fusion's gain (fused vs unfused, same schedules).

Run: python benchmarks/end_to_end.py [--image 224] [--models resnet18 mobilenet_v2 dcgan]
                                     [--log tuned.jsonl] [--tune N] [--profile]

--profile: where the time goes, per operator kind, ours (mod.time's per-layer profile) beside
onnxruntime's own profiler (SessionOptions.enable_profiling), at the first thread count.
"""
import argparse
import collections
import json
import os
import tempfile
import time

import numpy as np
from _harness import median_time, table

import torch  # noqa: E402  (the models are PyTorch modules; torch is the 'torch' extra)
import onnxruntime as ort  # noqa: E402

from workbench import graph  # noqa: E402
from workbench.graph import models  # noqa: E402
from workbench.graph.frontend import torch_to_onnx  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--image", type=int, default=224)
ap.add_argument("--models", nargs="+", default=["resnet18", "mobilenet_v2", "dcgan"])
ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
ap.add_argument("--log", default=None, help="tuning log: also measure the tuned network")
ap.add_argument("--tune", type=int, default=0, metavar="N",
                help="first tune every conv task of each model for N trials into --log")
ap.add_argument("--profile", action="store_true",
                help="per operator kind: ours vs onnxruntime's profiler (first thread count)")

# operator kinds, so our fused groups and onnxruntime's nodes can be compared
_ORT_KIND = {"Conv": "conv", "FusedConv": "conv", "MaxPool": "pool", "AveragePool": "pool",
             "GlobalAveragePool": "pool", "Gemm": "dense", "MatMul": "dense",
             "ReorderInput": "layout", "ReorderOutput": "layout", "ConvTranspose": "conv_transpose"}
_OUR_KIND = {"conv2d": "conv", "conv2d_nchwc": "conv", "conv2d_winograd_nchwc": "conv",
             "depthwise_conv2d": "conv",
             "depthwise_conv2d_nchwc": "conv", "max_pool2d": "pool", "max_pool2d_nchwc": "pool",
             "avg_pool2d": "pool", "avg_pool2d_nchwc": "pool", "global_avg_pool2d": "pool",
             "dense": "dense", "layout_transform": "layout", "conv2d_transpose": "conv_transpose"}


def ort_profile(onnx_bytes, x, threads: int, runs: int = 20) -> dict:
    """Median ms per run of each onnxruntime node, summed per operator kind."""
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
    so.enable_profiling = True
    with tempfile.TemporaryDirectory() as d:
        so.profile_file_prefix = os.path.join(d, "ort")
        sess = ort.InferenceSession(onnx_bytes, so, providers=["CPUExecutionProvider"])
        for _ in range(runs):
            sess.run(None, {"input": x})
        with open(sess.end_profiling()) as f:
            events = json.load(f)
    per_node = collections.defaultdict(list)
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            per_node[(e["name"], e["args"].get("op_name"))].append(e["dur"] / 1e3)
    kinds: dict = collections.Counter()
    for (_, op), durs in per_node.items():
        kinds[_ORT_KIND.get(op, "other")] += float(np.median(durs))
    return kinds


def our_profile(mod, x) -> dict:
    prof = mod.time({"input": x})
    kinds: dict = collections.Counter()
    for st, (_, _, t, _) in zip(mod.steps, prof.layers):
        op = st.anchor if st.anchor != "injective" else mod.graph[st.name].op   # the anchor's op
        kinds[_OUR_KIND.get(op, "other")] += t * 1e3
    return kinds




def main(opts):
    lat_rows, mem_rows, fuse_rows, tune_rows, prof_rows = [], [], [], [], []
    for name in opts.models:
        model, xt = models.make(name, seed=0, image=opts.image)
        x = xt.numpy()
        onnx_bytes = torch_to_onnx(model, xt)
        t0 = time.perf_counter()
        g = graph.from_onnx(onnx_bytes)
        opt = graph.optimize(g)
        mod = graph.build(opt)
        build_s = time.perf_counter() - t0
        unfused = graph.build(graph.optimize(g, fuse=False))
        if opts.tune:
            if not opts.log:
                raise SystemExit("--tune needs --log")
            t1 = time.perf_counter()
            spent = graph.tune_graph(opt, opts.log, n_trial=opts.tune)
            tune_rows.append([name, len(spent), opts.tune, f"{time.perf_counter() - t1:.0f}"])
        tuned = graph.build(opt, log=opts.log) if opts.log else None
        sessions = {}
        for t in opts.threads:
            so = ort.SessionOptions()
            so.intra_op_num_threads, so.inter_op_num_threads = t, 1
            sessions[t] = ort.InferenceSession(onnx_bytes, so, providers=["CPUExecutionProvider"])
        expected = sessions[opts.threads[0]].run(None, {"input": x})[0]
        err = float(np.abs(mod.run({"input": x})["output"] - expected).max())
        for t in opts.threads:
            base = median_time(lambda: sessions[t].run(None, {"input": x}))   # onnxruntime first
            torch.set_num_threads(t)
            with torch.no_grad():
                eager = median_time(lambda: model(xt))
            mod.num_threads = unfused.num_threads = t
            ours = median_time(lambda: mod.run({"input": x}))
            ours_unfused = median_time(lambda: unfused.run({"input": x}))
            row = [name, t, f"{base * 1e3:.2f}", f"{base / eager:.2f}", f"{base / ours:.2f}"]
            if tuned is not None:
                tuned.num_threads = t
                row.append(f"{base / median_time(lambda: tuned.run({'input': x})):.2f}")
            lat_rows.append(row + [f"{ours * 1e3:.2f}", f"{err:.1e}"])
            fuse_rows.append([name, t, len(unfused.steps), len(mod.steps), f"{ours_unfused * 1e3:.2f}",
                              f"{ours * 1e3:.2f}", f"{ours_unfused / ours:.2f}x"])
        if opts.profile:
            t = opts.threads[0]
            theirs = ort_profile(onnx_bytes, x, t)
            for label, m in (("fallback", mod), ("tuned", tuned)):
                if m is None:
                    continue
                m.num_threads = t
                ours = our_profile(m, x)
                for kind in sorted(set(ours) | set(theirs)):
                    a, b = ours.get(kind, 0.0), theirs.get(kind, 0.0)
                    prof_rows.append([name, label, t, kind, f"{b:.3f}", f"{a:.3f}",
                                      f"{b / a:.2f}" if a and b else "-"])
        mem_rows.append([name, len(opt.ops()), f"{mod.plan.no_reuse_bytes / 2**20:.2f}",
                         f"{mod.plan.peak_bytes / 2**20:.2f}",
                         f"{mod.plan.no_reuse_bytes / mod.plan.peak_bytes:.2f}x", f"{build_s:.1f}"])

    header = ["model", "threads", "onnxruntime ms", "torch eager (x ort)", "ours fallback (x ort)"]
    if opts.log:
        header.append("ours tuned (x ort)")
    table(f"Batch-1 latency, {opts.image}x{opts.image} images (speed relative to onnxruntime: "
          ">1 is faster)", header + ["ours ms", "max |ours - ort|"], lat_rows)
    table("Activation memory (MiB): every intermediate in its own buffer vs liveness planning",
          ["model", "graph ops", "no reuse", "planned", "saving", "import+optimize+build s"], mem_rows)
    table("Fusion gain, same schedules (TVM paper: 1.2-2x)",
          ["model", "threads", "kernels unfused", "kernels fused", "unfused ms", "fused ms", "gain"],
          fuse_rows)
    if prof_rows:
        table("Where the time goes (ms per run, summed per operator kind; onnxruntime's profiler "
              "vs our per-layer profile; ratio >1: ours faster)",
              ["model", "ours", "threads", "kind", "onnxruntime ms", "ours ms", "ratio"], prof_rows)
    if tune_rows:
        table("Tuning budget (XGBTuner, transfer between a model's conv tasks)",
              ["model", "tasks", "trials per task", "wall s"], tune_rows)


if __name__ == "__main__":     # the tuner's measurement workers import this file: only run as a script
    main(ap.parse_args())
