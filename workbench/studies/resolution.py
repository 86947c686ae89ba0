"""Study A: resolution (toy analogue of Yan, Luo, Ceze, "Characterizing and Taming Resolution in
CNNs", 2021). Three parts, each a function returning tables (lists of row dicts):

A1 `kernel_sweep`   ResNet-18's convolutions at input resolutions {128, ..., 288}: per-resolution
                    schedules vs the 224 configuration reused (nearest legal config rule below) vs
                    the fallback (the default, unscheduled loop nest); per-layer and whole-network
                    latency and GFLOP/s beside the FLOPs curve; the same layers on the VTA simulator
                    (cycles, DRAM bytes), with tiles chosen per resolution vs reused from 224.
A2 `accuracy_study` MTCNN RNet/ONet (pretrained, shipped in facenet-pytorch) classifying
                    scikit-image's lfw_subset faces vs non-faces, against image detail (resolution),
                    JPEG quality (bytes per image through Pillow) and centre crop; bootstrap CIs.
A3 `policy_study`   a texture classifier trained in-project runs at every resolution (our compiled
                    kernels, measured latency); the table image x resolution -> (correct, confidence,
                    bytes, latency, FLOPs) feeds the dynamic-resolution policy simulator.

Nearest legal config rule (A1 and VTA): a reused 224 configuration keeps every knob value that is
still legal at the new resolution; a split whose factors no longer divide the new extent takes the
legal candidate whose inner factor is closest (ties: the smaller, which keeps register/buffer
pressure at or below the tuned one). VTA tiles: each tile factor becomes the divisor of the new
extent closest to it, and the tiling is re-checked against the buffers.

No ImageNet, no ImageNet weights: accuracies are about faces and textures, not the paper's models.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field

import numpy as np

import kernels
import workbench as wb
from kernels import cpu_schedules

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


def resnet18_layers(resolution: int) -> list:
    """Distinct convolutions of ResNet-18 at `resolution` (shared weights do not matter here)."""
    net = nets.resnet18(0)
    seen: dict = {}
    for name, c, h, _, f, k, s, p in net.conv_shapes(resolution):
        key = (c, h, f, k, s, p)
        if key in seen:
            seen[key][1] += 1
        else:
            seen[key] = [name, 1]
    return [ConvLayer(resolution, name, c, h, f, k, s, p, n) for (c, h, f, k, s, p), (name, n) in seen.items()]


@dataclass(frozen=True)
class ResolutionConfig:
    resolutions: tuple = RESOLUTIONS
    reference: int = 224                       # the resolution whose configs are reused
    threads: int = 1                           # 1-thread latencies repeat within ~2% here
    fallback: bool = True                      # time the unscheduled loop nest (slow)
    vta: bool = True
    layers: int | None = None                  # first N distinct layers (None: all 11)
    tune_layers: tuple | None = ("layer1.0.conv1", "layer2.0", "layer3.0", "layer4.0")
    trials: int = 24                           # XGBTuner trials per (layer, resolution, cold/warm)
    repeat: int = 5
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
        return cls(resolutions=(200, 224), layers=2, fallback=False, repeat=3, trials=8,
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
        for m in self.face_models:
            if m not in FACE_MODELS:
                raise ValueError(f"unknown face model {m!r}; choose from {', '.join(FACE_MODELS)}")


@dataclass
class StudyResult:
    tables: dict = field(default_factory=dict)     # name -> list of row dicts
    notes: dict = field(default_factory=dict)


# ---------------------------------------------------------------- A1: kernels per resolution

def conv_task(layer: ConvLayer):
    """The layer as a tuning task of the conv2d template (knobs tile_oc, tile_ow, tile_ic, unroll_kw)."""
    from workbench import tune
    return tune.Task(kernels.conv2d.cpu_template, args=(1, layer.in_channel, layer.height, layer.height,
                                                        layer.out_channel, layer.kernel, layer.stride,
                                                        layer.padding))


def reuse_config(config, task):
    """The nearest legal config rule: `config` (from another resolution's task) in `task`'s space.
    A knob value the new space has is kept; a split whose factors no longer divide takes the
    candidate whose inner factor is closest (ties: the smaller); any other knob the first one."""
    values = {}
    for name, knob in task.space.knobs.items():
        old = config.values().get(name)
        try:
            knob.index_of(old)
            values[name] = old
            continue
        except ValueError:
            pass
        ents = knob.entities
        if isinstance(old, list) and hasattr(ents[0], "size"):
            best = min(ents, key=lambda e: (abs(e.size[-1] - old[-1]), e.size[-1]))
        else:
            best = ents[0]
        values[name] = best.to_json()
    return task.space.from_values(values)


def _kernel(layer: ConvLayer, arm: str, cfg, threads: int):
    """The built kernel of one arm: a tuning config, the hand schedule, or the fallback."""
    if arm == "fallback":
        (data, kernel), out = kernels.conv2d.make(1, layer.in_channel, layer.height, layer.height,
                                                  layer.out_channel, layer.kernel, layer.stride,
                                                  layer.padding)
        f = wb.build(wb.create_schedule(out), [data, kernel, out])
    elif arm == "hand_rule":
        f = wb.build(*cpu_schedules.conv2d_nchw_blocked(1, layer.in_channel, layer.height, layer.height,
                                                        layer.out_channel, layer.kernel, layer.stride,
                                                        layer.padding))
    else:
        f = cfg[0].build(cfg[1])
    f.num_threads = threads
    return f


def _measure_arms(layer: ConvLayer, arms: dict, threads: int, rounds: int) -> dict:
    """arm -> (seconds, relative error vs numpy). The arms of a layer are timed in interleaved
    rounds of 10 single calls (a burst of load from other processes hits them alike) and each
    keeps its fastest call: other processes only ever add time. The fallback runs once."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, layer.in_channel, layer.height, layer.height), np.float32)
    w = rng.standard_normal((layer.out_channel, layer.in_channel, layer.kernel, layer.kernel), np.float32)
    ref = kernels.conv2d.reference(x, w, layer.stride, layer.padding)
    scale = max(1.0, float(np.abs(ref).max()))
    def key(arm):                   # arms that picked the same config share one measurement
        cfg = arms[arm]
        return arm if cfg is None else ("config", cfg[1])
    built, out = {}, {}
    for arm, cfg in arms.items():
        if key(arm) in built:
            continue
        f = _kernel(layer, arm, cfg, threads)
        o = np.zeros(ref.shape, np.float32)
        f(x, w, o)
        built[key(arm)] = (f, o)
        out[key(arm)] = [float("inf"), float(np.abs(o - ref).max()) / scale]
    for i in range(rounds):
        for k, (f, o) in built.items():
            if k == "fallback" and i:
                continue
            t = f.time(x, w, o, number=1, repeat=1 if k == "fallback" else 10, min_time=0.0)
            out[k][0] = min(out[k][0], t.min)
    return {arm: tuple(out[key(arm)]) for arm in arms}


def _tune(task, trials: int, seed: int, log: str, transfer=None):
    from workbench import tune
    opts = tune.MeasureOptions(number=1, repeat=3, num_threads=1, run_timeout=30, build_timeout=60)
    with tune.LocalMeasure(opts) as m:
        return tune.XGBTuner(task, seed=seed, transfer=transfer).tune(trials, measure=m, log=log,
                                                                        batch_size=8)


def kernel_sweep(config: ResolutionConfig, progress: bool = True, logdir: str | None = None) -> dict:
    """Tables "a1_layers" (per layer, arm, resolution), "a1_network" (per arm, resolution) and
    "a1_tuning_cost" (trials to 95% of the best, XGB from scratch vs transferring 224's records).

    Arms: tuned (XGBTuner, `trials` per layer and resolution; layers outside `tune_layers` keep
    the hand schedule), reused_224 (224's best through the nearest legal config rule), hand_rule
    (cpu_schedules' own per-shape rule), fallback (the unscheduled loop nest)."""
    import tempfile

    from tqdm.auto import tqdm

    from workbench import tune
    logdir = logdir or tempfile.mkdtemp(prefix="wb-resolution-")
    order = [config.reference] + [r for r in config.resolutions if r != config.reference]
    jobs = [l for r in order for l in resnet18_layers(r)[:config.layers]]
    best224, rows, cost_rows = {}, [], []
    for layer in tqdm(jobs, desc="A1 conv layers", disable=not progress):
        arms = {"hand_rule": None}
        if config.fallback:
            arms["fallback"] = None
        tuned = config.tune_layers is None or layer.name in config.tune_layers
        if tuned:
            task = conv_task(layer)
            ref = layer.resolution == config.reference
            log = os.path.join(logdir, f"{layer.name}-{layer.resolution}.jsonl")
            cold = _tune(task, config.trials, config.seed, log)
            arms["tuned"] = (task, cold.best_index)
            if ref:
                best224[layer.shape_key] = (task.space.get(cold.best_index), log)
                arms["reused_224"] = arms["tuned"]
            else:
                cfg224, log224 = best224[layer.shape_key]
                arms["reused_224"] = (task, reuse_config(cfg224, task).index)
                warm = _tune(task, config.trials, config.seed,
                             os.path.join(logdir, f"{layer.name}-{layer.resolution}-transfer.jsonl"),
                             transfer=tune.load_log(log224).records)
                best = min(cold.best_cost, warm.best_cost)
                cost_rows.append({"resolution": layer.resolution, "layer": layer.name,
                                  "space": len(task.space), "trials": config.trials,
                                  "cold_trials_to_95": cold.trials_to_reach(0.95, best) or config.trials + 1,
                                  "warm_trials_to_95": warm.trials_to_reach(0.95, best) or config.trials + 1,
                                  "cold_best_gflops": task.flop / cold.best_cost / 1e9,
                                  "warm_best_gflops": task.flop / warm.best_cost / 1e9})
                if warm.best_cost < cold.best_cost:
                    arms["tuned"] = (task, warm.best_index)
        res = _measure_arms(layer, arms, config.threads, config.repeat)
        for arm in ("tuned", "reused_224", "hand_rule", "fallback"):
            if arm not in arms and arm in ("tuned", "reused_224"):
                res[arm], cfg = res["hand_rule"], None      # untuned layer: the hand schedule
            elif arm not in arms:
                continue
            else:
                cfg = arms[arm]
            sec, err = res[arm]
            rows.append({"resolution": layer.resolution, "layer": layer.name, "shape":
                         f"{layer.in_channel}->{layer.out_channel} k{layer.kernel} s{layer.stride} "
                         f"{layer.height}->{layer.out_size}", "count": layer.count, "arm": arm,
                         "config": "" if not cfg else str(cfg[0].space.get(cfg[1]).values()),
                         "tuned_layer": tuned, "flops": layer.flops, "ms": sec * 1e3,
                         "gflops": layer.flops / sec / 1e9, "rel_err": err})
    network = []
    arms = list(dict.fromkeys(row["arm"] for row in rows))
    for r in config.resolutions:
        for arm in arms:
            sel = [row for row in rows if row["resolution"] == r and row["arm"] == arm]
            flops = sum(row["flops"] * row["count"] for row in sel)
            ms = sum(row["ms"] * row["count"] for row in sel)
            network.append({"resolution": r, "arm": arm, "conv_gflop": flops / 1e9, "conv_ms": ms,
                            "gflops": flops / ms / 1e6})
    base = {row["arm"]: row for row in network if row["resolution"] == config.reference}
    for row in network:
        row["flops_vs_ref"] = row["conv_gflop"] / base[row["arm"]]["conv_gflop"]
        row["latency_vs_ref"] = row["conv_ms"] / base[row["arm"]]["conv_ms"]
    return {"a1_layers": rows, "a1_network": network, "a1_tuning_cost": cost_rows}


def whole_network(config: ResolutionConfig, progress: bool = True) -> list:
    """ResNet-18 end to end (convs, epilogues, pools) at each resolution with the per-resolution
    hand schedules, checked against PyTorch."""
    from tqdm.auto import tqdm
    net = nets.resnet18(config.seed)
    cache = nets.KernelCache(threads=config.threads)
    rows = []
    rng = np.random.default_rng(config.seed)
    for r in tqdm(config.resolutions, desc="A1 whole network", disable=not progress):
        cn = nets.CompiledNet(net, r, cache=cache)
        x = net.preprocess(rng.random((r, r, 3), np.float32))
        err = nets.max_abs_error(cn, x)
        t = cn.time(x, calls=10 * config.repeat)
        rows.append({"resolution": r, "gflop": cn.flops / 1e9, "ms": t.min * 1e3, "median_ms": t.median * 1e3,
                     "gflops": cn.flops / t.min / 1e9, "max_abs_err_vs_torch": err,
                     "threads": config.threads})
    return rows


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

FACE_MODELS = {"mtcnn_rnet": nets.mtcnn_rnet, "mtcnn_onet": lambda: nets.mtcnn_onet(with_head=True)}


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
        cn = nets.CompiledNet(net, net.input_size, cache=nets.KernelCache(threads=config.threads))
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
    cache = nets.KernelCache(threads=config.threads)
    errs = []
    for j, r in enumerate(tqdm(res, desc="A3 table", disable=not progress)):
        cn = nets.CompiledNet(net, r, cache=cache)
        lowest = []
        for i, crop in enumerate(crops):
            small = images.resize(crop, r)                      # stored at r (grayscale JPEG)
            dec, nbytes[i, j] = images.jpeg_roundtrip(small, config.jpeg_quality)
            x = net.preprocess(images.gray_to_rgb(dec))
            p = cn.probabilities(x)
            correct[i, j], conf[i, j] = p.argmax() == labels[i], p.max()
            if j == 0:
                lowest.append(np.concatenate(cn.features(x)))
        errs.append(nets.max_abs_error(cn, net.preprocess(images.gray_to_rgb(images.resize(crops[0], r)))))
        latency[j] = cn.time(net.preprocess(images.gray_to_rgb(images.resize(crops[0], r))),
                             calls=40 * config.repeat).min   # best case: load only adds time
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


def run(config: ResolutionConfig = ResolutionConfig(), progress: bool = True, parts=("a1", "a2", "a3")) -> StudyResult:
    result = StudyResult()
    t0 = time.perf_counter()
    if "a3" in parts:
        out = policy_study(config, progress)
        result.notes.update(out.pop("_notes"))
        result.tables.update(out)
    if "a2" in parts:
        result.tables["a2_accuracy"] = accuracy_study(config, progress)
    if "a1" in parts:
        result.tables.update(kernel_sweep(config, progress))
        result.tables["a1_whole_network"] = whole_network(config, progress)
        if config.vta:
            result.tables["a1_vta"] = vta_sweep(config, progress)
    result.notes["seconds"] = time.perf_counter() - t0
    if "a1" in parts:
        result.notes["tuner"] = (f"XGBTuner, {config.trials} trials per tuned layer and resolution "
                                 f"(tuned layers: {config.tune_layers or 'all'}; others keep the hand "
                                 "schedule in the tuned and reused arms); transfer = XGBTuner(transfer="
                                 "224's log records)")
    return result


def summary(result: StudyResult) -> list:
    """One line per finding, from the tables that were computed."""
    t, lines = result.tables, []
    if "a1_network" in t:
        by = {(r["resolution"], r["arm"]): r for r in t["a1_network"]}
        for r in sorted({r["resolution"] for r in t["a1_network"]}):
            tuned, reused = by.get((r, "tuned")), by.get((r, "reused_224"))
            if tuned and reused:
                lines.append(f"A1 r={r}: convs {tuned['conv_gflop']:.2f} GFLOP, tuned {tuned['conv_ms']:.1f} ms "
                             f"({tuned['gflops']:.0f} GFLOP/s), reused-224 configs "
                             f"{reused['conv_ms'] / tuned['conv_ms']:.2f}x the tuned latency")
    if t.get("a1_whole_network"):
        lines.append("A1 ResNet-18 end to end (hand schedules, 1 thread): " + ", ".join(
            f"{int(r['resolution'])}px {r['ms']:.1f} ms ({r['gflops']:.0f} GFLOP/s)" for r in t["a1_whole_network"]))
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
    if t.get("a1_tuning_cost"):
        cold = np.median([r["cold_trials_to_95"] for r in t["a1_tuning_cost"]])
        warm = np.median([r["warm_trials_to_95"] for r in t["a1_tuning_cost"]])
        lines.append(f"A1 median trials to 95% of the best config: {cold:.0f} from scratch vs {warm:.0f} "
                     f"with transfer from 224's records")
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
