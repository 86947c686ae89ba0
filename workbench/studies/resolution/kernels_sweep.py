"""A1: ResNet-18's kernels per resolution -- every conv task tuned cold and with 224's records,
the nearest legal config rule for reusing 224's configs, whole networks (tuned / reused-224 /
fallback) timed side by side, and the VTA simulator sweep."""
from __future__ import annotations

import os
import time

import numpy as np

import kernels

from .. import nets
from .layers import layer_shape, nearest_divisor, ConvLayer, resnet18_layers, layer_of, conv_node_workload, graph_layer_table
from .config import ResolutionConfig


def conv_task(layer: ConvLayer):
    """The layer as a tuning task of `conv2d_nchwc.cpu_template` (knobs ow_block, oh_block,
    oc_vecs, unroll_kw): the task `graph.extract_tasks` makes for it. The stem reads the image in
    NCHW (in_block 0); every other conv reads and writes the blocked layout `alter_layout`
    chooses (`conv_block` of its channels). A Winograd layer (`layer.winograd`) is a valid task
    too, but the graph never runs it as one."""
    from workbench import tune
    from workbench.graph.passes import conv_block
    in_block = 0 if layer.name == "conv1" else conv_block(layer.in_channel)
    return tune.Task(kernels.conv2d_nchwc.cpu_template, args=(
        1, layer.in_channel, layer.height, layer.height, layer.out_channel, layer.kernel,
        layer.stride, layer.padding, in_block, conv_block(layer.out_channel)))


def _knob_number(value):
    """The number the nearest rule compares: an integer knob's value, a split's inner factor."""
    if isinstance(value, list) and value and isinstance(value[-1], (int, np.integer)):
        return value[-1]
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return value
    return None


def reuse_config(config, task):
    """The nearest legal config rule (module docstring): `config` (from another resolution's
    task) in `task`'s space. A knob value the new space has is kept; an integer knob or a split
    takes the candidate whose value / inner factor is nearest (ties: the smaller); any other knob
    its first candidate. If the space's filter rejects the result, the valid config nearest to it
    (sum of |new - wanted| / max(wanted, 1) over the knobs, ties: the smaller values)."""
    space, old_values = task.space, config.values()
    wanted = {}
    for name, knob in space.knobs.items():
        old = old_values.get(name)
        try:
            knob.index_of(old)
            wanted[name] = old
            continue
        except ValueError:
            pass
        target = _knob_number(old)
        nums = [_knob_number(e.to_json()) for e in knob.entities]
        if target is not None and None not in nums:
            best = min(range(len(nums)), key=lambda i: (abs(nums[i] - target), nums[i]))
        else:
            best = 0
        wanted[name] = knob.entities[best].to_json()
    cfg = space.from_values(wanted)
    if space.is_valid(cfg.index):
        return cfg

    def distance(index):
        vals = space.get(index).values()
        d, order = 0.0, []
        for name, want in wanted.items():
            a, b = _knob_number(vals[name]), _knob_number(want)
            if a is None or b is None:
                d += vals[name] != want
            else:
                d += abs(a - b) / max(b, 1)
                order.append(a)
        return d, order
    best = min(space.enumerate(), key=distance, default=None)
    if best is None:
        raise ValueError(f"reuse_config: {task.name} has no valid config")
    return space.get(best)


ARMS = ("tuned", "reused_224", "fallback")


def network_graph(resolution: int, seed: int = 0):
    """ResNet-18 (random weights: speed does not depend on them) at `resolution`, imported from
    PyTorch and optimized by the graph layer; its logits are the output."""
    return nets.net_graph(nets.resnet18(seed), resolution, outputs=("logits",))


def _tune_tasks(tasks, trials: int, seed: int, log: str, measure, transfer=None, desc="",
                progress=False) -> dict:
    """XGBTuner on every task into `log` (transfer: records of other workloads, AutoTVM's
    transfer learning); workload -> (tuner, seconds)."""
    from tqdm.auto import tqdm

    from workbench import tune
    out = {}
    for task in tqdm(tasks, desc=desc, disable=not progress, leave=False):
        t0 = time.perf_counter()
        tuner = tune.XGBTuner(task, seed=seed, transfer=transfer)
        tuner.tune(trials, measure=measure, log=log, batch_size=8)
        out[task.workload_key] = (tuner, time.perf_counter() - t0)
    return out


