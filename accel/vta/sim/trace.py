"""Chrome-trace / Perfetto JSON export of a simulation's timeline."""
from __future__ import annotations

from .timing import MODULES


def chrome_trace(result) -> dict:
    """One thread per module; exec intervals and stalls as complete ("X") events, in µs."""
    mhz = result.stats.freq_mhz
    events = [{"ph": "M", "pid": 1, "name": "process_name", "args": {"name": "VTA"}}]
    for tid, mod in enumerate(MODULES):
        events.append({"ph": "M", "pid": 1, "tid": tid, "name": "thread_name",
                       "args": {"name": mod}})
    for ev in result.events:
        name = ev.opcode if ev.kind == "exec" else f"stall: {ev.waited_on}"
        events.append({"ph": "X", "pid": 1, "tid": MODULES.index(ev.module), "name": name,
                       "cat": ev.kind, "ts": ev.start / mhz, "dur": (ev.end - ev.start) / mhz,
                       "args": {"insn": ev.index, "opcode": ev.opcode, "start_cycle": ev.start,
                                "end_cycle": ev.end, "waited_on": ev.waited_on}})
    return {"traceEvents": events, "displayTimeUnit": "ns",
            "otherData": {"cycles": result.stats.cycles, "freq_mhz": mhz}}
