"""Study A: resolution (toy analogue of Yan, Luo, Ceze, "Characterizing and Taming Resolution in
CNNs", 2021). Three parts, each a function returning tables (lists of row dicts):

A1 `network_sweep` ResNet-18 at input resolutions {128, ..., 288}, compiled end to end by the graph
                    layer: every conv task tuned per resolution (XGBTuner, from scratch and with
                    transfer from 224's records) vs 224's configs reused (nearest legal config rule
                    below) vs the graph's fallback schedules; whole-network latency and GFLOP/s
                    beside the FLOPs curve, per-layer profiles, tuning cost. The graph's
                    `winograd_convs` pass runs every 3x3 stride-1 conv with an even output size as
                    Winograd F(2x2, 3x3) in all three arms (no tuning task); an odd feature map
                    (200 px: 25x25 and 13x13, 224 px: 7x7) loses it and becomes a direct-conv task.
   `vta_sweep`      the same convolutions on the VTA simulator (cycles, DRAM bytes), tiles chosen
                    per resolution vs reused from 224.
A2 `accuracy_study` MTCNN RNet/ONet (pretrained, shipped in facenet-pytorch) classifying
                    scikit-image's lfw_subset faces vs non-faces, against image detail (resolution),
                    JPEG quality (bytes per image through Pillow) and centre crop; bootstrap CIs.
A3 `policy_study`   a texture classifier trained in-project runs at every resolution (compiled by
                    the graph layer, measured latency); the table image x resolution -> (correct, confidence,
                    bytes, latency, FLOPs) feeds the dynamic-resolution policy simulator.

Nearest legal config rule (A1 and VTA): a reused 224 configuration keeps every knob value that is
still legal at the new resolution; an integer knob whose value is no longer a candidate (ow_block /
oh_block must divide the new output width / height) takes the candidate nearest to it, and a split
whose factors no longer divide the new extent takes the candidate whose inner factor is closest --
ties: the smaller, which keeps register/buffer pressure at or below the tuned one. If the
space's filter rejects that combination (more vector accumulators than registers), the valid
config nearest to it is taken: smallest sum over the knobs of |new - wanted| / max(wanted, 1),
ties: the smaller values. A layer that has no 224 config (it ran Winograd at 224, or was not
tuned there) keeps the fallback schedule in the reused arm. VTA tiles: each tile factor becomes
the divisor of the new extent closest to it, and the tiling is re-checked against the buffers.

No ImageNet, no ImageNet weights: accuracies are about faces and textures, not the paper's models.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field

import numpy as np

import kernels
from kernels import conv2d_winograd

from . import images, nets, policy, texture_cnn

RESOLUTIONS = (128, 160, 192, 200, 224, 256, 288)


def nearest_divisor(n: int, factor: int) -> int:
    """The nearest legal config rule: `factor` if it divides n, else the divisor of n closest to
    it (ties: the smaller)."""
    if n < 1 or factor < 1:
        raise ValueError(f"nearest_divisor needs positive integers, got n={n}, factor={factor}")
    divs = [d for d in range(1, n + 1) if n % d == 0]
    return min(divs, key=lambda d: (abs(d - factor), d))


@dataclass(frozen=True)
class ConvLayer:
    """One distinct ResNet-18 convolution at one input resolution; `count` = times it occurs."""
    resolution: int
    name: str
    in_channel: int
    height: int
    out_channel: int
    kernel: int
    stride: int
    padding: int
    count: int

    @property
    def out_size(self) -> int:
        return (self.height + 2 * self.padding - self.kernel) // self.stride + 1

    @property
    def flops(self) -> int:
        return kernels.conv2d.flops(1, self.in_channel, self.height, self.height, self.out_channel,
                                    self.kernel, self.stride, self.padding)

    @property
    def shape_key(self) -> tuple:
        return (self.in_channel, self.out_channel, self.kernel, self.stride)

    @property
    def winograd(self) -> bool:
        """True when the graph's `winograd_convs` pass runs this layer as Winograd F(2x2, 3x3)
        (the kernel library's own applicability rule: 3x3, stride 1, pad 1, even output), so it is
        no tuning task of `graph.extract_tasks`."""
        return conv2d_winograd.applicable((1, self.in_channel, self.height, self.height),
                                          (self.kernel, self.kernel), (self.stride, self.stride),
                                          (self.padding,) * 4, (1, 1))


def resnet18_layers(resolution: int) -> list:
    """Distinct convolutions of ResNet-18 (torchvision's layout) at `resolution`, in network
    order, named after the first layer that has the shape (shared shapes are counted)."""
    if resolution < 32:
        raise ValueError(f"ResNet-18 needs resolutions >= 32, got {resolution}")
    convs = [("conv1", 3, resolution, 64, 7, 2, 3)]
    h = (resolution + 6 - 7) // 2 + 1
    h = (h + 2 - 3) // 2 + 1                                   # the stem's 3x3/2 max pool
    c = 64
    for stage, f in enumerate((64, 128, 256, 512), start=1):
        for blk in range(2):
            stride = 2 if stage > 1 and blk == 0 else 1
            pre = f"layer{stage}.{blk}"
            if stride != 1 or c != f:
                convs.append((pre + ".down", c, h, f, 1, stride, 0))
            convs.append((pre + ".conv1", c, h, f, 3, stride, 1))
            h = (h + 2 - 3) // stride + 1
            convs.append((f"layer{stage}" if blk else pre, f, h, f, 3, 1, 1))
            c = f
    seen: dict = {}
    for name, *shape in convs:
        seen.setdefault(tuple(shape), [name, 0])[1] += 1
    return [ConvLayer(resolution, name, *shape, n) for shape, (name, n) in seen.items()]


def layer_of(resolution: int, args) -> ConvLayer:
    """The ResNet-18 layer at `resolution` a conv workload belongs to (`args` as a conv task's:
    batch, C, H, W, F, kernel, stride, padding, then the template's blocks, which are ignored)."""
    _, c, h, _, f, k, stride, pad = tuple(args)[:8]
    for layer in resnet18_layers(resolution):
        if (layer.in_channel, layer.height, layer.out_channel, layer.kernel, layer.stride,
                layer.padding) == (c, h, f, k, stride, pad):
            return layer
    raise ValueError(f"{tuple(args)} is not a convolution of ResNet-18 at {resolution} px")


def conv_node_workload(g, node):
    """(args, winograd) of a conv node of an optimized graph: `args` = (batch, C, H, W, F, kernel,
    stride, padding) -- for a direct conv its tuning task's workload, for a Winograd node
    (`conv2d_winograd_nchwc`: data NCHW[ib]c, kernel (4, 4, F/ob, C/ib, ib, ob), always 3x3
    stride 1 pad 1) read from its shapes -- or None for any other node."""
    from workbench.graph.tasks import conv_workload
    if node.op == "conv2d_winograd_nchwc":
        data, w = g[node.inputs[0]].shape, g[node.inputs[1]].shape
        return (data[0], data[1] * data[4], data[2], data[3], w[2] * w[5], 3, 1, 1), True
    args = conv_workload(g, node)
    return (None if args is None else (tuple(args[:8]), False))


def graph_layer_table(g, resolution: int) -> list:
    """ResNet-18's distinct convs at `resolution` as the optimized graph `g` runs them: one row
    per layer of `resnet18_layers` with how many of its convs the graph runs on Winograd and how
    many as a direct (tunable) conv. The analytic `ConvLayer.winograd` must agree (tested)."""
    counts: dict = {}
    for n in g.ops():
        got = conv_node_workload(g, n)
        if got is not None:
            c = counts.setdefault(layer_of(resolution, got[0]).name, [0, 0])
            c[0 if got[1] else 1] += 1
    return [{"resolution": resolution, "layer": l.name, "shape": _shape(l), "count": l.count,
             "flops": l.flops, "winograd": l.winograd,
             "graph_winograd_convs": counts.get(l.name, [0, 0])[0],
             "graph_direct_convs": counts.get(l.name, [0, 0])[1]}
            for l in resnet18_layers(resolution)]


@dataclass(frozen=True)
class ResolutionConfig:
    resolutions: tuple = RESOLUTIONS
    reference: int = 224                       # the resolution whose configs are reused
    threads: int = 1                           # 1-thread latencies repeat within ~2% here
    vta: bool = True
    layers: int | None = None                  # tune the first N distinct convs (None: all 11)
    trials: int = 20                           # XGBTuner trials per conv task, cold and warm
    repeat: int = 5                            # interleaved timing rounds per network
    # A2
    face_models: tuple = ("mtcnn_rnet", "mtcnn_onet")
    details: tuple = (6, 8, 10, 12, 16, 20, 24)
    qualities: tuple = (5, 10, 20, 30, 50, 75, 95)
    crops: tuple = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    bootstrap: int = 1000
    # A3
    policy_resolutions: tuple = (8, 12, 16, 24, 32, 48, 64)
    policy_images_per_class: int = 100
    train_per_class: int = 120
    train_epochs: int = 12
    jpeg_quality: int = 90
    seed: int = 0

    @classmethod
    def quick(cls) -> "ResolutionConfig":
        # 4 tasks: at 200 the 4th is layer2.0 (25x25, odd), which ran Winograd at 224
        return cls(resolutions=(200, 224), layers=4, repeat=3, trials=6,
                   face_models=("mtcnn_rnet",), details=(8, 12, 24), qualities=(10, 50, 95),
                   crops=(0.6, 1.0), bootstrap=200, policy_resolutions=(8, 16, 32),
                   policy_images_per_class=20, train_per_class=60, train_epochs=6)

    def __post_init__(self):
        if self.reference not in self.resolutions:
            raise ValueError(f"reference resolution {self.reference} must be one of {self.resolutions}")
        if min(self.resolutions) < 32:
            raise ValueError(f"ResNet-18 needs resolutions >= 32, got {self.resolutions}")
        if self.trials < 1 or self.repeat < 1:
            raise ValueError(f"trials and repeat must be >= 1, got {self.trials} and {self.repeat}")
        if self.layers is not None and self.layers < 0:
            raise ValueError(f"layers must be >= 0 or None, got {self.layers}")
        for m in self.face_models:
            if m not in FACE_MODELS:
                raise ValueError(f"unknown face model {m!r}; choose from {', '.join(FACE_MODELS)}")


@dataclass
class StudyResult:
    tables: dict = field(default_factory=dict)     # name -> list of row dicts
    notes: dict = field(default_factory=dict)


# ---------------------------------------------------------------- A1: kernels per resolution

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


def _shape(layer: ConvLayer) -> str:
    return (f"{layer.in_channel}->{layer.out_channel} k{layer.kernel} s{layer.stride} "
            f"{layer.height}->{layer.out_size}")


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
                     "shape": _shape(layer), "winograd": got[1], "flops": st.flops, "ms": sec * 1e3,
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
    row = {"resolution": r, "layer": layer.name, "count": layer.count, "shape": _shape(layer),
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


# ---------------------------------------------------------------- A2: accuracy vs detail

FACE_MODELS = {"mtcnn_rnet": nets.mtcnn_rnet, "mtcnn_onet": nets.mtcnn_onet}


def bootstrap_ci(correct: np.ndarray, n_boot: int, seed: int = 0, level: float = 0.95) -> tuple:
    """Percentile bootstrap CI of the mean of a 0/1 vector (resampling images)."""
    correct = np.asarray(correct, float)
    rng = np.random.default_rng(seed)
    means = correct[rng.integers(0, len(correct), (n_boot, len(correct)))].mean(axis=1)
    lo, hi = np.percentile(means, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


def _center_crop(x: np.ndarray, ratio: float) -> np.ndarray:
    h, w = x.shape[:2]
    ch, cw = max(1, round(h * ratio)), max(1, round(w * ratio))
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    return x[y0:y0 + ch, x0:x0 + cw]


def accuracy_study(config: ResolutionConfig, progress: bool = True) -> list:
    """Rows: model, axis (detail | jpeg_quality | crop), value, accuracy, ci_low, ci_high,
    bytes_mean (JPEG bytes of the image as stored for that setting), n."""
    from tqdm.auto import tqdm
    faces, labels = images.faces()
    rows = []
    for mname in config.face_models:
        net = FACE_MODELS[mname]()
        cn = nets.CompiledNet(net, net.input_size, outputs=("probabilities",), threads=config.threads)
        size = net.input_size
        settings = ([("detail", d) for d in config.details] + [("jpeg_quality", q) for q in config.qualities]
                    + [("crop", c) for c in config.crops])
        for axis, value in tqdm(settings, desc=f"A2 {mname}", disable=not progress):
            correct, nbytes = [], []
            for img, y in zip(faces, labels):
                if axis == "detail":      # stored at value x value, shown to the net at its size
                    small = images.resize(img, value)
                    _, b = images.jpeg_roundtrip(small, 95)
                    x = images.resize(small, size)
                elif axis == "jpeg_quality":
                    dec, b = images.jpeg_roundtrip(img, value)
                    x = images.resize(dec, size)
                else:
                    crop = _center_crop(img, value)
                    _, b = images.jpeg_roundtrip(crop, 95)
                    x = images.resize(crop, size)
                p = cn.probabilities(net.preprocess(images.gray_to_rgb(x)))
                correct.append(int((p[1] > 0.5) == bool(y)))
                nbytes.append(b)
            lo, hi = bootstrap_ci(np.array(correct), config.bootstrap, config.seed)
            rows.append({"model": mname, "axis": axis, "value": value, "accuracy": float(np.mean(correct)),
                         "ci_low": lo, "ci_high": hi, "bytes_mean": float(np.mean(nbytes)), "n": len(correct)})
    return rows


# ---------------------------------------------------------------- A3: dynamic resolution

def resolution_table(config: ResolutionConfig, progress: bool = True):
    """Train the texture CNN, run it on held-out windows at every policy resolution: returns
    (policy.ResolutionTable, rows for CSV, net)."""
    from tqdm.auto import tqdm
    net = texture_cnn.train(n_per_class=config.train_per_class, epochs=config.train_epochs, seed=config.seed)
    crops, labels = texture_cnn.windows("test", config.policy_images_per_class, config.seed + 1)
    res = tuple(sorted(config.policy_resolutions))
    n, R = len(crops), len(res)
    correct, conf, nbytes = np.zeros((n, R), bool), np.zeros((n, R)), np.zeros((n, R))
    latency, flops, feats = np.zeros(R), np.zeros(R), None
    errs = []
    for j, r in enumerate(tqdm(res, desc="A3 table", disable=not progress)):
        # the lowest resolution also returns its block features: the selector's input
        cn = nets.CompiledNet(net, r, outputs=("features", "probabilities") if j == 0 else
                              ("probabilities",), threads=config.threads)
        lowest = []
        for i, crop in enumerate(crops):
            small = images.resize(crop, r)                      # stored at r (grayscale JPEG)
            dec, nbytes[i, j] = images.jpeg_roundtrip(small, config.jpeg_quality)
            x = net.preprocess(images.gray_to_rgb(dec))
            out = cn.run(x)
            p = out["probabilities"][0]
            correct[i, j], conf[i, j] = p.argmax() == labels[i], p.max()
            if j == 0:
                lowest.append(np.concatenate(cn.block_features(out)))
        x0 = net.preprocess(images.gray_to_rgb(images.resize(crops[0], r)))
        errs.append(cn.max_abs_error(x0))
        # fastest of `repeat` batches: other processes only ever add time
        latency[j] = min(cn.time(x0, repeat=1, min_time=0.1).latency for _ in range(config.repeat))
        flops[j] = cn.flops
        if j == 0:
            feats = np.stack(lowest)
    table = policy.ResolutionTable(res, correct, conf, nbytes, latency, flops, feats)
    rows = [{"image": i, "label": int(labels[i]), "resolution": r, "correct": bool(correct[i, j]),
             "confidence": float(conf[i, j]), "bytes": int(nbytes[i, j]), "latency_ms": latency[j] * 1e3,
             "flops": int(flops[j])} for i in range(n) for j, r in enumerate(res)]
    return table, rows, net, max(errs)


def policy_study(config: ResolutionConfig, progress: bool = True) -> dict:
    table, rows, net, err = resolution_table(config, progress)
    points = policy.all_policies(table, seed=config.seed)
    prow = [{**asdict(p), "latency_ms": p.latency_mean * 1e3, "latency_p95_ms": p.latency_p95 * 1e3}
            for p in points]
    fronts = []
    for cost in ("latency_mean", "bytes_mean", "flops_mean"):
        for p in policy.pareto_front([q for q in points if q.policy != "oracle"], cost):
            fronts.append({"cost": cost, "policy": p.policy, "param": p.param, "accuracy": p.accuracy,
                           "value": getattr(p, cost)})
    budgets = []
    statics = {p.param: p for p in points if p.policy == "static"}
    for r, sp in statics.items():
        for cost in ("latency_mean", "latency_p95"):
            best = policy.best_under_budget(points, getattr(sp, cost), cost)
            budgets.append({"budget_from_static": r, "cost": cost, "budget": getattr(sp, cost),
                            "static_accuracy": sp.accuracy, "best_policy": best.policy,
                            "best_param": best.param, "best_accuracy": best.accuracy,
                            "best_cost": getattr(best, cost)})
    return {"a3_table": rows, "a3_policies": prow, "a3_pareto": fronts, "a3_budget": budgets,
            "_notes": {"a3_model": net.source, "a3_max_abs_err_vs_torch": err}}


def run(config: ResolutionConfig = ResolutionConfig(), progress: bool = True, parts=("a1", "a2", "a3"),
        logdir: str | None = None) -> StudyResult:
    result = StudyResult()
    t0 = time.perf_counter()
    if "a3" in parts:
        out = policy_study(config, progress)
        result.notes.update(out.pop("_notes"))
        result.tables.update(out)
    if "a2" in parts:
        result.tables["a2_accuracy"] = accuracy_study(config, progress)
    if "a1" in parts:
        t1 = time.perf_counter()
        result.tables.update(network_sweep(config, progress, logdir))
        result.notes["a1_seconds"] = time.perf_counter() - t1
        if config.vta:
            result.tables["a1_vta"] = vta_sweep(config, progress)
        result.notes["tuner"] = (f"XGBTuner, {config.trials} trials per conv task of graph.extract_tasks "
                                 f"({'all' if config.layers is None else f'the first {config.layers}'} "
                                 "tasks per resolution), from scratch and with 224's log as transfer "
                                 "records; tuned arm = best of both; whole networks built by graph.build "
                                 f"and timed on {config.threads} thread(s), arms interleaved")
    result.notes["seconds"] = time.perf_counter() - t0
    return result


def winograd_lines(layer_table: list, reference: int = 224) -> list:
    """Per resolution: how many of ResNet-18's convs run Winograd (the same in every arm), and the
    3x3 stride-1 layers that lose it because their feature map is odd (direct-conv tasks there),
    compared with the reference resolution."""
    lines, res = [], sorted({r["resolution"] for r in layer_table})
    lost_at = {x: [r for r in layer_table if r["resolution"] == x and not r["winograd"]
                   and r["shape"].split(" ")[1:3] == ["k3", "s1"]] for x in res}
    for x in res:
        rows = [r for r in layer_table if r["resolution"] == x]
        wino = int(sum(r["count"] for r in rows if r["winograd"]))
        total = int(sum(r["count"] for r in rows))
        share = (sum(r["flops"] * r["count"] for r in rows if r["winograd"])
                 / sum(r["flops"] * r["count"] for r in rows))
        odd = ", ".join(f"{r['layer']} ({o}x{o})" for r in lost_at[x]
                        for o in [r["shape"].split("->")[-1]])
        extra = len(lost_at[x]) - len(lost_at.get(reference, []))
        lines.append(f"A1 Winograd r={int(x)}: {wino}/{total} convs ({share:.0%} of conv FLOPs) run "
                     f"Winograd F(2x2,3x3) in every arm" + (
                         f"; odd maps keep 3x3 stride-1 layers direct: {odd}" if odd else "") + (
                         f" -- {extra} more direct-conv layer(s) than at {int(reference)}"
                         if extra > 0 else ""))
    return lines


def summary(result: StudyResult) -> list:
    """One line per finding, from the tables that were computed."""
    t, lines = result.tables, []
    if t.get("a1_layer_table"):
        ref = min({r["resolution"] for r in t["a1_layer_table"]}, key=lambda x: abs(x - 224))
        lines += winograd_lines(t["a1_layer_table"], ref)
    if t.get("a1_network"):
        by = {(r["resolution"], r["arm"]): r for r in t["a1_network"]}
        for r in sorted({r["resolution"] for r in t["a1_network"]}):
            tuned, reused, fb = by.get((r, "tuned")), by.get((r, "reused_224")), by.get((r, "fallback"))
            if tuned and reused and fb:
                lines.append(f"A1 r={int(r)}: ResNet-18 {tuned['gflop']:.2f} GFLOP; convs tuned "
                             f"{tuned['conv_ms']:.1f} ms ({tuned['conv_gflop'] / tuned['conv_ms'] * 1e3:.0f} "
                             f"GFLOP/s), reused-224 {reused['conv_ms'] / tuned['conv_ms']:.2f}x, fallback "
                             f"{fb['conv_ms'] / tuned['conv_ms']:.2f}x; end to end tuned {tuned['ms']:.1f} ms, "
                             f"reused-224 {reused['ms'] / tuned['ms']:.2f}x, fallback {fb['ms'] / tuned['ms']:.2f}x; "
                             f"|ours - torch| {tuned['max_abs_err_vs_torch']:.1e}")
    if t.get("a1_vta"):
        res = sorted({r["resolution"] for r in t["a1_vta"]})
        for arm in ("per_resolution", "reused_224"):
            sel = [r for r in t["a1_vta"] if r["arm"] == arm and r.get("cycles") not in (None, "")]
            cyc = {x: sum(r["cycles"] * r["count"] for r in sel if r["resolution"] == x) for x in res}
            macs = {x: sum(r["macs"] * r["count"] for r in sel if r["resolution"] == x) for x in res}
            misfit = {x: sum(1 for r in t["a1_vta"] if r["arm"] == arm and r["resolution"] == x
                             and r.get("cycles") in (None, "")) for x in res}
            lines.append(f"A1 VTA ({arm} tiles): MACs per cycle " + ", ".join(
                f"{int(x)}px {macs[x] / cyc[x]:.0f}" + (f" ({misfit[x]} layers' tiles do not fit, left out)"
                                                        if misfit[x] else "") for x in res if cyc[x]))
    for r in t.get("a1_tuning_cost") or []:
        lines.append(f"A1 tuning r={int(r['resolution'])}: median trials to 95% of the best config "
                     f"{r['cold_median_trials_to_95']:.1f} from scratch vs {r['warm_median_trials_to_95']:.1f} "
                     f"with 224's records ({r['cold_seconds']:.0f} s vs {r['warm_seconds']:.0f} s for "
                     f"{int(r['tasks'])} tasks x {int(r['trials_per_task'])} trials); transfer found a "
                     f"better best on {int(r['warm_better'])}/{int(r['tasks'])} tasks")
    if "a2_accuracy" in t:
        for m in dict.fromkeys(r["model"] for r in t["a2_accuracy"]):
            det = [r for r in t["a2_accuracy"] if r["model"] == m and r["axis"] == "detail"]
            lines.append(f"A2 {m} accuracy by stored resolution: " + ", ".join(
                f"{r['value']}px {r['accuracy']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}]" for r in det))
    if "a3_budget" in t:
        for r in t["a3_budget"]:
            if r["cost"] == "latency_mean":
                lines.append(f"A3 budget = static {int(r['budget_from_static'])}px latency "
                             f"({r['budget'] * 1e3:.3f} ms): static accuracy {r['static_accuracy']:.3f}, best "
                             f"{r['best_policy']}({r['best_param']:.2f}) {r['best_accuracy']:.3f} at "
                             f"{r['best_cost'] * 1e3:.3f} ms")
    return lines