def _time_arms(modules: dict, x: np.ndarray, rounds: int) -> dict:
    """arm -> (fastest latency, median latency, per-kernel seconds). The arms are timed in
    interleaved rounds, so a burst of load from other processes hits them alike; the fastest
    round, and each kernel's fastest time over the rounds, are the figures to compare (other
    processes only ever add time)."""
    runs = {arm: [] for arm in modules}
    for _ in range(rounds):
        for arm, mod in modules.items():
            runs[arm].append(mod.time({"input": x}, repeat=1, min_time=0.15))
    out = {}
    for arm, profs in runs.items():
        lat = [p.latency for p in profs]
        per_kernel = np.min([[t for _, _, t, _ in p.layers] for p in profs], axis=0)
        out[arm] = (min(lat), float(np.median(lat)), per_kernel)
    return out


def _conv_rows(g, mod, seconds, resolution: int, arm: str) -> list:
    """One row per compiled conv group (direct or Winograd): its layer, time (`seconds` per
    kernel) and GFLOP/s (a Winograd group counts the direct conv's FLOPs: "effective" GFLOP/s)."""
    rows = []
    for st, sec in zip(mod.steps, seconds):
        got = next((w for w in (conv_node_workload(g, g[n]) for n in st.nodes) if w), None)
        if got is None:
            continue
        layer = layer_of(resolution, got[0])
        rows.append({"resolution": resolution, "arm": arm, "layer": layer.name, "group": st.describe(),
                     "shape": layer_shape(layer), "winograd": got[1], "flops": st.flops, "ms": sec * 1e3,
                     "gflops": st.flops / sec / 1e9 if sec > 0 else float("nan"),
                     "config": str(st.config)})
    return rows


def _reused_records(tasks, r: int, config, ref_best: dict, cold_log: str, measure,
                    winograd_at_ref: set) -> tuple:
    """The reused_224 arm's log records at resolution r: 224's best config per layer moved by the
    nearest legal config rule and measured once (at 224 itself: the best record). At the
    reference, `ref_best` is filled (shape_key -> (config, record)). A layer with no 224 config
    (Winograd at 224: its shape key is in `winograd_at_ref`; or not tuned there) gets the
    fallback config, measured, so its record holds a real cost. Returns (records,
    {workload: (224's config, moved config, seconds, where the config came from)})."""
    from workbench import tune
    from workbench.graph.tasks import fallback_config
    from workbench.tune.log import best_record, make_record, record_cost
    records, out = [], {}
    for task in tasks:
        key = layer_of(r, task.args).shape_key
        if r == config.reference:
            ref_best[key] = (tune.best_config(cold_log, task), best_record(cold_log, task))
        cfg224, rec224 = ref_best.get(key, (None, None))
        if cfg224 is not None and r == config.reference:
            moved, source = cfg224, "224 tuned"
            cost = record_cost(rec224)
            records.append(rec224)
        else:
            if cfg224 is not None:
                moved, source = reuse_config(cfg224, task), "224 moved"
            else:
                moved = fallback_config(task)
                source = ("fallback: Winograd at 224" if key in winograd_at_ref else
                          "fallback: no 224 config")
            res = measure.measure_batch(task, [moved.index])[0]
            records.append(make_record(task, moved, res, str(task.target), measure.describe()))
            cost = res.cost
        out[task.workload_key] = (cfg224, moved, cost, source)
    return records, out


def _task_row(task, r: int, config, cold, warm, reused, tuned_recs) -> dict:
    """One a1_tasks row: the best of each tuning run, the reused config, trials to 95%."""
    from workbench import tune
    layer = layer_of(r, task.args)
    c_tuner, c_sec = cold[task.workload_key]
    w_tuner, w_sec = warm.get(task.workload_key, (None, 0.0))
    cfg224, moved, reused_cost, source = reused[task.workload_key]
    best = min(c_tuner.best_cost, w_tuner.best_cost if w_tuner else float("inf"))
    best_cfg = tune.best_config(tuned_recs, task)
    row = {"resolution": r, "layer": layer.name, "count": layer.count, "shape": layer_shape(layer),
           "flops": task.flop, "space": len(task.space), "trials": config.trials,
           "cold_best_gflops": task.flop / c_tuner.best_cost / 1e9,
           "warm_best_gflops": task.flop / w_tuner.best_cost / 1e9 if w_tuner else "",
           "reused_gflops": task.flop / reused_cost / 1e9,
           "tuned_config": str(best_cfg.values()) if best_cfg else "",
           "reused_config": str(moved.values()) if moved else "", "reused_from": source,
           "config_224": str(cfg224.values()) if cfg224 else "",
           "cold_trials_to_95": c_tuner.trials_to_reach(0.95, best) or config.trials + 1,
           "cold_seconds": c_sec}
    if w_tuner:
        row.update(warm_trials_to_95=w_tuner.trials_to_reach(0.95, best) or config.trials + 1,
                   warm_seconds=w_sec, transferred=w_tuner.transferred)
    return row


