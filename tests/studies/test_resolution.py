"""Study A's pieces: the nearest legal config rule, ResNet-18's layer table per resolution, the
bootstrap interval, and the A2 accuracy table on a tiny setting."""
import numpy as np
import pytest

from workbench.studies import resolution as rs
from workbench.studies.resolution import kernels_sweep


def test_nearest_divisor():
    assert rs.nearest_divisor(56, 14) == 14
    assert rs.nearest_divisor(50, 14) == 10        # divisors 1 2 5 10 25 50
    assert rs.nearest_divisor(13, 7) == 13 or rs.nearest_divisor(13, 7) == 1
    assert rs.nearest_divisor(12, 5) == 4          # 4 and 6 tie: the smaller
    with pytest.raises(ValueError):
        rs.nearest_divisor(0, 3)


def _task(resolution, name):
    return rs.conv_task(next(l for l in rs.resnet18_layers(resolution) if l.name == name))


def test_reuse_config_keeps_legal_knobs_and_moves_integer_knobs_to_the_nearest():
    t224, t200 = _task(224, "layer2.0.conv1"), _task(200, "layer2.0.conv1")     # 28x28 -> 25x25
    cfg = t224.space.from_values({"ow_block": 14, "oh_block": 2, "oc_vecs": 1, "unroll_kw": 1})
    assert t224.space.is_valid(cfg.index)
    # ow_block: divisors of 25 are 1 5 25 -> 5; oh_block: 1 5 -> 1; the rest are still legal
    assert rs.reuse_config(cfg, t200).values() == {"ow_block": 5, "oh_block": 1, "oc_vecs": 1,
                                                   "unroll_kw": 1}
    tie = t224.space.from_values({"ow_block": 4, "oh_block": 4, "oc_vecs": 1, "unroll_kw": 0})
    assert rs.reuse_config(tie, t200).values()["oh_block"] == 5      # |4-5| < |4-1|
    assert rs.reuse_config(tie, t200).values()["ow_block"] == 5
    assert rs.reuse_config(cfg, t224).index == cfg.index


def test_reuse_config_ties_take_the_smaller_value():
    """192 px -> 200 px, layer2.0.conv1 (24x24 -> 25x25): block 3 is 2 away from both 1 and 5."""
    t192, t200 = _task(192, "layer2.0.conv1"), _task(200, "layer2.0.conv1")
    cfg = t192.space.from_values({"ow_block": 3, "oh_block": 3, "oc_vecs": 4, "unroll_kw": 0})
    assert rs.reuse_config(cfg, t200).values() == {"ow_block": 1, "oh_block": 1, "oc_vecs": 4,
                                                   "unroll_kw": 0}


def test_reuse_config_respects_the_accumulator_filter():
    """7x7 -> 8x8: ow_block 7 -> 8 with oc_vecs 4 would need 32 accumulators (> 28): the nearest
    valid config is taken (ow_block 4 or oc_vecs 2 tie at distance 0.5: the smaller values)."""
    t224, t256 = _task(224, "layer4.0.conv1"), _task(256, "layer4.0.conv1")
    cfg = t224.space.from_values({"ow_block": 7, "oh_block": 1, "oc_vecs": 4, "unroll_kw": 1})
    moved = rs.reuse_config(cfg, t256)
    assert t256.space.is_valid(moved.index)
    assert moved.values() == {"ow_block": 4, "oh_block": 1, "oc_vecs": 4, "unroll_kw": 1}


def test_resnet18_layers_per_resolution():
    at224 = {l.name: l for l in rs.resnet18_layers(224)}
    assert len(at224) == 11 and at224["layer1.0.conv1"].count == 4
    total = sum(l.flops * l.count for l in at224.values())
    assert total == pytest.approx(2 * 1.81e9, rel=0.01)          # 1.81 GMAC at 224
    at200 = {l.name: l.out_size for l in rs.resnet18_layers(200)}
    assert (at200["conv1"], at200["layer1.0.conv1"], at200["layer2.0"], at200["layer3.0"],
            at200["layer4.0"]) == (100, 50, 25, 13, 7)
    # Winograd: 3x3 stride-1 with an even output; 224's 56/28/14 maps qualify, 200's 25/13 do not
    wino = {r: {l.name for l in rs.resnet18_layers(r) if l.winograd} for r in (200, 224, 256)}
    assert wino[224] == {"layer1.0.conv1", "layer2.0", "layer3.0"}
    assert wino[200] == {"layer1.0.conv1"}
    assert wino[256] == {"layer1.0.conv1", "layer2.0", "layer3.0", "layer4.0"}       # 8x8 stage


def test_bootstrap_ci_brackets_the_mean():
    correct = np.r_[np.ones(80), np.zeros(20)]
    lo, hi = rs.bootstrap_ci(correct, 500)
    assert lo < 0.8 < hi and hi - lo < 0.2
    assert rs.bootstrap_ci(np.ones(10), 100) == (1.0, 1.0)


def test_accuracy_study_tiny():
    config = rs.ResolutionConfig(resolutions=(224,), face_models=("mtcnn_rnet",), details=(6, 24),
                                 qualities=(50,), crops=(1.0,), bootstrap=100)
    rows = rs.accuracy_study(config, progress=False)
    by = {(r["axis"], r["value"]): r for r in rows}
    assert by[("detail", 24)]["accuracy"] > 0.9          # the pretrained RNet tells faces apart
    assert by[("detail", 6)]["accuracy"] < by[("detail", 24)]["accuracy"]
    assert by[("detail", 6)]["bytes_mean"] < by[("detail", 24)]["bytes_mean"]


