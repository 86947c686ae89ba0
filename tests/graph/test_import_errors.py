"""Import of hand-made ONNX models: the supported operators' attributes, and clear errors for what
is not supported (naming node, op type, attribute, and listing what is supported)."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from workbench import graph  # noqa: E402
from workbench.graph import GraphError, evaluate  # noqa: E402


def model(nodes, inits=(), in_shape=(1, 4, 6, 6), out_shape=None, in_type=TensorProto.FLOAT):
    g = helper.make_graph(
        nodes, "m", [helper.make_tensor_value_info("input", in_type, list(in_shape))],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, out_shape)],
        initializer=[numpy_helper.from_array(v, k) for k, v in inits])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_unsupported_operator_is_named():
    m = model([helper.make_node("LeakyRelu", ["input"], ["output"], name="leaky1", alpha=0.1)])
    with pytest.raises(GraphError) as e:
        graph.from_onnx(m)
    msg = str(e.value)
    assert "'leaky1'" in msg and "LeakyRelu" in msg and "not supported" in msg
    assert "Conv" in msg and "GlobalAveragePool" in msg        # the supported list


def test_unsupported_attribute_is_named():
    w = np.ones((4, 4, 3, 3), np.float32)
    m = model([helper.make_node("Conv", ["input", "w"], ["output"], name="c1", auto_pad="SAME_UPPER")],
              [("w", w)])
    with pytest.raises(GraphError, match=r"'c1' \(Conv\).*auto_pad"):
        graph.from_onnx(m)
    m = model([helper.make_node("AveragePool", ["input"], ["output"], name="p1", kernel_shape=[2, 2],
                                ceil_mode=1)])
    with pytest.raises(GraphError, match=r"'p1' \(AveragePool\).*ceil_mode"):
        graph.from_onnx(m)
    m = model([helper.make_node("Relu", ["input"], ["output"], name="r1", bogus=3)])
    with pytest.raises(GraphError, match=r"'r1' \(Relu\): attribute 'bogus'"):
        graph.from_onnx(m)


def test_grouped_conv_other_than_depthwise_is_rejected():
    w = np.ones((4, 2, 3, 3), np.float32)
    m = model([helper.make_node("Conv", ["input", "w"], ["output"], name="gc", group=2)], [("w", w)])
    with pytest.raises(GraphError, match="group=2"):
        graph.from_onnx(m)


def test_non_float_input_and_symbolic_shape():
    m = model([helper.make_node("Relu", ["input"], ["output"])], in_type=TensorProto.INT32)
    with pytest.raises(GraphError, match="INT32"):
        graph.from_onnx(m)
    m = model([helper.make_node("Relu", ["input"], ["output"])], in_shape=("N", 4, 6, 6))
    with pytest.raises(GraphError, match="input_shapes"):
        graph.from_onnx(m)
    g = graph.from_onnx(m, input_shapes={"input": (2, 4, 6, 6)})
    assert g["input"].shape == (2, 4, 6, 6)


def test_small_ops_import_and_run():
    """Gemm (transB, alpha/beta), Reshape with -1/0, Concat, Clip bounds as inputs, Softmax,
    Sigmoid, Tanh, Mul/Add broadcasting, AveragePool, Identity, Constant."""
    rng = np.random.default_rng(0)
    inits = [("w", rng.standard_normal((5, 36)).astype(np.float32)),
             ("b", rng.standard_normal(5).astype(np.float32)),
             ("lo", np.array(-0.5, np.float32)), ("hi", np.array(0.5, np.float32)),
             ("shape", np.array([0, -1], np.int64)),
             ("scale", rng.standard_normal((1, 4, 1, 1)).astype(np.float32))]
    nodes = [
        helper.make_node("Identity", ["input"], ["i0"]),
        helper.make_node("Mul", ["i0", "scale"], ["m0"]),
        helper.make_node("Sigmoid", ["m0"], ["s0"]),
        helper.make_node("Tanh", ["i0"], ["t0"]),
        helper.make_node("Concat", ["s0", "t0"], ["c0"], axis=1),
        helper.make_node("AveragePool", ["c0"], ["p0"], kernel_shape=[3, 3], strides=[2, 2],
                         pads=[1, 1, 1, 1], count_include_pad=1),
        helper.make_node("Clip", ["p0", "lo", "hi"], ["k0"]),
        helper.make_node("Constant", [], ["one"], value=numpy_helper.from_array(
            np.array([1.0], np.float32))),
        helper.make_node("Add", ["k0", "one"], ["a0"]),
        helper.make_node("Reshape", ["a0", "shape"], ["r0"]),         # (1, 8*3*3=72)
        helper.make_node("Gemm", ["r0", "w2"], ["g0"], transB=1, alpha=0.5, beta=2.0),
        helper.make_node("Softmax", ["g0"], ["output"], axis=-1),
    ]
    inits[0] = ("w2", rng.standard_normal((5, 72)).astype(np.float32))
    m = model(nodes, inits, out_shape=[1, 5])
    g = graph.from_onnx(m)
    ops = [n.op for n in g.ops()]
    assert "dense" in ops and "concat" in ops and "avg_pool2d" in ops
    x = rng.standard_normal((1, 4, 6, 6)).astype(np.float32)
    ort = pytest.importorskip("onnxruntime")
    expected = ort.InferenceSession(m.SerializeToString(),
                                    providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    np.testing.assert_allclose(evaluate(g, {"input": x})["output"], expected, rtol=1e-5, atol=1e-6)
    out = graph.build(graph.optimize(g)).run({"input": x})["output"]
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-6)


def test_run_checks_its_inputs():
    m = model([helper.make_node("Relu", ["input"], ["output"])])
    mod = graph.build(graph.optimize(graph.from_onnx(m)))
    x = np.ones((1, 4, 6, 6), np.float32)
    np.testing.assert_array_equal(mod.run({"input": -x})["output"], 0 * x)
    with pytest.raises(ValueError, match="shape"):
        mod.run({"input": np.ones((1, 4, 6, 5), np.float32)})
    with pytest.raises(TypeError, match="float32"):
        mod.run({"input": x.astype(np.float64)})
    with pytest.raises(ValueError, match="missing"):
        mod.run({"x": x})
    with pytest.raises(TypeError):
        mod.run(x)
    with pytest.raises(TypeError, match="Graph"):
        graph.build("resnet18.onnx")
