"""A3: the table image x resolution -> (correct, confidence, bytes, latency, FLOPs) of an
in-project texture CNN, and the dynamic-resolution policies run on it."""
from __future__ import annotations

import time
from dataclasses import asdict

import numpy as np

from .. import images, nets, policy, texture_cnn
from .config import ResolutionConfig


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
