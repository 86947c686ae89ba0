"""s[C].bind(ax, te.thread_axis("cthread")) and s.copy()."""
import pytest

import workbench as wb
from workbench import te
from workbench.ir import stmt as S

from .helpers import matmul, run_matmul, schedule_error


def _loops(func):
    out = []
    def visit(n):
        if isinstance(n, S.For):
            out.append(n)
    from workbench.ir.visitor import walk
    walk(func.body, visit)
    return out


def test_bind_recorded_and_carried_to_ir():
    A, B, C = matmul(32, 32, 32)
    s = wb.create_schedule(C)
    i, j = C.op.axis
    io, ii = s[C].split(i, nparts=2)
    s[C].bind(io, te.thread_axis("cthread"))
    assert s.trace.steps[-1].to_python() == "s['C'].bind('i.outer', 'cthread')"
    func = wb.lower(s, [A, B, C])
    bound = [f for f in _loops(func) if ("thread_binding", "cthread") in f.annotations]
    assert len(bound) == 1 and bound[0].extent.value == 2
    # replay (from Python text and JSON) gives the same binding
    s2 = wb.create_schedule(C)
    wb.Trace.from_json(s.trace.to_json()).replay(s2)
    assert [t.thread_tag for t in s2[C].bindings.values()] == ["cthread"]


def test_cpu_build_rejects_bind():
    A, B, C = matmul(32, 32, 32)
    s = wb.create_schedule(C)
    io, ii = s[C].split(C.op.axis[0], nparts=2)
    s[C].bind(io, te.thread_axis("cthread"))
    schedule_error(lambda: wb.build(s, [A, B, C]), r"^bind\(axis=i.outer\) on stage 'C'", "cannot run virtual threads",
                   "VTA")


def test_bind_errors():
    A, B, C = matmul(32, 32, 32)
    s = wb.create_schedule(C)
    i, j = C.op.axis
    k, = C.op.reduce_axis
    schedule_error(lambda: s[C].bind(k, te.thread_axis("cthread")), r"bind\(axis=k\)", "reduction axis")
    schedule_error(lambda: s[C].bind(i, "threadIdx.x"), "unknown thread tag")
    schedule_error(lambda: s[C].bind(i, i), "expected a thread axis")
    s[C].vectorize(j)
    schedule_error(lambda: s[C].bind(j, te.thread_axis("cthread")), "already vectorized")
    s[C].bind(i, te.thread_axis("vthread"))
    schedule_error(lambda: s[C].bind(i, te.thread_axis("cthread")), "already bound")
    schedule_error(lambda: s[C].parallel(i), "bound to a thread")
    schedule_error(lambda: s[A].bind(i, te.thread_axis("cthread")), "placeholder")


def test_bind_thread_extent_mismatch():
    A, B, C = matmul(32, 32, 32)
    D = te.compute((32, 32), lambda i, j: C[i, j] * 2.0, name="D")
    s = wb.create_schedule(D)
    do, di = s[D].split(D.op.axis[0], nparts=4)
    # an output's extents are final: checked at the call
    schedule_error(lambda: s[D].bind(do, te.thread_axis((0, 2), "cthread")), r"bind\(thread=cthread\) on stage 'D'",
                   "extent 2 but i.outer has extent 4")
    # C's loops may shrink under compute_at: checked at lowering, naming the trace step
    io, ii = s[C].split(C.op.axis[0], nparts=4)
    s[C].bind(io, te.thread_axis((0, 2), "cthread"))
    schedule_error(lambda: wb.lower(s, [A, B, D]), r"bind\(thread=cthread\) on stage 'C'",
                   "extent 2 but loop i.outer has extent 4", r"trace step 2: s\['C'\].bind")
    assert s.trace.steps[-1].to_python() == "s['C'].bind('i.outer', 'cthread', extent=2)"
    s2 = wb.Trace.from_json(s.trace.to_json()).replay(wb.create_schedule(D))
    schedule_error(lambda: wb.lower(s2, [A, B, D]), "extent 2 but loop i.outer has extent 4")


def test_copy_is_independent():
    A, B, C = matmul(64, 64, 64)
    s = wb.create_schedule(C)
    i, j = C.op.axis
    io, ii = s[C].split(i, factor=8)
    before = str(wb.lower(s, [A, B, C]))
    s2 = s.copy()
    # axes and tensors of the original resolve in the copy
    jo, ji = s2[C].split(j, factor=16)
    s2[C].vectorize(ji)
    s2[C].parallel(io)
    assert str(wb.lower(s, [A, B, C])) == before
    assert len(s.trace) == 1 and len(s2.trace) == 4
    assert s[C].leaf_iter_vars != s2[C].leaf_iter_vars
    run_matmul(s, A, B, C)
    run_matmul(s2, A, B, C)
    # a stage object of the original resolves by name in the copy; primitives on s don't leak
    assert s2[s[C]] is s2[C]
    s[C].unroll(ii)
    assert ii not in s2[C].kinds


def test_copy_with_attached_and_cache_stages():
    A, B, C = matmul(64, 64, 64)
    s = wb.create_schedule(C)
    CC = s.cache_write(C, "local")
    xo, yo, xi, yi = s[C].tile(C.op.axis[0], C.op.axis[1], 16, 16)
    s[CC].compute_at(s[C], yo)
    s2 = s.copy()
    assert s2[CC].attach_stage is s2[C] and s[CC].attach_stage is s[C]
    s2[CC].compute_root()
    assert s[CC].attach == "at"
    run_matmul(s, A, B, C)
    run_matmul(s2, A, B, C)
    s3 = wb.create_schedule(C)
    s2.trace.replay(s3)
    assert str(wb.lower(s3, [A, B, C])) == str(wb.lower(s2, [A, B, C]))


def test_foreign_stage_is_rejected():
    A, B, C = matmul(8, 8, 8)
    s, t = wb.create_schedule(C), wb.create_schedule(C)
    with pytest.raises(KeyError, match="another schedule"):
        t[s[C]]
