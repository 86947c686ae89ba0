"""te.decl_tensor_intrin + s[C].tensorize on the CPU: intrinsics whose lower_fn emits loop IR."""
import numpy as np
import pytest

import workbench as wb
from workbench import te
from workbench.ir import expr as E
from workbench.ir import stmt as S
from workbench.schedule import scopes

from .helpers import matmul, run_matmul, schedule_error


def axpy_intrin(K=4, J=16, name="axpy16"):
    """o[j] += sum_k a[k] * b[k, j]: one 16-wide vector FMA per k."""
    a = te.placeholder((K,), name="a")
    b = te.placeholder((K, J), name="b")
    k = te.reduce_axis((0, K), "k")
    o = te.compute((J,), lambda j: te.sum(a[k] * b[k, j], axis=k), name="o")

    def lower_fn(ins, outs):
        a, b = ins
        o, = outs
        kk, jj, j2 = E.Var("kk"), E.Var("jj"), E.Var("j2")
        update = S.For(kk, E.const(0), E.const(K), "unrolled",
                       S.For(jj, E.const(0), E.const(J), "vectorized",
                             o.vstore(jj, o.vload(jj) + a.vload(kk) * b.vload(kk, jj))))
        reset = S.For(j2, E.const(0), E.const(J), "vectorized", o.vstore(j2, 0.0))
        return None, reset, update
    return te.decl_tensor_intrin(o, lower_fn, name=name)


def dot_intrin(K=16, with_reset=True):
    """o[0] = sum_k a[k] * b[k]: a 16-wide dot product (unrolled multiply-adds)."""
    a = te.placeholder((K,), name="a")
    b = te.placeholder((K,), name="b")
    k = te.reduce_axis((0, K), "k")
    o = te.compute((1,), lambda i: te.sum(a[k] * b[k], axis=k), name="o")

    def lower_fn(ins, outs):
        a, b = ins
        o, = outs
        kk = E.Var("kk")
        update = S.For(kk, E.const(0), E.const(K), "unrolled",
                       o.vstore(0, o.vload(0) + a.vload(kk) * b.vload(kk)))
        reset = o.vstore(0, 0.0)
        body = S.seq(reset, update)
        return (body, reset, update) if with_reset else body
    return te.decl_tensor_intrin(o, lower_fn, name=f"dot{K}" + ("" if with_reset else "_body"))


def axpy_schedule(C, jf=16, kf=4, order=None):
    """C's loops as (i, j.outer, k.outer, k.inner, j.inner) (or `order` of those names): the sub-nest
    under k.inner is an axpy block. Returns (s, k.inner)."""
    s = wb.create_schedule(C)
    i, j = C.op.axis
    k, = C.op.reduce_axis
    jo, ji = s[C].split(j, factor=jf)
    ko, ki = s[C].split(k, factor=kf)
    s[C].reorder(*(order or ("i", "j.outer", "k.outer", "k.inner", "j.inner")))
    return s, ki


def test_axpy_tensorize_matches_numpy_and_is_vector_code():
    A, B, C = matmul(64, 64, 64)
    s, ki = axpy_schedule(C)
    s[C].tensorize(ki, axpy_intrin())
    assert s.trace.steps[-1].to_python() == "s['C'].tensorize('k.inner', 'axpy16')"
    text = wb.lower(s, [A, B, C]).after("final_simplify")      # flat: vectors print as ramps
    assert "ramp(" in text and "k_inner" not in text and "k.inner" not in text        # the sub-nest is gone, vector code instead
    run_matmul(s, A, B, C)
    # replays by name, from JSON
    s2 = wb.create_schedule(C)
    wb.Trace.from_json(s.trace.to_json()).replay(s2)
    assert wb.lower(s2, [A, B, C]).after("final_simplify") == text


