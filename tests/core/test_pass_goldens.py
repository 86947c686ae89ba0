"""Before/after goldens for single passes: simplify, bound inference (the regions schedule_ops
allocates and indexes for compute_at / cache stages) and loop partition. `pytest --update-golden`
rewrites tests/golden/passes/; a missing file fails."""
from pathlib import Path

import pytest

import workbench as wb
from workbench import te

from .test_golden_ir import check_golden, matmul, padded_conv

GOLDEN = Path(__file__).parent.parent / "golden" / "passes"


def conv_compute_at():
    X, W, P, Y = padded_conv()
    s = wb.create_schedule(Y)
    yo, yi = s[Y].split(Y.op.axis[0], factor=3)        # 3 does not divide 8: a tail
    s[P].compute_at(s[Y], yo)
    return s, [X, W, Y]


def tiled_cache_write():
    A, B, C = matmul(10, 12, 5)
    s = wb.create_schedule(C)
    CL = s.cache_write(C, "local")
    io, jo, ii, ji = s[C].tile(*C.op.axis, 4, 8)
    s[CL].compute_at(s[C], jo)
    return s, [A, B, C]


def fused_split():
    A = te.placeholder((6, 7), name="A")
    B = te.compute((6, 7), lambda i, j: A[i, j] * 2.0, name="B")
    s = wb.create_schedule(B)
    f = s[B].fuse(*B.op.axis)
    s[B].split(f, factor=8)
    return s, [A, B]


CASES = {
    # pass: (what it reads, schedules)
    "bound_inference": ("schedule_ops", {"conv_compute_at": conv_compute_at, "tiled_cache_write": tiled_cache_write}),
    "simplify": ("schedule_ops", {"fused_split": fused_split, "conv_compute_at": conv_compute_at}),
    "loop_partition": ("simplify", {"fused_split": fused_split, "tiled_cache_write": tiled_cache_write,
                                    "conv_compute_at": conv_compute_at}),
}
PARAMS = [(p, c) for p, (_, cs) in CASES.items() for c in cs]


@pytest.mark.parametrize("pass_name,case", PARAMS, ids=[f"{p}-{c}" for p, c in PARAMS])
def test_pass_golden(pass_name, case, update_golden):
    before_name, cases = CASES[pass_name]
    s, args = cases[case]()
    func = wb.lower(s, args, verify=True)
    if pass_name == "bound_inference":
        text = f"# {case}: loop nest and buffers from bound inference\n{func.after('schedule_ops')}\n"
    else:
        text = (f"# {case}: before {pass_name}\n{func.after(before_name)}\n"
                f"# after {pass_name}\n{func.after(pass_name)}\n")
    check_golden(GOLDEN / f"{pass_name}-{case}.txt", text, update_golden)
