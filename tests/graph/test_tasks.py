"""Task extraction (one tune.Task per unique convolution workload) and builds that use a tuning
log's best configs. Needs workbench.tune."""
import numpy as np
import pytest

from workbench import graph
from workbench.graph import GraphBuilder, evaluate
from workbench.graph.tasks import conv_workload

tune = pytest.importorskip("workbench.tune")


def small_net():
    rng = np.random.default_rng(0)
    b = GraphBuilder()
    y = b.input("x", (1, 16, 8, 8))
    for k, (f, st) in enumerate([(32, 1), (32, 1), (32, 2)]):
        c = b.shape(y)[1]
        w = b.const((rng.standard_normal((f, c, 3, 3)) / 12).astype("float32"), f"w{k}")
        y = b.add("relu", [b.add("conv2d", [y, w], dict(strides=(st, st), padding=(1, 1, 1, 1),
                                                     dilation=(1, 1)))])
    return b.graph([y])


def test_one_task_per_unique_conv_workload():
    g = small_net()
    for variant in (g, graph.optimize(g)):            # before and after the layout change
        tasks = graph.extract_tasks(variant)
        assert [t.args for t in tasks] == [(1, 16, 8, 8, 32, 3, 1, 1), (1, 32, 8, 8, 32, 3, 1, 1),
                                           (1, 32, 8, 8, 32, 3, 2, 1)]
        assert all(isinstance(t, tune.Task) for t in tasks)


def test_asymmetric_padding_gets_no_task():
    b = GraphBuilder()
    x = b.input("x", (1, 4, 6, 6))
    w = b.const(np.ones((8, 4, 3, 3), "float32"), "w")
    y = b.add("conv2d", [x, w], dict(strides=(1, 1), padding=(0, 0, 1, 1), dilation=(1, 1)))
    g = b.graph([y])
    assert conv_workload(g, g[y]) is None
    assert graph.extract_tasks(g) == []


def test_build_with_log_uses_best_configs(tmp_path):
    g = graph.optimize(small_net())
    tasks = graph.extract_tasks(g)
    log = str(tmp_path / "net.jsonl")
    for task in tasks:
        tune.RandomTuner(task).tune(n_trial=3, log=log)
    mod = graph.build(g, log=log)
    tuned = [st.config.get("tuned") for st in mod.steps if st.config.get("kind") == "conv_nchwc"]
    assert len(tuned) == 3 and all(tuned)
    for st, task in zip([s for s in mod.steps if s.config.get("kind") == "conv_nchwc"], tasks):
        best = tune.best_config(log, task)
        assert st.config["tuned"]["ow_bn"] == best["tile_ow"].size[-1]
    x = np.random.default_rng(1).standard_normal((1, 16, 8, 8)).astype("float32")
    np.testing.assert_allclose(mod.run({"x": x})[g.outputs[0]],
                               evaluate(small_net(), {"x": x})[g.outputs[0]], rtol=1e-4, atol=1e-4)