def test_dot_tensorize_transposed_operand_and_parallel_outer():
    M, N, K = 24, 20, 64
    A = te.placeholder((M, K), name="A")
    BT = te.placeholder((N, K), name="BT")
    k = te.reduce_axis((0, K), "k")
    C = te.compute((M, N), lambda i, j: te.sum(A[i, k] * BT[j, k], axis=k), name="C")
    for intrin, split in ((dot_intrin(16), True), (dot_intrin(64, with_reset=False), False)):
        s = wb.create_schedule(C)
        i, j = C.op.axis
        s[C].parallel(i)
        if split:
            ko, ki = s[C].split(k, factor=16)
            s[C].tensorize(ki, intrin)
        else:                      # the whole reduction inside: the body alone is enough
            s[C].tensorize(k, intrin)
        a = np.random.rand(M, K).astype("float32")
        b = np.random.rand(N, K).astype("float32")
        c = np.zeros((M, N), "float32")
        wb.build(s, [A, BT, C])(a, b, c)
        np.testing.assert_allclose(c, a @ b.T, rtol=1e-4)


def test_tensorize_after_compute_at_cache_and_offsets():
    """Views address cache buffers of a compute_at'ed stage (region-relative indices)."""
    A, B, C = matmul(64, 64, 64)
    s = wb.create_schedule(C)
    CC = s.cache_write(C, "local")
    xo, yo, xi, yi = s[C].tile(C.op.axis[0], C.op.axis[1], 8, 32)
    s[CC].compute_at(s[C], yo)
    x, y = s[CC].op.axis
    k, = s[CC].op.reduce_axis
    ko, ki = s[CC].split(k, factor=4)
    yo2, yi2 = s[CC].split(y, factor=16)
    s[CC].reorder(ko, x, yo2, ki, yi2)
    s[CC].tensorize(ki, axpy_intrin())
    run_matmul(s, A, B, C)


def test_packed_4d_stage_calls_2d_intrinsic():
    """As VTA's GEMM: data (bo, ko, bi, ki), weights (co, ko, ci, ki) -> (bo, co, bi, ci); the
    intrinsic is a 1x16x16 block and the leading axes are fixed inside the sub-nest."""
    BO, CO, KO, BI, CI, KI = 2, 3, 4, 1, 16, 16
    D = te.placeholder((BO, KO, BI, KI), name="D")
    W = te.placeholder((CO, KO, CI, KI), name="W")
    ko = te.reduce_axis((0, KO), "ko")
    ki = te.reduce_axis((0, KI), "ki")
    R = te.compute((BO, CO, BI, CI), lambda bo, co, bi, ci: te.sum(D[bo, ko, bi, ki] * W[co, ko, ci, ki],
                                                                  axis=[ko, ki]), name="R")
    x = te.placeholder((BI, KI), name="x")
    w = te.placeholder((CI, KI), name="w")
    k = te.reduce_axis((0, KI), "k")
    o = te.compute((BI, CI), lambda i, j: te.sum(x[i, k] * w[j, k], axis=k), name="o")
    calls = []

    def lower_fn(ins, outs):
        x, w = ins
        o, = outs
        calls.append((x.shape, w.strides, o.shape))
        i, j, kk = E.Var("i"), E.Var("j"), E.Var("kk")
        upd = S.For(i, E.const(0), E.const(BI), "serial", S.For(j, E.const(0), E.const(CI), "serial",
                    S.For(kk, E.const(0), E.const(KI), "serial",
                          o.vstore((i, j), o.vload(i, j) + x.vload(i, kk) * w.vload(j, kk)))))
        rst = S.For(i, E.const(0), E.const(BI), "serial", S.For(j, E.const(0), E.const(CI), "serial",
                                                                o.vstore((i, j), 0.0)))
        return None, rst, upd
    gemm = te.decl_tensor_intrin(o, lower_fn, name="gemm_block")
    s = wb.create_schedule(R)
    bo, co, bi, ci = R.op.axis
    s[R].reorder(bo, co, ko, bi, ci, ki)
    s[R].tensorize(bi, gemm)
    d = np.random.rand(BO, KO, BI, KI).astype("float32")
    w_ = np.random.rand(CO, KO, CI, KI).astype("float32")
    r = np.zeros((BO, CO, BI, CI), "float32")
    wb.build(s, [D, W, R])(d, w_, r)
    np.testing.assert_allclose(r, np.einsum("akbi,ckdi->acbd", d, w_), rtol=1e-4)
    assert calls[-1] == ((BI, KI), (KI, 1), (BI, CI))


