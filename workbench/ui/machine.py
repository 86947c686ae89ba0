"""What the host offers a schedule: cache sizes, SIMD width, cores (no UI packages here).

Prefers `wb.Target.host()` when the core provides it; until then reads Linux sysfs and
/proc/cpuinfo, with conservative defaults elsewhere.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_DEFAULT_CACHES = (32 * 1024, 1024 * 1024, 32 * 1024 * 1024)


@dataclass(frozen=True)
class Machine:
    cache_bytes: tuple          # (L1d, L2, L3) in bytes
    vector_bits: int            # widest SIMD register the code generator targets
    cores: int

    def lanes(self, elem_bytes: int) -> int:
        return max(1, self.vector_bits // (8 * elem_bytes))

    def level_of(self, nbytes: int) -> str:
        """The smallest cache level holding `nbytes`, or "DRAM"."""
        for name, size in zip(("L1", "L2", "L3"), self.cache_bytes):
            if nbytes <= size:
                return name
        return "DRAM"


def _size(text: str) -> int:
    text = text.strip().upper()
    mult = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}.get(text[-1:], 1)
    return int(text.rstrip("KMG")) * mult


def _sysfs_caches() -> tuple | None:
    found = {}
    for d in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            level = int((d / "level").read_text())
            kind = (d / "type").read_text().strip()
            size = _size((d / "size").read_text())
        except (OSError, ValueError):
            continue
        if kind in ("Data", "Unified"):
            found[level] = size
    if not found:
        return None
    return tuple(found.get(lv, _DEFAULT_CACHES[lv - 1]) for lv in (1, 2, 3))


def _cpu_flags() -> set:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def host() -> Machine:
    """The machine this kernel runs on."""
    try:
        from workbench import Target          # core round 2; absent before it lands
        t = Target.host()
        return Machine(tuple(t.cache_bytes), int(t.vector_bits), int(t.cores))
    except (ImportError, AttributeError, TypeError):
        pass
    flags = _cpu_flags()
    bits = 512 if "avx512f" in flags else 256 if "avx2" in flags else 128
    return Machine(_sysfs_caches() or _DEFAULT_CACHES, bits, os.cpu_count() or 1)


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" or n >= 100 else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"