def _cost_row(r: int, config, rows: list) -> dict:
    """Tuning cost at one resolution, from scratch vs with 224's records."""
    return {"resolution": r, "tasks": len(rows), "trials_per_task": config.trials,
            "cold_median_trials_to_95": float(np.median([t["cold_trials_to_95"] for t in rows])),
            "warm_median_trials_to_95": float(np.median([t["warm_trials_to_95"] for t in rows])),
            "cold_seconds": sum(t["cold_seconds"] for t in rows),
            "warm_seconds": sum(t["warm_seconds"] for t in rows),
            "warm_better": sum(t["warm_best_gflops"] > t["cold_best_gflops"] for t in rows)}


def _network_rows(g, r: int, config, net, logs: dict) -> tuple:
    """The three networks at resolution r built (`graph.build` with each arm's log), timed side by
    side and checked against PyTorch: (a1_network rows, a1_layers rows)."""
    import torch

    from workbench import graph
    mods = {arm: graph.build(g, log=logs[arm], num_threads=config.threads) for arm in ARMS}
    x = np.random.default_rng(config.seed).standard_normal((1, 3, r, r)).astype(np.float32)
    with torch.no_grad():
        ref = net.module(("logits",))(torch.from_numpy(x))[0].numpy()
    times = _time_arms(mods, x, config.repeat)
    net_rows, layer_rows = [], []
    for arm, mod in mods.items():
        fastest, median, per_kernel = times[arm]
        err = float(np.abs(mod.run({"input": x})["logits"] - ref).max())
        convs = _conv_rows(g, mod, per_kernel, r, arm)
        layer_rows += convs
        flops = sum(st.flops for st in mod.steps)
        net_rows.append({"resolution": r, "arm": arm, "gflop": flops / 1e9,
                         "conv_gflop": sum(c["flops"] for c in convs) / 1e9,
                         "ms": fastest * 1e3, "median_ms": median * 1e3,
                         "conv_ms": sum(c["ms"] for c in convs),
                         "winograd_convs": sum(c["winograd"] for c in convs),
                         "direct_convs": sum(not c["winograd"] for c in convs),
                         "winograd_ms": sum(c["ms"] for c in convs if c["winograd"]),
                         "gflops": flops / fastest / 1e9, "kernels": len(mod.steps),
                         "max_abs_err_vs_torch": err,
                         "rel_err_vs_torch": err / max(1e-30, float(np.abs(ref).max())),
                         "threads": config.threads})
    return net_rows, layer_rows


def network_sweep(config: ResolutionConfig, progress: bool = True, logdir: str | None = None) -> dict:
    """A1 on the graph layer. For every resolution: ResNet-18 imported and optimized
    (`graph.from_torch`, `graph.optimize`), its conv tasks (`graph.extract_tasks`) tuned by
    XGBTuner twice -- from scratch ("cold") and with 224's records as transfer data ("warm") --
    then the whole network built three ways and timed side by side:

      tuned       each conv uses the best config of both runs at its own resolution
      reused_224  each conv uses 224's best config for the same layer, moved to the new shape by
                  the nearest legal config rule (measured once, so the log holds its real cost)
      fallback    the graph layer's default schedules (no log)

    Winograd layers (`winograd_convs`: 3x3 stride 1, even output) are the same kernels in all three
    arms and no tuning task; a layer that runs Winograd at 224 but is odd at r has no 224 config
    and keeps the fallback in the reused arm.

    Logs in `logdir`: cold-<r>.jsonl, warm-<r>.jsonl, reused-<r>.jsonl (each arm's records).
    Tables: "a1_network" (per resolution and arm: latency, GFLOP/s, ratios to 224, error against
    PyTorch, Winograd / direct conv counts), "a1_layers" (per conv group of each built network,
    from its profile, Winograd marked), "a1_layer_table" (per resolution and distinct layer:
    Winograd by the rule and as the graph runs it),
    "a1_tasks" (per conv task: best GFLOP/s cold / warm / reused, configs) and "a1_tuning_cost"
    (per resolution: trials to 95% of the best and seconds, cold vs warm)."""
    import tempfile

    from tqdm.auto import tqdm

    from workbench import graph, tune
    from workbench.tune.log import LogWriter
    logdir = logdir or tempfile.mkdtemp(prefix="wb-resolution-")
    order = [config.reference] + [r for r in config.resolutions if r != config.reference]
    opts = tune.MeasureOptions(number=1, repeat=3, num_threads=1, run_timeout=30, build_timeout=60)
    net = nets.resnet18(config.seed)
    ref_log = os.path.join(logdir, f"cold-{config.reference}.jsonl")
    ref_best: dict = {}
    tables = {"a1_network": [], "a1_layers": [], "a1_tasks": [], "a1_tuning_cost": [],
              "a1_layer_table": []}
    winograd_at_ref: set = set()
    with tune.LocalMeasure(opts) as m:
        for r in tqdm(order, desc="A1 resolutions", disable=not progress):
            g = network_graph(r, config.seed)
            tables["a1_layer_table"] += graph_layer_table(g, r)
            if r == config.reference:
                winograd_at_ref = {l.shape_key for l in resnet18_layers(r) if l.winograd}
            tasks = graph.extract_tasks(g)[:config.layers]     # [:None]: every task
            cold_log = os.path.join(logdir, f"cold-{r}.jsonl")
            cold = _tune_tasks(tasks, config.trials, config.seed, cold_log, m,
                               desc=f"tune {r}px", progress=progress)
            warm, logs = {}, [cold_log]
            if r != config.reference:
                logs.append(os.path.join(logdir, f"warm-{r}.jsonl"))
                warm = _tune_tasks(tasks, config.trials, config.seed, logs[1], m,
                                   transfer=tune.load_log(ref_log).records,
                                   desc=f"tune {r}px with 224's records", progress=progress)
            tuned_recs = [rec for log in logs for rec in tune.load_log(log).records]
            reused_recs, reused = _reused_records(tasks, r, config, ref_best, cold_log, m,
                                                  winograd_at_ref)
            with LogWriter(os.path.join(logdir, f"reused-{r}.jsonl")) as w:
                w.append(reused_recs)
            rows = [_task_row(t, r, config, cold, warm, reused, tuned_recs) for t in tasks]
            tables["a1_tasks"] += rows
            if warm:
                tables["a1_tuning_cost"].append(_cost_row(r, config, rows))
            net_rows, layer_rows = _network_rows(g, r, config, net, {
                "tuned": tuned_recs, "reused_224": reused_recs, "fallback": None})
            tables["a1_network"] += net_rows
            tables["a1_layers"] += layer_rows
    net_rows = tables["a1_network"]
    base = {row["arm"]: row for row in net_rows if row["resolution"] == config.reference}
    for row in net_rows:
        row["flops_vs_ref"] = row["gflop"] / base[row["arm"]]["gflop"]
        row["latency_vs_ref"] = row["ms"] / base[row["arm"]]["ms"]
    net_rows.sort(key=lambda r: (r["resolution"], ARMS.index(r["arm"])))
    return tables


