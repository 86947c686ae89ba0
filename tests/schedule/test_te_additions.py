"""te additions the VTA tutorials use: >> and <<, T(*i), thread axes; integer literal range checks
and the truth value of loop-variable conditions."""
import numpy as np
import pytest

import workbench as wb
from workbench import te


@pytest.mark.parametrize("dtype", ["int8", "int32", "uint8", "int64"])
def test_shifts_match_numpy(dtype):
    A = te.placeholder((64,), dtype, name="A")
    C = te.compute((64,), lambda i: (A(i) >> 2) + (A[i] << 1), name="C")
    info = np.iinfo(dtype)
    a = np.random.default_rng(1).integers(max(info.min, -1000), min(info.max, 1000), 64).astype(dtype)
    want = (a >> 2) + (a << 1)
    for vec in (False, True):
        s = wb.create_schedule(C)
        if vec:
            s[C].vectorize(C.op.axis[0])
        c = np.zeros(64, dtype)
        wb.build(s, [A, C])(a, c)
        np.testing.assert_array_equal(c, want)


def test_shift_of_loop_variable_and_printing():
    A = te.placeholder((32,), "int32", name="A")
    C = te.compute((32,), lambda i: A[i >> 1] + (1 << (i % 4)), name="C")
    s = wb.create_schedule(C)
    text = str(wb.lower(s, [A, C]))
    assert "i >> 1" in text and "1 << i % 4" in text
    a = np.arange(32, dtype="int32") * 3
    c = np.zeros(32, "int32")
    wb.build(s, [A, C])(a, c)
    i = np.arange(32)
    np.testing.assert_array_equal(c, a[i >> 1] + (1 << (i % 4)))


def test_constant_shift_folds():
    from workbench.ir.simplify import simplify_expr
    assert simplify_expr(te.const(5) << 3).value == 40
    assert simplify_expr(te.const(-16) >> 2).value == -4


def test_shift_needs_integers():
    A = te.placeholder((4,), name="A")
    with pytest.raises(TypeError, match=">>"):
        A[0] >> 1
    with pytest.raises(TypeError, match="<<"):
        2 << A[0]


def test_call_form_equals_index_form():
    A = te.placeholder((4, 5), name="A")
    C1 = te.compute((4, 5), lambda i, j: A(i, j) + 1.0, name="C1")
    assert str(C1.op.body) == "A[i, j] + 1.0"
    with pytest.raises(IndexError):
        te.compute((4,), lambda i: A(i), name="bad")


def test_thread_axis():
    t = te.thread_axis("cthread")
    assert (t.kind, t.thread_tag, t.extent) == ("thread", "cthread", None)
    t2 = te.thread_axis((0, 2), "vthread", name="vt")
    assert (t2.name, t2.extent) == ("vt", 2)
    with pytest.raises(ValueError, match="unknown thread tag"):
        te.thread_axis("threadIdx.x")


def test_int_literal_must_fit_dtype():
    A = te.placeholder((4,), "int8", name="A")
    with pytest.raises(ValueError, match="300 does not fit in int8"):
        A[0] + 300
    with pytest.raises(ValueError, match="does not fit in uint8"):
        te.placeholder((4,), "uint8", name="U")[0] - (-1)
    assert str(A[0] + 100).endswith("int8(100)")
    assert (A[0].astype("int32") + 300).dtype == "int32"
    with pytest.raises(ValueError, match="does not fit in int8"):
        te.const(300, "int8")
    assert te.const(-128, "int8").value == -128


def test_truth_value_of_loop_condition_raises():
    A = te.placeholder((8,), name="A")
    with pytest.raises(TypeError, match="if_then_else"):
        te.compute((8,), lambda i: A[i] if i == 0 else A[0], name="C")
    with pytest.raises(TypeError, match="if_then_else"):
        te.compute((8,), lambda i: A[i] if (i % 2) == 1 else A[0], name="C")
    # containers of nodes keep working: identity for variables, structure otherwise
    C = te.compute((8,), lambda i: A[i] * 2.0, name="C")
    i = C.op.axis[0]
    assert i in [C.op.axis[0]] and {i.var: 1}[i.var] == 1
    assert (i.var + 1) in [i.var + 1]
    j = te.compute((8,), lambda j: A[j], name="D").op.axis[0]
    assert j not in [i]
