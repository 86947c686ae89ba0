"""Data types as strings ("float32", "int8", vectors as "float32x16"), as TVM spells them.

Strings keep IR nodes hashable and printable; these helpers are the only place that parses them.
"""
from __future__ import annotations

from functools import lru_cache

SCALARS = ("bool", "int8", "int16", "int32", "int64", "uint8", "float32", "float64")
# Promotion order when two different dtypes meet in a binary operation (numpy-like, no surprises
# between int and float: the float wins).
_RANK = {"bool": 0, "uint8": 1, "int8": 1, "int16": 2, "int32": 3, "int64": 4, "float32": 5, "float64": 6}


@lru_cache(maxsize=None)
def split(dtype: str) -> tuple[str, int]:
    """'float32x16' -> ('float32', 16); 'int32' -> ('int32', 1)."""
    if "x" in dtype:
        base, lanes = dtype.split("x")
        return base, int(lanes)
    return dtype, 1


def base(dtype: str) -> str:
    return split(dtype)[0]


def lanes(dtype: str) -> int:
    return split(dtype)[1]


def with_lanes(dtype: str, n: int) -> str:
    b = base(dtype)
    return b if n == 1 else f"{b}x{n}"


@lru_cache(maxsize=None)
def is_float(dtype: str) -> bool:
    return base(dtype).startswith("float")


@lru_cache(maxsize=None)
def is_int(dtype: str) -> bool:
    b = base(dtype)
    return b.startswith("int") or b.startswith("uint")


def is_signed(dtype: str) -> bool:
    return base(dtype).startswith("int")


def is_bool(dtype: str) -> bool:
    return base(dtype) == "bool"


@lru_cache(maxsize=None)
def bits(dtype: str) -> int:
    b = base(dtype)
    return 1 if b == "bool" else int(b.lstrip("uintfloa"))


def nbytes(dtype: str) -> int:
    return max(1, bits(dtype) // 8) * lanes(dtype)


def check(dtype) -> str:
    """Normalise a user-given dtype (str or numpy dtype) and reject unsupported ones."""
    name = str(getattr(dtype, "name", dtype))
    if base(name) not in SCALARS:
        raise TypeError(f"unsupported dtype {name!r}; supported: {', '.join(SCALARS[1:])}")
    return name


def promote(a: str, b: str) -> str:
    if a == b:
        return a
    if lanes(a) != lanes(b):
        raise TypeError(f"cannot combine vectors of different lanes: {a} and {b}")
    ba, bb = base(a), base(b)
    winner = ba if _RANK[ba] >= _RANK[bb] else bb
    return with_lanes(winner, lanes(a))
