"""Timeline data of a VTA timing simulation, without UI packages: events as numpy columns, the
visible window (or an aggregate of it when it holds too many events to draw), dependency-token
arrows, and loading a recorded Chrome/Perfetto trace.

The simulator's events are intervals "module m runs instruction k from cycle a to b" (exec) or
"module m waits from a to b on queue q" (stall). Drawing 10^5 of them in a browser is slow, so a
window holding more than `limit` events is drawn as per-bin occupancy instead: for each module and
each of ~`bins` time bins, the fraction of the bin spent executing and stalling.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MODULES = ("fetch", "load", "compute", "store")
_QUEUES = ("l2g", "g2l", "s2g", "g2s")


@dataclass
class TimelineData:
    module: np.ndarray        # int: index into MODULES
    start: np.ndarray         # cycles
    end: np.ndarray
    stall: np.ndarray         # bool
    insn: np.ndarray          # instruction index
    opcode: list              # per event
    waited_on: list           # per event (None for exec)
    cycles: int
    freq_mhz: int = 100
    program: object = field(default=None, repr=False)
    arrows: np.ndarray | None = None    # (n, 4): push insn, pop insn, queue id, unused

    def __len__(self):
        return len(self.start)

    @staticmethod
    def from_events(events, cycles: int, freq_mhz: int = 100, program=None) -> "TimelineData":
        evs = sorted(events, key=lambda e: (e.start, MODULES.index(e.module)))
        data = TimelineData(
            np.array([MODULES.index(e.module) for e in evs], dtype=np.int8),
            np.array([e.start for e in evs], dtype=np.int64), np.array([e.end for e in evs], dtype=np.int64),
            np.array([e.kind == "stall" for e in evs], dtype=bool),
            np.array([e.index for e in evs], dtype=np.int64),
            [e.opcode for e in evs], [e.waited_on for e in evs], int(cycles), int(freq_mhz), program)
        if program is not None:
            data.arrows = token_pairs(program.insns)
        return data

    @staticmethod
    def from_result(result) -> "TimelineData":
        """From an accel SimResult (Simulator(env, functional=False).run(prog)). Reads the
        simulator's raw event tuples into numpy columns; opcodes are looked up only for the
        events that get drawn one by one (10^5 Event objects would cost seconds)."""
        raw = result.schedule.raw_events      # (module, insn, start, end, kind, waited_on)
        n = len(raw)
        mod_idx = {m: k for k, m in enumerate(MODULES)}
        mod = np.fromiter((mod_idx[r[0]] for r in raw), np.int8, n)
        start = np.fromiter((r[2] for r in raw), np.int64, n)
        order = np.lexsort((mod, start))
        insn = np.fromiter((r[1] for r in raw), np.int64, n)[order]
        data = TimelineData(mod[order], start[order], np.fromiter((r[3] for r in raw), np.int64, n)[order],
                            np.fromiter((r[4] == "stall" for r in raw), bool, n)[order], insn,
                            _Opcodes(result.program.insns, insn), [raw[k][5] for k in order],
                            int(result.stats.cycles), int(result.stats.freq_mhz), result.program)
        data.arrows = token_pairs(result.program.insns)
        return data

    @staticmethod
    def from_chrome_trace(path) -> "TimelineData":
        """From a trace written by SimResult.save_trace (Perfetto / chrome://tracing JSON)."""
        try:
            d = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"{path}: not a readable trace JSON ({e})") from None
        names = {}
        for ev in d.get("traceEvents", []):
            if ev.get("ph") == "M" and ev.get("name") == "thread_name":
                names[ev["tid"]] = ev["args"]["name"]
        rows = []
        for ev in d.get("traceEvents", []):
            if ev.get("ph") != "X":
                continue
            a = ev.get("args", {})
            mod = names.get(ev["tid"], MODULES[min(ev["tid"], 3)])
            if mod not in MODULES or "start_cycle" not in a:
                raise ValueError(f"{path}: event without a VTA module/cycles: {ev}")
            rows.append((MODULES.index(mod), a["start_cycle"], a["end_cycle"], ev.get("cat") == "stall",
                         a.get("insn", -1), a.get("opcode", ev.get("name", "")), a.get("waited_on")))
        rows.sort(key=lambda r: (r[1], r[0]))
        other = d.get("otherData", {})
        cycles = int(other.get("cycles", max((r[2] for r in rows), default=0)))
        return TimelineData(np.array([r[0] for r in rows], dtype=np.int8),
                            np.array([r[1] for r in rows], dtype=np.int64),
                            np.array([r[2] for r in rows], dtype=np.int64),
                            np.array([r[3] for r in rows], dtype=bool),
                            np.array([r[4] for r in rows], dtype=np.int64),
                            [r[5] for r in rows], [r[6] for r in rows], cycles,
                            int(other.get("freq_mhz", 100)))

    # -- views ------------------------------------------------------------------------------------
    def window(self, x0: float, x1: float) -> np.ndarray:
        """Indices of events overlapping [x0, x1]."""
        # events are sorted by start; an event overlapping the window starts before x1
        hi = int(np.searchsorted(self.start, x1, side="right"))
        idx = np.arange(hi)
        return idx[self.end[:hi] >= x0]

    def aggregate(self, x0: float, x1: float, bins: int = 600) -> dict:
        """Per module and bin: fraction of the bin executing and stalling (columns for quads)."""
        x0, x1 = float(max(0, x0)), float(max(x0 + 1, x1))
        edges = np.linspace(x0, x1, bins + 1)
        width = edges[1] - edges[0]
        out = dict(left=[], right=[], module=[], busy=[], stall=[])
        for m in range(len(MODULES)):
            sel = self.module == m
            for kind, mask in (("busy", ~self.stall), ("stall", self.stall)):
                s, e = self.start[sel & mask], self.end[sel & mask]
                occ = _occupancy(s, e, edges) / width
                if kind == "busy":
                    busy = occ
                else:
                    stall = occ
            keep = (busy > 0) | (stall > 0)
            out["left"] += list(edges[:-1][keep])
            out["right"] += list(edges[1:][keep])
            out["module"] += [MODULES[m]] * int(keep.sum())
            out["busy"] += list(np.clip(busy[keep], 0, 1))
            out["stall"] += list(np.clip(stall[keep], 0, 1))
        return out

    def utilization(self) -> dict:
        """module -> (busy cycles, stall cycles) over the whole run."""
        out = {}
        for m, name in enumerate(MODULES):
            sel = self.module == m
            d = self.end[sel] - self.start[sel]
            out[name] = (int(d[~self.stall[sel]].sum()), int(d[self.stall[sel]].sum()))
        return out


