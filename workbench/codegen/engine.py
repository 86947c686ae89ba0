"""JIT engine: one LLVM target machine and one ORC LLJIT per `Target`; a `CodeLibrary` per kernel.

Lifecycle (like numba's CodeLibrary): `lib = CodeLibrary(name); lib.add_ir(text); lib.finalize()`
(parse, verify, optimize at O3 with loop and SLP vectorization, JIT-link) then `lib.address(sym)`.
Each text given to add_ir is one compilation unit (codegen/units.py splits a kernel into units): it
is parsed into its own LLVM context, optimized and compiled to an object file, and the objects are
JIT-linked into one library. With `finalize(threads=n)` the units compile on n threads at once.
The library owns the ORC resource tracker, so the machine code lives exactly as long as the library.
`.llvm_ir` (the optimized IR) and `.asm` are produced on first access (the assembly costs a second
code generation, which builds should not pay).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import itertools
import os
import threading
import time
from ctypes import c_char_p, string_at
from functools import lru_cache

import llvmlite.binding as llvm
from llvmlite.binding import ffi

from ..target import Target
from .builder import CodegenError

_lock = threading.Lock()
_counter = itertools.count()


@lru_cache(maxsize=None)
def _init():
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    llvm.initialize_native_asmparser()
    # LLVM 22's SLP vectorizer models some lanes of a bundle as "copyable" (x as `x + 0`, `x << 0`)
    # and can then give a lane the other opcode's constant: it emitted `ashr <16 x i32> %v, <..., -5,
    # ...>` (poison) for `(A - 5) // 3` next to a shift, found by the schedule fuzzer; the same class
    # as llvm/llvm-project#165878. Our IR is free of UB there; this turns the feature off.
    llvm.set_option("", "-slp-copyable-elements=false")
    # Partial (runtime) unrolling only of loops whose body is at most 64 instructions. On Zen the
    # x86 cost model allows far larger bodies, so LLVM copied loops our schedules had already
    # register-blocked (the blocked matmul's k loop of 16 vector FMAs, twice) for no speed.
    # Callgrind, parse + O3 + object code per build: matmul 189 -> 161 M instructions, TVM
    # tutorial 289 -> 280, C6 conv 496 -> 487, softmax 329 -> 318. Kernel times side by side (A/B
    # in one process, 8 alternating rounds): blocked and TVM-tutorial matmul, C2/C6 convs,
    # softmax, depthwise, pooling, row sums and elementwise default schedules within noise
    # (0.91-0.99x the time). Full unrolling of small constant loops (conv kernel loops) is kept.
    llvm.set_option("", "-unroll-partial-threshold=64")
    return True


@lru_cache(maxsize=None)
def target_machine(target: Target):
    """The LLVM target machine for `target` (opt level 3, JIT code model), created once per target."""
    _init()
    try:
        tgt = llvm.Target.from_triple(target.triple)
    except RuntimeError as e:
        raise CodegenError(f"LLVM cannot generate code for {target.triple!r} in this build "
                           f"(target {str(target)!r}): {e}") from None
    return tgt.create_target_machine(cpu=target.cpu, features=target.llvm_features, opt=3,
                                     reloc="default", codemodel="jitdefault", jit=True)


@lru_cache(maxsize=None)
def target_attrs(target: Target) -> str:
    """Function attributes telling the optimizer about the target (512-bit vectors are legal and
    preferred where AVX-512 exists: explicit <16 x float> code must not be split)."""
    attrs = f'"target-cpu"="{target.cpu}"'
    if target.features:
        attrs += f' "target-features"="{target.llvm_features}"'
    if target.vector_bits >= 512:
        attrs += ' "prefer-vector-width"="512" "min-legal-vector-width"="512"'
    return attrs


@lru_cache(maxsize=None)
def triple_and_layout(target: Target) -> tuple[str, str]:
    return target.triple, str(target_machine(target).target_data)


@lru_cache(maxsize=None)
def _jit(target: Target):
    """One ORC LLJIT per target: its target machine generates the machine code."""
    _init()
    gomp_library()          # so that GOMP_* symbols of JIT code resolve in the process
    return llvm.create_lljit_compiler(target_machine(target))


@lru_cache(maxsize=None)
def gomp_library() -> str | None:
    """Load libgomp into the process (its symbols then resolve in JIT code); None if absent.

    Threads that finish a parallel loop sleep rather than spin (OMP_WAIT_POLICY=passive, unless the
    user set a policy): a spinning thread on a machine with more runnable threads than cores (shared
    CI, notebooks next to a tuner) holds up its team for a whole scheduler time slice — softmax on
    2 threads took 124 ms instead of 3 ms on a loaded 2-core machine. A futex wake-up costs a few
    microseconds per parallel loop, nothing against kernels that are worth running in parallel."""
    _init()
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")   # read by libgomp when it is loaded
    names = [ctypes.util.find_library("gomp"), "libgomp.so.1", "libgomp.so",
             "/usr/lib/x86_64-linux-gnu/libgomp.so.1", "/usr/lib64/libgomp.so.1", "/usr/lib/libgomp.so.1"]
    for name in names:
        if not name:
            continue
        try:
            llvm.load_library_permanently(name)
            ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL)
            return name
        except (RuntimeError, OSError):
            continue
    return None


# -- libgomp and fork ---------------------------------------------------------------------------
# libgomp keeps its thread pool in the (thread-local) state of the thread that started it. After a
# fork, the child's copy of that thread still points at a pool whose threads do not exist, and its
# next GOMP_parallel waits for them forever. A fresh thread gets a fresh pool, so in a forked child
# the thread that forked hands parallel kernel calls to a helper thread (`run_parallel_call`).
_fork_state = {"thread": None, "helper": None}


def _after_fork_in_child():
    _fork_state["thread"] = threading.get_ident()
    _fork_state["helper"] = None
    _fork_state["compilers"] = None     # the parent's compile threads do not exist here


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def needs_helper_thread() -> bool:
    """True on the thread that forked this process (its libgomp pool, if any, is unusable)."""
    return _fork_state["thread"] == threading.get_ident()


def run_parallel_call(fn, *args):
    """fn(*args) on this process's helper thread (see above); returns its result."""
    helper = _fork_state["helper"]
    if helper is None:
        from concurrent.futures import ThreadPoolExecutor
        helper = _fork_state["helper"] = ThreadPoolExecutor(1, thread_name_prefix="workbench-gomp")
    return helper.submit(fn, *args).result()


