"""Cycle-level model of VTA's decoupled access/execute pipeline.

Fetch, load, compute and store are in-order modules.  Fetch dispatches instructions into finite
command queues; each execution module dequeues its next instruction, waits for the tokens it pops
(l2g, g2l, s2g, g2s: finite FIFOs), runs for a cost taken from the configuration, then pushes
tokens (blocking while the target FIFO is full).

The simulation is event-driven: every event is "the k-th instruction of a module starts/ends" or
"the k-th token of a queue is pushed/popped", and each event time is the max over the events it
waits on.  A worklist advances each module until it needs an event not yet known; if no module
can advance before all are done, the program is deadlocked.  Cost is O(instructions), not
O(cycles), so a 4-million-cycle GEMM schedules in milliseconds.

Costs and their sources (all configurable in Env, documented there):
- DMA: DRAM_LATENCY to the first beat, then one BUS_WIDTH beat per cycle, plus one SRAM write per
  padding element (VTA's load module writes padding itself; no DRAM beat).
- DRAM_SHARED_PORT=1 (default): VTA's AXI masters (fetch, load, compute's uop/acc loads, store)
  share one DRAM port, so the beats of concurrent transfers are serialized.  A transfer takes
  the earliest gap in the port's timeline at or after its latency has elapsed (first fit, a
  stand-in for the interconnect's round-robin arbitration).  0: each module has its own port.
- GEMM/ALU: PIPELINE_FILL once, then per (iter_out, iter_in) iteration LOOP_REFILL plus one uop
  per GEMM_II (ALU_II) cycles: HLS pipelines only the uop loop (vta.cc), so the two outer loops
  drain and refill the pipeline.
- Fetch reads one 128-bit instruction per ceil(16 / bus bytes) cycles after DRAM_LATENCY.
- A token pushed at cycle t can be popped at cycle t.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass

from .. import isa
from ..disasm import mnemonic
from ..errors import DeadlockError, ProgramError

MODULES = ("fetch", "load", "compute", "store")
QUEUES = ("l2g", "g2l", "s2g", "g2s")
L2G, G2L, S2G, G2S = range(4)

# (pop_prev, pop_next, push_prev, push_next) -> token queue, per stage; None = no such neighbour
_DEP_QUEUES = {
    1: (None, G2L, None, L2G),
    2: (L2G, S2G, G2L, G2S),
    3: (G2S, None, S2G, None),
}
_DEP_FIELDS = ("pop_prev_dep", "pop_next_dep", "push_prev_dep", "push_next_dep")


@dataclass(frozen=True, slots=True)
class Event:
    """One interval on a module's timeline.  ``kind`` is "exec" or "stall"; a stall says what it
    waited on: a token queue ("l2g"), a full queue ("g2l full", "cmd:compute full") or "fetch"."""
    module: str
    index: int
    opcode: str
    start: int
    end: int
    kind: str = "exec"
    waited_on: str | None = None


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def elem_bytes(env, memory_type: int) -> int:
    return {isa.MEM_UOP: 4, isa.MEM_WGT: env.WGT_ELEM_BYTES, isa.MEM_INP: env.INP_ELEM_BYTES,
            isa.MEM_ACC: env.ACC_ELEM_BYTES, isa.MEM_OUT: env.OUT_ELEM_BYTES,
            isa.MEM_ACC_8BIT: env.OUT_ELEM_BYTES}.get(memory_type, 0)


def dma_parts(insn, env) -> tuple[int, int, int]:
    """(latency, bus beats, padding writes) of a LOAD/STORE; all zero for a NOP."""
    if insn.x_size == 0:
        return 0, 0, 0
    eb = elem_bytes(env, insn.memory_type)
    beats = insn.y_size * _ceil(insn.x_size * eb, env.BUS_BYTES)
    padded = ((insn.y_pad_0 + insn.y_size + insn.y_pad_1)
              * (insn.x_pad_0 + insn.x_size + insn.x_pad_1) - insn.x_size * insn.y_size)
    return env.DRAM_LATENCY, beats, padded


def uop_iterations(insn) -> int:
    return insn.iter_out * insn.iter_in * (insn.uop_end - insn.uop_bgn)


def cost(insn, env) -> int:
    """Cycles an instruction occupies its module with the DRAM port to itself."""
    cls = type(insn)
    if cls is isa.Load or cls is isa.Store:
        if insn.x_size == 0:
            return 1  # dependency-only NOP
        return sum(dma_parts(insn, env))
    if cls is isa.Gemm or cls is isa.Alu:
        ii = env.GEMM_II if cls is isa.Gemm else env.ALU_II
        return (env.PIPELINE_FILL + insn.iter_out * insn.iter_in * env.LOOP_REFILL
                + uop_iterations(insn) * ii)
    return 1


class DramPort:
    """Busy intervals of the shared DRAM port, kept sorted and merged."""

    def __init__(self):
        self.starts: list = []
        self.ends: list = []

    def reserve(self, t: int, length: int) -> int:
        """Reserve ``length`` cycles in the first gap at or after ``t``; return its start."""
        starts, ends = self.starts, self.ends
        k = bisect.bisect_right(ends, t)   # first interval ending after t
        while k < len(starts) and starts[k] < t + length:
            t = max(t, ends[k])
            k += 1
        # [t, t + length) fits before interval k; merge with neighbours that touch it
        lo, hi = t, t + length
        if k > 0 and ends[k - 1] == lo:
            k -= 1
            lo = starts[k]
            del starts[k], ends[k]
        if k < len(starts) and starts[k] == hi:
            hi = ends[k]
            del starts[k], ends[k]
        starts.insert(k, lo)
        ends.insert(k, hi)
        return t


def counters(insns, env) -> dict:
    """VTA fsim's counters (they depend only on the instructions, not on the data)."""
    c = dict(inp_load_nbytes=0, wgt_load_nbytes=0, acc_load_nbytes=0, uop_load_nbytes=0,
             out_store_nbytes=0, gemm_counter=0, alu_counter=0)
    key = {isa.MEM_INP: "inp_load_nbytes", isa.MEM_WGT: "wgt_load_nbytes",
           isa.MEM_ACC: "acc_load_nbytes", isa.MEM_ACC_8BIT: "acc_load_nbytes",
           isa.MEM_UOP: "uop_load_nbytes"}
    # fsim counts in SRAM elements: an ACC_8BIT load (Load_int8) adds the 32-bit acc element
    # size although it reads a quarter of that from DRAM
    counted = {**{m: elem_bytes(env, m) for m in key}, isa.MEM_ACC_8BIT: env.ACC_ELEM_BYTES}
    for insn in insns:
        cls = type(insn)
        if cls is isa.Load and insn.memory_type in key:
            c[key[insn.memory_type]] += insn.x_size * insn.y_size * counted[insn.memory_type]
        elif cls is isa.Store:
            c["out_store_nbytes"] += insn.x_size * insn.y_size * env.OUT_ELEM_BYTES
        elif cls is isa.Gemm and not insn.reset_reg:
            c["gemm_counter"] += insn.iter_out * insn.iter_in * (insn.uop_end - insn.uop_bgn)
        elif cls is isa.Alu:
            c["alu_counter"] += insn.iter_out * insn.iter_in * (insn.uop_end - insn.uop_bgn)
    return c


