"""Golden printed IR for the round-2 primitives (rfactor, tensorize, bind, set_scope), next to
tests/core's per-primitive goldens: `pytest --update-golden` rewrites tests/golden/."""
import pytest

import workbench as wb
from workbench import te

from core.test_golden_ir import check_case, matmul  # tests/ is on sys.path (rootdir)
from .test_tensorize import axpy_intrin, axpy_schedule


def s_rfactor():
    A = te.placeholder((8, 20), name="A")
    k = te.reduce_axis((0, 20), "k")
    C = te.compute((8,), lambda i: te.sum(A[i, k], axis=k), name="C")
    s = wb.create_schedule(C)
    ko, ki = s[C].split(k, factor=8)
    CF = s.rfactor(C, ki)
    s[CF].compute_at(s[C], C.op.axis[0])
    return s, [A, C]


def s_tensorize():
    A, B, C = matmul(16, 32, 8)
    s, ki = axpy_schedule(C)
    s[C].tensorize(ki, axpy_intrin())
    return s, [A, B, C]


def s_bind():
    A, B, C = matmul(8, 8, 8)
    s = wb.create_schedule(C)
    io, ii = s[C].split(C.op.axis[0], nparts=2)
    s[C].bind(io, te.thread_axis("cthread"))
    return s, [A, B, C]


def s_set_scope():
    A, B, C = matmul(8, 8, 8)
    D = te.compute((8, 8), lambda i, j: C[i, j] + 1.0, name="D")
    s = wb.create_schedule(D)
    s[C].set_scope("local")
    s[C].compute_at(s[D], D.op.axis[0])
    return s, [A, B, D]


CASES = {name[2:]: fn for name, fn in globals().items() if name.startswith("s_")}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name, update_golden):
    check_case(CASES[name], name, update_golden)
