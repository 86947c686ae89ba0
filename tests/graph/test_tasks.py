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
    # the workload names the layouts the convolution runs in: NCHW data before the layout change,
    # NCHW16c after (the tuned program is the one the executor runs)
    for variant, ib in ((g, 0), (graph.optimize(g, winograd=False), 16)):
        tasks = graph.extract_tasks(variant)
        assert [t.args for t in tasks] == [(1, 16, 8, 8, 32, 3, 1, 1, ib, 16),
                                           (1, 32, 8, 8, 32, 3, 1, 1, ib, 16),
                                           (1, 32, 8, 8, 32, 3, 2, 1, ib, 16)]
        assert all(isinstance(t, tune.Task) and t.name == "kernels.conv2d_nchwc.cpu_template"
                   for t in tasks)
    # the stride-1 3x3 convolutions run as Winograd (a fixed schedule): only the strided one is
    # left to tune
    assert [t.args for t in graph.extract_tasks(graph.optimize(g))] == [
        (1, 32, 8, 8, 32, 3, 2, 1, 16, 16)]


def test_asymmetric_padding_gets_no_task():
    b = GraphBuilder()
    x = b.input("x", (1, 4, 6, 6))
    w = b.const(np.ones((8, 4, 3, 3), "float32"), "w")
    y = b.add("conv2d", [x, w], dict(strides=(1, 1), padding=(0, 0, 1, 1), dilation=(1, 1)))
    g = b.graph([y])
    assert conv_workload(g, g[y]) is None
    assert graph.extract_tasks(g) == []


def test_build_with_log_uses_best_configs(tmp_path):
    g = graph.optimize(small_net(), winograd=False)
    tasks = graph.extract_tasks(g)
    log = str(tmp_path / "net.jsonl")
    for task in tasks:
        tune.RandomTuner(task).tune(n_trial=3, log=log)
    mod = graph.build(g, log=log)
    tuned = [st.config.get("tuned") for st in mod.steps if st.config.get("kind") == "conv_nchwc"]
    assert len(tuned) == 3 and all(tuned)
    for st, task in zip([s for s in mod.steps if s.config.get("kind") == "conv_nchwc"], tasks):
        best = tune.best_config(log, task)
        assert st.config["tuned"]["ow_block"] == best["ow_block"].val
        assert st.config["ow_block"] == best["ow_block"].val          # applied, not just recorded
    x = np.random.default_rng(1).standard_normal((1, 16, 8, 8)).astype("float32")
    np.testing.assert_allclose(mod.run({"x": x})[g.outputs[0]],
                               evaluate(small_net(), {"x": x})[g.outputs[0]], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("args", [(1, 32, 7, 7, 64, 3, 1, 1, 16, 16),    # blocked input
                                  (1, 3, 12, 12, 16, 3, 2, 1, 0, 16),     # NCHW input (a stem)
                                  (1, 16, 8, 8, 32, 1, 2, 0, 8, 16)])     # 1x1 downsample
def test_executor_template_configs_match_numpy(args):
    """Random configs of the executor's conv template (every knob, the accumulator limit) compute
    what the numpy reference does."""
    from kernels import conv2d_nchwc
    task = tune.Task(conv2d_nchwc.cpu_template, args=args)
    rng = np.random.default_rng(0)
    idx = task.space.sample(rng, 4)
    assert idx and all(task.space.is_valid(i) for i in idx)
    for i in idx:
        cfg = task.space.get(i)
        assert cfg["ow_block"].val * cfg["oh_block"].val * cfg["oc_vecs"].val \
            <= conv2d_nchwc.MAX_ACCUMULATORS
        f = task.build(cfg)
        data, kernel, out = f.random_args(seed=i)
        f(data, kernel, out)
        want = conv2d_nchwc.cpu_template.reference([data, kernel], *args)[0]
        np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-4)


def test_register_block_rejects_a_block_that_does_not_divide():
    import workbench as wb
    from kernels import conv2d_nchwc
    from workbench import te
    d = te.placeholder((1, 1, 6, 6, 16), name="d")
    k = te.placeholder((1, 1, 3, 3, 16, 16), name="k")
    out = conv2d_nchwc.compute(d, k, 1, 1, 1, 16)
    s = wb.create_schedule(out)
    acc = s.cache_write(out, "local")
    with pytest.raises(ValueError, match="ow_block=4 must divide 6"):
        conv2d_nchwc.schedule_register_block(s, acc, out, ow_block=4)


def test_tune_graph_measures_the_fallback_config_first(tmp_path):
    """Whatever the budget, each task's log holds the executor's fallback config, so the tuned
    network never runs a config measured slower than it."""
    from workbench.graph.tasks import fallback_config
    g = graph.optimize(small_net())
    log = str(tmp_path / "net.jsonl")
    graph.tune_graph(g, log, n_trial=2, progress=False)
    for task in graph.extract_tasks(g):
        logged = {r["config"]["index"] for r in tune.load_log(log).records
                  if r["workload"] == task.workload_key}
        assert fallback_config(task).index in logged and len(logged) == 2