@dataclass(frozen=True)
class Schedule:
    """Result of the timing model: per-instruction times and per-module totals."""
    start: tuple
    end: tuple
    cycles: int
    finish_cycle: int | None
    busy: dict
    stall: dict
    stall_by_cause: dict
    gemm_cycles: int
    tokens_left: dict
    raw_events: tuple  # (module, index, start, end, kind, waited_on); opcode filled lazily

    def order(self) -> list:
        """Instruction indices in execution order: a linearization consistent with every token
        (a popped token's push precedes the pop by at least one cycle)."""
        return sorted(range(len(self.start)), key=lambda i: (self.start[i], i))


def _decode_deps(insns):
    """Per instruction: module id, popped queues, pushed queues (validated)."""
    out = []
    for idx, insn in enumerate(insns):
        stage = isa.stage_of(insn)
        qs = _DEP_QUEUES[stage]
        pops, pushes = [], []
        for k, field in enumerate(_DEP_FIELDS):
            if getattr(insn, field):
                if qs[k] is None:
                    raise ProgramError(f"insn {idx} {mnemonic(insn)}: {field}=1 but the "
                                       f"{MODULES[stage]} module has no such neighbour")
                (pops if k < 2 else pushes).append(qs[k])
        out.append((stage, tuple(pops), tuple(pushes)))
    return out


