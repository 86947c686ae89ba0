"""Each graph pass on a small hand-built graph: the printed graph before and after (goldens in
tests/golden/graph/, --update-golden rewrites them), and the values unchanged (reference
interpreter before vs compiled executor after)."""
from pathlib import Path

import numpy as np
import pytest

from workbench import graph
from workbench.graph import GraphBuilder, Pattern, evaluate

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "graph"
RNG = np.random.default_rng(0)


def rand(*shape):
    return RNG.standard_normal(shape).astype("float32")


def conv_attrs(stride=1, pad=1):
    return dict(strides=(stride, stride), padding=(pad,) * 4, dilation=(1, 1))


def check_golden(name, before, after, update_golden):
    text = f"# before\n{before}\n# after\n{after}\n"
    path = GOLDEN / f"{name}.txt"
    if update_golden or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if not update_golden:
            pytest.skip(f"wrote new golden file {path.name}")
    assert text == path.read_text()


def same_values(g_before, g_after, seed=0):
    rng = np.random.default_rng(seed)
    inputs = {i: rng.standard_normal(g_before[i].shape).astype("float32") for i in g_before.inputs}
    expected = evaluate(g_before, inputs)
    got = graph.build(g_after).run(inputs)
    for k in expected:
        np.testing.assert_allclose(got[k], expected[k], rtol=1e-4, atol=1e-4)
    return expected


# -- small graphs -----------------------------------------------------------------------------------
def conv_bn_relu():
    b = GraphBuilder()
    x = b.input("x", (1, 8, 6, 6))
    w = b.const(rand(16, 8, 3, 3), "w")
    bias = b.const(rand(16), "b")
    y = b.add("conv2d", [x, w], conv_attrs())
    y = b.add("bias_add", [y, bias], dict(axis=1))
    gamma, beta = b.const(rand(16) + 2, "gamma"), b.const(rand(16), "beta")
    mean, var = b.const(rand(16), "mean"), b.const(np.abs(rand(16)) + 0.5, "var")
    y = b.add("batch_norm", [y, gamma, beta, mean, var], dict(epsilon=1e-5))
    return b.graph([b.add("relu", [y])])


def residual_block():
    """conv-relu-conv + identity, add, relu, then global pool + dense + softmax (ResNet's shape)."""
    b = GraphBuilder()
    x = b.input("x", (1, 16, 5, 5))
    y = b.add("relu", [b.add("conv2d", [x, b.const(rand(16, 16, 3, 3), "w1")], conv_attrs())])
    y = b.add("conv2d", [y, b.const(rand(16, 16, 3, 3), "w2")], conv_attrs())
    y = b.add("relu", [b.add("add", [y, x])])
    y = b.add("global_avg_pool2d", [y])
    y = b.add("reshape", [y], dict(shape=(1, 16)))
    y = b.add("dense", [y, b.const(rand(10, 16), "fc")])
    return b.graph([b.add("softmax", [y])])


def test_fold_constants(update_golden):
    b = GraphBuilder()
    x = b.input("x", (2, 4))
    ab = b.add("mul", [b.const(rand(4), "a"), b.const(rand(4), "b")])
    y = b.add("relu", [b.add("add", [x, ab])])
    b.add("sigmoid", [x])                        # dead: nobody reads it
    g = b.graph([y])
    after = graph.fold_constants(g)
    assert [n.op for n in after.ops()] == ["add", "relu"]
    check_golden("fold_constants", g, after, update_golden)
    same_values(g, after)


def test_fold_batch_norm(update_golden):
    g = conv_bn_relu()
    after = graph.fold_batch_norm(g)
    assert "batch_norm" not in [n.op for n in after]
    check_golden("fold_batch_norm", g, after, update_golden)
    same_values(g, after)


def test_alter_layout_places_and_cancels_transforms(update_golden):
    g = residual_block()
    after = graph.alter_layout(g)
    check_golden("alter_layout", g, after, update_golden)
    ops = [n.op for n in after.ops()]
    # into the blocked layout once, back once (before global pooling): nothing between the convs
    assert ops.count("layout_transform") == 2
    convs = [n for n in after if n.op == "conv2d_nchwc"]
    assert [n.layout for n in convs] == ["NCHW16c", "NCHW16c"]
    add = next(n for n in after if n.op == "add")
    assert add.layout == "NCHW16c" and add.shape == (1, 1, 5, 5, 16)
    same_values(g, after)


def test_fuse_ops_follows_tvm_rules(update_golden):
    g = graph.fold_constants(residual_block())
    after = graph.fuse_ops(g)
    check_golden("fuse_ops", g, after, update_golden)
    grp = {n.name: n.group for n in after.ops()}
    # conv + relu; conv + residual add + relu; pooling; reshape; dense; softmax on its own
    assert grp["conv2d"] == grp["relu"]
    assert grp["conv2d_1"] == grp["add"] == grp["relu_1"]
    assert grp["reshape"] != grp["global_avg_pool2d"]          # injective does not fuse into a reduce
    assert len({grp["softmax"], grp["dense"]}) == 2
    assert len(after.groups()) == 6
    same_values(g, after)


def test_fusion_keeps_a_value_read_twice_unfused():
    b = GraphBuilder()
    x = b.input("x", (1, 8, 4, 4))
    c = b.add("conv2d", [x, b.const(rand(8, 8, 1, 1), "w")], conv_attrs(pad=0))
    r1 = b.add("relu", [c])
    r2 = b.add("sigmoid", [c])                 # conv read twice: both stay out of its group
    g = b.graph([b.add("add", [r1, r2])])
    f = graph.fuse_ops(g)
    assert f["conv2d"].group not in (f["relu"].group, f["sigmoid"].group)
    assert f["relu"].group == f["add"].group or f["sigmoid"].group == f["add"].group
    same_values(g, f)


