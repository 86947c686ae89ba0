"""Dependency tokens from the SRAM accesses of the program's ops (coprocessor sync).

VTA's three queues run in order, so one stage waits for another by popping a token the other
pushed after an instruction.  Each SRAM has one writer stage: load writes inp/wgt (compute reads
them), compute writes acc (compute and store read it).  For every op this pass finds the latest
op of a neighbouring stage it conflicts with, read-after-write (data ready) or write-after-read
(buffer free again), and, unless an earlier token already covers it, has that op push a token
and this op pop it.  Tokens thus always point forward in program order, so they cannot form a
cycle, and they match one to one in FIFO order.  TVM's CoProcSync places the same kind of
tokens statically per buffer; doing it on the concrete op stream makes the per-thread copies of
virtual-threaded buffers independent without any loop-carried analysis.
"""
from __future__ import annotations

import numpy as np

LOAD, COMPUTE, STORE = 1, 2, 3


def place(ops, env) -> None:
    """Fill ``op.pops`` (stages to wait for) and ``op.pushes`` (stages to signal)."""
    depth = {"inp": env.INP_BUFF_DEPTH, "wgt": env.WGT_BUFF_DEPTH, "acc": env.ACC_BUFF_DEPTH}
    last_write = {m: np.full(n, -1, np.int64) for m, n in depth.items()}
    last_read = {(m, q): np.full(n, -1, np.int64) for m, n in depth.items()
                 for q in (COMPUTE, STORE)}
    writer = {"inp": LOAD, "wgt": LOAD, "acc": COMPUTE}
    synced = {}   # (from, to) -> highest op index of `from` already waited for

    for k, op in enumerate(ops):
        q = op.queue
        wait = {}   # stage -> latest op of it this op must follow (one token covers the rest)
        for mem, lo, hi in op.reads:
            if hi > lo:
                w = writer[mem]
                wait[w] = max(wait.get(w, -1), int(last_write[mem][lo:hi].max()))
        for mem, lo, hi in op.writes:
            if hi > lo:
                for rq in (COMPUTE, STORE):
                    wait[rq] = max(wait.get(rq, -1), int(last_read[(mem, rq)][lo:hi].max()))
        for frm, idx in sorted(wait.items()):
            if frm != q and idx >= 0 and idx > synced.get((frm, q), -1):
                synced[(frm, q)] = idx
                ops[idx].pushes.append(q)
                op.pops.append(frm)
        for mem, lo, hi in op.reads:
            last_read[(mem, q)][lo:hi] = k
        for mem, lo, hi in op.writes:
            last_write[mem][lo:hi] = k
