"""Traces are data from files and logs: validated against the primitives and their argument kinds,
one error type (wb.TraceError) naming the step; numpy integers normalize to int."""
import json

import numpy as np
import pytest

import workbench as wb
from workbench.schedule import PRIMITIVES

from .helpers import matmul, run_matmul


def test_numpy_integers_normalize():
    A, B, C = matmul(64, 64, 64)
    s = wb.create_schedule(C)
    io, ii = s[C].split(C.op.axis[0], factor=np.int64(8))
    xo, yo, xi, yi = s[C].tile(ii, C.op.axis[1], np.int32(4), np.int64(16))
    s[C].pragma(xo, "auto_unroll_max_step", np.int16(8))
    for step in s.trace:
        for v in list(step.args) + [v for _, v in step.kwargs]:
            assert type(v) in (str, int, tuple), (step, type(v))
    text = s.trace.to_python()
    assert "np." not in text and "factor=8" in text
    s2 = wb.create_schedule(C)
    exec(text, {"s": s2})                         # the printed script replays
    s3 = wb.Trace.from_json(s.trace.to_json()).replay(wb.create_schedule(C))
    assert str(wb.lower(s2, [A, B, C])) == str(wb.lower(s3, [A, B, C])) == str(wb.lower(s, [A, B, C]))
    run_matmul(s3, A, B, C)


def _steps(*steps):
    return json.dumps([dict({"stage": "C", "args": [], "kwargs": {}, "outputs": []}, **st) for st in steps])


@pytest.mark.parametrize("bad,pattern", [
    ({"primitive": "__setattr__", "args": ["kinds", {}]}, "trace step 1 \\('__setattr__'\\): unknown primitive"),
    ({"primitive": "split", "args": ["i"], "kwargs": {"factor": "4"}}, "keyword factor must be an int"),
    ({"primitive": "split", "args": ["i"], "kwargs": {"factr": 4}}, "unexpected keyword argument"),
    ({"primitive": "split", "args": [], "kwargs": {"factor": 4}}, "takes 1 arguments, got 0"),
    ({"primitive": "fuse", "args": ["i", 3]}, "argument 1 must be a name"),
    ({"primitive": "tile", "args": ["i", "j", 4, True]}, "argument 3 must be an int"),
    ({"primitive": "cache_write", "args": ["C", "local"]}, "schedule-level primitive"),
    ({"primitive": "vectorize", "stage": None, "args": ["j"]}, "needs the name of a stage"),
    ({"primitive": "compute_root", "stage": "nope"}, "no stage 'nope'"),
    ({"primitive": "split"} and "not-a-dict", "expected an object"),
    ({"primitive": "split", "args": "i"}, "expected an object"),
])
def test_malformed_traces_raise_trace_error(bad, pattern):
    A, B, C = matmul(16, 16, 16)
    good = {"primitive": "split", "args": ["i"], "kwargs": {"factor": 4}, "outputs": ["i.outer", "i.inner"]}
    text = _steps(good, bad) if isinstance(bad, dict) else json.dumps([dict(good, stage="C"), bad])
    s = wb.create_schedule(C)
    with pytest.raises(wb.TraceError, match=pattern) as info:
        wb.Trace.from_json(text).replay(s)
    assert isinstance(info.value, ValueError)
    assert "kinds" not in vars(s) or s[C].kinds == {}


def test_not_a_list_or_not_json():
    with pytest.raises(wb.TraceError, match="list of steps"):
        wb.Trace.from_json('{"primitive": "split"}')
    with pytest.raises(wb.TraceError, match="not valid JSON"):
        wb.Trace.from_json("[{")


def test_every_primitive_round_trips():
    """Each primitive the schedule records is in PRIMITIVES and survives JSON."""
    from workbench import te
    A, B, C = matmul(32, 32, 32)
    D = te.compute((32, 32), lambda i, j: C[i, j] + 1.0, name="D")
    s = wb.create_schedule(D)
    CC = s.cache_write(C, "local")
    AL = s.cache_read(A, "local", [CC])
    do, di = s[D].split(D.op.axis[0], factor=8)
    s[C].compute_at(s[D], do)
    s[CC].compute_at(s[C], C.op.axis[0])
    s[AL].compute_at(s[CC], s[CC].op.axis[0])
    s[D].vectorize(D.op.axis[1])
    s[D].pragma(di, "auto_unroll_max_step", 4)
    s[D].parallel(do)
    x, y = s[CC].op.axis
    ko, ki = s[CC].split(s[CC].op.reduce_axis[0], nparts=4)
    s[CC].reorder(ko, x, ki, y)
    s[CC].unroll(ki)
    prims = {st.primitive for st in s.trace}
    assert prims <= set(PRIMITIVES)
    s2 = wb.Trace.from_json(s.trace.to_json()).replay(wb.create_schedule(D))
    assert str(wb.lower(s2, [A, B, D])) == str(wb.lower(s, [A, B, D]))
