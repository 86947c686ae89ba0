"""`Kernel`: a compiled module (codegen.CompiledModule) callable with numpy arrays.

`f(a, b, c)` checks every argument (count, type, dtype, shape, C-contiguity, writable outputs, outputs
not overlapping other arguments) and raises TypeError/ValueError — never crashes — then calls the
machine code through ctypes with the data pointers and the thread count. Outputs are written in place.
A failed run-time check (an index the compiler could not prove in bounds) raises IndexError.

`bound = f.bind(a, b, c)` checks once and returns a `BoundCall`; `bound()` then runs on those
arrays with no per-call checks (what the graph executor does for every kernel of a network).
"""
from __future__ import annotations

import ctypes
import platform

import numpy as np

from ..codegen import engine
from ..codegen.module import CompiledModule
from .timing import TimingResult, measure, timer


def _probe_data_offset():
    """CPython + numpy: PyArrayObject starts {PyObject_HEAD; char *data; ...}, so the data pointer
    can be read at a fixed offset from id(a) — ~8x cheaper than a.ctypes.data. Verified here on a
    few arrays; if it does not hold, a.ctypes.data is used."""
    if platform.python_implementation() != "CPython":
        return None
    off = ctypes.sizeof(ctypes.c_ssize_t) + ctypes.sizeof(ctypes.c_void_p)
    probes = [np.zeros(3, np.float32), np.arange(10)[2:], np.ones((4, 4), np.uint8)[1]]
    for a in probes:
        if ctypes.c_void_p.from_address(id(a) + off).value != a.ctypes.data:
            return None
    return off


_DATA_OFFSET = _probe_data_offset()
if _DATA_OFFSET is not None:
    _from_address = ctypes.c_void_p.from_address

    def _data_pointer(a) -> int:
        return _from_address(id(a) + _DATA_OFFSET).value or 0
else:
    def _data_pointer(a) -> int:
        return a.ctypes.data


