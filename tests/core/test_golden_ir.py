"""Golden printed IR, one file per primitive: `pytest --update-golden` rewrites tests/golden/."""
from pathlib import Path

import pytest

import workbench as wb
from workbench import te

GOLDEN = Path(__file__).parent.parent / "golden"


def matmul(m=16, n=16, k=16):
    A = te.placeholder((m, k), name="A")
    B = te.placeholder((k, n), name="B")
    r = te.reduce_axis((0, k), name="k")
    C = te.compute((m, n), lambda i, j: te.sum(A[i, r] * B[r, j], axis=r), name="C")
    return A, B, C


def padded_conv():
    X = te.placeholder((8, 8), name="X")
    W = te.placeholder((3, 3), name="W")
    P = te.compute((10, 10), lambda y, x: te.if_then_else(
        te.all(y >= 1, y < 9, x >= 1, x < 9), X[y - 1, x - 1], 0.0), name="pad")
    ry, rx = te.reduce_axis((0, 3), name="ry"), te.reduce_axis((0, 3), name="rx")
    Y = te.compute((8, 8), lambda y, x: te.sum(P[y + ry, x + rx] * W[ry, rx], axis=[ry, rx]), name="Y")
    return X, W, P, Y


def s_default():
    A, B, C = matmul()
    return wb.create_schedule(C), [A, B, C]


def s_split():
    A, B, C = matmul()
    s = wb.create_schedule(C)
    s[C].split(C.op.axis[0], factor=4)
    return s, [A, B, C]


def s_split_tail():
    A, B, C = matmul(m=10)
    s = wb.create_schedule(C)
    s[C].split(C.op.axis[0], factor=4)
    return s, [A, B, C]


def s_split_nparts():
    A, B, C = matmul()
    s = wb.create_schedule(C)
    s[C].split(C.op.axis[1], nparts=2)
    return s, [A, B, C]


def s_tile():
    A, B, C = matmul()
    s = wb.create_schedule(C)
    s[C].tile(*C.op.axis, 4, 8)
    return s, [A, B, C]


def s_fuse():
    A, B, C = matmul()
    s = wb.create_schedule(C)
    s[C].fuse(*C.op.axis)
    return s, [A, B, C]


def s_reorder():
    A, B, C = matmul()
    s = wb.create_schedule(C)
    i, j = C.op.axis
    s[C].reorder(C.op.reduce_axis[0], j, i)
    return s, [A, B, C]


def s_vectorize():
    A, B, C = matmul()
    s = wb.create_schedule(C)
    i, j = C.op.axis
    s[C].reorder(i, C.op.reduce_axis[0], j)
    s[C].vectorize(j)
    return s, [A, B, C]


def s_unroll():
    A, B, C = matmul(k=4)
    s = wb.create_schedule(C)
    s[C].unroll(C.op.reduce_axis[0])
    return s, [A, B, C]


def s_parallel():
    A, B, C = matmul()
    s = wb.create_schedule(C)
    s[C].parallel(C.op.axis[0])
    return s, [A, B, C]


def s_pragma_auto_unroll():
    A, B, C = matmul(n=2, k=2)
    s = wb.create_schedule(C)
    s[C].pragma(C.op.axis[0], "auto_unroll_max_step", 4)
    return s, [A, B, C]


def s_compute_at():
    X, W, P, Y = padded_conv()
    s = wb.create_schedule(Y)
    yo, yi = s[Y].split(Y.op.axis[0], factor=4)
    s[P].compute_at(s[Y], yo)
    return s, [X, W, Y]


def s_compute_inline():
    X, W, P, Y = padded_conv()
    s = wb.create_schedule(Y)
    s[P].compute_inline()
    return s, [X, W, Y]


def s_compute_root():
    X, W, P, Y = padded_conv()
    s = wb.create_schedule(Y)
    s[P].compute_inline()
    s[P].compute_root()
    return s, [X, W, Y]


def s_cache_read():
    A, B, C = matmul()
    s = wb.create_schedule(C)
    BL = s.cache_read(B, "local", [C])
    io, ii = s[C].split(C.op.axis[0], factor=8)
    s[BL].compute_at(s[C], io)
    return s, [A, B, C]


def s_cache_write():
    A, B, C = matmul()
    s = wb.create_schedule(C)
    CL = s.cache_write(C, "local")
    io, jo, ii, ji = s[C].tile(*C.op.axis, 4, 4)
    s[CL].compute_at(s[C], jo)
    return s, [A, B, C]


CASES = {name[2:]: fn for name, fn in globals().items() if name.startswith("s_")}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name, update_golden):
    s, args = CASES[name]()
    text = f"# trace\n{s.trace.to_python()}\n# lowered\n{wb.lower(s, args)}\n"
    check_golden(GOLDEN / f"{name}.txt", text, update_golden)


def check_golden(path: Path, text: str, update: bool):
    """Compare with a golden file; a missing one fails (run pytest --update-golden to write it)."""
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return
    if not path.exists():
        pytest.fail(f"golden file {path} is missing; run `pytest --update-golden` to create it, "
                    "then review and commit it")
    assert text == path.read_text()
