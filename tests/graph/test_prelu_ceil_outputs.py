"""What the vision studies' networks need from the graph layer: PReLU (per-channel slope, fused
into the producing convolution in the blocked layout), MaxPool with ceil_mode (MTCNN), and
intermediate values returned as extra named outputs of one compiled graph."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from torch import nn  # noqa: E402

from workbench import graph  # noqa: E402
from workbench.graph import GraphError  # noqa: E402


def _check(module, x, names, optimize=True, atol=1e-5):
    g = graph.from_torch(module, x, output_names=names)
    g = graph.optimize(g) if optimize else g
    out = graph.build(g).run({"input": x.numpy()})
    with torch.no_grad():
        ref = module(x)
    ref = ref if isinstance(ref, tuple) else (ref,)
    for n, r in zip(names, ref, strict=True):
        assert out[n].shape == tuple(r.shape), n
        np.testing.assert_allclose(out[n], r.numpy(), atol=atol, err_msg=n)
    return g


class PReLUNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 32, 3)
        self.act = nn.PReLU(32)
        self.dense = nn.Linear(32, 10)
        self.act2 = nn.PReLU()                 # one shared slope
        with torch.no_grad():
            self.act.weight.uniform_(-1.0, 1.0)
            self.act2.weight.fill_(0.3)

    def forward(self, x):
        y = self.act(self.conv(x))
        return self.act2(self.dense(nn.functional.adaptive_avg_pool2d(y, 1).flatten(1)))


@pytest.mark.parametrize("optimize", [False, True])
def test_prelu_matches_torch_and_fuses(optimize):
    torch.manual_seed(0)
    g = _check(PReLUNet().eval(), torch.randn(1, 3, 13, 11), ("output",), optimize)
    prelus = [n for n in g.ops() if n.op.startswith("prelu")]
    assert len(prelus) == 2
    conv_prelu = next(n for n in prelus if len(n.shape) > 2)
    assert conv_prelu.group == g[g[conv_prelu.inputs[0]].inputs[0]].group   # conv + bias + prelu
    if optimize:
        assert conv_prelu.op == "prelu_nchwc"            # the slope was re-blocked with the data


@pytest.mark.parametrize("size,kernel,stride,pad", [(22, 3, 2, 0), (23, 3, 2, 0), (9, 2, 2, 0),
                                                    (10, 3, 2, 1), (7, 3, 3, 0)])
def test_maxpool_ceil_mode_matches_torch(size, kernel, stride, pad):
    module = nn.Sequential(nn.Conv2d(3, 8, 1), nn.MaxPool2d(kernel, stride, pad, ceil_mode=True)).eval()
    x = torch.randn(1, 3, size, size)
    for optimize in (False, True):
        _check(module, x, ("output",), optimize)


class Tapped(nn.Module):
    """Returns a value that later layers also read, and a pooled feature of it."""
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 16, 3, padding=1), nn.Conv2d(16, 16, 3, padding=1)

    def forward(self, x):
        h = torch.relu(self.a(x))
        y = torch.relu(self.b(h) + h)
        return y, h, nn.functional.adaptive_avg_pool2d(h, 1).flatten(1)


def test_intermediate_values_as_extra_outputs():
    torch.manual_seed(1)
    g = _check(Tapped().eval(), torch.randn(1, 3, 12, 12), ("y", "h", "h_gap"))
    assert g.outputs == ("y", "h", "h_gap")
    assert g["h"].layout == "NCHW"                          # outputs keep the model's layout
    mod = graph.build(g)
    blocks = {mod.plan.assign[o] for o in g.outputs}
    assert len(blocks) == 3                                 # outputs never share storage


def _onnx(node, inits, in_shape):
    gr = helper.make_graph([node], "m", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                                        list(in_shape))],
                           [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)],
                           initializer=[numpy_helper.from_array(v, k) for k, v in inits])
    return helper.make_model(gr, opset_imports=[helper.make_opsetid("", 17)])


def test_prelu_slope_that_is_not_per_channel_is_rejected():
    m = _onnx(helper.make_node("PRelu", ["input", "s"], ["output"], name="pr"),
              [("s", np.full((1, 1, 6), 0.1, np.float32))], (1, 4, 6, 6))
    with pytest.raises(GraphError, match=r"'pr' \(PRelu\).*slope of shape \(1, 1, 6\)"):
        graph.from_onnx(m)
    m = _onnx(helper.make_node("PRelu", ["input", "s"], ["output"], name="pr"),
              [("s", np.full((4, 1, 1), 0.1, np.float32))], (1, 4, 6, 6))
    g = graph.from_onnx(m)
    x = np.random.default_rng(0).standard_normal((1, 4, 6, 6)).astype(np.float32)
    np.testing.assert_allclose(graph.build(g).run({"input": x})["output"],
                               np.where(x > 0, x, 0.1 * x), atol=1e-6)