def test_mismatch_errors_name_axis_or_access():
    A, B, C = matmul(64, 64, 64)
    s, ki = axpy_schedule(C, jf=8)
    intrin = axpy_intrin()
    schedule_error(lambda: s[C].tensorize(ki, intrin), r"^tensorize\(axis=k.inner\) on stage 'C'",
                   "covers 8 iterations of data axis j, but the intrinsic's axis j has extent 16")
    # transposed access: B[k, j] against b[j, k]
    a = te.placeholder((4,), name="a")
    b = te.placeholder((16, 4), name="b")
    kk = te.reduce_axis((0, 4), "kk")
    o = te.compute((16,), lambda jj: te.sum(a[kk] * b[jj, kk], axis=kk), name="o")
    bad = te.decl_tensor_intrin(o, lambda ins, outs: None, name="axpy_t")
    s2, ki = axpy_schedule(C)
    schedule_error(lambda: s2[C].tensorize(ki, bad), r"access B\[.*\] differs in dimension 0")
    # the operation differs (+ instead of *)
    o2 = te.compute((16,), lambda jj: te.sum(a[kk] + b[kk, jj], axis=kk), name="o2")
    b2 = te.placeholder((4, 16), name="b")
    o2 = te.compute((16,), lambda jj: te.sum(a[kk] + b2[kk, jj], axis=kk), name="o2")
    schedule_error(lambda: s2[C].tensorize(ki, te.decl_tensor_intrin(o2, lambda i, o: None)), "computes")
    # a loop of the sub-nest that is only partly inside
    s3, ki = axpy_schedule(C, order=("i", "j.inner", "k.outer", "k.inner", "j.outer"))
    schedule_error(lambda: s3[C].tensorize(ki, intrin), "only partly inside")
    schedule_error(lambda: s3[C].tensorize(ki, "no_such_intrin"), "no tensor intrinsic of that name")


def test_tensorize_errors_at_lowering():
    A, B, C = matmul(64, 60, 64)          # 60 is not a multiple of 16: a tail under the intrinsic
    s, ki = axpy_schedule(C)
    s[C].tensorize(ki, axpy_intrin())
    schedule_error(lambda: wb.lower(s, [A, B, C]), r"tensorize\(axis=k.inner\)", "tail")
    # reduction split around the sub-nest, but the intrinsic has no reset/update
    A, B, C = matmul(8, 8, 64)
    BT = te.placeholder((8, 64), name="BT")
    k = te.reduce_axis((0, 64), "k")
    C = te.compute((8, 8), lambda i, j: te.sum(A[i, k] * BT[j, k], axis=k), name="C")
    s = wb.create_schedule(C)
    ko, ki = s[C].split(k, factor=16)
    s[C].tensorize(ki, dot_intrin(16, with_reset=False))
    schedule_error(lambda: wb.lower(s, [A, BT, C]), "must return \\(body, reset, update\\)")
    # lower_fn returning garbage
    a = te.placeholder((16,), name="a")
    kk = te.reduce_axis((0, 16), "kk")
    o = te.compute((1,), lambda _: te.sum(a[kk] * a[kk], axis=kk), name="o")
    X = te.placeholder((16,), name="X")
    r = te.reduce_axis((0, 16), "r")
    Y = te.compute((1,), lambda _: te.sum(X[r] * X[r], axis=r), name="Y")
    s = wb.create_schedule(Y)
    s[Y].tensorize(r, te.decl_tensor_intrin(o, lambda ins, outs: "nope", name="garbage"))
    schedule_error(lambda: wb.lower(s, [X, Y]), "lower_fn returned 'nope'")


