"""Every operator's te compute: a valid graph of the right shape/dtype and stage names, and (run by
a small numpy interpreter of te graphs, no compiler needed) the same values as its reference."""
from __future__ import annotations

import numpy as np
import pytest

from _kernels_te_eval import OutOfBounds, assert_matches, evaluate, stages
from workbench import te
from workbench.ir import expr as E

import kernels
from kernels import registry

CASES = list(registry.all_cases())
IDS = [f"{o.name}[{registry.case_id(p)}]" for o, p in CASES]

# the stage named after the operator (the main reduction / the output)
MAIN_STAGE = {"matmul": "C", "batch_matmul": "batch_matmul", "dense": "dense", "conv2d": "conv2d",
              "depthwise_conv2d": "depthwise_conv2d", "conv2d_transpose": "conv2d_transpose",
              "pool2d": "pool2d", "relu": "relu", "bias_add": "bias_add", "add": "add",
              "softmax": "softmax"}


def _has_padding(params) -> bool:
    return any(np.atleast_1d(params.get("padding", 0)))


@pytest.mark.parametrize("op,params", CASES, ids=IDS)
def test_graph_is_well_formed(op, params):
    inputs, out = op.make(**params)
    assert isinstance(out, te.Tensor) and all(isinstance(t, te.Tensor) for t in inputs)
    assert all(isinstance(t.op, te.PlaceholderOp) for t in inputs)
    ref = op.reference(*op.random_inputs(**params), **params)
    assert out.shape == ref.shape and out.dtype == str(ref.dtype)
    ops = stages(out)
    names = [o.name for o in ops]
    assert len(names) == len(set(names)), f"stage names not unique: {names}"
    # the graph's placeholders are exactly the inputs, in any order
    assert {id(o) for o in ops if isinstance(o, te.PlaceholderOp)} == {id(t.op) for t in inputs}
    assert MAIN_STAGE[op.name] in names
    assert isinstance(out.op, te.ComputeOp)
    pads = [o for o in ops if o.name == "pad"]
    if op.name in ("conv2d", "depthwise_conv2d", "pool2d") and _has_padding(params):
        assert len(pads) == 1 and isinstance(pads[0].body, E.Select)
    if op.name == "conv2d_transpose":
        assert any(o.name == "conv2d_transpose" and o.reduce_axis for o in ops)
        assert ("dilate" in names) == (params.get("stride", 1) != 1)
    if op.name in ("conv2d", "depthwise_conv2d") and not _has_padding(params):
        assert not pads, "zero padding must not add a copy stage"
    assert op.flops(**params) > 0


@pytest.mark.parametrize("op,params", CASES, ids=IDS)
def test_compute_matches_reference(op, params):
    inputs, out = op.make(**params)
    arrays = op.random_inputs(seed=3, **params)
    got = evaluate(out, dict(zip(inputs, arrays)))
    want = op.reference(*arrays, **params)
    assert got.dtype == want.dtype
    assert_matches(got, want, rtol=1e-4, atol=1e-5)


def test_evaluator_catches_an_unguarded_read():
    A = te.placeholder((4,), name="A")
    B = te.compute((5,), lambda i: A[i] * 2.0, name="B")
    with pytest.raises(OutOfBounds):
        evaluate(B, {A: np.ones(4, np.float32)})


def test_main_stage_is_the_output_or_its_reduction():
    _, out = kernels.dense.make(2, 3, 4, bias=True)
    assert out.op.name == "dense_bias" and out.op.input_tensors[0].op.name == "dense"
    _, out = kernels.pool2d.make(1, 1, 4, 4, 2, pool_type="avg")
    assert [o.name for o in stages(out)] == ["data", "pool_sum", "pool2d"]
    _, out = kernels.softmax.make((2, 5))
    assert [o.name for o in stages(out)] == ["data", "softmax_max", "softmax_exp", "softmax_sum",
                                            "softmax"]
    _, out = kernels.conv2d_transpose.make(1, 2, 3, 3, 2, 3, stride=2, padding=1)
    assert [o.name for o in stages(out) if isinstance(o, te.ComputeOp)] == [
        "dilate", "pad", "conv2d_transpose"]


def test_topi_style_compute_takes_tensors():
    data = te.placeholder((1, 8, 10, 10), name="x")
    w = te.placeholder((4, 8, 3, 3), name="w")
    out = kernels.conv2d.compute(data, w, stride=2, padding=1)
    assert out.shape == (1, 4, 5, 5)
    nhwc = kernels.conv2d.conv2d_nhwc(te.placeholder((1, 10, 10, 8)), te.placeholder((3, 3, 8, 4)),
                                      padding=1)
    assert nhwc.shape == (1, 10, 10, 4)
    A, B = te.placeholder((3, 4), "int8", name="A"), te.placeholder((4, 5), "int8", name="B")
    assert kernels.matmul.compute(A, B, out_dtype="int32").dtype == "int32"


@pytest.mark.parametrize("call, exc", [
    (lambda: kernels.conv2d.make(1, 3, 8, 8, 4, 3, layout="NCWH"), ValueError),
    (lambda: kernels.conv2d.make(1, 3, 2, 2, 4, 5), ValueError),           # window > input
    (lambda: kernels.conv2d.make(1, 3, 8, 8, 4, 3, stride=0), ValueError),
    (lambda: kernels.conv2d.make(1, 3, 8, 8, 4, 3, padding=-1), ValueError),
    (lambda: kernels.conv2d_transpose.make(1, 2, 4, 4, 2, 3, padding=3), ValueError),
    (lambda: kernels.conv2d_transpose.make(1, 2, 4, 4, 2, 3, stride=2, output_padding=2),
     ValueError),
    (lambda: kernels.pool2d.make(1, 2, 4, 4, 2, pool_type="avg", dtype="int32"), TypeError),
    (lambda: kernels.pool2d.make(1, 2, 4, 4, 2, pool_type="sum"), ValueError),
    (lambda: kernels.matmul.compute(te.placeholder((2, 3)), te.placeholder((4, 5))), ValueError),
    (lambda: kernels.softmax.make((3, 4), dtype="int32"), TypeError),
    (lambda: kernels.bias_add.make((2, 3), axis=2), ValueError),
])
def test_bad_arguments_raise(call, exc):
    with pytest.raises(exc):
        call()


def test_registry_api():
    assert registry.names() == list(kernels.OPERATORS)
    assert set(registry.names()) == set(MAIN_STAGE)
    with pytest.raises(KeyError, match="known"):
        registry.get("conv3d")
    for op in registry.OPERATORS.values():
        assert len(op.small_params) >= 3, op.name
        inputs, out = op.make(**op.default_params)     # medium sizes build graphs too
        assert op.flops(**op.default_params) > 0
    assert registry.get("matmul").flops(M=2, N=3, K=4) == 48
