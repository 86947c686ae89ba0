"""VTA offload: a graph quantized to int8 with power-of-two scales, its convolutions run as VTA
programs on the simulator, bit-exact against the numpy model of the same quantized graph."""
import numpy as np
import pytest

from workbench import graph
from workbench.graph import GraphBuilder, evaluate
from workbench.graph.vta import exponent, quantize_np

vta = pytest.importorskip("accel.vta")


def conv_graph(relu_last=False, residual=False):
    rng = np.random.default_rng(0)
    b = GraphBuilder()
    x = b.input("input", (1, 16, 8, 8))
    y = x
    for k, f in enumerate((32, 32)):
        c = b.shape(y)[1]
        w = b.const((rng.standard_normal((f, c, 3, 3)) / np.sqrt(9 * c)).astype("float32"), f"w{k}")
        y = b.add("conv2d", [y, w], dict(strides=(1, 1), padding=(1, 1, 1, 1), dilation=(1, 1)))
        y = b.add("bias_add", [y, b.const(0.1 * rng.standard_normal(f).astype("float32"), f"b{k}")],
                  dict(axis=1))
        if k == 0 or relu_last:
            y = b.add("relu", [y])
    if residual:
        y = b.add("relu", [b.add("add", [y, b.add("concat", [x, x], dict(axis=1))])])
    return b.graph([y])


def test_exponent_and_quantize():
    assert exponent(127.0) == 0 and exponent(1.0) == -6 and exponent(128.0) == 1
    q = quantize_np(np.array([0.5, -0.5, 1.49, -1.5, 1000.0, -1000.0], np.float32), 0)
    assert q.tolist() == [1, -1, 1, -2, 127, -128]


def test_two_conv_graph_offloaded_bit_exact():
    g = conv_graph()
    env = vta.Env.default()
    rng = np.random.default_rng(1)
    calib = [{"input": rng.standard_normal((1, 16, 8, 8)).astype("float32")} for _ in range(3)]
    mod = graph.build(g, target=env, calibration=calib)
    assert len(mod.layers) == 2                            # both convolutions on VTA
    assert mod.layers[0].clip == (0, 127) and mod.layers[1].clip == (-128, 127)
    assert mod.layers[1].e_in == mod.layers[0].e_out       # int8 passed on without requantizing
    x = rng.standard_normal((1, 16, 8, 8)).astype("float32")
    out = mod.run({"input": x})
    ref = mod.reference({"input": x})
    np.testing.assert_array_equal(out[g.outputs[0]], ref[g.outputs[0]])     # bit-exact
    # and close to the float graph (int8 quantization error)
    fl = evaluate(g, {"input": x})[g.outputs[0]]
    assert np.abs(out[g.outputs[0]] - fl).max() < 0.1 * np.abs(fl).max()
    prof = mod.profile({"input": x})
    assert prof.vta_cycles > 0
    assert "VTA" in str(prof) and "cycles" in str(prof)


def test_mixed_vta_and_cpu_bit_exact():
    """A residual add (CPU, float32 on dequantized values) after the offloaded convolutions."""
    g = conv_graph(relu_last=True, residual=True)
    env = vta.Env.default()
    mod = graph.build(g, target=env)
    assert len(mod.layers) == 2
    assert any(kind == "cpu" for kind, _ in mod.steps)
    x = np.random.default_rng(2).standard_normal((1, 16, 8, 8)).astype("float32")
    np.testing.assert_array_equal(mod.run({"input": x})[g.outputs[0]],
                                  mod.reference({"input": x})[g.outputs[0]])


def test_convs_vta_cannot_run_stay_on_cpu():
    b = GraphBuilder()
    x = b.input("input", (1, 3, 8, 8))             # 3 input channels: not a multiple of 16
    w = b.const(np.ones((16, 3, 3, 3), "float32") / 27, "w")
    y = b.add("conv2d", [x, w], dict(strides=(1, 1), padding=(1, 1, 1, 1), dilation=(1, 1)))
    g = b.graph([y])
    mod = graph.build(g, target=vta.Env.default())
    assert mod.layers == []
    xin = np.random.default_rng(0).standard_normal((1, 3, 8, 8)).astype("float32")
    np.testing.assert_allclose(mod.run({"input": xin})[y], evaluate(g, {"input": xin})[y],
                               rtol=1e-5, atol=1e-5)


def test_resnet18_on_vta(model_zoo):
    """ResNet-18 (64x64): the convolutions VTA can run are offloaded (the 2x2 layer-4 ones are too
    narrow for its tiles), every VTA layer's int8 output is bit-exact, top-1 matches fp32."""
    onnx_bytes, x, expected = model_zoo("resnet18")
    g = graph.from_onnx(onnx_bytes)
    rng = np.random.default_rng(0)
    calib = [{"input": rng.standard_normal(x.shape).astype("float32")} for _ in range(2)]
    mod = graph.build(g, target=vta.Env.default(), calibration=calib)
    assert len(mod.layers) >= 10
    out = mod.run({"input": x})["output"]
    ref = mod.reference({"input": x}, keep_all=True)["int8"]
    assert set(mod.int8_values) == {layer.name for layer in mod.layers}
    for name, q in mod.int8_values.items():
        np.testing.assert_array_equal(q, ref[name][0], err_msg=name)
    assert out.argmax() == expected.argmax()


def test_vta_layout_is_a_graph_pass_with_cancelled_transforms():
    """print(mod.graph) shows the VTA layouts: data enters NCHW1n16c once (after its quantize),
    the two consecutive VTA convolutions pass NCHW1n16c int8 directly (the transforms between
    them cancelled), and leaves once (before its dequantize); weights packed OIHW16o16i."""
    from workbench.graph.vta import VTA_PASSES
    assert [name for name, _ in VTA_PASSES][-3:] == ["offload_to_vta", "vta_layout", "fuse_ops"]
    g = conv_graph(relu_last=True, residual=True)
    env = vta.Env.default()
    mod = graph.build(g, target=env)
    vg = mod.graph
    convs = [n for n in vg.ops() if n.op == "vta_conv2d"]
    assert [n.layout for n in convs] == ["NCHW1n16c"] * 2
    assert convs[1].inputs[0] == convs[0].name                  # no transform in between
    assert [vg[n.inputs[1]].layout for n in convs] == ["OIHW16o16i"] * 2
    assert vg[convs[0].inputs[1]].shape == (2, 1, 3, 3, 16, 16)
    transforms = [n for n in vg.ops() if n.op == "layout_transform"]
    assert [(t.attr("src"), t.attr("dst"), t.dtype) for t in transforms] == [
        ("NCHW", "NCHW1n16c", "int8"), ("NCHW1n16c", "NCHW", "int8")]
    assert vg[transforms[0].inputs[0]].op == "quantize"
    assert [vg[c].op for c in vg.consumers()[transforms[1].name]] == ["dequantize"]
    text = str(vg)
    assert "NCHW1n16c = vta_conv2d(" in text and "int8[1x2x8x8x1x16]" in text
    assert [grp for grp in vg.groups().values() if convs[0].name in grp] == [[convs[0].name]]
