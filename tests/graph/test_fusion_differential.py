"""Fusion (and the layout pass) never change results: random small graphs of convolutions,
pooling, elementwise, broadcast and concat ops, compiled fused+blocked and unfused+NCHW, against
the reference interpreter."""
import numpy as np
import pytest

from workbench import graph
from workbench.graph import GraphBuilder, evaluate


def random_graph(seed: int, n_ops: int = 9):
    rng = np.random.default_rng(seed)
    b = GraphBuilder()
    C = int(rng.choice([4, 8, 16]))
    H = int(rng.integers(5, 10))
    values = [b.input("x", (1, C, H, H))]

    def shape(v):
        return b.shape(v)

    def const(*s):
        return b.const((rng.standard_normal(s) / np.sqrt(max(1, np.prod(s[1:])))).astype("float32"),
                       "c")

    for _ in range(n_ops):
        v = values[int(rng.integers(max(0, len(values) - 3), len(values)))]
        _, c, h, w = shape(v)
        kind = rng.choice(["conv", "conv", "dw", "ew", "ew", "bin", "bias", "pool", "concat"])
        if kind == "conv":
            k = int(rng.choice([1, 3]))
            stride = int(rng.choice([1, 1, 2])) if h > 4 else 1
            f = int(rng.choice([3, 8, 12, 16]))
            out = b.add("conv2d", [v, const(f, c, k, k)], dict(
                strides=(stride, stride), padding=(k // 2,) * 4, dilation=(1, 1)))
        elif kind == "dw":
            out = b.add("depthwise_conv2d", [v, const(c, 1, 3, 3)], dict(
                strides=(1, 1), padding=(1, 1, 1, 1), dilation=(1, 1)))
        elif kind == "ew":
            op = str(rng.choice(["relu", "sigmoid", "tanh", "clip"]))
            out = b.add(op, [v], dict(min=-0.5, max=0.5) if op == "clip" else {})
        elif kind == "bin":
            same = [u for u in values if u != v and shape(u) == shape(v)]
            other = same[-1] if same else const(1, c, 1, 1)
            out = b.add(str(rng.choice(["add", "mul"])), [v, other])
        elif kind == "bias":
            out = b.add("bias_add", [v, const(c)], dict(axis=1))
        elif kind == "pool" and h >= 3:
            out = b.add(str(rng.choice(["max_pool2d", "avg_pool2d"])), [v], dict(
                pool_size=(3, 3), strides=(1, 1), padding=(1, 1, 1, 1)))
        else:
            same = [u for u in values if u != v and shape(u)[2:] == (h, w)]
            if not same:
                continue
            out = b.add("concat", [v, same[-1]], dict(axis=1))
        values.append(out)
    outputs = [values[-1]]
    if len(values) > 3 and rng.random() < 0.5 and values[-3] not in outputs:
        outputs.append(values[-3])        # an intermediate that is also a model output
    return b.graph(outputs)


@pytest.mark.parametrize("seed", range(6))
def test_fusion_never_changes_results(seed):
    g = random_graph(seed)
    rng = np.random.default_rng(seed)
    inputs = {"x": rng.standard_normal(g["x"].shape).astype("float32")}
    expected = evaluate(g, inputs)
    fused = graph.optimize(g)
    unfused = graph.optimize(g, layout=False, fuse=False)
    fused_nchw = graph.optimize(g, layout=False)
    assert len(fused_nchw.groups()) <= len(unfused.groups())
    for variant in (fused, fused_nchw, unfused):
        got = graph.build(variant).run(inputs)
        assert set(got) == set(expected)
        for k in expected:
            np.testing.assert_allclose(got[k], expected[k], rtol=1e-4, atol=1e-4,
                                       err_msg=f"seed {seed}, output {k}\n{variant}")
