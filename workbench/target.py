"""What code is built for: `Target` (kind, LLVM triple, CPU, features, vector width, cores, caches).

    t = wb.Target.host()                                # this machine, exactly
    t = wb.Target.parse("llvm -mcpu=x86-64-v3 -mattr=+fma,-avx512f")
    str(t)                                              # parses back to an equal Target

A target string is `llvm` followed by options (TVM's spelling): `-mtriple=`, `-mcpu=`, `-mattr=`
(comma-separated `+feature` / `-feature` on top of the CPU's own), `-num-cores=`, `-cache-bytes=L1,L2,L3`.
`llvm` alone, or `-mcpu=` naming this host's CPU without `-mattr`, means this host with its exact
feature set (a virtual machine may hide features its CPU model has, so the model name is not enough).

A kernel built for a target this host cannot run (another architecture, or a CPU feature the host
lacks) is built -- its IR and assembly can be read -- but refused when called (`Target.runs_on_host`).
"""
from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from functools import lru_cache

# Instruction-set levels of x86-64 (the psABI's microarchitecture levels). A CPU model needs the
# features of its level plus the extras listed below; that is what decides whether this host can run
# code built for it. LLVM knows more features per model, but these are the ones its code generator
# emits for our kernels (vector width, FMA, bit manipulation, AVX-512 subsets).
_V1 = frozenset({"sse", "sse2", "cmov", "cx8", "fxsr", "mmx"})
_V2 = _V1 | {"cx16", "popcnt", "sse3", "sse4.1", "sse4.2", "ssse3", "sahf"}
_V3 = _V2 | {"avx", "avx2", "bmi", "bmi2", "f16c", "fma", "lzcnt", "movbe", "xsave"}
_V4 = _V3 | {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}
_VNNI = {"avx512vnni", "avx512vbmi", "avx512vbmi2", "avx512bitalg", "avx512vpopcntdq", "avx512ifma"}

X86_CPUS: dict[str, frozenset] = {
    "generic": _V1, "x86-64": _V1, "x86-64-v2": _V2, "x86-64-v3": _V3, "x86-64-v4": _V4,
    "core2": _V1 | {"ssse3", "sse3", "cx16"}, "nehalem": _V2, "westmere": _V2,
    "sandybridge": _V2 | {"avx"}, "ivybridge": _V2 | {"avx", "f16c"},
    "haswell": _V3, "broadwell": _V3 | {"adx"}, "skylake": _V3 | {"adx"},
    "skylake-avx512": _V4 | {"adx"}, "cascadelake": _V4 | {"adx", "avx512vnni"},
    "cooperlake": _V4 | {"adx", "avx512vnni", "avx512bf16"},
    "icelake-client": _V4 | _VNNI | {"adx"}, "icelake-server": _V4 | _VNNI | {"adx"},
    "tigerlake": _V4 | _VNNI | {"adx"}, "sapphirerapids": _V4 | _VNNI | {"adx", "avx512bf16"},
    "alderlake": _V3 | {"adx"}, "znver1": _V3 | {"adx"}, "znver2": _V3 | {"adx"},
    "znver3": _V3 | {"adx"}, "znver4": _V4 | _VNNI | {"adx", "avx512bf16"},
}
_AARCH64_CPUS = {"generic": frozenset({"neon"})}

_FALLBACK_CACHES = (32 * 1024, 1024 * 1024, 8 * 1024 * 1024)


class TargetError(ValueError):
    """A target string or Target that cannot be built for."""


@dataclass(frozen=True)
class Target:
    """A code generation target. `features` are the `-mattr` modifiers handed to LLVM (for the host:
    its complete feature list); `vector_bits` is the widest vector register the code may use;
    `cache_bytes` is (L1 data, L2, L3)."""
    kind: str
    triple: str
    cpu: str
    features: tuple = ()
    vector_bits: int = 128
    cores: int = 1
    cache_bytes: tuple = _FALLBACK_CACHES

    # -- construction ---------------------------------------------------------------------------
    @staticmethod
    def host() -> "Target":
        """This machine: its LLVM triple, CPU model, every feature it has, cores and caches."""
        return _host()

    @staticmethod
    def parse(text: "str | Target") -> "Target":
        """`"llvm -mcpu=x86-64-v3 -mattr=+avx2"` -> Target; a Target is returned as it is."""
        if isinstance(text, Target):
            return text
        if not isinstance(text, str):
            raise TypeError(f"a target is a string such as 'llvm -mcpu=x86-64-v3' or a wb.Target, "
                            f"got {type(text).__name__}")
        return _parse(text.strip())

    from_str = parse

    # -- queries --------------------------------------------------------------------------------
    @property
    def arch(self) -> str:
        return self.triple.split("-", 1)[0]

    def has(self, feature: str) -> bool:
        """Whether code for this target may use `feature` (e.g. "avx2")."""
        return feature in self.enabled_features

    @property
    def enabled_features(self) -> frozenset:
        base = set(_cpu_features(self.arch, self.cpu) or ())
        for f in self.features:
            (base.add if f[0] == "+" else base.discard)(f[1:])
        return frozenset(base)

    @property
    def vector_registers(self) -> int:
        """Architectural vector registers: 32 with AVX-512 (zmm0-31) and on AArch64, else 16."""
        if self.arch in ("aarch64", "arm64") or self.has("avx512f"):
            return 32
        return 16

    @property
    def llvm_features(self) -> str:
        """The feature string LLVM's target machine and function attributes take."""
        return ",".join(self.features)

    def missing_on_host(self) -> list[str]:
        """Why this host cannot run code built for this target ([] if it can)."""
        host = _host()
        if self.arch != host.arch:
            return [f"architecture {self.arch} (this host is {host.arch})"]
        if self.cpu == host.cpu and self.features == host.features:
            return []
        need = self.enabled_features
        return sorted(need - host.enabled_features)

    def runs_on_host(self) -> bool:
        return not self.missing_on_host()

    def __str__(self):
        host = _host()
        parts = [self.kind]
        if self.triple != host.triple:
            parts.append(f"-mtriple={self.triple}")
        parts.append(f"-mcpu={self.cpu}")
        if not (self.cpu == host.cpu and self.features == host.features):
            if self.features:
                parts.append("-mattr=" + ",".join(self.features))
        if self.cores != host.cores:
            parts.append(f"-num-cores={self.cores}")
        if self.cache_bytes != host.cache_bytes:
            parts.append("-cache-bytes=" + ",".join(str(c) for c in self.cache_bytes))
        return " ".join(parts)


