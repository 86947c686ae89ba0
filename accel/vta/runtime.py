"""VTA's JIT runtime (``vta/runtime/runtime.cc``) in Python.

The runtime turns host calls into a VTA instruction stream: 2-D DMA loads and stores, dependency
token pushes/pops between the load (1), compute (2) and store (3) stages, and GEMM/ALU
micro-kernels recorded once per call site and cached in the uop SRAM ring.  ``synchronize()``
appends FINISH, runs the program on the simulator and copies DRAM back into the host buffers.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from . import isa
from .program import PAGE, BufferInfo, Dram, DramBuffer, Program
from .errors import ProgramError
from .uops import MODE_ALU, MODE_GEMM, KernelRecorder, UopCache

LOAD_STAGE, COMPUTE_STAGE, STORE_STAGE = 1, 2, 3
_STAGE_NAMES = {"load": 1, "compute": 2, "store": 3}


def _stage(q) -> int:
    q = _STAGE_NAMES.get(q, q) if isinstance(q, str) else q
    if q not in (1, 2, 3):
        raise ValueError(f"stage {q!r}: expected 1/'load', 2/'compute' or 3/'store'")
    return q


class Runtime:
    """One command queue, like VTA's thread-local CommandQueue."""

    LOAD, COMPUTE, STORE = LOAD_STAGE, COMPUTE_STAGE, STORE_STAGE

    def __init__(self, env=None):
        from .env import Env
        self.env = env if env is not None else Env.default()
        self.dram = Dram()
        self._kernels: dict = {}
        self._cache = UopCache(self.env.UOP_BUFF_DEPTH)
        self.kernel_records = 0  # how many times a finit closure ran (once per call site)
        self.last_program: Program | None = None
        self._reset_queue()

    def _reset_queue(self):
        self._insns: list = []
        self._pending_prev = [0, 0, 0, 0]
        self._pending_next = [0, 0, 0, 0]
        self._uop_words: list = []
        self._uop_count = 0
        self._uop_loads: list = []  # indices of LOAD UOPs whose dram_base is patched at flush

    # ------------------------------------------------------------------ DRAM
    def alloc(self, shape, dtype="int8", name: str | None = None, data=None) -> DramBuffer:
        """VTABufferAlloc: a host-visible buffer with a page-aligned physical address."""
        buf = self.dram.alloc(shape, dtype, name)
        if data is not None:
            buf.write(data)
        return buf

    def elem_bytes(self, memory_type: int) -> int:
        e = self.env
        table = {isa.MEM_UOP: e.UOP_ELEM_BYTES, isa.MEM_WGT: e.WGT_ELEM_BYTES,
                 isa.MEM_INP: e.INP_ELEM_BYTES, isa.MEM_ACC: e.ACC_ELEM_BYTES,
                 isa.MEM_OUT: e.OUT_ELEM_BYTES, isa.MEM_ACC_8BIT: e.OUT_ELEM_BYTES}
        if memory_type not in table:
            raise ProgramError(f"memory_type={memory_type}: not a VTA memory id")
        return table[memory_type]

    def _dram_base(self, buf: DramBuffer, elem_offset, x_size, y_size, x_stride, memory_type,
                   what: str) -> int:
        eb = self.elem_bytes(memory_type)
        if x_size and (elem_offset < 0 or
                       (elem_offset + (y_size - 1) * x_stride + x_size) * eb > buf.nbytes):
            raise ProgramError(
                f"{what}: elements [{elem_offset}, +{y_size}x{x_stride}) of {eb} B run past "
                f"buffer {buf.name!r} ({buf.nbytes} B)")
        return buf.phys_addr // eb + elem_offset

    def load_buffer_2d(self, buf: DramBuffer, elem_offset: int, x_size: int, y_size: int,
                       x_stride: int, x_pad_before: int, y_pad_before: int, x_pad_after: int,
                       y_pad_after: int, sram_index: int, memory_type: int) -> None:
        """VTALoadBuffer2D: INP/WGT loads go to the load stage, ACC/UOP loads to compute."""
        if memory_type in (isa.MEM_OUT, isa.MEM_UOP):
            raise ProgramError(f"load_buffer_2d: memory_type={memory_type} cannot be loaded "
                               "here (OUT is store-only, UOP is managed by push_*_op)")
        dram_base = self._dram_base(buf, elem_offset, x_size, y_size, x_stride, memory_type,
                                    "load_buffer_2d")
        self._emit(isa.Load, memory_type=memory_type, sram_base=sram_index, dram_base=dram_base,
                   y_size=y_size, x_size=x_size, x_stride=x_stride, y_pad_0=y_pad_before,
                   y_pad_1=y_pad_after, x_pad_0=x_pad_before, x_pad_1=x_pad_after)

    def store_buffer_2d(self, sram_index: int, memory_type: int, buf: DramBuffer,
                        elem_offset: int, x_size: int, y_size: int, x_stride: int) -> None:
        """VTAStoreBuffer2D: a STORE from out_mem, never padded."""
        if memory_type != isa.MEM_OUT:
            raise ProgramError(f"store_buffer_2d: memory_type={memory_type}; only OUT "
                               f"({isa.MEM_OUT}) can be stored")
        dram_base = self._dram_base(buf, elem_offset, x_size, y_size, x_stride, memory_type,
                                    "store_buffer_2d")
        self._emit(isa.Store, memory_type=memory_type, sram_base=sram_index, dram_base=dram_base,
                   y_size=y_size, x_size=x_size, x_stride=x_stride)

    # ------------------------------------------------------------------ instruction queue
    def _emit(self, cls, **fields):
        insn = cls(**fields)
        stage = isa.stage_of(insn)
        if self._pending_prev[stage] or self._pending_next[stage]:
            # A pending pop rides on the next instruction created in its stage.
            insn = dataclasses.replace(insn, pop_prev_dep=self._pending_prev[stage],
                                       pop_next_dep=self._pending_next[stage])
            self._pending_prev[stage] = self._pending_next[stage] = 0
        self._insns.append(insn)

    def _push_noop(self, stage, push_prev=0, push_next=0, pop_prev=0, pop_next=0):
        deps = dict(push_prev_dep=push_prev, push_next_dep=push_next, pop_prev_dep=pop_prev,
                    pop_next_dep=pop_next)
        if stage == STORE_STAGE:
            self._insns.append(isa.Store(memory_type=isa.MEM_UOP, **deps))
        else:
            mem = isa.MEM_INP if stage == LOAD_STAGE else isa.MEM_UOP
            self._insns.append(isa.Load(memory_type=mem, **deps))

    def _commit_pending_pop(self, stage):
        if self._pending_prev[stage] or self._pending_next[stage]:
            self._push_noop(stage, pop_prev=self._pending_prev[stage],
                            pop_next=self._pending_next[stage])
            self._pending_prev[stage] = self._pending_next[stage] = 0

    @staticmethod
    def _check_pair(frm, to, what):
        if abs(frm - to) != 1:
            raise ProgramError(f"{what}({frm}, {to}): tokens only flow between neighbouring "
                               "stages (load<->compute, compute<->store)")

    def dep_pop(self, from_stage, to_stage) -> None:
        """VTADepPop: the next instruction of ``to_stage`` waits for a token from ``from_stage``."""
        frm, to = _stage(from_stage), _stage(to_stage)
        self._check_pair(frm, to, "dep_pop")
        pending = self._pending_prev if frm < to else self._pending_next
        if pending[to]:
            self._commit_pending_pop(to)
        pending[to] = 1

    def dep_push(self, from_stage, to_stage) -> None:
        """VTADepPush: the last instruction of ``from_stage`` sends a token to ``to_stage``."""
        frm, to = _stage(from_stage), _stage(to_stage)
        self._check_pair(frm, to, "dep_push")
        self._commit_pending_pop(frm)
        flag = "push_next_dep" if frm < to else "push_prev_dep"
        last = self._insns[-1] if self._insns else None
        # InsnQueue::GetPipelineStage gives a LOAD with x_size == 0 (a dependency NOP) no stage,
        # so a push is never folded onto it; a STORE NOP keeps the store stage.
        if last is not None and isa.stage_of(last) == frm and not getattr(last, flag) \
                and not (type(last) is isa.Load and last.x_size == 0):
            self._insns[-1] = dataclasses.replace(self._insns[-1], **{flag: 1})
            return
        self._push_noop(frm, push_next=int(frm < to), push_prev=int(frm > to))

    # ------------------------------------------------------------------ micro-kernels
    def push_gemm_op(self, handle, finit, signature=None) -> None:
        """VTAPushGEMMOp: run ``finit(recorder)`` once per (handle, signature), then emit a GEMM."""
        self._push_op(handle, finit, signature, MODE_GEMM)

    def push_alu_op(self, handle, finit, signature=None) -> None:
        """VTAPushALUOp: as push_gemm_op, for ALU kernels."""
        self._push_op(handle, finit, signature, MODE_ALU)

    def _push_op(self, handle, finit, signature, mode):
        key = (handle, signature)
        kernel = self._kernels.get(key)
        if kernel is None:
            rec = KernelRecorder(self.env, f"{handle!r}/{signature!r}")
            finit(rec)
            kernel = rec.finish()
            self.kernel_records += 1
            self._kernels[key] = kernel
        if kernel.mode != mode:
            want = "GEMM" if mode == MODE_GEMM else "ALU"
            raise ProgramError(f"micro-kernel {handle!r}: recorded uops of mode {kernel.mode} "
                               f"pushed as a {want} op")
        bgn, end, new = self._cache.place(key, len(kernel))
        if new:  # only a kernel not already resident in the uop SRAM needs a LOAD UOP
            self._uop_loads.append(len(self._insns))
            self._emit(isa.Load, memory_type=isa.MEM_UOP, sram_base=bgn,
                       dram_base=self._uop_count, y_size=1, x_size=len(kernel),
                       x_stride=len(kernel))
            self._uop_words.append(kernel.words)
            self._uop_count += len(kernel)
        loops = kernel.loop_fields()
        if mode == MODE_GEMM:
            self._emit(isa.Gemm, reset_reg=kernel.reset, uop_bgn=bgn, uop_end=end, **loops)
        else:
            self._emit(isa.Alu, reset_reg=kernel.reset, uop_bgn=bgn, uop_end=end,
                       alu_opcode=kernel.opcode, use_imm=kernel.use_imm, imm=kernel.imm, **loops)

    # ------------------------------------------------------------------ finishing
    def flush(self) -> Program:
        """Append the synchronize sequence and FINISH; return the Program and reset the queue.

        Deviation from VTA: the uop DRAM image is append-only (each placed kernel keeps its own
        copy), so a ring wrap needs no auto-sync to keep earlier LOAD UOPs valid.
        """
        # VTASynchronize: FINISH must follow the last store and the last load.
        self.dep_push(STORE_STAGE, COMPUTE_STAGE)
        self.dep_push(LOAD_STAGE, COMPUTE_STAGE)
        self.dep_pop(STORE_STAGE, COMPUTE_STAGE)
        self.dep_pop(LOAD_STAGE, COMPUTE_STAGE)
        self._commit_pending_pop(COMPUTE_STAGE)  # FINISH cannot carry a pop
        self._insns.append(isa.Finish())

        image = self.dram.image()
        uop_phys = self.dram._end
        words = (np.concatenate(self._uop_words) if self._uop_words
                 else np.zeros(0, np.uint32)).astype(np.uint32)
        pad = -(-max(words.nbytes, 1) // PAGE) * PAGE
        uop_region = np.zeros(pad, np.uint8)
        uop_region[:words.nbytes] = words.view(np.uint8)
        insns = self._insns
        for k in self._uop_loads:
            insns[k] = dataclasses.replace(insns[k], dram_base=uop_phys // 4 + insns[k].dram_base)
        buffers = tuple(b.info for b in self.dram.buffers.values())
        buffers += (BufferInfo("uops", uop_phys, (len(words),), "uint32"),)
        prog = Program(self.env, tuple(insns), np.concatenate([image, uop_region]), buffers)
        self._reset_queue()
        # SRAM contents are not guaranteed to persist across runs (VTA PR #5470).
        self._cache.clear()
        self.last_program = prog
        return prog

    def synchronize(self, **sim_options):
        """VTASynchronize: flush, run on the simulator, copy DRAM back to the host buffers."""
        from .sim.simulator import Simulator
        prog = self.flush()
        result = Simulator(self.env, **sim_options).run(prog)
        if result.dram is not None:
            for buf in self.dram.buffers.values():
                buf.data[...] = buf.info.view(result.dram)
        return result

    @property
    def insn_count(self) -> int:
        return len(self._insns)
