"""Kernel: argument checking (every error), attributes, build_func, timing statistics."""
from __future__ import annotations

import dataclasses
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

from codegen_helpers import build, buf, load, loop, store  # noqa: E402

from workbench.codegen import CodegenError  # noqa: E402
from workbench.runtime import build_func  # noqa: E402
from workbench.ir import PrimFunc, Var  # noqa: E402
from workbench.runtime import Kernel, TimingResult  # noqa: E402


@pytest.fixture(scope="module")
def axpy():
    """C[i, j] = A[i, j] * 2 + B[j]  with A: float32[4, 8], B: float32[8], C: float32[4, 8]."""
    A, B, C = buf("A", (4, 8)), buf("B", 8), buf("C", (4, 8))
    i, j = Var("i"), Var("j")
    return build("axpy", [A, B, C], loop(i, 4, loop(j, 8, store(C, i * 8 + j,
                                                                 load(A, i * 8 + j) * 2.0 + load(B, j)))))


def args():
    return (np.ones((4, 8), np.float32), np.arange(8, dtype=np.float32), np.zeros((4, 8), np.float32))


def test_call_ok_and_attributes(axpy):
    a, b, c = args()
    assert axpy(a, b, c) is None
    np.testing.assert_array_equal(c, a * 2 + b)
    assert isinstance(axpy, Kernel)
    assert axpy.outputs == ("C",)
    assert axpy.num_threads == os.cpu_count()
    assert axpy.lowered.name == "axpy"
    assert "define" in axpy.llvm_ir and "axpy" in axpy.llvm_ir
    assert "axpy" in axpy.asm
    assert "axpy" in repr(axpy)


def test_wrong_count(axpy):
    a, b, c = args()
    with pytest.raises(TypeError, match="takes 3 arrays"):
        axpy(a, b)
    with pytest.raises(TypeError):
        axpy(a, b, c, c)


def test_not_an_array(axpy):
    a, b, c = args()
    with pytest.raises(TypeError, match="'B' must be a numpy.ndarray, got list"):
        axpy(a, b.tolist(), c)


def test_wrong_dtype(axpy):
    a, b, c = args()
    with pytest.raises(TypeError, match="'A' expects dtype float32, got float64"):
        axpy(a.astype(np.float64), b, c)


def test_wrong_shape(axpy):
    a, b, c = args()
    with pytest.raises(ValueError, match=r"'C' expects shape \(4, 8\), got \(8, 4\)"):
        axpy(a, b, c.reshape(8, 4))


def test_not_contiguous(axpy):
    a, b, c = args()
    with pytest.raises(ValueError, match="not C-contiguous.*ascontiguousarray"):
        axpy(np.asfortranarray(np.ones((8, 4), np.float32)).T.copy(order="F"), b, c)
    with pytest.raises(ValueError, match="'B' is not C-contiguous"):
        axpy(a, np.zeros(16, np.float32)[::2], c)


def test_read_only_output(axpy):
    a, b, c = args()
    c.flags.writeable = False
    with pytest.raises(ValueError, match="'C' is an output but the array is read-only"):
        axpy(a, b, c)
    a.flags.writeable = False           # read-only inputs are fine
    c2 = np.zeros((4, 8), np.float32)
    axpy(a, b, c2)


def test_output_overlaps_input(axpy):
    a, b, c = args()
    with pytest.raises(ValueError, match="output 'C' shares memory with parameter 'A'"):
        axpy(a, b, a)
    big = np.zeros(40, np.float32)
    with pytest.raises(ValueError, match="shares memory with parameter 'B'"):
        axpy(a, big[:8], big[4:36].reshape(4, 8))
    axpy(a, a[0], c)                    # inputs may share memory with each other


def test_num_threads_validation(axpy):
    with pytest.raises(ValueError):
        axpy.num_threads = 0
    axpy.num_threads = 1
    assert axpy.num_threads == 1


def test_build_func_target_and_errors():
    A = buf("A", 4)
    i, unbound = Var("i"), Var("n")
    func = PrimFunc("f", (A,), loop(i, 4, store(A, i, load(A, i) + 1.0)))
    with pytest.raises(ValueError, match="unknown target kind 'cuda'"):
        build_func(func, target="cuda")
    with pytest.raises(CodegenError, match="unbound variable 'n'"):
        build_func(PrimFunc("g", (A,), loop(i, unbound, store(A, i, load(A, i)))))


def test_timing_statistics(axpy):
    t = axpy.time(*args(), repeat=3, min_time=0.01)
    assert isinstance(t, TimingResult)
    assert t.repeat == 3 and t.number >= 1 and len(t.results) == 3
    assert 0 < t.min <= t.median <= t.max and t.min <= t.mean <= t.max and t.stdev >= 0
    assert t.number * t.median < 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.median = 0
    t2 = axpy.time(number=7, repeat=2)          # random inputs made by the kernel itself
    assert t2.number == 7 and t2.repeat == 2
    assert "median" in str(t2)
    with pytest.raises(ValueError):
        axpy.time(*args(), repeat=0)
    with pytest.raises(TypeError):
        axpy.time(np.ones(3))


def _parallel_double(n=100):
    A, C = buf("A", n), buf("C", n)
    i = Var("i")
    return PrimFunc("pdouble", (A, C), loop(i, n, store(C, i, load(A, i) * 2.0), kind="parallel"))


def test_parallel_loops_run_serially_without_libgomp(monkeypatch):
    from workbench.codegen import engine
    monkeypatch.setattr(engine, "gomp_library", lambda: None)
    f = build_func(_parallel_double())
    assert f.parallel_runtime == "serial (libgomp not found)"
    assert "GOMP" not in f.llvm_ir
    a, c = np.arange(100, dtype=np.float32), np.zeros(100, np.float32)
    f(a, c)
    np.testing.assert_array_equal(c, a * 2)


def test_builds_and_calls_from_several_threads():
    from concurrent.futures import ThreadPoolExecutor

    def work(k):
        f = build_func(_parallel_double(50 + k))
        a, c = np.full(50 + k, k, np.float32), np.zeros(50 + k, np.float32)
        f(a, c)
        return bool((c == 2 * k).all())
    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(work, range(8)))
