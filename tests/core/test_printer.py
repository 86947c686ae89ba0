"""The printer shows flattened accesses per dimension (`A[i - 1, j - 1]`) and the split it prints
always flattens back to the address the code reads."""
import itertools
import random

import workbench as wb
from workbench import te
from workbench.ir import expr as E
from workbench.ir.printer import unflatten_index
from workbench.ir.simplify import linear


def _flat(dims, shape):
    """Row-major flattening of printed per-dimension indices, as a linear form."""
    total = None
    for e, n in zip(dims, shape):
        e = e[0] if isinstance(e, tuple) else e
        total = e if total is None else total * n + e
    return linear(total)


def test_inlined_padding_read_prints_per_dimension():
    A = te.placeholder((4, 6), name="A")
    P = te.compute((6, 8), lambda i, j: te.if_then_else(te.all(i >= 1, i < 5, j >= 1, j < 7),
                                                        A[i - 1, j - 1], 0.0), name="P")
    B = te.compute((4, 6), lambda i, j: P[i, j] + P[i + 2, j + 2], name="B")
    s = wb.create_schedule(B)
    s[P].compute_inline()
    text = str(wb.lower(s, [A, B]))
    assert "A[i - 1, j - 1]" in text and "A[i + 1, j + 1]" in text, text


def test_fused_index_stays_flat():
    A = te.placeholder((16, 16), name="A")
    B = te.compute((16, 16), lambda i, j: A[i, j] * 2.0, name="B")
    s = wb.create_schedule(B)
    s[B].fuse(*s[B].op.axis)
    text = str(wb.lower(s, [A, B]))
    assert "B[i.j.fused]" in text, text


def test_unflattened_split_flattens_back():
    rng = random.Random(0)
    i, j, k = (E.Var(n) for n in "ijk")
    for _ in range(300):
        shape = [rng.randint(2, 9) for _ in range(3)]
        ranges = {v: (0, rng.randint(0, 2 * n)) for v, n in zip((i, j, k), shape)}
        const = rng.randint(-100, 100)
        flat = (i * (shape[1] * shape[2]) + j * shape[2] + k) + const
        dims = unflatten_index(shape, flat, ranges)
        if dims is None:
            continue
        assert _flat(dims, shape) == linear(flat), (shape, const, dims)
