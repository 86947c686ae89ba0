import numpy as np
import pytest

from accel import vta
from accel.vta import isa

L, C, S = 1, 2, 3


def gemm_kernel(dst=0, n=3):
    def finit(k):
        for u in range(n):
            k.uop_push(0, 0, dst + u, u, u)
    return finit


def test_dep_push_rides_on_last_instruction(env):
    rt = vta.Runtime(env)
    buf = rt.alloc((4, 1, 16), "int8", "x")
    rt.load_buffer_2d(buf, 0, 4, 1, 4, 0, 0, 0, 0, 0, isa.MEM_INP)
    rt.dep_push(L, C)
    assert rt._insns[-1].push_next_dep == 1 and rt.insn_count == 1
    rt.dep_push(L, C)  # the bit is taken: a NOP carries the second token
    assert rt.insn_count == 2 and rt._insns[-1].x_size == 0 and rt._insns[-1].push_next_dep
    rt.dep_push(C, L)  # last instruction is in the load stage: compute NOP
    nop = rt._insns[-1]
    assert isa.stage_of(nop) == C and nop.push_prev_dep and nop.memory_type == isa.MEM_UOP


def test_dep_pop_is_pending_until_next_instruction(env):
    rt = vta.Runtime(env)
    buf = rt.alloc((4, 1, 16), "int8", "x")
    rt.dep_pop(C, L)
    assert rt.insn_count == 0
    rt.load_buffer_2d(buf, 0, 4, 1, 4, 0, 0, 0, 0, 0, isa.MEM_INP)
    assert rt._insns[-1].pop_next_dep == 1
    rt.dep_pop(C, L)
    rt.dep_pop(C, L)  # second pending pop on the same side commits the first as a NOP
    assert rt.insn_count == 2 and rt._insns[-1].pop_next_dep and rt._insns[-1].x_size == 0
    rt.dep_pop(L, C)
    rt.dep_push(C, S)  # a push commits the stage's pending pops first, as a compute NOP ...
    pop_nop, push_nop = rt._insns[-2:]
    # ... which has no pipeline stage (LOAD with x_size 0), so the push gets a NOP of its own
    assert pop_nop.pop_prev_dep and not pop_nop.push_next_dep
    assert push_nop.push_next_dep and not push_nop.pop_prev_dep and push_nop.x_size == 0


def test_push_is_never_folded_onto_a_load_nop(env):
    """InsnQueue::GetPipelineStage: a LOAD with x_size == 0 has no stage (audit finding)."""
    rt = vta.Runtime(env)
    rt.dep_push(L, C)            # nothing in the queue: a load NOP carries push_next
    rt.dep_push(C, L)            # compute NOP carries push_prev
    rt.dep_push(C, L)            # its bit is taken anyway
    rt.dep_push(L, C)            # last insn is a compute NOP: new load NOP
    rt.dep_push(C, S)            # last insn is a load NOP: new compute NOP, not folded
    rt.dep_push(C, S)            # last insn is a compute NOP (x_size 0): another NOP
    assert [isa.stage_of(i) for i in rt._insns] == [L, C, C, L, C, C]
    assert all(i.x_size == 0 for i in rt._insns)
    out = rt.alloc((1, 1, 16), "int8", "o")
    rt.store_buffer_2d(0, isa.MEM_OUT, out, 0, 0, 1, 1)   # a STORE NOP keeps its stage
    rt.dep_push(S, C)
    assert len(rt._insns) == 7 and type(rt._insns[-1]) is isa.Store
    assert rt._insns[-1].push_prev_dep == 1


def test_invalid_stage_pairs(env):
    rt = vta.Runtime(env)
    with pytest.raises(ValueError, match="neighbouring"):
        rt.dep_push(L, S)
    with pytest.raises(ValueError, match="neighbouring"):
        rt.dep_pop("store", "load")
    with pytest.raises(ValueError, match="stage"):
        rt.dep_pop(0, 1)