# ------------------------------------------------------------------------------------------------
def _cpu_features(arch: str, cpu: str):
    if arch in ("x86_64", "i686", "i386"):
        return X86_CPUS.get(cpu)
    if arch in ("aarch64", "arm64"):
        return _AARCH64_CPUS.get(cpu, _AARCH64_CPUS["generic"])
    return frozenset()


def _vector_bits(arch: str, enabled: frozenset) -> int:
    if arch in ("x86_64", "i686", "i386"):
        if "avx512f" in enabled:
            return 512
        if "avx" in enabled:
            return 256
        return 128
    return 128


def _read_caches() -> tuple:
    """(L1 data, L2, L3) bytes from sysfs; a level that cannot be read keeps its fallback."""
    out = list(_FALLBACK_CACHES)
    root = "/sys/devices/system/cpu/cpu0/cache"
    try:
        entries = sorted(os.listdir(root))
    except OSError:
        return tuple(out)
    for name in entries:
        if not name.startswith("index"):
            continue
        try:
            with open(f"{root}/{name}/level") as f:
                level = int(f.read())
            with open(f"{root}/{name}/type") as f:
                kind = f.read().strip()
            with open(f"{root}/{name}/size") as f:
                size = f.read().strip()
        except (OSError, ValueError):
            continue
        if kind == "Instruction" or not 1 <= level <= 3:
            continue
        mult = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}.get(size[-1:].upper(), 1)
        try:
            out[level - 1] = int(size.rstrip("KMGkmg")) * mult
        except ValueError:
            continue
    return tuple(out)


def _host_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@lru_cache(maxsize=None)
def _host() -> Target:
    import llvmlite.binding as llvm
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    llvm.initialize_native_asmparser()
    cpu = llvm.get_host_cpu_name()
    feats = llvm.get_host_cpu_features()
    features = tuple(f"{'+' if on else '-'}{name}" for name, on in sorted(feats.items()))
    triple = llvm.get_process_triple()
    enabled = frozenset(name for name, on in feats.items() if on)
    arch = triple.split("-", 1)[0]
    # the host's own model is known to LLVM even when absent from our table: record what it has
    if _cpu_features(arch, cpu) is None and arch in ("x86_64", "i686", "i386"):
        X86_CPUS[cpu] = enabled
    return Target("llvm", triple, cpu, features, _vector_bits(arch, enabled), _host_cores(),
                  _read_caches())


def _parse(text: str) -> Target:
    try:
        words = shlex.split(text)
    except ValueError as e:
        raise TargetError(f"cannot parse target {text!r}: {e}") from None
    if not words:
        raise TargetError("empty target string; use 'llvm' for this host")
    kind, opts = words[0], words[1:]
    if kind != "llvm":
        raise TargetError(f"unknown target kind {kind!r} in {text!r}; the CPU target is 'llvm' "
                          "(VTA programs are built with accel.vta.build)")
    host = _host()
    vals: dict[str, str] = {}
    for o in opts:
        key, eq, val = o.partition("=")
        if key not in ("-mtriple", "-mcpu", "-mattr", "-num-cores", "-cache-bytes") or not eq or not val:
            raise TargetError(f"bad target option {o!r} in {text!r}; options are -mtriple=, -mcpu=, "
                              "-mattr=+f,-g, -num-cores=N, -cache-bytes=L1,L2,L3")
        if key in vals:
            raise TargetError(f"target option {key} given twice in {text!r}")
        vals[key] = val
    triple = vals.get("-mtriple", host.triple)
    arch = triple.split("-", 1)[0]
    cpu = vals.get("-mcpu", host.cpu if triple == host.triple else "generic")
    if _cpu_features(arch, cpu) is None:
        raise TargetError(f"unknown CPU {cpu!r} for {arch} in {text!r}; known: "
                          + ", ".join(sorted(X86_CPUS)))
    if "-mattr" in vals:
        features = tuple(f.strip() for f in vals["-mattr"].split(",") if f.strip())
        for f in features:
            if f[0] not in "+-" or len(f) < 2:
                raise TargetError(f"-mattr entry {f!r} in {text!r} must be +feature or -feature")
    elif cpu == host.cpu and triple == host.triple:
        features = host.features            # this host, exactly
    else:
        features = ()
    try:
        cores = int(vals.get("-num-cores", host.cores))
        caches = (tuple(int(c) for c in vals["-cache-bytes"].split(",")) if "-cache-bytes" in vals
                  else host.cache_bytes)
    except ValueError as e:
        raise TargetError(f"bad number in target {text!r}: {e}") from None
    if cores < 1 or len(caches) != 3 or min(caches) < 1:
        raise TargetError(f"target {text!r}: -num-cores must be >= 1 and -cache-bytes three positive sizes")
    t = Target("llvm", triple, cpu, features, 128, cores, caches)
    return Target("llvm", triple, cpu, features, _vector_bits(arch, t.enabled_features), cores, caches)


__all__ = ["Target", "TargetError", "X86_CPUS"]