def test_config_errors():
    with pytest.raises(ValueError, match="reference"):
        rs.ResolutionConfig(resolutions=(128, 160))
    with pytest.raises(ValueError, match="unknown face model"):
        rs.ResolutionConfig(face_models=("vgg",))


def test_policy_study_tiny():
    """A3 end to end: train the texture CNN briefly, build the table, evaluate every policy."""
    config = rs.ResolutionConfig(policy_resolutions=(8, 16), policy_images_per_class=8, train_per_class=20,
                                 train_epochs=2, repeat=1)
    out = rs.policy_study(config, progress=False)
    assert out["_notes"]["a3_max_abs_err_vs_torch"] < 1e-3
    assert len(out["a3_table"]) == 24 * 2
    kinds = {r["policy"] for r in out["a3_policies"]}
    assert {"static", "oracle", "cascade", "selector"} <= kinds
    oracle = next(r for r in out["a3_policies"] if r["policy"] == "oracle")
    assert oracle["accuracy"] >= max(r["accuracy"] for r in out["a3_policies"] if r["policy"] == "static")
    lat = {r["param"]: r["latency_mean"] for r in out["a3_policies"] if r["policy"] == "static"}
    assert lat[8.0] > 0 and lat[16.0] > 0


@pytest.mark.parametrize("resolution, n_tasks", [(200, 10), (224, 8), (72, 10)])
def test_layer_table_matches_the_graphs_conv_tasks(resolution, n_tasks):
    """The analytic layer table names every conv the imported, optimized ResNet-18 runs, with the
    same shapes and multiplicities; its Winograd rule picks exactly the layers the graph's
    winograd_convs pass rewrote, and graph.extract_tasks makes a task of every other layer --
    the task conv_task builds for it."""
    from workbench import graph
    g = rs.network_graph(resolution)
    tasks = graph.extract_tasks(g)
    layers = rs.resnet18_layers(resolution)
    direct = [l for l in layers if not l.winograd]
    assert len(tasks) == len(direct) == n_tasks
    assert [rs.layer_of(resolution, t.args).name for t in tasks] == [l.name for l in direct]
    assert [rs.conv_task(l).workload_key for l in direct] == [t.workload_key for t in tasks]
    table = rs.graph_layer_table(g, resolution)
    by = {l.name: l for l in layers}
    for row in table:
        l = by[row["layer"]]
        assert (row["graph_winograd_convs"], row["graph_direct_convs"]) == (
            (l.count, 0) if l.winograd else (0, l.count)), row
    assert any(l.winograd for l in layers)
    with pytest.raises(ValueError, match="not a convolution of ResNet-18"):
        rs.layer_of(resolution, (1, 3, 7, 7, 8, 3, 1, 1, 0, 8))


def test_winograd_lines_call_out_the_odd_resolution():
    rows = [{"resolution": r, "layer": l.name, "shape": rs.layer_shape(l), "count": l.count,
             "flops": l.flops, "winograd": l.winograd}
            for r in (200, 224) for l in rs.resnet18_layers(r)]
    at200, at224 = rs.winograd_lines(rows, 224)
    assert "r=224: 10/20 convs" in at224 and "layer4.0 (7x7)" in at224 and "more" not in at224
    assert "r=200: 4/20 convs" in at200 and "layer2.0 (25x25)" in at200 and "layer3.0 (13x13)" in at200
    assert "2 more direct-conv layer(s) than at 224" in at200


def test_reused_arm_falls_back_where_224_ran_winograd():
    """At 200 px layer2.0 (25x25) is a direct-conv task, but at 224 (28x28) it ran Winograd, so
    224's log has no config for it: the reused arm measures the fallback config and says so;
    a layer 224 did tune is moved by the nearest legal config rule."""
    from workbench.graph.tasks import fallback_config
    from workbench.tune.measure import MeasureResult

    class Measure:                              # records what is measured, 1 ms each
        def __init__(self):
            self.seen = []

        def measure_batch(self, task, indices):
            self.seen += [(task.workload_key, i) for i in indices]
            return [MeasureResult(i, costs=(1e-3,)) for i in indices]

        def describe(self):
            return {}

    config = rs.ResolutionConfig(resolutions=(200, 224))
    t224 = _task(224, "layer2.0.conv1")
    cfg224 = t224.space.from_values({"ow_block": 14, "oh_block": 2, "oc_vecs": 1, "unroll_kw": 1})
    ref_best = {rs.layer_of(224, t224.args).shape_key: (cfg224, None)}
    wino224 = {l.shape_key for l in rs.resnet18_layers(224) if l.winograd}
    moved_task, wino_task = _task(200, "layer2.0.conv1"), _task(200, "layer2.0")
    m = Measure()
    recs, out = kernels_sweep._reused_records([moved_task, wino_task], 200, config, ref_best, "", m, wino224)
    assert len(recs) == 2 and len(m.seen) == 2
    _, moved, cost, source = out[moved_task.workload_key]
    assert source == "224 moved" and moved.values()["ow_block"] == 5 and cost == 1e-3
    cfg, moved, _, source = out[wino_task.workload_key]
    assert cfg is None and source == "fallback: Winograd at 224"
    assert moved.index == fallback_config(wino_task).index
