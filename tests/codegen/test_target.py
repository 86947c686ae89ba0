"""wb.Target: the host, parsing and printing, building for another CPU, refusing what cannot run."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import workbench as wb
from workbench import te
from workbench.target import TargetError


def _add_kernel(n=256):
    A = te.placeholder((n,), name="A")
    B = te.compute((n,), lambda i: A[i] * 2.0 + 1.0, name="B")
    s = wb.create_schedule(B)
    io, ii = s[B].split(B.op.axis[0], factor=16)
    s[B].vectorize(ii)
    return s, [A, B]


def test_host_describes_this_machine():
    t = wb.Target.host()
    assert t.kind == "llvm" and t.triple and t.cpu
    assert t.cores >= 1 and len(t.cache_bytes) == 3 and all(c > 0 for c in t.cache_bytes)
    assert t.cache_bytes[0] <= t.cache_bytes[1] <= t.cache_bytes[2]
    assert t.vector_bits in (128, 256, 512)
    assert t.runs_on_host() and t.missing_on_host() == []
    assert wb.Target.parse("llvm") == t
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.cpu = "other"


@pytest.mark.parametrize("text", ["llvm", "llvm -mcpu=x86-64-v3 -mattr=+avx2",
                                  "llvm -mcpu=x86-64-v4 -mattr=-avx512f", "llvm -mcpu=haswell -num-cores=4",
                                  "llvm -mcpu=x86-64 -cache-bytes=1024,2048,4096"])
def test_str_round_trips(text):
    if wb.Target.host().arch != "x86_64":
        pytest.skip("x86 CPU names")
    t = wb.Target.parse(text)
    assert wb.Target.parse(str(t)) == t
    assert wb.Target.from_str(str(t)) == t
    assert hash(wb.Target.parse(str(t))) == hash(t)


def test_vector_width_follows_cpu_and_features():
    if wb.Target.host().arch != "x86_64":
        pytest.skip("x86 CPU names")
    assert wb.Target.parse("llvm -mcpu=x86-64").vector_bits == 128
    assert wb.Target.parse("llvm -mcpu=x86-64-v3").vector_bits == 256
    assert wb.Target.parse("llvm -mcpu=x86-64-v4").vector_bits == 512
    assert wb.Target.parse("llvm -mcpu=x86-64-v4 -mattr=-avx512f").vector_bits == 256
    assert wb.Target.parse("llvm -mcpu=x86-64 -mattr=+avx").vector_bits == 256


@pytest.mark.parametrize("text, match", [
    ("cuda", "unknown target kind 'cuda'"), ("", "empty target"),
    ("llvm -mcpu=nosuchcpu", "unknown CPU 'nosuchcpu'"), ("llvm -mattr=avx2", "must be \\+feature"),
    ("llvm -O3", "bad target option '-O3'"), ("llvm -mcpu=a -mcpu=b", "given twice"),
    ("llvm -num-cores=0", "-num-cores must be >= 1"), ("llvm -num-cores=x", "bad number"),
])
def test_bad_target_strings(text, match):
    with pytest.raises(TargetError, match=match):
        wb.Target.parse(text)
    with pytest.raises(ValueError):        # TargetError is a ValueError
        wb.build(*_add_kernel(), target=text)


def test_target_must_be_string_or_target():
    with pytest.raises(TypeError, match="a target is a string"):
        wb.Target.parse(3)


@pytest.mark.parametrize("cpu, reg, absent", [("x86-64", "xmm", "ymm"), ("x86-64-v3", "ymm", "zmm")])
def test_builds_for_the_named_cpu(cpu, reg, absent):
    host = wb.Target.host()
    t = wb.Target.parse(f"llvm -mcpu={cpu}")
    if host.arch != "x86_64" or not t.runs_on_host():
        pytest.skip("needs an x86-64 host that runs " + cpu)
    s, args = _add_kernel()
    f = wb.build(s, args, target=f"llvm -mcpu={cpu}")
    assert f.target == t
    assert f'"target-cpu"="{cpu}"' in f.unoptimized_ir
    asm = f.asm
    assert reg in asm and absent not in asm
    a = np.arange(256, dtype="float32")
    b = np.zeros(256, "float32")
    f(a, b)
    np.testing.assert_array_equal(b, a * 2 + 1)


def test_target_object_accepted_and_default_threads_from_cores():
    t = dataclasses.replace(wb.Target.host(), cores=1)
    f = wb.build(*_add_kernel(), target=t)
    assert f.target == t and f.num_threads == 1


def test_target_this_host_cannot_run_is_built_but_refused_at_call():
    host = wb.Target.host()
    if host.arch != "x86_64":
        pytest.skip("x86 features")
    # a feature no x86 host of this test's vintage has
    t = wb.Target.parse("llvm -mcpu=x86-64-v3 -mattr=+amx-tile")
    if "amx-tile" in host.enabled_features:
        pytest.skip("this host has AMX")
    assert t.missing_on_host() == ["amx-tile"]
    f = wb.build(*_add_kernel(), target=t)
    assert "ymm" in f.asm                          # it was compiled
    with pytest.raises(RuntimeError, match="cannot run.*amx-tile"):
        f(np.zeros(256, "float32"), np.zeros(256, "float32"))
    with pytest.raises(RuntimeError, match="cannot run"):
        f.time()


def test_other_architecture_is_refused_at_build_or_call():
    t = wb.Target.parse("llvm -mtriple=aarch64-unknown-linux-gnu -mcpu=generic")
    assert not t.runs_on_host() and "architecture" in t.missing_on_host()[0]
    try:
        f = wb.build(*_add_kernel(), target=t)
    except wb.codegen.CodegenError as e:           # this llvmlite has no AArch64 backend
        assert "aarch64" in str(e)
        return
    with pytest.raises(RuntimeError, match="cannot run"):
        f(np.zeros(256, "float32"), np.zeros(256, "float32"))
