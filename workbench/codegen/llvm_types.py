"""IR dtypes -> LLVM IR type spellings and constant literals (textual LLVM IR).

Registers hold `bool` as i1; memory holds it as one byte (numpy's layout), so a buffer of bools has
the *storage* type i8 and loads/stores convert.
"""
from __future__ import annotations

import struct
from functools import lru_cache

import numpy as np

from ..ir import dtype as dt

_SCALAR = {"bool": "i1", "int8": "i8", "uint8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
           "float32": "float", "float64": "double"}
_SIZE = {"bool": 1, "int8": 1, "uint8": 1, "int16": 2, "int32": 4, "int64": 8, "float32": 4, "float64": 8}


def vec(t: str, lanes: int) -> str:
    return t if lanes == 1 else f"<{lanes} x {t}>"


@lru_cache(maxsize=None)
def llvm_type(dtype: str) -> str:
    """Register type of an IR dtype: 'float32x16' -> '<16 x float>'."""
    b, n = dt.split(dtype)
    return vec(_SCALAR[b], n)


@lru_cache(maxsize=None)
def storage_type(dtype: str) -> str:
    """Memory type of one element of a buffer of `dtype` (bool is a byte)."""
    b, n = dt.split(dtype)
    return vec("i8" if b == "bool" else _SCALAR[b], n)


def elem_size(dtype: str) -> int:
    return _SIZE[dt.base(dtype)]


def scalar_literal(value, dtype: str) -> str:
    """The literal text of a scalar constant of base dtype `dtype` (without the type)."""
    b = dt.base(dtype)
    if b == "bool":
        return "true" if value else "false"
    if b in ("float32", "float64"):
        v = float(value)
        if b == "float32":
            v = float(np.float32(v))  # LLVM wants the double spelling of the rounded float
        return "0x%016X" % struct.unpack(">Q", struct.pack(">d", v))[0]
    bits = 8 * _SIZE[b]
    v = int(value) & ((1 << bits) - 1)            # wrap like numpy, then print signed
    return str(v - (1 << bits) if v >= 1 << (bits - 1) else v)


def literal(value, dtype: str) -> str:
    """Literal of a scalar or splat vector constant (the value part, without the type)."""
    b, n = dt.split(dtype)
    s = scalar_literal(value, b)
    if n == 1:
        return s
    t = _SCALAR[b]
    if s in ("0", "false", "0x0000000000000000"):
        return "zeroinitializer"
    return "<" + ", ".join([f"{t} {s}"] * n) + ">"


def vector_literal(values, base: str) -> str:
    t = _SCALAR[base]
    return "<" + ", ".join(f"{t} {scalar_literal(v, base)}" for v in values) + ">"
