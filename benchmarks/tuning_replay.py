"""Search study on RECORDED measurements: tuners replayed against a table, not live tuning.

Each workload of benchmarks/tuning.py (1024^3 matmul; ResNet-18 C2, C6, C9 with
kernels.conv2d.cpu_template) is measured once (`--record`): every config of a space of at most
`--sample` configs, else a uniformly random sample of `--sample` of them (seed 0), with
tuning.py's MeasureOptions (1 thread). The table is a tuning log,
results/tuning_replay/<workload>.jsonl (traces dropped to keep it small; resumable: an
interrupted --record measures only what is missing).

The default (no --record) replays: XGBTuner and RandomTuner (and any of --tuners) tune each
workload over `--seeds` seeds, batch `--batch` (2), `--trials` trials, through tune.replay.ReplayMeasure: a
config's cost is its recorded cost, and the space is restricted to the table's configs (configs
that were not measured do not exist for the tuner; a recorded failure stays a failure). Printed:
trials to reach 95% of the TABLE's best (trials + 1 when never reached), median and quartiles
over seeds, and how many of the table's configs are that good (what a random pick hits).
XGBTuner's search is budgeted in featurized configs, not seconds (as live), so a replay is
deterministic. A template's space (3900-6216 valid configs) is featurized and scored whole, live
and in replay (SimulatedAnnealingOptimizer's exhaustive_below), so a replay searches as live does;
`--live-budget` scales the annealer's budget (max_new) and chains by table size / valid configs
of the full space, for a budgeted walk (sa_options={'exhaustive_below': 0}).
The default tables were recorded on a Zen 4; results/tuning_replay/xeon-avx512/ holds mm and C9
recorded on an Intel Xeon with AVX-512 (1000 configs each; `--tables`).
Measured here (Intel Xeon tables, 40 seeds, median trials to 95%): batch 8: C9 45, mm 41;
batch 4: 46, 26; batch 2: 25, 31.

Run: python benchmarks/tuning_replay.py [mm C2 C6 C9] [--seeds 20] [--trials 64]
         [--tuners xgb random ga] [--xgb "plan_size=16 loss_type='reg'" --xgb ...] [--live-budget]
     python benchmarks/tuning_replay.py --record [mm C2 C6 C9] [--sample 1500]
"""
from __future__ import annotations

import argparse
import ast
import os
import statistics
import sys
import time
from dataclasses import replace

import numpy as np
from tuning import MEASURE, make_task

from workbench import tune
from workbench.tune.log import LogWriter, _config_of, make_record, records_for
from workbench.tune.replay import ReplayMeasure

TABLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "results", "tuning_replay")
TUNERS = {"xgb": tune.XGBTuner, "random": tune.RandomTuner, "ga": tune.GATuner}


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workloads", nargs="*", default=["mm", "C2", "C6", "C9"])
    ap.add_argument("--record", action="store_true", help="measure the tables (slow) instead of replaying")
    ap.add_argument("--sample", type=int, default=1500,
                    help="--record: configs per workload (all of a space no larger than this)")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--trials", type=int, default=64)
    ap.add_argument("--tuners", nargs="+", default=["xgb", "random"], choices=list(TUNERS))
    ap.add_argument("--xgb", action="append", default=[], metavar="'KEY=VALUE ...'",
                    help="XGBTuner keyword arguments of one variant, e.g. --xgb \"plan_size=16 "
                         "loss_type='reg'\"; repeat for more variants (each its own row)")
    ap.add_argument("--tables", default=TABLES)
    ap.add_argument("--batch", type=int, default=2,
                    help="configs per batch (tuning.py: one per builder process, 2 on a 2-core machine)")
    ap.add_argument("--live-budget", action="store_true",
                    help="scale XGBTuner's annealing budget and chains by table size / valid configs of the space")
    return ap.parse_args(argv)


def table_path(tables, name):
    return os.path.join(tables, f"{name}.jsonl")


