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

import time

# the study's parts, one module each (layers, config, A1 kernels_sweep, A2 accuracy, A3 dynamic)
from .layers import (RESOLUTIONS, layer_shape, nearest_divisor, ConvLayer, resnet18_layers, layer_of, conv_node_workload, graph_layer_table)  # noqa: F401
from .config import (FACE_MODELS, ResolutionConfig, StudyResult)  # noqa: F401
from .kernels_sweep import (conv_task, reuse_config, ARMS, network_graph, network_sweep, vta_sweep)  # noqa: F401
from .accuracy import (bootstrap_ci, accuracy_study)  # noqa: F401
from .dynamic import (resolution_table, policy_study)  # noqa: F401


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
