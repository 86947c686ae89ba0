"""A kernel's parallel regions compile as separate LLVM units, on several threads at once
(codegen/units.py, engine.CodeLibrary): the same answers as one unit, one optimized module to
read, math helpers copied where they are called, safe from many Python threads and after fork."""
from __future__ import annotations

import multiprocessing as mp
import re
import threading

import numpy as np
import pytest

import workbench as wb
from kernels import cpu_schedules
from workbench import te
from workbench.codegen import engine


def _two_regions(n=96):
    """exp in two parallel stages (two parallel regions, each calling the math helper)."""
    A = te.placeholder((n, n), name="A")
    B = te.compute((n, n), lambda i, j: te.exp(A[i, j] * 0.5), name="B")
    C = te.compute((n, n), lambda i, j: te.exp(B[j, i]) + A[i, j], name="C")
    s = wb.create_schedule(C)
    for T in (B, C):
        s[T].parallel(T.op.axis[0])
        s[T].vectorize(T.op.axis[1])
    return s, [A, C]


def _check_two_regions(f, n=96):
    a = np.random.default_rng(0).uniform(-1, 1, (n, n)).astype("float32")
    c = np.zeros_like(a)
    f(a, c)
    np.testing.assert_allclose(c, np.exp(np.exp(a * 0.5).T) + a, rtol=1e-5)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_units_compute_what_one_module_computes(threads):
    s, args = _two_regions()
    f = wb.build(s, args, cache=None, compile_threads=threads)
    lib = f.module._lib
    # the entry's group and two parallel regions: as many units as threads allow
    assert lib.units == min(threads, 3)
    for nt in (1, 2):
        f.num_threads = nt
        _check_two_regions(f)


def test_units_read_as_one_optimized_module_and_one_listing():
    s, args = cpu_schedules.matmul_blocked(128, 128, 128)
    f = wb.build(s, args, cache=None, compile_threads=2)
    assert f.module._lib.units == 2
    defined = set(re.findall(r"define [^@]*@(\w+)\(", f.llvm_ir))
    assert {"main", "main_par0_task", "main_par1_task"} <= defined
    assert "main_par1_task:" in f.asm and "main:" in f.asm
    a, b = (np.random.default_rng(1).random((128, 128), dtype=np.float32) for _ in range(2))
    c = np.zeros((128, 128), "float32")
    f(a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-4)


def test_math_helpers_are_copied_into_each_unit_that_calls_them():
    from workbench.codegen.emit import emit_functions
    s, args = _two_regions()
    mod = emit_functions(wb.lower(s, args), target_attrs="")
    units = mod.unit_texts(3)
    assert len(units) == 3
    callers = [u for u in units if re.search(r"call [^@]*@wb\.exp", u)]
    assert len(callers) == 2
    assert all(re.search(r"define internal [^@]*@wb\.exp", u) for u in callers)
    # a region called from the entry's unit is external in its own unit and declared in the entry's
    entry = next(u for u in units if re.search(r"define i32 @main\(", u))
    assert "declare void @main_par0_task(ptr)" in entry
    assert "declare i32 @main_par0(" in entry
    assert mod.unit_texts(1) == [mod.text()]


def test_builds_from_many_threads_at_once():
    errors, results = [], []

    def work(k):
        try:
            s, args = _two_regions(64 + 16 * (k % 2))
            f = wb.build(s, args, cache=None, compile_threads=2)
            _check_two_regions(f, 64 + 16 * (k % 2))
            results.append(k)
        except Exception as e:      # noqa: BLE001 - reported below
            errors.append(e)
    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and sorted(results) == list(range(6))


def _child(q):
    s, args = _two_regions()
    f = wb.build(s, args, cache=None, compile_threads=2)
    _check_two_regions(f)
    q.put(f.module._lib.units)


def test_compiles_on_threads_in_a_forked_child():
    s, args = _two_regions()
    wb.build(s, args, cache=None, compile_threads=2)      # the parent's compile threads exist
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(q,))
    p.start()
    p.join(120)
    assert p.exitcode == 0 and q.get(timeout=5) == 2


def test_default_threads_follow_the_cores():
    assert 1 <= engine.default_compile_threads() <= 4


def test_glue_code_is_not_optimized_but_loops_are():
    s, args = cpu_schedules.matmul_blocked(128, 128, 128)
    ir = wb.build(s, args, cache=None).unoptimized_ir
    optnone = set(re.findall(r"define [^@]*@(\w+)\([^)]*\) noinline optnone", ir))
    # the tasks only chunk the range; main only launches the two parallel regions
    assert optnone == {"main", "main_par0_task", "main_par1_task"}
    A = te.placeholder((64,), name="A")
    B = te.compute((64,), lambda i: A[i] + 1.0, name="B")
    serial = wb.build(wb.create_schedule(B), [A, B], cache=None).unoptimized_ir
    assert "optnone" not in serial          # main holds the loop: it is optimized