def vta_sweep(config: ResolutionConfig, progress: bool = True) -> list:
    """ResNet-18's offloaded convolutions (input channels a multiple of 16) on the VTA timing
    simulator at each resolution: tiles chosen for the resolution vs the 224 tiles reused under
    the nearest legal config rule (re-checked against the buffers; falls back to choose_tiles)."""
    from tqdm.auto import tqdm
    from accel import vta
    from accel.programs import conv2d as vconv
    from accel.programs.workloads import Conv2DWorkload
    env = vta.Env.default()
    sim = vta.Simulator(env, functional=False, events=False)

    def workload(layer):
        return Conv2DWorkload(layer.name, layer.height, layer.height, layer.in_channel,
                              layer.out_channel, layer.kernel, layer.padding, layer.stride)

    ref = {l.shape_key: vconv.choose_tiles(env, workload(l), 2)
           for l in resnet18_layers(config.reference) if l.in_channel % env.BLOCK_IN == 0}
    rows = []
    jobs = [(r, l) for r in config.resolutions for l in resnet18_layers(r)[:config.layers]
            if l.in_channel % env.BLOCK_IN == 0]
    for r, layer in tqdm(jobs, desc="A1 VTA", disable=not progress):
        wl = workload(layer)
        t224 = ref[layer.shape_key]
        reused = vconv.ConvTiles(t224.tco, nearest_divisor(wl.out_height, t224.th),
                                 nearest_divisor(wl.out_width, t224.tw), t224.tci)
        legal = vconv.fits(env, wl, reused, 2)
        for arm, tiles in (("per_resolution", vconv.choose_tiles(env, wl, 2)),
                           ("reused_224", reused if legal else None)):
            if tiles is None:
                rows.append({"resolution": r, "layer": layer.name, "arm": arm, "tiles": "does not fit",
                             "count": layer.count})
                continue
            prog, _ = vconv.build(env, wl, nthreads=2, tiles=tiles)
            st = sim.run(prog).stats
            c = st.counters
            rows.append({"resolution": r, "layer": layer.name, "arm": arm, "count": layer.count,
                         "tiles": f"{tiles.tco}/{tiles.th}/{tiles.tw}/{tiles.tci}",
                         "cycles": st.cycles, "utilization": st.utilization,
                         "dram_bytes": sum(c[k] for k in ("inp_load_nbytes", "wgt_load_nbytes",
                                                          "acc_load_nbytes", "uop_load_nbytes",
                                                          "out_store_nbytes")),
                         "macs": wl.macs})
    return rows