# -- compiling units on several threads -----------------------------------------------------------
# llvmlite serializes every call into LLVM with one process-wide lock. The calls that take the time
# of a build (parse, verify, the optimization pipeline, code generation) are made without it
# (`_unlocked`): each unit has its own LLVM context and each thread its own target machine, which is
# how LLVM supports concurrent compilation (ORC's concurrent compiler does the same).
_local = threading.local()


def _unlocked(name: str):
    fn = getattr(ffi.lib, name)
    return getattr(fn, "_cfn", fn)      # the raw ctypes function (it releases the GIL)


def _thread_machine(target: Target):
    """This thread's target machine for `target` (the cached one on the first thread to ask)."""
    machines = getattr(_local, "machines", None)
    if machines is None:
        machines = _local.machines = {}
    tm = machines.get(target)
    if tm is None:
        with _lock:
            owner = _fork_state.setdefault("machine_owner", {}).setdefault(target, threading.get_ident())
            if owner == threading.get_ident():
                tm = target_machine(target)
            else:
                tgt = llvm.Target.from_triple(target.triple)
                tm = tgt.create_target_machine(cpu=target.cpu, features=target.llvm_features, opt=3,
                                               reloc="default", codemodel="jitdefault", jit=True)
        machines[target] = tm
    return tm


def _compilers():
    """The process's compile threads (one fewer than its cores: the calling thread compiles too)."""
    pool = _fork_state.get("compilers")
    if pool is None:
        from concurrent.futures import ThreadPoolExecutor
        n = max(1, _cores() - 1)
        pool = _fork_state["compilers"] = ThreadPoolExecutor(n, thread_name_prefix="workbench-llvm")
    return pool


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_compile_threads() -> int:
    """Threads a build compiles its units on: this process's cores, at most 4."""
    return min(4, _cores())


def _pass_builder(tm, speed: int = 3, slp: bool = True):
    pto = llvm.create_pipeline_tuning_options(speed_level=speed)
    pto.loop_vectorization = True
    pto.slp_vectorization = slp
    pto.loop_unrolling = True
    pto.loop_interleaving = True
    return llvm.create_pass_builder(tm, pto)


def _optimize(mod, tm, speed: int, slp: bool = True):
    """The default O`speed` pipeline on `mod`, with a fresh PassBuilder (its analysis caches are
    keyed by module address, so they are not shared between modules)."""
    pb = _pass_builder(tm, speed, slp)
    mpm = pb.getModulePassManager()
    try:
        _unlocked("LLVMPY_RunNewModulePassManager")(mpm, mod, pb)
    finally:
        # llvmlite's ModulePassManager never frees its pipeline (ObjectRef's no-op _dispose comes
        # first in its MRO): ~30 KB per build, so dispose of it here
        ffi.lib.LLVMPY_DisposeNewModulePassManger(mpm)
        mpm.detach()
        pb.close()


def _parse(text: str, target: Target):
    """`text` parsed into a fresh LLVM context (llvm.parse_assembly without the global lock)."""
    ctx = llvm.create_context()
    with ffi.OutputString() as err:
        ref = _unlocked("LLVMPY_ParseAssembly")(ctx, c_char_p(text.encode()), err)
        if err:
            if ref:
                ffi.lib.LLVMPY_DisposeModule(ref)
            raise RuntimeError(f"LLVM IR parsing error\n{err}")
    mod = llvm.ModuleRef(ref, ctx)
    mod.triple, mod.data_layout = triple_and_layout(target)
    return mod


