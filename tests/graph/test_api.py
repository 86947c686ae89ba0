"""DESIGN.md "Graphs" as written: from_torch, optimize(g, target), extract_tasks(g, target),
build(g, target=wb.Target.host()), run, time with a per-layer profile."""
import numpy as np
import pytest

import workbench as wb
from workbench import graph

torch = pytest.importorskip("torch")


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 16, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(16)
        self.fc = torch.nn.Linear(16, 5)

    def forward(self, x):
        y = torch.relu(self.bn(self.conv(x)))
        return torch.softmax(self.fc(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(y, 1), 1)), -1)


def test_design_api_as_written():
    torch.manual_seed(0)
    model = Tiny().eval()
    x = torch.randn(1, 3, 12, 12)
    g = graph.from_torch(model, x)
    target = wb.Target.host()
    g = graph.optimize(g, target)
    text = str(g)
    assert "[g0]" in text and "conv2d_nchwc" in text and "softmax" in text
    mod = graph.build(g, target=target)
    out = mod.run({"input": x.numpy()})
    with torch.no_grad():
        np.testing.assert_allclose(out["output"], model(x).numpy(), rtol=1e-4, atol=1e-6)
    prof = mod.time({"input": x.numpy()}, repeat=1, min_time=0.0)
    recs = prof.records()
    assert len(recs) == len(mod.steps) and abs(sum(r["share"] for r in recs) - 1) < 1e-6
    assert "latency" in str(prof)
    pytest.importorskip("workbench.tune")
    tasks = graph.extract_tasks(g, target)
    assert [t.args for t in tasks] == [(1, 3, 12, 12, 16, 3, 1, 1, 0, 16)]


def test_build_rejects_bad_targets():
    g = graph.from_torch(Tiny().eval(), torch.randn(1, 3, 8, 8))
    with pytest.raises((TypeError, ValueError)):
        graph.build(g, target=42)