def test_dead_node_elimination():
    b = GraphBuilder()
    x = b.input("x", (3, 5))
    y = b.add("relu", [x])
    b.add("tanh", [b.add("sigmoid", [x])])
    g = b.graph([y])
    after = graph.dead_node_elimination(g)
    assert [n.op for n in after] == ["input", "relu"]
    assert after.inputs == ("x",)


def test_optimize_lists_passes_in_one_place():
    names = [n for n, _ in graph.PASSES]
    assert names == ["fold_constants", "fold_batch_norm", "fold_constants", "alter_layout",
                     "winograd_convs", "fuse_ops", "dead_node_elimination"]
    g = conv_bn_relu()
    opt = graph.optimize(g)
    assert len(opt.groups()) == 3            # transform in, conv+bias+relu, transform out
    same_values(g, opt)


def test_memory_plan_reuses_dead_buffers():
    b = GraphBuilder()
    y = b.input("x", (1, 16, 8, 8))
    for k in range(6):
        y = b.add("conv2d", [y, b.const(rand(16, 16, 3, 3) / 12, f"w{k}")], conv_attrs())
    g = graph.fuse_ops(b.graph([y]))
    mod = graph.build(g)
    plan = mod.plan
    assert plan.no_reuse_bytes == 6 * 16 * 8 * 8 * 4
    assert plan.peak_bytes == 3 * 16 * 8 * 8 * 4       # two ping-pong buffers + the output
    assert "peak" in str(plan)
    # every kernel's output block differs from its inputs' blocks
    for st in mod.steps:
        ins = [s for k, s in st.sources if k == "value" and s in plan.assign]
        assert all(plan.assign[i] != plan.assign[st.name] for i in ins)
    same_values(g, g)


def test_patterns_match_tvm():
    assert graph.OPS["conv2d"].pattern is Pattern.OUT_ELEWISE_FUSABLE
    assert graph.OPS["relu"].pattern is Pattern.ELEMWISE
    assert graph.OPS["add"].pattern is Pattern.BROADCAST
    assert graph.OPS["reshape"].pattern is Pattern.INJECTIVE
    assert graph.OPS["softmax"].pattern is Pattern.OPAQUE


def winograd_net():
    """3x3 stride-1 convs Winograd takes (even 6x6), one it must not (stride 2), a residual add."""
    b = GraphBuilder()
    x = b.input("x", (1, 16, 6, 6))
    y = b.add("relu", [b.add("conv2d", [x, b.const(rand(16, 16, 3, 3) / 12, "w1")], conv_attrs())])
    y = b.add("conv2d", [y, b.const(rand(16, 16, 3, 3) / 12, "w2")], conv_attrs())
    y = b.add("relu", [b.add("add", [y, x])])
    y = b.add("conv2d", [y, b.const(rand(32, 16, 3, 3) / 12, "w3")], conv_attrs(stride=2))
    return b.graph([y])


def test_winograd_convs(update_golden):
    net = winograd_net()                     # one draw of the weights for every check below
    g = graph.alter_layout(net)
    after = graph.winograd_convs(g)
    check_golden("winograd_convs", g, after, update_golden)
    ops = [n.op for n in after.ops()]
    assert ops.count("conv2d_winograd_nchwc") == 2 and ops.count("conv2d_nchwc") == 1
    wino = [n for n in after if n.op == "conv2d_winograd_nchwc"]
    assert after[wino[0].inputs[1]].shape == (4, 4, 1, 1, 16, 16)    # G g G^T, blocked
    same_values(net, after)
    # fused: the bias/residual/ReLU epilogue runs in the Winograd output transform
    opt = graph.optimize(net)
    mod = graph.build(opt)
    kinds = [st.config.get("kind") for st in mod.steps]
    assert kinds.count("conv_winograd") == 2
    assert any("add" in st.nodes and st.config.get("kind") == "conv_winograd" for st in mod.steps)
    same_values(net, opt, seed=3)
    assert "conv2d_winograd_nchwc" not in [n.op for n in graph.optimize(net, winograd=False)]


@pytest.mark.parametrize("hw,ok", [((8, 8), True), ((6, 10), True), ((7, 7), False)])
def test_winograd_kernel_matches_direct(hw, ok):
    """The Winograd kernel, its numpy twin and the direct reference agree; odd sizes are left to
    the direct convolution."""
    from kernels import conv2d_nchwc, conv2d_winograd
    assert conv2d_winograd.applicable((1, 32, *hw), (3, 3), (1, 1), (1, 1, 1, 1), (1, 1)) == ok
    if not ok:
        return
    import workbench as wb
    from workbench import te
    H, W = hw
    x = rand(1, 2, H, W, 16)
    w = rand(32, 32, 3, 3)
    u = conv2d_winograd.transform_kernel(w, 16, 16)
    d = te.placeholder(x.shape, name="d")
    k = te.placeholder(u.shape, name="k")
    V, M, out = conv2d_winograd.compute(d, k)
    s = wb.create_schedule(out)
    conv2d_winograd.schedule(s, V, M, out)
    got = np.zeros(out.shape, "float32")
    wb.build(s, [d, k, out])(x, u, got)
    want = conv2d_nchwc.reference(x, conv2d_nchwc.pack_kernel(w, 16, 16), 1, 1, 1, in_block=16)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(conv2d_winograd.reference(x, u), want, rtol=1e-4, atol=1e-4)
