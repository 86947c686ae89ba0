"""The dependency-token protocol of a tiled VTA program with 1 or 2 virtual threads.

This is what TVM's InjectVirtualThread + CoProcSync produce: with ``nthreads`` copies of every
SRAM buffer, load ``l`` may overwrite its slot only after the GEMM of load ``l - nthreads`` has
released it (g2l), a tile's accumulator slot is reset only after the store of tile
``t - nthreads`` has drained it (s2g), and RAW edges go load -> compute (l2g) and
compute -> store (g2s).  The last ``nthreads`` WAR tokens are never pushed, so every queue is
empty when the runtime's synchronize sequence appends FINISH.
"""
from __future__ import annotations

from accel.vta.runtime import COMPUTE_STAGE as C, LOAD_STAGE as L, STORE_STAGE as S


class TokenProtocol:
    def __init__(self, rt, nthreads: int, n_tiles: int, n_loads: int):
        if nthreads not in (1, 2):
            raise ValueError(f"nthreads={nthreads}: VTA supports 1 or 2 virtual threads")
        self.rt, self.ns, self.n_tiles, self.n_loads = rt, nthreads, n_tiles, n_loads

    def begin_tile(self, t: int) -> None:       # compute: accumulator slot free again?
        if t >= self.ns:
            self.rt.dep_pop(S, C)

    def begin_load(self, l: int) -> None:       # load: input/weight slot free again?
        if l >= self.ns:
            self.rt.dep_pop(C, L)

    def end_load(self, l: int) -> None:         # load -> compute: data ready
        self.rt.dep_push(L, C)
        self.rt.dep_pop(L, C)

    def end_compute(self, l: int) -> None:      # compute -> load: slot of load l released
        if l + self.ns < self.n_loads:
            self.rt.dep_push(C, L)

    def end_tile(self, t: int) -> None:         # compute -> store: result ready
        self.rt.dep_push(C, S)
        self.rt.dep_pop(C, S)

    def end_store(self, t: int) -> None:        # store -> compute: accumulator slot drained
        if t + self.ns < self.n_tiles:
            self.rt.dep_push(S, C)