def test_dram_addresses_and_bounds(env):
    rt = vta.Runtime(env)
    a = rt.alloc((10, 16), "int8", "a")
    w = rt.alloc((2, 16, 16), "int8", "w")
    assert a.phys_addr % 4096 == 0 and w.phys_addr > a.phys_addr
    rt.load_buffer_2d(w, 1, 1, 1, 1, 0, 0, 0, 0, 3, isa.MEM_WGT)
    insn = rt._insns[-1]
    assert insn.dram_base == w.phys_addr // 256 + 1 and insn.sram_base == 3
    with pytest.raises(vta.ProgramError, match="'a'"):
        rt.load_buffer_2d(a, 8, 3, 1, 3, 0, 0, 0, 0, 0, isa.MEM_INP)
    with pytest.raises(vta.ProgramError, match="OUT"):
        rt.store_buffer_2d(0, isa.MEM_ACC, a, 0, 1, 1, 1)
    with pytest.raises(ValueError, match="already exists"):
        rt.alloc(4, "int8", "a")


def test_kernels_recorded_once_and_cached(env):
    rt = vta.Runtime(env)
    calls = []

    def finit(k):
        calls.append(1)
        gemm_kernel()(k)
    for _ in range(5):
        rt.push_gemm_op("site", finit)
    rt.push_gemm_op("site", finit, signature=1)  # another signature: another kernel
    assert len(calls) == 2 and rt.kernel_records == 2
    ops = [type(i).__name__ + str(getattr(i, "memory_type", "")) for i in rt._insns]
    assert ops.count("Load0") == 2 and ops.count("Gemm") == 6  # LOAD UOP only when not resident
    g = [i for i in rt._insns if type(i) is isa.Gemm]
    assert (g[0].uop_bgn, g[0].uop_end) == (0, 3) and (g[-1].uop_bgn, g[-1].uop_end) == (3, 6)


def test_uop_ring_wraps_and_evicts():
    env = vta.Env(LOG_UOP_BUFF_SIZE=5)  # 8 uops
    rt = vta.Runtime(env)
    for handle in ("a", "b", "c", "a"):   # c wraps to 0 and evicts a; a must be reloaded
        rt.push_gemm_op(handle, gemm_kernel())
    loads = [i for i in rt._insns if type(i) is isa.Load]
    gemms = [i for i in rt._insns if type(i) is isa.Gemm]
    assert len(loads) == 4
    assert [(g.uop_bgn, g.uop_end) for g in gemms] == [(0, 3), (3, 6), (0, 3), (3, 6)]
    rt.push_gemm_op("c", gemm_kernel())   # c still resident
    assert len([i for i in rt._insns if type(i) is isa.Load]) == 4
    prog = rt.flush()
    # each LOAD UOP points at its own copy in the uop DRAM image
    uops = prog.buffer("uops")
    assert uops.shape == (12,)
    assert all(i.dram_base >= uops.phys_addr // 4 for i in prog.insns
               if type(i) is isa.Load and i.memory_type == isa.MEM_UOP and i.x_size)


def test_hazard_rule_within_kernel(env):
    rt = vta.Runtime(env)

    def bad(k):
        k.uop_push(0, 0, 5, 0, 0)
        k.uop_push(0, 0, 6, 1, 1)
        k.uop_push(0, 0, 5, 2, 2)  # two back
    with pytest.raises(vta.HazardError, match=r"acc\[5\]"):
        rt.push_gemm_op("bad", bad)


