"""JIT engine: one LLVM target machine and one ORC LLJIT per `Target`; a `CodeLibrary` per kernel.

Lifecycle (like numba's CodeLibrary): `lib = CodeLibrary(name); lib.add_ir(text); lib.finalize()`
(parse, verify, optimize at O3 with loop and SLP vectorization, JIT-link) then `lib.address(sym)`.
The library owns the ORC resource tracker, so the machine code lives exactly as long as the library.
The optimized module is compiled to an object file by the target's machine and the object is
JIT-linked (no print and re-parse of the IR). `.llvm_ir` (the optimized IR) and `.asm` are produced
on first access (the assembly costs a second code generation, which builds should not pay).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import itertools
import os
import threading
import time
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


def _pass_builder(target: Target, speed: int = 3, slp: bool = True):
    pto = llvm.create_pipeline_tuning_options(speed_level=speed)
    pto.loop_vectorization = True
    pto.slp_vectorization = slp
    pto.loop_unrolling = True
    pto.loop_interleaving = True
    return llvm.create_pass_builder(target_machine(target), pto)


def _optimize(mod, target: Target, speed: int, slp: bool = True):
    """The default O`speed` pipeline on `mod`, with a fresh PassBuilder (its analysis caches are
    keyed by module address, so they are not shared between modules)."""
    pb = _pass_builder(target, speed, slp)
    mpm = pb.getModulePassManager()
    try:
        mpm.run(mod, pb)
    finally:
        # llvmlite's ModulePassManager never frees its pipeline (ObjectRef's no-op _dispose comes
        # first in its MRO): ~30 KB per build, so dispose of it here
        ffi.lib.LLVMPY_DisposeNewModulePassManger(mpm)
        mpm.detach()


class CodeLibrary:
    """One JIT-compiled LLVM module. add_ir (any number) -> finalize() -> address(name)."""

    def __init__(self, name: str, target: Target):
        self.name = name
        self.target = target
        self._ir: list[str] = []
        self._tracker = None
        self._asm = None
        self._mod = None
        self._llvm_ir: str | None = None
        self.object_code: bytes | None = None
        self.timings: dict[str, float] = {}

    def add_ir(self, text: str) -> "CodeLibrary":
        if self._tracker is not None:
            raise RuntimeError("library already finalized")
        self._ir.append(text)
        return self

    def _parse(self):
        mod = None
        for text in self._ir:
            m = llvm.parse_assembly(text)
            if mod is None:
                mod = m
            else:
                mod.link_in(m)
        mod.triple, mod.data_layout = triple_and_layout(self.target)
        return mod

    def finalize(self, exports: list[str], opt: int = 3) -> "CodeLibrary":
        """Parse, verify, optimize (new pass manager, `opt` level), verify, JIT-link. One build at a
        time per process: llvmlite parses into LLVM's global context, which is not thread-safe."""
        with _lock:
            t0 = time.perf_counter()
            mod = self._parse()
            mod.verify()
            t1 = time.perf_counter()
            if opt:
                _optimize(mod, self.target, opt)
                try:
                    mod.verify()
                except RuntimeError:
                    # LLVM 22's SLP vectorizer, run after the loop vectorizer, can emit IR that
                    # fails verification (uses before defs; found by the schedule fuzzer). Our IR
                    # verified above, so optimize a fresh parse of it without SLP instead.
                    mod = self._parse()
                    _optimize(mod, self.target, opt, slp=False)
                    mod.verify()
            t2 = time.perf_counter()
            # machine code straight from the optimized module (no print and re-parse of its IR)
            self.object_code = target_machine(self.target).emit_object(mod)
            self._mod = mod
            builder = llvm.JITLibraryBuilder().add_object_img(self.object_code).add_current_process()
            for e in exports:
                builder.export_symbol(e)
            self._tracker = builder.link(_jit(self.target), f"{self.name}_{next(_counter)}")
            t3 = time.perf_counter()
        self.timings = {"parse_verify": t1 - t0, "optimize": t2 - t1, "jit": t3 - t2}
        return self

    def address(self, name: str) -> int:
        if self._tracker is None:
            raise RuntimeError("library not finalized")
        return self._tracker[name]

    @property
    def llvm_ir(self) -> str | None:
        """The optimized IR (printed on first access)."""
        if self._llvm_ir is None and self._mod is not None:
            with _lock:
                self._llvm_ir = str(self._mod)
        return self._llvm_ir

    @property
    def asm(self) -> str:
        if self._asm is None:
            with _lock:
                self._asm = target_machine(self.target).emit_assembly(self._mod)
        return self._asm
