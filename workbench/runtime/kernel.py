"""`Kernel`: a lowered PrimFunc compiled to machine code, callable with numpy arrays.

`f(a, b, c)` checks every argument (count, type, dtype, shape, C-contiguity, writable outputs, outputs
not overlapping other arguments) and raises TypeError/ValueError — never crashes — then calls the
machine code through ctypes with the data pointers and the thread count. Outputs are written in place.
"""
from __future__ import annotations

import ctypes
import platform
import time

import numpy as np

from ..codegen import engine
from ..codegen.emit import CodegenError, emit_module
from ..ir import stmt as S
from ..ir.visitor import walk
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


class _Param:
    __slots__ = ("name", "dtype", "shape", "output", "nbytes")

    def __init__(self, buf, output: bool):
        self.name = buf.name
        self.dtype = np.dtype(buf.dtype)
        self.shape = tuple(int(getattr(x, "value", x)) for x in buf.shape)
        self.output = output
        self.nbytes = int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize


def stored_buffers(body) -> set:
    """Buffers that `body` writes (BufferStore targets)."""
    out = set()

    def visit(n):
        if type(n) is S.BufferStore:
            out.add(n.buffer)
    walk(body, visit)
    return out


class Kernel:
    """A built kernel. Attributes: `lowered` (the PrimFunc), `llvm_ir` (optimized LLVM IR),
    `asm` (assembly, produced on first access), `num_threads` (settable; os.cpu_count() by
    default), `parallel_runtime` ("libgomp" or "serial (libgomp not found)"), `build_time` and
    `build_timings` (seconds per build phase)."""

    def __init__(self, func: S.PrimFunc, *, num_threads: int | None = None, opt: int = 3):
        t0 = time.perf_counter()
        self.lowered = func
        gomp = engine.gomp_library()
        self.parallel_runtime = "libgomp" if gomp else "serial (libgomp not found)"
        triple, layout = engine.triple_and_layout()
        text, entry = emit_module(func, target_attrs=engine.target_attrs(), triple=triple,
                                  datalayout=layout, parallel_runtime=gomp is not None)
        t1 = time.perf_counter()
        self.unoptimized_ir = text
        self._lib = engine.CodeLibrary(entry).add_ir(text)
        try:
            self._lib.finalize([entry], opt=opt)
        except RuntimeError as e:
            raise CodegenError(f"LLVM rejected the generated code for {func.name!r}: {e}") from e
        self.entry = entry
        self._gomp = "@GOMP_parallel" in text      # has parallel loops launched through libgomp
        addr = self._lib.address(entry)
        n = len(func.params)
        proto = ctypes.CFUNCTYPE(None, *([ctypes.c_void_p] * n), ctypes.c_int)
        self._cfunc = proto(addr)
        outs = stored_buffers(func.body)
        self._params = tuple(_Param(b, b in outs) for b in func.params)
        self._outputs = tuple(i for i, p in enumerate(self._params) if p.output)
        self.num_threads = num_threads if num_threads is not None else engine.cpu_count()
        self.build_time = time.perf_counter() - t0
        self.build_timings = {"emit": t1 - t0, **self._lib.timings}

    # -- attributes -------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.lowered.name

    @property
    def llvm_ir(self) -> str:
        return self._lib.llvm_ir

    @property
    def asm(self) -> str:
        return self._lib.asm

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
            engine.run_parallel_call(self._cfunc, *ptrs, self._num_threads)
        else:
            self._cfunc(*ptrs, self._num_threads)

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
        run = timer(self._cfunc, call_args)
        if self._gomp and engine.needs_helper_thread():
            return engine.run_parallel_call(self._measure, run, number, repeat, min_time)
        return self._measure(run, number, repeat, min_time)

    @staticmethod
    def _measure(run, number, repeat, min_time):
        run(1)                           # warm up (page faults, thread pool start)
        return measure(run, number=number, repeat=repeat, min_time=min_time)
