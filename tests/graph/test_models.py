"""ResNet-18, MobileNet-V2 and the DCGAN generator (PyTorch, seeded random weights, exported to
ONNX here) imported, optimized, compiled by the workbench and compared with onnxruntime.

Tolerance: fp32, |ours - onnxruntime| <= 1e-4 + 1e-3 * |onnxruntime| elementwise (both accumulate
in float32 in different orders; observed errors are ~1e-6)."""
import numpy as np
import pytest

from workbench import graph

RTOL, ATOL = 1e-3, 1e-4


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "dcgan"])
def test_model_matches_onnxruntime(name, model_zoo, built_model):
    onnx_bytes, x, expected = model_zoo(name)
    g, mod = built_model(name)
    out = mod.run({"input": x})
    assert list(out) == ["output"]
    np.testing.assert_allclose(out["output"], expected, rtol=RTOL, atol=ATOL)
    # the optimized graph fused something and kept every value in the planned buffers
    assert len(mod.steps) < len(g.ops())
    assert mod.plan.peak_bytes <= mod.plan.no_reuse_bytes
    # a second run reuses the buffers and gives the same answer
    np.testing.assert_array_equal(mod.run({"input": x})["output"], out["output"])


def test_resnet_unfused_nchw_matches(model_zoo):
    """The baseline the benchmarks compare with: no layout change, no fusion, same schedules."""
    onnx_bytes, x, expected = model_zoo("resnet18")
    g = graph.optimize(graph.from_onnx(onnx_bytes), layout=False, fuse=False)
    assert all(n.op != "conv2d_nchwc" for n in g)
    assert len(g.groups()) == len(g.ops())
    out = graph.build(g, plan_memory_reuse=False).run({"input": x})["output"]
    np.testing.assert_allclose(out, expected, rtol=RTOL, atol=ATOL)


def test_from_onnx_path_and_from_torch(model_zoo, tmp_path):
    from workbench.graph import models
    onnx_bytes, x, expected = model_zoo("dcgan")
    path = tmp_path / "dcgan.onnx"
    path.write_bytes(onnx_bytes)
    g1 = graph.from_onnx(str(path))
    model, xt = models.make("dcgan", seed=0)
    g2 = graph.from_torch(model, xt)
    assert [n.op for n in g1] == [n.op for n in g2]
    assert g1["output"].shape == (1, 3, 64, 64)


def test_profile_is_printable(model_zoo, built_model):
    onnx_bytes, x, _ = model_zoo("dcgan")
    _, mod = built_model("dcgan")
    prof = mod.time({"input": x}, repeat=1, min_time=0.0)
    text = str(prof)
    assert "latency" in text and "share" in text
    assert len(prof.layers) == len(mod.steps)
    assert prof.latency > 0
    names = [name for name, *_ in prof.layers]
    assert names[0].startswith("conv2d_transpose+")      # fused groups are named by their nodes
    assert all(t >= 0 for _, _, t, _ in prof.layers)