def test_hazard_rule_looks_at_the_uop_list_only(env):
    """VerifyDep checks the previous two uops of the list, not loop iterations (audit finding):
    TVM's matrix_multiply_opt kernel, one uop under loops (16,1,0,16) and (16,0,1,1), is legal
    and computes the blocked product."""
    rng = np.random.default_rng(3)
    rt = vta.Runtime(env)
    a = rng.integers(-128, 128, (16, 1, 16), dtype=np.int8)
    w = rng.integers(-128, 128, (16 * 16, 16, 16), dtype=np.int8)
    A = rt.alloc(a.shape, "int8", "A", a)
    W = rt.alloc(w.shape, "int8", "W", w)
    out = rt.alloc((16, 1, 16), "int8", "out")
    rt.load_buffer_2d(A, 0, 16, 1, 16, 0, 0, 0, 0, 0, isa.MEM_INP)
    rt.load_buffer_2d(W, 0, 256, 1, 256, 0, 0, 0, 0, 0, isa.MEM_WGT)
    rt.dep_push(L, C)
    rt.dep_pop(L, C)

    def reset(k):
        k.uop_loop_begin(16, 1, 0, 0)
        k.uop_push(0, 1, 0, 0, 0)
        k.uop_loop_end()

    def tutorial(k):
        k.uop_loop_begin(16, 1, 0, 16)
        k.uop_loop_begin(16, 0, 1, 1)
        k.uop_push(0, 0, 0, 0, 0)
        k.uop_loop_end()
        k.uop_loop_end()
    rt.push_gemm_op("reset", reset)
    rt.push_gemm_op("gemm", tutorial)
    rt.dep_push(C, S)
    rt.dep_pop(C, S)
    rt.store_buffer_2d(0, isa.MEM_OUT, out, 0, 16, 1, 16)
    res = vta.Simulator(env).run(rt.flush())
    # out block co = sum_ic a[ic] . w[co * 16 + ic]^T
    acc = np.einsum("ik,cikj->cj", a[:, 0].astype(np.int64),
                    w.reshape(16, 16, 16, 16).transpose(0, 1, 3, 2).astype(np.int64))
    np.testing.assert_array_equal(res.outputs["out"][:, 0], acc.astype(np.int32).astype(np.int8))


def test_uop_loop_after_a_push_is_an_error(env):
    """UopKernel::PushLoopBegin requires an empty uop list (audit finding)."""
    rt = vta.Runtime(env)

    def late(k):
        k.uop_push(0, 0, 0, 0, 0)
        k.uop_loop_begin(4, 1, 1, 1)
    with pytest.raises(vta.ProgramError, match="uop_loop_begin after 1 uop"):
        rt.push_gemm_op("late", late)


def test_kernel_recording_errors(env):
    rt = vta.Runtime(env)

    def mixed(k):
        k.uop_push(0, 0, 0, 0, 0)
        k.uop_push(0, 1, 1, 0, 0)
    with pytest.raises(vta.ProgramError, match="must agree"):
        rt.push_gemm_op("mixed", mixed)

    def three_loops(k):
        for _ in range(3):
            k.uop_loop_begin(2, 1, 1, 1)
    with pytest.raises(vta.ProgramError, match="at most 2"):
        rt.push_gemm_op("loops", three_loops)
    with pytest.raises(vta.ProgramError, match="ALU"):
        rt.push_alu_op("site", gemm_kernel())


def test_alu_single_loop_maps_to_iter_in(env):
    rt = vta.Runtime(env)

    def finit(k):
        k.uop_loop_begin(8, 1, 1)
        k.uop_push(1, 0, 0, 0, 0, isa.ALU_ADD, 1, 3)
        k.uop_loop_end()
    rt.push_alu_op("alu", finit)
    alu = rt._insns[-1]
    assert (alu.iter_out, alu.iter_in, alu.dst_factor_in, alu.imm, alu.use_imm) == (1, 8, 1, 3, 1)


def test_synchronize_appends_finish_and_writes_back(env):
    rt = vta.Runtime(env)
    src = rt.alloc((6, 1, 16), "int32", "src", np.arange(96, dtype=np.int32).reshape(6, 1, 16) * 50)
    dst = rt.alloc((6, 1, 16), "int8", "dst")
    rt.load_buffer_2d(src, 0, 6, 1, 6, 0, 0, 0, 0, 0, isa.MEM_ACC)

    def shr(k):
        k.uop_loop_begin(2, 3, 3)
        for d in range(3):
            k.uop_push(1, 0, d, d, 0, isa.ALU_SHR, 1, 2)
        k.uop_loop_end()
    rt.push_alu_op("shr", shr)
    rt.dep_push(C, S)
    rt.dep_pop(C, S)
    rt.store_buffer_2d(0, isa.MEM_OUT, dst, 0, 6, 1, 6)
    result = rt.synchronize()
    prog = rt.last_program
    assert type(prog.insns[-1]) is isa.Finish
    assert not prog.insns[-1].pop_prev_dep and not prog.insns[-1].pop_next_dep
    want = ((np.arange(96).reshape(6, 1, 16) * 50) >> 2).astype(np.int8)
    np.testing.assert_array_equal(dst.data, want)
    np.testing.assert_array_equal(result.outputs["dst"], want)
    assert not result.stats.tokens_left
    assert rt.insn_count == 0  # the queue was reset