class Kernel:
    """A built kernel: a `codegen.CompiledModule` plus argument checks, the call and timing.
    Attributes: `module`, `lowered` (the PrimFunc), `target`, `llvm_ir` (optimized LLVM IR), `asm`
    (assembly, produced on first access), `num_threads` (settable; the target's core count by
    default), `parallel_runtime` ("libgomp" or "serial (libgomp not found)"), `build_time` and
    `build_timings` (seconds per build phase)."""

    def __init__(self, module: CompiledModule, *, num_threads: int | None = None, build_time: float | None = None):
        self.module = module
        self.lowered = module.func
        self.target = module.target
        self.parallel_runtime = module.parallel_runtime
        self._gomp = module.uses_gomp       # launches libgomp threads
        self._messages = module.messages
        self._params = module.params
        self._outputs = tuple(i for i, p in enumerate(self._params) if p.output)
        n = len(self._params)
        self._cfunc = ctypes.CFUNCTYPE(ctypes.c_int32, *([ctypes.c_void_p] * n), ctypes.c_int)(module.address)
        missing = module.target.missing_on_host()
        self._refused = (f"{self.name}() was built for target {str(module.target)!r}, which this host cannot "
                         f"run (missing: {', '.join(missing)}); its IR and assembly can be inspected "
                         f"(.llvm_ir, .asm) but it cannot be called here") if missing else None
        self.num_threads = num_threads if num_threads is not None else module.target.cores
        self.build_timings = dict(module.timings)
        self.build_time = build_time if build_time is not None else sum(self.build_timings.values())

    # -- attributes -------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.lowered.name

    @property
    def llvm_ir(self) -> str:
        return self.module.llvm_ir

    @property
    def unoptimized_ir(self) -> str:
        return self.module.unoptimized_ir

    @property
    def asm(self) -> str:
        return self.module.asm

    @property
    def num_threads(self) -> int:
        return self._num_threads

    @num_threads.setter
    def num_threads(self, n: int):
        n = int(n)
        if n < 1:
            raise ValueError(f"num_threads must be >= 1, got {n}")
        self._num_threads = n

    @property
    def outputs(self) -> tuple:
        """Names of the parameters the kernel writes."""
        return tuple(self._params[i].name for i in self._outputs)

    def __repr__(self):
        sig = ", ".join(f"{p.name}: {p.dtype.name}{list(p.shape)}{' (out)' if p.output else ''}"
                        for p in self._params)
        return f"<Kernel {self.name}({sig}) threads={self._num_threads} parallel={self.parallel_runtime}>"

    # -- calling ----------------------------------------------------------------------------------
    def _pointers(self, args) -> list:
        if self._refused:
            raise RuntimeError(self._refused)
        params = self._params
        if len(args) != len(params):
            raise TypeError(f"{self.name}() takes {len(params)} arrays "
                            f"({', '.join(p.name for p in params)}), got {len(args)}")
        ptrs = []
        for a, p in zip(args, params):
            if not isinstance(a, np.ndarray):
                raise TypeError(f"{self.name}(): parameter {p.name!r} must be a numpy.ndarray, "
                                f"got {type(a).__name__}")
            if a.dtype != p.dtype:
                got = a.dtype.name if a.dtype.name != p.dtype.name else f"{a.dtype.str} (byte order)"
                raise TypeError(f"{self.name}(): parameter {p.name!r} expects dtype {p.dtype.name}, "
                                f"got {got}")
            if a.shape != p.shape:
                raise ValueError(f"{self.name}(): parameter {p.name!r} expects shape {p.shape}, "
                                 f"got {a.shape}")
            flags = a.flags
            if not flags.c_contiguous:
                raise ValueError(f"{self.name}(): parameter {p.name!r} is not C-contiguous; "
                                 "hint: pass np.ascontiguousarray(x)")
            if p.output and not flags.writeable:
                raise ValueError(f"{self.name}(): parameter {p.name!r} is an output but the array "
                                 "is read-only")
            ptrs.append(_data_pointer(a))
        for i in self._outputs:
            lo, hi = ptrs[i], ptrs[i] + params[i].nbytes
            if hi == lo:
                continue
            for j, q in enumerate(ptrs):
                if j != i and q < hi and lo < q + params[j].nbytes:
                    raise ValueError(f"{self.name}(): output {params[i].name!r} shares memory with "
                                     f"parameter {params[j].name!r}; pass separate arrays")
        return ptrs

    def __call__(self, *args) -> None:
        ptrs = self._pointers(args)
        if self._gomp and engine.needs_helper_thread():
            status = engine.run_parallel_call(self._cfunc, *ptrs, self._num_threads)
        else:
            status = self._cfunc(*ptrs, self._num_threads)
        if status:
            self._raise_status(status)

    def bind(self, *args) -> "BoundCall":
        """Check `args` once (as a call would) and return a `BoundCall`: calling it with no
        arguments runs the kernel on exactly these arrays, with the pointers computed here, so
        a loop of calls (an executor running a network) pays no per-call argument checks. The
        bound call keeps the arrays alive; write new values into them in place (np.copyto), do
        not rebind names. It reads `num_threads` at each call and follows the same libgomp
        helper-thread rule and the same status checks (IndexError) as `__call__`."""
        return BoundCall(self, args, tuple(self._pointers(args)))

    def _raise_status(self, status: int):
        """A run-time check failed (the kernel stopped early; outputs are partly written)."""
        if 1 <= status <= len(self._messages):
            raise IndexError(f"{self.name}(): {self._messages[status - 1]}")
        raise RuntimeError(f"{self.name}() returned the unknown status {status}")

    # -- timing -----------------------------------------------------------------------------------
    def random_args(self, seed: int = 0) -> list:
        """Random inputs of the right shapes and dtypes (outputs zeroed)."""
        rng = np.random.default_rng(seed)
        out = []
        for p in self._params:
            if p.output:
                out.append(np.zeros(p.shape, p.dtype))
            elif p.dtype.kind == "f":
                out.append(rng.random(p.shape, dtype=np.float64).astype(p.dtype))
            elif p.dtype.kind == "b":
                out.append(rng.random(p.shape) < 0.5)
            else:
                out.append(rng.integers(-8 if p.dtype.kind == "i" else 0, 8, p.shape).astype(p.dtype))
        return out

    def time(self, *args, number: int | None = None, repeat: int = 5,
             min_time: float = 0.1) -> TimingResult:
        """Seconds per call. With no arrays, random inputs of the right shapes are made."""
        if not args:
            args = self.random_args()
        ptrs = self._pointers(args)
        call_args = (*ptrs, self._num_threads)
        status = self._cfunc(*call_args) if not (self._gomp and engine.needs_helper_thread()) \
            else engine.run_parallel_call(self._cfunc, *call_args)
        if status:                       # timing a kernel whose checks fail would time nothing
            self._raise_status(status)
        run = timer(self._cfunc, call_args)
        if self._gomp and engine.needs_helper_thread():
            return engine.run_parallel_call(self._measure, run, number, repeat, min_time)
        return self._measure(run, number, repeat, min_time)

    @staticmethod
    def _measure(run, number, repeat, min_time):
        run(1)                           # warm up (page faults, thread pool start)
        return measure(run, number=number, repeat=repeat, min_time=min_time)


class BoundCall:
    """A kernel bound to fixed arrays (see `Kernel.bind`): `bound()` runs it. Attributes:
    `kernel`, `arrays` (the bound arrays, in parameter order)."""

    __slots__ = ("kernel", "arrays", "_ptrs", "_cfunc", "_gomp")

    def __init__(self, kernel: Kernel, arrays: tuple, ptrs: tuple):
        self.kernel = kernel
        self.arrays = arrays            # holding them keeps the pointers valid
        self._ptrs = ptrs
        self._cfunc = kernel._cfunc
        self._gomp = kernel._gomp

    def __call__(self) -> None:
        k = self.kernel
        if self._gomp and engine.needs_helper_thread():
            status = engine.run_parallel_call(self._cfunc, *self._ptrs, k._num_threads)
        else:
            status = self._cfunc(*self._ptrs, k._num_threads)
        if status:
            k._raise_status(status)

    def __repr__(self):
        return f"<BoundCall {self.kernel.name} on {len(self.arrays)} arrays>"
