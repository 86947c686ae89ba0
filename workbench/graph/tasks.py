"""Task extraction (AutoTVM's extract_from_program) and the use of tuned configs in the executor.

One tune.Task per unique convolution workload of the graph: `conv2d_nchwc.cpu_template`,
which computes and schedules the convolution exactly as the executor does (blocked input and
output layouts as the graph chose them, the packed kernel, `schedule_register_block`), so the
configs the tuner measures are the programs the graph runs. `graph.build(g, log=...)` applies each
convolution's best config (register block columns, rows and output-channel vectors, kernel-width
unrolling) to its fused group; the fused epilogue stays as it is. Depthwise, dense and transposed
convolutions keep their hand schedules, so they get no task.
"""
from __future__ import annotations

from .ir import Graph


def conv_workload(g: Graph, node):
    """(batch, in_channel, height, width, out_channel, kernel_size, stride, padding, in_block,
    out_block) of a conv2d_nchwc node (or a conv2d node the executor blocks itself) in
    `conv2d_nchwc.cpu_template`'s terms, or None if the template cannot express it (asymmetric
    padding, dilation, too few output channels for a vector)."""
    from .passes import conv_block
    if node.op not in ("conv2d", "conv2d_nchwc"):
        return None
    data, w = g[node.inputs[0]].shape, g[node.inputs[1]].shape
    if node.op == "conv2d":
        F, C, KH, KW = w
        ib, ob = 0, conv_block(F)
    else:
        FO, C, KH, KW = w[:4]
        ob = w[-1]
        ib = w[4] if len(w) == 6 else 0
        F, C = FO * ob, C * (ib or 1)
    N, H, W = data[0], data[2], data[3]
    t, l, b, r = node.attr("padding")
    if (t, l) != (b, r) or tuple(node.attr("dilation")) != (1, 1) or KH != KW or ob < 4:
        return None
    sh, sw = node.attr("strides")
    return (N, C, H, W, F, KH, sh if sh == sw else (sh, sw), t if t == l else (t, l), ib, ob)


def _tune():
    try:
        from workbench import tune
        return tune
    except ImportError as e:
        raise ImportError("graph.extract_tasks / build(log=...) need workbench.tune") from e


def extract_tasks(g: Graph, target=None) -> list:
    """One tune.Task per unique convolution workload (in graph order)."""
    from kernels import conv2d_nchwc
    tune = _tune()
    seen, tasks = set(), []
    for n in g.ops():
        args = conv_workload(g, n)
        if args is None or args in seen:
            continue
        seen.add(args)
        tasks.append(tune.Task(conv2d_nchwc.cpu_template, args=args))
    return tasks


def tuned_knobs(log, g: Graph, anchor_name: str, cache: dict) -> dict:
    """The best config's knobs for the anchor conv of a group ({} when none is logged)."""
    from kernels import conv2d_nchwc
    args = conv_workload(g, g[anchor_name])
    if args is None or log is None:
        return {}
    if args not in cache:
        tune = _tune()
        task = tune.Task(conv2d_nchwc.cpu_template, args=args)
        cfg = tune.best_config(log, task)
        cache[args] = {} if cfg is None else {
            k: int(cfg[k].val) for k in ("ow_block", "oh_block", "oc_vecs", "unroll_kw")}
    return cache[args]


def fallback_config(task):
    """The config of `task` (an extract_tasks task) that the executor runs when nothing is tuned
    (`conv2d_nchwc.default_blocks`)."""
    from kernels import conv2d_nchwc
    _, FO, OH, OW, ob = task.arg_tensors[-1].shape
    return task.space.from_values(conv2d_nchwc.default_blocks(OH, OW, ob, FO))


def _measure_first(tuner, index: int) -> None:
    """Make `index` part of the tuner's first batch (unless already measured): a tuned network is
    then never slower than the fallback one, whatever the budget."""
    pick = tuner.next_batch

    def next_batch(n):
        batch = pick(n)
        if index in tuner.visited or index in batch:
            return batch
        return [index] + batch[:n - 1]
    tuner.next_batch = next_batch


def tune_graph(g: Graph, log: str, n_trial: int = 32, target=None, *, early_stopping=None,
               measure=None, measure_option=None, progress: bool = True) -> dict:
    """Tune every task of `g` (extract_tasks) with XGBTuner into `log`, each task's cost model
    seeded with the records of the tasks tuned before it (AutoTVM's transfer learning; the tasks
    share one template). The executor's fallback config is among each task's first trials.
    Resumable: trials already in `log` count. measure_option defaults to 5 repeats of at least
    25 ms each (the median of longer repeats: a network's convolutions differ by a few percent,
    less than one short repeat varies on a shared machine). Returns {workload: seconds}."""
    import os
    import time
    tune = _tune()
    tasks = extract_tasks(g, target)
    if measure is None and measure_option is None:
        measure_option = tune.MeasureOptions(repeat=5, min_repeat_ms=25.0)
    spent = {}
    for k, task in enumerate(tasks):
        t0 = time.perf_counter()
        transfer = log if k and os.path.exists(log) else None
        callbacks = [tune.progress_bar(n_trial, desc=f"task {k + 1}/{len(tasks)}")] if progress \
            else []
        tuner = tune.XGBTuner(task, transfer=transfer)
        _measure_first(tuner, fallback_config(task).index)
        tuner.tune(n_trial=n_trial, log=log, measure=measure, measure_option=measure_option,
                   early_stopping=early_stopping, callbacks=callbacks)
        spent[task.workload_key] = time.perf_counter() - t0
    return spent
