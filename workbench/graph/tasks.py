"""Task extraction (AutoTVM's extract_from_program) and the use of tuned configs in the executor.

One tune.Task per unique convolution workload of the graph (`kernels.conv2d.cpu_template`, TVM's
x86 conv2d_NCHWc knobs). `graph.build(g, log=...)` looks up each convolution's best config in the
log and applies its knobs to the fused group's schedule: the register block's width (tile_ow), the
input-channel chunk of the reduction (tile_ic), kernel-width unrolling (unroll_kw) and, where the
graph leaves the convolution's layout free (no alter_layout), the output-channel block (tile_oc).
Depthwise, dense and transposed convolutions keep their hand schedules (their templates' tiling
knobs do not describe the fused schedules the executor runs), so they get no task.
"""
from __future__ import annotations

from .ir import Graph


def conv_workload(g: Graph, node):
    """(batch, in_channel, height, width, out_channel, kernel_size, stride, padding) of a conv2d or
    conv2d_nchwc node in the template's terms, or None if the template cannot express it
    (asymmetric padding, dilation)."""
    if node.op not in ("conv2d", "conv2d_nchwc"):
        return None
    data, w = g[node.inputs[0]].shape, g[node.inputs[1]].shape
    if node.op == "conv2d":
        F, C, KH, KW = w
    else:
        FO, C, KH, KW = w[:4]
        F, C = FO * w[-1], C * (w[4] if len(w) == 6 else 1)
    N, H, W = data[0], data[2], data[3]
    t, l, b, r = node.attr("padding")
    if (t, l) != (b, r) or tuple(node.attr("dilation")) != (1, 1) or KH != KW:
        return None
    sh, sw = node.attr("strides")
    return (N, C, H, W, F, KH, sh if sh == sw else (sh, sw), t if t == l else (t, l))


def _tune():
    try:
        from workbench import tune
        return tune
    except ImportError as e:
        raise ImportError("graph.extract_tasks / build(log=...) need workbench.tune") from e


def extract_tasks(g: Graph, target=None) -> list:
    """One tune.Task per unique convolution workload (in graph order)."""
    import kernels
    tune = _tune()
    seen, tasks = set(), []
    for n in g.ops():
        args = conv_workload(g, n)
        if args is None or args in seen:
            continue
        seen.add(args)
        tasks.append(tune.Task(kernels.conv2d.cpu_template, args=args))
    return tasks


def tuned_knobs(log, g: Graph, anchor_name: str, cache: dict) -> dict:
    """The best config's knobs for the anchor conv of a group ({} when none is logged)."""
    import kernels
    args = conv_workload(g, g[anchor_name])
    if args is None or log is None:
        return {}
    if args not in cache:
        tune = _tune()
        task = tune.Task(kernels.conv2d.cpu_template, args=args)
        cfg = tune.best_config(log, task)
        cache[args] = {} if cfg is None else {
            "oc_bn": cfg["tile_oc"].size[-1], "ow_bn": cfg["tile_ow"].size[-1],
            "ic_bn": cfg["tile_ic"].size[-1], "unroll_kw": bool(cfg["unroll_kw"].val)}
    return cache[args]


def tune_graph(g: Graph, log: str, n_trial: int = 32, target=None, *, early_stopping=None,
               measure=None, progress: bool = True) -> dict:
    """Tune every task of `g` (extract_tasks) with XGBTuner into `log`, each task's cost model
    seeded with the records of the tasks tuned before it (AutoTVM's transfer learning; the tasks
    share one template). Resumable: trials already in `log` count. Returns {workload: seconds}."""
    import os
    import time
    tune = _tune()
    tasks = extract_tasks(g, target)
    spent = {}
    for k, task in enumerate(tasks):
        t0 = time.perf_counter()
        transfer = log if k and os.path.exists(log) else None
        callbacks = [tune.progress_bar(n_trial, desc=f"task {k + 1}/{len(tasks)}")] if progress \
            else []
        tune.XGBTuner(task, transfer=transfer).tune(n_trial=n_trial, log=log, measure=measure,
                                                    early_stopping=early_stopping,
                                                    callbacks=callbacks)
        spent[task.workload_key] = time.perf_counter() - t0
    return spent
