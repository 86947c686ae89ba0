"""A small builder for textual LLVM IR: the module (declarations, intrinsics, loop metadata) and,
per function, basic blocks, temporaries and the integer/compare/select helpers that the emitter
(`emit.py`) uses to lower expressions and statements."""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..ir import dtype as dt
from .llvm_types import literal, vec

class CodegenError(Exception):
    """The lowered function uses something the LLVM code generator does not support."""


class Val:
    """An SSA value or literal: `ref` is its text, `ty` its LLVM type, `const` a Python int when the
    value is a known scalar integer constant (used to fold index arithmetic)."""
    __slots__ = ("ref", "ty", "const")

    def __init__(self, ref: str, ty: str, const=None):
        self.ref, self.ty, self.const = ref, ty, const

    def __str__(self):
        return f"{self.ty} {self.ref}"


def i64(v: int) -> Val:
    return Val(str(v), "i64", v)


def sanitize(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return s if s and not s[0].isdigit() else "f_" + s


def _lanes_of(ty: str) -> int:
    return int(ty[1:ty.index(" x ")]) if ty.startswith("<") else 1


def _scalar_of(ty: str) -> str:
    return ty[ty.index(" x ") + 3:-1] if ty.startswith("<") else ty


def _suffix(ty: str) -> str:
    """Intrinsic name suffix of a type: float -> f32, <16 x float> -> v16f32."""
    s = _scalar_of(ty)
    t = {"float": "f32", "double": "f64", "ptr": "p0"}.get(s, s)
    n = _lanes_of(ty)
    return t if n == 1 else f"v{n}{t}"


@dataclass(frozen=True)
class EmittedFunction:
    """One finished function: `group` names the functions that compile together (the entry's, or
    one parallel region's worker and task; None: a helper copied into every unit that calls it),
    `decl` declares it where another compilation unit calls it."""
    name: str
    group: str | None
    text: str
    decl: str


# ------------------------------------------------------------------------------------------------
class ModuleEmitter:
    """Collects functions, declarations and metadata of one LLVM module."""

    def __init__(self, name: str, *, target_attrs: str, triple: str = "", datalayout: str = "",
                 parallel_runtime: bool = True):
        self.name = sanitize(name)
        self.functions: list[EmittedFunction] = []
        self.decls: dict[str, str] = {}
        self.metadata: list[str] = []
        self.parallel_runtime = parallel_runtime
        self.target_attrs = target_attrs
        self.triple, self.datalayout = triple, datalayout
        self.n_outlined = 0
        self._loop_md: dict[str, str] = {}
        self.vector_bits = 512           # the target's widest vector register
        self.messages: list[str] = []    # run-time check k fails with status k -> messages[k - 1]

    def check_status(self, message: str) -> int:
        """The status code a failing run-time check with `message` returns (one per message)."""
        if message not in self.messages:
            self.messages.append(message)
        return self.messages.index(message) + 1

    def declare(self, name: str, decl: str) -> str:
        self.decls.setdefault(name, decl)
        return name

    def intrinsic(self, base: str, ret: str, args: list[str], suffix: str) -> str:
        name = f"@llvm.{base}.{suffix}"
        return self.declare(name, f"declare {ret} {name}({', '.join(args)})")

    def loop_metadata(self, kind: str) -> str:
        """A fresh `!llvm.loop` node (must be distinct per loop) with a hint for `kind`."""
        hint = {"vectorized": '!{!"llvm.loop.vectorize.enable", i1 true}',
                "unrolled": '!{!"llvm.loop.unroll.full"}'}.get(kind)
        if hint is None:
            return ""
        if kind not in self._loop_md:
            self._loop_md[kind] = f"!{len(self.metadata)}"
            self.metadata.append(hint)
        ref = f"!{len(self.metadata)}"
        self.metadata.append(f"distinct !{{{ref}, {self._loop_md[kind]}}}")
        return f", !llvm.loop {ref}"

    def text(self) -> str:
        return self._module([f.text for f in self.functions], self.decls.values())

    def _module(self, functions: list, decls) -> str:
        out = [f'; ModuleID = "{self.name}"']
        if self.triple:
            out.append(f'target triple = "{self.triple}"')
        if self.datalayout:
            out.append(f'target datalayout = "{self.datalayout}"')
        out.append("")
        out.extend(functions)
        out.extend(d for d in decls if d)
        out.append(f"attributes #0 = {{ nounwind {self.target_attrs} }}")
        out.extend(f"!{i} = {m}" for i, m in enumerate(self.metadata))
        return "\n".join(out) + "\n"

    def unit_texts(self, max_units: int) -> list[str]:
        """The module as at most `max_units` modules that compile independently (codegen/units.py);
        one unit is `text()` itself."""
        from .units import partition
        parts = partition(self.functions, max_units)
        if len(parts) <= 1:
            return [self.text()]
        return [self._module(fns, list(self.decls.values()) + extern) for fns, extern in parts]


class FunctionBuilder:
    """One LLVM function under construction: its blocks, allocas and temporaries."""

    def __init__(self, mod: ModuleEmitter, name: str, params: list[tuple[str, str]], *,
                 linkage: str = "", attrs: str = "", ret: str = "i32", outlined: bool = False,
                 nthreads: Val | None = None, group: str | None = None):
        self.mod = mod
        self.name = name
        self.ret = ret
        self.group = group
        self.decl = f"declare {ret} @{name}(" + ", ".join(ty for ty, _ in params) + ")"
        self.header = (f"define {linkage}{ret} @{name}("
                       + ", ".join(f"{ty} {ref}" for ty, ref in params) + f") {attrs}#0 {{")
        self.allocas: list[str] = []
        self.blocks: list[tuple[str, list[str]]] = []
        self.n = 0
        self.env: dict = {}        # Var -> Val (i64)
        self.bufs: dict = {}       # Buffer -> Val (ptr)
        self.mask: Val | None = None   # vector lane mask while emitting one side of a vector Select
        self.ranges: dict = {}     # Var -> (lo, hi) inclusive, when the loop bounds are known
        self.heap: list[Val] = []  # heap buffers live at this point (freed on an early return)
        self.outlined = outlined       # the body of a parallel loop (parallel.py)
        self.loops = 0                 # serial loops emitted into this function
        self.reduction = None          # the reduction update node being emitted (emit.store)
        self._depth = 0                # nesting of `value` calls (expr_emit.ExprEmitter.value)
        self._deep: dict = {}          # id(node) -> (node, Val) computed bottom-up for a deep expression
        self.nthreads = nthreads
        self._pure: dict[int, tuple] = {}
        self.new_block("entry")

    # -- builder --------------------------------------------------------------------------------
    def tmp(self) -> str:
        self.n += 1
        return f"%v{self.n}"

    def new_label(self, hint: str) -> str:
        self.n += 1
        return f"{hint}{self.n}"

    def new_block(self, label: str) -> str:
        self.blocks.append((label, []))
        self.cur = self.blocks[-1][1]
        self.cur_label = label
        return label

    def emit(self, line: str):
        self.cur.append(line)

    def op(self, text: str, ty: str) -> Val:
        r = self.tmp()
        self.cur.append(f"{r} = {text}")
        return Val(r, ty)

    def br(self, label: str, md: str = ""):
        self.cur.append(f"br label %{label}{md}")

    def cbr(self, cond: Val, t: str, f: str):
        self.cur.append(f"br i1 {cond.ref}, label %{t}, label %{f}")

    def alloca(self, ty: str, align: int) -> Val:
        r = self.tmp()
        self.allocas.append(f"{r} = alloca {ty}, align {align}")
        return Val(r, "ptr")

    def call(self, fn: str, ret: str, args: list[Val]) -> Val | None:
        a = ", ".join(str(x) for x in args)
        if ret == "void":
            self.emit(f"call void {fn}({a})")
            return None
        return self.op(f"call {ret} {fn}({a})", ret)

    def fail(self, status: Val):
        """Return `status` (nonzero: a run-time check failed) after freeing the live heap buffers."""
        if self.heap:
            free = self.mod.declare("@free", "declare void @free(ptr)")
            for p in reversed(self.heap):
                self.call(free, "void", [p])
        self.emit(f"ret i32 {status.ref}")

    def finish(self, result: Val | None = None, glue: bool = False) -> str:
        """Close the function (returning `result`, or void / status 0) and add it to the module.
        `glue`: code that runs once per call (a libgomp task's chunking, an entry whose loops are all
        in parallel regions) is marked optnone: LLVM's pipelines then skip it, which saves a few ms
        per build for no measurable run time."""
        if result is not None:
            self.emit(f"ret {result}")
        else:
            self.emit("ret void" if self.ret == "void" else "ret i32 0")
        lines = [self.header.replace(") #0 {", ") noinline optnone #0 {") if glue else self.header]
        for i, (label, body) in enumerate(self.blocks):
            lines.append(f"{label}:")
            if i == 0:
                lines.extend("  " + a for a in self.allocas)
            lines.extend("  " + x for x in body)
        lines.append("}")
        text = "\n".join(lines) + "\n"
        self.mod.functions.append(EmittedFunction(self.name, self.group, text, self.decl))
        return text

    # -- small value helpers ----------------------------------------------------------------------
    def splat(self, v: Val, lanes: int) -> Val:
        if lanes == 1:
            return v
        vt = vec(v.ty, lanes)
        if v.const is not None or v.ref in ("true", "false") or v.ref.startswith("0x"):
            return Val("<" + ", ".join([f"{v.ty} {v.ref}"] * lanes) + ">", vt)
        a = self.op(f"insertelement {vt} poison, {v}, i64 0", vt)
        return self.op(f"shufflevector {vt} {a.ref}, {vt} poison, <{lanes} x i32> zeroinitializer", vt)

    def const_like(self, value, ty: str) -> Val:
        s = _scalar_of(ty)
        base = {"float": "float32", "double": "float64", "i1": "bool", "i8": "int8", "i16": "int16",
                "i32": "int32", "i64": "int64"}[s]
        n = _lanes_of(ty)
        return Val(literal(value, dt.with_lanes(base, n)), ty, int(value) if s == "i64" and n == 1 else None)

    def select(self, c: Val, a: Val, b: Val) -> Val:
        if a.ref == b.ref:
            return a
        return self.op(f"select {c.ty} {c.ref}, {a}, {b}", a.ty)

    def icmp(self, pred: str, a: Val, b: Val) -> Val:
        return self.op(f"icmp {pred} {a}, {b.ref}", vec("i1", _lanes_of(a.ty)))

    def binop(self, opname: str, a: Val, b: Val, flags: str = "") -> Val:
        f = f" {flags}" if flags else ""
        return self.op(f"{opname}{f} {a}, {b.ref}", a.ty)

    # -- integer arithmetic with constant folding (index mode) ----------------------------------
    def iadd(self, a: Val, b: Val) -> Val:
        if a.const is not None and b.const is not None:
            return i64(a.const + b.const)
        if a.const == 0:
            return b
        if b.const == 0:
            return a
        return self.binop("add", a, b, "nsw")

    def isub(self, a: Val, b: Val) -> Val:
        if a.const is not None and b.const is not None:
            return i64(a.const - b.const)
        if b.const == 0:
            return a
        return self.binop("sub", a, b, "nsw")

    def imul(self, a: Val, b: Val) -> Val:
        if a.const is not None and b.const is not None:
            return i64(a.const * b.const)
        if a.const == 1 or b.const == 0:
            return b
        if b.const == 1 or a.const == 0:
            return a
        return self.binop("mul", a, b, "nsw")

    def imin(self, a: Val, b: Val, signed=True, is_max=False) -> Val:
        if a.const is not None and b.const is not None:
            return i64(max(a.const, b.const) if is_max else min(a.const, b.const))
        pred = ("s" if signed else "u") + ("gt" if is_max else "lt")
        return self.select(self.icmp(pred, a, b), a, b)

    def floordiv(self, a: Val, b: Val, *, mod: bool, signed: bool, nsw: bool = False) -> Val:
        """Python // and % (floor toward -inf, % takes the divisor's sign); x // 0 == x % 0 == 0
        and INT_MIN // -1 wraps, as numpy does — never a trap."""
        if a.const is not None and b.const is not None and a.ty == "i64":
            if b.const == 0:
                return i64(0)
            return i64(a.const % b.const if mod else a.const // b.const)
        zero, one = self.const_like(0, a.ty), self.const_like(1, a.ty)
        flags = "nsw" if nsw else ""
        if not signed:
            bz = self.icmp("eq", b, zero)
            safe = self.select(bz, one, b)
            r = self.binop("urem" if mod else "udiv", a, safe)
            return self.select(bz, zero, r)
        c = b.const if b.const is not None else _splat_int(b.ref)
        if c is not None:
            if c == 0:
                return zero
            if c == -1:
                return zero if mod else self.binop("sub", zero, a, flags)
            q = self.binop("sdiv", a, b)
            r = self.binop("srem", a, b)
            wrong = self.icmp("slt" if c > 0 else "sgt", r, zero)
            if mod:
                return self.select(wrong, self.binop("add", r, b, flags), r)
            return self.select(wrong, self.binop("sub", q, one, flags), q)
        minus1 = self.const_like(-1, a.ty)
        bz, bm1 = self.icmp("eq", b, zero), self.icmp("eq", b, minus1)
        bad = self.binop("or", bz, bm1)
        safe = self.select(bad, one, b)
        q, r = self.binop("sdiv", a, safe), self.binop("srem", a, safe)
        nz = self.icmp("ne", r, zero)
        signs = self.icmp("slt", self.binop("xor", r, safe), zero)
        wrong = self.binop("and", nz, signs)
        if mod:
            r = self.select(wrong, self.binop("add", r, safe), r)
            return self.select(bad, zero, r)
        q = self.select(wrong, self.binop("sub", q, one), q)
        q = self.select(bm1, self.binop("sub", zero, a), q)
        return self.select(bz, zero, q)


def _splat_int(ref: str):
    """The integer of a splat vector literal like '<4 x i32> <i32 3, ...>' text, else None."""
    if not ref.startswith("<"):
        if ref == "zeroinitializer":
            return 0
        try:
            return int(ref)
        except ValueError:
            return None
    parts = {p.strip().split(" ")[-1] for p in ref[1:-1].split(",")}
    if len(parts) == 1:
        try:
            return int(parts.pop())
        except ValueError:
            return None
    return None
