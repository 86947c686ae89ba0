import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from workbench.graph import models  # noqa: E402
from workbench.graph.frontend import torch_to_onnx  # noqa: E402

IMAGE = 64     # small inputs keep tests/graph fast


def run_onnxruntime(onnx_bytes: bytes, x: np.ndarray) -> np.ndarray:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(onnx_bytes, so, providers=["CPUExecutionProvider"])
    return sess.run(None, {"input": x})[0]


@pytest.fixture(scope="session")
def model_zoo():
    """name -> (onnx bytes, input array, onnxruntime output); exported once per session."""
    cache = {}

    def get(name):
        if name not in cache:
            model, x = models.make(name, seed=0, image=IMAGE)
            onnx_bytes = torch_to_onnx(model, x)
            xs = x.numpy()
            cache[name] = (onnx_bytes, xs, run_onnxruntime(onnx_bytes, xs))
        return cache[name]
    return get


@pytest.fixture(scope="session")
def built_model(model_zoo):
    """name -> (optimized graph, GraphModule), built once per session."""
    from workbench import graph
    cache = {}

    def get(name):
        if name not in cache:
            onnx_bytes, _, _ = model_zoo(name)
            g = graph.optimize(graph.from_onnx(onnx_bytes))
            cache[name] = (g, graph.build(g))
        return cache[name]
    return get