def test_tensorize_binds_require_scope():
    scopes.register_scope("test.acc", doc="a test accumulator scope")
    A, B, C = matmul(16, 16, 16)
    a = te.placeholder((4,), name="a")
    b = te.placeholder((4, 16), name="b")
    kk = te.reduce_axis((0, 4), "kk")
    o = te.compute((16,), lambda jj: te.sum(a[kk] * b[kk, jj], axis=kk), name="o")
    intrin = te.decl_tensor_intrin(o, axpy_intrin().lower_fn, name="axpy_acc", binds={o: "test.acc"})
    s = wb.create_schedule(C)
    ko, ki = s[C].split(C.op.reduce_axis[0], factor=4)
    s[C].reorder(C.op.axis[0], ko, ki, C.op.axis[1])
    schedule_error(lambda: s[C].tensorize(ki, intrin), "needs o in scope 'test.acc' but C is in 'global'")
    s = wb.create_schedule(C)
    CC = s.cache_write(C, "test.acc")
    ko, ki = s[CC].split(s[CC].op.reduce_axis[0], factor=4)
    s[CC].reorder(s[CC].op.axis[0], ko, ki, s[CC].op.axis[1])
    s[CC].tensorize(ki, intrin)
    run_matmul(s, A, B, C)


def test_decl_tensor_intrin_checks():
    A = te.placeholder((4,), name="A")
    P = te.compute((4,), lambda i: A[i] + 1.0, name="P")
    Q = te.compute((4,), lambda i: P[i] * 2.0, name="Q")
    with pytest.raises(ValueError, match="placeholders"):
        te.decl_tensor_intrin(Q, lambda i, o: None)
    with pytest.raises(TypeError, match="callable"):
        te.decl_tensor_intrin(P, 42)
    with pytest.raises(TypeError, match="te.compute"):
        te.decl_tensor_intrin(A, lambda i, o: None)


def test_backend_lowered_intrinsic_keeps_loops_with_annotation():
    """lower_fn=None (or a backend record with .compute and .name, as VTA's env.gemm): the nest is
    checked, kept, and its outer loop annotated for the backend; a CPU build runs the loops."""
    from types import SimpleNamespace
    a = te.placeholder((4,), name="a")
    b = te.placeholder((4, 16), name="b")
    kk = te.reduce_axis((0, 4), "kk")
    o = te.compute((16,), lambda jj: te.sum(a[kk] * b[kk, jj], axis=kk), name="o")
    A, B, C = matmul(32, 32, 32)
    for intrin in (te.decl_tensor_intrin(o, None, name="axpy_backend"),
                   SimpleNamespace(compute=o, name="axpy_record")):
        s, ki = axpy_schedule(C)
        s[C].tensorize(ki, intrin)
        func = wb.lower(s, [A, B, C])
        from workbench.ir.visitor import walk
        marked = []
        walk(func.body, lambda n: marked.append(n) if isinstance(n, S.For) and
             any(k == "tensorize" for k, _ in n.annotations) else None)
        assert len(marked) == 1 and marked[0].var.name == "k.inner"
        run_matmul(s, A, B, C)
    s, ki = axpy_schedule(C, jf=8)
    schedule_error(lambda: s[C].tensorize(ki, SimpleNamespace(compute=o, name="axpy_record")), "extent 16")


def test_pragma_without_value_replays():
    A, B, C = matmul(16, 16, 16)
    s = wb.create_schedule(C)
    s[C].pragma(C.op.axis[0], "dma_copy")
    s2 = wb.Trace.from_json(s.trace.to_json()).replay(wb.create_schedule(C))
    assert s2[C].pragmas == s[C].pragmas
