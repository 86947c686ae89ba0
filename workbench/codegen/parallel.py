"""Outlining of `For(kind="parallel")` loops onto libgomp's thread pool.

For a parallel loop `for v in [lo, lo+ext): body` inside function F, three pieces are emitted:

- `i32 F_parK(ptr noalias bufs..., i64 vars..., i64 begin, i64 end)`: the serial loop over a
  sub-range, with the buffers as `noalias` parameters (so alias analysis stays as good as in F); it
  returns the status of a failed run-time check, or 0;
- `F_parK_task(ptr closure)`: what each libgomp thread runs — it reads the closure struct, takes its
  static chunk of [lo, lo+ext) from omp_get_thread_num()/omp_get_num_threads(), calls F_parK and
  records a nonzero status in the closure (the other threads finish their chunks);
- in F: the closure struct (an entry-block alloca) is filled, then
  `GOMP_parallel(F_parK_task, closure, nthreads, 0)` — or a direct call of F_parK when the kernel
  runs on one thread — and a recorded status is returned.

Allocations inside the body happen in F_parK's frame, so every task has its own copy. Lowering's
nested_parallel pass has made any parallel loop inside this one serial.
"""
from __future__ import annotations

from ..ir import expr as E
from ..ir import stmt as S
from ..ir.visitor import walk
from .emit import FunctionEmitter, Val, i64


def _captures(fe: FunctionEmitter, loop: S.For):
    """Variables and buffers of the enclosing scope that the loop body uses, in first-use order."""
    vars_, bufs = {}, {}

    def visit(n):
        t = type(n)
        if t is E.Var:
            if n is not loop.var and n in fe.env:
                vars_.setdefault(n, None)
        elif t is E.BufferLoad or t is S.BufferStore:
            if n.buffer in fe.bufs:
                bufs.setdefault(n.buffer, None)
    walk(loop.body, visit)
    return list(vars_), list(bufs)


def emit_parallel_for(fe: FunctionEmitter, loop: S.For):
    mod = fe.mod
    vars_, bufs = _captures(fe, loop)
    k = mod.n_outlined
    mod.n_outlined += 1
    name = f"{mod.name}_par{k}"

    # 1. the sub-range worker, buffers as noalias parameters
    params = ([("ptr noalias", f"%b{i}") for i in range(len(bufs))]
              + [("i64", f"%x{j}") for j in range(len(vars_))] + [("i64", "%begin"), ("i64", "%end")])
    # noinline: one copy of the loop nest serves the task and the one-thread path (half the
    # machine code to generate), and its noalias parameters keep their meaning
    impl = FunctionEmitter(mod, name, params, linkage="internal ", attrs="noinline ", outlined=True,
                           group=name)
    for i, b in enumerate(bufs):
        impl.bufs[b] = Val(f"%b{i}", "ptr")
    for j, v in enumerate(vars_):
        impl.env[v] = Val(f"%x{j}", "i64")
        if v in fe.ranges:
            impl.ranges[v] = fe.ranges[v]
    impl.serial_loop(loop.var, Val("%begin", "i64"), Val("%end", "i64"), loop.body,
                     rng=fe.loop_range(loop))
    impl.finish()

    # 2. the libgomp task: unpack the closure, take this thread's static chunk, record a failure
    fields = ["ptr"] * len(bufs) + ["i64"] * (len(vars_) + 2) + ["i32"]
    struct = "{ " + ", ".join(fields) + " }"
    task = FunctionEmitter(mod, name + "_task", [("ptr", "%clo")], linkage="internal ", ret="void",
                           outlined=True, group=name)
    vals = []
    for f, ty in enumerate(fields[:-1]):
        p = task.op(f"getelementptr inbounds {struct}, ptr %clo, i32 0, i32 {f}", "ptr")
        vals.append(task.op(f"load {ty}, ptr {p.ref}, align 8", ty))
    lo, hi = vals[-2], vals[-1]
    gtid = mod.declare("@omp_get_thread_num", "declare i32 @omp_get_thread_num()")
    gnt = mod.declare("@omp_get_num_threads", "declare i32 @omp_get_num_threads()")
    tid = task.op(f"sext {task.call(gtid, 'i32', [])} to i64", "i64")
    nt = task.op(f"sext {task.call(gnt, 'i32', [])} to i64", "i64")
    ext = task.binop("sub", hi, lo, "nsw")
    chunk = task.binop("sdiv", task.binop("sub", task.binop("add", ext, nt, "nsw"), i64(1), "nsw"), nt)
    off = task.binop("mul", tid, chunk, "nsw")
    begin = task.iadd(lo, task.imin(off, ext))
    end = task.iadd(lo, task.imin(task.binop("add", off, chunk, "nsw"), ext))
    st = task.call(f"@{name}", "i32", vals[:-2] + [begin, end])
    lfail, ldone = task.new_label("failed"), task.new_label("done")
    task.cbr(task.icmp("ne", st, Val("0", "i32")), lfail, ldone)
    task.new_block(lfail)
    slot = task.op(f"getelementptr inbounds {struct}, ptr %clo, i32 0, i32 {len(fields) - 1}", "ptr")
    task.emit(f"store atomic i32 {st.ref}, ptr {slot.ref} monotonic, align 4")
    task.br(ldone)
    task.new_block(ldone)
    task.finish(glue=True)

    # 3. in the caller: fill the closure, launch (or call directly on one thread)
    lo = fe.index(loop.min)
    hi = fe.iadd(lo, fe.index(loop.extent))
    args = [fe.buffer_ptr(b) for b in bufs] + [fe.env[v] for v in vars_]
    clo = fe.alloca(struct, 8)
    for f, v in enumerate(args + [lo, hi, Val("0", "i32")]):
        p = fe.op(f"getelementptr inbounds {struct}, ptr {clo.ref}, i32 0, i32 {f}", "ptr")
        fe.emit(f"store {fields[f]} {v.ref}, ptr {p.ref}, align {4 if fields[f] == 'i32' else 8}")
    gomp = mod.declare("@GOMP_parallel", "declare void @GOMP_parallel(ptr, ptr, i32, i32)")
    lp, ls, le = fe.new_label("par"), fe.new_label("par_serial"), fe.new_label("par_end")
    fe.cbr(fe.icmp("sgt", fe.nthreads, Val("1", "i32")), lp, ls)
    fe.new_block(lp)
    fe.call(gomp, "void", [Val(f"@{name}_task", "ptr"), clo, fe.nthreads, Val("0", "i32")])
    slot = fe.op(f"getelementptr inbounds {struct}, ptr {clo.ref}, i32 0, i32 {len(fields) - 1}", "ptr")
    st_par = fe.op(f"load i32, ptr {slot.ref}, align 4", "i32")
    lp_end = fe.cur_label
    fe.br(le)
    fe.new_block(ls)
    st_ser = fe.call(f"@{name}", "i32", args + [lo, hi])
    ls_end = fe.cur_label
    fe.br(le)
    fe.new_block(le)
    st = fe.op(f"phi i32 [ {st_par.ref}, %{lp_end} ], [ {st_ser.ref}, %{ls_end} ]", "i32")
    lfail, lok = fe.new_label("par_failed"), fe.new_label("par_ok")
    fe.cbr(fe.icmp("ne", st, Val("0", "i32")), lfail, lok)
    fe.new_block(lfail)
    fe.fail(st)
    fe.new_block(lok)
