"""Templates for the measurement tests (importable by worker processes, which rebuild tasks).

`faulty_template`'s knob "mode" picks a candidate that is fine, computes a wrong answer, is
rejected by the template, hangs its build, or (through `ir_hook`, the build's test seam that edits
the optimized LLVM IR) crashes or hangs its kernel."""
from __future__ import annotations

import re
import time

import workbench as wb
from workbench import te

MODES = ["ok", "wrong", "reject", "build_hang", "crash", "hang"]


def faulty_template(cfg, n: int):
    cfg.define_knob("mode", MODES)
    mode = cfg["mode"].val
    if mode == "reject":
        cfg.raise_error("this config is rejected on purpose")
    if mode == "build_hang":
        time.sleep(600)
    A = te.placeholder((n,), name="A")
    C = te.compute((n,), lambda i: A[i] + (2.0 if mode == "wrong" else 1.0), name="C")
    s = wb.create_schedule(C)
    return s, [A, C]


_INSERT = {"crash": "  store volatile i32 0, ptr inttoptr (i64 8 to ptr), align 4\n",
           "hang": '  call void asm sideeffect "1: jmp 1b", ""()\n'}


def _hook(ir: str, cfg) -> str:
    extra = _INSERT.get(cfg["mode"].val)
    if extra is None:
        return ir
    lines = ir.splitlines(keepends=True)
    for n, line in enumerate(lines):
        if line.startswith("define ") and line.rstrip().endswith("{"):
            at = n + 1
            if re.match(r"^[\w.$\"-]+:", lines[at]):
                at += 1
            return "".join(lines[:at] + [extra] + lines[at:])
    raise AssertionError("no function definition in the IR")


faulty_template.ir_hook = _hook
