"""Tuning benchmark: XGBTuner vs RandomTuner on 1024^3 matmul and ResNet-18 C2, C6, C9 (kernels.
workloads), over seeds (median), 1 thread per kernel. Baselines measured in the same run, numpy
first: numpy (matmul: sgemm; conv: im2col + sgemm), PyTorch conv2d (oneDNN), our hand schedules
(kernels.cpu_schedules). Also: the generated space (Task.from_compute, no template) on matmul, and
transfer learning (C9 seeded with the C2 and C6 logs) vs C9 from scratch.

Reports per workload: best GFLOP/s of each tuner (re-timed here), trials to reach 95% of the best
any tuner found, wall seconds per 64 trials, and the model's predictions per second.

Run: python benchmarks/tuning.py [--quick] [--seeds 5] [--trials 64] [mm C2 C6 C9]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np
from _harness import kernel_time, median_time, numpy_threads, table

import kernels
import workbench as wb
from kernels import conv2d, cpu_schedules, workloads
from workbench import te, tune

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("workloads", nargs="*", default=["mm", "C2", "C6", "C9"])
ap.add_argument("--quick", action="store_true", help="2 seeds, 32 trials")
ap.add_argument("--seeds", type=int, default=None)
ap.add_argument("--trials", type=int, default=None)
ap.add_argument("--no-generated", action="store_true")
ap.add_argument("--no-transfer", action="store_true")


MEASURE = tune.MeasureOptions(number=1, repeat=3, num_threads=1, run_timeout=20)


def conv_task(name):
    p = workloads.get(name).params()
    return tune.Task(kernels.conv2d.cpu_template, args=(p["batch"], p["in_channel"], p["height"],
                     p["width"], p["out_channel"], p["kernel_size"], p["stride"], p["padding"])), p


def baselines(name):
    """(GFLOP/s dict, arrays) measured here: numpy first, then torch, then the hand schedule."""
    rng = np.random.default_rng(0)
    gf = {}
    if name == "mm":
        a, b = (rng.random((1024, 1024), dtype=np.float32) for _ in range(2))
        flop = 2 * 1024 ** 3
        with numpy_threads(1):
            gf["numpy"] = flop / median_time(lambda: a @ b) / 1e9
        s, args = cpu_schedules.matmul_blocked(1024, 1024, 1024)
        c = np.zeros((1024, 1024), np.float32)
        gf["hand"] = flop / kernel_time(wb.build(s, args), (a, b, c), 1) / 1e9
        return gf, (a, b, c)
    p = workloads.get(name).params()
    flop = conv2d.flops(**p)
    inputs, out = conv2d.make(**p)
    d = rng.standard_normal(inputs[0].shape).astype("float32")
    k = rng.standard_normal(inputs[1].shape).astype("float32")
    o = np.zeros(out.shape, "float32")
    with numpy_threads(1):
        gf["numpy"] = flop / median_time(lambda: conv2d.reference_im2col(d, k, stride=p["stride"],
                                                                         padding=p["padding"])) / 1e9
    try:
        import torch
        torch.set_num_threads(1)
        td, tk = torch.from_numpy(d), torch.from_numpy(k)
        with torch.no_grad():
            gf["torch"] = flop / median_time(lambda: torch.nn.functional.conv2d(
                td, tk, stride=p["stride"], padding=p["padding"])) / 1e9
    except ImportError:
        gf["torch"] = float("nan")
    s, args = cpu_schedules.conv2d_nchw_blocked(p["batch"], p["in_channel"], p["height"], p["width"],
                                                p["out_channel"], p["kernel_size"], p["stride"],
                                                p["padding"])
    gf["hand"] = flop / kernel_time(wb.build(s, args), (d, k, o), 1) / 1e9
    return gf, (d, k, o)


def retime(task, index, arrays) -> float:
    """GFLOP/s of a config re-timed in this process (1 thread), side by side with the baselines."""
    f = task.build(index)
    return task.flop / kernel_time(f, arrays, 1) / 1e9


def run(tuner_cls, task, seed, trials, log=None, **kw):
    t0 = time.perf_counter()
    with tune.LocalMeasure(MEASURE) as m:
        tuner = tuner_cls(task, seed=seed, **kw).tune(trials, measure=m, log=log, batch_size=8)
    return tuner, time.perf_counter() - t0


def main():
    opt = ap.parse_args()
    SEEDS = opt.seeds or (2 if opt.quick else 5)
    TRIALS = opt.trials or (32 if opt.quick else 64)
    logdir = tempfile.mkdtemp(prefix="wb-tuning-bench-")
    summary, details = [], []
    logs = {}
    for name in opt.workloads:
        task = tune.Task(kernels.matmul.cpu_template, args=(1024, 1024, 1024)) if name == "mm" \
            else conv_task(name)[0]
        gf, arrays = baselines(name)
        runs = {"xgb": [], "random": []}
        for seed in range(SEEDS):
            log = f"{logdir}/{name}-xgb-{seed}.jsonl"
            runs["xgb"].append(run(tune.XGBTuner, task, seed, TRIALS, log=log))
            logs.setdefault(name, log)
            runs["random"].append(run(tune.RandomTuner, task, seed, TRIALS))
        best_any = min(t.best_cost for rs in runs.values() for t, _ in rs)
        row = {}
        for kind, rs in runs.items():
            reach = [t.trials_to_reach(0.95, best_any) or TRIALS + 1 for t, _ in rs]
            wall = [w * 64 / TRIALS for _, w in rs]
            best_t = min((t for t, _ in rs), key=lambda t: t.best_cost)
            row[kind] = dict(reach=statistics.median(reach), wall=statistics.median(wall),
                             gflops=retime(task, best_t.best_index, arrays),
                             med_best=statistics.median(task.flop / t.best_cost / 1e9 for t, _ in rs))
        pps = statistics.median(t.model.predictions_per_second for t, _ in runs["xgb"])
        choose = statistics.median(t.time_choosing for t, _ in runs["xgb"])
        ref = "numpy" if name == "mm" else "hand"
        summary.append([name, f"{gf['numpy']:.1f}", f"{gf.get('torch', float('nan')):.1f}", f"{gf['hand']:.1f}",
                        f"{row['xgb']['gflops']:.1f}", f"{row['random']['gflops']:.1f}",
                        f"{row['xgb']['gflops'] / gf[ref]:.2f}x {ref}",
                        f"{row['xgb']['reach']:.0f} / {row['random']['reach']:.0f}",
                        f"{row['xgb']['wall']:.0f} / {row['random']['wall']:.0f}",
                        f"{pps:.0f}", f"{choose:.1f}"])

    table(f"Tuning, 1 thread, {SEEDS} seeds x {TRIALS} trials (GFLOP/s; best config re-timed here)",
          ["workload", "numpy", "torch", "hand", "XGB best", "Random best", "XGB vs", "trials to 95% XGB/Rnd",
           "wall s/64 XGB/Rnd", "XGB pred/s", "XGB s choosing"], summary)

    if not opt.no_generated and "mm" in opt.workloads:
        A = te.placeholder((1024, 1024), name="A")
        B = te.placeholder((1024, 1024), name="B")
        k = te.reduce_axis((0, 1024), name="k")
        C = te.compute((1024, 1024), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")
        gtask = tune.Task.from_compute([C])
        tmpl = tune.Task(kernels.matmul.cpu_template, args=(1024, 1024, 1024))
        gtuner, wall = run(tune.XGBTuner, gtask, 0, TRIALS)
        _, arrays = baselines("mm")
        g = retime(gtask, gtuner.best_index, arrays)
        tbest = tune.best_config(logs["mm"], tmpl)
        t = retime(tmpl, tbest.index, arrays)
        table("Generated space (no template) vs the matmul template, XGB, 1 thread",
              ["space", "configs", "best GFLOP/s", "ratio to template", "wall s"],
              [["generated (from_compute)", len(gtask.space), f"{g:.1f}", f"{g / t:.2f}", f"{wall:.0f}"],
               ["template (seed 0 log)", len(tmpl.space), f"{t:.1f}", "1.00", ""]])

    if not opt.no_transfer and {"C2", "C6", "C9"} <= set(opt.workloads):
        c9, _ = conv_task("C9")
        history = tune.load_log(logs["C2"]).records + tune.load_log(logs["C6"]).records
        rows = []
        scratch, transfer = [], []
        for seed in range(SEEDS):
            s_t, _ = run(tune.XGBTuner, c9, 100 + seed, TRIALS)
            x_t, _ = run(tune.XGBTuner, c9, 100 + seed, TRIALS, transfer=history)
            best = min(s_t.best_cost, x_t.best_cost)
            scratch.append(s_t.trials_to_reach(0.95, best) or TRIALS + 1)
            transfer.append(x_t.trials_to_reach(0.95, best) or TRIALS + 1)
        table("Transfer learning on C9 (base model from the C2 + C6 XGB logs), trials to 95% of the best of both",
              ["run", "median trials", "per seed"],
              [["from scratch", statistics.median(scratch), scratch],
               ["with transfer", statistics.median(transfer), transfer]])
    print(f"\nlogs: {logdir}")


if __name__ == "__main__":     # measurement workers re-import this module
    main()
