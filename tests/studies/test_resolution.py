"""Study A's pieces: the nearest legal config rule, ResNet-18's layer table per resolution, the
bootstrap interval, and the A2 accuracy table on a tiny setting."""
import numpy as np
import pytest

from workbench.studies import resolution as rs


def test_nearest_divisor():
    assert rs.nearest_divisor(56, 14) == 14
    assert rs.nearest_divisor(50, 14) == 10        # divisors 1 2 5 10 25 50
    assert rs.nearest_divisor(13, 7) == 13 or rs.nearest_divisor(13, 7) == 1
    assert rs.nearest_divisor(12, 5) == 4          # 4 and 6 tie: the smaller
    with pytest.raises(ValueError):
        rs.nearest_divisor(0, 3)


def test_reuse_config_keeps_legal_knobs_and_moves_the_rest():
    l224 = next(l for l in rs.resnet18_layers(224) if l.name == "layer1.0.conv1")
    l200 = next(l for l in rs.resnet18_layers(200) if l.name == "layer1.0.conv1")
    t224, t200 = rs.conv_task(l224), rs.conv_task(l200)
    cfg = t224.space.from_values({"tile_oc": [-1, 16], "tile_ow": [-1, 14], "tile_ic": [-1, 8],
                                  "unroll_kw": 1})
    moved = rs.reuse_config(cfg, t200).values()
    assert moved == {"tile_oc": [-1, 16], "tile_ow": [-1, 10], "tile_ic": [-1, 8], "unroll_kw": 1}
    same = rs.reuse_config(cfg, t224)
    assert same.index == cfg.index


def test_resnet18_layers_per_resolution():
    at224 = {l.name: l for l in rs.resnet18_layers(224)}
    assert len(at224) == 11 and at224["layer1.0.conv1"].count == 4
    total = sum(l.flops * l.count for l in at224.values())
    assert total == pytest.approx(2 * 1.81e9, rel=0.01)          # 1.81 GMAC at 224
    at200 = {l.name: l.out_size for l in rs.resnet18_layers(200)}
    assert (at200["conv1"], at200["layer1.0.conv1"], at200["layer2.0"], at200["layer3.0"],
            at200["layer4.0"]) == (100, 50, 25, 13, 7)


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


@pytest.mark.parametrize("resolution", [200, 61])
def test_layer_table_matches_the_graphs_conv_tasks(resolution):
    """The analytic layer table names every conv task graph.extract_tasks finds in the imported
    ResNet-18, with the same shapes and multiplicities."""
    from workbench import graph
    from workbench.graph.tasks import conv_workload
    g = rs.network_graph(resolution)
    tasks = graph.extract_tasks(g)
    layers = rs.resnet18_layers(resolution)
    assert [rs.layer_of(resolution, t.args).name for t in tasks] == [l.name for l in layers]
    counts = {}
    for n in g.ops():
        args = conv_workload(g, n)
        if args is not None:
            name = rs.layer_of(resolution, args).name
            counts[name] = counts.get(name, 0) + 1
    assert counts == {l.name: l.count for l in layers}
    assert [rs.conv_task(l).workload_key for l in layers] == [t.workload_key for t in tasks]
    with pytest.raises(ValueError, match="not a convolution of ResNet-18"):
        rs.layer_of(resolution, (1, 3, 7, 7, 8, 3, 1, 1))