def _verify(mod):
    with ffi.OutputString() as err:
        if _unlocked("LLVMPY_VerifyModule")(mod, err):
            raise RuntimeError(str(err))


def _emit_object(tm, mod) -> bytes:
    with ffi.OutputString() as err:
        buf = _unlocked("LLVMPY_TargetMachineEmitToMemory")(tm, mod, 1, err)
        if not buf:
            raise RuntimeError(str(err))
    try:
        return string_at(ffi.lib.LLVMPY_GetBufferStart(buf), ffi.lib.LLVMPY_GetBufferSize(buf))
    finally:
        ffi.lib.LLVMPY_DisposeMemoryBuffer(buf)


def _compile_unit(text: str, target: Target, opt: int):
    """Parse `text` into a fresh context, verify, optimize, verify, compile: (module, object, times)."""
    tm = _thread_machine(target)
    t0 = time.perf_counter()
    mod = _parse(text, target)
    _verify(mod)
    t1 = time.perf_counter()
    if opt:
        _optimize(mod, tm, opt)
        try:
            _verify(mod)
        except RuntimeError:
            # LLVM 22's SLP vectorizer, run after the loop vectorizer, can emit IR that fails
            # verification (uses before defs; found by the schedule fuzzer). Our IR verified above,
            # so optimize a fresh parse of it without SLP instead.
            mod = _parse(text, target)
            _optimize(mod, tm, opt, slp=False)
            _verify(mod)
    t2 = time.perf_counter()
    obj = _emit_object(tm, mod)
    return mod, obj, (t1 - t0, t2 - t1, time.perf_counter() - t2)


class CodeLibrary:
    """One JIT-compiled LLVM module. add_ir (any number) -> finalize() -> address(name)."""

    def __init__(self, name: str, target: Target):
        self.name = name
        self.target = target
        self._ir: list[str] = []
        self._tracker = None
        self._asm = None
        self._mods: list = []
        self.units = 0
        self._llvm_ir: str | None = None
        self.object_code: list[bytes] = []     # one object file per unit
        self.timings: dict[str, float] = {}

    def add_ir(self, text: str) -> "CodeLibrary":
        if self._tracker is not None:
            raise RuntimeError("library already finalized")
        self._ir.append(text)
        return self

    def finalize(self, exports: list[str], opt: int = 3, threads: int = 1) -> "CodeLibrary":
        """Compile every unit (parse, verify, optimize at level `opt`, verify, object code), on up
        to `threads` threads at once, and JIT-link their objects into one library."""
        if not self._ir:
            raise RuntimeError("no IR added")
        t0 = time.perf_counter()
        units = self._ir
        if threads > 1 and len(units) > 1:
            futures = [_compilers().submit(_compile_unit, text, self.target, opt) for text in units[1:]]
            done = [_compile_unit(units[0], self.target, opt)]
            done += [f.result() for f in futures]       # re-raises a unit's error here
        else:
            done = [_compile_unit(text, self.target, opt) for text in units]
        t1 = time.perf_counter()
        self._mods = [m for m, _, _ in done]
        self.object_code = [o for _, o, _ in done]
        with _lock:
            builder = llvm.JITLibraryBuilder()
            for obj in self.object_code:
                builder.add_object_img(obj)
            builder.add_current_process()
            for e in exports:
                builder.export_symbol(e)
            self._tracker = builder.link(_jit(self.target), f"{self.name}_{next(_counter)}")
        t2 = time.perf_counter()
        # units compiled side by side: per phase the slowest unit; "jit" is the rest of the wall time
        parse = max(t[0] for _, _, t in done)
        optimize = max(t[1] for _, _, t in done)
        self.timings = {"parse_verify": parse, "optimize": optimize, "jit": (t2 - t0) - parse - optimize}
        self.units = len(units)
        return self

    def address(self, name: str) -> int:
        if self._tracker is None:
            raise RuntimeError("library not finalized")
        return self._tracker[name]

    @property
    def llvm_ir(self) -> str | None:
        """The optimized IR as one module (printed on first access; units are linked for it)."""
        if self._llvm_ir is None and self._mods:
            with _lock:
                if len(self._mods) == 1:
                    self._llvm_ir = str(self._mods[0])
                else:
                    whole = llvm.parse_assembly(str(self._mods[0]), context=llvm.create_context())
                    for m in self._mods[1:]:
                        whole.link_in(llvm.parse_assembly(str(m), context=whole._context))
                    self._llvm_ir = str(whole)
        return self._llvm_ir

    @property
    def asm(self) -> str:
        if self._asm is None:
            with _lock:
                tm = target_machine(self.target)
                self._asm = "".join(tm.emit_assembly(m) for m in self._mods)
        return self._asm