class _Opcodes:
    """opcodes[k]: the mnemonic of event k's instruction, computed on first use."""

    def __init__(self, insns, insn_of_event):
        self._insns, self._idx, self._cache = insns, insn_of_event, {}

    def __len__(self):
        return len(self._idx)

    def __getitem__(self, k):
        i = int(self._idx[k])
        op = self._cache.get(i)
        if op is None:
            from accel.vta.disasm import mnemonic
            op = self._cache[i] = mnemonic(self._insns[i])
        return op

    def __iter__(self):
        return (self[k] for k in range(len(self)))

    def __eq__(self, other):
        return list(self) == list(other)


def _occupancy(s: np.ndarray, e: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Sum over intervals [s, e) of their overlap with each bin, in O(n + bins): the cumulative
    covered length at each edge is the sum of min(max(edge - s, 0), e - s)."""
    if len(s) == 0:
        return np.zeros(len(edges) - 1)
    # covered(x) = sum_i clip(x - s_i, 0, e_i - s_i) = sum_{s_i < x} (x - s_i) - sum_{e_i < x} (x - e_i)
    ss, es = np.sort(s).astype(np.float64), np.sort(e).astype(np.float64)
    cs, ce = np.concatenate([[0], np.cumsum(ss)]), np.concatenate([[0], np.cumsum(es)])
    ns = np.searchsorted(ss, edges, side="left")
    ne = np.searchsorted(es, edges, side="left")
    covered = (ns * edges - cs[ns]) - (ne * edges - ce[ne])
    return np.diff(covered)


def token_pairs(insns) -> np.ndarray:
    """(push insn, pop insn, queue id) for every dependency token: in each queue the k-th push
    (in program order of the pushing module) is consumed by the k-th pop."""
    from accel.vta import isa
    # the simulator's own table: (pop_prev, pop_next, push_prev, push_next) -> queue per stage
    from accel.vta.sim.timing import _DEP_FIELDS as fields
    from accel.vta.sim.timing import _DEP_QUEUES as table
    pushes, pops = [[] for _ in _QUEUES], [[] for _ in _QUEUES]
    for idx, insn in enumerate(insns):
        qs = table.get(isa.stage_of(insn))
        if qs is None:
            continue
        for k, f in enumerate(fields):
            if getattr(insn, f, 0) and qs[k] is not None:
                (pops if k < 2 else pushes)[qs[k]].append(idx)
    rows = [(p, c, q) for q in range(len(_QUEUES)) for p, c in zip(pushes[q], pops[q])]
    return np.array(rows, dtype=np.int64).reshape(-1, 3)


def queue_name(q: int) -> str:
    return _QUEUES[q]