def simulate(insns, env, record_events: bool = True) -> Schedule:
    """Schedule ``insns`` on the four modules; raise DeadlockError if they cannot all finish."""
    n = len(insns)
    deps = _decode_deps(insns)
    costs = [cost(i, env) for i in insns]
    per_module = {1: [], 2: [], 3: []}
    for idx, (stage, _, _) in enumerate(deps):
        per_module[stage].append(idx)
    pos = [0] * n
    for lst in per_module.values():
        for k, idx in enumerate(lst):
            pos[idx] = k

    cmd_depth, dep_depth = env.CMD_QUEUE_DEPTH, env.DEP_QUEUE_DEPTH
    fetch_cost = _ceil(16, env.BUS_BYTES)  # one 128-bit instruction per fetch
    dispatch = [None] * n
    issued = {1: [], 2: [], 3: []}      # dequeue time of each module's k-th instruction
    push_t = [[], [], [], []]
    pop_t = [[], [], [], []]
    start = [0] * n
    end = [0] * n
    busy = dict.fromkeys(MODULES, 0)
    stall = dict.fromkeys(MODULES, 0)
    causes = {m: {} for m in MODULES}
    events = []
    rec = record_events
    finish_cycle = None
    gemm_cycles = 0

    f_ptr, f_free = 0, env.DRAM_LATENCY
    ptr = {1: 0, 2: 0, 3: 0}
    free = {1: 0, 2: 0, 3: 0}
    phase = {1: None, 2: None, 3: None}   # (issue, start, end) while waiting to push
    blocked = {}

    def add_stall(mod, a, b, why, idx):
        if b > a:
            stall[mod] += b - a
            causes[mod][why] = causes[mod].get(why, 0) + b - a
            if rec:
                events.append((mod, idx, a, b, "stall", why))

    port = DramPort() if env.DRAM_SHARED_PORT else None
    dma = [dma_parts(i, env) if type(i) in (isa.Load, isa.Store) else None for i in insns]

    def run_end(idx, t0):
        """End of instruction ``idx`` started at ``t0`` (its beats wait for the port)."""
        parts = dma[idx]
        if port is None or parts is None or parts[1] == 0:
            return t0 + costs[idx]
        latency, beats, padded = parts
        return port.reserve(t0 + latency, beats) + beats + padded

    while True:
        progress = False
        # ---------------- fetch: in program order, blocking on a full command queue
        while f_ptr < n:
            stage = deps[f_ptr][0]
            t = f_free + fetch_cost
            k = pos[f_ptr] - cmd_depth
            if k >= 0:
                if k >= len(issued[stage]):
                    blocked["fetch"] = (f_ptr, f"cmd:{MODULES[stage]} full")
                    break
                if issued[stage][k] > f_free:
                    add_stall("fetch", f_free, issued[stage][k], f"cmd:{MODULES[stage]} full",
                              f_ptr)
                    t = issued[stage][k] + fetch_cost
            if port is not None:
                t = port.reserve(t - fetch_cost, fetch_cost) + fetch_cost
            busy["fetch"] += fetch_cost
            dispatch[f_ptr] = t
            f_free = t
            f_ptr += 1
            progress = True
        else:
            blocked.pop("fetch", None)
        # ---------------- load, compute, store
        for m in (1, 2, 3):
            mod = MODULES[m]
            lst = per_module[m]
            while ptr[m] < len(lst):
                idx = lst[ptr[m]]
                if phase[m] is None:
                    if dispatch[idx] is None:
                        blocked[mod] = (idx, "fetch")
                        break
                    issue = max(free[m], dispatch[idx])
                    if len(issued[m]) == ptr[m]:
                        issued[m].append(issue)
                    t0, why = issue, None
                    pops = deps[idx][1]
                    for q in pops:
                        k = len(pop_t[q])
                        if k >= len(push_t[q]):
                            blocked[mod] = (idx, QUEUES[q])
                            break
                        if push_t[q][k] > t0:
                            t0, why = push_t[q][k], QUEUES[q]
                    else:
                        for q in pops:
                            pop_t[q].append(t0)
                        add_stall(mod, free[m], issue, "fetch", idx)
                        add_stall(mod, issue, t0, why, idx)
                        phase[m] = (t0, run_end(idx, t0))
                    if phase[m] is None:
                        break
                t0, t1 = phase[m]
                t2, why = t1, None
                pushes = deps[idx][2]
                for q in pushes:
                    k = len(push_t[q]) - dep_depth
                    if k >= 0:
                        if k >= len(pop_t[q]):
                            blocked[mod] = (idx, f"{QUEUES[q]} full")
                            break
                        if pop_t[q][k] > t2:
                            t2, why = pop_t[q][k], f"{QUEUES[q]} full"
                else:
                    for q in pushes:
                        push_t[q].append(t2)
                    start[idx], end[idx] = t0, t1
                    busy[mod] += t1 - t0
                    if rec:
                        events.append((mod, idx, t0, t1, "exec", None))
                    add_stall(mod, t1, t2, why, idx)
                    insn = insns[idx]
                    if type(insn) is isa.Gemm and not insn.reset_reg:
                        gemm_cycles += uop_iterations(insn) * env.GEMM_II
                    elif type(insn) is isa.Finish and finish_cycle is None:
                        finish_cycle = t1
                    free[m] = t2
                    phase[m] = None
                    ptr[m] += 1
                    blocked.pop(mod, None)
                    progress = True
                    continue
                break
        done = f_ptr == n and all(ptr[m] == len(per_module[m]) for m in (1, 2, 3))
        if done:
            break
        if not progress:
            _raise_deadlock(insns, blocked, push_t, pop_t, max([f_free, *free.values()]))

    cycles = max([f_free, *free.values(), *(end or [0])])
    left = {QUEUES[q]: len(push_t[q]) - len(pop_t[q]) for q in range(4)
            if len(push_t[q]) != len(pop_t[q])}
    return Schedule(tuple(start), tuple(end), cycles, finish_cycle, busy, stall, causes,
                    gemm_cycles, left, tuple(events))


def _raise_deadlock(insns, blocked, push_t, pop_t, cycle):
    rows, parts = [], []
    for mod in MODULES:
        if mod not in blocked:
            continue
        idx, why = blocked[mod]
        op = mnemonic(insns[idx])
        rows.append((mod, idx, op, why))
        if why in QUEUES:
            q = QUEUES.index(why)
            detail = (f"waiting on a {why} token (pop #{len(pop_t[q]) + 1}, only "
                      f"{len(push_t[q])} pushed and none can come)")
        elif why == "fetch":
            detail = "waiting for fetch, which is blocked"
        else:
            detail = f"blocked: {why}"
        parts.append(f"{mod} at insn {idx} ({op}) {detail}")
    raise DeadlockError(f"deadlock at cycle {cycle}: " + "; ".join(parts), rows, cycle)
