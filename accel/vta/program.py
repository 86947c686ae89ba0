"""DRAM with physical addresses, and the Program handed from the runtime to the simulator.

A Program is self-contained: the instruction stream plus a snapshot of every DRAM buffer
(inputs, weights, the micro-op image), so it can be simulated many times with different inputs.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from . import isa
from .errors import ProgramError

DRAM_BASE = 0x1000_0000  # first physical address handed out (any page-aligned value works)
PAGE = 4096


@dataclass(frozen=True)
class BufferInfo:
    """Where a named buffer lives in DRAM and how to view it."""
    name: str
    phys_addr: int
    shape: tuple
    dtype: str

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize

    def view(self, image: np.ndarray) -> np.ndarray:
        off = self.phys_addr - DRAM_BASE
        return image[off:off + self.nbytes].view(self.dtype).reshape(self.shape)


class DramBuffer:
    """A buffer allocated by the runtime (VTABufferAlloc): host data plus a physical address."""

    def __init__(self, info: BufferInfo):
        self.info = info
        self.data = np.zeros(info.shape, info.dtype)

    name = property(lambda self: self.info.name)
    phys_addr = property(lambda self: self.info.phys_addr)
    shape = property(lambda self: self.info.shape)
    dtype = property(lambda self: np.dtype(self.info.dtype))
    nbytes = property(lambda self: self.info.nbytes)

    def write(self, array) -> None:
        array = np.asarray(array)
        if array.shape != self.data.shape:
            raise ValueError(f"buffer {self.name!r}: shape {array.shape} != {self.data.shape}")
        self.data[...] = array.astype(self.data.dtype, copy=False)

    def numpy(self) -> np.ndarray:
        return self.data.copy()

    def __repr__(self) -> str:
        return (f"DramBuffer({self.name!r}, phys={self.phys_addr:#x}, shape={self.shape}, "
                f"dtype={self.dtype})")


class Dram:
    """Page-aligned bump allocator over a physical address space starting at DRAM_BASE."""

    def __init__(self):
        self.buffers: dict[str, DramBuffer] = {}
        self._end = DRAM_BASE

    def alloc(self, shape, dtype="int8", name: str | None = None) -> DramBuffer:
        shape = (int(shape),) if np.isscalar(shape) else tuple(int(s) for s in shape)
        name = name or f"buf{len(self.buffers)}"
        if name in self.buffers:
            raise ValueError(f"alloc: a buffer named {name!r} already exists")
        info = BufferInfo(name, self._end, shape, np.dtype(dtype).name)
        # Page alignment makes phys_addr a multiple of every element size (all divide 4 KiB).
        self._end += max(PAGE, -(-info.nbytes // PAGE) * PAGE)
        buf = DramBuffer(info)
        self.buffers[name] = buf
        return buf

    def image(self) -> np.ndarray:
        img = np.zeros(self._end - DRAM_BASE, np.uint8)
        for buf in self.buffers.values():
            off = buf.phys_addr - DRAM_BASE
            img[off:off + buf.nbytes] = buf.data.reshape(-1).view(np.uint8)
        return img


@dataclass(frozen=True, eq=False)
class Program:
    """An instruction stream and the DRAM image it runs against."""
    env: object
    insns: tuple
    image: np.ndarray = field(repr=False)
    buffers: tuple = ()
    # set by vta.build: the VTA IR it compiled and the runtime calls it made (tokens included)
    lowered: object = field(default=None, repr=False)
    calls: tuple = field(default=(), repr=False)

    def buffer(self, name: str) -> BufferInfo:
        for b in self.buffers:
            if b.name == name:
                return b
        raise KeyError(f"program has no buffer {name!r}; buffers: {[b.name for b in self.buffers]}")

    def binary(self) -> bytes:
        """The encoded instruction stream, as the fetch module reads it."""
        return isa.encode_program(self.insns, self.env)

    def uop_list(self) -> list:
        try:
            info = self.buffer("uops")
        except KeyError:
            return []
        dst, src, wgt = isa.uop_fields(info.view(self.image), self.env)
        return [isa.Uop(int(d), int(s), int(w)) for d, s, w in zip(dst, src, wgt)]

    def listing(self, uops: bool = False) -> str:
        from .disasm import disassemble
        return disassemble(self, uops=uops)

    def disasm(self, uops: bool = False) -> str:
        """The instruction listing (opcodes, fields, dependency flags)."""
        return self.listing(uops=uops)

    def call_listing(self, limit: int | None = 200) -> str:
        """The runtime calls vta.build made, VTADepPush/VTADepPop included (first ``limit``)."""
        calls = self.calls if limit is None else self.calls[:limit]
        more = len(self.calls) - len(calls)
        return "\n".join(calls) + (f"\n... {more} more calls" if more > 0 else "")

    def opcode_counts(self) -> Counter:
        from .disasm import mnemonic
        return Counter(mnemonic(i) for i in self.insns)

    @property
    def macs(self) -> int:
        """Multiply-accumulates performed by the non-reset GEMMs."""
        per = self.env.MACS_PER_CYCLE
        return sum(i.iter_out * i.iter_in * (i.uop_end - i.uop_bgn) * per for i in self.insns
                   if type(i) is isa.Gemm and not i.reset_reg)

    def with_inputs(self, inputs: dict | None) -> np.ndarray:
        """A private copy of the DRAM image with ``inputs`` (name -> array) written in."""
        img = self.image.copy()
        for name, value in (inputs or {}).items():
            info = self.buffer(name)
            value = np.asarray(value)
            if value.shape != info.shape:
                raise ProgramError(f"input {name!r}: shape {value.shape} != buffer {info.shape}")
            info.view(img)[...] = value.astype(info.dtype, copy=False)
        return img
