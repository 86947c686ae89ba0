"""Memory planning by liveness (TVM's GraphPlanMemory): every intermediate value gets a storage
block; a block returns to the free pool after the value's last reader ran, and a later value takes
the smallest free block that fits (growing the largest free one if none fits). Graph outputs get
blocks of their own, never reused.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ir import Graph


@dataclass
class MemoryPlan:
    storage: list                  # block id -> bytes
    assign: dict                   # value name -> block id
    shapes: dict                   # value name -> (shape, dtype)
    no_reuse_bytes: int            # every intermediate in its own buffer

    @property
    def peak_bytes(self) -> int:
        return int(sum(self.storage))

    def allocate(self) -> dict:
        """name -> numpy array view into its storage block (64-byte aligned)."""
        blocks = [_aligned(nb) for nb in self.storage]
        out = {}
        for name, sid in self.assign.items():
            shape, dtype = self.shapes[name]
            n = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
            out[name] = blocks[sid][:n].view(dtype).reshape(shape)
        return out

    def __str__(self):
        return (f"memory plan: {len(self.assign)} values in {len(self.storage)} blocks, peak "
                f"{self.peak_bytes / 2**20:.2f} MiB vs {self.no_reuse_bytes / 2**20:.2f} MiB without "
                f"reuse ({self.no_reuse_bytes / max(self.peak_bytes, 1):.2f}x)")


def _aligned(nbytes: int) -> np.ndarray:
    raw = np.empty(nbytes + 64, np.uint8)
    off = (-raw.ctypes.data) % 64
    return raw[off:off + nbytes]


def plan_memory(g: Graph, steps, reuse: bool = True) -> MemoryPlan:
    """`steps`: [(output value name, [input value names])] in execution order."""
    last_use: dict = {}
    for t, (_, ins) in enumerate(steps):
        for i in ins:
            last_use[i] = t
    outputs = set(g.outputs)
    storage: list = []
    free: list = []                     # block ids
    assign, shapes, total = {}, {}, 0
    for t, (name, ins) in enumerate(steps):
        node = g[name]
        nbytes = node.nbytes
        shapes[name] = (node.shape, node.dtype)
        total += nbytes
        sid = None
        if reuse and name not in outputs and free:
            fits = [b for b in free if storage[b] >= nbytes]
            sid = min(fits, key=lambda b: storage[b]) if fits else max(free, key=lambda b: storage[b])
            free.remove(sid)
            storage[sid] = max(storage[sid], nbytes)
        if sid is None:
            sid = len(storage)
            storage.append(nbytes)
        assign[name] = sid
        if reuse:
            for i in set(ins):
                if last_use.get(i) == t and i in assign and i not in outputs:
                    free.append(assign[i])
            if last_use.get(name) is None and name not in outputs:
                free.append(sid)        # a value nobody reads (kept for the profile only)
    return MemoryPlan(storage, assign, shapes, total)
