"""The "why is it fast or slow" model: its findings, and that the suggested fixes remove them.

The timing side of the validation (the fix measurably speeds the kernel up) is in
notebooks/01_schedule_explorer.ipynb; here the warning logic is checked without timing."""
import workbench as wb
from kernels import registry
from workbench.ui.analysis import analyze
from workbench.ui.machine import Machine

ZEN4 = Machine((32 * 1024, 1024 * 1024, 32 * 1024 * 1024), 512, 2)


def _mm(n=256):
    (A, B), C = registry.get("matmul").make(M=n, N=n, K=n)
    return C, wb.create_schedule(C)


def _exec_fix(s, fix):
    exec(fix.split("#")[0], {"s": s})


def test_case1_strided_innermost_flagged_and_fixed():
    C, s = _mm()
    a = analyze(s, ZEN4)
    (f,) = [f for f in a.findings if f.kind == "stride"]
    assert f.axis == "k" and "walks B with stride 256 floats" in f.message and "j" in f.fix
    _exec_fix(s, f.fix)
    assert [iv.name for iv in s["C"].leaf_iter_vars] == ["i", "k", "j"]
    assert "stride" not in analyze(s, ZEN4).kinds()


def test_case2_parallel_inner_loop_flagged_and_fixed():
    C, s = _mm()
    i, j = C.op.axis
    (k,) = C.op.reduce_axis
    io, ii = s[C].split(i, factor=8)
    s[C].reorder(io, k, ii, j)
    s[C].parallel(ii)
    (f,) = [f for f in analyze(s, ZEN4).findings if f.kind == "parallel"]
    assert f.axis == "i.inner" and "starts 8,192 times" in f.message    # 32 x 256 launches
    # the suggested fix: parallelize the outer loop instead (same schedule without the inner one)
    C2, s2 = _mm()
    i, j = C2.op.axis
    (k,) = C2.op.reduce_axis
    io, ii = s2[C2].split(i, factor=8)
    s2[C2].reorder(io, k, ii, j)
    _exec_fix(s2, f.fix)
    assert s2[C2].kinds == {io: "parallel"}
    assert "parallel" not in analyze(s2, ZEN4).kinds()


def test_strides_and_working_sets():
    C, s = _mm(128)
    a = analyze(s, ZEN4)
    (st,) = a.stages
    acc = {x.tensor: x for x in st.accesses}
    assert acc["A"].strides == (128, 0, 1) and acc["B"].strides == (0, 1, 128) and acc["C"].strides == (128, 1, 0)
    k = a.loop("C", "k")
    # one run of k: a row of A (512 B), a column of B (one line per element), one C element
    assert k.working_set == 128 * 4 + 128 * 64 + 4 and k.fits == "L1"
    assert a.loop("C", "i").working_set == 3 * 128 * 128 * 4


def test_lanes_and_balance():
    C, s = _mm(64)
    i, j = C.op.axis
    jo, ji = s[C].split(j, factor=8)
    s[C].reorder(i, jo, C.op.reduce_axis[0], ji)
    s[C].vectorize(ji)
    io, ii = s[C].split(i, nparts=3)
    s[C].parallel(io)
    kinds = {(f.kind, f.axis) for f in analyze(s, ZEN4).findings}
    assert ("lanes", "j.inner") in kinds            # 8 of 16 lanes
    assert ("balance", "i.outer") in kinds          # 3 iterations on 2 cores


def test_reuse_beyond_l2():
    C, s = _mm(1024)
    s[C].reorder(C.op.axis[0], C.op.reduce_axis[0], C.op.axis[1])
    (f,) = [f for f in analyze(s, ZEN4).findings if f.kind == "reuse"]
    assert f.axis == "i" and "4.0 MB of B" in f.message


def test_inlined_stage_reads_are_followed():
    (d,), out = registry.get("relu").make(shape=(8, 16))
    s = wb.create_schedule(out)
    a = analyze(s, ZEN4)
    assert {x.tensor for x in a.stages[0].accesses} >= {d.name}