def record(name, tables, sample, batch=16):
    """Measure `name`'s table (all configs, or a random sample of `sample`), appending to its log."""
    task = make_task(name)
    path = table_path(tables, name)
    have = {_config_of(task, r).index for r in records_for(path, task)} if os.path.exists(path) else set()
    rng = np.random.default_rng(0)
    if len(task.space) <= sample:
        want = list(task.space.enumerate())
        rng.shuffle(want)       # an interrupted recording is still a uniform sample
    else:
        want = task.space.sample(rng, sample)
    todo = [i for i in want if i not in have]
    print(f"[record {name}: {len(task.space)} configs in the space, {len(want)} in the table, "
          f"{len(todo)} to measure]", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    # one builder process: the timings are tuning.py's, and the machine is shared (builds in
    # parallel would only make the recording faster)
    with tune.LocalMeasure(replace(MEASURE, n_parallel=1)) as m, LogWriter(path) as w:
        desc = m.describe()
        for n in range(0, len(todo), batch):
            chunk = todo[n:n + batch]
            results = m.measure_batch(task, chunk)
            w.append([make_record(task, task.space.get(i), replace(r, trace=None), str(task.target), desc)
                      for i, r in zip(chunk, results)])
            done = n + len(chunk)
            print(f"  {name}: {done}/{len(todo)} measured, {time.perf_counter() - t0:.0f} s",
                  file=sys.stderr, flush=True)


def parse_kwargs(items):
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def quartiles(xs):
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return f"{q[0]:.0f}-{q[2]:.0f}"


def replay(name, tables, tuners, seeds, trials, variants, live_budget=False, batch=2):
    """One row per tuner (per XGBTuner variant): trials to 95% of the table's best over seeds.
    live_budget: XGBTuner's annealing budget scaled by table size / valid configs of the space."""
    task = make_task(name)
    valid = sum(1 for _ in task.space.enumerate()) if live_budget else None   # before the restriction
    path = table_path(tables, name)
    if not os.path.exists(path):
        raise SystemExit(f"no table for {name} at {path}: run with --record {name} first")
    measure = ReplayMeasure(task, tune.load_log(path).records)
    live_share = len(measure.table) / valid if live_budget else None
    best = measure.best_cost
    ok = [r.cost for r in measure.table.values()]
    good = sum(best / c >= 0.95 for c in ok)
    features: dict = {}     # feature type -> cache shared by all runs: features depend only on the config
    rows = []
    runs = [(kind, kw) for kind in tuners for kw in (variants if kind == "xgb" else [{}])]
    for kind, kw in runs:
        reach, walls = [], []
        for seed in range(seeds):
            tuner = TUNERS[kind](task, seed=seed, **kw)
            if kind == "xgb":
                tuner.model._cache = features.setdefault(tuner.model.feature_type, {})
                if live_share is not None and tuner.sa.max_new is not None:
                    # chains too: the budget pays for as many steps per chain as live
                    tuner.sa.max_new = max(1, round(tuner.sa.max_new * live_share))
                    tuner.sa.parallel = max(1, round(tuner.sa.parallel * live_share))
            t0 = time.perf_counter()
            tuner.tune(trials, measure=measure, batch_size=batch)
            walls.append(time.perf_counter() - t0)
            reach.append(tuner.trials_to_reach(0.95, best) or trials + 1)
        never = sum(r > trials for r in reach)
        label = kind + "".join(f" {k}={v!r}" for k, v in kw.items())
        rows.append([name, label, f"{statistics.median(reach):.0f}", quartiles(reach),
                     f"{never}/{seeds}", f"{statistics.median(walls):.1f}"])
    info = (f"{name}: {len(measure.table)} recorded configs of {len(task.space)}, best "
            f"{task.flop / best / 1e9:.1f} GFLOP/s, {good} ({100 * good / len(ok):.1f}%) within 95% of it")
    return rows, info


def main(argv=None):
    opt = parse_args(argv)
    if opt.record:
        for name in opt.workloads:
            record(name, opt.tables, opt.sample)
        return
    from _harness import table
    variants = [parse_kwargs(v.split()) for v in opt.xgb] or [{}]
    print("REPLAY of recorded measurements (results/tuning_replay/*.jsonl), NOT live tuning: every "
          "cost is the one recorded, the space is the recorded configs.")
    t0 = time.perf_counter()
    rows, infos = [], []
    for name in opt.workloads:
        r, info = replay(name, opt.tables, opt.tuners, opt.seeds, opt.trials, variants, opt.live_budget, opt.batch)
        rows += r
        infos.append(info)
    for info in infos:
        print(info)
    budget = ", XGB's annealing budget scaled to live coverage" if opt.live_budget else ""
    table(f"Replay: trials to 95% of the table's best, {opt.seeds} seeds x {opt.trials} trials, batch {opt.batch} "
          f"({opt.trials + 1}: not reached){budget}",
          ["workload", "tuner", "median", "quartiles", "never", "s/run"], rows)
    print(f"\nreplay wall time: {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":     # measurement workers are separate processes (spawn safety)
    main()
